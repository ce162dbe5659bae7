//! A linearizability failure as a person reads it (Knossos's `linear.svg`
//! and Porcupine's visualization): the op that could not be linearized
//! and the ops around it drawn on a time axis, one lane per process; the
//! longest linearizable orders with the state each reaches; and the
//! shrunken counterexample as history records.

use super::ops::{compact, shorten, Ops, Span};
use super::svg::{esc, text, Scale};
use checkers::history::Outcome;
use checkers::linear::{Failure, LinearResult, OpRef};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write;

/// At most this many orders are listed, and this many of their last steps.
const PREFIXES: usize = 6;
const PREFIX_STEPS: usize = 10;
/// Ops from each order's tail that are drawn.
const DRAWN_TAIL: usize = 6;

/// One failing partition, ready for the template.
#[derive(Debug, Serialize)]
pub struct FailureView {
    /// The key, when the model splits by key.
    pub key: Option<String>,
    /// The op that could not be linearized, in words.
    pub op: String,
    /// Its history index (of the completion).
    pub index: u64,
    /// Its process.
    pub process: String,
    /// Why, in one sentence.
    pub why: String,
    /// The longest linearizable orders.
    pub orders: Vec<OrderView>,
    /// The counterexample's records, when one was found.
    pub counterexample: Option<CounterView>,
    /// The ops around the failure drawn on a time axis (SVG, escaped).
    pub svg: String,
}

/// One linearizable order.
#[derive(Debug, Serialize)]
pub struct OrderView {
    /// Earlier steps not shown.
    pub hidden: usize,
    /// Its last steps: `p3 write 1`.
    pub steps: Vec<String>,
    /// The model's state after them.
    pub state: String,
}

/// The shrunken counterexample.
#[derive(Debug, Serialize)]
pub struct CounterView {
    /// No op can be removed.
    pub minimal: bool,
    /// Records: index, process, type, f, value.
    pub events: Vec<[String; 5]>,
}

/// The views of every failing partition of `result`.
pub fn failures(result: &LinearResult, ops: &Ops) -> Vec<FailureView> {
    // Only the ops some failure draws: a long run has millions of spans.
    let wanted: BTreeSet<u64> = result
        .partitions
        .iter()
        .filter_map(|p| p.failure.as_ref())
        .flat_map(|f| drawn(f).into_keys())
        .collect();
    let by_invoke: HashMap<u64, &Span> = ops
        .spans
        .iter()
        .filter(|s| wanted.contains(&s.invoke_index))
        .map(|s| (s.invoke_index, s))
        .collect();
    result
        .partitions
        .iter()
        .filter_map(|p| Some((p.key.clone(), p.failure.as_ref()?)))
        .map(|(key, f)| view(key, f, &by_invoke))
        .collect()
}

fn view(key: Option<String>, f: &Failure, spans: &HashMap<u64, &Span>) -> FailureView {
    let states: BTreeSet<&str> = f.prefixes.iter().map(|p| p.state.as_str()).collect();
    let states: Vec<&str> = states.into_iter().collect();
    let why = format!(
        "No order of the operations before it can return what process {} saw: {} (history index {}). \
         Every linearizable order of the earlier operations leaves the model in {} {}, from which “{}” is impossible.",
        f.op.process,
        f.op.describe,
        f.op.index,
        if states.len() == 1 { "state" } else { "one of the states" },
        states.join(", "),
        f.op.describe,
    );
    FailureView {
        key,
        op: f.op.describe.clone(),
        index: f.op.index,
        process: f.op.process.to_string(),
        why,
        orders: f.prefixes.iter().take(PREFIXES).map(order).collect(),
        counterexample: f.counterexample.as_ref().map(|c| CounterView {
            minimal: c.minimal,
            events: c
                .events
                .iter()
                .map(|e| {
                    [
                        e.index.to_string(),
                        e.process.to_string(),
                        e.kind.to_string(),
                        e.f.clone(),
                        compact(&e.value),
                    ]
                })
                .collect(),
        }),
        svg: drawing(f, spans),
    }
}

fn order(p: &checkers::linear::Prefix) -> OrderView {
    let hidden = p.ops.len().saturating_sub(PREFIX_STEPS);
    OrderView {
        hidden,
        steps: p.ops[hidden..]
            .iter()
            .map(|s| format!("p{} {}", s.process, s.describe))
            .collect(),
        state: p.state.clone(),
    }
}

/// The ops to draw, by invocation index, with the words for each.
fn drawn(f: &Failure) -> BTreeMap<u64, String> {
    let mut m = BTreeMap::new();
    let mut add = |o: &OpRef| {
        m.entry(o.invoke_index)
            .or_insert_with(|| o.describe.clone());
    };
    add(&f.op);
    if let Some(c) = &f.counterexample {
        c.ops.iter().for_each(&mut add);
    }
    for p in &f.prefixes {
        for s in p.ops.iter().rev().take(DRAWN_TAIL) {
            m.entry(s.index).or_insert_with(|| s.describe.clone());
        }
    }
    m
}

const W: f64 = 980.0;
const LANE: f64 = 30.0;
const LEFT: f64 = 90.0;

fn drawing(f: &Failure, spans: &HashMap<u64, &Span>) -> String {
    let ops: Vec<(&Span, String)> = drawn(f)
        .into_iter()
        .filter_map(|(i, d)| Some((*spans.get(&i)?, d)))
        .collect();
    if ops.is_empty() {
        return String::new();
    }
    let t0 = ops.iter().map(|(s, _)| s.start()).min().unwrap_or(0);
    let t1 = ops
        .iter()
        .map(|(s, _)| s.end().unwrap_or(s.start()))
        .max()
        .unwrap_or(t0);
    let open_end = t1 + (t1 - t0) / 10 + 1;
    let lanes: BTreeSet<u64> = ops.iter().map(|(s, _)| s.process()).collect();
    let lanes: Vec<u64> = lanes.into_iter().collect();
    let h = lanes.len() as f64 * LANE + 30.0;
    let x = Scale::new(t0 as f64, open_end as f64, LEFT, W - 10.0);
    let mut svg = format!(
        r#"<svg class="lin" viewBox="0 0 {W} {h}" width="{W}" height="{h}" xmlns="http://www.w3.org/2000/svg">"#
    );
    for (row, p) in lanes.iter().enumerate() {
        let y = row as f64 * LANE + 20.0;
        text(
            &mut svg,
            LEFT - 8.0,
            y + 14.0,
            r#"text-anchor="end" font-size="11""#,
            &format!("process {p}"),
        );
    }
    let failing = f.op.invoke_index;
    for (s, describe) in &ops {
        let row = lanes.iter().position(|p| *p == s.process()).unwrap_or(0);
        bar(
            &mut svg,
            &x,
            row,
            s,
            describe,
            s.invoke_index == failing,
            open_end,
        );
    }
    let span_ms = (open_end - t0) as f64 / 1e6;
    text(
        &mut svg,
        LEFT,
        12.0,
        r##"font-size="10" fill="#555""##,
        &format!("time → ({span_ms:.1} ms shown; open-ended bars never completed)"),
    );
    svg.push_str("</svg>");
    svg
}

fn bar(
    svg: &mut String,
    x: &Scale,
    row: usize,
    s: &Span,
    describe: &str,
    failing: bool,
    open_end: u64,
) {
    let y = row as f64 * LANE + 20.0;
    let x0 = x.at(s.start() as f64);
    let x1 = x.at(s.end().unwrap_or(open_end) as f64).max(x0 + 3.0);
    let (fill, stroke) = match (failing, s.outcome) {
        (true, _) => ("#f8d0d0", "#c0392b"),
        (_, Outcome::Ok) => ("#d6e9d0", "#59a14f"),
        (_, Outcome::Fail) => ("#eee", "#999"),
        (_, Outcome::Info) => ("#fdebd0", "#f28e2b"),
    };
    let width = if failing { 2.5 } else { 1.0 };
    let title = format!(
        "index {} process {} {} {} ({:?})",
        s.invoke_index,
        s.process(),
        s.f,
        s.value(),
        s.outcome
    );
    let _ = write!(
        svg,
        r#"<g class="op{}"><title>{}</title><rect x="{x0:.1}" y="{y:.1}" width="{:.1}" height="20" rx="3" fill="{fill}" stroke="{stroke}" stroke-width="{width}"/>"#,
        if failing { " failing" } else { "" },
        esc(&title),
        x1 - x0
    );
    text(
        svg,
        x0 + 4.0,
        y + 14.0,
        r#"font-size="11""#,
        &shorten(describe, 40),
    );
    svg.push_str("</g>");
}
