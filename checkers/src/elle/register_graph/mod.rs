//! Linearizability through the dependency graph: a register history whose
//! written values are unique is a history of single-op transactions, and
//! strict serializability of those (with real-time edges) is
//! linearizability (Kingsbury and Alvaro, "Elle", section 4; Elle's
//! `linearizable-keys?` version inference). Linear in the history's size
//! where Wing-Gong-Lowe search is exponential.
//!
//! Sound where it answers: `invalid` only for a cycle of edges every
//! linearization must respect (or a read of a value never written);
//! `valid` only when a topological order of the graph, built while running
//! a register, gives every op's result. Otherwise `unknown`, with the reason:
//! values written twice, ops that are not read/write/cas, or a version
//! order the history leaves open.
//!
//! The model is Knossos's cas-register with nil reads meaning "absent":
//! `read` (ok value is what was read), `write v`, `cas [old new]`
//! (`fail` when it did not apply), optionally as independent `[k v]`
//! tuples checked per key. Failed ops did not happen; crashed writes and
//! cas happened if some op that took effect observed their value, and are
//! otherwise left out (placing them never changes a read).

pub(crate) mod infer;
pub(crate) mod parse;

use crate::history::{History, HistoryError};
use crate::Verdict;
use infer::{Cause, KeyOutcome, Step, Why};
use parse::{Kind, Parsed, ROp};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What the register history looks like.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GraphLinearOptions {
    /// Values are Jepsen independent `[key value]` tuples; keys are checked apart.
    pub independent: bool,
    /// The register's initial value (`null`: nil).
    pub initial: Value,
}

/// An op in an explanation: `None` fields for the virtual initial state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LinOp {
    /// History index of the op's invocation (`None`: the initial state).
    pub index: Option<u64>,
    /// Its process.
    pub process: Option<u64>,
    /// `read`, `write`, `cas` or `initial`.
    pub f: String,
    /// The value read, written, or the cas pair.
    pub value: Value,
}

/// One edge of a cycle: `from` must precede `to` in every linearization.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LinStep {
    /// The earlier op.
    pub from: LinOp,
    /// The later op.
    pub to: LinOp,
    /// initial, realtime, wr, ww or rw.
    pub rel: String,
    /// Why, in words.
    pub because: String,
}

/// The answer of [`check_register_graph`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GraphLinearResult {
    /// valid, invalid, or unknown (the inference does not decide).
    pub verdict: Verdict,
    /// Ops that took effect (crashed ops nobody observed are left out).
    pub ops: usize,
    /// The key that is not linearizable, or that could not be decided.
    pub key: Option<Value>,
    /// For invalid: the cycle every linearization would have to break.
    pub cycle: Vec<LinStep>,
    /// For unknown, or invalid without a cycle: why, in words.
    pub reason: Option<String>,
}

impl GraphLinearResult {
    fn new(verdict: Verdict, ops: usize, reason: Option<String>) -> GraphLinearResult {
        GraphLinearResult {
            verdict,
            ops,
            key: None,
            cycle: Vec::new(),
            reason,
        }
    }
}

/// Checks a register history for linearizability through the dependency
/// graph. Malformed values (a cas that is not `[old new]`, a non-tuple
/// under `independent`) are errors with file and line; everything else is
/// a verdict, `unknown` with a reason where the inference does not apply.
pub fn check_register_graph(
    history: &History,
    opts: &GraphLinearOptions,
) -> Result<GraphLinearResult, HistoryError> {
    let (by_key, keys, values, initial) = match parse::parse(history, opts)? {
        Parsed::Unknown(why) => return Ok(GraphLinearResult::new(Verdict::Unknown, 0, Some(why))),
        Parsed::Ops {
            by_key,
            keys,
            values,
            initial,
        } => (by_key, keys, values, initial),
    };
    let ops = by_key.iter().map(Vec::len).sum();
    let mut open: Option<GraphLinearResult> = None;
    for (k, key_ops) in by_key.iter().enumerate() {
        let ex = Explainer {
            history,
            ops: key_ops,
            values: &values,
        };
        let mut r = match infer::check_key(key_ops, initial) {
            KeyOutcome::Valid => continue,
            KeyOutcome::Cycle(c) => GraphLinearResult {
                cycle: c.iter().map(|s| ex.step(s)).collect(),
                ..GraphLinearResult::new(Verdict::Invalid, ops, None)
            },
            KeyOutcome::Garbage(i) => {
                let why = format!(
                    "{} read a value no op that took effect wrote",
                    ex.op(i).describe()
                );
                GraphLinearResult::new(Verdict::Invalid, ops, Some(why))
            }
            KeyOutcome::Unknown => {
                let why = "the history leaves the version order open (concurrent blind writes) and the inferred order does not replay".to_string();
                GraphLinearResult::new(Verdict::Unknown, ops, Some(why))
            }
        };
        r.key = opts.independent.then(|| keys[k].clone());
        if r.verdict == Verdict::Invalid {
            return Ok(r);
        }
        open.get_or_insert(r);
    }
    Ok(open.unwrap_or_else(|| GraphLinearResult::new(Verdict::Valid, ops, None)))
}

/// Turns one key's node numbers back into ops and words.
struct Explainer<'a> {
    history: &'a History,
    ops: &'a [ROp],
    values: &'a [Value],
}

impl Explainer<'_> {
    /// Node `i`: 0 is the initial state, `i` the key's op `i - 1`.
    fn op(&self, i: usize) -> LinOp {
        let Some(op) = i.checked_sub(1).map(|j| self.ops[j]) else {
            return LinOp {
                index: None,
                process: None,
                f: "initial".into(),
                value: Value::Null,
            };
        };
        let v = |id: u32| self.values[id as usize].clone();
        let (f, value) = match op.kind {
            Kind::Read => ("read", v(op.post)),
            Kind::Write | Kind::Init => ("write", v(op.post)),
            Kind::Cas => (
                "cas",
                Value::Array(vec![op.pre.map_or(Value::Null, v), v(op.post)]),
            ),
        };
        let inv = &self.history.ops[op.invoke];
        let process = match inv.process {
            crate::Process::Client(p) => Some(p),
            _ => None,
        };
        LinOp {
            index: Some(inv.index),
            process,
            f: f.into(),
            value,
        }
    }

    fn step(&self, s: &Step) -> LinStep {
        let (from, to) = (self.op(s.from), self.op(s.to));
        let (rel, mut because) = match s.why {
            Why::Initial => ("initial", "the initial state precedes every op".to_string()),
            Why::Realtime => (
                "realtime",
                format!(
                    "{} completed before {} was invoked",
                    from.describe(),
                    to.describe()
                ),
            ),
            Why::Wr => (
                "wr",
                format!(
                    "{} observed the value {} wrote",
                    to.describe(),
                    from.describe()
                ),
            ),
            Why::Ww => (
                "ww",
                format!(
                    "{}'s value precedes {}'s in the version order",
                    from.describe(),
                    to.describe()
                ),
            ),
            Why::Rw => (
                "rw",
                format!(
                    "{} observed a value that {}'s write comes after",
                    from.describe(),
                    to.describe()
                ),
            ),
        };
        if let Some(c) = s.cause {
            because += &format!(", {}", self.cause(c));
        }
        LinStep {
            from,
            to,
            rel: rel.into(),
            because,
        }
    }

    /// Why two values are ordered so, in words.
    fn cause(&self, c: Cause) -> String {
        match c {
            Cause::Initial => "as the initial value precedes every write".into(),
            Cause::Cas(i) => format!("as {} replaced one with the other", self.op(i).describe()),
            Cause::Adjacent(i) => format!(
                "as {} put its new value directly after its old one",
                self.op(i).describe()
            ),
            Cause::Edge(a, b, why) => {
                let (a, b) = (self.op(a).describe(), self.op(b).describe());
                match why {
                    Why::Realtime => format!("as {a} completed before {b} was invoked"),
                    _ => format!("as {a} precedes {b}"),
                }
            }
        }
    }
}

impl LinOp {
    /// A short name: `read 3 (process 1, index 7)`, or `the initial state`.
    pub fn describe(&self) -> String {
        match (self.index, self.process) {
            (Some(i), Some(p)) => format!("{} {} (process {p}, index {i})", self.f, self.value),
            (Some(i), None) => format!("{} {} (index {i})", self.f, self.value),
            _ => "the initial state".into(),
        }
    }
}

impl GraphLinearResult {
    /// A plain-text report: verdict, key, reason, and the cycle step by step.
    pub fn render(&self) -> String {
        let mut out = format!("{} ({} ops)\n", self.verdict, self.ops);
        if let Some(k) = &self.key {
            out += &format!("key: {k}\n");
        }
        if let Some(r) = &self.reason {
            out += &format!("{r}\n");
        }
        for s in &self.cycle {
            out += &format!(
                "  {} < {} ({}): {}\n",
                s.from.describe(),
                s.to.describe(),
                s.rel,
                s.because
            );
        }
        out
    }
}
