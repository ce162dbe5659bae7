//! Latency, throughput and clock offsets over time as inline SVG (Jepsen's
//! `checker/perf`: latency points per f and outcome with quantile lines,
//! rate per f, nemesis intervals shaded and labelled; and Jepsen's
//! `checker/clock-plot`: each node's measured clock offset). Points are
//! thinned to a fixed budget per series so that a 1,000,000-op run still
//! draws a light plot; the quantile lines use every op.

use super::ops::{ClockReading, Interval, Ops, Span};
use super::svg::{colour, esc, fault_colour, num, text, Scale};
use checkers::history::Outcome;
use std::collections::BTreeMap;
use std::fmt::Write;

const W: f64 = 980.0;
const H: f64 = 320.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 170.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 40.0;
/// At most this many points per (f, outcome) series.
const POINTS_PER_SERIES: usize = 1500;
/// Time buckets for quantiles and rates.
const BUCKETS: usize = 80;
const QUANTILES: [(f64, &str, &str); 3] =
    [(0.5, "p50", ""), (0.95, "p95", "6 3"), (0.99, "p99", "2 3")];

/// The plot area and its axes: time in seconds across, `y` up; the
/// workload checkers' plots draw in it too.
pub(super) struct Frame {
    pub x: Scale,
    pub y: Scale,
    pub svg: String,
}

impl Frame {
    pub(super) fn new(end_s: f64, y: Scale, label: &str) -> Frame {
        let x = Scale::new(0.0, end_s, LEFT, W - RIGHT);
        let mut svg = format!(
            r#"<svg class="plot" viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img" aria-label="{}" xmlns="http://www.w3.org/2000/svg">"#,
            esc(label)
        );
        let _ = write!(
            svg,
            r##"<rect x="{LEFT}" y="{TOP}" width="{}" height="{}" fill="#fff" stroke="#ccc"/>"##,
            W - RIGHT - LEFT,
            H - TOP - BOTTOM
        );
        Frame { x, y, svg }
    }

    pub(super) fn faults(&mut self, intervals: &[Interval]) {
        let kinds: Vec<&str> = {
            let mut k: Vec<&str> = intervals.iter().map(|i| i.kind.as_str()).collect();
            k.dedup();
            k.sort_unstable();
            k.dedup();
            k
        };
        for i in intervals {
            let (x0, x1) = (self.x.at(secs(i.start)), self.x.at(secs(i.end)));
            let row = kinds.iter().position(|k| *k == i.kind).unwrap_or(0) as f64;
            let c = fault_colour(&i.kind);
            let _ = write!(
                self.svg,
                r#"<g class="fault"><title>{} from {:.2}s to {:.2}s</title><rect x="{x0:.1}" y="{TOP}" width="{:.1}" height="{}" fill="{c}" fill-opacity="0.13"/>"#,
                esc(&i.label),
                secs(i.start),
                secs(i.end),
                (x1 - x0).max(1.0),
                H - TOP - BOTTOM
            );
            text(
                &mut self.svg,
                x0 + 2.0,
                TOP + 11.0 + row * 11.0,
                &format!(r#"font-size="9" fill="{c}""#),
                &i.label,
            );
            self.svg.push_str("</g>");
        }
    }

    pub(super) fn axes(&mut self, y_ticks: &[(f64, String)], y_label: &str) {
        for t in self.x.ticks(10) {
            let x = self.x.at(t);
            let _ = write!(
                self.svg,
                r##"<line x1="{x:.1}" x2="{x:.1}" y1="{}" y2="{}" stroke="#999"/>"##,
                H - BOTTOM,
                H - BOTTOM + 4.0
            );
            text(
                &mut self.svg,
                x,
                H - BOTTOM + 16.0,
                r#"text-anchor="middle" font-size="10""#,
                &num(t),
            );
        }
        text(
            &mut self.svg,
            (LEFT + W - RIGHT) / 2.0,
            H - 6.0,
            r#"text-anchor="middle" font-size="11""#,
            "time (s)",
        );
        for (v, label) in y_ticks {
            let y = self.y.at(*v);
            let _ = write!(
                self.svg,
                r##"<line x1="{LEFT}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#eee"/>"##,
                W - RIGHT
            );
            text(
                &mut self.svg,
                LEFT - 4.0,
                y + 3.0,
                r#"text-anchor="end" font-size="10""#,
                label,
            );
        }
        text(
            &mut self.svg,
            14.0,
            (TOP + H - BOTTOM) / 2.0,
            &format!(
                r#"font-size="11" transform="rotate(-90 14 {:.1})" text-anchor="middle""#,
                (TOP + H - BOTTOM) / 2.0
            ),
            y_label,
        );
    }

    pub(super) fn legend(&mut self, row: usize, colour: &str, dash: &str, label: &str) {
        let y = TOP + 10.0 + row as f64 * 14.0;
        let x = W - RIGHT + 10.0;
        let _ = write!(
            self.svg,
            r#"<line x1="{x}" x2="{}" y1="{y}" y2="{y}" stroke="{colour}" stroke-width="2" stroke-dasharray="{dash}"/>"#,
            x + 18.0
        );
        text(&mut self.svg, x + 22.0, y + 3.5, r#"font-size="10""#, label);
    }

    pub(super) fn polyline(&mut self, pts: &[(f64, f64)], colour: &str, dash: &str, width: f64) {
        if pts.is_empty() {
            return;
        }
        let _ = write!(
            self.svg,
            r#"<polyline fill="none" stroke="{colour}" stroke-width="{width}" stroke-dasharray="{dash}" points=""#
        );
        for (x, y) in pts {
            let _ = write!(self.svg, "{:.1},{:.1} ", self.x.at(*x), self.y.at(*y));
        }
        self.svg.push_str(r#""/>"#);
    }

    /// A dot at each `(x, y)` in data units.
    pub(super) fn dots(&mut self, pts: &[(f64, f64)], colour: &str, r: f64) {
        for (x, y) in pts {
            let _ = write!(
                self.svg,
                r#"<circle cx="{:.1}" cy="{:.1}" r="{r}" fill="{colour}" fill-opacity="0.6"/>"#,
                self.x.at(*x),
                self.y.at(*y)
            );
        }
    }

    pub(super) fn finish(mut self) -> String {
        self.svg.push_str("</svg>");
        self.svg
    }
}

pub(super) fn secs(ns: u64) -> f64 {
    ns as f64 / 1e9
}

fn ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}

/// The functions, in name order, each with its spans.
fn by_f(ops: &Ops) -> BTreeMap<&str, Vec<&Span>> {
    let mut m: BTreeMap<&str, Vec<&Span>> = BTreeMap::new();
    for s in &ops.spans {
        m.entry(&*s.f).or_default().push(s);
    }
    m
}

fn bucket_of(t: u64, end: u64) -> usize {
    ((t as f64 / end.max(1) as f64) * BUCKETS as f64).min(BUCKETS as f64 - 1.0) as usize
}

/// Latency over time: points per f and outcome, p50/p95/p99 lines per f.
pub fn latency_svg(ops: &Ops) -> String {
    let fs = by_f(ops);
    let lats = ops
        .spans
        .iter()
        .filter_map(Span::latency)
        .map(|l| ms(l).max(1e-3));
    let (lo, hi) = lats.fold((f64::MAX, f64::MIN), |(a, b), l| (a.min(l), b.max(l)));
    let (lo, hi) = if lo > hi { (1.0, 10.0) } else { (lo, hi) };
    let (l0, l1) = (
        lo.log10().floor(),
        hi.log10().ceil().max(lo.log10().floor() + 1.0),
    );
    let y = Scale::new(l0, l1, H - BOTTOM, TOP);
    let mut fr = Frame::new(secs(ops.end), y, "latency over time");
    fr.faults(&ops.intervals);
    let ticks: Vec<(f64, String)> = (l0 as i32..=l1 as i32)
        .map(|e| (e as f64, num(10f64.powi(e))))
        .collect();
    fr.axes(&ticks, "latency (ms, log)");
    let mut row = 0;
    for (i, (f, spans)) in fs.iter().enumerate() {
        points(&mut fr, spans, colour(i));
        for (q, name, dash) in QUANTILES {
            let line = quantile_line(spans, ops.end, q);
            fr.polyline(&line, colour(i), dash, 1.5);
            fr.legend(row, colour(i), dash, &format!("{f} {name}"));
            row += 1;
        }
    }
    let y0 = TOP + 10.0 + row as f64 * 14.0 + 6.0;
    text(
        &mut fr.svg,
        W - RIGHT + 10.0,
        y0,
        r##"font-size="10" fill="#555""##,
        "● ok  ■ fail  ○ info",
    );
    fr.finish()
}

fn points(fr: &mut Frame, spans: &[&Span], colour: &str) {
    for outcome in [Outcome::Ok, Outcome::Fail, Outcome::Info] {
        let series: Vec<&Span> = spans
            .iter()
            .copied()
            .filter(|s| s.outcome == outcome && s.end.is_some())
            .collect();
        let stride = series.len().div_ceil(POINTS_PER_SERIES).max(1);
        for s in series.iter().step_by(stride) {
            let Some(l) = s.latency() else { continue };
            let (x, y) = (fr.x.at(secs(s.start())), fr.y.at(ms(l).max(1e-3).log10()));
            let _ = match outcome {
                Outcome::Ok => write!(
                    fr.svg,
                    r#"<circle cx="{x:.1}" cy="{y:.1}" r="1.6" fill="{colour}" fill-opacity="0.45"/>"#
                ),
                Outcome::Fail => write!(
                    fr.svg,
                    r#"<rect x="{:.1}" y="{:.1}" width="3" height="3" fill="{colour}"/>"#,
                    x - 1.5,
                    y - 1.5
                ),
                Outcome::Info => write!(
                    fr.svg,
                    r#"<circle cx="{x:.1}" cy="{y:.1}" r="2.2" fill="none" stroke="{colour}"/>"#
                ),
            };
        }
    }
}

/// The `q` quantile of latency (log10 ms) in each time bucket that has ops.
fn quantile_line(spans: &[&Span], end: u64, q: f64) -> Vec<(f64, f64)> {
    let mut buckets: Vec<Vec<u64>> = vec![Vec::new(); BUCKETS];
    for s in spans {
        if let Some(l) = s.latency() {
            buckets[bucket_of(s.start(), end)].push(l);
        }
    }
    let width = secs(end) / BUCKETS as f64;
    buckets
        .iter_mut()
        .enumerate()
        .filter(|(_, b)| !b.is_empty())
        .map(|(i, b)| {
            b.sort_unstable();
            let k = ((b.len() - 1) as f64 * q).round() as usize;
            ((i as f64 + 0.5) * width, ms(b[k]).max(1e-3).log10())
        })
        .collect()
}

/// A line: its legend, colour, dash pattern and points.
type Series = (String, &'static str, &'static str, Vec<(f64, f64)>);

/// Completions per second over time, per f: ok solid, fail and info dashed.
pub fn throughput_svg(ops: &Ops) -> String {
    let fs = by_f(ops);
    let width = (secs(ops.end) / BUCKETS as f64).max(1e-9);
    let mut series: Vec<Series> = Vec::new();
    for (i, (f, spans)) in fs.iter().enumerate() {
        for (outcome, name, dash) in [
            (Outcome::Ok, "ok", ""),
            (Outcome::Fail, "fail", "6 3"),
            (Outcome::Info, "info", "2 3"),
        ] {
            let mut counts = vec![0u64; BUCKETS];
            for s in spans.iter().filter(|s| s.outcome == outcome) {
                if let Some(e) = s.end() {
                    counts[bucket_of(e, ops.end)] += 1;
                }
            }
            if counts.iter().all(|&c| c == 0) {
                continue;
            }
            let pts = counts
                .iter()
                .enumerate()
                .map(|(b, &c)| ((b as f64 + 0.5) * width, c as f64 / width))
                .collect();
            series.push((format!("{f} {name}"), colour(i), dash, pts));
        }
    }
    let max = series
        .iter()
        .flat_map(|s| s.3.iter().map(|p| p.1))
        .fold(1.0, f64::max);
    let y = Scale::new(0.0, max * 1.05, H - BOTTOM, TOP);
    let mut fr = Frame::new(secs(ops.end), y, "throughput over time");
    fr.faults(&ops.intervals);
    let ticks: Vec<(f64, String)> = y.ticks(5).into_iter().map(|t| (t, num(t))).collect();
    fr.axes(&ticks, "ops/s");
    for (row, (label, c, dash, pts)) in series.iter().enumerate() {
        fr.polyline(pts, c, dash, 1.5);
        fr.legend(row, c, dash, label);
    }
    fr.finish()
}

/// Each node's measured clock offset over time (Jepsen's `clock-plot`):
/// a dot per measurement, held as a step line until the next; `None` when
/// the history measured no clocks.
pub fn clock_svg(ops: &Ops) -> Option<String> {
    if ops.clocks.is_empty() {
        return None;
    }
    let mut nodes: BTreeMap<&str, Vec<&ClockReading>> = BTreeMap::new();
    for r in &ops.clocks {
        nodes.entry(&r.node).or_default().push(r);
    }
    let (lo, hi) = ops.clocks.iter().fold((0.0f64, 0.0f64), |(lo, hi), r| {
        (lo.min(r.offset_ms), hi.max(r.offset_ms))
    });
    let pad = ((hi - lo) * 0.05).max(1.0);
    let y = Scale::new(lo - pad, hi + pad, H - BOTTOM, TOP);
    let mut fr = Frame::new(secs(ops.end), y, "clock offsets over time");
    fr.faults(&ops.intervals);
    let ticks: Vec<(f64, String)> = y.ticks(6).into_iter().map(|t| (t, num(t))).collect();
    fr.axes(&ticks, "clock offset (ms)");
    for (i, (node, readings)) in nodes.iter().enumerate() {
        let mut steps = Vec::with_capacity(readings.len() * 2);
        for (k, r) in readings.iter().enumerate() {
            let until = readings.get(k + 1).map_or(ops.end, |next| next.time);
            steps.push((secs(r.time), r.offset_ms));
            steps.push((secs(until), r.offset_ms));
        }
        let dots: Vec<(f64, f64)> = readings
            .iter()
            .map(|r| (secs(r.time), r.offset_ms))
            .collect();
        fr.polyline(&steps, colour(i), "", 1.5);
        fr.dots(&dots, colour(i), 2.5);
        fr.legend(i, colour(i), "", node);
    }
    Some(fr.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::ops::tests::nemesis;
    use checkers::History;
    use serde_json::{json, Value};

    #[test]
    fn the_clock_plot_draws_each_node_over_the_fault_bands_or_is_absent() {
        let none = Ops::new(&History::from_ops(
            "t",
            vec![nemesis("kill", Value::Null, 1)],
        ));
        assert_eq!(clock_svg(&none), None);
        let ops = vec![
            nemesis("bump-clock", Value::Null, 1_000_000_000),
            nemesis(
                "bump-clock",
                json!({"offsets_ms": {"n1": -4000}, "measured_offsets_ms": {"n1": -3999.5, "n2": 0.1}}),
                1_100_000_000,
            ),
            nemesis("reset-clock", Value::Null, 3_000_000_000),
            nemesis(
                "reset-clock",
                json!({"offsets_ms": {"n1": 0}, "measured_offsets_ms": {"n1": 0.2}}),
                3_100_000_000,
            ),
        ];
        let svg = clock_svg(&Ops::new(&History::from_ops("t", ops))).unwrap();
        assert!(svg.contains("clock offset (ms)"), "{svg}");
        assert!(
            svg.contains(">n1</text>") && svg.contains(">n2</text>"),
            "{svg}"
        );
        assert!(
            svg.contains(r#"<g class="fault">"#),
            "the bump's band: {svg}"
        );
        assert_eq!(svg.matches("<circle").count(), 3, "{svg}");
        assert!(
            svg.contains(">-4000</text>") || svg.contains(">-4500</text>"),
            "{svg}"
        );
    }
}
