//! Elle anomalies as a person reads them (Elle's explainers and its
//! cycle plots): each dependency cycle told step by step in words, from
//! the evidence the checker kept, and drawn as a small graph; the other
//! anomalies (aborted reads, lost updates, ...) told in a sentence.

use super::ops::compact;
use super::svg::{esc, text};
use checkers::elle::{Anomaly, ElleResult, Evidence, Rel, Step, TxnRef};
use serde::Serialize;
use std::fmt::Write;

/// One anomaly, ready for the template.
#[derive(Debug, Serialize)]
pub struct AnomalyView {
    /// Its type: G-single, G1a, ...
    pub kind: String,
    /// What the type means.
    pub meaning: &'static str,
    /// The explanation, one sentence per step.
    pub steps: Vec<String>,
    /// The transactions involved: name, process, outcome, micro-ops.
    pub txns: Vec<[String; 4]>,
    /// The cycle drawn (SVG, escaped), for cycles.
    pub svg: String,
}

/// What each anomaly type means, in a line (Adya; Elle's docs).
fn meaning(kind: &str) -> &'static str {
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

/// The views of every anomaly `result` kept, by type.
pub fn anomalies(result: &ElleResult) -> Vec<AnomalyView> {
    let mut out = Vec::new();
    for (kind, list) in &result.anomalies {
        for a in list {
            out.push(view(kind, a, out.len()));
        }
    }
    out
}

fn name(t: &TxnRef) -> String {
    format!("T{}", t.index)
}

fn txn_row(t: &TxnRef) -> [String; 4] {
    let outcome = serde_json::to_value(t.outcome)
        .map(|v| compact(&v))
        .unwrap_or_default();
    [name(t), t.process.to_string(), outcome, compact(&t.value)]
}

fn view(kind: &str, a: &Anomaly, n: usize) -> AnomalyView {
    let (steps, txns, svg) = match a {
        Anomaly::Cycle { steps } => (
            cycle_words(steps),
            distinct(steps.iter().map(|s| &s.from)),
            cycle_svg(steps, n),
        ),
        other => {
            let (sentence, txns) = other_words(other);
            (
                vec![sentence],
                txns.into_iter().map(txn_row).collect(),
                String::new(),
            )
        }
    };
    AnomalyView {
        kind: kind.to_string(),
        meaning: meaning(kind),
        steps,
        txns,
        svg,
    }
}

/// Each transaction once (a cycle may pass through one twice).
fn distinct<'a>(txns: impl Iterator<Item = &'a TxnRef>) -> Vec<[String; 4]> {
    let mut rows: Vec<[String; 4]> = Vec::new();
    for t in txns {
        let row = txn_row(t);
        if !rows.contains(&row) {
            rows.push(row);
        }
    }
    rows
}

fn cycle_words(steps: &[Step]) -> Vec<String> {
    let mut words: Vec<String> = steps.iter().map(step_words).collect();
    let mut chain: Vec<String> = steps.iter().map(|s| name(&s.from)).collect();
    if let Some(first) = steps.first() {
        chain.push(name(&first.from));
    }
    words.push(format!(
        "So {}: each must come before the next, and the last before the first, which no serial order allows.",
        chain.join(" < ")
    ));
    words
}

fn step_words(s: &Step) -> String {
    let (a, b) = (name(&s.from), name(&s.to));
    let Some(e) = &s.evidence else {
        return format!("{a} < {b} ({}).", s.rel);
    };
    let c = compact;
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

fn other_words(a: &Anomaly) -> (String, Vec<&TxnRef>) {
    let c = compact;
    match a {
        Anomaly::DirtyRead {
            reader,
            writer,
            key,
            value,
            read,
        } => (
            format!(
                "{} read key {} = {}, which holds {} written by {} ({:?}).",
                name(reader),
                c(key),
                c(read),
                c(value),
                name(writer),
                writer.outcome
            ),
            vec![reader, writer],
        ),
        Anomaly::GarbageRead {
            reader,
            key,
            value,
            read,
        } => (
            format!(
                "{} read key {} = {}, but no transaction wrote {}.",
                name(reader),
                c(key),
                c(read),
                c(value)
            ),
            vec![reader],
        ),
        Anomaly::Internal {
            txn,
            mop,
            expected,
            read,
        } => (
            format!(
                "{} read {} at micro-op {mop}, but its own earlier micro-ops imply {}.",
                name(txn),
                c(read),
                c(expected)
            ),
            vec![txn],
        ),
        Anomaly::DuplicateElements {
            reader,
            key,
            value,
            read,
        } => (
            format!(
                "{} read key {} = {}, which holds {} more than once.",
                name(reader),
                c(key),
                c(read),
                c(value)
            ),
            vec![reader],
        ),
        Anomaly::IncompatibleOrder {
            key,
            first,
            first_read,
            second,
            second_read,
        } => (
            format!(
                "{} read key {} = {} and {} read it = {}: neither is a prefix of the other.",
                name(first),
                c(key),
                c(first_read),
                name(second),
                c(second_read)
            ),
            vec![first, second],
        ),
        Anomaly::LostUpdate { key, read, txns } => (
            format!(
                "{} all read key {} = {} and all wrote it: all but one update was lost.",
                txns.iter().map(name).collect::<Vec<_>>().join(", "),
                c(key),
                c(read)
            ),
            txns.iter().collect(),
        ),
        Anomaly::Cycle { steps } => (
            cycle_words(steps).join(" "),
            steps.iter().map(|s| &s.from).collect(),
        ),
        Anomaly::CyclicVersions { key, values } => (
            format!(
                "The versions of key {} are ordered in a cycle: {}.",
                c(key),
                values.iter().map(c).collect::<Vec<_>>().join(" < ")
            ),
            Vec::new(),
        ),
    }
}

fn rel_colour(r: Rel) -> &'static str {
    match r {
        Rel::Ww => "#4e79a7",
        Rel::Wr => "#59a14f",
        Rel::Rw => "#e15759",
        Rel::Process => "#b07aa1",
        Rel::Realtime => "#9c755f",
    }
}

/// The cycle as a ring of transactions with labelled, curved arrows.
fn cycle_svg(steps: &[Step], n: usize) -> String {
    let k = steps.len().max(1) as f64;
    let r = 50.0 + 14.0 * k;
    let (w, h) = (2.0 * r + 140.0, 2.0 * r + 80.0);
    let (cx, cy) = (w / 2.0, h / 2.0);
    let at = |i: usize| {
        let a = std::f64::consts::TAU * i as f64 / k - std::f64::consts::FRAC_PI_2;
        (cx + r * a.cos(), cy + r * a.sin())
    };
    let mut svg = format!(
        r##"<svg class="cycle" viewBox="0 0 {w:.0} {h:.0}" width="{w:.0}" height="{h:.0}" xmlns="http://www.w3.org/2000/svg"><defs><marker id="arrow-{n}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#444"/></marker></defs>"##
    );
    for (i, s) in steps.iter().enumerate() {
        edge(&mut svg, at(i), at((i + 1) % steps.len()), s.rel, n);
    }
    for (i, s) in steps.iter().enumerate() {
        let (x, y) = at(i);
        let _ = write!(
            svg,
            r##"<g class="txn"><title>{}</title><circle cx="{x:.1}" cy="{y:.1}" r="22" fill="#fff" stroke="#333" stroke-width="1.5"/>"##,
            esc(&compact(&s.from.value))
        );
        text(
            &mut svg,
            x,
            y + 4.0,
            r#"text-anchor="middle" font-size="11" font-weight="bold""#,
            &name(&s.from),
        );
        svg.push_str("</g>");
    }
    svg.push_str("</svg>");
    svg
}

fn edge(svg: &mut String, (x0, y0): (f64, f64), (x1, y1): (f64, f64), rel: Rel, n: usize) {
    let (dx, dy) = (x1 - x0, y1 - y0);
    let len = (dx * dx + dy * dy).sqrt().max(1.0);
    let (ux, uy) = (dx / len, dy / len);
    // Bend to the right of the direction of travel, so that the two arrows
    // of a two-transaction cycle do not overlap.
    let (mx, my) = ((x0 + x1) / 2.0 + uy * 28.0, (y0 + y1) / 2.0 - ux * 28.0);
    let (sx, sy) = (x0 + ux * 24.0, y0 + uy * 24.0);
    let (ex, ey) = (x1 - ux * 24.0, y1 - uy * 24.0);
    let c = rel_colour(rel);
    let _ = write!(
        svg,
        r#"<path d="M{sx:.1},{sy:.1} Q{mx:.1},{my:.1} {ex:.1},{ey:.1}" fill="none" stroke="{c}" stroke-width="1.8" marker-end="url(#arrow-{n})"/>"#
    );
    text(
        svg,
        mx,
        my,
        &format!(r#"text-anchor="middle" font-size="11" fill="{c}" font-weight="bold""#),
        &rel.to_string(),
    );
}
