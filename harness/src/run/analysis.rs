//! The analysis phase: run a workload's checkers over the recorded history
//! and compose their verdicts, worst first (Jepsen's `checker/compose`).
//! Each checker's answer is kept as data for `results.json` and the report,
//! and rendered as text for the terminal.

use checkers::elle::{self, ElleOptions};
use checkers::linear::{self, CheckOptions, ModelKind, ModelSpec, NilReads};
use checkers::{stats, History, Verdict};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::Duration;
use workloads::CheckerSpec;

/// One checker's answer.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CheckOutcome {
    /// The checker (`linearizable`, `elle-list-append`, `stats`).
    pub checker: String,
    /// Its verdict.
    pub verdict: Verdict,
    /// Its answer as data (the checker's own result type).
    pub result: Value,
    /// Its answer for a person, as plain text.
    pub text: String,
}

/// Every checker's answer and the composed verdict.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Analysis {
    /// The worst verdict of all checkers.
    pub verdict: Verdict,
    /// Each checker's answer.
    pub checks: Vec<CheckOutcome>,
}

/// Runs `specs` over `history`, each within `time_limit`. A checker that
/// cannot read the history (a malformed op) answers `unknown` with the
/// error rather than failing the whole analysis.
pub fn analyze(history: &History, specs: &[CheckerSpec], time_limit: Duration) -> Analysis {
    let checks: Vec<CheckOutcome> = specs
        .iter()
        .map(|spec| {
            run_one(history, spec, time_limit).unwrap_or_else(|e| CheckOutcome {
                checker: spec.name.clone(),
                verdict: Verdict::Unknown,
                result: Value::String(e.clone()),
                text: format!("could not check: {e}"),
            })
        })
        .collect();
    Analysis {
        verdict: Verdict::all(checks.iter().map(|c| c.verdict)),
        checks,
    }
}

fn run_one(
    history: &History,
    spec: &CheckerSpec,
    time_limit: Duration,
) -> Result<CheckOutcome, String> {
    let outcome = |verdict, result: Result<Value, serde_json::Error>, text: String| CheckOutcome {
        checker: spec.name.clone(),
        verdict,
        result: result.unwrap_or_else(|e| Value::String(e.to_string())),
        text,
    };
    match spec.name.as_str() {
        "linearizable" => {
            let kind: ModelKind = spec.model.as_deref().unwrap_or("cas-register").parse()?;
            let model = ModelSpec {
                independent: spec.per_key,
                nil_reads: NilReads::Absent,
                ..ModelSpec::new(kind)
            };
            let opts = CheckOptions {
                time_limit: Some(time_limit),
                memory_budget: Some(super::large::MEMORY_BUDGET),
                ..CheckOptions::default()
            };
            let r = linear::check_spec(history, &model, &opts).map_err(|e| e.to_string())?;
            Ok(outcome(r.verdict, serde_json::to_value(&r), r.to_string()))
        }
        "elle-list-append" | "elle-rw-register" => {
            let workload = spec
                .name
                .trim_start_matches("elle-")
                .parse()
                .map_err(|e: elle::UnknownWorkload| e.to_string())?;
            let r = elle::check(history, &ElleOptions::new(workload)).map_err(|e| e.to_string())?;
            Ok(outcome(r.verdict, serde_json::to_value(&r), r.render()))
        }
        "stats" => {
            let r = stats::check(history).map_err(|e| e.to_string())?;
            Ok(outcome(r.verdict, serde_json::to_value(&r), r.to_string()))
        }
        other => Err(format!("unknown checker {other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use checkers::{Op, OpType};
    use serde_json::json;

    fn register_spec() -> Vec<CheckerSpec> {
        workloads::by_name("register").unwrap().checkers()
    }

    #[test]
    fn a_stale_read_on_one_key_makes_the_run_invalid() {
        let ops = vec![
            Op::new(0, OpType::Invoke, "write", json!([1, 3])),
            Op::new(0, OpType::Ok, "write", json!([1, 3])),
            Op::new(1, OpType::Invoke, "read", json!([1, null])),
            Op::new(1, OpType::Ok, "read", json!([1, null])),
        ];
        let a = analyze(
            &History::from_ops("t", ops),
            &register_spec(),
            Duration::from_secs(5),
        );
        assert_eq!(a.verdict, Verdict::Invalid);
        assert_eq!(a.checks[0].verdict, Verdict::Invalid);
        assert_eq!(a.checks[1].verdict, Verdict::Valid);
    }

    #[test]
    fn an_unknown_checker_is_unknown_not_valid() {
        let a = analyze(
            &History::new("t"),
            &[CheckerSpec::plain("bank")],
            Duration::from_secs(1),
        );
        assert_eq!(a.verdict, Verdict::Unknown);
        assert!(a.checks[0].text.contains("unknown checker"));
    }
}
