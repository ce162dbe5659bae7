//! A single register: `read`, `write v`, and (for the cas-register) `cas
//! [old new]`, as in Knossos's `register` and `cas-register` models and
//! Porcupine's register example. Values are interned to integers.

use super::{pair, unknown_f, Interner, Model, OpView, NIL};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How a read of `nil` (JSON `null`) is judged.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NilReads {
    /// A nil read saw nothing: legal only while the register holds nil
    /// (nothing has been written, when the initial value is nil).
    #[default]
    Absent,
    /// Knossos's reading: a nil read is an unknown read, legal in every
    /// state; it constrains nothing and is dropped.
    Wildcard,
}

impl std::str::FromStr for NilReads {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "absent" => Ok(NilReads::Absent),
            "wildcard" => Ok(NilReads::Wildcard),
            _ => Err(format!("unknown nil-reads {s:?} (absent|wildcard)")),
        }
    }
}

/// A register op, values as interned ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegisterOp {
    /// Read, returning this value.
    Read(u32),
    /// Write this value.
    Write(u32),
    /// Compare-and-set: if the value is `.0`, make it `.1`.
    Cas(u32, u32),
}

/// A register (`cas: false`) or a cas-register (`cas: true`).
#[derive(Debug)]
pub struct Register {
    cas: bool,
    nil_reads: NilReads,
    initial: u32,
    values: Interner,
}

impl Register {
    /// A register holding `initial` (JSON `null` for nil) that accepts `cas`
    /// ops only when `cas` is true.
    pub fn new(initial: &Value, nil_reads: NilReads, cas: bool) -> Register {
        let values = Interner::default();
        let initial = values.id(initial);
        Register {
            cas,
            nil_reads,
            initial,
            values,
        }
    }

    fn name(&self) -> &'static str {
        if self.cas {
            "cas-register"
        } else {
            "register"
        }
    }
}

impl Model for Register {
    type State = u32;
    type Input = RegisterOp;

    fn init(&self) -> u32 {
        self.initial
    }

    fn prepare(&self, op: &OpView<'_>) -> Result<Option<RegisterOp>, String> {
        let v = op.value();
        match op.f {
            "read" => {
                let id = self.values.id(v);
                let unknown = op.crashed() || (id == NIL && self.nil_reads == NilReads::Wildcard);
                Ok((!unknown).then_some(RegisterOp::Read(id)))
            }
            "write" => Ok(Some(RegisterOp::Write(self.values.id(v)))),
            "cas" if self.cas => {
                let (old, new) = pair(v, "cas")?;
                Ok(Some(RegisterOp::Cas(
                    self.values.id(old),
                    self.values.id(new),
                )))
            }
            f => Err(unknown_f(
                self.name(),
                f,
                if self.cas {
                    "read, write, cas"
                } else {
                    "read, write"
                },
            )),
        }
    }

    fn step(&self, state: &u32, input: &RegisterOp) -> Option<u32> {
        match *input {
            RegisterOp::Read(v) => (v == *state).then_some(v),
            RegisterOp::Write(v) => Some(v),
            RegisterOp::Cas(old, new) => (old == *state).then_some(new),
        }
    }

    fn describe_state(&self, state: &u32) -> String {
        self.values.show(*state)
    }

    fn describe_op(&self, input: &RegisterOp) -> String {
        match *input {
            RegisterOp::Read(v) => format!("read {}", self.values.show(v)),
            RegisterOp::Write(v) => format!("write {}", self.values.show(v)),
            RegisterOp::Cas(a, b) => {
                format!("cas {}->{}", self.values.show(a), self.values.show(b))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{info, ok, run};
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_see_the_last_write_and_cas_needs_the_old_value() {
        let m = Register::new(&json!(0), NilReads::Absent, true);
        let (n, one, two, c12, c02) = (
            json!(null),
            json!(1),
            json!(2),
            json!([1, 2]),
            json!([0, 2]),
        );
        let s = run(
            &m,
            &[
                ok("write", &one, &one),
                ok("cas", &c12, &c12),
                ok("read", &n, &two),
            ],
        );
        assert_eq!(m.describe_state(&s.unwrap()), "2");
        assert!(run(&m, &[ok("write", &one, &one), ok("cas", &c02, &c02)]).is_none());
        assert!(run(&m, &[ok("write", &one, &one), ok("read", &n, &two)]).is_none());
    }

    #[test]
    fn nil_reads_are_absent_or_wildcard() {
        let (n, one) = (json!(null), json!(1));
        let absent = Register::new(&n, NilReads::Absent, false);
        assert!(run(&absent, &[ok("read", &n, &n)]).is_some());
        assert!(run(&absent, &[ok("write", &one, &one), ok("read", &n, &n)]).is_none());
        let wild = Register::new(&n, NilReads::Wildcard, false);
        assert!(run(&wild, &[ok("write", &one, &one), ok("read", &n, &n)]).is_some());
    }

    #[test]
    fn crashed_reads_are_dropped_and_bad_ops_are_errors() {
        let m = Register::new(&json!(0), NilReads::Absent, false);
        let n = json!(null);
        assert_eq!(m.prepare(&info("read", &n)).unwrap(), None);
        let c = json!([1, 2]);
        let e = m.prepare(&ok("cas", &c, &c)).unwrap_err();
        assert!(e.contains("no operation \"cas\""), "{e}");
        let cas = Register::new(&json!(0), NilReads::Absent, true);
        let bad = json!(3);
        assert!(cas
            .prepare(&ok("cas", &bad, &bad))
            .unwrap_err()
            .contains("pair"));
    }
}
