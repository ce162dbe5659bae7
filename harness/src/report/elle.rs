//! Elle anomalies on the page (Elle's cycle plots): the checker's own
//! sentences for each anomaly (`checkers::elle::Anomaly::sentences`, the
//! one wording of them), the transactions involved, and each dependency
//! cycle drawn as a small graph.

use super::ops::compact;
use super::svg::{esc, text};
use checkers::elle::{meaning, Anomaly, ElleResult, Rel, Step, TxnRef};
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

fn txn_row(t: &TxnRef) -> [String; 4] {
    let outcome = serde_json::to_value(t.outcome)
        .map(|v| compact(&v))
        .unwrap_or_default();
    [t.name(), t.process.to_string(), outcome, compact(&t.value)]
}

/// The words are the checker's ([`Anomaly::sentences`]): the report adds
/// the layout and, for cycles, the drawing.
fn view(kind: &str, a: &Anomaly, n: usize) -> AnomalyView {
    let svg = match a {
        Anomaly::Cycle { steps } => cycle_svg(steps, n),
        _ => String::new(),
    };
    AnomalyView {
        kind: kind.to_string(),
        meaning: meaning(kind),
        steps: a.sentences(),
        txns: a.txns().into_iter().map(txn_row).collect(),
        svg,
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
            &s.from.name(),
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
