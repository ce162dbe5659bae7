//! The history as the report draws it: client operations as spans (invoke
//! to completion, Jepsen's `history/pairs`) and nemesis faults as
//! intervals (Jepsen's `checker/perf` nemesis regions), on one time axis
//! in nanoseconds since the test started.

use checkers::history::Outcome;
use checkers::{History, Op, OpType, Process};
use serde_json::Value;
use std::collections::BTreeMap;

/// A history with no `time` fields is drawn one millisecond per record.
const NS_PER_INDEX: u64 = 1_000_000;

/// When `op` happened, in ns since the start.
pub fn time_of(op: &Op) -> u64 {
    op.time.unwrap_or(op.index * NS_PER_INDEX)
}

/// One client operation.
#[derive(Clone, Copy, Debug)]
pub struct Span<'a> {
    /// Its invocation.
    pub invoke: &'a Op,
    /// Its completion, if it completed.
    pub complete: Option<&'a Op>,
    /// How it ended.
    pub outcome: Outcome,
}

impl Span<'_> {
    /// Its process id.
    pub fn process(&self) -> u64 {
        match self.invoke.process {
            Process::Client(p) => p,
            Process::Nemesis => 0,
        }
    }

    /// Invocation time, ns.
    pub fn start(&self) -> u64 {
        time_of(self.invoke)
    }

    /// Completion time, ns, if it completed.
    pub fn end(&self) -> Option<u64> {
        self.complete.map(time_of)
    }

    /// Latency, ns, if it completed.
    pub fn latency(&self) -> Option<u64> {
        self.end().map(|e| e.saturating_sub(self.start()))
    }

    /// The value to show: the `ok` completion's, else the invocation's.
    pub fn value(&self) -> &Value {
        match (self.outcome, self.complete) {
            (Outcome::Ok, Some(c)) => &c.value,
            _ => &self.invoke.value,
        }
    }
}

/// A fault in effect from `start` to `end` (ns).
#[derive(Clone, Debug, PartialEq)]
pub struct Interval {
    /// The fault family: partition, loss, kill, pause, clock.
    pub kind: String,
    /// What was done (the start op's completion value, shortened).
    pub label: String,
    /// Start, ns (the start op's invocation).
    pub start: u64,
    /// End, ns (the stop op's completion, or the end of the history).
    pub end: u64,
}

/// The history's spans and intervals.
pub struct Ops<'a> {
    /// Client operations in invocation order.
    pub spans: Vec<Span<'a>>,
    /// Faults in effect, in start order.
    pub intervals: Vec<Interval>,
    /// Time of the last record, ns.
    pub end: u64,
    /// False when the history has no `time` fields.
    pub timed: bool,
}

impl<'a> Ops<'a> {
    /// Pairs the history's records. Unpaired records (a malformed history)
    /// are drawn as crashed ops rather than refused: the report must show
    /// whatever was recorded.
    pub fn new(history: &'a History) -> Ops<'a> {
        let end = history.ops.iter().map(time_of).max().unwrap_or(0);
        Ops {
            spans: spans(history),
            intervals: intervals(history, end),
            end,
            timed: history.ops.iter().any(|o| o.time.is_some()),
        }
    }
}

fn spans(history: &History) -> Vec<Span<'_>> {
    let mut open: BTreeMap<u64, usize> = BTreeMap::new();
    let mut out: Vec<Span<'_>> = Vec::new();
    for op in &history.ops {
        let Process::Client(p) = op.process else {
            continue;
        };
        if op.kind == OpType::Invoke {
            open.insert(p, out.len());
            out.push(Span {
                invoke: op,
                complete: None,
                outcome: Outcome::Info,
            });
        } else if let Some(i) = open.remove(&p) {
            out[i].complete = Some(op);
            out[i].outcome = match op.kind {
                OpType::Ok => Outcome::Ok,
                OpType::Fail => Outcome::Fail,
                _ => Outcome::Info,
            };
        }
    }
    out
}

/// The fault family a nemesis `f` starts, and whether it stops it instead.
fn fault_of(f: &str) -> Option<(&'static str, bool)> {
    Some(match f {
        "start-partition" => ("partition", false),
        "stop-partition" => ("partition", true),
        "start-loss" => ("loss", false),
        "stop-loss" => ("loss", true),
        "kill" => ("kill", false),
        "start" => ("kill", true),
        "pause" => ("pause", false),
        "resume" => ("pause", true),
        "bump-clock" | "strobe-clock" => ("clock", false),
        "reset-clock" => ("clock", true),
        _ => return None,
    })
}

/// Nemesis records come in pairs (both `info`): the invocation, then its
/// completion, whose value says what was done.
fn intervals(history: &History, end: u64) -> Vec<Interval> {
    let nemesis: Vec<&Op> = history.ops.iter().filter(|o| o.is_nemesis()).collect();
    let mut active: BTreeMap<&str, Interval> = BTreeMap::new();
    let mut out = Vec::new();
    for pair in nemesis.chunks(2) {
        let (inv, done) = (pair[0], pair.get(1).copied());
        let until = done.map_or(end, time_of);
        if inv.f == "heal" {
            out.extend(std::mem::take(&mut active).into_values().map(|mut i| {
                i.end = until;
                i
            }));
            continue;
        }
        match fault_of(&inv.f) {
            Some((kind, true)) => {
                if let Some(mut i) = active.remove(kind) {
                    i.end = until;
                    out.push(i);
                }
            }
            Some((kind, false)) => {
                let label = done.map_or_else(|| inv.f.clone(), |d| describe(kind, &d.value));
                active.entry(kind).or_insert(Interval {
                    kind: kind.to_string(),
                    label,
                    start: time_of(inv),
                    end,
                });
            }
            None => {}
        }
    }
    out.extend(active.into_values());
    out.sort_by_key(|i| i.start);
    out
}

/// A short label for what a fault op did.
fn describe(kind: &str, value: &Value) -> String {
    let text = match value {
        Value::Object(m) if m.contains_key("shape") => format!("{kind} {}", compact(&m["shape"])),
        Value::Null => kind.to_string(),
        v => format!("{kind} {}", compact(v)),
    };
    shorten(&text, 48)
}

/// `v` as compact JSON, strings without quotes.
pub fn compact(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        v => v.to_string(),
    }
}

/// `s` cut to at most `max` characters, with an ellipsis when cut.
pub fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn nemesis(f: &str, value: Value, t: u64) -> Op {
        Op {
            process: Process::Nemesis,
            ..Op::new(0, OpType::Info, f, value).at(t)
        }
    }

    #[test]
    fn faults_pair_into_intervals_and_heal_ends_them_all() {
        let ops = vec![
            nemesis("start-partition", Value::Null, 10),
            nemesis("start-partition", json!({"shape": "halves"}), 12),
            nemesis("kill", Value::Null, 20),
            nemesis("kill", json!(["n1"]), 21),
            nemesis("stop-partition", Value::Null, 30),
            nemesis("stop-partition", json!("healed"), 31),
            nemesis("heal", Value::Null, 40),
            nemesis("heal", json!("healed"), 45),
        ];
        let h = History::from_ops("t", ops);
        let got = Ops::new(&h).intervals;
        assert_eq!(got.len(), 2);
        assert_eq!((got[0].start, got[0].end), (10, 31));
        assert_eq!(got[0].label, "partition halves");
        assert_eq!((got[1].kind.as_str(), got[1].end), ("kill", 45));
        assert_eq!(got[1].label, "kill [\"n1\"]");
    }

    #[test]
    fn spans_pair_by_process_and_keep_crashed_ops() {
        let ops = vec![
            Op::new(1, OpType::Invoke, "read", Value::Null).at(5),
            Op::new(2, OpType::Invoke, "write", json!(3)).at(6),
            Op::new(1, OpType::Ok, "read", json!(3)).at(9),
        ];
        let h = History::from_ops("t", ops);
        let o = Ops::new(&h);
        assert_eq!(o.spans.len(), 2);
        assert_eq!(o.spans[0].latency(), Some(4));
        assert_eq!(o.spans[0].value(), &json!(3));
        assert_eq!(o.spans[1].outcome, Outcome::Info);
        assert_eq!(o.end, 9);
    }
}
