//! Register operations as single-op transactions: `read`, `write v` and
//! `cas [old new]` (optionally Jepsen independent `[k v]` tuples) parsed
//! into integer ids, with the checks that decide whether the graph
//! inference applies (unique written values) and which crashed ops must
//! have happened (their value was observed).

use super::GraphLinearOptions;
use crate::elle::txn::FxMap;
use crate::history::{History, HistoryError, HistoryErrorKind, Outcome, Process};
use serde_json::Value;
use std::collections::HashMap;

/// What a register op does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The virtual op that wrote the initial value before everything.
    Init,
    /// `read` returning `pre`.
    Read,
    /// `write post`.
    Write,
    /// `cas [pre post]`.
    Cas,
}

/// One op that took effect (or, crashed, must have), values interned.
#[derive(Clone, Copy, Debug)]
pub struct ROp {
    /// What it does.
    pub kind: Kind,
    /// Key id (0 when not independent).
    pub key: u32,
    /// The value it needs before it (reads, cas), interned.
    pub pre: Option<u32>,
    /// The value it leaves (reads: what they read).
    pub post: u32,
    /// History position of its invocation.
    pub invoke: usize,
    /// History position of its `ok` completion; `None` for crashed ops.
    pub complete: Option<usize>,
}

/// The parsed history, or why the inference does not apply.
pub enum Parsed {
    /// The ops that took effect, by key, and the interning tables.
    Ops {
        /// Per key id, its ops.
        by_key: Vec<Vec<ROp>>,
        /// Key ids back to JSON.
        keys: Vec<Value>,
        /// Value ids back to JSON.
        values: Vec<Value>,
        /// The initial value's id.
        initial: u32,
    },
    /// The inference does not apply, and why.
    Unknown(String),
}

#[derive(Default)]
struct Interner {
    ids: HashMap<String, u32>,
    back: Vec<Value>,
}

impl Interner {
    fn id(&mut self, v: &Value) -> u32 {
        let next = self.back.len() as u32;
        let id = *self.ids.entry(v.to_string()).or_insert(next);
        if id == next {
            self.back.push(v.clone());
        }
        id
    }
}

/// A candidate op before we know whether a crashed one happened.
struct Cand {
    op: ROp,
    ok: bool,
}

/// Parses `history`'s client ops. Malformed values are errors with file
/// and line; ops outside the register vocabulary make the answer unknown.
pub fn parse(history: &History, opts: &GraphLinearOptions) -> Result<Parsed, HistoryError> {
    let (mut keys, mut values) = (Interner::default(), Interner::default());
    let initial = values.id(&opts.initial);
    let mut cands = Vec::new();
    for o in history.operations()? {
        let Process::Client(_) = history.ops[o.invoke].process else {
            continue;
        };
        if o.outcome == Outcome::Fail {
            continue;
        }
        let ok = o.outcome == Outcome::Ok;
        let pos = if ok {
            o.complete.unwrap_or(o.invoke)
        } else {
            o.invoke
        };
        let op = &history.ops[pos];
        let bad = |msg: String| history.error_at(pos, HistoryErrorKind::BadValue(msg));
        let (key, value) = split_key(&op.value, opts.independent).map_err(bad)?;
        let key = keys.id(key);
        let complete = if ok { o.complete } else { None };
        let shape = |pre, post| ROp {
            kind: Kind::Init,
            key,
            pre,
            post,
            invoke: o.invoke,
            complete,
        };
        let rop = match op.f.trim_start_matches(':') {
            "read" if !ok => continue,
            "read" => {
                let v = values.id(value);
                ROp {
                    kind: Kind::Read,
                    ..shape(Some(v), v)
                }
            }
            "write" => ROp {
                kind: Kind::Write,
                ..shape(None, values.id(value))
            },
            "cas" => {
                let (a, b) = cas_pair(value).map_err(bad)?;
                ROp {
                    kind: Kind::Cas,
                    ..shape(Some(values.id(a)), values.id(b))
                }
            }
            other => {
                return Ok(Parsed::Unknown(format!(
                    "op {other:?} is not read, write or cas"
                )))
            }
        };
        cands.push(Cand { op: rop, ok });
    }
    let nkeys = keys.back.len();
    if let Some(why) = duplicate_write(&cands, initial, &keys.back, &values.back) {
        return Ok(Parsed::Unknown(why));
    }
    let by_key = effective(cands, nkeys);
    Ok(Parsed::Ops {
        by_key,
        keys: keys.back,
        values: values.back,
        initial,
    })
}

fn split_key(v: &Value, independent: bool) -> Result<(&Value, &Value), String> {
    if !independent {
        return Ok((&Value::Null, v));
    }
    match v {
        Value::Array(kv) if kv.len() == 2 => Ok((&kv[0], &kv[1])),
        other => Err(format!(
            "value {other} is not an independent [key value] tuple"
        )),
    }
}

fn cas_pair(v: &Value) -> Result<(&Value, &Value), String> {
    match v {
        Value::Array(p) if p.len() == 2 => Ok((&p[0], &p[1])),
        other => Err(format!("cas value {other} is not [old new]")),
    }
}

/// The first value written twice (or writing the initial value), which
/// makes a read ambiguous.
fn duplicate_write(
    cands: &[Cand],
    initial: u32,
    keys: &[Value],
    values: &[Value],
) -> Option<String> {
    let mut seen: FxMap<(u32, u32), ()> = FxMap::default();
    for c in cands.iter().filter(|c| c.op.kind != Kind::Read) {
        let fresh = c.op.post != initial && seen.insert((c.op.key, c.op.post), ()).is_none();
        if !fresh {
            return Some(format!(
                "value {} is written more than once to key {} (counting the initial value): the graph inference needs unique writes",
                values[c.op.post as usize], keys[c.op.key as usize]
            ));
        }
    }
    None
}

/// The ops that took effect, by key: every `ok` op, and every crashed
/// write or cas whose value some op that took effect observed (a crashed
/// op nobody observed can be left out: placing it never changes a read).
fn effective(cands: Vec<Cand>, nkeys: usize) -> Vec<Vec<ROp>> {
    let mut crashed: FxMap<(u32, u32), usize> = FxMap::default();
    for (i, c) in cands.iter().enumerate().filter(|(_, c)| !c.ok) {
        crashed.insert((c.op.key, c.op.post), i);
    }
    let mut keep: Vec<bool> = cands.iter().map(|c| c.ok).collect();
    let mut todo: Vec<usize> = (0..cands.len()).filter(|&i| keep[i]).collect();
    while let Some(i) = todo.pop() {
        let Some(pre) = cands[i].op.pre else { continue };
        if let Some(&j) = crashed.get(&(cands[i].op.key, pre)) {
            if !keep[j] {
                keep[j] = true;
                todo.push(j);
            }
        }
    }
    let mut by_key = vec![Vec::new(); nkeys];
    for (c, _) in cands.into_iter().zip(keep).filter(|(_, k)| *k) {
        by_key[c.op.key as usize].push(c.op);
    }
    by_key
}
