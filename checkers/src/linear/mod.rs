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
mod race;
mod reduce;
mod render;
mod result;
mod search;
mod shrink;
mod zones;

pub use kind::{check_spec, ModelKind, ModelSpec};
pub use limits::Stop;
pub use model::{Model, NilReads, OpView};
pub use result::{
    Counterexample, Event, Failure, LinearResult, Method, OpRef, PartitionResult, Prefix, Step,
};

use crate::history::{History, HistoryError};
use crate::Verdict;
pub(crate) use hash::FxMap;
use limits::Limits;
use prepare::{Part, Prepared};
use result::Source;
use search::{search, Found, Stats};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use zones::{Decision, RegisterModel, Rop};

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
    /// The most that shrinking failures to counterexamples may take, all
    /// partitions together, counted from the start of the check (zero: do
    /// not shrink). Within it, shrinking one partition takes at most as
    /// long as deciding it took, or [`SHRINK_FLOOR`] when that is longer:
    /// a counterexample never costs more than the check itself.
    pub shrink_time_limit: Duration,
    /// Which decision procedures the check may use.
    pub decider: Decider,
}

/// The least time shrinking a partition's failure is given, however
/// quickly the partition was decided.
pub const SHRINK_FLOOR: Duration = Duration::from_millis(100);

/// Which decision procedures a register check may use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Decider {
    /// The quickest that applies: Gibbons and Korach's zones for a
    /// register whose written values are distinct, else the search racing
    /// Elle's dependency graph (cas with distinct writes), else the search.
    #[default]
    Auto,
    /// The Wing-Gong-Lowe search only (to compare, or to test).
    Search,
    /// As `Auto`, but where it would race, Elle's graph first and the
    /// search only where the graph cannot decide: deterministic, to test
    /// the graph's answers and counterexamples.
    GraphFirst,
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
            decider: Decider::Auto,
        }
    }
}

/// Checks `history` against `model` with the search. Errors are the
/// history's: unpaired ops, values of the wrong shape (with file and
/// line). Not linearizable is a verdict, not an error.
pub fn check<M: Model>(
    history: &History,
    model: &M,
    opts: &CheckOptions,
) -> Result<LinearResult, HistoryError> {
    run(history, model, opts, |part, ctx| {
        reduced(part, reduce::late_crashes(&part.ops), |p| {
            check_part(model, p, ctx)
        })
    })
}

/// Checks a register history: each partition by its zones when its
/// written values are distinct and it has no cas, otherwise by a race of
/// the search and Elle's dependency graph (see [`race`]).
pub(crate) fn check_register<M: RegisterModel>(
    history: &History,
    model: &M,
    opts: &CheckOptions,
) -> Result<LinearResult, HistoryError> {
    run(history, model, opts, |part, ctx| {
        reduced(part, reduce::register_crashes(model, &part.ops), |p| {
            let rops = Rop::all(model, &p.ops);
            match (ctx.opts.decider, rops) {
                (Decider::Search, _) => check_part(model, p, ctx),
                (_, Some(rops)) if zones::distinct(&rops, model.init()) => {
                    zoned(model, p, &rops, ctx)
                }
                (_, _) => race::check(model, p, ctx),
            }
        })
    })
}

/// Decides `part` with its ops reduced to `ops`; the result counts them all.
fn reduced<I>(
    part: &Part<I>,
    ops: Vec<Prepared<I>>,
    decide: impl FnOnce(&Part<I>) -> PartitionResult,
) -> PartitionResult {
    let n = part.ops.len();
    let mut r = decide(&Part {
        key: part.key.clone(),
        ops,
    });
    r.ops = n;
    r
}

/// What every partition's decision shares.
pub(crate) struct Ctx<'a> {
    limits: &'a Limits,
    opts: &'a CheckOptions,
    src: &'a Source<'a>,
}

fn run<M: Model>(
    history: &History,
    model: &M,
    opts: &CheckOptions,
    decide: impl Fn(&Part<M::Input>, &Ctx<'_>) -> PartitionResult + Sync,
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
    let ctx = Ctx {
        limits: &limits,
        opts,
        src: &src,
    };
    let partitions = decide_all(&parts, &ctx, decide);
    Ok(LinearResult {
        verdict: Verdict::all(partitions.iter().map(|p| p.verdict)),
        ops: parts.iter().map(|p| p.ops.len()).sum(),
        partitions,
        elapsed_ms: start.elapsed().as_secs_f64() * 1e3,
    })
}

/// Decides every partition on `opts.threads` threads, taking them from
/// both ends of the list sorted by size: the biggest first keeps the
/// threads busy to the end on a valid history, and the smallest first
/// finds an invalid partition soonest (proving one invalid means searching
/// it exhaustively, so a small one is quickest; with `stop_early` that
/// decides the check).
fn decide_all<I: Sync>(
    parts: &[Part<I>],
    ctx: &Ctx<'_>,
    decide: impl Fn(&Part<I>, &Ctx<'_>) -> PartitionResult + Sync,
) -> Vec<PartitionResult> {
    let mut order: Vec<usize> = (0..parts.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(parts[i].ops.len()));
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let threads = if ctx.opts.threads == 0 {
        cores
    } else {
        ctx.opts.threads
    };
    let next = AtomicUsize::new(0);
    let done: Mutex<Vec<Option<PartitionResult>>> = Mutex::new(vec![None; parts.len()]);
    let work = || {
        while let Some(i) = both_ends(&order, next.fetch_add(1, Ordering::Relaxed)) {
            let r = decide(&parts[i], ctx);
            if r.verdict == Verdict::Invalid && ctx.opts.stop_early {
                ctx.limits.cancel();
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

fn valid<I>(part: &Part<I>, method: Method) -> PartitionResult {
    PartitionResult {
        key: part.key.clone(),
        verdict: Verdict::Valid,
        ops: part.ops.len(),
        explored: 0,
        method,
        unknown: None,
        failure: None,
    }
}

/// Searches one partition and explains a failure.
fn check_part<M: Model>(model: &M, part: &Part<M::Input>, ctx: &Ctx<'_>) -> PartitionResult {
    let (opts, src) = (ctx.opts, ctx.src);
    let start = Instant::now();
    // Shrinking starts from a dead end's sequence, so keep at least one.
    let keep = if opts.shrink_time_limit.is_zero() {
        opts.prefixes
    } else {
        opts.prefixes.max(1)
    };
    let (found, Stats { cache_entries }) = search(model, &part.ops, ctx.limits, keep);
    let mut r = PartitionResult {
        explored: cache_entries,
        ..valid(part, Method::Search)
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
            // Shrinking starts from the shortest dead-end sequence.
            let context = dead.prefixes.iter().map(|p| &p.0).min_by_key(|s| s.len());
            r.failure = Some(Failure {
                op: src.op_ref(model, &part.ops[dead.op]),
                prefixes,
                counterexample: context.and_then(|c| {
                    counterexample(model, part, dead.op, c, ctx, start.elapsed(), None)
                }),
                cycle: Vec::new(),
            });
        }
    }
    r
}

/// Decides one register partition by its zones; a failure names the op
/// the search would name, the linearization of everything before it, and
/// a counterexample shrunk with the zones as judge.
fn zoned<M: RegisterModel>(
    model: &M,
    part: &Part<M::Input>,
    rops: &[Rop],
    ctx: &Ctx<'_>,
) -> PartitionResult {
    let start = Instant::now();
    let initial = model.init();
    let failing = match zones::decide(rops, initial, usize::MAX) {
        Decision::Valid(_) => return valid(part, Method::Zones),
        Decision::Invalid(_) => zones::failing(rops, initial),
        Decision::Undecided => None,
    };
    let Some((f, before)) = failing else {
        return check_part(model, part, ctx);
    };
    let judge = |cand: &[Prepared<M::Input>]| {
        let rops = Rop::all(model, cand)?;
        match zones::decide(&rops, initial, usize::MAX) {
            Decision::Valid(_) => Some(true),
            Decision::Invalid(_) => Some(false),
            Decision::Undecided => None,
        }
    };
    let state = before
        .iter()
        .try_fold(initial, |s, &i| model.step(&s, &part.ops[i].input));
    let (src, decided_in) = (ctx.src, start.elapsed());
    let prefixes = state
        .filter(|_| ctx.opts.prefixes > 0)
        .map(|s| src.prefix(model, &part.ops, &before, &s));
    PartitionResult {
        verdict: Verdict::Invalid,
        failure: Some(Failure {
            op: src.op_ref(model, &part.ops[f]),
            prefixes: prefixes.into_iter().collect(),
            counterexample: counterexample(model, part, f, &before, ctx, decided_in, Some(&judge)),
            cycle: Vec::new(),
        }),
        ..valid(part, Method::Zones)
    }
}

/// The failing op and the smallest context that makes it impossible,
/// shrunk from `context`, a linearized sequence of the ops that returned
/// before it (see [`shrink`]), in at most as long as the decision took
/// (and at least [`SHRINK_FLOOR`]).
fn counterexample<M: Model>(
    model: &M,
    part: &Part<M::Input>,
    failing: usize,
    context: &[usize],
    ctx: &Ctx<'_>,
    decided_in: Duration,
    fast: Option<shrink::Fast<'_, M::Input>>,
) -> Option<Counterexample> {
    if ctx.opts.shrink_time_limit.is_zero() {
        return None;
    }
    let share = Instant::now() + decided_in.max(SHRINK_FLOOR);
    let deadline = share.min(ctx.src.shrink_until);
    let (ops, minimal) = shrink::shrink(model, &part.ops, failing, context, deadline, fast);
    Some(Counterexample {
        minimal,
        ops: ops.iter().map(|p| ctx.src.op_ref(model, p)).collect(),
        events: ctx.src.events(&ops),
    })
}

#[cfg(test)]
mod tests;
