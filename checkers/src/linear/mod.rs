//! Linearizability (Herlihy & Wing 1990): is there a total order of the
//! operations, consistent with real time, that a sequential model accepts?
//!
//! Owns the models ([`model`]), the Wing-Gong-Lowe search with Lowe's cache
//! as in Porcupine's `checker.go` (`search`), P-compositionality (a model's
//! partition function splits the history, partitions are searched in
//! parallel), the bounds that turn a search into `unknown` (deadline, memory
//! budget), shrinking a failure to a small counterexample, and the answer as
//! data ([`LinearResult`]) with a plain-text rendering.
//!
//! Op semantics are Knossos's: `ok` completions' values replace their
//! invocations', `fail` ops never happened, `info` (or never completed) ops
//! may take effect at any point after their invocation, or never.

mod cache;
mod hash;
mod kind;
mod limits;
pub mod model;
mod prepare;
mod render;
mod result;
mod search;
mod shrink;

pub use kind::{check_spec, ModelKind, ModelSpec};
pub use limits::Stop;
pub use model::{Model, NilReads, OpView};
pub use result::{
    Counterexample, Event, Failure, LinearResult, OpRef, PartitionResult, Prefix, Step,
};

use crate::history::{History, HistoryError};
use crate::Verdict;
use limits::Limits;
use prepare::Part;
use result::Source;
use search::{search, Found, Stats};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How a check runs.
#[derive(Clone, Debug)]
pub struct CheckOptions {
    /// Give up with `unknown` after this long (searching only; shrinking
    /// has its own limit).
    pub time_limit: Option<Duration>,
    /// Give up with `unknown` when the search caches of all partitions
    /// together hold more than this many bytes (estimated).
    pub memory_budget: Option<usize>,
    /// Partitions searched at once (0: one per core).
    pub threads: usize,
    /// Stop searching other partitions once one is invalid (Porcupine's
    /// early kill). On by default: proving a partition invalid can take
    /// exhaustive search, and one invalid partition decides the verdict.
    pub stop_early: bool,
    /// How many longest linearizable prefixes to report for a failure.
    pub prefixes: usize,
    /// How long shrinking failures to counterexamples may take, all
    /// partitions together, counted from the start of the check (zero: do
    /// not shrink).
    pub shrink_time_limit: Duration,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            time_limit: None,
            memory_budget: None,
            threads: 0,
            stop_early: true,
            prefixes: 3,
            shrink_time_limit: Duration::from_secs(5),
        }
    }
}

/// Checks `history` against `model`. Errors are the history's: unpaired
/// ops, values of the wrong shape (with file and line). Not linearizable is
/// a verdict, not an error.
pub fn check<M: Model>(
    history: &History,
    model: &M,
    opts: &CheckOptions,
) -> Result<LinearResult, HistoryError> {
    let start = Instant::now();
    let limits = Limits::new(opts.time_limit, opts.memory_budget);
    let shrink_until = start + opts.shrink_time_limit;
    let (operations, parts) = prepare::prepare(history, model)?;
    let src = Source {
        history,
        operations: &operations,
        shrink_until,
    };
    let partitions = search_all(model, &parts, &limits, opts, &src);
    Ok(LinearResult {
        verdict: Verdict::all(partitions.iter().map(|p| p.verdict)),
        ops: parts.iter().map(|p| p.ops.len()).sum(),
        partitions,
        elapsed_ms: start.elapsed().as_secs_f64() * 1e3,
    })
}

/// Searches every partition on `opts.threads` threads, taking them from
/// both ends of the list sorted by size: the biggest first keeps the
/// threads busy to the end on a valid history, and the smallest first
/// finds an invalid partition soonest (proving one invalid means searching
/// it exhaustively, so a small one is quickest; with `stop_early` that
/// decides the check).
fn search_all<M: Model>(
    model: &M,
    parts: &[Part<M::Input>],
    limits: &Limits,
    opts: &CheckOptions,
    src: &Source<'_>,
) -> Vec<PartitionResult> {
    let mut order: Vec<usize> = (0..parts.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(parts[i].ops.len()));
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let threads = if opts.threads == 0 {
        cores
    } else {
        opts.threads
    };
    let next = AtomicUsize::new(0);
    let done: Mutex<Vec<Option<PartitionResult>>> = Mutex::new(vec![None; parts.len()]);
    let work = || {
        while let Some(i) = both_ends(&order, next.fetch_add(1, Ordering::Relaxed)) {
            let r = check_part(model, &parts[i], limits, opts, src);
            if r.verdict == Verdict::Invalid && opts.stop_early {
                limits.cancel();
            }
            done.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(r);
        }
    };
    std::thread::scope(|s| {
        for _ in 1..threads.clamp(1, parts.len().max(1)) {
            s.spawn(work);
        }
        work();
    });
    let done = done.into_inner().unwrap_or_else(|e| e.into_inner());
    done.into_iter().flatten().collect()
}

/// The `ticket`th partition to search: even tickets from the front of
/// `order`, odd ones from the back (a bijection on `0..order.len()`).
fn both_ends(order: &[usize], ticket: usize) -> Option<usize> {
    let at = if ticket.is_multiple_of(2) {
        ticket / 2
    } else {
        order.len().checked_sub(1 + ticket / 2)?
    };
    (ticket < order.len()).then(|| order.get(at).copied())?
}

/// Searches one partition and explains a failure.
fn check_part<M: Model>(
    model: &M,
    part: &Part<M::Input>,
    limits: &Limits,
    opts: &CheckOptions,
    src: &Source<'_>,
) -> PartitionResult {
    // Shrinking starts from a dead end's sequence, so keep at least one.
    let keep = if opts.shrink_time_limit.is_zero() {
        opts.prefixes
    } else {
        opts.prefixes.max(1)
    };
    let (found, Stats { cache_entries }) = search(model, &part.ops, limits, keep);
    let mut r = PartitionResult {
        key: part.key.clone(),
        verdict: Verdict::Valid,
        ops: part.ops.len(),
        explored: cache_entries,
        unknown: None,
        failure: None,
    };
    match found {
        Found::Valid => {}
        Found::Unknown(stop) => {
            r.verdict = Verdict::Unknown;
            r.unknown = Some(stop);
        }
        Found::Invalid(dead) => {
            r.verdict = Verdict::Invalid;
            let prefixes = dead
                .prefixes
                .iter()
                .take(opts.prefixes)
                .map(|(seq, state)| src.prefix(model, &part.ops, seq, state))
                .collect();
            r.failure = Some(Failure {
                op: src.op_ref(model, &part.ops[dead.op]),
                prefixes,
                counterexample: counterexample(model, part, &dead, opts, src),
            });
        }
    }
    r
}

/// The failing op and the smallest context that makes it impossible,
/// shrunk from the shortest dead-end sequence (see [`shrink`]).
fn counterexample<M: Model>(
    model: &M,
    part: &Part<M::Input>,
    dead: &search::DeadEnds<M::State>,
    opts: &CheckOptions,
    src: &Source<'_>,
) -> Option<Counterexample> {
    if opts.shrink_time_limit.is_zero() {
        return None;
    }
    let context = dead.prefixes.iter().map(|p| &p.0).min_by_key(|s| s.len())?;
    let (ops, minimal) = shrink::shrink(model, &part.ops, dead.op, context, src.shrink_until);
    Some(Counterexample {
        minimal,
        ops: ops.iter().map(|p| src.op_ref(model, p)).collect(),
        events: src.events(&ops),
    })
}

#[cfg(test)]
mod tests;
