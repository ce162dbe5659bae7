//! The total-queue checker, after Jepsen's `checker/total-queue`: what goes
//! in must come out. Every `enqueue` that completed `ok` must be dequeued,
//! nothing may be dequeued that was never enqueued, and elements dequeued
//! more often than they were enqueued are duplicates. Order is not judged
//! (that is the linearizable queue model's job). A `drain` that completed
//! `ok` counts as one dequeue per element it returned; a `dequeue` on an
//! empty queue completes `fail`. The history must drain the queue at the
//! end, or acknowledged elements still queued count as lost.
//!
//! A `dequeue` that did not complete (`info`) may have taken one element
//! nobody saw: acknowledged elements missing from every dequeue are lost
//! only beyond what those crashed dequeues could have taken (Jepsen's
//! checker counts them all as lost). A `drain` that did not complete took
//! an unknown set of elements with it: the answer is then `unknown`.
//!
//! Invalid on lost or unexpected elements; duplicates are reported (Jepsen
//! allows at-least-once delivery) and make it invalid only when
//! `allow_duplicates` is off.

use crate::history::{History, HistoryError, Outcome};
use crate::tally::{bad_value, key_of, Sample};
use crate::Verdict;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// How to check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QueueOptions {
    /// Elements dequeued more often than enqueued are allowed
    /// (at-least-once delivery, as Jepsen's checker assumes).
    pub allow_duplicates: bool,
}

impl Default for QueueOptions {
    fn default() -> Self {
        QueueOptions {
            allow_duplicates: true,
        }
    }
}

/// An element and how many times it is in a finding.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Counted {
    /// The element.
    pub element: Value,
    /// How many times.
    pub times: usize,
}

/// The total-queue checker's answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QueueResult {
    /// See the module doc.
    pub verdict: Verdict,
    /// Enqueues invoked, acknowledged, and dequeued elements that had an
    /// enqueue.
    pub attempt_count: usize,
    pub acknowledged_count: usize,
    pub ok_count: usize,
    /// Acknowledged but never dequeued.
    pub lost: Sample<Counted>,
    /// Dequeued but never enqueued.
    pub unexpected: Sample<Counted>,
    /// Dequeued more often than enqueued.
    pub duplicated: Sample<Counted>,
    /// Dequeued although their enqueue's outcome was unknown.
    pub recovered_count: usize,
    /// Dequeues that did not complete: each may have taken a lost element.
    pub crashed_dequeues: usize,
    /// Why the answer is unknown, when it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unknown: Option<String>,
}

/// A multiset of elements by JSON text.
type Bag = BTreeMap<String, (Value, usize)>;

fn put(bag: &mut Bag, v: &Value) {
    bag.entry(key_of(v)).or_insert((v.clone(), 0)).1 += 1;
}

fn count(bag: &Bag, k: &str) -> usize {
    bag.get(k).map_or(0, |(_, n)| *n)
}

/// Checks `history` as a queue.
pub fn check(history: &History, opts: &QueueOptions) -> Result<QueueResult, HistoryError> {
    let (mut attempts, mut enqueues, mut dequeues) = (Bag::new(), Bag::new(), Bag::new());
    let (mut unknown, mut crashed) = (None, 0);
    for o in history.operations()? {
        let inv = &history.ops[o.invoke];
        let done = o.complete.map(|c| (c, &history.ops[c]));
        match (inv.f.as_str(), o.outcome, done) {
            ("enqueue", outcome, _) => {
                put(&mut attempts, &inv.value);
                if outcome == Outcome::Ok {
                    put(&mut enqueues, &inv.value);
                }
            }
            ("dequeue", Outcome::Ok, Some((_, d))) => put(&mut dequeues, &d.value),
            ("dequeue", Outcome::Info, _) => crashed += 1,
            ("drain", Outcome::Ok, Some((c, d))) => {
                let list = d.value.as_array().ok_or_else(|| {
                    bad_value(history, c, format!("drain value {} is not a list", d.value))
                })?;
                list.iter().for_each(|v| put(&mut dequeues, v));
            }
            ("drain", Outcome::Info, _) => {
                unknown.get_or_insert_with(|| {
                    format!(
                        "the drain invoked at index {} did not complete: the elements it took are unknown",
                        inv.index
                    )
                });
            }
            _ => {}
        }
    }
    Ok(conclude(
        opts, &attempts, &enqueues, &dequeues, unknown, crashed,
    ))
}

fn conclude(
    opts: &QueueOptions,
    attempts: &Bag,
    enqueues: &Bag,
    dequeues: &Bag,
    unknown: Option<String>,
    crashed: usize,
) -> QueueResult {
    let (mut lost, mut unexpected, mut duplicated) =
        (Sample::default(), Sample::default(), Sample::default());
    let (mut ok_count, mut recovered_count, mut missing_total) = (0, 0, 0);
    for (k, (v, n)) in dequeues {
        let tried = count(attempts, k);
        if tried == 0 {
            unexpected.push(Counted {
                element: v.clone(),
                times: *n,
            });
            continue;
        }
        let ok = (*n).min(tried);
        ok_count += ok;
        recovered_count += ok.saturating_sub(count(enqueues, k));
        if *n > tried {
            duplicated.push(Counted {
                element: v.clone(),
                times: n - tried,
            });
        }
    }
    for (k, (v, n)) in enqueues {
        let missing = n.saturating_sub(count(dequeues, k));
        missing_total += missing;
        if missing > 0 {
            lost.push(Counted {
                element: v.clone(),
                times: missing,
            });
        }
    }
    // Each crashed dequeue may have taken one of the missing elements.
    let broken = missing_total > crashed || (!opts.allow_duplicates && !duplicated.is_empty());
    let verdict = match () {
        _ if !unexpected.is_empty() => Verdict::Invalid,
        _ if unknown.is_some() => Verdict::Unknown,
        _ if broken => Verdict::Invalid,
        _ => Verdict::Valid,
    };
    QueueResult {
        verdict,
        attempt_count: attempts.values().map(|(_, n)| n).sum(),
        acknowledged_count: enqueues.values().map(|(_, n)| n).sum(),
        ok_count,
        lost,
        unexpected,
        duplicated,
        recovered_count,
        crashed_dequeues: crashed,
        unknown,
    }
}

impl std::fmt::Display for QueueResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{}: {} enqueues attempted, {} acknowledged, {} dequeued; {} lost, {} unexpected, {} duplicated, {} recovered; {} dequeues crashed",
            self.verdict,
            self.attempt_count,
            self.acknowledged_count,
            self.ok_count,
            self.lost.count,
            self.unexpected.count,
            self.duplicated.count,
            self.recovered_count,
            self.crashed_dequeues
        )?;
        if let Some(why) = &self.unknown {
            writeln!(f, "unknown: {why}")?;
        }
        for (what, s) in [
            ("lost", &self.lost),
            ("unexpected", &self.unexpected),
            ("duplicated", &self.duplicated),
        ] {
            if !s.is_empty() {
                let items: Vec<String> = s
                    .items
                    .iter()
                    .map(|c| format!("{} ×{}", c.element, c.times))
                    .collect();
                writeln!(f, "{what}: {}", items.join(", "))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::history;
    use serde_json::json;

    fn run(records: &[(u64, &str, &str, Value)]) -> QueueResult {
        check(&history(records), &QueueOptions::default()).unwrap()
    }

    #[test]
    fn everything_enqueued_comes_out_once() {
        let r = run(&[
            (0, "invoke", "enqueue", json!(1)),
            (0, "ok", "enqueue", json!(1)),
            (1, "invoke", "enqueue", json!(2)),
            (1, "info", "enqueue", json!(2)),
            (0, "invoke", "dequeue", json!(null)),
            (0, "ok", "dequeue", json!(2)),
            (0, "invoke", "drain", json!(null)),
            (0, "ok", "drain", json!([1])),
            (0, "invoke", "dequeue", json!(null)),
            (0, "fail", "dequeue", json!(null)),
        ]);
        assert_eq!(
            (r.verdict, r.ok_count, r.recovered_count),
            (Verdict::Valid, 2, 1),
            "{r}"
        );
    }

    #[test]
    fn lost_unexpected_and_duplicated_elements_are_found() {
        let r = run(&[
            (0, "invoke", "enqueue", json!(1)),
            (0, "ok", "enqueue", json!(1)),
            (0, "invoke", "enqueue", json!(2)),
            (0, "ok", "enqueue", json!(2)),
            (1, "invoke", "dequeue", json!(null)),
            (1, "ok", "dequeue", json!(2)),
            (1, "invoke", "dequeue", json!(null)),
            (1, "ok", "dequeue", json!(2)),
            (1, "invoke", "dequeue", json!(null)),
            (1, "ok", "dequeue", json!(9)),
        ]);
        assert_eq!(r.verdict, Verdict::Invalid);
        assert_eq!(
            r.lost.items,
            vec![Counted {
                element: json!(1),
                times: 1
            }]
        );
        assert_eq!(r.unexpected.items[0].element, json!(9));
        assert_eq!(r.duplicated.items[0].times, 1);
        assert!(r.to_string().contains("lost: 1 ×1"), "{r}");
    }

    #[test]
    fn duplicates_alone_are_invalid_only_when_not_allowed() {
        let records = [
            (0, "invoke", "enqueue", json!(1)),
            (0, "ok", "enqueue", json!(1)),
            (1, "invoke", "drain", json!(null)),
            (1, "ok", "drain", json!([1, 1])),
        ];
        assert_eq!(run(&records).verdict, Verdict::Valid);
        let strict = QueueOptions {
            allow_duplicates: false,
        };
        assert_eq!(
            check(&history(&records), &strict).unwrap().verdict,
            Verdict::Invalid
        );
    }

    #[test]
    fn a_crashed_dequeue_may_have_taken_one_lost_element() {
        let mut records = vec![
            (0, "invoke", "enqueue", json!(1)),
            (0, "ok", "enqueue", json!(1)),
            (0, "invoke", "enqueue", json!(2)),
            (0, "ok", "enqueue", json!(2)),
            (1, "invoke", "dequeue", json!(null)),
            (1, "info", "dequeue", json!(null)),
        ];
        let r = run(&records);
        assert_eq!(
            (r.verdict, r.lost.count, r.crashed_dequeues),
            (Verdict::Invalid, 2, 1),
            "{r}"
        );
        records.extend([
            (2, "invoke", "dequeue", json!(null)),
            (2, "info", "dequeue", json!(null)),
        ]);
        assert_eq!(run(&records).verdict, Verdict::Valid);
    }

    #[test]
    fn a_crashed_drain_makes_lost_elements_unknowable() {
        let r = run(&[
            (0, "invoke", "enqueue", json!(1)),
            (0, "ok", "enqueue", json!(1)),
            (1, "invoke", "drain", json!(null)),
            (1, "info", "drain", json!(null)),
        ]);
        assert_eq!(r.verdict, Verdict::Unknown);
        assert!(r.unknown.as_ref().unwrap().contains("index 2"));
    }
}
