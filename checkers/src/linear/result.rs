//! A check's answer as serde data: the verdict, and for each partition why
//! (Knossos's `:op`, `:previous-ok`, `:final-paths`; Porcupine's
//! `LinearizationInfo`). The report renders it; [`super::render`] prints it
//! for a terminal.

use super::limits::Stop;
use super::model::Model;
use super::prepare::Prepared;
use crate::history::{History, OpType, Operation, Outcome, Process};
use crate::Verdict;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The answer for a whole history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LinearResult {
    /// Valid, invalid, or unknown (some partition ran out of time or memory
    /// and none was invalid).
    pub verdict: Verdict,
    /// Client operations the model judged (failed ops and ops that constrain
    /// nothing are not counted).
    pub ops: usize,
    /// One result per partition (key), in order of first appearance.
    pub partitions: Vec<PartitionResult>,
    /// Wall-clock time of the check, milliseconds.
    pub elapsed_ms: f64,
}

/// The answer for one partition.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PartitionResult {
    /// The key, when the model splits the history.
    pub key: Option<String>,
    /// This partition's verdict.
    pub verdict: Verdict,
    /// Its operations.
    pub ops: usize,
    /// Configurations the search cached (0 when it was not searched).
    pub explored: usize,
    /// What decided it (absent in results written before it existed).
    #[serde(default)]
    pub method: Method,
    /// Why the verdict is unknown, when it is.
    pub unknown: Option<Stop>,
    /// Why the verdict is invalid, when it is.
    pub failure: Option<Failure>,
}

/// What decided a partition.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// The Wing-Gong-Lowe search.
    #[default]
    Search,
    /// Gibbons and Korach's zones: a register whose written values are
    /// distinct, decided in O(n log n).
    Zones,
    /// Elle's dependency graph, which answered before the search did.
    Graph,
}

/// Why a partition is not linearizable.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    /// The op that could not be linearized: the completion no order of the
    /// ops before it could explain (Knossos's failing op).
    pub op: OpRef,
    /// The longest linearizable sequences that reached it, with the state
    /// each leaves the model in.
    pub prefixes: Vec<Prefix>,
    /// The failing op with the smallest context that makes it impossible
    /// (see [`Counterexample`]).
    pub counterexample: Option<Counterexample>,
    /// When Elle's dependency graph decided it: the cycle of orders every
    /// linearization would have to break, one `earlier < later (relation)`
    /// line per edge (absent in results written before it existed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cycle: Vec<String>,
}

/// One operation of the history, named for people and tools.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OpRef {
    /// The `index` of its completion (of its invocation if it crashed
    /// without one).
    pub index: u64,
    /// The `index` of its invocation.
    pub invoke_index: u64,
    /// The source line of that completion (or invocation), when known.
    pub line: Option<u32>,
    /// Its process.
    pub process: Process,
    /// Its function.
    pub f: String,
    /// Its value (Knossos's: the `ok` completion's value replaces the
    /// invocation's).
    pub value: Value,
    /// How it ended.
    pub outcome: Outcome,
    /// The model's description (`read 2`, `cas 1->2`).
    pub describe: String,
}

/// A linearizable sequence of ops and the state it reaches.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Prefix {
    /// The ops, in linearization order.
    pub ops: Vec<Step>,
    /// The model's state after them.
    pub state: String,
}

/// One op of a [`Prefix`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// Its invocation's `index`.
    pub index: u64,
    /// Its process.
    pub process: Process,
    /// The model's description of it.
    pub describe: String,
}

/// A small sub-history, from the model's initial state, that explains the
/// failure: it holds the failing op, it is not linearizable, and without
/// the failing op it is (delta debugging, Zeller & Hildebrandt 2002, over
/// the partition's other ops; the rules are in `shrink`'s module doc).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Counterexample {
    /// True when no single context op can be removed with the failure
    /// still attributable to the failing op (1-minimal); false when the
    /// shrinking ran out of time first.
    pub minimal: bool,
    /// Its ops.
    pub ops: Vec<OpRef>,
    /// Its invocations and completions, in history order.
    pub events: Vec<Event>,
}

impl Counterexample {
    /// The counterexample as a history of its own (indices renumbered), to
    /// check it again or to hand to another tool.
    pub fn history(&self) -> History {
        history_of(self.events.iter())
    }

    /// The same without `op` (the failing op): by the rules it was shrunk
    /// under, linearizable.
    pub fn history_without(&self, op: &OpRef) -> History {
        history_of(
            self.events
                .iter()
                .filter(|e| e.index != op.index && e.index != op.invoke_index),
        )
    }
}

fn history_of<'a>(events: impl Iterator<Item = &'a Event>) -> History {
    let ops = events.map(|e| crate::history::Op {
        process: e.process,
        ..crate::history::Op::new(0, e.kind, e.f.clone(), e.value.clone())
    });
    History::from_ops("counterexample", ops)
}

/// One record of a counterexample, as it appears in the history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Its `index`.
    pub index: u64,
    /// Its source line, when known.
    pub line: Option<u32>,
    /// Its process.
    pub process: Process,
    /// invoke, ok or info.
    #[serde(rename = "type")]
    pub kind: OpType,
    /// Its function.
    pub f: String,
    /// Its value.
    pub value: Value,
}

/// What results are built from: the history and its paired operations.
pub(crate) struct Source<'a> {
    pub history: &'a History,
    pub operations: &'a [Operation],
    /// When shrinking counterexamples must stop, all partitions together.
    pub shrink_until: std::time::Instant,
}

impl Source<'_> {
    /// Names op `p` for people.
    pub fn op_ref<M: Model>(&self, model: &M, p: &Prepared<M::Input>) -> OpRef {
        let o = self.operations[p.op];
        let inv = &self.history.ops[o.invoke];
        let at = o.complete.unwrap_or(o.invoke);
        let value = match (o.outcome, o.complete) {
            (Outcome::Ok, Some(c)) => self.history.ops[c].value.clone(),
            _ => inv.value.clone(),
        };
        OpRef {
            index: self.history.ops[at].index,
            invoke_index: inv.index,
            line: self.history.line_of(at),
            process: inv.process,
            f: inv.f.clone(),
            value,
            outcome: o.outcome,
            describe: model.describe_op(&p.input),
        }
    }

    /// The sequence `seq` (positions in `ops`) as a prefix ending in `state`.
    pub fn prefix<M: Model>(
        &self,
        model: &M,
        ops: &[Prepared<M::Input>],
        seq: &[usize],
        state: &M::State,
    ) -> Prefix {
        let steps = seq
            .iter()
            .map(|&i| Step {
                index: self.history.ops[ops[i].call].index,
                process: self.history.ops[ops[i].call].process,
                describe: model.describe_op(&ops[i].input),
            })
            .collect();
        let path: Vec<&M::Input> = seq.iter().map(|&i| &ops[i].input).collect();
        Prefix {
            ops: steps,
            state: model.describe_path(&path, state),
        }
    }

    /// The invocations and completions of `ops`, in history order.
    pub fn events<I>(&self, ops: &[Prepared<I>]) -> Vec<Event> {
        let mut at: Vec<usize> = Vec::with_capacity(ops.len() * 2);
        for p in ops {
            let o = self.operations[p.op];
            at.push(o.invoke);
            at.extend(o.complete);
        }
        at.sort_unstable();
        at.iter()
            .map(|&i| {
                let op = &self.history.ops[i];
                Event {
                    index: op.index,
                    line: self.history.line_of(i),
                    process: op.process,
                    kind: op.kind,
                    f: op.f.clone(),
                    value: op.value.clone(),
                }
            })
            .collect()
    }
}
