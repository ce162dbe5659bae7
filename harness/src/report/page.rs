//! Assembling one run's report page from its files: the verdict line,
//! the test, stats per f, the plots, each checker's findings, the
//! timeline's data and the node logs, as one serde value for the
//! `report.html` template.

use super::elle::{self, AnomalyView};
use super::findings::{self, Findings};
use super::linear::{self, FailureView};
use super::load::RunFiles;
use super::ops::{Ops, Span};
use super::summary::{self, TestView, VerdictLine};
use super::timeline::{self, Mark};
use checkers::checker::CheckResult;
use checkers::history::Outcome;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};

/// At most this many moments to jump to in the timeline.
const MARKS: usize = 60;

/// Everything the report template shows.
#[derive(Serialize)]
pub struct ReportPage {
    pub title: String,
    pub verdict: VerdictLine,
    pub test: TestView,
    pub stats: Vec<StatRow>,
    pub latency_svg: String,
    pub throughput_svg: String,
    /// Each node's measured clock offset; `None` without clock faults.
    pub clock_svg: Option<String>,
    pub faults: Vec<[String; 4]>,
    /// Data files damaged by file faults: at (s), node, fault, file,
    /// outcome, log tail.
    pub files: Vec<[String; 6]>,
    pub checks: Vec<CheckView>,
    pub timeline_json: String,
    pub logs: Vec<(String, String)>,
    pub timed: bool,
    pub client_ops: usize,
    pub css: &'static str,
    pub js: &'static str,
}

/// One f's counts and latencies.
#[derive(Serialize)]
pub struct StatRow {
    pub f: String,
    pub count: usize,
    pub ok: usize,
    pub fail: usize,
    pub info: usize,
    pub ok_pct: String,
    pub rate: String,
    pub p50: String,
    pub p99: String,
}

/// One checker's findings.
#[derive(Serialize)]
pub struct CheckView {
    pub checker: String,
    pub verdict: String,
    pub text: String,
    pub failures: Vec<FailureView>,
    pub anomalies: Vec<AnomalyView>,
    /// The workload checkers' facts, tables and plots.
    pub findings: Findings,
}

/// The page for `run`.
pub fn build(run: &RunFiles, css: &'static str, js: &'static str) -> anyhow::Result<ReportPage> {
    let ops = &run.ops;
    let duration_s = ops.end as f64 / 1e9;
    let results = run.results.as_ref();
    let checks = checks(run, ops);
    let marks = marks(&checks, ops);
    let lanes = run.spec["concurrency"].as_u64();
    let timeline = timeline::build(ops, lanes, marks);
    let name = run.spec["name"].as_str().filter(|s| !s.is_empty());
    Ok(ReportPage {
        title: name.map_or_else(|| run.dir.display().to_string(), str::to_string),
        verdict: summary::with_refusals(
            summary::with_torn_line(
                summary::verdict_line(results, ops.spans.len()),
                run.torn_line,
            ),
            &ops.files,
        ),
        test: summary::test_view(
            &run.spec,
            results.and_then(|r| r.seed),
            ops.timed.then_some(duration_s),
        ),
        stats: stats(ops, ops.timed.then_some(duration_s)),
        latency_svg: super::plot::latency_svg(ops),
        throughput_svg: super::plot::throughput_svg(ops),
        clock_svg: super::plot::clock_svg(ops),
        faults: ops
            .intervals
            .iter()
            .map(|i| [i.kind.clone(), i.label.clone(), secs(i.start), secs(i.end)])
            .collect(),
        files: ops
            .files
            .iter()
            .map(|f| {
                [
                    secs(f.time),
                    f.node.clone(),
                    f.fault.clone(),
                    f.file.clone(),
                    f.outcome
                        .clone()
                        .unwrap_or_else(|| "never started again".into()),
                    f.log_tail.clone(),
                ]
            })
            .collect(),
        checks,
        timeline_json: timeline::script_json(&timeline)?,
        logs: run
            .logs
            .iter()
            .map(|(p, size)| (p.clone(), bytes(*size)))
            .collect(),
        timed: ops.timed,
        client_ops: ops.spans.len(),
        css,
        js,
    })
}

fn secs(ns: u64) -> String {
    format!("{:.2}", ns as f64 / 1e9)
}

fn bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / (1u64 << 20) as f64),
        n if n >= 1 << 10 => format!("{:.1} KiB", n as f64 / 1024.0),
        n => format!("{n} B"),
    }
}

fn checks(run: &RunFiles, ops: &Ops) -> Vec<CheckView> {
    let Some(r) = &run.results else {
        return Vec::new();
    };
    r.checks
        .iter()
        .map(|c| CheckView {
            checker: c.checker.clone(),
            verdict: c.verdict.to_string(),
            text: c.text.clone(),
            failures: match &c.result {
                CheckResult::Linearizable(r) => linear::failures(r, ops),
                CheckResult::Lock(r) => linear::failures(&r.linear, ops),
                _ => Vec::new(),
            },
            anomalies: match &c.result {
                CheckResult::Elle(r) => elle::anomalies(r),
                _ => Vec::new(),
            },
            findings: findings::of(&c.result, ops),
        })
        .collect()
}

/// Failing ops and anomalous transactions first, then fault starts.
fn marks(checks: &[CheckView], ops: &Ops) -> Vec<Mark> {
    let wanted: HashSet<u64> = checks
        .iter()
        .flat_map(|c| {
            let failing = c.failures.iter().map(|f| f.index);
            failing.chain(
                c.anomalies
                    .iter()
                    .filter_map(|a| Some(txn_index(a.txns.first()?))),
            )
        })
        .collect();
    // Only the spans marks name: a long run has millions.
    let by_index: HashMap<u64, &Span> = ops
        .spans
        .iter()
        .flat_map(|s| [Some((s.invoke_index, s)), s.complete_index.map(|c| (c, s))])
        .flatten()
        .filter(|(i, _)| wanted.contains(i))
        .collect();
    let mut out = Vec::new();
    let mut mark = |label: String, index: u64| {
        if let Some(s) = by_index.get(&index) {
            out.push(Mark {
                label,
                t: s.start() / 1000,
                index: Some(s.invoke_index),
            });
        }
    };
    for c in checks {
        for f in &c.failures {
            mark(format!("not linearizable: {}", f.op), f.index);
        }
        for (label, index) in &c.findings.marks {
            mark(label.clone(), *index);
        }
        for a in &c.anomalies {
            if let Some(t) = a.txns.first() {
                mark(format!("{} at {}", a.kind, t[0]), txn_index(t));
            }
        }
    }
    out.extend(ops.intervals.iter().map(|i| Mark {
        label: i.label.clone(),
        t: i.start / 1000,
        index: None,
    }));
    out.truncate(MARKS);
    out
}

/// The history index of an anomaly's transaction (`T12`).
fn txn_index(t: &[String]) -> u64 {
    t.first()
        .and_then(|n| n.trim_start_matches('T').parse().ok())
        .unwrap_or(u64::MAX)
}

/// `duration_s` is `None` when the history has no times (no rates then).
fn stats(ops: &Ops, duration_s: Option<f64>) -> Vec<StatRow> {
    let mut by_f: BTreeMap<&str, Vec<&Span>> = BTreeMap::new();
    for s in &ops.spans {
        by_f.entry(&*s.f).or_default().push(s);
    }
    let total: Vec<&Span> = ops.spans.iter().collect();
    by_f.into_iter()
        .map(|(f, spans)| stat_row(f, &spans, duration_s))
        .chain(std::iter::once(stat_row("all", &total, duration_s)))
        .collect()
}

fn stat_row(f: &str, spans: &[&Span], duration_s: Option<f64>) -> StatRow {
    let n = |o| spans.iter().filter(|s| s.outcome == o).count();
    let (ok, fail, info) = (n(Outcome::Ok), n(Outcome::Fail), n(Outcome::Info));
    let mut lat: Vec<u64> = spans.iter().filter_map(|s| s.latency()).collect();
    lat.sort_unstable();
    let q = |q: f64| match lat.len() {
        0 => "–".to_string(),
        len => format!(
            "{:.1}",
            lat[((len - 1) as f64 * q).round() as usize] as f64 / 1e6
        ),
    };
    StatRow {
        f: f.to_string(),
        count: spans.len(),
        ok,
        fail,
        info,
        ok_pct: format!("{:.1}%", 100.0 * ok as f64 / spans.len().max(1) as f64),
        rate: duration_s.map_or("–".into(), |d| {
            format!("{:.1}", spans.len() as f64 / d.max(1e-9))
        }),
        p50: q(0.5),
        p99: q(0.99),
    }
}
