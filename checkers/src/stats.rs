//! Counts per `f` and outcome (Jepsen's `checker/stats`): how many ops
//! succeeded, failed or are indeterminate. Invalid when some `f` never
//! succeeded: a test in which every write failed tells nothing about
//! safety, and should not pass as if it did.

use crate::history::{History, HistoryError, OpType, Outcome};
use crate::Verdict;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Counts for one `f`, or for all.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Operations (invocations).
    pub count: u64,
    /// Completed `ok`.
    pub ok: u64,
    /// Completed `fail`.
    pub fail: u64,
    /// Completed `info`, or never completed.
    pub info: u64,
}

impl Counts {
    fn merge(&mut self, other: &Counts) {
        self.count += other.count;
        self.ok += other.ok;
        self.fail += other.fail;
        self.info += other.info;
    }

    fn add(&mut self, outcome: Outcome) {
        self.count += 1;
        match outcome {
            Outcome::Ok => self.ok += 1,
            Outcome::Fail => self.fail += 1,
            Outcome::Info => self.info += 1,
        }
    }
}

/// The stats checker's answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StatsResult {
    /// Invalid when some `f` has operations but none succeeded.
    pub verdict: Verdict,
    /// All client operations together.
    pub total: Counts,
    /// Per `f`.
    pub by_f: BTreeMap<String, Counts>,
    /// Nemesis records (faults), not counted above.
    pub nemesis_ops: u64,
}

/// Counts the client operations of `history` by `f` and outcome.
pub fn check(history: &History) -> Result<StatsResult, HistoryError> {
    let mut total = Counts::default();
    let mut by_f: BTreeMap<String, Counts> = BTreeMap::new();
    for op in history.operations()? {
        let f = &history.ops[op.invoke].f;
        total.add(op.outcome);
        by_f.entry(f.clone()).or_default().add(op.outcome);
    }
    let nemesis_ops = history
        .ops
        .iter()
        .filter(|o| o.is_nemesis() && o.kind == OpType::Invoke)
        .count() as u64;
    Ok(StatsResult {
        verdict: verdict_of(&by_f),
        total,
        by_f,
        nemesis_ops,
    })
}

/// The stats of a history from the stats of parts of it that share no
/// operation (a history split by key or by process): counts add up.
pub fn merge(parts: impl IntoIterator<Item = StatsResult>) -> StatsResult {
    let mut total = Counts::default();
    let mut by_f: BTreeMap<String, Counts> = BTreeMap::new();
    let mut nemesis_ops = 0;
    for p in parts {
        total.merge(&p.total);
        for (f, c) in &p.by_f {
            by_f.entry(f.clone()).or_default().merge(c);
        }
        nemesis_ops += p.nemesis_ops;
    }
    StatsResult {
        verdict: verdict_of(&by_f),
        total,
        by_f,
        nemesis_ops,
    }
}

/// Invalid when some `f` has operations but none succeeded.
fn verdict_of(by_f: &BTreeMap<String, Counts>) -> Verdict {
    match by_f.values().any(|c| c.count > 0 && c.ok == 0) {
        true => Verdict::Invalid,
        false => Verdict::Valid,
    }
}

impl std::fmt::Display for StatsResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{:<12} {:>8} {:>8} {:>8} {:>8}",
            "f", "count", "ok", "fail", "info"
        )?;
        for (name, c) in self
            .by_f
            .iter()
            .chain([(&"total".to_string(), &self.total)])
        {
            writeln!(
                f,
                "{name:<12} {:>8} {:>8} {:>8} {:>8}",
                c.count, c.ok, c.fail, c.info
            )?;
        }
        if self.verdict == Verdict::Invalid {
            let starved: Vec<&str> = self
                .by_f
                .iter()
                .filter(|(_, c)| c.ok == 0)
                .map(|(n, _)| n.as_str())
                .collect();
            writeln!(f, "no {} ever succeeded", starved.join(" or "))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Op;
    use serde_json::json;

    #[test]
    fn counts_by_f_and_flags_an_f_that_never_succeeded() {
        let ops = vec![
            Op::new(0, OpType::Invoke, "write", json!(1)),
            Op::new(0, OpType::Ok, "write", json!(1)),
            Op::new(1, OpType::Invoke, "read", json!(null)),
            Op::new(1, OpType::Fail, "read", json!(null)),
            Op::new(2, OpType::Invoke, "read", json!(null)),
        ];
        let r = check(&History::from_ops("t", ops)).unwrap();
        assert_eq!(
            r.by_f["write"],
            Counts {
                count: 1,
                ok: 1,
                fail: 0,
                info: 0
            }
        );
        assert_eq!(
            r.by_f["read"],
            Counts {
                count: 2,
                ok: 0,
                fail: 1,
                info: 1
            }
        );
        assert_eq!(r.verdict, Verdict::Invalid);
        assert!(r.to_string().contains("no read ever succeeded"));
    }
}
