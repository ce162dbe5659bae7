//! Several named registers changed by transactions: Knossos's
//! `multi-register` model. A `txn` value is a list of micro-ops
//! `[read k v]` / `[write k v]` applied in order; a read must see the value.

use super::{shape, unknown_f, Interner, Model, NilReads, OpView, NIL};

/// One micro-op on register `slot`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Micro {
    /// Write (`true`) or read.
    pub write: bool,
    /// The register's dense id.
    pub slot: u32,
    /// The value written or read (interned).
    pub value: u32,
}

/// Registers, each initially the same value.
#[derive(Debug)]
pub struct MultiRegister {
    nil_reads: NilReads,
    initial: u32,
    values: Interner,
    keys: Interner,
}

impl MultiRegister {
    /// Registers that start as `initial` (Knossos's test: 0).
    pub fn new(initial: &serde_json::Value, nil_reads: NilReads) -> MultiRegister {
        let values = Interner::default();
        let initial = values.id(initial);
        MultiRegister {
            nil_reads,
            initial,
            values,
            keys: Interner::default(),
        }
    }

    fn micro(&self, m: &serde_json::Value, crashed: bool) -> Result<Option<Micro>, String> {
        let parts = m.as_array().map(Vec::as_slice);
        let Some([f, k, v]) = parts else {
            return Err(format!(
                "txn micro-op needs [f key value], got {}",
                shape(m)
            ));
        };
        let write = match f.as_str() {
            Some("write" | "w") => true,
            Some("read" | "r") => false,
            _ => {
                return Err(format!(
                    "txn micro-op {} is neither read nor write",
                    shape(f)
                ))
            }
        };
        let value = self.values.id(v);
        let unknown = !write && (crashed || (value == NIL && self.nil_reads == NilReads::Wildcard));
        let slot = self.keys.id(k);
        Ok((!unknown).then_some(Micro { write, slot, value }))
    }
}

impl Model for MultiRegister {
    type State = Box<[u32]>;
    type Input = Vec<Micro>;

    fn init(&self) -> Box<[u32]> {
        vec![self.initial; self.keys.len()].into()
    }

    fn prepare(&self, op: &OpView<'_>) -> Result<Option<Vec<Micro>>, String> {
        if op.f != "txn" {
            return Err(unknown_f("multi-register", op.f, "txn"));
        }
        let v = op.value();
        let micros = v
            .as_array()
            .ok_or_else(|| format!("txn needs a list of micro-ops, got {}", shape(v)))?;
        let mut out = Vec::with_capacity(micros.len());
        for m in micros {
            out.extend(self.micro(m, op.crashed())?);
        }
        Ok((!out.is_empty()).then_some(out))
    }

    fn step(&self, state: &Box<[u32]>, input: &Vec<Micro>) -> Option<Box<[u32]>> {
        let mut next = state.clone();
        for m in input {
            let cell = next.get_mut(m.slot as usize)?;
            if m.write {
                *cell = m.value;
            } else if *cell != m.value {
                return None;
            }
        }
        Some(next)
    }

    fn describe_state(&self, state: &Box<[u32]>) -> String {
        let parts: Vec<String> = state
            .iter()
            .enumerate()
            .skip(1) // slot 0 is the interner's null, never a key
            .map(|(k, &v)| format!("{}={}", self.keys.show(k as u32), self.values.show(v)))
            .collect();
        parts.join(" ")
    }

    fn describe_op(&self, input: &Vec<Micro>) -> String {
        let parts: Vec<String> = input
            .iter()
            .map(|m| {
                let f = if m.write { "w" } else { "r" };
                format!(
                    "{f} {} {}",
                    self.keys.show(m.slot),
                    self.values.show(m.value)
                )
            })
            .collect();
        format!("txn [{}]", parts.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{info, ok, run};
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_in_a_txn_see_earlier_writes() {
        let m = MultiRegister::new(&json!(0), NilReads::Wildcard);
        let w = json!([["write", "x", 1], ["read", "x", 1], ["read", "y", 0]]);
        let r = json!([["read", "x", 1], ["read", "y", null]]);
        let bad = json!([["read", "y", 1]]);
        let s = run(&m, &[ok("txn", &w, &w), ok("txn", &r, &r)]).unwrap();
        assert_eq!(m.describe_state(&s), "x=1 y=0");
        assert!(run(&m, &[ok("txn", &w, &w), ok("txn", &bad, &bad)]).is_none());
    }

    #[test]
    fn crashed_txns_keep_only_their_writes() {
        let m = MultiRegister::new(&json!(0), NilReads::Absent);
        let t = json!([["read", "x", 5], ["write", "y", 2]]);
        let input = m.prepare(&info("txn", &t)).unwrap().unwrap();
        assert_eq!(m.describe_op(&input), "txn [w y 2]");
        let r = json!([["read", "x", 5]]);
        assert!(m.prepare(&info("txn", &r)).unwrap().is_none());
        assert!(m
            .prepare(&ok("txn", &json!([["cas", "x", 1]]), &json!(null)))
            .is_err());
    }
}
