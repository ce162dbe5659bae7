//! Explanations as data: every anomaly the checker reports, with the
//! transactions involved and, for cycles, each edge's evidence; plus a
//! plain-text rendering. The report renders the same structs (Elle's
//! explainers in `elle.txn` and `elle.list-append`).

use super::graph::Rel;
use super::txn::Txns;
use crate::history::{History, Outcome};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt::{self, Write};

/// A transaction, as an anomaly names it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TxnRef {
    /// The history index of the op holding its micro-ops (the completion
    /// for ok txns, else the invocation).
    pub index: u64,
    /// The source line of that op, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// Its process.
    pub process: u64,
    /// How it ended.
    pub outcome: Outcome,
    /// Its micro-ops as recorded.
    pub value: Value,
}

impl TxnRef {
    /// A reference to txn `i`.
    pub fn new(history: &History, t: &Txns, i: usize) -> TxnRef {
        let txn = &t.txns[i];
        let pos = txn.value_pos();
        TxnRef {
            index: history.ops[pos].index,
            line: history.line_of(pos),
            process: txn.process,
            outcome: txn.outcome,
            // Read through `check_file`, the history keeps no values.
            value: match &history.ops[pos].value {
                Value::Null => t.txn_json(i),
                v => v.clone(),
            },
        }
    }
}

impl fmt::Display for TxnRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "txn #{} (process {}, {}",
            self.index,
            self.process,
            self.outcome_str()
        )?;
        if let Some(l) = self.line {
            write!(f, ", line {l}")?;
        }
        write!(f, ") {}", self.value)
    }
}

impl TxnRef {
    fn outcome_str(&self) -> &'static str {
        match self.outcome {
            Outcome::Ok => "ok",
            Outcome::Fail => "fail",
            Outcome::Info => "info",
        }
    }
}

/// Why one transaction precedes another.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Evidence {
    /// `from` wrote `value` to `key` and `to` wrote `next`, right after it
    /// in the key's version order.
    Ww {
        key: Value,
        value: Value,
        next: Value,
    },
    /// `to` read `read` from `key`, which is (or ends with) `from`'s `value`.
    Wr {
        key: Value,
        value: Value,
        read: Value,
    },
    /// `from` read `read` from `key`, and `to` wrote `value`, the next
    /// version after that read.
    Rw {
        key: Value,
        read: Value,
        value: Value,
    },
    /// The same process ran both, one after the other.
    Process { process: u64 },
    /// `from` completed (history index) before `to` was invoked.
    Realtime { completed: u64, invoked: u64 },
}

/// One edge of a cycle.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// The earlier transaction.
    pub from: TxnRef,
    /// The later transaction.
    pub to: TxnRef,
    /// The relation that orders them.
    pub rel: Rel,
    /// Why (absent only if the inference kept no witness for the edge).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Evidence>,
}

/// One anomaly, with everything needed to see it in the history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Anomaly {
    /// A dependency cycle: `steps[i].to == steps[i+1].from`, and the last
    /// step returns to the first transaction.
    Cycle { steps: Vec<Step> },
    /// `reader` saw `value` in `key`, written by `writer`: an aborted txn
    /// (G1a), or one that wrote more to the key afterwards (G1b).
    DirtyRead {
        reader: TxnRef,
        writer: TxnRef,
        key: Value,
        value: Value,
        read: Value,
    },
    /// `reader` saw `value` in `key`, which no transaction wrote.
    GarbageRead {
        reader: TxnRef,
        key: Value,
        value: Value,
        read: Value,
    },
    /// A txn's read disagrees with its own earlier micro-ops.
    Internal {
        txn: TxnRef,
        mop: usize,
        expected: Value,
        read: Value,
    },
    /// `read` of `key` holds `value` more than once.
    DuplicateElements {
        reader: TxnRef,
        key: Value,
        value: Value,
        read: Value,
    },
    /// Two reads of `key` that no single version order explains.
    IncompatibleOrder {
        key: Value,
        first: TxnRef,
        first_read: Value,
        second: TxnRef,
        second_read: Value,
    },
    /// Several committed txns read the same version of `key` and all wrote it.
    LostUpdate {
        key: Value,
        read: Value,
        txns: Vec<TxnRef>,
    },
    /// rw-register: the inferred version order of `key` is cyclic.
    CyclicVersions { key: Value, values: Vec<Value> },
}

/// Why a verdict could not be reached for part of the graph.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Unknown {
    /// A short reason: `cycle-search-timeout`.
    pub reason: String,
    /// The anomaly types that were still to be searched.
    pub anomaly_types: Vec<String>,
    /// How many transactions the component held.
    pub scc_size: usize,
}

fn step_text(s: &Step) -> String {
    let (a, b) = (s.from.index, s.to.index);
    let Some(evidence) = &s.evidence else {
        return format!("T{a} < T{b} ({})", s.rel);
    };
    match evidence {
        Evidence::Ww { key, value, next } => format!(
            "T{a} < T{b} (ww): T{a} wrote {value} to key {key} and T{b} wrote {next} after it in key {key}'s version order"
        ),
        Evidence::Wr { key, value, read } => format!(
            "T{a} < T{b} (wr): T{b} read key {key} = {read}, which holds T{a}'s write of {value} as the latest version"
        ),
        Evidence::Rw { key, read, value } => format!(
            "T{a} < T{b} (rw): T{a} read key {key} = {read} without T{b}'s write of {value}, and {value} comes after that state in key {key}'s version order"
        ),
        Evidence::Process { process } => {
            format!("T{a} < T{b} (process): process {process} ran T{a}, then T{b}")
        }
        Evidence::Realtime { completed, invoked } => format!(
            "T{a} < T{b} (realtime): T{a} completed (index {completed}) before T{b} was invoked (index {invoked})"
        ),
    }
}

impl Anomaly {
    /// A plain-text rendering, one fact a line; transactions are named by
    /// their history index (`T12` is the op at index 12).
    pub fn render(&self) -> String {
        let mut out = String::new();
        match self {
            Anomaly::Cycle { steps } => {
                for s in steps {
                    let _ = writeln!(out, "  T{} = {}", s.from.index, s.from);
                }
                for s in steps {
                    let _ = writeln!(out, "  {}", step_text(s));
                }
                if let Some(first) = steps.first() {
                    let _ = writeln!(
                        out,
                        "  so T{} < T{}: a cycle",
                        first.from.index, first.from.index
                    );
                }
            }
            Anomaly::DirtyRead {
                reader,
                writer,
                key,
                value,
                read,
            } => {
                let _ = writeln!(
                    out,
                    "  {reader} read key {key} = {read}, including {value} written by {writer}"
                );
            }
            Anomaly::GarbageRead {
                reader,
                key,
                value,
                read,
            } => {
                let _ = writeln!(
                    out,
                    "  {reader} read key {key} = {read}; no txn wrote {value}"
                );
            }
            Anomaly::Internal {
                txn,
                mop,
                expected,
                read,
            } => {
                let _ = writeln!(
                    out,
                    "  {txn}: micro-op {} read {read}, but its own earlier micro-ops imply {expected}",
                    mop + 1
                );
            }
            Anomaly::DuplicateElements {
                reader,
                key,
                value,
                read,
            } => {
                let _ = writeln!(
                    out,
                    "  {reader} read key {key} = {read}, which holds {value} more than once"
                );
            }
            Anomaly::IncompatibleOrder {
                key,
                first,
                first_read,
                second,
                second_read,
            } => {
                let _ = writeln!(
                    out,
                    "  key {key}: {first} read {first_read} and {second} read {second_read}; neither is a prefix of the other"
                );
            }
            Anomaly::LostUpdate { key, read, txns } => {
                let _ = writeln!(
                    out,
                    "  key {key}: these txns all read {read} and all wrote the key:"
                );
                for t in txns {
                    let _ = writeln!(out, "    {t}");
                }
            }
            Anomaly::CyclicVersions { key, values } => {
                let vs: Vec<String> = values.iter().map(Value::to_string).collect();
                let _ = writeln!(
                    out,
                    "  key {key}: versions ordered in a cycle: {}",
                    vs.join(" < ")
                );
            }
        }
        out
    }
}
