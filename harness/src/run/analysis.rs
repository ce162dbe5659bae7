//! The analysis phase: run a workload's checkers over the recorded history
//! through `checkers`' registry, which composes their verdicts, worst
//! first (Jepsen's `checker/compose`). Each checker's answer is kept typed
//! for `results.json` and the report, with its text for the terminal.

use checkers::checker::{self, CheckerSpec, Limits};
use checkers::elle;
use checkers::History;
use std::time::Duration;

pub use checkers::checker::{CheckResult, Outcome as CheckOutcome};

/// Every checker's answer and the composed verdict.
pub type Analysis = checker::Composed;

/// Runs `specs` over `history`, each search within `time_limit`. A checker
/// that cannot read the history (a malformed op) answers `unknown` with
/// the error rather than failing the whole analysis.
pub fn analyze(history: &History, specs: &[CheckerSpec], time_limit: Duration) -> Analysis {
    let limits = Limits {
        time_limit: Some(time_limit),
        memory_budget: Some(super::large::MEMORY_BUDGET),
    };
    checker::compose(history, specs, &limits)
}

/// `specs` with Elle's checkers testing `models`, the consistency models
/// the target promises, instead of their default (strict serializability);
/// unchanged when `models` is empty.
pub fn promised(specs: Vec<CheckerSpec>, models: &[elle::Model]) -> Vec<CheckerSpec> {
    if models.is_empty() {
        return specs;
    }
    specs
        .into_iter()
        .map(|s| match s {
            CheckerSpec::Elle(opts) => CheckerSpec::Elle(opts.with_models(models)),
            other => other,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use checkers::{Op, OpType, Verdict};
    use serde_json::json;

    fn register_spec() -> Vec<CheckerSpec> {
        workloads::by_name("register")
            .unwrap()
            .checkers(&workloads::Options::default())
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
        assert!(matches!(a.checks[0].result, CheckResult::Linearizable(_)));
        assert_eq!(a.checks[1].verdict, Verdict::Valid);
    }

    #[test]
    fn write_skew_is_invalid_unless_the_target_promises_no_more_than_snapshot_isolation() {
        // Each txn reads both keys empty and appends to one: G2-item,
        // which snapshot isolation allows and serializability forbids.
        let txn = |p: u64, value: serde_json::Value| {
            [OpType::Invoke, OpType::Ok]
                .map(|t| Op::new(p, t, "txn", value.clone()))
                .to_vec()
        };
        let ops = [
            txn(0, json!([["r", 1, []], ["r", 2, []], ["append", 1, 1]])),
            txn(1, json!([["r", 1, []], ["r", 2, []], ["append", 2, 1]])),
            txn(2, json!([["r", 1, [1]], ["r", 2, [1]]])),
        ];
        let history = History::from_ops("t", ops.concat());
        let specs = workloads::by_name("list-append")
            .unwrap()
            .checkers(&workloads::Options::default());
        let check = |specs: &[CheckerSpec]| analyze(&history, specs, Duration::from_secs(5));
        let strict = check(&specs);
        assert_eq!(strict.verdict, Verdict::Invalid);
        assert!(
            strict.checks[0].text.contains("G2-item"),
            "{}",
            strict.checks[0].text
        );
        let si = check(&promised(specs.clone(), &[elle::Model::SnapshotIsolation]));
        assert_eq!(si.verdict, Verdict::Valid, "{}", si.checks[0].text);
        assert!(si.checks[0].text.contains("checked: snapshot-isolation"));
        assert_eq!(
            format!("{:?}", promised(specs.clone(), &[])),
            format!("{specs:?}")
        );
    }

    #[test]
    fn a_checker_that_cannot_read_the_history_is_unknown_not_valid() {
        let ops = vec![
            Op::new(0, OpType::Invoke, "read", json!(null)),
            Op::new(0, OpType::Ok, "read", json!("lots")),
        ];
        let a = analyze(
            &History::from_ops("t", ops),
            &[CheckerSpec::Counter],
            Duration::from_secs(1),
        );
        assert_eq!(a.verdict, Verdict::Unknown);
        assert!(
            a.checks[0].text.starts_with("could not check: "),
            "{}",
            a.checks[0].text
        );
    }
}
