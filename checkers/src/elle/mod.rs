//! The Elle-style transactional checker: infers isolation anomalies from
//! what transactions observed (Kingsbury and Alvaro, "Elle: Inferring
//! Isolation Anomalies from Experimental Observations"; jepsen-io/elle).
//!
//! Owns the whole pipeline for list-append and rw-register histories:
//! parsing transactions ([`txn`]), inferring version orders and ww/wr/rw
//! edges ([`list_append`], [`rw_register`]) plus process and real-time
//! edges ([`graph`]), Tarjan's strongly connected components on petgraph and
//! a per-anomaly shortest-cycle search under a time budget ([`cycle`]),
//! the consistency-model hierarchy ([`model`]), and explanations as data
//! ([`explain`]); and linearizability of register histories through the
//! same graph ([`check_register_graph`]).
//!
//! ```no_run
//! # use checkers::elle::{check, ElleOptions, Workload};
//! # let history = checkers::History::new("h");
//! let opts = ElleOptions::new(Workload::ListAppend);
//! let result = check(&history, &opts)?;
//! println!("{}", result.render());
//! # Ok::<(), checkers::HistoryError>(())
//! ```

mod cycle;
mod explain;
mod graph;
mod list_append;
mod load;
mod model;
pub(crate) mod mops;
pub(crate) mod register_graph;
mod rw_register;
mod txn;

pub use explain::{meaning, Anomaly, Evidence, Step, TxnRef, Unknown};
pub use graph::Rel;
pub use model::{implied_anomalies, prohibited_anomalies, Model, UnknownModel};
pub use register_graph::{
    check_register_graph, GraphLinearOptions, GraphLinearResult, LinOp, LinStep,
};

use crate::format::{self, Format, ReadError};
use crate::history::{History, HistoryError};
use crate::Verdict;
use petgraph::graph::NodeIndex;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::fmt::{self, Write};
use std::io::BufRead;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;
use txn::Txns;

/// Which kind of transactions the history holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Workload {
    /// `[append k v]` and `[r k [v ...]]`, unique appended values per key.
    ListAppend,
    /// `[w k v]` and `[r k v]`, unique written values per key.
    RwRegister,
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Workload::ListAppend => "list-append",
            Workload::RwRegister => "rw-register",
        })
    }
}

/// A workload name that is not one of ours.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown elle workload {0:?} (expected list-append or rw-register)")]
pub struct UnknownWorkload(pub String);

impl FromStr for Workload {
    type Err = UnknownWorkload;

    fn from_str(s: &str) -> Result<Workload, UnknownWorkload> {
        match s {
            "list-append" | "append" => Ok(Workload::ListAppend),
            "rw-register" | "wr-register" | "rw" => Ok(Workload::RwRegister),
            _ => Err(UnknownWorkload(s.to_string())),
        }
    }
}

/// How to check.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ElleOptions {
    /// The transactions' kind.
    pub workload: Workload,
    /// The models the history must satisfy (default: strict-serializable).
    pub models: Vec<Model>,
    /// Time allowed for the cycle search of each strongly connected component.
    pub cycle_search_timeout: Duration,
    /// rw-register: assume each key is linearizable and infer version order
    /// from real-time order (Elle's `linearizable-keys?`).
    pub infer_realtime_versions: bool,
    /// rw-register: assume each key is sequentially consistent and infer
    /// version order from process order (Elle's `sequential-keys?`).
    pub infer_process_versions: bool,
}

impl ElleOptions {
    /// Defaults for `workload`: strict serializability, 2 s per component.
    pub fn new(workload: Workload) -> ElleOptions {
        ElleOptions {
            workload,
            models: vec![Model::StrictSerializable],
            cycle_search_timeout: Duration::from_secs(2),
            infer_realtime_versions: false,
            infer_process_versions: false,
        }
    }

    /// Same options, checking `models`.
    pub fn with_models(mut self, models: &[Model]) -> ElleOptions {
        self.models = models.to_vec();
        self
    }
}

/// Size figures of the analysis.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// Transactions parsed (ok, info and fail).
    pub txns: usize,
    /// Distinct dependency edges (pairs of txns).
    pub edges: usize,
    /// Strongly connected components with more than one txn.
    pub sccs: usize,
    /// The largest of them.
    pub largest_scc: usize,
}

/// What the checker concluded.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ElleResult {
    /// valid, invalid (an anomaly the models forbid), or unknown (a search
    /// timed out and nothing forbidden was found).
    pub verdict: Verdict,
    /// The models checked.
    pub models: Vec<Model>,
    /// Every anomaly type found, sorted.
    pub anomaly_types: Vec<String>,
    /// The anomalies, by type: at most [`KEPT_PER_TYPE`] of each.
    pub anomalies: BTreeMap<String, Vec<Anomaly>>,
    /// How many distinct anomalies of each type were found, kept or not
    /// (absent in results written before it existed).
    #[serde(default)]
    pub anomaly_counts: BTreeMap<String, usize>,
    /// The weakest models the anomalies rule out.
    pub not: Vec<Model>,
    /// Stronger models also ruled out.
    pub also_not: Vec<Model>,
    /// Why parts of the search could not finish.
    pub unknown: Vec<Unknown>,
    /// Size figures.
    pub stats: Stats,
}

/// How many anomalies of each type a result keeps; the rest are counted.
pub const KEPT_PER_TYPE: usize = 8;

/// Anomalies collected while checking: the first [`KEPT_PER_TYPE`] distinct
/// ones of each type, and how many distinct ones were found in all (an
/// anomaly found twice, e.g. the same aborted read seen by two checks, is
/// counted once when it is among those kept).
#[derive(Default)]
pub(crate) struct Found {
    anomalies: BTreeMap<String, Vec<Anomaly>>,
    counts: BTreeMap<String, usize>,
    once: HashSet<(&'static str, u32)>,
}

impl Found {
    fn add(&mut self, name: &str, a: Anomaly) {
        let kept = self.anomalies.entry(name.to_string()).or_default();
        if kept.contains(&a) {
            return;
        }
        *self.counts.entry(name.to_string()).or_default() += 1;
        if kept.len() < KEPT_PER_TYPE {
            kept.push(a);
        }
    }

    /// Adds at most one anomaly of `name` per `key`.
    fn add_once(&mut self, name: &'static str, key: u32, a: impl FnOnce() -> Anomaly) {
        if self.once.insert((name, key)) {
            self.add(name, a());
        }
    }
}

enum Analysis {
    ListAppend(list_append::ListAppend),
    RwRegister(rw_register::RwRegister),
}

/// Checks `history` for the anomalies `opts.models` forbid. A malformed
/// transaction is an error naming its file and line; anomalies are a
/// verdict, never an error.
pub fn check(history: &History, opts: &ElleOptions) -> Result<ElleResult, HistoryError> {
    analyze(history, &Txns::parse(history, opts.workload)?, opts)
}

/// Reads the history in `path` (`format` `None`: detected) and checks it
/// as [`check`] does, never holding the history's JSON values: each op's
/// micro-ops are parsed as it is read, on this thread, while another
/// reads the file (see [`load`]). The quickest way to check a big file.
pub fn check_file(
    path: &Path,
    format: Option<Format>,
    opts: &ElleOptions,
) -> Result<ElleResult, ReadError> {
    let (reader, format) = format::open_path(path, format)?;
    check_reader(reader, &path.display().to_string(), format, opts)
}

/// [`check_file`] on a history in `format` read from `reader`; `source`
/// names it in errors.
pub fn check_reader<R: BufRead + Send>(
    reader: R,
    source: &str,
    format: Format,
    opts: &ElleOptions,
) -> Result<ElleResult, ReadError> {
    let mut loader = load::Loader::new(opts.workload);
    let history = format::read_txns(reader, source, format, &mut |pos, op, value| {
        loader.visit(pos, op, value)
    })?;
    let t = loader.finish(&history)?;
    let result = analyze(&history, &t, opts);
    // The answer needs neither the history nor its txns any more: they
    // are freed on a thread of their own, so the caller has the answer
    // without waiting (about 15 ms for 100,000 txns; a process that exits
    // first frees them all at once). Without a thread, they are freed here.
    let _ = std::thread::Builder::new()
        .name("free".into())
        .spawn(move || drop((history, t)));
    Ok(result?)
}

fn analyze(history: &History, t: &Txns, opts: &ElleOptions) -> Result<ElleResult, HistoryError> {
    let prohibited = model::prohibited_anomalies(&opts.models);
    let specs: Vec<cycle::Spec> = cycle::SPECS
        .iter()
        .filter(|s| prohibited.contains(s.name))
        .copied()
        .collect();
    let mut edges = graph::EdgeList::default();
    let mut found = Found::default();
    // Process and real-time order need only the txns' spans: they are
    // built on a second core while the workload's inference runs.
    let (analysis, order) = std::thread::scope(|s| {
        let order = s.spawn(|| {
            let mut order = graph::EdgeList::default();
            if specs.iter().any(|s| s.name.ends_with("-process")) {
                graph::process_edges(t, &mut order);
            }
            if specs.iter().any(|s| s.name.ends_with("-realtime")) {
                graph::realtime_edges(t, &mut order);
            }
            order
        });
        let analysis = match opts.workload {
            Workload::ListAppend => {
                list_append::analyze(history, t, &mut edges, &mut found).map(Analysis::ListAppend)
            }
            Workload::RwRegister => rw_register::analyze(history, t, opts, &mut edges, &mut found)
                .map(Analysis::RwRegister),
        };
        let order = order
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (analysis, order)
    });
    let analysis = analysis?;
    edges.append(order);
    let rows = edges.rows(t.txns.len());
    let sccs: Vec<Vec<NodeIndex<u32>>> = rows.sccs().into_iter().filter(|c| c.len() > 1).collect();
    // The cycle search looks inside one component at a time: its graph
    // holds only the edges inside components (none, in a valid history).
    let mut component = vec![u32::MAX; t.txns.len()];
    for (c, scc) in sccs.iter().enumerate() {
        for n in scc {
            component[n.index()] = c as u32;
        }
    }
    let g = rows.graph(|a, b| {
        let c = component[a as usize];
        c != u32::MAX && c == component[b as usize]
    });
    let mut unknown = Vec::new();
    for scc in &sccs {
        let out = cycle::search_scc(&g, scc, &specs, opts.cycle_search_timeout);
        for (name, c) in out.cycles {
            found.add(&name, explain_cycle(history, t, &analysis, &c));
        }
        if !out.timed_out.is_empty() {
            let anomaly_types = out.timed_out.iter().map(|s| s.to_string()).collect();
            unknown.push(Unknown {
                reason: "cycle-search-timeout".into(),
                anomaly_types,
                scc_size: scc.len(),
            });
        }
    }
    let stats = Stats {
        txns: t.txns.len(),
        edges: rows.edge_count(),
        sccs: sccs.len(),
        largest_scc: sccs.iter().map(Vec::len).max().unwrap_or(0),
    };
    Ok(conclude(opts, &prohibited, found, unknown, stats))
}

fn conclude(
    opts: &ElleOptions,
    prohibited: &std::collections::BTreeSet<&str>,
    found: Found,
    unknown: Vec<Unknown>,
    stats: Stats,
) -> ElleResult {
    let Found {
        anomalies, counts, ..
    } = found;
    let anomaly_types: Vec<String> = anomalies.keys().cloned().collect();
    let (not, also_not) = model::boundary(anomaly_types.iter().map(String::as_str));
    let verdict = if anomaly_types
        .iter()
        .any(|a| prohibited.contains(a.as_str()))
    {
        Verdict::Invalid
    } else if !unknown.is_empty() {
        Verdict::Unknown
    } else {
        Verdict::Valid
    };
    ElleResult {
        verdict,
        models: opts.models.clone(),
        anomaly_types,
        anomalies,
        anomaly_counts: counts,
        not,
        also_not,
        unknown,
        stats,
    }
}

fn explain_cycle(h: &History, t: &Txns, analysis: &Analysis, cycle: &cycle::Cycle) -> Anomaly {
    let steps = cycle
        .iter()
        .map(|&(a, b, rel)| {
            let evidence = match rel {
                Rel::Process => Some(Evidence::Process {
                    process: t.txns[a as usize].process,
                }),
                Rel::Realtime => {
                    let done = t.txns[a as usize].complete.map_or(0, |c| h.ops[c].index);
                    Some(Evidence::Realtime {
                        completed: done,
                        invoked: h.ops[t.txns[b as usize].invoke].index,
                    })
                }
                _ => match analysis {
                    Analysis::ListAppend(la) => la.explain(t, a, b, rel),
                    Analysis::RwRegister(rr) => rr.explain(t, a, b, rel),
                },
            };
            Step {
                from: TxnRef::new(h, t, a as usize),
                to: TxnRef::new(h, t, b as usize),
                rel,
                evidence,
            }
        })
        .collect();
    Anomaly::Cycle { steps }
}

impl ElleResult {
    /// A plain-text report: verdict, ruled-out models, each anomaly explained.
    pub fn render(&self) -> String {
        let names = |ms: &[Model]| ms.iter().map(|m| m.name()).collect::<Vec<_>>().join(", ");
        let mut out = format!("{} (checked: {})\n", self.verdict, names(&self.models));
        if !self.anomaly_types.is_empty() {
            let _ = writeln!(out, "anomalies: {}", self.anomaly_types.join(", "));
            let _ = writeln!(out, "not: {}", names(&self.not));
            let _ = writeln!(out, "also not: {}", names(&self.also_not));
        }
        for u in &self.unknown {
            let _ = writeln!(
                out,
                "unknown: {} in a component of {} txns while searching {}",
                u.reason,
                u.scc_size,
                u.anomaly_types.join(", ")
            );
        }
        for (name, list) in &self.anomalies {
            for a in list {
                let _ = write!(out, "\n{name} ({}):\n{}", meaning(name), a.render());
            }
            let total = self.anomaly_counts.get(name).copied().unwrap_or(0);
            if total > list.len() {
                let _ = writeln!(out, "\n... and {} more {name}", total - list.len());
            }
        }
        out
    }
}
