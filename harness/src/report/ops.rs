//! The history as the report draws it: client operations as spans (invoke
//! to completion, Jepsen's `history/pairs`) and nemesis faults as
//! intervals (Jepsen's `checker/perf` nemesis regions), on one time axis
//! in nanoseconds since the test started.
//!
//! Built one record at a time ([`OpsBuilder`]) from a stream of the
//! history, and holding only what the report draws (about 100 bytes an
//! operation, a history in memory costs four times that), so the report
//! of a long run fits in memory.

use crate::nemesis::{FaultKind, FaultOp, Role};
use checkers::history::Outcome;
use checkers::{History, Op, OpType, Process};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// A history with no `time` fields is drawn one millisecond per record.
const NS_PER_INDEX: u64 = 1_000_000;

/// Values are kept cut to this many characters (the failure drawings show
/// that much; the timeline less; the whole value is in history.jsonl).
pub const VALUE_CHARS: usize = 200;

/// When `op` happened, in ns since the start.
pub fn time_of(op: &Op) -> u64 {
    op.time.unwrap_or(op.index * NS_PER_INDEX)
}

/// One client operation.
#[derive(Clone, Debug)]
pub struct Span {
    /// The `index` of its invocation.
    pub invoke_index: u64,
    /// The `index` of its completion, if it completed.
    pub complete_index: Option<u64>,
    /// Its process id.
    pub process: u64,
    /// Its function.
    pub f: Arc<str>,
    /// Invocation time, ns.
    pub start: u64,
    /// Completion time, ns, if it completed.
    pub end: Option<u64>,
    /// How it ended.
    pub outcome: Outcome,
    /// The value to show (the `ok` completion's, else the invocation's),
    /// as compact JSON cut to [`VALUE_CHARS`].
    pub value: Box<str>,
}

impl Span {
    /// Its process id.
    pub fn process(&self) -> u64 {
        self.process
    }

    /// Invocation time, ns.
    pub fn start(&self) -> u64 {
        self.start
    }

    /// Completion time, ns, if it completed.
    pub fn end(&self) -> Option<u64> {
        self.end
    }

    /// Latency, ns, if it completed.
    pub fn latency(&self) -> Option<u64> {
        self.end.map(|e| e.saturating_sub(self.start))
    }

    /// The value to show.
    pub fn value(&self) -> &str {
        &self.value
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

/// A node's clock offset as the clock nemesis measured it.
#[derive(Clone, Debug, PartialEq)]
pub struct ClockReading {
    /// When, ns (the completion of the clock op that measured it).
    pub time: u64,
    /// The node.
    pub node: String,
    /// How far its clock was off the controller's, ms.
    pub offset_ms: f64,
}

/// A node's data file damaged by the file nemesis, and how the node took
/// it when started again.
#[derive(Clone, Debug, PartialEq)]
pub struct FileOutcome {
    /// When the file was damaged, ns.
    pub time: u64,
    /// The node.
    pub node: String,
    /// What was done (`truncate`, `bitflip`, `snapshot`), to which file.
    pub fault: String,
    /// The file (empty when the fault found none to damage).
    pub file: String,
    /// `started`, `refused to start`, ...; `None` if never started again.
    pub outcome: Option<String>,
    /// The end of the node's log, when it did not stay up.
    pub log_tail: String,
}

impl FileOutcome {
    /// Whether the node did not come back up.
    pub fn refused(&self) -> bool {
        self.outcome
            .as_deref()
            .is_some_and(|o| !o.starts_with("started"))
    }
}

/// The history's spans and intervals.
pub struct Ops {
    /// Client operations in invocation order.
    pub spans: Vec<Span>,
    /// Faults in effect, in start order.
    pub intervals: Vec<Interval>,
    /// Clock offsets measured after clock ops, in time order.
    pub clocks: Vec<ClockReading>,
    /// Data files the file nemesis damaged, in time order.
    pub files: Vec<FileOutcome>,
    /// Time of the last record, ns.
    pub end: u64,
    /// False when the history has no `time` fields.
    pub timed: bool,
}

impl Ops {
    /// Pairs a whole history's records (see [`OpsBuilder`]).
    pub fn new(history: &History) -> Ops {
        let mut b = OpsBuilder::default();
        history.ops.iter().for_each(|op| b.push(op));
        b.finish()
    }
}

/// Builds [`Ops`] from records pushed in history order. Unpaired records
/// (a malformed history) are drawn as crashed ops rather than refused:
/// the report must show whatever was recorded. A history whose records
/// all carry the same time (Elle's examples use `:time 0`) is drawn by
/// position instead, one record per millisecond.
#[derive(Default)]
pub struct OpsBuilder {
    spans: Vec<Span>,
    open: HashMap<u64, usize>,
    fs: HashMap<String, Arc<str>>,
    nemesis: Vec<Nem>,
    first_time: Option<Option<u64>>,
    flat: bool,
    any_time: bool,
    last_index: u64,
    max_time: u64,
}

/// A nemesis record, as the intervals need it.
struct Nem {
    f: String,
    value: Value,
    time: Option<u64>,
    index: u64,
}

impl OpsBuilder {
    /// Adds the next record.
    pub fn push(&mut self, op: &Op) {
        match self.first_time {
            None => {
                self.first_time = Some(op.time);
                self.flat = true;
            }
            Some(t) => self.flat &= t == op.time,
        }
        self.any_time |= op.time.is_some();
        self.last_index = self.last_index.max(op.index);
        self.max_time = self.max_time.max(time_of(op));
        let Process::Client(p) = op.process else {
            self.nemesis.push(Nem {
                f: op.f.clone(),
                value: op.value.clone(),
                time: op.time,
                index: op.index,
            });
            return;
        };
        if op.kind == OpType::Invoke {
            let f = match self.fs.get(op.f.as_str()) {
                Some(f) => Arc::clone(f),
                None => {
                    let f: Arc<str> = Arc::from(op.f.as_str());
                    self.fs.insert(op.f.clone(), Arc::clone(&f));
                    f
                }
            };
            self.open.insert(p, self.spans.len());
            self.spans.push(Span {
                invoke_index: op.index,
                complete_index: None,
                process: p,
                f,
                start: time_of(op),
                end: None,
                outcome: Outcome::Info,
                value: shown(&op.value),
            });
        } else if let Some(i) = self.open.remove(&p) {
            let s = &mut self.spans[i];
            s.complete_index = Some(op.index);
            s.end = Some(time_of(op));
            s.outcome = match op.kind {
                OpType::Ok => Outcome::Ok,
                OpType::Fail => Outcome::Fail,
                _ => Outcome::Info,
            };
            if s.outcome == Outcome::Ok {
                s.value = shown(&op.value);
            }
        }
    }

    /// The spans and intervals of every record pushed.
    pub fn finish(mut self) -> Ops {
        let untimed = self.flat && self.first_time.is_some();
        let by_index = |i: u64| i * NS_PER_INDEX;
        if untimed {
            for s in &mut self.spans {
                s.start = by_index(s.invoke_index);
                s.end = s.complete_index.map(by_index);
            }
        }
        let at = |n: &Nem| match (untimed, n.time) {
            (false, Some(t)) => t,
            _ => by_index(n.index),
        };
        let end = match untimed {
            true => by_index(self.last_index),
            false => self.max_time,
        };
        Ops {
            intervals: intervals(&self.nemesis, end, at),
            clocks: clock_readings(&self.nemesis, at),
            files: file_outcomes(&self.nemesis, at),
            spans: self.spans,
            end,
            timed: self.any_time && !untimed,
        }
    }
}

/// The value a span shows.
fn shown(v: &Value) -> Box<str> {
    shorten(&compact(v), VALUE_CHARS).into_boxed_str()
}

/// What a nemesis `f` does (the nemesis's own vocabulary); `None` for an
/// op it does not know.
fn fault_of(f: &str) -> Option<Role> {
    f.parse::<FaultOp>().ok().map(FaultOp::role)
}

/// Nemesis records come in pairs (both `info`): the invocation, then its
/// completion, whose value says what was done.
fn intervals(nemesis: &[Nem], end: u64, at: impl Fn(&Nem) -> u64) -> Vec<Interval> {
    let mut active: BTreeMap<FaultKind, Interval> = BTreeMap::new();
    let mut out = Vec::new();
    for pair in nemesis.chunks(2) {
        let (inv, done) = (&pair[0], pair.get(1));
        let until = done.map_or(end, &at);
        match fault_of(&inv.f) {
            Some(Role::HealsAll) => {
                out.extend(std::mem::take(&mut active).into_values().map(|mut i| {
                    i.end = until;
                    i
                }));
            }
            Some(Role::Stops(kind)) => {
                if let Some(mut i) = active.remove(&kind) {
                    i.end = until;
                    out.push(i);
                }
            }
            Some(Role::Starts(kind)) => {
                let label = done.map_or_else(|| inv.f.clone(), |d| describe(kind, &d.value));
                active.entry(kind).or_insert(Interval {
                    kind: kind.to_string(),
                    label,
                    start: at(inv),
                    end,
                });
            }
            Some(Role::Observes(_)) | None => {}
        }
    }
    out.extend(active.into_values());
    out.sort_by_key(|i| i.start);
    out
}

/// The offsets measured after clock ops (`measured_offsets_ms` in a
/// nemesis completion's value), each at the time of its record.
fn clock_readings(nemesis: &[Nem], at: impl Fn(&Nem) -> u64) -> Vec<ClockReading> {
    let mut out: Vec<ClockReading> = nemesis
        .iter()
        .filter_map(|n| Some((n, n.value.get("measured_offsets_ms")?.as_object()?)))
        .flat_map(|(n, measured)| {
            let time = at(n);
            measured.iter().filter_map(move |(node, v)| {
                let offset_ms = v.as_f64().filter(|o| o.is_finite())?;
                Some(ClockReading {
                    time,
                    node: node.clone(),
                    offset_ms,
                })
            })
        })
        .collect();
    out.sort_by_key(|r| r.time);
    out
}

/// The files `corrupt-files` completions damaged, each with the outcome
/// the next completion that started its node (`start-corrupted` or the
/// heal, whose value has `started`) recorded.
fn file_outcomes(nemesis: &[Nem], at: impl Fn(&Nem) -> u64) -> Vec<FileOutcome> {
    let mut out: Vec<FileOutcome> = Vec::new();
    let mut down: BTreeMap<String, usize> = BTreeMap::new();
    let text = |v: &Value| v.as_str().map(str::to_string).unwrap_or_default();
    for n in nemesis {
        if n.f == FaultOp::CorruptFiles.name() {
            for (node, v) in n
                .value
                .get("nodes")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                down.insert(node.clone(), out.len());
                out.push(FileOutcome {
                    time: at(n),
                    node: node.clone(),
                    fault: text(&v["fault"]),
                    file: text(&v["file"]),
                    outcome: None,
                    log_tail: String::new(),
                });
            }
        }
        for (node, v) in n
            .value
            .get("started")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            if let Some(i) = down.remove(node) {
                out[i].outcome = Some(text(&v["outcome"]));
                out[i].log_tail = text(&v["log_tail"]);
            }
        }
    }
    out
}

/// A short label for what a fault op did.
fn describe(kind: FaultKind, value: &Value) -> String {
    let text = match value {
        Value::Object(m) if kind == FaultKind::File && m.contains_key("nodes") => {
            let hit = m["nodes"].as_object().into_iter().flatten();
            let hit: Vec<String> = hit
                .map(|(n, v)| format!("{n} {}", compact(&v["fault"])))
                .collect();
            format!("{kind} {}", hit.join(", "))
        }
        Value::Object(m) if m.contains_key("shape") => format!("{kind} {}", compact(&m["shape"])),
        Value::Object(m) if m.contains_key("strobe") => {
            let delta = m["strobe"]["delta_ms"].as_i64().unwrap_or(0);
            format!(
                "{kind} strobe ±{delta} ms on {}",
                nodes_of(&m["offsets_ms"])
            )
        }
        Value::Object(m) if kind == FaultKind::Clock && m.contains_key("offsets_ms") => {
            let moved = m["offsets_ms"].as_object().into_iter().flatten();
            let moved: Vec<String> = moved
                .map(|(n, o)| format!("{n} {:+} ms", o.as_i64().unwrap_or(0)))
                .collect();
            format!("{kind} bump {}", moved.join(", "))
        }
        Value::Null => kind.to_string(),
        v => format!("{kind} {}", compact(v)),
    };
    shorten(&text, 48)
}

/// The keys of a JSON object, space-separated.
fn nodes_of(v: &Value) -> String {
    v.as_object()
        .map(|m| m.keys().cloned().collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
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
pub(super) mod tests {
    use super::*;
    use serde_json::json;

    /// A nemesis record of `f` at `t` ns (the report's plots use it too).
    pub(in crate::report) fn nemesis(f: &str, value: Value, t: u64) -> Op {
        Op {
            process: Process::Nemesis,
            ..Op::new(0, OpType::Info, f, value).at(t)
        }
    }

    #[test]
    fn clock_ops_give_bands_labelled_by_what_they_did_and_measured_offsets() {
        let strobe = json!({
            "strobe": {"delta_ms": 200, "period_ms": 10, "duration_ms": 100},
            "flips": 10,
            "offsets_ms": {"n1": 0, "n2": 0},
            "measured_offsets_ms": {"n1": 1.5, "n2": -0.5}
        });
        let ops = vec![
            nemesis("bump-clock", Value::Null, 10),
            nemesis(
                "bump-clock",
                json!({"offsets_ms": {"n1": 900}, "measured_offsets_ms": {"n1": 901.25}}),
                12,
            ),
            nemesis("reset-clock", Value::Null, 20),
            nemesis(
                "reset-clock",
                json!({"offsets_ms": {"n1": 0}, "measured_offsets_ms": {"n1": "?"}}),
                21,
            ),
            nemesis("strobe-clock", Value::Null, 30),
            nemesis("strobe-clock", strobe, 35),
        ];
        let got = Ops::new(&History::from_ops("t", ops));
        let labels: Vec<&str> = got.intervals.iter().map(|i| i.label.as_str()).collect();
        assert_eq!(
            labels,
            ["clock bump n1 +900 ms", "clock strobe ±200 ms on n1 n2"]
        );
        let readings: Vec<(u64, &str, f64)> = got
            .clocks
            .iter()
            .map(|r| (r.time, r.node.as_str(), r.offset_ms))
            .collect();
        assert_eq!(
            readings,
            [(12, "n1", 901.25), (35, "n1", 1.5), (35, "n2", -0.5)]
        );
    }

    #[test]
    fn file_faults_give_a_band_and_each_node_its_outcome_from_the_next_start() {
        let corrupt =
            |n: &str, fault: &str| json!({"fault": fault, "file": format!("/d/{n}/wal.log")});
        let ops = vec![
            nemesis("corrupt-files", Value::Null, 10),
            nemesis(
                "corrupt-files",
                json!({"targets": "majority", "nodes": {"n1": corrupt("n1", "truncate"), "n2": corrupt("n2", "bitflip")}}),
                12,
            ),
            nemesis("start-corrupted", Value::Null, 20),
            nemesis(
                "start-corrupted",
                json!({"started": {"n1": {"outcome": "started"}}}),
                24,
            ),
            nemesis("heal", Value::Null, 30),
            nemesis(
                "heal",
                json!({"started": {"n2": {"outcome": "refused to start", "log_tail": "panic: crc"}}}),
                33,
            ),
        ];
        let got = Ops::new(&History::from_ops("t", ops));
        let bands: Vec<(&str, &str, u64, u64)> = got
            .intervals
            .iter()
            .map(|i| (i.kind.as_str(), i.label.as_str(), i.start, i.end))
            .collect();
        assert_eq!(bands, [("file", "file n1 truncate, n2 bitflip", 10, 24)]);
        let files: Vec<(&str, &str, Option<&str>, bool)> = got
            .files
            .iter()
            .map(|f| {
                (
                    f.node.as_str(),
                    f.fault.as_str(),
                    f.outcome.as_deref(),
                    f.refused(),
                )
            })
            .collect();
        assert_eq!(
            files,
            [
                ("n1", "truncate", Some("started"), false),
                ("n2", "bitflip", Some("refused to start"), true)
            ]
        );
        assert_eq!(got.files[1].log_tail, "panic: crc");
        let line = crate::report::summary::with_refusals(
            crate::report::summary::VerdictLine {
                verdict: "valid".into(),
                why: "ok.".into(),
            },
            &got.files,
        );
        assert_eq!(
            line.why,
            "ok. After file faults, these nodes refused to start: n2 (bitflip of /d/n2/wal.log) (see File faults)."
        );
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
    fn a_history_whose_records_share_one_time_is_drawn_by_position() {
        let ops = vec![
            Op::new(1, OpType::Invoke, "read", Value::Null).at(0),
            Op::new(1, OpType::Ok, "read", json!(1)).at(0),
            nemesis("kill", Value::Null, 0),
            nemesis("kill", json!(["n1"]), 0),
        ];
        let o = Ops::new(&History::from_ops("t", ops));
        assert!(!o.timed);
        assert_eq!((o.spans[0].start, o.spans[0].end), (0, Some(1_000_000)));
        assert_eq!((o.intervals[0].start, o.end), (2_000_000, 3_000_000));
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
        assert_eq!(o.spans[0].value(), "3");
        assert_eq!(o.spans[1].outcome, Outcome::Info);
        assert_eq!(o.end, 9);
    }
}
