//! An in-process, linearizable store that answers at once: registers with
//! read/write/cas by key, and append-only lists for `txn`s of reads and
//! appends. Every op takes one lock, so each is atomic and takes effect
//! between its invocation and completion. For tests and benches: it shows
//! what a correct system's history looks like, at any speed.

use super::{BoxFuture, Client, ClientError, Complete};
use checkers::Op;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

#[derive(Default)]
struct State {
    registers: HashMap<u64, Value>,
    lists: HashMap<u64, Vec<Value>>,
}

/// A client of a shared in-memory store; `open` gives clients of the same
/// store.
#[derive(Clone, Default)]
pub struct MemoryClient {
    state: Arc<Mutex<State>>,
}

impl MemoryClient {
    /// A client of a new, empty store.
    pub fn new() -> Self {
        MemoryClient::default()
    }

    fn apply(&self, op: &Op) -> Result<Op, ClientError> {
        let mut state = self
            .state
            .lock()
            .map_err(|_| ClientError::Unknown("store lock poisoned".into()))?;
        match op.f.as_str() {
            "read" | "write" | "cas" => register(&mut state, op),
            "txn" => txn(&mut state, op),
            f => Err(ClientError::Fail(format!("unknown f {f:?}"))),
        }
    }
}

fn bad(op: &Op, want: &str) -> ClientError {
    ClientError::Fail(format!("{}: value {} is not {want}", op.f, op.value))
}

/// `[k, v]` with an integer key.
fn keyed(op: &Op) -> Result<(u64, &Value), ClientError> {
    match op.value.as_array().map(Vec::as_slice) {
        Some([k, v]) => k
            .as_u64()
            .map(|k| (k, v))
            .ok_or_else(|| bad(op, "[key, value]")),
        _ => Err(bad(op, "[key, value]")),
    }
}

fn register(state: &mut State, op: &Op) -> Result<Op, ClientError> {
    let (k, v) = keyed(op)?;
    let cur = state.registers.get(&k).cloned().unwrap_or(Value::Null);
    match op.f.as_str() {
        "read" => Ok(op.ok(Value::Array(vec![k.into(), cur]))),
        "write" => {
            state.registers.insert(k, v.clone());
            Ok(op.ok(op.value.clone()))
        }
        _ => match v.as_array().map(Vec::as_slice) {
            Some([old, new]) if *old == cur => {
                state.registers.insert(k, new.clone());
                Ok(op.ok(op.value.clone()))
            }
            Some([_, _]) => Ok(op.fail("cas mismatch")),
            _ => Err(bad(op, "[key, [old, new]]")),
        },
    }
}

/// Applies `[["r", k, null], ["append", k, v], ...]` atomically; reads
/// return the list so far (`null` for a key never appended to).
fn txn(state: &mut State, op: &Op) -> Result<Op, ClientError> {
    let micro = op
        .value
        .as_array()
        .ok_or_else(|| bad(op, "a list of micro-ops"))?;
    let mut out = Vec::with_capacity(micro.len());
    for m in micro {
        let (f, k, v) = match m.as_array().map(Vec::as_slice) {
            Some([f, k, v]) => (f.as_str(), k.as_u64(), v),
            _ => return Err(bad(op, "[f, key, value] micro-ops")),
        };
        let k = k.ok_or_else(|| bad(op, "micro-ops with integer keys"))?;
        let result = match f {
            Some("r") => state
                .lists
                .get(&k)
                .map_or(Value::Null, |l| Value::Array(l.clone())),
            Some("append") => {
                state.lists.entry(k).or_default().push(v.clone());
                v.clone()
            }
            _ => return Err(bad(op, "r or append micro-ops")),
        };
        out.push(Value::Array(vec![m[0].clone(), k.into(), result]));
    }
    Ok(op.ok(Value::Array(out)))
}

impl Client for MemoryClient {
    fn open<'a>(&'a self, _node: &'a str) -> BoxFuture<'a, Result<Box<dyn Client>, ClientError>> {
        Box::pin(std::future::ready(Ok(
            Box::new(self.clone()) as Box<dyn Client>
        )))
    }

    fn invoke<'a>(&'a mut self, op: &'a Op) -> BoxFuture<'a, Result<Op, ClientError>> {
        Box::pin(std::future::ready(self.apply(op)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use checkers::OpType;
    use serde_json::json;

    fn run(c: &MemoryClient, f: &str, value: Value) -> Result<Op, ClientError> {
        c.apply(&Op::new(0, OpType::Invoke, f, value))
    }

    #[test]
    fn registers_read_write_and_cas_per_key() {
        let c = MemoryClient::new();
        assert_eq!(
            run(&c, "read", json!([1, null])).unwrap().value,
            json!([1, null])
        );
        run(&c, "write", json!([1, 3])).unwrap();
        assert_eq!(
            run(&c, "cas", json!([1, [2, 4]])).unwrap().kind,
            OpType::Fail
        );
        assert_eq!(run(&c, "cas", json!([1, [3, 4]])).unwrap().kind, OpType::Ok);
        assert_eq!(
            run(&c, "read", json!([1, null])).unwrap().value,
            json!([1, 4])
        );
        assert_eq!(
            run(&c, "read", json!([2, null])).unwrap().value,
            json!([2, null])
        );
    }

    #[test]
    fn txns_append_and_read_atomically() {
        let c = MemoryClient::new();
        let t = run(
            &c,
            "txn",
            json!([["append", 1, 5], ["r", 1, null], ["r", 2, null]]),
        )
        .unwrap();
        assert_eq!(
            t.value,
            json!([["append", 1, 5], ["r", 1, [5]], ["r", 2, null]])
        );
        run(&c, "txn", json!([["append", 1, 6]])).unwrap();
        assert_eq!(
            run(&c, "txn", json!([["r", 1, null]])).unwrap().value,
            json!([["r", 1, [5, 6]]])
        );
    }

    #[test]
    fn malformed_ops_fail_definitely() {
        let c = MemoryClient::new();
        assert!(matches!(
            run(&c, "write", json!(3)),
            Err(ClientError::Fail(_))
        ));
        assert!(matches!(
            run(&c, "txn", json!([["put", 1, 2]])),
            Err(ClientError::Fail(_))
        ));
        assert!(matches!(
            run(&c, "delete", json!([1, 2])),
            Err(ClientError::Fail(_))
        ));
    }
}
