//! The counter checker, after Jepsen's `checker/counter`: a counter starts
//! at zero, `add n` changes it by `n`, and a `read` returns its value.
//! Every read must lie between the least and the greatest value the counter
//! could have held while the read ran:
//!
//! - the lower bound counts every increment known to have completed when
//!   the read was invoked, and every decrement that might have happened by
//!   the time it completed;
//! - the upper bound counts every increment that might have happened by
//!   the read's completion, and every decrement known to have completed
//!   when it was invoked.
//!
//! "Might have happened" is every add invoked and not `fail`ed (an `info`
//! add may take effect at any time). Jepsen's checker allows increments
//! only; with decrements the bounds above are the same argument mirrored.
//! The bounds are necessary, not sufficient: with adds of different sizes
//! a value inside them may still be unreachable (see the property tests,
//! which compare against every subset of the uncertain adds).

use crate::history::{History, HistoryError, OpType, Outcome, Process};
use crate::tally::{bad_value, integer, Sample};
use crate::Verdict;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// One read and the bounds it had to lie within.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoundedRead {
    /// History index of the read's completion.
    pub index: u64,
    /// History index of its invocation.
    pub invoke_index: u64,
    /// Its process.
    pub process: Process,
    /// The least value the counter could have held.
    pub lower: i64,
    /// What it read.
    pub value: i64,
    /// The greatest value the counter could have held.
    pub upper: i64,
}

impl BoundedRead {
    /// True when the read lies within its bounds.
    pub fn ok(&self) -> bool {
        self.lower <= self.value && self.value <= self.upper
    }

    /// How far outside its bounds the read lies (0 inside).
    pub fn error(&self) -> i64 {
        (self.lower - self.value)
            .max(self.value - self.upper)
            .max(0)
    }
}

/// The counter checker's answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CounterResult {
    /// Invalid when some read lies outside its bounds; unknown when no
    /// read succeeded.
    pub verdict: Verdict,
    /// Reads that completed `ok`.
    pub reads: usize,
    /// Adds invoked.
    pub adds: usize,
    /// Adds that completed `ok`.
    pub acknowledged_adds: usize,
    /// The reads outside their bounds, in history order.
    pub errors: Sample<BoundedRead>,
    /// The read furthest outside its bounds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worst: Option<BoundedRead>,
    /// The last read and its bounds (for the final value).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<BoundedRead>,
}

/// Running sums of the adds: those known to have happened and those that
/// may have, increments and decrements apart.
#[derive(Clone, Copy, Default)]
struct Sums {
    up_done: i64,
    down_done: i64,
    up_may: i64,
    down_may: i64,
}

impl Sums {
    /// The bounds of a read invoked when the sums were `at_invoke` and
    /// completed now.
    fn bounds(&self, at_invoke: &Sums) -> (i64, i64) {
        (
            at_invoke.up_done.saturating_add(self.down_may),
            self.up_may.saturating_add(at_invoke.down_done),
        )
    }
}

/// Checks `history` as a counter.
pub fn check(history: &History) -> Result<CounterResult, HistoryError> {
    let ops = history.operations()?;
    let failed: HashMap<usize, bool> = ops
        .iter()
        .map(|o| (o.invoke, o.outcome == Outcome::Fail))
        .collect();
    let invoke_of: HashMap<usize, usize> = ops
        .iter()
        .filter_map(|o| Some((o.complete?, o.invoke)))
        .collect();
    let mut b = Sums::default();
    let mut pending: HashMap<u64, Sums> = HashMap::new();
    let mut r = CounterResult {
        verdict: Verdict::Valid,
        reads: 0,
        adds: 0,
        acknowledged_adds: 0,
        errors: Sample::default(),
        worst: None,
        last: None,
    };
    for (pos, op) in history.ops.iter().enumerate() {
        let Process::Client(p) = op.process else {
            continue;
        };
        let num =
            |v| integer(v, &format!("{} value", op.f)).map_err(|e| bad_value(history, pos, e));
        match (op.f.as_str(), op.kind) {
            ("add", OpType::Invoke) => {
                r.adds += 1;
                let n = num(&op.value)?;
                if !failed.get(&pos).copied().unwrap_or(false) {
                    b.may(n);
                }
            }
            ("add", OpType::Ok) => {
                r.acknowledged_adds += 1;
                let inv = invoke_of.get(&pos).copied().unwrap_or(pos);
                b.did(num(&history.ops[inv].value)?);
            }
            ("read", OpType::Invoke) => {
                pending.insert(p, b);
            }
            ("read", OpType::Ok) => {
                let value = num(&op.value)?;
                let inv = invoke_of.get(&pos).copied().unwrap_or(pos);
                let (lower, upper) = b.bounds(&pending.remove(&p).unwrap_or(b));
                let read = BoundedRead {
                    index: op.index,
                    invoke_index: history.ops[inv].index,
                    process: op.process,
                    lower,
                    value,
                    upper,
                };
                record(&mut r, read);
            }
            ("read", _) => {
                pending.remove(&p);
            }
            _ => {}
        }
    }
    r.verdict = match () {
        _ if !r.errors.is_empty() => Verdict::Invalid,
        _ if r.reads == 0 => Verdict::Unknown,
        _ => Verdict::Valid,
    };
    Ok(r)
}

impl Sums {
    /// An add of `n` was invoked and did not fail: it may happen.
    fn may(&mut self, n: i64) {
        match n >= 0 {
            true => self.up_may = self.up_may.saturating_add(n),
            false => self.down_may = self.down_may.saturating_add(n),
        }
    }

    /// An add of `n` completed: it happened.
    fn did(&mut self, n: i64) {
        match n >= 0 {
            true => self.up_done = self.up_done.saturating_add(n),
            false => self.down_done = self.down_done.saturating_add(n),
        }
    }
}

fn record(r: &mut CounterResult, read: BoundedRead) {
    r.reads += 1;
    if !read.ok() {
        if r.worst.as_ref().is_none_or(|w| read.error() > w.error()) {
            r.worst = Some(read.clone());
        }
        r.errors.push(read.clone());
    }
    r.last = Some(read);
}

impl std::fmt::Display for CounterResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{}: {} reads, {} of them out of bounds; {} adds, {} acknowledged",
            self.verdict, self.reads, self.errors.count, self.adds, self.acknowledged_adds
        )?;
        for e in &self.errors.items {
            writeln!(f, "{}", describe(e))?;
        }
        if let Some(last) = &self.last {
            writeln!(f, "last read: {}", describe(last))?;
        }
        Ok(())
    }
}

/// A read in words: `process 3 read 7 at index 40, outside [8, 12]`.
pub fn describe(r: &BoundedRead) -> String {
    format!(
        "process {} read {} (index {}), {} [{}, {}]",
        r.process,
        r.value,
        r.index,
        if r.ok() { "within" } else { "outside" },
        r.lower,
        r.upper
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::history;
    use serde_json::json;

    #[test]
    fn reads_within_their_bounds_are_valid() {
        let h = history(&[
            (0, "invoke", "add", json!(1)),
            (1, "invoke", "read", json!(null)),
            (0, "ok", "add", json!(1)),
            (1, "ok", "read", json!(0)),
            (1, "invoke", "read", json!(null)),
            (1, "ok", "read", json!(1)),
        ]);
        let r = check(&h).unwrap();
        assert_eq!((r.verdict, r.reads), (Verdict::Valid, 2), "{r}");
        assert_eq!(r.last.as_ref().map(|l| (l.lower, l.upper)), Some((1, 1)));
    }

    #[test]
    fn a_read_below_the_completed_adds_is_invalid() {
        let h = history(&[
            (0, "invoke", "add", json!(2)),
            (0, "ok", "add", json!(2)),
            (1, "invoke", "read", json!(null)),
            (1, "ok", "read", json!(1)),
        ]);
        let r = check(&h).unwrap();
        assert_eq!(r.verdict, Verdict::Invalid);
        assert_eq!(r.errors.items[0].error(), 1);
        assert!(
            r.to_string()
                .contains("process 1 read 1 (index 3), outside [2, 2]"),
            "{r}"
        );
    }

    #[test]
    fn a_read_above_every_attempted_add_is_invalid_and_failed_adds_never_count() {
        let h = history(&[
            (0, "invoke", "add", json!(1)),
            (0, "fail", "add", json!(1)),
            (2, "invoke", "add", json!(5)),
            (2, "info", "add", json!(5)),
            (1, "invoke", "read", json!(null)),
            (1, "ok", "read", json!(6)),
        ]);
        let r = check(&h).unwrap();
        assert_eq!(r.verdict, Verdict::Invalid);
        assert_eq!(r.worst.as_ref().map(|w| (w.lower, w.upper)), Some((0, 5)));
    }

    #[test]
    fn decrements_mirror_the_bounds() {
        let h = history(&[
            (0, "invoke", "add", json!(3)),
            (0, "ok", "add", json!(3)),
            (2, "invoke", "add", json!(-2)),
            (1, "invoke", "read", json!(null)),
            (1, "ok", "read", json!(1)),
            (1, "invoke", "read", json!(null)),
            (1, "ok", "read", json!(0)),
        ]);
        let r = check(&h).unwrap();
        assert_eq!(r.errors.count, 1, "{r}");
        assert_eq!((r.errors.items[0].lower, r.errors.items[0].upper), (1, 3));
    }

    #[test]
    fn a_decrement_invoked_during_a_read_may_lower_it() {
        let h = history(&[
            (0, "invoke", "add", json!(2)),
            (0, "ok", "add", json!(2)),
            (1, "invoke", "read", json!(null)),
            (2, "invoke", "add", json!(-2)),
            (1, "ok", "read", json!(0)),
        ]);
        assert_eq!(check(&h).unwrap().verdict, Verdict::Valid);
    }

    #[test]
    fn no_successful_read_is_unknown_and_bad_values_are_errors() {
        let h = history(&[(0, "invoke", "add", json!(1)), (0, "ok", "add", json!(1))]);
        assert_eq!(check(&h).unwrap().verdict, Verdict::Unknown);
        let h = history(&[(0, "invoke", "add", json!("x"))]);
        let e = check(&h).unwrap_err();
        assert!(
            e.to_string().ends_with("add value \"x\" is not an integer"),
            "{e}"
        );
    }
}
