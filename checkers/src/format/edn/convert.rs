//! From a parsed EDN op map (as JSON) to an [`Op`]: Jepsen's keys, the
//! independent-key convention for `:key`, and the defaults that let
//! minimal histories (Elle's `paper-example.edn`) pair.

use crate::history::{History, Op, OpType, Process};
use serde_json::Value;
use std::collections::VecDeque;

/// An op read from a map, and whether the map named its process.
pub(crate) struct Converted {
    pub op: Op,
    pub has_process: bool,
    /// The map named its `:index` (else it is the op's position).
    pub has_index: bool,
    /// The map had `:key`: its value is `[key, value]`.
    pub keyed: bool,
}

/// The entries of an op map that an op is made of; others are ignored.
#[derive(Default)]
pub(crate) struct Fields {
    kind: Option<Type>,
    process: Option<Value>,
    value: Option<Value>,
    f: Option<Value>,
    key: Option<Value>,
    index: Option<Value>,
    time: Option<Value>,
    node: Option<Value>,
    error: Option<Value>,
    is_final: Option<Value>,
}

/// An op map's `:type`.
enum Type {
    /// A keyword naming an op type, parsed as it was read (no string
    /// built).
    Parsed(OpType),
    /// Anything else, as read.
    Read(Value),
}

impl Fields {
    /// Records `:type` as the op type `t`, read from a keyword.
    pub(crate) fn set_type(&mut self, t: OpType) {
        self.kind = Some(Type::Parsed(t));
    }

    /// Records entry `key` (a keyword's name, or a key's text); the last
    /// of duplicate keys wins, as in a map.
    pub(crate) fn set(&mut self, key: &[u8], v: Value) {
        let slot = match key {
            b"type" => {
                self.kind = Some(Type::Read(v));
                return;
            }
            b"process" => &mut self.process,
            b"value" => &mut self.value,
            b"f" => &mut self.f,
            b"key" => &mut self.key,
            b"index" => &mut self.index,
            b"time" => &mut self.time,
            b"node" => &mut self.node,
            b"error" => &mut self.error,
            b"final?" => &mut self.is_final,
            _ => return,
        };
        *slot = Some(v);
    }
}

/// Converts one op map (see [`op_from_fields`]).
pub(super) fn op_from_value(
    v: Value,
    position: usize,
    porcupine: bool,
) -> Result<Converted, String> {
    let Value::Object(m) = v else {
        return Err(format!("expected an op map, found {}", describe(&v)));
    };
    let mut fields = Fields::default();
    for (k, v) in m {
        fields.set(k.as_bytes(), v);
    }
    op_from_fields(&mut fields, position, porcupine)
}

/// Converts one op map's entries, taking them out of `fields` (which is
/// left empty, whatever the outcome, to be reused). `position` is the op's
/// place in the history (the default `:index`); `porcupine` demands `:key`
/// on client ops.
pub(super) fn op_from_fields(
    fields: &mut Fields,
    position: usize,
    porcupine: bool,
) -> Result<Converted, String> {
    let m = &mut std::mem::take(fields);
    let kind = op_type(m.kind.take())?;
    let process = m
        .process
        .take()
        .filter(|p| !p.is_null())
        .map(process)
        .transpose()?;
    let mut value = m.value.take().unwrap_or(Value::Null);
    let f = function(m.f.take(), &value)?;
    let key = m.key.take();
    let keyed = key.is_some();
    if let Some(key) = key {
        value = Value::Array(vec![key, value]);
    } else if porcupine && process != Some(Process::Nemesis) {
        return Err("porcupine kv op has no :key".to_string());
    }
    let index = opt_u64(m.index.take(), "index")?;
    let op = Op {
        index: index.unwrap_or(position as u64),
        time: opt_u64(m.time.take(), "time")?,
        process: process.unwrap_or(Process::Client(0)),
        kind,
        f,
        value,
        node: node(m.node.take())?,
        error: m.error.take().filter(|e| !e.is_null()),
        is_final: final_mark(m.is_final.take())?,
    };
    Ok(Converted {
        op,
        has_process: process.is_some(),
        has_index: index.is_some(),
        keyed,
    })
}

fn describe(v: &Value) -> String {
    let text = v.to_string();
    match text.char_indices().nth(40) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text,
    }
}

fn op_type(v: Option<Type>) -> Result<OpType, String> {
    let v = match v {
        Some(Type::Parsed(t)) => return Ok(t),
        Some(Type::Read(v)) => Some(v),
        None => None,
    };
    match v {
        Some(Value::String(s)) => OpType::parse(&s)
            .ok_or_else(|| format!("unknown op type {s:?} (expected invoke, ok, fail or info)")),
        Some(other) => Err(format!(
            ":type must be a keyword, found {}",
            describe(&other)
        )),
        None => Err("op has no :type".to_string()),
    }
}

fn process(v: Value) -> Result<Process, String> {
    if let Some(p) = v.as_u64() {
        return Ok(Process::Client(p));
    }
    match v.as_str() {
        Some("nemesis") => Ok(Process::Nemesis),
        _ => Err(format!(
            ":process must be a non-negative integer or :nemesis, found {}",
            describe(&v)
        )),
    }
}

/// `:f`; Elle's minimal histories leave it out of transactions, which are
/// the ones whose value is a vector of micro-ops: those default to `txn`.
fn function(v: Option<Value>, value: &Value) -> Result<String, String> {
    match v {
        Some(Value::String(s)) => Ok(s),
        None | Some(Value::Null) if value.is_array() => Ok("txn".to_string()),
        None | Some(Value::Null) => Err("op has no :f".to_string()),
        Some(other) => Err(format!(
            ":f must be a keyword or string, found {}",
            describe(&other)
        )),
    }
}

fn opt_u64(v: Option<Value>, key: &str) -> Result<Option<u64>, String> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v.as_u64().map(Some).ok_or_else(|| {
            format!(
                ":{key} must be a non-negative integer, found {}",
                describe(&v)
            )
        }),
    }
}

fn node(v: Option<Value>) -> Result<Option<String>, String> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(format!(
            ":node must be a string, found {}",
            describe(&other)
        )),
    }
}

/// Jepsen's `:final? true` on the ops of a test's final phase.
fn final_mark(v: Option<Value>) -> Result<bool, String> {
    match v {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(b),
        Some(other) => Err(format!(
            ":final? must be true or false, found {}",
            describe(&other)
        )),
    }
}

/// Process ids for ops whose map had no `:process`.
///
/// Each such invocation gets a fresh id above every explicit client id in
/// the file; each such completion takes the id of the oldest such
/// invocation still open (first in, first out). A completion with none
/// open gets a fresh id, so pairing reports it as unpaired.
#[derive(Default)]
pub(crate) struct ProcessDefaults {
    missing: Vec<usize>,
    max_explicit: Option<u64>,
}

impl ProcessDefaults {
    /// Notes the op about to be pushed at `position`.
    pub(super) fn note(&mut self, position: usize, c: &Converted) {
        match (c.has_process, c.op.process) {
            (false, _) => self.missing.push(position),
            (true, Process::Client(p)) => self.max_explicit = self.max_explicit.max(Some(p)),
            (true, Process::Nemesis) => {}
        }
    }

    /// Assigns the ids once the whole history is read.
    pub(crate) fn apply(self, h: &mut History) {
        let mut next = self.max_explicit.map_or(0, |m| m.saturating_add(1));
        let mut open: VecDeque<u64> = VecDeque::new();
        let mut fresh = || {
            next = next.saturating_add(1);
            next - 1
        };
        for i in self.missing {
            let op = &mut h.ops[i];
            let id = if op.kind == OpType::Invoke {
                let id = fresh();
                open.push_back(id);
                id
            } else {
                open.pop_front().unwrap_or_else(&mut fresh)
            };
            op.process = Process::Client(id);
        }
    }
}
