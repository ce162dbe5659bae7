//! The set checker, after Jepsen's `checker/set-full`: `add` ops each add
//! one element, `read` ops return every element present. For each element
//! it builds a timeline from the reads and decides:
//!
//! - *known*: the add completed `ok`, or a read saw the element (the
//!   earlier of the two);
//! - *stable*: some read saw it, and no read invoked later missed it;
//! - *lost*: it was known, and the last read to miss it was invoked after
//!   both the last read that saw it and the moment it became known;
//! - *never read*: neither (no read began after it was known);
//! - *stale*: stable, but a read invoked after it was known missed it: it
//!   took a while to become visible everywhere.
//!
//! Besides Jepsen's outcomes it reports *unexpected* elements (a read saw
//! an element no add could have put there: none was invoked before the
//! read completed, or its add failed) and *duplicated* ones (one read
//! holds an element twice). Invalid on lost, unexpected or duplicated
//! elements, and on stale ones when the set promises linearizable reads;
//! unknown when no element ever became stable (nothing was confirmed).
//! With `independent`, values are `[key, value]` tuples and every key is
//! its own set.

use crate::history::{History, HistoryError, OpType, Process};
use crate::tally::{bad_value, key_of, split_key, Histogram, Quantiles, Sample};
use crate::Verdict;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

/// How to check.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SetOptions {
    /// Values are `[key, value]` tuples: one set per key.
    pub independent: bool,
    /// Reads promise to be linearizable: a stale element is invalid.
    pub linearizable: bool,
}

/// An element, where it was decided.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ElementRef {
    /// The set's key (with independent keys).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<Value>,
    /// The element.
    pub element: Value,
    /// History index of the op that made it known (its add's `ok`, or the
    /// first read that saw it), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub known_index: Option<u64>,
    /// History index of the invocation of the last read that missed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_absent_index: Option<u64>,
    /// Milliseconds from known to stable (stale) or to lost, when the
    /// history has times.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<f64>,
}

/// A read that holds something it should not.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BadRead {
    /// The set's key (with independent keys).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<Value>,
    /// The element.
    pub element: Value,
    /// History index of the read's completion.
    pub read_index: u64,
    /// Its process.
    pub process: Process,
    /// How many times the read holds it (duplicates), or why it cannot be
    /// there (unexpected).
    pub detail: String,
}

/// The set checker's answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SetResult {
    /// Invalid on lost, unexpected or duplicated elements (and stale ones
    /// with `linearizable`); unknown when nothing became stable.
    pub verdict: Verdict,
    /// Sets checked (keys; 1 without independent keys).
    pub keys: usize,
    /// Adds invoked.
    pub attempt_count: usize,
    /// Adds that completed `ok`.
    pub acknowledged_count: usize,
    /// Elements that became stable.
    pub stable_count: usize,
    /// Known elements that later vanished for good.
    pub lost: Sample<ElementRef>,
    /// Elements no read began after they were known.
    pub never_read: Sample<ElementRef>,
    /// Stable elements a read missed after they were known.
    pub stale: Sample<ElementRef>,
    /// The stale elements that took longest to become stable.
    pub worst_stale: Vec<ElementRef>,
    /// Reads holding elements no add could have put there.
    pub unexpected: Sample<BadRead>,
    /// Reads holding an element more than once.
    pub duplicated: Sample<BadRead>,
    /// Milliseconds from known to stable, over stable elements.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stable_latencies: Option<Quantiles>,
    /// Milliseconds from known to lost, over lost elements.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lost_latencies: Option<Quantiles>,
    /// The stable latencies' distribution, in milliseconds.
    pub stable_histogram: Histogram,
}

/// One element's timeline, by history position.
struct Element {
    value: Value,
    /// The add's completion, when it failed: the element cannot appear.
    failed: bool,
    known: Option<usize>,
    last_present: Option<usize>,
    last_absent: Option<usize>,
}

/// One set: its elements by JSON text, in first-add order.
#[derive(Default)]
struct SetState {
    key: Option<Value>,
    elements: BTreeMap<String, Element>,
}

/// Checks `history` as a set.
pub fn check(history: &History, opts: &SetOptions) -> Result<SetResult, HistoryError> {
    let ops = history.operations()?;
    let mut invoke_of: HashMap<usize, usize> = HashMap::new();
    let mut failed_adds: HashMap<usize, bool> = HashMap::new();
    for o in &ops {
        if let Some(c) = o.complete {
            invoke_of.insert(c, o.invoke);
        }
        failed_adds.insert(o.invoke, o.outcome == crate::history::Outcome::Fail);
    }
    let mut sets: BTreeMap<String, SetState> = BTreeMap::new();
    let mut r = Findings::default();
    for (pos, op) in history.ops.iter().enumerate() {
        if op.is_nemesis() {
            continue;
        }
        let (key, v) =
            split_key(&op.value, opts.independent).map_err(|e| bad_value(history, pos, e))?;
        let set = sets.entry(key.map(key_of).unwrap_or_default()).or_default();
        set.key = key.cloned();
        match (op.f.as_str(), op.kind) {
            ("add", OpType::Invoke) => {
                r.attempts += 1;
                let failed = failed_adds.get(&pos).copied().unwrap_or(false);
                set.elements.entry(key_of(v)).or_insert(Element {
                    value: v.clone(),
                    failed,
                    known: None,
                    last_present: None,
                    last_absent: None,
                });
            }
            ("add", OpType::Ok) => {
                r.acknowledged += 1;
                if let Some(e) = set.elements.get_mut(&key_of(v)) {
                    e.known.get_or_insert(pos);
                }
            }
            ("read", OpType::Ok) => {
                let list = v.as_array().ok_or_else(|| {
                    bad_value(history, pos, format!("read value {v} is not a list"))
                })?;
                let inv = invoke_of.get(&pos).copied().unwrap_or(pos);
                read(history, set, list, inv, pos, &mut r);
            }
            _ => {}
        }
    }
    Ok(conclude(history, opts, sets, r))
}

/// What the pass over the history found besides element timelines.
#[derive(Default)]
struct Findings {
    attempts: usize,
    acknowledged: usize,
    unexpected: Sample<BadRead>,
    duplicated: Sample<BadRead>,
}

/// A read of `set` invoked at `inv` and completed at `done` saw `list`.
fn read(
    h: &History,
    set: &mut SetState,
    list: &[Value],
    inv: usize,
    done: usize,
    r: &mut Findings,
) {
    let mut seen: BTreeMap<String, (usize, &Value)> = BTreeMap::new();
    for v in list {
        seen.entry(key_of(v)).or_insert((0, v)).0 += 1;
    }
    let bad = |element: &Value, detail: String| BadRead {
        key: set.key.clone(),
        element: element.clone(),
        read_index: h.ops[done].index,
        process: h.ops[done].process,
        detail,
    };
    for (k, (times, v)) in &seen {
        if *times > 1 {
            r.duplicated.push(bad(v, format!("{times} times")));
        }
        match set.elements.get(k) {
            None => r.unexpected.push(bad(
                v,
                "no add of it was invoked before this read completed".into(),
            )),
            Some(e) if e.failed => r
                .unexpected
                .push(bad(v, "its add failed, so it cannot be there".into())),
            Some(_) => {}
        }
    }
    for (k, e) in set.elements.iter_mut() {
        if seen.contains_key(k) {
            e.known.get_or_insert(done);
            e.last_present = e.last_present.max(Some(inv));
        } else {
            e.last_absent = e.last_absent.max(Some(inv));
        }
    }
}

/// An element's fate.
enum Fate {
    Stable,
    Lost,
    NeverRead,
}

fn fate(e: &Element) -> Fate {
    let before = |a: Option<usize>, b: Option<usize>| a.is_none_or(|a| b.is_some_and(|b| a < b));
    match (e.known, e.last_present, e.last_absent) {
        (_, Some(p), absent) if before(absent, Some(p)) => Fate::Stable,
        (Some(k), present, Some(a)) if before(present, Some(a)) && k < a => Fate::Lost,
        _ => Fate::NeverRead,
    }
}

fn millis(h: &History, from: Option<usize>, to: Option<usize>) -> Option<f64> {
    let t = |p: Option<usize>| p.and_then(|p| h.ops[p].time);
    let (from, to) = (t(from)?, t(to).map(|t| t + 1).unwrap_or(0));
    Some(to.saturating_sub(from) as f64 / 1e6)
}

fn conclude(
    h: &History,
    opts: &SetOptions,
    sets: BTreeMap<String, SetState>,
    r: Findings,
) -> SetResult {
    let index = |p: Option<usize>| p.map(|p| h.ops[p].index);
    let (mut lost, mut never_read, mut stale) =
        (Sample::default(), Sample::default(), Sample::default());
    let (mut stable_count, mut stale_all) = (0, Vec::new());
    let (mut stable_ms, mut lost_ms) = (Vec::new(), Vec::new());
    let keys = sets.len();
    for set in sets.into_values() {
        for e in set.elements.into_values() {
            let mut at = ElementRef {
                key: set.key.clone(),
                element: e.value.clone(),
                known_index: index(e.known),
                last_absent_index: index(e.last_absent),
                latency_ms: None,
            };
            match fate(&e) {
                Fate::Stable => {
                    stable_count += 1;
                    at.latency_ms = millis(h, e.known, e.last_absent);
                    stable_ms.extend(at.latency_ms);
                    if e.known.zip(e.last_absent).is_some_and(|(k, a)| a > k) {
                        stale_all.push(at.clone());
                        stale.push(at);
                    }
                }
                Fate::Lost => {
                    at.latency_ms = millis(h, e.known, e.last_present);
                    lost_ms.extend(at.latency_ms);
                    lost.push(at);
                }
                Fate::NeverRead => never_read.push(at),
            }
        }
    }
    stale_all.sort_by(|a, b| {
        b.latency_ms
            .unwrap_or(0.0)
            .total_cmp(&a.latency_ms.unwrap_or(0.0))
    });
    stale_all.truncate(8);
    let broken = !lost.is_empty() || !r.unexpected.is_empty() || !r.duplicated.is_empty();
    let verdict = match () {
        _ if broken || (opts.linearizable && !stale.is_empty()) => Verdict::Invalid,
        _ if stable_count == 0 => Verdict::Unknown,
        _ => Verdict::Valid,
    };
    SetResult {
        verdict,
        keys,
        attempt_count: r.attempts,
        acknowledged_count: r.acknowledged,
        stable_count,
        lost,
        never_read,
        stale,
        worst_stale: stale_all,
        unexpected: r.unexpected,
        duplicated: r.duplicated,
        stable_histogram: Histogram::millis(stable_ms.iter().copied()),
        stable_latencies: Quantiles::of(stable_ms),
        lost_latencies: Quantiles::of(lost_ms),
    }
}

impl std::fmt::Display for SetResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{}: {} adds attempted, {} acknowledged, {} stable, {} lost, {} never read, {} stale, {} unexpected, {} duplicated ({} set{})",
            self.verdict,
            self.attempt_count,
            self.acknowledged_count,
            self.stable_count,
            self.lost.count,
            self.never_read.count,
            self.stale.count,
            self.unexpected.count,
            self.duplicated.count,
            self.keys,
            if self.keys == 1 { "" } else { "s" }
        )?;
        if let Some(q) = &self.stable_latencies {
            let at = |p| q.at(p).unwrap_or(0.0);
            writeln!(
                f,
                "time to stable: median {:.0} ms, p95 {:.0} ms, max {:.0} ms",
                at(0.5),
                at(0.95),
                at(1.0)
            )?;
        }
        for e in &self.lost.items {
            writeln!(f, "lost: {}", describe(e))?;
        }
        for b in self.unexpected.items.iter().chain(&self.duplicated.items) {
            writeln!(
                f,
                "read at index {} by process {}: {}{} ({})",
                b.read_index,
                b.process,
                b.key
                    .as_ref()
                    .map(|k| format!("key {k}, "))
                    .unwrap_or_default(),
                b.element,
                b.detail
            )?;
        }
        for e in &self.worst_stale {
            writeln!(f, "stale: {}", describe(e))?;
        }
        Ok(())
    }
}

/// An element in words: `key 3, element 17 (known at index 40, missed by the read invoked at 52)`.
pub fn describe(e: &ElementRef) -> String {
    let key = e
        .key
        .as_ref()
        .map(|k| format!("key {k}, "))
        .unwrap_or_default();
    let known = e
        .known_index
        .map(|i| format!("known at index {i}"))
        .unwrap_or_else(|| "never known".into());
    let absent = e
        .last_absent_index
        .map(|i| format!(", missed by the read invoked at index {i}"))
        .unwrap_or_default();
    let ms = e
        .latency_ms
        .map(|ms| format!(", {ms:.0} ms"))
        .unwrap_or_default();
    format!("{key}element {} ({known}{absent}{ms})", e.element)
}

#[cfg(test)]
mod tests;
