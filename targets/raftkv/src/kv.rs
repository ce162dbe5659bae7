//! The replicated state machine: a map from keys to JSON values, with the
//! commands the log carries (write, compare-and-set, list-append
//! transactions) and reads. Applying is deterministic, so every replica that
//! applies the same log reaches the same map (Raft paper section 5, "replicated
//! state machines"). Transactions use Elle's micro-op notation
//! (`["r", k, null]`, `["append", k, v]`) and are all-or-nothing.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A command in the log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum Command {
    Write {
        key: String,
        value: Value,
    },
    Cas {
        key: String,
        expect: Value,
        value: Value,
    },
    Txn {
        ops: Vec<MicroOp>,
    },
}

/// One step of a transaction; `key` keeps the client's spelling (string or
/// integer) so it can be echoed back, `slot` is how the map stores it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MicroOp {
    pub f: MicroF,
    pub key: Value,
    pub value: Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MicroF {
    R,
    Append,
}

/// A command that was applied but had no effect; certain, so clients may
/// record it as `fail`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("cas failed on key {key}: expected {expected}, found {found}")]
    CasMismatch {
        key: String,
        expected: String,
        found: String,
    },
    #[error("append to key {key} failed: its value {found} is not a list")]
    NotAList { key: String, found: String },
}

/// A request body that does not describe a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadOp {
    #[error("micro-op {index}: expected [f, key, value], got {got}")]
    Shape { index: usize, got: String },
    #[error("micro-op {index}: unknown function {f:?} (use \"r\" or \"append\")")]
    Function { index: usize, f: String },
    #[error("key must be a non-empty string or an integer, got {0}")]
    Key(String),
}

/// Keys may be strings or integers on the wire; both map to one string.
pub fn key_slot(key: &Value) -> Result<String, BadOp> {
    match key {
        Value::String(s) if !s.is_empty() => Ok(s.clone()),
        Value::Number(n) if n.is_i64() || n.is_u64() => Ok(n.to_string()),
        other => Err(BadOp::Key(other.to_string())),
    }
}

/// Parse `[["r", k, null], ["append", k, v], ...]`.
pub fn parse_micro_ops(ops: &[Value]) -> Result<Vec<MicroOp>, BadOp> {
    ops.iter()
        .enumerate()
        .map(|(index, op)| parse_micro_op(index, op))
        .collect()
}

fn parse_micro_op(index: usize, op: &Value) -> Result<MicroOp, BadOp> {
    let shape = || BadOp::Shape {
        index,
        got: op.to_string(),
    };
    let [f, key, value] = op.as_array().map(Vec::as_slice).ok_or_else(shape)? else {
        return Err(shape());
    };
    let f = match f.as_str() {
        Some("r") => MicroF::R,
        Some("append") => MicroF::Append,
        _ => {
            return Err(BadOp::Function {
                index,
                f: f.to_string(),
            })
        }
    };
    key_slot(key)?;
    Ok(MicroOp {
        f,
        key: key.clone(),
        value: value.clone(),
    })
}

/// The micro-ops as the client wrote them, reads filled in.
pub fn render_micro_ops(ops: &[MicroOp]) -> Value {
    let f = |m: &MicroOp| if m.f == MicroF::R { "r" } else { "append" };
    Value::Array(
        ops.iter()
            .map(|m| serde_json::json!([f(m), m.key, m.value]))
            .collect(),
    )
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct Store {
    map: BTreeMap<String, Value>,
}

impl Store {
    pub fn get(&self, key: &str) -> Value {
        self.map.get(key).cloned().unwrap_or(Value::Null)
    }

    /// Apply one command; the value is the response body's result.
    pub fn apply(&mut self, command: Command) -> Result<Value, Refused> {
        match command {
            Command::Write { key, value } => {
                self.map.insert(key, value);
                Ok(Value::Null)
            }
            Command::Cas { key, expect, value } => self.cas(key, expect, value),
            Command::Txn { ops } => self.txn(ops).map(|ops| render_micro_ops(&ops)),
        }
    }

    fn cas(&mut self, key: String, expect: Value, value: Value) -> Result<Value, Refused> {
        let found = self.get(&key);
        if found != expect {
            let (expected, found) = (expect.to_string(), found.to_string());
            return Err(Refused::CasMismatch {
                key,
                expected,
                found,
            });
        }
        self.map.insert(key, value);
        Ok(Value::Null)
    }

    /// Run a transaction on a copy of the touched keys, commit if all succeed.
    pub fn txn(&mut self, mut ops: Vec<MicroOp>) -> Result<Vec<MicroOp>, Refused> {
        let mut touched: BTreeMap<String, Value> = BTreeMap::new();
        for op in &mut ops {
            let slot = key_slot(&op.key).unwrap_or_default();
            let current = touched
                .entry(slot.clone())
                .or_insert_with(|| self.get(&slot));
            match op.f {
                MicroF::R => op.value = current.clone(),
                MicroF::Append => append(current, &slot, op.value.clone())?,
            }
        }
        let wrote = ops.iter().any(|op| op.f == MicroF::Append);
        if wrote {
            self.map
                .extend(touched.into_iter().filter(|(_, v)| !v.is_null()));
        }
        Ok(ops)
    }

    /// Serve a read-only transaction without changing anything.
    pub fn read_txn(&self, ops: &[MicroOp]) -> Value {
        let mut ops = ops.to_vec();
        for op in &mut ops {
            op.value = self.get(&key_slot(&op.key).unwrap_or_default());
        }
        render_micro_ops(&ops)
    }

    pub fn to_snapshot(&self) -> String {
        serde_json::to_string(&self.map).unwrap_or_default()
    }

    pub fn from_snapshot(data: &str) -> Result<Store, serde_json::Error> {
        if data.is_empty() {
            return Ok(Store::default());
        }
        Ok(Store {
            map: serde_json::from_str(data)?,
        })
    }
}

fn append(current: &mut Value, key: &str, element: Value) -> Result<(), Refused> {
    match current {
        Value::Null => *current = Value::Array(vec![element]),
        Value::Array(list) => list.push(element),
        other => {
            let found = other.to_string();
            return Err(Refused::NotAList {
                key: key.to_string(),
                found,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ops(v: Value) -> Vec<MicroOp> {
        parse_micro_ops(v.as_array().unwrap()).unwrap()
    }

    #[test]
    fn txn_reads_see_earlier_appends_and_echo_keys() {
        let mut s = Store::default();
        s.apply(Command::Txn {
            ops: ops(json!([["append", 1, 5]])),
        })
        .unwrap();
        let out = s.apply(Command::Txn {
            ops: ops(json!([["r", 1, null], ["append", 1, 6], ["r", "1", null]])),
        });
        assert_eq!(
            out.unwrap(),
            json!([["r", 1, [5]], ["append", 1, 6], ["r", "1", [5, 6]]])
        );
    }

    #[test]
    fn failed_txn_changes_nothing() {
        let mut s = Store::default();
        s.apply(Command::Write {
            key: "a".into(),
            value: json!(3),
        })
        .unwrap();
        let err = s.apply(Command::Txn {
            ops: ops(json!([["append", "b", 1], ["append", "a", 2]])),
        });
        assert!(matches!(err, Err(Refused::NotAList { .. })));
        assert_eq!(s.get("b"), Value::Null);
    }

    #[test]
    fn cas_compares_whole_values() {
        let mut s = Store::default();
        let cas = |e: Value, v: Value| Command::Cas {
            key: "k".into(),
            expect: e,
            value: v,
        };
        assert!(s.apply(cas(json!(1), json!(2))).is_err());
        s.apply(cas(Value::Null, json!(1))).unwrap();
        s.apply(cas(json!(1), json!(2))).unwrap();
        assert_eq!(s.get("k"), json!(2));
    }

    #[test]
    fn bad_micro_ops_are_rejected_with_position() {
        let bad = parse_micro_ops(json!([["r", 1, null], ["w", 1, 2]]).as_array().unwrap());
        assert_eq!(
            bad,
            Err(BadOp::Function {
                index: 1,
                f: "\"w\"".into()
            })
        );
        let bad = parse_micro_ops(json!([["r", null, null]]).as_array().unwrap());
        assert!(matches!(bad, Err(BadOp::Key(_))));
        assert!(parse_micro_ops(json!([["r", 1]]).as_array().unwrap()).is_err());
    }

    #[test]
    fn snapshot_round_trips() {
        let mut s = Store::default();
        s.apply(Command::Write {
            key: "x".into(),
            value: json!({"a": [1]}),
        })
        .unwrap();
        assert_eq!(Store::from_snapshot(&s.to_snapshot()).unwrap(), s);
    }
}
