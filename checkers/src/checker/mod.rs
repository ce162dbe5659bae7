//! The checker registry: every checker as one typed spec
//! ([`CheckerSpec`]), every answer as one typed result ([`CheckResult`]),
//! and composition, where the worst verdict wins (Jepsen's
//! `checker/compose` and `check-safe`: a checker that cannot run answers
//! `unknown` with the reason, and never takes the others down).
//!
//! Workloads name the checkers they want with specs; `temblor test` and
//! `temblor check` both run them through [`compose`], and `results.json`
//! keeps each answer as an [`Outcome`], which the report reads back typed.
//! Adding a checker touches this file and the checker's own module.
//!
//! Limits: a time limit (checkers that search turn it into `unknown`) and
//! a memory budget (the linearizability search's cache); the linear-time
//! checkers stream over the history once and need neither.

mod reason;

use crate::bank::{self, BankOptions, BankResult};
use crate::counter::{self, CounterResult};
use crate::elle::{self, ElleOptions, ElleResult};
use crate::history::{History, HistoryError};
use crate::linear::{self, CheckOptions, LinearResult, ModelSpec};
use crate::lock::{self, LockResult};
use crate::queue::{self, QueueOptions, QueueResult};
use crate::set::{self, SetOptions, SetResult};
use crate::stats::{self, StatsResult};
use crate::unique_ids::{self, UniqueIdsResult};
use crate::Verdict;
use serde::de::Deserializer;
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::Duration;

/// A checker and its options.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "checker", rename_all = "kebab-case")]
pub enum CheckerSpec {
    /// Linearizability against a sequential model.
    Linearizable(ModelSpec),
    /// Elle's transactional checker (list-append or rw-register).
    Elle(ElleOptions),
    /// Jepsen's set-full.
    Set(SetOptions),
    /// Jepsen's counter bounds.
    Counter,
    /// Jepsen's bank totals.
    Bank(BankOptions),
    /// Jepsen's unique-ids.
    UniqueIds,
    /// Jepsen's total-queue.
    Queue(QueueOptions),
    /// Mutual exclusion (mutex linearizability) and the holds timeline.
    Lock,
    /// Counts per `f`.
    Stats,
}

impl CheckerSpec {
    /// Its name in results and reports: `linearizable`, `elle-list-append`,
    /// `set`, `unique-ids`, ...
    pub fn name(&self) -> String {
        match self {
            CheckerSpec::Linearizable(_) => "linearizable".into(),
            CheckerSpec::Elle(o) => format!("elle-{}", o.workload),
            CheckerSpec::Set(_) => "set".into(),
            CheckerSpec::Counter => "counter".into(),
            CheckerSpec::Bank(_) => "bank".into(),
            CheckerSpec::UniqueIds => "unique-ids".into(),
            CheckerSpec::Queue(_) => "queue".into(),
            CheckerSpec::Lock => "lock".into(),
            CheckerSpec::Stats => "stats".into(),
        }
    }
}

/// What a check may spend.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Limits {
    /// Searches give up with `unknown` after this long.
    pub time_limit: Option<Duration>,
    /// The linearizability search gives up with `unknown` past this many
    /// bytes of cache.
    pub memory_budget: Option<usize>,
}

impl Limits {
    fn linear(&self) -> CheckOptions {
        CheckOptions {
            time_limit: self.time_limit,
            memory_budget: self.memory_budget,
            ..CheckOptions::default()
        }
    }
}

/// A checker's answer.
#[derive(Clone, Debug, PartialEq)]
pub enum CheckResult {
    Linearizable(LinearResult),
    Elle(ElleResult),
    Set(SetResult),
    Counter(CounterResult),
    Bank(BankResult),
    UniqueIds(UniqueIdsResult),
    Queue(QueueResult),
    Lock(LockResult),
    Stats(StatsResult),
    /// The checker could not run (a malformed history): why.
    Error(String),
}

impl CheckResult {
    /// Its verdict; a checker that could not run is `unknown`.
    pub fn verdict(&self) -> Verdict {
        match self {
            CheckResult::Linearizable(r) => r.verdict,
            CheckResult::Elle(r) => r.verdict,
            CheckResult::Set(r) => r.verdict,
            CheckResult::Counter(r) => r.verdict,
            CheckResult::Bank(r) => r.verdict,
            CheckResult::UniqueIds(r) => r.verdict,
            CheckResult::Queue(r) => r.verdict,
            CheckResult::Lock(r) => r.verdict,
            CheckResult::Stats(r) => r.verdict,
            CheckResult::Error(_) => Verdict::Unknown,
        }
    }

    /// The answer for a person, as plain text.
    pub fn render(&self) -> String {
        match self {
            CheckResult::Linearizable(r) => r.to_string(),
            CheckResult::Elle(r) => r.render(),
            CheckResult::Set(r) => r.to_string(),
            CheckResult::Counter(r) => r.to_string(),
            CheckResult::Bank(r) => r.to_string(),
            CheckResult::UniqueIds(r) => r.to_string(),
            CheckResult::Queue(r) => r.to_string(),
            CheckResult::Lock(r) => r.to_string(),
            CheckResult::Stats(r) => r.to_string(),
            CheckResult::Error(e) => format!("could not check: {e}"),
        }
    }

    /// The answer as data (the checker's own result, or the error string).
    pub fn to_json(&self) -> Value {
        let v = match self {
            CheckResult::Linearizable(r) => serde_json::to_value(r),
            CheckResult::Elle(r) => serde_json::to_value(r),
            CheckResult::Set(r) => serde_json::to_value(r),
            CheckResult::Counter(r) => serde_json::to_value(r),
            CheckResult::Bank(r) => serde_json::to_value(r),
            CheckResult::UniqueIds(r) => serde_json::to_value(r),
            CheckResult::Queue(r) => serde_json::to_value(r),
            CheckResult::Lock(r) => serde_json::to_value(r),
            CheckResult::Stats(r) => serde_json::to_value(r),
            CheckResult::Error(e) => Ok(Value::String(e.clone())),
        };
        v.unwrap_or_else(|e| Value::String(format!("cannot serialize the result: {e}")))
    }

    /// Reads back the answer of the checker named `checker` (as
    /// [`CheckerSpec::name`] gives it) from its data: the one place that
    /// goes from a name to a type. A string is an error the checker gave;
    /// data that does not fit the type is an error saying so.
    pub fn from_json(checker: &str, v: Value) -> CheckResult {
        if let Value::String(e) = v {
            return CheckResult::Error(e);
        }
        fn typed<T: serde::de::DeserializeOwned>(v: Value, f: fn(T) -> CheckResult) -> CheckResult {
            serde_json::from_value(v)
                .map(f)
                .unwrap_or_else(|e| CheckResult::Error(format!("unreadable result: {e}")))
        }
        match checker {
            "linearizable" => typed(v, CheckResult::Linearizable),
            n if n.starts_with("elle-") => typed(v, CheckResult::Elle),
            "set" => typed(v, CheckResult::Set),
            "counter" => typed(v, CheckResult::Counter),
            "bank" => typed(v, CheckResult::Bank),
            "unique-ids" => typed(v, CheckResult::UniqueIds),
            "queue" => typed(v, CheckResult::Queue),
            "lock" => typed(v, CheckResult::Lock),
            "stats" => typed(v, CheckResult::Stats),
            other => CheckResult::Error(format!("a result of unknown checker {other:?}")),
        }
    }
}

/// Runs one checker. A malformed history is an error (with file and line);
/// an anomaly is a verdict.
pub fn check(
    history: &History,
    spec: &CheckerSpec,
    limits: &Limits,
) -> Result<CheckResult, HistoryError> {
    Ok(match spec {
        CheckerSpec::Linearizable(model) => {
            CheckResult::Linearizable(linear::check_spec(history, model, &limits.linear())?)
        }
        CheckerSpec::Elle(opts) => CheckResult::Elle(elle::check(history, opts)?),
        CheckerSpec::Set(opts) => CheckResult::Set(set::check(history, opts)?),
        CheckerSpec::Counter => CheckResult::Counter(counter::check(history)?),
        CheckerSpec::Bank(opts) => CheckResult::Bank(bank::check(history, opts)?),
        CheckerSpec::UniqueIds => CheckResult::UniqueIds(unique_ids::check(history)?),
        CheckerSpec::Queue(opts) => CheckResult::Queue(queue::check(history, opts)?),
        CheckerSpec::Lock => CheckResult::Lock(lock::check(history, &limits.linear())?),
        CheckerSpec::Stats => CheckResult::Stats(stats::check(history)?),
    })
}

/// One checker's answer as `results.json` keeps it:
/// `{"checker", "verdict", "result", "text"}`, where `result` is the
/// checker's own result (or the error string).
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    /// The checker's name.
    pub checker: String,
    /// Its verdict.
    pub verdict: Verdict,
    /// Its answer, typed.
    pub result: CheckResult,
    /// Its answer for a person.
    pub text: String,
}

impl Outcome {
    /// The outcome of `spec` answering `result`.
    pub fn new(spec: &CheckerSpec, result: CheckResult) -> Outcome {
        Outcome {
            checker: spec.name(),
            verdict: result.verdict(),
            text: result.render(),
            result,
        }
    }
}

#[derive(Serialize, Deserialize)]
struct RawOutcome {
    checker: String,
    verdict: Verdict,
    result: Value,
    text: String,
}

impl Serialize for Outcome {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        RawOutcome {
            checker: self.checker.clone(),
            verdict: self.verdict,
            result: self.result.to_json(),
            text: self.text.clone(),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Outcome {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Outcome, D::Error> {
        let raw = RawOutcome::deserialize(d)?;
        Ok(Outcome {
            result: CheckResult::from_json(&raw.checker, raw.result),
            checker: raw.checker,
            verdict: raw.verdict,
            text: raw.text,
        })
    }
}

/// Every checker's answer and the worst verdict of all.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Composed {
    /// The worst verdict.
    pub verdict: Verdict,
    /// Each checker's answer, in the order given.
    pub checks: Vec<Outcome>,
}

/// Runs every checker of `specs` over `history`. One that cannot read the
/// history answers `unknown` with the error rather than failing the rest.
pub fn compose(history: &History, specs: &[CheckerSpec], limits: &Limits) -> Composed {
    let checks: Vec<Outcome> = specs
        .iter()
        .map(|spec| {
            let result =
                check(history, spec, limits).unwrap_or_else(|e| CheckResult::Error(e.to_string()));
            Outcome::new(spec, result)
        })
        .collect();
    Composed {
        verdict: Verdict::all(checks.iter().map(|c| c.verdict)),
        checks,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linear::ModelKind;
    use crate::testing::history;
    use serde_json::json;

    fn counter_history(read: i64) -> History {
        history(&[
            (0, "invoke", "add", json!(1)),
            (0, "ok", "add", json!(1)),
            (1, "invoke", "read", json!(null)),
            (1, "ok", "read", json!(read)),
        ])
    }

    #[test]
    fn the_worst_verdict_wins_and_a_broken_checker_is_unknown() {
        let specs = [CheckerSpec::Counter, CheckerSpec::Stats];
        let c = compose(&counter_history(1), &specs, &Limits::default());
        assert_eq!(c.verdict, Verdict::Valid);
        let c = compose(&counter_history(5), &specs, &Limits::default());
        assert_eq!(c.verdict, Verdict::Invalid);
        assert_eq!(c.checks[1].verdict, Verdict::Valid);
        let bank = CheckerSpec::Bank(BankOptions::default());
        let c = compose(
            &counter_history(1),
            &[bank, CheckerSpec::Stats],
            &Limits::default(),
        );
        assert_eq!(
            c.verdict,
            Verdict::Unknown,
            "no bank read: nothing to judge"
        );
        let set = CheckerSpec::Set(SetOptions::default());
        let c = compose(&counter_history(1), &[set], &Limits::default());
        assert!(
            matches!(&c.checks[0].result, CheckResult::Error(e) if e.contains("is not a list"))
        );
        assert_eq!(c.verdict, Verdict::Unknown);
    }

    #[test]
    fn outcomes_round_trip_typed_through_json() {
        let specs = [
            CheckerSpec::Linearizable(ModelSpec::new(ModelKind::CasRegister)),
            CheckerSpec::Counter,
            CheckerSpec::Set(SetOptions::default()),
        ];
        let c = compose(&counter_history(1), &specs, &Limits::default());
        let text = serde_json::to_string(&c).unwrap();
        let back: Composed = serde_json::from_str(&text).unwrap();
        assert!(matches!(back.checks[1].result, CheckResult::Counter(_)));
        assert!(matches!(back.checks[2].result, CheckResult::Error(_)));
        assert_eq!(back.checks[1], c.checks[1]);
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["checks"][1]["checker"], "counter");
        assert_eq!(v["checks"][1]["result"]["reads"], 1);
    }

    #[test]
    fn results_of_older_runs_and_unknown_checkers_still_read() {
        let r = CheckResult::from_json("stats", json!({"nonsense": 1}));
        assert!(matches!(&r, CheckResult::Error(e) if e.starts_with("unreadable result")));
        let r = CheckResult::from_json("perf", json!({}));
        assert!(matches!(&r, CheckResult::Error(e) if e.contains("\"perf\"")));
        assert_eq!(
            CheckResult::from_json("set", json!("boom")),
            CheckResult::Error("boom".into())
        );
        let spec = CheckerSpec::Elle(ElleOptions::new(elle::Workload::RwRegister));
        assert_eq!(spec.name(), "elle-rw-register");
        let text = serde_json::to_string(&CheckerSpec::Counter).unwrap();
        assert_eq!(text, r#"{"checker":"counter"}"#);
    }
}
