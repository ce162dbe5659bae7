//! Explanations as data: every anomaly the checker reports, with the
//! transactions involved and, for cycles, each edge's evidence; and the
//! one wording of them in sentences (Elle's explainers in `elle.txn` and
//! `elle.list-append`), which both the terminal (`render`) and the HTML
//! report use, so an anomaly reads the same everywhere.

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

/// What an anomaly type means, in a line (Adya; Elle's docs). The
/// `-process` and `-realtime` variants mean the same with process or
/// real-time order among the edges.
pub fn meaning(kind: &str) -> &'static str {
    let base = kind
        .trim_end_matches("-process")
        .trim_end_matches("-realtime");
    match base {
        "G0" => "write cycle: transactions overwrote each other in a circle",
        "G1a" => "aborted read: a transaction saw a write of one that failed",
        "G1b" => "intermediate read: a transaction saw a write that was later overwritten by the same transaction",
        "G1c" => "circular information flow: transactions saw each other's writes in a circle",
        "G-single" => "read skew: a cycle with exactly one anti-dependency (a read that missed a later write)",
        "G-nonadjacent" => "a cycle with several anti-dependencies, no two in a row",
        "G2-item" => "write skew: a cycle with two or more anti-dependencies",
        "internal" => "a transaction's read disagrees with its own earlier writes",
        "duplicate-elements" => "a read holds the same appended element twice",
        "incompatible-order" => "two reads of a key that no single order of appends explains",
        "lost-update" => "committed transactions read the same version and all wrote over it",
        "garbage-read" => "a read saw a value no transaction wrote",
        "cyclic-versions" => "the inferred version order of a key is cyclic",
        _ => "an anomaly the checked models forbid",
    }
}

/// A value as the sentences show it: strings bare, the rest as JSON.
fn show(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        v => v.to_string(),
    }
}

impl TxnRef {
    /// Its short name: `T12` is the op at history index 12.
    pub fn name(&self) -> String {
        format!("T{}", self.index)
    }
}

impl Step {
    /// Why `from` precedes `to`, in one sentence.
    pub fn sentence(&self) -> String {
        let (a, b) = (self.from.name(), self.to.name());
        let Some(e) = &self.evidence else {
            return format!("{a} < {b} ({}).", self.rel);
        };
        let c = show;
        match e {
            Evidence::Ww { key, value, next } => format!(
                "{a} < {b} (ww): {a} wrote {} to key {}, and {b} wrote {} right after it in that key's version order.",
                c(value), c(key), c(next)
            ),
            Evidence::Wr { key, value, read } => format!(
                "{a} < {b} (wr): {b} read key {} = {}, whose latest version is {a}'s write of {}.",
                c(key), c(read), c(value)
            ),
            Evidence::Rw { key, read, value } => format!(
                "{a} < {b} (rw): {a} read key {} = {}, which misses {b}'s write of {}, the next version after it.",
                c(key), c(read), c(value)
            ),
            Evidence::Process { process } => {
                format!("{a} < {b} (process): process {process} ran {a}, then {b}.")
            }
            Evidence::Realtime { completed, invoked } => format!(
                "{a} < {b} (realtime): {a} completed (index {completed}) before {b} was invoked (index {invoked})."
            ),
        }
    }
}

impl Anomaly {
    /// The anomaly in sentences: for a cycle, one per edge and a last one
    /// closing the circle; otherwise one.
    pub fn sentences(&self) -> Vec<String> {
        let c = show;
        let one = match self {
            Anomaly::Cycle { steps } => {
                let mut words: Vec<String> = steps.iter().map(Step::sentence).collect();
                let mut chain: Vec<String> = steps.iter().map(|s| s.from.name()).collect();
                if let Some(first) = steps.first() {
                    chain.push(first.from.name());
                }
                words.push(format!(
                    "So {}: each must come before the next, and the last before the first, which no serial order allows.",
                    chain.join(" < ")
                ));
                return words;
            }
            Anomaly::DirtyRead {
                reader,
                writer,
                key,
                value,
                read,
            } => format!(
                "{} read key {} = {}, which holds {} written by {} ({}).",
                reader.name(),
                c(key),
                c(read),
                c(value),
                writer.name(),
                writer.outcome_str()
            ),
            Anomaly::GarbageRead {
                reader,
                key,
                value,
                read,
            } => format!(
                "{} read key {} = {}, but no transaction wrote {}.",
                reader.name(),
                c(key),
                c(read),
                c(value)
            ),
            Anomaly::Internal {
                txn,
                mop,
                expected,
                read,
            } => format!(
                "{} read {} at micro-op {}, but its own earlier micro-ops imply {}.",
                txn.name(),
                c(read),
                mop + 1,
                c(expected)
            ),
            Anomaly::DuplicateElements {
                reader,
                key,
                value,
                read,
            } => format!(
                "{} read key {} = {}, which holds {} more than once.",
                reader.name(),
                c(key),
                c(read),
                c(value)
            ),
            Anomaly::IncompatibleOrder {
                key,
                first,
                first_read,
                second,
                second_read,
            } => format!(
                "{} read key {} = {} and {} read it = {}: neither is a prefix of the other.",
                first.name(),
                c(key),
                c(first_read),
                second.name(),
                c(second_read)
            ),
            Anomaly::LostUpdate { key, read, txns } => format!(
                "{} all read key {} = {} and all wrote it: all but one update was lost.",
                txns.iter().map(TxnRef::name).collect::<Vec<_>>().join(", "),
                c(key),
                c(read)
            ),
            Anomaly::CyclicVersions { key, values } => format!(
                "The versions of key {} are ordered in a cycle: {}.",
                c(key),
                values.iter().map(c).collect::<Vec<_>>().join(" < ")
            ),
        };
        vec![one]
    }

    /// The transactions it involves, each once, in the order the
    /// sentences name them.
    pub fn txns(&self) -> Vec<&TxnRef> {
        let all: Vec<&TxnRef> = match self {
            Anomaly::Cycle { steps } => steps.iter().map(|s| &s.from).collect(),
            Anomaly::DirtyRead { reader, writer, .. } => vec![reader, writer],
            Anomaly::GarbageRead { reader, .. } | Anomaly::DuplicateElements { reader, .. } => {
                vec![reader]
            }
            Anomaly::Internal { txn, .. } => vec![txn],
            Anomaly::IncompatibleOrder { first, second, .. } => vec![first, second],
            Anomaly::LostUpdate { txns, .. } => txns.iter().collect(),
            Anomaly::CyclicVersions { .. } => Vec::new(),
        };
        let mut out: Vec<&TxnRef> = Vec::new();
        for t in all {
            if !out.contains(&t) {
                out.push(t);
            }
        }
        out
    }

    /// A plain-text rendering: the transactions involved, one a line
    /// (`T12` is the op at history index 12), then the sentences.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for t in self.txns() {
            let _ = writeln!(out, "  {} = {t}", t.name());
        }
        for s in self.sentences() {
            let _ = writeln!(out, "  {s}");
        }
        out
    }
}
