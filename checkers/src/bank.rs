//! The bank checker, after Jepsen's `jepsen.tests.bank`: accounts hold
//! balances with a known total; `transfer` ops move an amount from one
//! account to another as one transaction; `read` ops return every balance.
//! Whatever transfers ran, every read must see the whole total, only the
//! accounts there are, a balance for each, and none negative (unless
//! negative balances are allowed). A read that sees a transfer half done
//! (money that appeared or vanished) breaks the total: a read skew, or a
//! transfer that was not atomic; a negative balance is two transfers that
//! each saw enough money where there was only enough for one (write skew).
//!
//! Values: `transfer` `{"from": a, "to": b, "amount": n}`; a `read`
//! completes with `{"<account>": balance, ...}` (EDN maps read as such
//! objects, so Jepsen's histories check as they are).

use crate::history::{History, HistoryError, OpType, Process};
use crate::tally::{bad_value, Sample};
use crate::Verdict;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// How to check.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BankOptions {
    /// The accounts there are, by name (`0`, `1`, ...); `None`: any
    /// account a read names is allowed.
    pub accounts: Option<Vec<String>>,
    /// What every read must add up to.
    pub total: i64,
    /// Balances may go below zero.
    pub negative_balances: bool,
}

impl Default for BankOptions {
    /// Jepsen's bank test: 100 over any accounts, none negative.
    fn default() -> Self {
        BankOptions {
            accounts: None,
            total: 100,
            negative_balances: false,
        }
    }
}

/// An account's name as a string: JSON strings as they are, anything else
/// as its JSON text (so `3` and `"3"`, an EDN map key, agree).
pub fn account_name(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// What is wrong with a read.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Problem {
    /// It names accounts there are not.
    UnexpectedKey { unexpected: Vec<String> },
    /// Some balances are null.
    NilBalance { nils: Vec<String> },
    /// The balances do not add up to the total.
    WrongTotal { total: i64 },
    /// Some balances are negative.
    NegativeValue { negative: Vec<(String, i64)> },
}

impl Problem {
    /// The kebab-case name, as in Jepsen.
    pub fn name(&self) -> &'static str {
        match self {
            Problem::UnexpectedKey { .. } => "unexpected-key",
            Problem::NilBalance { .. } => "nil-balance",
            Problem::WrongTotal { .. } => "wrong-total",
            Problem::NegativeValue { .. } => "negative-value",
        }
    }

    /// How egregious it is, as Jepsen's `err-badness` ranks them.
    fn badness(&self, total: i64) -> f64 {
        match self {
            Problem::UnexpectedKey { unexpected } => unexpected.len() as f64,
            Problem::NilBalance { nils } => nils.len() as f64,
            Problem::WrongTotal { total: t } => ((t - total) as f64 / total.max(1) as f64).abs(),
            Problem::NegativeValue { negative } => {
                -negative.iter().map(|(_, b)| *b as f64).sum::<f64>()
            }
        }
    }
}

/// A read that broke the rules.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BadRead {
    /// History index of the read's completion.
    pub index: u64,
    /// Its process.
    pub process: Process,
    /// Its node, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// What it read.
    pub balances: Value,
    /// What is wrong.
    pub problem: Problem,
}

/// The reads with one kind of problem.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProblemSummary {
    /// How many.
    pub count: usize,
    /// The first, the worst and the last of them.
    pub first: BadRead,
    pub worst: BadRead,
    pub last: BadRead,
}

/// One read's total, for the plot of totals over time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TotalPoint {
    /// Nanoseconds since the start (absent: the history has no times).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<u64>,
    /// History index of the read's completion.
    pub index: u64,
    /// The sum of the balances it read (nulls count as 0).
    pub total: i64,
}

/// At most this many points of the totals plot are kept.
pub const PLOT_POINTS: usize = 4000;

/// The bank checker's answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BankResult {
    /// Invalid when a read broke a rule; unknown when no read succeeded.
    pub verdict: Verdict,
    /// The total every read must see.
    pub total: i64,
    /// Reads that completed `ok`.
    pub read_count: usize,
    /// Transfers invoked and those that completed `ok`.
    pub transfers: usize,
    pub transfers_ok: usize,
    /// Bad reads by kind of problem.
    pub errors: BTreeMap<String, ProblemSummary>,
    /// The first bad reads, in history order.
    pub bad_reads: Sample<BadRead>,
    /// Each read's total (every bad one, and a regular sample of the rest
    /// up to [`PLOT_POINTS`]).
    pub totals: Vec<TotalPoint>,
}

/// Checks `history` as a bank.
pub fn check(history: &History, opts: &BankOptions) -> Result<BankResult, HistoryError> {
    history.operations()?;
    let accounts: Option<BTreeSet<&str>> = opts
        .accounts
        .as_ref()
        .map(|a| a.iter().map(String::as_str).collect());
    let mut r = BankResult {
        verdict: Verdict::Valid,
        total: opts.total,
        read_count: 0,
        transfers: 0,
        transfers_ok: 0,
        errors: BTreeMap::new(),
        bad_reads: Sample::default(),
        totals: Vec::new(),
    };
    let mut points = Vec::new();
    for (pos, op) in history.ops.iter().enumerate() {
        if op.is_nemesis() {
            continue;
        }
        match (op.f.as_str(), op.kind) {
            ("transfer", OpType::Invoke) => r.transfers += 1,
            ("transfer", OpType::Ok) => r.transfers_ok += 1,
            ("read", OpType::Ok) => {
                let balances = op.value.as_object().ok_or_else(|| {
                    bad_value(
                        history,
                        pos,
                        format!("read value {} is not a map of balances", op.value),
                    )
                })?;
                let (sum, problem) = judge(balances, accounts.as_ref(), opts)
                    .map_err(|e| bad_value(history, pos, e))?;
                r.read_count += 1;
                points.push((
                    TotalPoint {
                        time: op.time,
                        index: op.index,
                        total: sum,
                    },
                    problem.is_some(),
                ));
                if let Some(problem) = problem {
                    let bad = BadRead {
                        index: op.index,
                        process: op.process,
                        node: op.node.clone(),
                        balances: op.value.clone(),
                        problem,
                    };
                    summarise(&mut r.errors, &bad, opts.total);
                    r.bad_reads.push(bad);
                }
            }
            _ => {}
        }
    }
    r.totals = thin(points);
    r.verdict = match () {
        _ if !r.bad_reads.is_empty() => Verdict::Invalid,
        _ if r.read_count == 0 => Verdict::Unknown,
        _ => Verdict::Valid,
    };
    Ok(r)
}

/// A read's sum and its first problem, in Jepsen's order of checks.
fn judge(
    balances: &Map<String, Value>,
    accounts: Option<&BTreeSet<&str>>,
    opts: &BankOptions,
) -> Result<(i64, Option<Problem>), String> {
    let mut nums: Vec<(String, Option<i64>)> = Vec::with_capacity(balances.len());
    for (k, v) in balances {
        let n = match v {
            Value::Null => None,
            v => Some(
                v.as_i64()
                    .ok_or_else(|| format!("the balance of {k}, {v}, is not an integer"))?,
            ),
        };
        nums.push((k.clone(), n));
    }
    let sum = nums
        .iter()
        .filter_map(|(_, n)| *n)
        .fold(0i64, i64::saturating_add);
    let unexpected: Vec<String> = match accounts {
        Some(a) => nums
            .iter()
            .filter(|(k, _)| !a.contains(k.as_str()))
            .map(|(k, _)| k.clone())
            .collect(),
        None => Vec::new(),
    };
    let nils: Vec<String> = nums
        .iter()
        .filter(|(_, n)| n.is_none())
        .map(|(k, _)| k.clone())
        .collect();
    let negative: Vec<(String, i64)> = nums
        .iter()
        .filter_map(|(k, n)| n.filter(|n| *n < 0).map(|n| (k.clone(), n)))
        .collect();
    let problem = if !unexpected.is_empty() {
        Some(Problem::UnexpectedKey { unexpected })
    } else if !nils.is_empty() {
        Some(Problem::NilBalance { nils })
    } else if sum != opts.total {
        Some(Problem::WrongTotal { total: sum })
    } else if !opts.negative_balances && !negative.is_empty() {
        Some(Problem::NegativeValue { negative })
    } else {
        None
    };
    Ok((sum, problem))
}

fn summarise(errors: &mut BTreeMap<String, ProblemSummary>, bad: &BadRead, total: i64) {
    let s = errors
        .entry(bad.problem.name().to_string())
        .or_insert_with(|| ProblemSummary {
            count: 0,
            first: bad.clone(),
            worst: bad.clone(),
            last: bad.clone(),
        });
    s.count += 1;
    if bad.problem.badness(total) > s.worst.problem.badness(total) {
        s.worst = bad.clone();
    }
    s.last = bad.clone();
}

/// Every bad point, and every `k`th good one, to stay near [`PLOT_POINTS`].
fn thin(points: Vec<(TotalPoint, bool)>) -> Vec<TotalPoint> {
    let stride = points.len().div_ceil(PLOT_POINTS).max(1);
    points
        .into_iter()
        .enumerate()
        .filter(|(i, (_, bad))| *bad || i % stride == 0)
        .map(|(_, (p, _))| p)
        .take(PLOT_POINTS * 2)
        .collect()
}

impl std::fmt::Display for BankResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{}: {} reads, {} bad; {} transfers, {} ok; every read must total {}",
            self.verdict,
            self.read_count,
            self.bad_reads.count,
            self.transfers,
            self.transfers_ok,
            self.total
        )?;
        for (name, s) in &self.errors {
            writeln!(f, "{name} ×{}: first {}", s.count, describe(&s.first))?;
            if s.worst != s.first {
                writeln!(f, "  worst {}", describe(&s.worst))?;
            }
        }
        Ok(())
    }
}

/// A bad read in words.
pub fn describe(b: &BadRead) -> String {
    let what = match &b.problem {
        Problem::UnexpectedKey { unexpected } => {
            format!("names accounts there are not: {}", unexpected.join(", "))
        }
        Problem::NilBalance { nils } => format!("has no balance for {}", nils.join(", ")),
        Problem::WrongTotal { total } => format!("adds up to {total}"),
        Problem::NegativeValue { negative } => {
            let n: Vec<String> = negative.iter().map(|(k, v)| format!("{k} = {v}")).collect();
            format!("has negative balances: {}", n.join(", "))
        }
    };
    format!(
        "the read by process {} at index {} {what}: {}",
        b.process, b.index, b.balances
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::history;
    use serde_json::json;

    fn opts() -> BankOptions {
        BankOptions {
            accounts: Some(vec!["0".into(), "1".into()]),
            total: 20,
            negative_balances: false,
        }
    }

    fn read(balances: Value) -> BankResult {
        let h = history(&[
            (
                0,
                "invoke",
                "transfer",
                json!({"from": 0, "to": 1, "amount": 3}),
            ),
            (
                0,
                "ok",
                "transfer",
                json!({"from": 0, "to": 1, "amount": 3}),
            ),
            (1, "invoke", "read", json!([0, 1])),
            (1, "ok", "read", balances),
        ]);
        check(&h, &opts()).unwrap()
    }

    #[test]
    fn reads_that_add_up_are_valid() {
        let r = read(json!({"0": 7, "1": 13}));
        assert_eq!(
            (r.verdict, r.read_count, r.transfers_ok),
            (Verdict::Valid, 1, 1),
            "{r}"
        );
        assert_eq!(
            r.totals,
            vec![TotalPoint {
                time: Some(3_000_000),
                index: 3,
                total: 20
            }]
        );
    }

    #[test]
    fn each_kind_of_bad_read_is_named() {
        let cases = [
            (json!({"0": 7, "1": 13, "2": 0}), "unexpected-key"),
            (json!({"0": null, "1": 20}), "nil-balance"),
            (json!({"0": 10, "1": 13}), "wrong-total"),
            (json!({"0": -3, "1": 23}), "negative-value"),
        ];
        for (balances, kind) in cases {
            let r = read(balances.clone());
            assert_eq!(r.verdict, Verdict::Invalid, "{balances}");
            assert_eq!(
                r.errors.keys().collect::<Vec<_>>(),
                vec![kind],
                "{balances}"
            );
        }
        let r = read(json!({"0": 10, "1": 13}));
        assert!(
            r.to_string()
                .contains("wrong-total ×1: first the read by process 1 at index 3 adds up to 23"),
            "{r}"
        );
    }

    #[test]
    fn negative_balances_may_be_allowed() {
        let h = history(&[
            (1, "invoke", "read", json!(null)),
            (1, "ok", "read", json!({"0": -3, "1": 23})),
        ]);
        let allowed = BankOptions {
            negative_balances: true,
            ..opts()
        };
        assert_eq!(check(&h, &allowed).unwrap().verdict, Verdict::Valid);
    }

    #[test]
    fn the_worst_wrong_total_is_the_furthest_off() {
        let h = history(&[
            (1, "invoke", "read", json!(null)),
            (1, "ok", "read", json!({"0": 10, "1": 11})),
            (1, "invoke", "read", json!(null)),
            (1, "ok", "read", json!({"0": 1, "1": 1})),
            (1, "invoke", "read", json!(null)),
            (1, "ok", "read", json!({"0": 10, "1": 12})),
        ]);
        let r = check(&h, &opts()).unwrap();
        let s = &r.errors["wrong-total"];
        assert_eq!(
            (s.count, s.first.index, s.worst.index, s.last.index),
            (3, 1, 3, 5)
        );
    }

    #[test]
    fn no_read_is_unknown_and_bad_shapes_are_errors() {
        let h = history(&[(
            0,
            "invoke",
            "transfer",
            json!({"from": 0, "to": 1, "amount": 1}),
        )]);
        assert_eq!(check(&h, &opts()).unwrap().verdict, Verdict::Unknown);
        let h = history(&[
            (1, "invoke", "read", json!(null)),
            (1, "ok", "read", json!([1, 2])),
        ]);
        assert!(check(&h, &opts())
            .unwrap_err()
            .to_string()
            .contains("is not a map of balances"));
        let h = history(&[
            (1, "invoke", "read", json!(null)),
            (1, "ok", "read", json!({"0": "x"})),
        ]);
        assert!(check(&h, &opts())
            .unwrap_err()
            .to_string()
            .contains("the balance of 0, \"x\", is not an integer"));
    }

    #[test]
    fn plots_keep_every_bad_point_and_thin_the_rest() {
        let points: Vec<(TotalPoint, bool)> = (0..10_000)
            .map(|i| {
                (
                    TotalPoint {
                        time: None,
                        index: i,
                        total: 0,
                    },
                    i == 9_999,
                )
            })
            .collect();
        let kept = thin(points);
        assert!(kept.len() <= PLOT_POINTS + 1);
        assert_eq!(kept.last().map(|p| p.index), Some(9_999));
    }
}
