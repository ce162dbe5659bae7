//! What the workload checkers found, on the page: facts in a table, the
//! elements, reads and ids they flagged, and their plots (Jepsen's
//! set-full latency quantiles, the bank's totals over time, a lock's
//! holders over time), all from the typed results. The sentences come from
//! the results' own `describe` functions; this module lays them out.

use super::ops::{compact, Ops};
use super::plot::{secs, Frame};
use super::svg::{colour, esc, fault_colour, num, text, Scale};
use checkers::bank::{self, BankResult};
use checkers::checker::CheckResult;
use checkers::counter::{self, CounterResult};
use checkers::history::Outcome;
use checkers::lock::LockResult;
use checkers::queue::QueueResult;
use checkers::set::{self, SetResult};
use checkers::tally::{Histogram, Quantiles, Sample};
use checkers::unique_ids::UniqueIdsResult;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write;

/// A table of findings.
#[derive(Debug, Default, Serialize)]
pub struct Table {
    pub title: String,
    pub head: Vec<String>,
    pub rows: Vec<Vec<String>>,
    /// How many there were, when more than the rows shown.
    pub more: Option<String>,
}

/// A plot with a caption.
#[derive(Debug, Serialize)]
pub struct Plot {
    pub title: String,
    pub note: String,
    pub svg: String,
}

/// One checker's section besides its verdict and text.
#[derive(Debug, Default, Serialize)]
pub struct Findings {
    pub facts: Vec<(String, String)>,
    pub tables: Vec<Table>,
    pub plots: Vec<Plot>,
    /// Moments for the timeline to jump to: (label, history index).
    #[serde(skip)]
    pub marks: Vec<(String, u64)>,
}

/// The findings of `result`; empty for the checkers drawn elsewhere
/// (linearizability failures, Elle anomalies) and for stats.
pub fn of(result: &CheckResult, ops: &Ops) -> Findings {
    let mut f = findings(result, ops);
    f.marks = marks(result);
    f
}

/// The ops a finding points at, first few of each kind.
fn marks(result: &CheckResult) -> Vec<(String, u64)> {
    const EACH: usize = 8;
    match result {
        CheckResult::Set(r) => r
            .lost
            .items
            .iter()
            .filter_map(|e| {
                Some((
                    format!("lost element {}", compact(&e.element)),
                    e.last_absent_index?,
                ))
            })
            .chain(
                r.unexpected
                    .items
                    .iter()
                    .chain(&r.duplicated.items)
                    .map(|b| {
                        (
                            format!("read of {} ({})", compact(&b.element), b.detail),
                            b.read_index,
                        )
                    }),
            )
            .take(EACH * 2)
            .collect(),
        CheckResult::Counter(r) => r
            .errors
            .items
            .iter()
            .take(EACH)
            .map(|b| {
                (
                    format!(
                        "counter read {} outside [{}, {}]",
                        b.value, b.lower, b.upper
                    ),
                    b.index,
                )
            })
            .collect(),
        CheckResult::Bank(r) => r
            .bad_reads
            .items
            .iter()
            .take(EACH)
            .map(|b| (format!("bank read: {}", b.problem.name()), b.index))
            .collect(),
        CheckResult::UniqueIds(r) => r
            .duplicated
            .iter()
            .take(EACH)
            .filter_map(|d| Some((format!("id {} again", compact(&d.id)), *d.indices.get(1)?)))
            .collect(),
        _ => Vec::new(),
    }
}

fn findings(result: &CheckResult, ops: &Ops) -> Findings {
    match result {
        CheckResult::Set(r) => set_findings(r),
        CheckResult::Counter(r) => counter_findings(r),
        CheckResult::Bank(r) => bank_findings(r, ops),
        CheckResult::UniqueIds(r) => unique_findings(r),
        CheckResult::Queue(r) => queue_findings(r),
        CheckResult::Lock(r) => lock_findings(r, ops),
        _ => Findings::default(),
    }
}

fn fact(k: &str, v: impl ToString) -> (String, String) {
    (k.to_string(), v.to_string())
}

fn table<T>(
    title: &str,
    head: &[&str],
    s: &Sample<T>,
    row: impl Fn(&T) -> Vec<String>,
) -> Option<Table> {
    (!s.is_empty()).then(|| Table {
        title: title.to_string(),
        head: head.iter().map(|h| h.to_string()).collect(),
        rows: s.items.iter().map(row).collect(),
        more: (s.count > s.items.len())
            .then(|| format!("{} in all; the first {} shown", s.count, s.items.len())),
    })
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_else(|| "–".into())
}

fn quantiles(q: &Option<Quantiles>) -> String {
    let Some(q) = q else { return "–".into() };
    let at = |p| num(q.at(p).unwrap_or(0.0));
    format!(
        "median {} ms, p95 {} ms, p99 {} ms, max {} ms",
        at(0.5),
        at(0.95),
        at(0.99),
        at(1.0)
    )
}

fn set_findings(r: &SetResult) -> Findings {
    let element_row = |e: &set::ElementRef| {
        vec![
            opt(e.key.as_ref().map(compact)),
            compact(&e.element),
            opt(e.known_index),
            opt(e.last_absent_index),
            opt(e.latency_ms.map(num)),
        ]
    };
    let bad_row = |b: &set::BadRead| {
        vec![
            opt(b.key.as_ref().map(compact)),
            compact(&b.element),
            b.read_index.to_string(),
            b.process.to_string(),
            b.detail.clone(),
        ]
    };
    let element_head = [
        "key",
        "element",
        "known at index",
        "missed by the read invoked at",
        "ms",
    ];
    let bad_head = ["key", "element", "read at index", "process", "why"];
    let worst = Sample {
        count: r.worst_stale.len(),
        items: r.worst_stale.clone(),
    };
    let tables = [
        table("Lost elements", &element_head, &r.lost, element_row),
        table("Unexpected elements", &bad_head, &r.unexpected, bad_row),
        table("Duplicated elements", &bad_head, &r.duplicated, bad_row),
        table(
            "Slowest to become stable (stale reads)",
            &element_head,
            &worst,
            element_row,
        ),
    ];
    Findings {
        facts: vec![
            fact("sets (keys)", r.keys),
            fact("adds attempted / acknowledged", format!("{} / {}", r.attempt_count, r.acknowledged_count)),
            fact("stable", r.stable_count),
            fact("lost", r.lost.count),
            fact("never read", r.never_read.count),
            fact("stale", r.stale.count),
            fact("unexpected / duplicated", format!("{} / {}", r.unexpected.count, r.duplicated.count)),
            fact("time from known to stable", quantiles(&r.stable_latencies)),
        ],
        tables: tables.into_iter().flatten().collect(),
        plots: vec![Plot {
            title: "Time from an add to stable visibility".into(),
            note: "Stable elements by the time from when the element was known (its add acknowledged, or a read saw it) to the last read that missed it: 0 ms means every read begun after it was known saw it.".into(),
            svg: histogram_svg(&r.stable_histogram, "elements"),
        }],
        marks: Vec::new(),
    }
}

fn counter_findings(r: &CounterResult) -> Findings {
    let row = |b: &counter::BoundedRead| {
        vec![
            b.index.to_string(),
            b.process.to_string(),
            b.lower.to_string(),
            b.value.to_string(),
            b.upper.to_string(),
            b.error().to_string(),
        ]
    };
    let head = [
        "read at index",
        "process",
        "lowest possible",
        "read",
        "highest possible",
        "off by",
    ];
    Findings {
        facts: vec![
            fact("reads", r.reads),
            fact("reads out of bounds", r.errors.count),
            fact(
                "adds attempted / acknowledged",
                format!("{} / {}", r.adds, r.acknowledged_adds),
            ),
            fact("last read", opt(r.last.as_ref().map(counter::describe))),
        ],
        tables: table("Reads outside what the adds allow", &head, &r.errors, row)
            .into_iter()
            .collect(),
        plots: Vec::new(),
        marks: Vec::new(),
    }
}

fn bank_findings(r: &BankResult, ops: &Ops) -> Findings {
    let summaries: Vec<Vec<String>> = r
        .errors
        .iter()
        .map(|(kind, s)| {
            vec![
                kind.clone(),
                s.count.to_string(),
                bank::describe(&s.first),
                bank::describe(&s.worst),
            ]
        })
        .collect();
    let tables = (!summaries.is_empty()).then(|| Table {
        title: "Bad reads by kind".into(),
        head: ["kind", "count", "first", "worst"]
            .iter()
            .map(|h| h.to_string())
            .collect(),
        rows: summaries,
        more: None,
    });
    Findings {
        facts: vec![
            fact("every read must total", r.total),
            fact("reads / bad reads", format!("{} / {}", r.read_count, r.bad_reads.count)),
            fact("transfers attempted / ok", format!("{} / {}", r.transfers, r.transfers_ok)),
        ],
        tables: tables.into_iter().collect(),
        plots: vec![Plot {
            title: "Total of all accounts, read by read".into(),
            note: "Each dot is one read's sum; the dashed line is the total every read must see. Faults are shaded.".into(),
            svg: totals_svg(r, ops),
        }],
        marks: Vec::new(),
    }
}

fn unique_findings(r: &UniqueIdsResult) -> Findings {
    let range = r
        .range
        .as_ref()
        .map(|(lo, hi)| format!("{} to {}", compact(lo), compact(hi)));
    let dups = Sample {
        count: r.duplicated_count,
        items: r.duplicated.clone(),
    };
    let row = |d: &checkers::unique_ids::Duplicate| {
        let at: Vec<String> = d.indices.iter().map(u64::to_string).collect();
        vec![compact(&d.id), d.count.to_string(), at.join(", ")]
    };
    Findings {
        facts: vec![
            fact(
                "ids attempted / returned",
                format!("{} / {}", r.attempted_count, r.acknowledged_count),
            ),
            fact("returned more than once", r.duplicated_count),
            fact("range", opt(range)),
        ],
        tables: table(
            "Ids returned more than once",
            &["id", "times", "at indices"],
            &dups,
            row,
        )
        .into_iter()
        .collect(),
        plots: Vec::new(),
        marks: Vec::new(),
    }
}

fn queue_findings(r: &QueueResult) -> Findings {
    let row = |c: &checkers::queue::Counted| vec![compact(&c.element), c.times.to_string()];
    let head = ["element", "times"];
    let tables = [
        table("Lost (acknowledged, never dequeued)", &head, &r.lost, row),
        table("Unexpected (never enqueued)", &head, &r.unexpected, row),
        table(
            "Duplicated (dequeued more often than enqueued)",
            &head,
            &r.duplicated,
            row,
        ),
    ];
    Findings {
        facts: vec![
            fact(
                "enqueues attempted / acknowledged",
                format!("{} / {}", r.attempt_count, r.acknowledged_count),
            ),
            fact("dequeued", r.ok_count),
            fact(
                "lost / unexpected / duplicated",
                format!(
                    "{} / {} / {}",
                    r.lost.count, r.unexpected.count, r.duplicated.count
                ),
            ),
            fact("recovered (enqueue outcome unknown)", r.recovered_count),
            fact("crashed dequeues", r.crashed_dequeues),
        ],
        tables: tables.into_iter().flatten().collect(),
        plots: Vec::new(),
        marks: Vec::new(),
    }
}

fn lock_findings(r: &LockResult, ops: &Ops) -> Findings {
    let owners: BTreeMap<&str, usize> = r.holds.iter().fold(BTreeMap::new(), |mut m, h| {
        *m.entry(h.owner.as_str()).or_default() += 1;
        m
    });
    Findings {
        facts: vec![fact("holds", r.hold_count), fact("owners", owners.len())],
        tables: Vec::new(),
        plots: vec![Plot {
            title: "Who held the lock when".into(),
            note: "One lane per owner: a solid bar from the acquire's completion to the release's invocation; the pale ends are the acquire and release in flight; an open bar was never released, a hatched one's acquire crashed (info). Bars that overlap in time break mutual exclusion. Faults are shaded.".into(),
            svg: holds_svg(r, ops),
        }],
        marks: Vec::new(),
    }
}

const W: f64 = 980.0;

/// A bar per bucket of a histogram.
fn histogram_svg(h: &Histogram, what: &str) -> String {
    let (h_px, left, bottom) = (180.0, 56.0, 34.0);
    let n = h.counts.len().max(1) as f64;
    let max = h.counts.iter().copied().max().unwrap_or(0).max(1) as f64;
    let bar = (W - left - 10.0) / n;
    let y = Scale::new(0.0, max, h_px - bottom, 10.0);
    let mut svg = format!(
        r#"<svg class="plot" viewBox="0 0 {W} {h_px}" width="{W}" height="{h_px}" role="img" aria-label="histogram" xmlns="http://www.w3.org/2000/svg">"#
    );
    for (i, c) in h.counts.iter().enumerate() {
        let x = left + i as f64 * bar;
        let top = y.at(*c as f64);
        let label = match (
            i.checked_sub(1).and_then(|j| h.bounds.get(j)),
            h.bounds.get(i),
        ) {
            (None, Some(b)) => format!("< {}", num(*b)),
            (Some(a), Some(b)) => format!("{}–{}", num(*a), num(*b)),
            (Some(a), None) => format!("≥ {}", num(*a)),
            (None, None) => "all".into(),
        };
        let _ = write!(
            svg,
            r##"<g><title>{} ms: {c} {}</title><rect x="{:.1}" y="{top:.1}" width="{:.1}" height="{:.1}" fill="#4e79a7"/></g>"##,
            esc(&label),
            esc(what),
            x + 2.0,
            bar - 4.0,
            (h_px - bottom - top).max(0.0)
        );
        text(
            &mut svg,
            x + bar / 2.0,
            h_px - bottom + 14.0,
            r#"text-anchor="middle" font-size="10""#,
            &label,
        );
        if *c > 0 {
            text(
                &mut svg,
                x + bar / 2.0,
                top - 3.0,
                r#"text-anchor="middle" font-size="10""#,
                &c.to_string(),
            );
        }
    }
    text(
        &mut svg,
        (left + W) / 2.0,
        h_px - 4.0,
        r#"text-anchor="middle" font-size="11""#,
        "milliseconds",
    );
    svg.push_str("</svg>");
    svg
}

/// Each read's total over time, with the expected total dashed.
fn totals_svg(r: &BankResult, ops: &Ops) -> String {
    let pts: Vec<(f64, f64)> = r
        .totals
        .iter()
        .map(|p| (secs(p.time.unwrap_or(p.index * 1_000_000)), p.total as f64))
        .collect();
    let (lo, hi) = pts
        .iter()
        .fold((r.total as f64, r.total as f64), |(a, b), p| {
            (a.min(p.1), b.max(p.1))
        });
    let pad = ((hi - lo) * 0.1).max(1.0);
    let y = Scale::new(lo - pad, hi + pad, 320.0 - 40.0, 12.0);
    let end = pts.iter().map(|p| p.0).fold(secs(ops.end), f64::max);
    let mut fr = Frame::new(end, y, "bank totals over time");
    fr.faults(&ops.intervals);
    let ticks: Vec<(f64, String)> = y.ticks(5).into_iter().map(|t| (t, num(t))).collect();
    fr.axes(&ticks, "total of all accounts");
    fr.polyline(
        &[(0.0, r.total as f64), (end, r.total as f64)],
        "#555",
        "6 3",
        1.0,
    );
    let expected = r.total as f64;
    let good: Vec<(f64, f64)> = pts.iter().copied().filter(|p| p.1 == expected).collect();
    let bad: Vec<(f64, f64)> = pts.iter().copied().filter(|p| p.1 != expected).collect();
    fr.dots(&good, colour(0), 1.8);
    fr.dots(&bad, colour(3), 2.6);
    fr.legend(0, colour(0), "", "read: right total");
    fr.legend(1, colour(3), "", "read: wrong total");
    fr.legend(2, "#555", "6 3", &format!("expected {}", r.total));
    fr.finish()
}

/// The holds as bars, one lane per owner, with faults shaded behind.
fn holds_svg(r: &LockResult, ops: &Ops) -> String {
    let owners: Vec<&str> = {
        let mut o: Vec<&str> = r.holds.iter().map(|h| h.owner.as_str()).collect();
        o.sort_by_key(|s| (s.len(), s.to_string()));
        o.dedup();
        o
    };
    let (lane, left, top) = (18.0, 90.0, 14.0);
    let h_px = top + owners.len().max(1) as f64 * lane + 30.0;
    let end = secs(ops.end).max(1e-3);
    let x = Scale::new(0.0, end, left, W - 10.0);
    let mut svg = format!(
        r##"<svg class="plot" viewBox="0 0 {W} {h_px:.0}" width="{W}" height="{h_px:.0}" role="img" aria-label="lock holders" xmlns="http://www.w3.org/2000/svg"><defs><pattern id="hatch" width="4" height="4" patternUnits="userSpaceOnUse"><path d="M0,4 L4,0" stroke="#59a14f" stroke-width="1"/></pattern></defs>"##
    );
    for i in &ops.intervals {
        let (x0, x1) = (x.at(secs(i.start)), x.at(secs(i.end)));
        let _ = write!(
            svg,
            r#"<rect x="{x0:.1}" y="{top}" width="{:.1}" height="{:.1}" fill="{}" fill-opacity="0.12"><title>{}</title></rect>"#,
            (x1 - x0).max(1.0),
            h_px - top - 30.0,
            fault_colour(&i.kind),
            esc(&i.label)
        );
    }
    for (row, owner) in owners.iter().enumerate() {
        text(
            &mut svg,
            left - 6.0,
            top + row as f64 * lane + 12.0,
            r#"text-anchor="end" font-size="10""#,
            &format!("owner {owner}"),
        );
    }
    for h in &r.holds {
        let row = owners.iter().position(|o| *o == h.owner).unwrap_or(0) as f64;
        let y = top + row * lane + 3.0;
        let t = |ns: Option<u64>| ns.map(secs);
        let from = t(h.from).unwrap_or(0.0);
        let held = t(h.acquired_at).unwrap_or(from);
        let freeing = t(h.released_from).unwrap_or(end);
        let to = t(h.to).unwrap_or(freeing);
        let fill = if h.acquired == Outcome::Info {
            "url(#hatch)"
        } else {
            "#59a14f"
        };
        let title = format!(
            "owner {}: acquire at index {} ({:?}), {}",
            h.owner,
            h.acquire_index,
            h.acquired,
            h.release_index
                .map_or("never released".to_string(), |i| format!(
                    "released by the op at index {i}"
                ))
        );
        let _ = write!(
            svg,
            r##"<g><title>{}</title><rect x="{:.1}" y="{y:.1}" width="{:.1}" height="12" fill="#d6e9d0"/><rect x="{:.1}" y="{y:.1}" width="{:.1}" height="12" fill="{fill}"/></g>"##,
            esc(&title),
            x.at(from),
            (x.at(to) - x.at(from)).max(1.0),
            x.at(held),
            (x.at(freeing) - x.at(held)).max(1.0)
        );
    }
    for tick in x.ticks(10) {
        text(
            &mut svg,
            x.at(tick),
            h_px - 14.0,
            r#"text-anchor="middle" font-size="10""#,
            &num(tick),
        );
    }
    text(
        &mut svg,
        (left + W) / 2.0,
        h_px - 2.0,
        r#"text-anchor="middle" font-size="11""#,
        "time (s)",
    );
    svg.push_str("</svg>");
    svg
}
