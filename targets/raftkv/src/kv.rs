//! The replicated state machine: a map from keys to JSON values, with the
//! commands the log carries (write, compare-and-set, transactions, bank
//! transfers) and reads. Applying is deterministic, so every replica that
//! applies the same log reaches the same map (Raft paper section 5,
//! "replicated state machines"). Transactions use Elle's micro-op notation
//! (`["r", k, null]`, `["append", k, v]`, `["w", k, v]`) plus `["add", k,
//! n]` (a number, absent counts as 0) and `["pop", k, null]` (take the head
//! of a list), and are all-or-nothing.

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
    /// Move `amount` from `from` to `to`; a key never written holds
    /// `initial`. Refused rather than overdraw `from`.
    Transfer {
        from: String,
        to: String,
        amount: i64,
        initial: i64,
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
    W,
    Add,
    Pop,
}

impl MicroF {
    fn name(self) -> &'static str {
        match self {
            MicroF::R => "r",
            MicroF::Append => "append",
            MicroF::W => "w",
            MicroF::Add => "add",
            MicroF::Pop => "pop",
        }
    }

    /// Writes whose answer does not depend on the state (the `early-ack`
    /// bug acknowledges those before they commit).
    pub fn is_blind_write(self) -> bool {
        matches!(self, MicroF::Append | MicroF::W | MicroF::Add)
    }
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
    #[error("{op} on key {key} failed: its value {found} is not a list")]
    NotAList {
        op: &'static str,
        key: String,
        found: String,
    },
    #[error("add to key {key} failed: {found} is not an integer")]
    NotAnInteger { key: String, found: String },
    #[error("transfer of {amount} from {from} refused: it holds {balance}")]
    Overdraw {
        from: String,
        balance: i64,
        amount: i64,
    },
}

/// A request body that does not describe a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadOp {
    #[error("micro-op {index}: expected [f, key, value], got {got}")]
    Shape { index: usize, got: String },
    #[error("micro-op {index}: unknown function {f:?} (use \"r\", \"w\", \"append\", \"add\" or \"pop\")")]
    Function { index: usize, f: String },
    #[error("key must be a non-empty string or an integer, got {0}")]
    Key(String),
    #[error("micro-op {index}: add needs an integer, got {got}")]
    NotAnInteger { index: usize, got: String },
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
        Some("w") => MicroF::W,
        Some("add") if value.is_i64() => MicroF::Add,
        Some("add") => {
            return Err(BadOp::NotAnInteger {
                index,
                got: value.to_string(),
            })
        }
        Some("pop") => MicroF::Pop,
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
    Value::Array(
        ops.iter()
            .map(|m| serde_json::json!([m.f.name(), m.key, m.value]))
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
            Command::Transfer {
                from,
                to,
                amount,
                initial,
            } => self.transfer(from, to, amount, initial),
        }
    }

    fn balance(&self, key: &str, initial: i64) -> Result<i64, Refused> {
        match self.map.get(key) {
            None => Ok(initial),
            Some(v) => v.as_i64().ok_or_else(|| Refused::NotAnInteger {
                key: key.to_string(),
                found: v.to_string(),
            }),
        }
    }

    fn transfer(
        &mut self,
        from: String,
        to: String,
        amount: i64,
        initial: i64,
    ) -> Result<Value, Refused> {
        let (a, b) = (self.balance(&from, initial)?, self.balance(&to, initial)?);
        if a < amount {
            return Err(Refused::Overdraw {
                from,
                balance: a,
                amount,
            });
        }
        if from != to {
            self.map.insert(from, Value::from(a - amount));
            self.map.insert(to, Value::from(b + amount));
        }
        Ok(Value::Null)
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
                MicroF::W => *current = op.value.clone(),
                MicroF::Add => add(current, &slot, &op.value)?,
                MicroF::Pop => op.value = pop(current, &slot)?,
            }
        }
        let wrote = ops.iter().any(|op| op.f != MicroF::R);
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

fn not_a_list(op: &'static str, key: &str, found: &Value) -> Refused {
    Refused::NotAList {
        op,
        key: key.to_string(),
        found: found.to_string(),
    }
}

fn append(current: &mut Value, key: &str, element: Value) -> Result<(), Refused> {
    match current {
        Value::Null => *current = Value::Array(vec![element]),
        Value::Array(list) => list.push(element),
        other => return Err(not_a_list("append", key, other)),
    }
    Ok(())
}

fn add(current: &mut Value, key: &str, n: &Value) -> Result<(), Refused> {
    let base = match &*current {
        Value::Null => 0,
        v => v.as_i64().ok_or_else(|| Refused::NotAnInteger {
            key: key.to_string(),
            found: v.to_string(),
        })?,
    };
    *current = Value::from(base.saturating_add(n.as_i64().unwrap_or(0)));
    Ok(())
}

/// Takes the head of the list in `current`: `null` when there is none.
fn pop(current: &mut Value, key: &str) -> Result<Value, Refused> {
    match current {
        Value::Null => Ok(Value::Null),
        Value::Array(list) if list.is_empty() => Ok(Value::Null),
        Value::Array(list) => Ok(list.remove(0)),
        other => Err(not_a_list("pop", key, other)),
    }
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
        let bad = parse_micro_ops(json!([["r", 1, null], ["x", 1, 2]]).as_array().unwrap());
        assert_eq!(
            bad,
            Err(BadOp::Function {
                index: 1,
                f: "\"x\"".into()
            })
        );
        let bad = parse_micro_ops(json!([["r", null, null]]).as_array().unwrap());
        assert!(matches!(bad, Err(BadOp::Key(_))));
        assert!(parse_micro_ops(json!([["r", 1]]).as_array().unwrap()).is_err());
    }

    #[test]
    fn writes_adds_and_pops_apply_in_order() {
        let mut s = Store::default();
        let out = s.apply(Command::Txn {
            ops: ops(json!([
                ["w", "a", 1],
                ["r", "a", null],
                ["add", "c", 2],
                ["add", "c", -1],
                ["r", "c", null],
                ["append", "q", 7],
                ["append", "q", 8],
                ["pop", "q", null],
                ["pop", "e", null]
            ])),
        });
        assert_eq!(
            out.unwrap(),
            json!([
                ["w", "a", 1],
                ["r", "a", 1],
                ["add", "c", 2],
                ["add", "c", -1],
                ["r", "c", 1],
                ["append", "q", 7],
                ["append", "q", 8],
                ["pop", "q", 7],
                ["pop", "e", null]
            ])
        );
        assert_eq!((s.get("c"), s.get("q")), (json!(1), json!([8])));
        let bad = s.apply(Command::Txn {
            ops: ops(json!([["add", "c", 1], ["add", "q", 1]])),
        });
        assert!(matches!(bad, Err(Refused::NotAnInteger { .. })));
        assert_eq!(s.get("c"), json!(1), "a refused txn changes nothing");
        assert!(parse_micro_ops(json!([["add", "c", "x"]]).as_array().unwrap()).is_err());
    }

    #[test]
    fn transfers_start_from_the_initial_balance_and_never_overdraw() {
        let mut s = Store::default();
        let t = |from: &str, to: &str, amount| Command::Transfer {
            from: from.into(),
            to: to.into(),
            amount,
            initial: 10,
        };
        s.apply(t("a", "b", 4)).unwrap();
        assert_eq!((s.get("a"), s.get("b")), (json!(6), json!(14)));
        let e = s.apply(t("a", "b", 7)).unwrap_err();
        assert_eq!(e.to_string(), "transfer of 7 from a refused: it holds 6");
        assert_eq!(s.get("a"), json!(6));
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
