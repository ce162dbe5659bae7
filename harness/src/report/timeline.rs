//! The timeline's data: every client op in compact columns (process,
//! start delta, duration, outcome, f, short value, index delta), embedded
//! once as JSON and drawn by the page's script one window at a time, so a
//! 1,000,000-op run is browsable without freezing the browser (Jepsen's
//! `checker/timeline` draws every op as HTML and caps at 10,000 ops;
//! Porcupine's visualizer likewise embeds data and draws with JS).

use super::ops::{compact, shorten, Ops};
use checkers::history::Outcome;
use serde::Serialize;
use std::collections::HashMap;

/// Values longer than this are cut in the timeline (the full value is in
/// history.jsonl, and in the failure sections).
const VALUE_CHARS: usize = 60;

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

/// The columns the page's script reads (see `timeline.js`).
#[derive(Debug, Serialize)]
pub struct Timeline {
    /// Lanes: one per worker thread (process modulo concurrency).
    pub lanes: u64,
    /// End of the history, µs.
    pub end: u64,
    /// Function names; `f` holds positions in it.
    pub fs: Vec<String>,
    /// Process of each op.
    pub p: Vec<u64>,
    /// Start, µs, as the difference from the previous op's start.
    pub s: Vec<u64>,
    /// Duration, µs; -1 for an op that never completed.
    pub d: Vec<i64>,
    /// Outcome: 0 ok, 1 fail, 2 info.
    pub o: Vec<u8>,
    /// Function, as a position in `fs`.
    pub f: Vec<u32>,
    /// Value, shortened.
    pub v: Vec<String>,
    /// Invocation index, as the difference from the previous op's.
    pub i: Vec<u64>,
    /// Fault intervals: start µs, end µs, kind, label.
    pub nem: Vec<(u64, u64, String, String)>,
    /// Moments to jump to.
    pub marks: Vec<Mark>,
}

/// Builds the columns; `lanes` is the run's concurrency, when known.
pub fn build(ops: &Ops, lanes: Option<u64>, marks: Vec<Mark>) -> Timeline {
    let n = ops.spans.len();
    let max_p = ops.spans.iter().map(|s| s.process()).max().unwrap_or(0);
    let mut t = Timeline {
        lanes: lanes.filter(|&l| l > 0).unwrap_or((max_p + 1).min(64)),
        end: ops.end / 1000,
        fs: Vec::new(),
        p: Vec::with_capacity(n),
        s: Vec::with_capacity(n),
        d: Vec::with_capacity(n),
        o: Vec::with_capacity(n),
        f: Vec::with_capacity(n),
        v: Vec::with_capacity(n),
        i: Vec::with_capacity(n),
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
    };
    let mut f_ids: HashMap<&str, u32> = HashMap::new();
    let (mut last_start, mut last_index) = (0u64, 0u64);
    for s in &ops.spans {
        let start = s.start() / 1000;
        let f = *f_ids.entry(s.invoke.f.as_str()).or_insert_with(|| {
            t.fs.push(s.invoke.f.clone());
            (t.fs.len() - 1) as u32
        });
        t.p.push(s.process());
        t.s.push(start.saturating_sub(last_start));
        t.d.push(s.latency().map_or(-1, |l| (l / 1000) as i64));
        t.o.push(match s.outcome {
            Outcome::Ok => 0,
            Outcome::Fail => 1,
            Outcome::Info => 2,
        });
        t.f.push(f);
        t.v.push(shorten(&compact(s.value()), VALUE_CHARS));
        t.i.push(s.invoke.index.saturating_sub(last_index));
        last_start = last_start.max(start);
        last_index = s.invoke.index;
    }
    t
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
        assert_eq!(t.s, vec![1000, 2000]);
        assert_eq!(t.d, vec![3000, -1]);
        assert_eq!(t.o, vec![0, 2]);
        assert_eq!(t.fs, vec!["read", "write"]);
        assert_eq!(t.v, vec!["2", "2"]);
    }
}
