//! A key-value map of strings with `get`, `put` and `append`: Porcupine's
//! `kvModel` (`porcupine/kv_test.go`). Values are `[key, arg]`, as Jepsen's
//! independent keys and our reader of Porcupine's kv files write them.
//!
//! [`Kv`] is one string register per key and splits the history by key
//! (P-compositionality); [`KvMap`] checks the whole map as one state, which
//! is what Porcupine's unpartitioned benchmark does.

use super::{pair, shape, unknown_f, Model, OpView};
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// An immutable shared string that carries its own hash, so that the
/// search's cache hashes a long value in O(1) and clones it without copying.
#[derive(Clone, Debug)]
pub struct SharedStr {
    hash: u64,
    text: Arc<str>,
}

impl SharedStr {
    fn new(text: &str) -> SharedStr {
        let mut h = crate::linear::hash::FxHasher::default();
        text.hash(&mut h);
        SharedStr {
            hash: h.finish(),
            text: text.into(),
        }
    }

    fn concat(&self, tail: &SharedStr) -> SharedStr {
        let mut s = String::with_capacity(self.text.len() + tail.text.len());
        s.push_str(&self.text);
        s.push_str(&tail.text);
        SharedStr::new(&s)
    }
}

impl PartialEq for SharedStr {
    fn eq(&self, other: &Self) -> bool {
        self.hash == other.hash && (Arc::ptr_eq(&self.text, &other.text) || self.text == other.text)
    }
}

impl Eq for SharedStr {}

impl Hash for SharedStr {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

/// What a kv op does to its key's string.
#[derive(Clone, Debug)]
pub enum KvOp {
    /// Read the string; it was this.
    Get(SharedStr),
    /// Replace the string.
    Put(SharedStr),
    /// Append to the string.
    Append(SharedStr),
}

/// A kv op on one key.
#[derive(Clone, Debug)]
pub struct KvInput {
    /// The key as text.
    pub key: String,
    /// The key's dense id (used by [`KvMap`]).
    pub slot: usize,
    /// What it does.
    pub op: KvOp,
}

/// Keys to dense slots, assigned while ops are prepared.
#[derive(Debug, Default)]
struct Keys(std::sync::Mutex<HashMap<String, usize>>);

impl Keys {
    fn slot(&self, key: &str) -> usize {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let next = map.len();
        *map.entry(key.to_string()).or_insert(next)
    }

    fn len(&self) -> usize {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

fn prepare(keys: &Keys, op: &OpView<'_>) -> Result<Option<KvInput>, String> {
    let (key, arg) = pair(op.value(), op.f)?;
    let key = match key {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let text = |what: &str| match arg {
        serde_json::Value::String(s) => Ok(SharedStr::new(s)),
        other => Err(format!(
            "kv {what} needs a string value, got {}",
            shape(other)
        )),
    };
    let op = match op.f {
        "get" if op.crashed() => return Ok(None),
        "get" => KvOp::Get(text("get")?),
        "put" => KvOp::Put(text("put")?),
        "append" => KvOp::Append(text("append")?),
        f => return Err(unknown_f("kv", f, "get, put, append")),
    };
    let slot = keys.slot(&key);
    Ok(Some(KvInput { key, slot, op }))
}

fn apply(s: &SharedStr, op: &KvOp) -> Option<SharedStr> {
    match op {
        KvOp::Get(v) => (v == s).then(|| s.clone()),
        KvOp::Put(v) => Some(v.clone()),
        KvOp::Append(v) => Some(s.concat(v)),
    }
}

fn describe(input: &KvInput) -> String {
    let (f, v) = match &input.op {
        KvOp::Get(v) => ("get", v),
        KvOp::Put(v) => ("put", v),
        KvOp::Append(v) => ("append", v),
    };
    format!("{f} {:?} {:?}", input.key, &*v.text)
}

/// One string register per key, split by key; each starts as `""`.
#[derive(Debug, Default)]
pub struct Kv {
    keys: Keys,
}

impl Model for Kv {
    type State = SharedStr;
    type Input = KvInput;

    fn init(&self) -> SharedStr {
        SharedStr::new("")
    }

    fn prepare(&self, op: &OpView<'_>) -> Result<Option<KvInput>, String> {
        prepare(&self.keys, op)
    }

    fn step(&self, state: &SharedStr, input: &KvInput) -> Option<SharedStr> {
        apply(state, &input.op)
    }

    fn partition(&self, input: &KvInput) -> Option<String> {
        Some(input.key.clone())
    }

    fn describe_state(&self, state: &SharedStr) -> String {
        format!("{:?}", &*state.text)
    }

    fn describe_op(&self, input: &KvInput) -> String {
        describe(input)
    }
}

/// The whole map as one state, not split by key.
#[derive(Debug, Default)]
pub struct KvMap {
    keys: Keys,
}

impl Model for KvMap {
    type State = Arc<[SharedStr]>;
    type Input = KvInput;

    fn init(&self) -> Arc<[SharedStr]> {
        vec![SharedStr::new(""); self.keys.len()].into()
    }

    fn prepare(&self, op: &OpView<'_>) -> Result<Option<KvInput>, String> {
        prepare(&self.keys, op)
    }

    fn step(&self, state: &Arc<[SharedStr]>, input: &KvInput) -> Option<Arc<[SharedStr]>> {
        let current = state.get(input.slot)?;
        let next = apply(current, &input.op)?;
        if matches!(input.op, KvOp::Get(_)) {
            return Some(state.clone());
        }
        let mut map = state.to_vec();
        map[input.slot] = next;
        Some(map.into())
    }

    fn describe_state(&self, state: &Arc<[SharedStr]>) -> String {
        let keys = self.keys.0.lock().unwrap_or_else(|e| e.into_inner());
        let mut named: Vec<(&String, &usize)> = keys.iter().collect();
        named.sort_by_key(|(_, &slot)| slot);
        let parts: Vec<String> = named
            .iter()
            .filter_map(|(k, &slot)| Some(format!("{k:?}: {:?}", &*state.get(slot)?.text)))
            .collect();
        format!("{{{}}}", parts.join(", "))
    }

    fn describe_op(&self, input: &KvInput) -> String {
        describe(input)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{info, ok, run};
    use super::*;
    use serde_json::json;

    #[test]
    fn get_sees_puts_and_appends_per_key() {
        let m = Kv::default();
        let (p, a, g, bad) = (
            json!(["k", "x"]),
            json!(["k", "y"]),
            json!(["k", "xy"]),
            json!(["k", "x"]),
        );
        let s = run(
            &m,
            &[
                ok("put", &p, &p),
                ok("append", &a, &a),
                ok("get", &json!(["k", null]), &g),
            ],
        );
        assert_eq!(m.describe_state(&s.unwrap()), "\"xy\"");
        assert!(run(
            &m,
            &[
                ok("put", &p, &p),
                ok("append", &a, &a),
                ok("get", &bad, &bad)
            ]
        )
        .is_none());
        let input = m.prepare(&ok("put", &p, &p)).unwrap().unwrap();
        assert_eq!(m.partition(&input).as_deref(), Some("k"));
        assert_eq!(m.describe_op(&input), "put \"k\" \"x\"");
    }

    #[test]
    fn the_map_keeps_keys_apart_and_crashed_gets_are_dropped() {
        let m = KvMap::default();
        let (a, b, ga, gb) = (
            json!(["a", "1"]),
            json!(["b", "2"]),
            json!(["a", "1"]),
            json!(["b", ""]),
        );
        let a_in = m.prepare(&ok("put", &a, &a)).unwrap().unwrap();
        let b_in = m.prepare(&ok("put", &b, &b)).unwrap().unwrap();
        let gb_in = m.prepare(&ok("get", &gb, &gb)).unwrap().unwrap();
        let ga_in = m.prepare(&ok("get", &ga, &ga)).unwrap().unwrap();
        let s = m.step(&m.init(), &a_in).unwrap();
        assert!(m.step(&s, &gb_in).is_some(), "b is still empty");
        assert!(m.step(&s, &ga_in).is_some());
        assert!(m.step(&m.step(&s, &b_in).unwrap(), &gb_in).is_none());
        assert_eq!(m.prepare(&info("get", &ga)).unwrap().map(|i| i.slot), None);
        assert!(m.prepare(&ok("get", &json!(3), &json!(3))).is_err());
    }
}
