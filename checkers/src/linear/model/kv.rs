//! A key-value map of strings with `get`, `put` and `append`: Porcupine's
//! `kvModel` (`porcupine/kv_test.go`). Values are `[key, arg]`, as Jepsen's
//! independent keys and our reader of Porcupine's kv files write them.
//!
//! [`Kv`] is one string register per key and splits the history by key
//! (P-compositionality); [`KvMap`] checks the whole map as one state, which
//! is what Porcupine's unpartitioned benchmark does. Both number a key's
//! strings ([`super::kv_states`]): a step is an integer lookup, exact.

use super::kv_states::{Tables, Vocab, DEAD, EMPTY, NOOP};
use super::{pair, shape, unknown_f, Model, OpView};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

/// What a kv op does to its key's string; the ids are [`Vocab`]'s.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KvOp {
    /// Read the string; it was get value `id`.
    Get(u32),
    /// Replace the string by put value `id`.
    Put(u32),
    /// Append token `id` ([`NOOP`] for `""`).
    Append(u32),
}

/// A kv op on one key.
#[derive(Clone, Debug)]
pub struct KvInput {
    /// The key as text.
    pub key: String,
    /// The key's dense id.
    pub slot: usize,
    /// What it does.
    pub op: KvOp,
    /// Its string argument (or the value the get returned).
    pub text: Arc<str>,
}

/// What both kv models share: key slots and values seen while preparing,
/// then the numbered states (built on first use, after every op is
/// prepared: the [`Model`] contract).
#[derive(Debug, Default)]
struct Shared {
    prep: Mutex<(HashMap<String, usize>, Vocab)>,
    tables: OnceLock<Tables>,
}

impl Shared {
    fn prep(&self) -> MutexGuard<'_, (HashMap<String, usize>, Vocab)> {
        self.prep.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn keys(&self) -> usize {
        self.prep().0.len()
    }

    fn tables(&self) -> &Tables {
        self.tables.get_or_init(|| Tables::build(&self.prep().1))
    }

    fn prepare(&self, op: &OpView<'_>) -> Result<Option<KvInput>, String> {
        let (key, arg) = pair(op.value(), op.f)?;
        let key = match key {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        if op.f == "get" && op.crashed() {
            return Ok(None);
        }
        let serde_json::Value::String(text) = arg else {
            return Err(format!(
                "kv {} needs a string value, got {}",
                op.f,
                shape(arg)
            ));
        };
        if self.tables.get().is_some() {
            return Err("kv model already checked a history: use a new one per check".into());
        }
        let mut prep = self.prep();
        let (keys, vocab) = &mut *prep;
        let next = keys.len();
        let slot = *keys.entry(key.clone()).or_insert(next);
        let (op, text) = match op.f {
            "get" => with(vocab.gets.id(slot, text), KvOp::Get),
            "put" => with(vocab.puts.id(slot, text), KvOp::Put),
            "append" if text.is_empty() => (KvOp::Append(NOOP), text.as_str().into()),
            "append" => with(vocab.tokens.id(slot, text), KvOp::Append),
            f => return Err(unknown_f("kv", f, "get, put, append")),
        };
        Ok(Some(KvInput {
            key,
            slot,
            op,
            text,
        }))
    }

    fn step(&self, state: u32, op: KvOp) -> Option<u32> {
        let t = self.tables();
        match op {
            KvOp::Get(g) => (t.get_state[g as usize] == state).then_some(state),
            KvOp::Put(p) => Some(t.put_state[p as usize]),
            KvOp::Append(a) => Some(t.append(state, a)),
        }
    }

    fn describe(&self, state: u32) -> String {
        match self.tables().text(state) {
            Some(text) => format!("{text:?}"),
            None => "(a value no later get returns)".into(),
        }
    }
}

fn with(id: (u32, Arc<str>), op: fn(u32) -> KvOp) -> (KvOp, Arc<str>) {
    (op(id.0), id.1)
}

/// The exact string after `path` on key `slot` from `""`, for people
/// (a state may be [`DEAD`], which forgets it).
fn replay(path: &[&KvInput], slot: usize) -> String {
    let mut s = String::new();
    for input in path.iter().filter(|i| i.slot == slot) {
        match input.op {
            KvOp::Get(_) => {}
            KvOp::Put(_) => s = input.text.to_string(),
            KvOp::Append(_) => s.push_str(&input.text),
        }
    }
    s
}

fn describe(input: &KvInput) -> String {
    let f = match input.op {
        KvOp::Get(_) => "get",
        KvOp::Put(_) => "put",
        KvOp::Append(_) => "append",
    };
    format!("{f} {:?} {:?}", input.key, &*input.text)
}

/// One string register per key, split by key; each starts as `""`. The
/// state is the string's number ([`super::kv_states`]).
#[derive(Debug, Default)]
pub struct Kv {
    shared: Shared,
}

impl Model for Kv {
    type State = u32;
    type Input = KvInput;

    fn init(&self) -> u32 {
        EMPTY
    }

    fn prepare(&self, op: &OpView<'_>) -> Result<Option<KvInput>, String> {
        self.shared.prepare(op)
    }

    fn step(&self, state: &u32, input: &KvInput) -> Option<u32> {
        self.shared.step(*state, input.op)
    }

    fn partition(&self, input: &KvInput) -> Option<String> {
        Some(input.key.clone())
    }

    fn describe_state(&self, state: &u32) -> String {
        self.shared.describe(*state)
    }

    fn describe_path(&self, path: &[&KvInput], state: &u32) -> String {
        match (path.last(), *state) {
            (Some(last), DEAD) => format!("{:?}", replay(path, last.slot)),
            _ => self.describe_state(state),
        }
    }

    fn describe_op(&self, input: &KvInput) -> String {
        describe(input)
    }
}

/// The whole map as one state, not split by key: each key's number.
#[derive(Debug, Default)]
pub struct KvMap {
    shared: Shared,
}

impl Model for KvMap {
    type State = Arc<[u32]>;
    type Input = KvInput;

    fn init(&self) -> Arc<[u32]> {
        vec![EMPTY; self.shared.keys()].into()
    }

    fn prepare(&self, op: &OpView<'_>) -> Result<Option<KvInput>, String> {
        self.shared.prepare(op)
    }

    fn step(&self, state: &Arc<[u32]>, input: &KvInput) -> Option<Arc<[u32]>> {
        let current = *state.get(input.slot)?;
        let next = self.shared.step(current, input.op)?;
        if next == current {
            return Some(state.clone());
        }
        let mut map = state.to_vec();
        map[input.slot] = next;
        Some(map.into())
    }

    fn describe_state(&self, state: &Arc<[u32]>) -> String {
        self.describe_path(&[], state)
    }

    fn describe_path(&self, path: &[&KvInput], state: &Arc<[u32]>) -> String {
        let keys = self.shared.prep().0.clone();
        let mut named: Vec<(&String, &usize)> = keys.iter().collect();
        named.sort_by_key(|(_, &slot)| slot);
        let parts: Vec<String> = named
            .iter()
            .filter_map(|(k, &slot)| {
                let text = match *state.get(slot)? {
                    DEAD => format!("{:?}", replay(path, slot)),
                    s => self.shared.describe(s),
                };
                Some(format!("{k:?}: {text}"))
            })
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
        let m = Kv::default();
        assert!(run(
            &m,
            &[
                ok("put", &p, &p),
                ok("append", &a, &a),
                ok("get", &bad, &bad)
            ]
        )
        .is_none());
        let m = Kv::default();
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

    #[test]
    fn a_string_no_get_returns_is_dead_until_a_put_and_is_still_named() {
        let m = Kv::default();
        let (a, p, g) = (json!(["k", "a"]), json!(["k", "b"]), json!(["k", "b"]));
        let ins: Vec<KvInput> = [ok("append", &a, &a), ok("put", &p, &p), ok("get", &g, &g)]
            .iter()
            .map(|op| m.prepare(op).unwrap().unwrap())
            .collect();
        let dead = m.step(&m.init(), &ins[0]).unwrap();
        assert_eq!(dead, DEAD);
        assert!(m.step(&dead, &ins[2]).is_none());
        assert_eq!(m.describe_path(&[&ins[0]], &dead), "\"a\"");
        let b = m.step(&dead, &ins[1]).unwrap();
        assert_eq!(m.step(&b, &ins[2]), Some(b));
        assert!(m.prepare(&ok("put", &p, &p)).is_err(), "prepared after use");
    }
}
