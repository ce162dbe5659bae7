//! A race for the register partitions the zones cannot decide (cas, or
//! repeated values): the search runs on this thread while Elle's
//! dependency graph (`elle::register_graph`) runs on another, and the first
//! definite answer wins, as in Knossos's `competition` checker. The graph
//! answers in about linear time whenever the version order it infers
//! closes a cycle or replays, which is most invalid histories; the search
//! answers everything else.
//!
//! The graph needs unique written values, so only cas histories with
//! distinct writes race; others are searched alone. When the graph wins
//! the search is stopped; when the search wins the graph's thread is left
//! to finish on its own (it is bounded by its near-linear running time)
//! and its answer is dropped.
//!
//! A graph's `invalid` comes with a cycle, not with the search's dead end,
//! so its counterexample is shrunk afterwards: the ops of the cycle, the
//! ops its version-order reasons cite, and the writes of the values they
//! read form a small non-linearizable sub-history; the search names its
//! failing op there, and the usual shrinking (see [`super::shrink`])
//! brings it to an attributable counterexample.

use super::hash::FxMap;
use super::limits::Limits;
use super::model::RegisterOp;
use super::prepare::{Part, Prepared};
use super::result::{Failure, Method, PartitionResult};
use super::search::{search, Found};
use super::zones::RegisterModel;
use super::{check_part, counterexample, valid, Ctx, Decider};
use crate::elle::register_graph::infer::{check_key, Cause, KeyOutcome, Why};
use crate::elle::register_graph::parse::{Kind, ROp};
use crate::Verdict;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Instant;

/// What the graph concluded: valid, or the ops (positions in the
/// partition) its proof of invalidity names, and the proof's steps
/// (earlier op, later op, relation).
enum Graph {
    Valid,
    Invalid(
        Vec<usize>,
        Vec<(Option<usize>, Option<usize>, &'static str)>,
    ),
}

/// Decides `part` by whichever of the search and the graph answers first.
pub(crate) fn check<M: RegisterModel>(
    model: &M,
    part: &Part<M::Input>,
    ctx: &Ctx<'_>,
) -> PartitionResult {
    let Some((nodes, positions)) = graph_ops(model, &part.ops) else {
        return check_part(model, part, ctx);
    };
    let start = Instant::now();
    if ctx.opts.decider == Decider::GraphFirst {
        return match graph(&nodes, &positions, model.init()) {
            Some(answer) => answered(model, part, ctx, answer, start),
            None => check_part(model, part, ctx),
        };
    }
    let limits = Arc::new(ctx.limits.child());
    let (tx, rx) = mpsc::channel();
    let (initial, stop) = (model.init(), Arc::clone(&limits));
    std::thread::spawn(move || {
        let answer = graph(&nodes, &positions, initial);
        if answer.is_some() {
            stop.stop();
        }
        let _ = tx.send(answer);
    });
    let sub = Ctx {
        limits: &limits,
        ..*ctx
    };
    let r = check_part(model, part, &sub);
    if r.verdict != Verdict::Unknown {
        return r;
    }
    match rx.recv().ok().flatten() {
        Some(answer) => answered(model, part, ctx, answer, start),
        None => r,
    }
}

/// The result for the graph's definite answer.
fn answered<M: RegisterModel>(
    model: &M,
    part: &Part<M::Input>,
    ctx: &Ctx<'_>,
    answer: Graph,
    start: Instant,
) -> PartitionResult {
    match answer {
        Graph::Valid => valid(part, Method::Graph),
        Graph::Invalid(cand, steps) => {
            let mut r = invalid(model, part, &cand, ctx, start);
            if let Some(f) = &mut r.failure {
                f.cycle = steps
                    .iter()
                    .map(|s| step_text(model, part, ctx, s))
                    .collect();
            }
            r
        }
    }
}

/// The ops the graph must place, as its nodes, with their positions in
/// the partition; `None` when a value is written twice (or is the initial
/// value), which the graph cannot order. Crashed ops that no op that
/// took effect depends on (through the values they read) are left out:
/// they may never have happened, and placing them never changes a read.
fn graph_ops<M: RegisterModel>(
    model: &M,
    ops: &[Prepared<M::Input>],
) -> Option<(Vec<ROp>, Vec<usize>)> {
    let initial = model.init();
    let mut writer: FxMap<u32, usize> = FxMap::default();
    let mut nodes = Vec::with_capacity(ops.len());
    for (i, p) in ops.iter().enumerate() {
        let (kind, pre, post) = match model.register_op(&p.input) {
            RegisterOp::Read(v) => (Kind::Read, Some(v), v),
            RegisterOp::Write(v) => (Kind::Write, None, v),
            RegisterOp::Cas(a, b) => (Kind::Cas, Some(a), b),
        };
        if kind != Kind::Read && (post == initial || writer.insert(post, i).is_some()) {
            return None;
        }
        nodes.push(ROp {
            kind,
            key: 0,
            pre,
            post,
            invoke: p.call,
            complete: p.ret,
        });
    }
    let mut keep: Vec<bool> = ops.iter().map(|p| p.ret.is_some()).collect();
    let mut todo: Vec<usize> = (0..ops.len()).filter(|&i| keep[i]).collect();
    while let Some(i) = todo.pop() {
        if let Some(&w) = nodes[i].pre.and_then(|v| writer.get(&v)) {
            if !keep[w] {
                keep[w] = true;
                todo.push(w);
            }
        }
    }
    let positions: Vec<usize> = (0..ops.len()).filter(|&i| keep[i]).collect();
    let nodes = positions.iter().map(|&i| nodes[i]).collect();
    Some((nodes, positions))
}

/// The graph's definite answer, if it has one.
fn graph(nodes: &[ROp], positions: &[usize], initial: u32) -> Option<Graph> {
    // Node 0 is the initial state, node i the op nodes[i - 1].
    let op = |n: usize| n.checked_sub(1).map(|i| positions[i]);
    match check_key(nodes, initial) {
        KeyOutcome::Valid => Some(Graph::Valid),
        KeyOutcome::Unknown => None,
        KeyOutcome::Garbage(n) => Some(Graph::Invalid(op(n).into_iter().collect(), Vec::new())),
        KeyOutcome::Cycle(steps) => {
            let named = steps
                .iter()
                .map(|s| (op(s.from), op(s.to), relation(s.why)))
                .collect();
            let mut cited = Vec::new();
            for s in &steps {
                cited.extend([s.from, s.to]);
                match s.cause {
                    Some(Cause::Cas(n) | Cause::Adjacent(n)) => cited.push(n),
                    Some(Cause::Edge(a, b, _)) => cited.extend([a, b]),
                    Some(Cause::Initial) | None => {}
                }
            }
            let mut out: Vec<usize> = cited.into_iter().filter_map(op).collect();
            out.sort_unstable();
            out.dedup();
            Some(Graph::Invalid(out, named))
        }
    }
}

fn relation(why: Why) -> &'static str {
    match why {
        Why::Initial => "initial",
        Why::Realtime => "realtime",
        Why::Wr => "wr",
        Why::Ww => "ww",
        Why::Rw => "rw",
    }
}

/// One step of the graph's cycle, for people.
fn step_text<M: RegisterModel>(
    model: &M,
    part: &Part<M::Input>,
    ctx: &Ctx<'_>,
    &(from, to, rel): &(Option<usize>, Option<usize>, &str),
) -> String {
    let name = |i: Option<usize>| match i.and_then(|i| part.ops.get(i)) {
        Some(p) => {
            let o = ctx.src.op_ref(model, p);
            format!(
                "{} (process {}, index {})",
                o.describe, o.process, o.invoke_index
            )
        }
        None => "the initial state".to_string(),
    };
    format!("{} < {} ({rel})", name(from), name(to))
}

/// The result for a partition the graph proved invalid: the ops its proof
/// names (closed under reads-from) are searched for a failing op and
/// shrunk to a counterexample. When the version order they need comes
/// from further ops, the whole partition is searched instead, within the
/// shrinking budget.
fn invalid<M: RegisterModel>(
    model: &M,
    part: &Part<M::Input>,
    cand: &[usize],
    ctx: &Ctx<'_>,
    start: Instant,
) -> PartitionResult {
    let decided_in = start.elapsed();
    let mut r = PartitionResult {
        verdict: Verdict::Invalid,
        ..valid(part, Method::Graph)
    };
    let small = with_writers(model, &part.ops, cand);
    let all: Vec<usize> = (0..part.ops.len()).collect();
    let budget = Instant::now() + decided_in.max(super::SHRINK_FLOOR);
    let dead = [small, all]
        .into_iter()
        .find_map(|c| dead_end(model, part, c, budget));
    let Some((failing, context)) = dead else {
        // No dead end in time: name the op the cycle ends on.
        let failing = cand.last().copied().unwrap_or(0);
        if let Some(op) = part.ops.get(failing) {
            r.failure = Some(Failure {
                op: ctx.src.op_ref(model, op),
                prefixes: Vec::new(),
                counterexample: None,
                cycle: Vec::new(),
            });
        }
        return r;
    };
    let Some(op) = part.ops.get(failing) else {
        return r;
    };
    r.failure = Some(Failure {
        op: ctx.src.op_ref(model, op),
        prefixes: Vec::new(),
        counterexample: counterexample(model, part, failing, &context, ctx, decided_in, None),
        cycle: Vec::new(),
    });
    r
}

/// The search's dead end in the sub-history `cand` of `part`, before
/// `deadline`: the failing op and the shortest sequence that reached it,
/// as positions in `part`. `None` when `cand` is linearizable or time ran
/// out.
fn dead_end<M: RegisterModel>(
    model: &M,
    part: &Part<M::Input>,
    cand: Vec<usize>,
    deadline: Instant,
) -> Option<(usize, Vec<usize>)> {
    let sub: Vec<Prepared<M::Input>> = cand.iter().map(|&i| part.ops[i].clone()).collect();
    let left = deadline.checked_duration_since(Instant::now())?;
    let Found::Invalid(dead) = search(model, &sub, &Limits::new(Some(left), None), 1).0 else {
        return None;
    };
    let context = dead
        .prefixes
        .iter()
        .map(|p| &p.0)
        .min_by_key(|s| s.len())
        .map(|s| s.iter().map(|&i| cand[i]).collect())
        .unwrap_or_default();
    Some((cand[dead.op], context))
}

/// `cand` with, for every op that reads a value (a read, a cas), the op
/// that wrote it, repeatedly.
fn with_writers<M: RegisterModel>(
    model: &M,
    ops: &[Prepared<M::Input>],
    cand: &[usize],
) -> Vec<usize> {
    let mut writer: FxMap<u32, usize> = FxMap::default();
    for (i, p) in ops.iter().enumerate() {
        if let RegisterOp::Write(v) | RegisterOp::Cas(_, v) = model.register_op(&p.input) {
            writer.insert(v, i);
        }
    }
    let mut keep = vec![false; ops.len()];
    let mut todo: Vec<usize> = cand.to_vec();
    while let Some(i) = todo.pop() {
        if std::mem::replace(&mut keep[i], true) {
            continue;
        }
        if let RegisterOp::Read(v) | RegisterOp::Cas(v, _) = model.register_op(&ops[i].input) {
            todo.extend(writer.get(&v).copied());
        }
    }
    (0..ops.len()).filter(|&i| keep[i]).collect()
}
