//! The sequential specifications a history is checked against: one small
//! trait, [`Model`], in the style of Porcupine's `model.go` and stateright's
//! `SequentialSpec`: an initial state, a step function, equality.
//!
//! Ops are parsed into a model's `Input` once, before the search (values
//! interned to integers where that keeps states small), so the search's inner
//! loop never looks at JSON. Knossos's semantics of an op apply: the `ok`
//! completion's value replaces the invocation's, a `fail` op never reaches a
//! model, and a crashed (`info`) op that constrains nothing (a read) is
//! dropped by `prepare` returning `Ok(None)`.

mod collections;
mod independent;
mod kv;
mod kv_states;
mod multi;
mod register;

pub use collections::{Mutex, Queue, Set};
pub use independent::{Independent, Keyed};
pub use kv::{Kv, KvMap};
pub use multi::MultiRegister;
pub use register::{NilReads, Register, RegisterOp};

use crate::history::Outcome;
use serde_json::Value;
use std::collections::HashMap;
use std::fmt::Debug;
use std::hash::Hash;

/// A sequential specification. Adding a model is one impl of this trait.
pub trait Model: Send + Sync {
    /// The model's state; compared and hashed by the search's cache, so keep
    /// it small (integers, shared strings).
    type State: Clone + Eq + Hash + Debug + Send + Sync;
    /// One operation, parsed once from the history.
    type Input: Clone + Debug + Send + Sync;

    /// The state before any operation. The checker calls it only after
    /// every op of the history is prepared, so a model may build tables
    /// from what `prepare` saw (kv numbers its strings).
    fn init(&self) -> Self::State;

    /// Parses one operation. `Ok(None)`: the op constrains nothing (a crashed
    /// read) and is dropped. `Err`: a value of the wrong shape; the caller
    /// reports it with the file and line.
    fn prepare(&self, op: &OpView<'_>) -> Result<Option<Self::Input>, String>;

    /// The state after `input`, or `None` when `input` is illegal in `state`.
    fn step(&self, state: &Self::State, input: &Self::Input) -> Option<Self::State>;

    /// The independent part of the state `input` touches (a key), if the
    /// model splits (P-compositionality); `None` puts every op in one part.
    fn partition(&self, _input: &Self::Input) -> Option<String> {
        None
    }

    /// A state, for people.
    fn describe_state(&self, state: &Self::State) -> String;

    /// The state `path` (a linearization from [`Model::init`]) reached,
    /// for people: a model whose states forget detail (kv's dead strings)
    /// can replay the path to name it exactly.
    fn describe_path(&self, _path: &[&Self::Input], state: &Self::State) -> String {
        self.describe_state(state)
    }

    /// An operation, for people (`write 3`, `cas 1->2`, `read 2`).
    fn describe_op(&self, input: &Self::Input) -> String;
}

/// What a model sees of one operation.
#[derive(Clone, Copy, Debug)]
pub struct OpView<'a> {
    /// The function (`read`, `write`, ...).
    pub f: &'a str,
    /// The invocation's value.
    pub invoke: &'a Value,
    /// The completion's value, when it completed.
    pub complete: Option<&'a Value>,
    /// How it ended (`Ok` or `Info`: failed ops never reach a model).
    pub outcome: Outcome,
}

impl<'a> OpView<'a> {
    /// Knossos's value of an op: the `ok` completion's value replaces the
    /// invocation's; a crashed op keeps its invocation's.
    pub fn value(&self) -> &'a Value {
        match (self.outcome, self.complete) {
            (Outcome::Ok, Some(v)) => v,
            _ => self.invoke,
        }
    }

    /// True when the op crashed: it may have happened, or not.
    pub fn crashed(&self) -> bool {
        self.outcome == Outcome::Info
    }

    /// The same op with both values replaced (the independent-keys wrapper
    /// hands its inner model the `v` of `[k, v]`).
    pub fn with_values(&self, invoke: &'a Value, complete: Option<&'a Value>) -> OpView<'a> {
        OpView {
            invoke,
            complete,
            ..*self
        }
    }
}

/// Values interned to dense integers while ops are prepared, so states are
/// small and compare in one instruction. `null` is always id 0.
#[derive(Debug)]
pub struct Interner {
    inner: std::sync::Mutex<InternTable>,
}

#[derive(Debug, Default)]
struct InternTable {
    ids: HashMap<String, u32>,
    values: Vec<Value>,
}

/// The interned id of `null`.
pub const NIL: u32 = 0;

impl Default for Interner {
    fn default() -> Self {
        let mut table = InternTable::default();
        table.ids.insert("null".into(), NIL);
        table.values.push(Value::Null);
        Interner {
            inner: std::sync::Mutex::new(table),
        }
    }
}

impl Interner {
    fn table(&self) -> std::sync::MutexGuard<'_, InternTable> {
        // A panic elsewhere cannot leave the table half-written: each
        // insertion is two pushes done together.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The id of `v`, assigning the next one if `v` is new.
    pub fn id(&self, v: &Value) -> u32 {
        let text = v.to_string();
        let mut t = self.table();
        if let Some(&id) = t.ids.get(&text) {
            return id;
        }
        let id = t.values.len() as u32;
        t.ids.insert(text, id);
        t.values.push(v.clone());
        id
    }

    /// How many distinct values have ids.
    pub fn len(&self) -> usize {
        self.table().values.len()
    }

    /// Always false: `null` is interned from the start.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The value with id `id`, rendered compactly (`?` if unknown).
    pub fn show(&self, id: u32) -> String {
        match self.table().values.get(id as usize) {
            Some(Value::String(s)) => s.clone(),
            Some(v) => v.to_string(),
            None => "?".into(),
        }
    }
}

/// A short description of a JSON value for error messages.
pub(crate) fn shape(v: &Value) -> String {
    let text = v.to_string();
    if text.chars().count() > 60 {
        let short: String = text.chars().take(57).collect();
        format!("{short}...")
    } else {
        text
    }
}

/// The `[a, b]` pair in `v`, or an error naming what `what` needed.
pub(crate) fn pair<'a>(v: &'a Value, what: &str) -> Result<(&'a Value, &'a Value), String> {
    match v.as_array().map(Vec::as_slice) {
        Some([a, b]) => Ok((a, b)),
        _ => Err(format!("{what} needs a [a, b] pair, got {}", shape(v))),
    }
}

/// The error for an `f` a model does not know.
pub(crate) fn unknown_f(model: &str, f: &str, known: &str) -> String {
    format!("model {model} has no operation {f:?} (it knows {known})")
}

#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    /// An ok op with the given invoke and completion values.
    pub fn ok<'a>(f: &'a str, invoke: &'a Value, complete: &'a Value) -> OpView<'a> {
        OpView {
            f,
            invoke,
            complete: Some(complete),
            outcome: Outcome::Ok,
        }
    }

    /// A crashed op.
    pub fn info<'a>(f: &'a str, invoke: &'a Value) -> OpView<'a> {
        OpView {
            f,
            invoke,
            complete: None,
            outcome: Outcome::Info,
        }
    }

    /// Runs `ops` in order from the initial state; `None` if one is illegal.
    /// Like the checker, prepares every op before asking for `init`.
    pub fn run<M: Model>(m: &M, ops: &[OpView<'_>]) -> Option<M::State> {
        let inputs: Vec<M::Input> = ops.iter().filter_map(|op| m.prepare(op).unwrap()).collect();
        let mut s = m.init();
        for input in &inputs {
            s = m.step(&s, input)?;
        }
        Some(s)
    }
}
