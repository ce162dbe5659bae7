//! The timeline's data: client ops in compact columns (process, start
//! delta, duration, outcome, f, short value, index delta), drawn by the
//! page's script one window at a time, so a long run is browsable without
//! freezing the browser (Jepsen's `checker/timeline` draws every op as
//! HTML and caps at 10,000 ops; Porcupine's visualizer embeds its data).
//!
//! The ops come in pages of [`PAGE_OPS`]: the first is embedded in
//! report.html with an index of every page (its time range), the others
//! are files beside it (`timeline/page-<k>.js`, written by
//! [`write_pages`]) that the script loads with a `<script>` element when
//! the window reaches them, which works from `file://` as from `temblor
//! serve`. A run of one page (most runs) stays one self-contained file,
//! and no run's report embeds more than a page.

use super::ops::{shorten, Ops, Span};
use crate::run::store::RunDir;
use anyhow::Context as _;
use checkers::history::Outcome;
use serde::Serialize;
use std::collections::HashMap;

/// Values longer than this are cut in the timeline (the full value is in
/// history.jsonl, and in the failure sections).
const VALUE_CHARS: usize = 60;

/// Ops per page of the timeline.
pub const PAGE_OPS: usize = 50_000;

/// A moment worth jumping to.
#[derive(Clone, Debug, Serialize)]
pub struct Mark {
    /// What happened.
    pub label: String,
    /// When, µs.
    pub t: u64,
    /// The history index of the op to highlight, if one.
    pub index: Option<u64>,
}

/// What report.html embeds (see `timeline.js`).
#[derive(Debug, Serialize)]
pub struct Timeline {
    /// Lanes: one per worker thread (process modulo concurrency).
    pub lanes: u64,
    /// End of the history, µs.
    pub end: u64,
    /// Function names; a page's `f` holds positions in it.
    pub fs: Vec<String>,
    /// Every page's time range, in order.
    pub pages: Vec<PageInfo>,
    /// Page 0.
    pub first: Page,
    /// Ops that never completed (drawn to the end of the history from
    /// wherever the window is), from every page.
    pub open: Page,
    /// Fault intervals: start µs, end µs, kind, label.
    pub nem: Vec<(u64, u64, String, String)>,
    /// Moments to jump to.
    pub marks: Vec<Mark>,
}

/// Where a page's ops are in time.
#[derive(Debug, Serialize)]
pub struct PageInfo {
    /// The first op's start, µs.
    pub t0: u64,
    /// The latest completion of its ops, µs.
    pub t1: u64,
    /// How many ops.
    pub n: usize,
}

/// One page of ops, in columns.
#[derive(Debug, Default, PartialEq, Serialize)]
pub struct Page {
    /// Process of each op.
    pub p: Vec<u64>,
    /// Start, µs, as the difference from the previous op's start (from 0
    /// for the first).
    pub s: Vec<u64>,
    /// Duration, µs; -1 for an op that never completed.
    pub d: Vec<i64>,
    /// Outcome: 0 ok, 1 fail, 2 info.
    pub o: Vec<u8>,
    /// Function, as a position in the timeline's `fs`.
    pub f: Vec<u32>,
    /// Value, shortened.
    pub v: Vec<String>,
    /// Invocation index, as the difference from the previous op's (from 0
    /// for the first).
    pub i: Vec<u64>,
}

/// Positions of function names in `fs`.
struct Names<'a>(HashMap<&'a str, u32>);

impl<'a> Names<'a> {
    fn new(ops: &'a Ops) -> (Names<'a>, Vec<String>) {
        let mut ids = HashMap::new();
        let mut fs = Vec::new();
        for s in &ops.spans {
            ids.entry(&*s.f).or_insert_with(|| {
                fs.push(s.f.to_string());
                (fs.len() - 1) as u32
            });
        }
        (Names(ids), fs)
    }

    fn of(&self, s: &Span) -> u32 {
        self.0.get(&*s.f).copied().unwrap_or(0)
    }
}

/// `spans` as one page's columns.
fn page<'s>(spans: impl IntoIterator<Item = &'s Span>, names: &Names) -> Page {
    let mut pg = Page::default();
    let (mut last_start, mut last_index) = (0u64, 0u64);
    for s in spans {
        let start = s.start() / 1000;
        pg.p.push(s.process());
        pg.s.push(start.saturating_sub(last_start));
        pg.d.push(s.latency().map_or(-1, |l| (l / 1000) as i64));
        pg.o.push(match s.outcome {
            Outcome::Ok => 0,
            Outcome::Fail => 1,
            Outcome::Info => 2,
        });
        pg.f.push(names.of(s));
        pg.v.push(shorten(s.value(), VALUE_CHARS));
        pg.i.push(s.invoke_index.saturating_sub(last_index));
        last_start = last_start.max(start);
        last_index = s.invoke_index;
    }
    pg
}

/// The embedded part; `lanes` is the run's concurrency, when known.
pub fn build(ops: &Ops, lanes: Option<u64>, marks: Vec<Mark>) -> Timeline {
    let max_p = ops.spans.iter().map(Span::process).max().unwrap_or(0);
    let (names, fs) = Names::new(ops);
    let pages = ops
        .spans
        .chunks(PAGE_OPS)
        .map(|chunk| PageInfo {
            t0: chunk.first().map_or(0, |s| s.start() / 1000),
            t1: chunk
                .iter()
                .map(|s| s.end().unwrap_or(s.start()) / 1000)
                .max()
                .unwrap_or(0),
            n: chunk.len(),
        })
        .collect();
    Timeline {
        lanes: lanes.filter(|&l| l > 0).unwrap_or((max_p + 1).min(64)),
        end: ops.end / 1000,
        fs,
        pages,
        first: page(ops.spans.iter().take(PAGE_OPS), &names),
        open: page(ops.spans.iter().filter(|s| s.end().is_none()), &names),
        nem: ops
            .intervals
            .iter()
            .map(|i| {
                (
                    i.start / 1000,
                    i.end / 1000,
                    i.kind.clone(),
                    i.label.clone(),
                )
            })
            .collect(),
        marks,
    }
}

/// Writes pages 1 and on into the run's `timeline/`, one at a time (a
/// stale folder from an earlier rendering is replaced); nothing for one
/// page.
pub fn write_pages(ops: &Ops, dir: &RunDir) -> anyhow::Result<()> {
    let folder = dir.timeline();
    if folder.exists() {
        std::fs::remove_dir_all(&folder)
            .with_context(|| format!("cannot remove {}", folder.display()))?;
    }
    if ops.spans.len() <= PAGE_OPS {
        return Ok(());
    }
    std::fs::create_dir_all(&folder)
        .with_context(|| format!("cannot create {}", folder.display()))?;
    let (names, _) = Names::new(ops);
    for (k, chunk) in ops.spans.chunks(PAGE_OPS).enumerate().skip(1) {
        let json = script_json(&page(chunk, &names))?;
        let file = folder.join(format!("page-{k}.js"));
        std::fs::write(&file, format!("temblorTimelinePage({k}, {json});\n"))
            .with_context(|| format!("cannot write {}", file.display()))?;
    }
    Ok(())
}

/// `value` as JSON that is safe inside a `<script>` element: `<`, `>`
/// and `&` become `\u` escapes, so no `</script>` or `<!--` can appear,
/// and U+2028/2029 are escaped for older JS parsers.
pub fn script_json<T: Serialize>(value: &T) -> anyhow::Result<String> {
    let json = serde_json::to_string(value)?;
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use checkers::{History, Op, OpType};
    use serde_json::json;

    #[test]
    fn script_json_cannot_close_the_script_element() {
        let s = script_json(&json!({"v": "</script><script>alert(1)</script>"})).unwrap();
        assert!(!s.contains('<') && !s.contains('>'));
        let back: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(back["v"], "</script><script>alert(1)</script>");
    }

    #[test]
    fn columns_are_delta_encoded_in_microseconds() {
        let ops = vec![
            Op::new(0, OpType::Invoke, "read", json!(null)).at(1_000_000),
            Op::new(1, OpType::Invoke, "write", json!(2)).at(3_000_000),
            Op::new(0, OpType::Ok, "read", json!(2)).at(4_000_000),
        ];
        let h = History::from_ops("t", ops);
        let t = build(&Ops::new(&h), Some(2), Vec::new());
        assert_eq!(t.first.s, vec![1000, 2000]);
        assert_eq!(t.first.d, vec![3000, -1]);
        assert_eq!(t.first.o, vec![0, 2]);
        assert_eq!(t.fs, vec!["read", "write"]);
        assert_eq!(t.first.v, vec!["2", "2"]);
        assert_eq!(t.open.p, vec![1], "the op that never completed");
        assert_eq!(t.pages.len(), 1);
        assert_eq!(
            (t.pages[0].t0, t.pages[0].t1, t.pages[0].n),
            (1000, 4000, 2)
        );
    }

    #[test]
    fn a_long_history_is_paged_and_only_the_first_page_is_embedded() {
        let n = PAGE_OPS * 2 + 10;
        let mut ops = Vec::new();
        for k in 0..n as u64 {
            ops.push(Op::new(k % 7, OpType::Invoke, "read", json!(null)).at(k * 2000));
            ops.push(Op::new(k % 7, OpType::Ok, "read", json!(k)).at(k * 2000 + 1000));
        }
        let o = Ops::new(&History::from_ops("t", ops));
        let t = build(&o, Some(7), Vec::new());
        assert_eq!(t.pages.len(), 3);
        assert_eq!(t.first.p.len(), PAGE_OPS);
        assert_eq!(
            t.pages.iter().map(|p| p.n).collect::<Vec<_>>(),
            vec![PAGE_OPS, PAGE_OPS, 10]
        );
        assert_eq!(t.pages[1].t0, (PAGE_OPS as u64 * 2000) / 1000);
        let dir = std::env::temp_dir().join(format!("temblor-pages-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("timeline")).unwrap();
        std::fs::write(dir.join("timeline/page-9.js"), "stale").unwrap();
        write_pages(&o, &RunDir::open(&dir).unwrap()).unwrap();
        let mut files: Vec<String> = std::fs::read_dir(dir.join("timeline"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        files.sort();
        assert_eq!(files, ["page-1.js", "page-2.js"]);
        let text = std::fs::read_to_string(dir.join("timeline/page-2.js")).unwrap();
        let json = text
            .strip_prefix("temblorTimelinePage(2, ")
            .and_then(|t| t.strip_suffix(");\n"))
            .unwrap();
        let page: serde_json::Value = serde_json::from_str(json).unwrap();
        assert_eq!(page["p"].as_array().unwrap().len(), 10);
        assert_eq!(
            page["i"][0],
            json!(2 * (PAGE_OPS as u64 * 2)),
            "absolute first index"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
