//! The search and the answers on small hand-made histories.

use super::*;
use crate::history::{Op, OpType, Process};
use serde_json::{json, Value};

/// `(process, type, f, value)` rows to a history.
fn hist(rows: &[(u64, &str, &str, Value)]) -> History {
    let ops = rows.iter().map(|(p, t, f, v)| {
        let kind = OpType::parse(t).unwrap();
        Op::new(*p, kind, *f, v.clone())
    });
    History::from_ops("test", ops)
}

fn cas_register(initial: Value) -> model::Register {
    model::Register::new(&initial, NilReads::Absent, true)
}

fn verdict(h: &History, initial: Value) -> Verdict {
    check(h, &cas_register(initial), &CheckOptions::default())
        .unwrap()
        .verdict
}

#[test]
fn concurrent_ops_may_linearize_in_either_order() {
    let h = hist(&[
        (0, "invoke", "write", json!(1)),
        (1, "invoke", "read", json!(null)),
        (1, "ok", "read", json!(1)),
        (0, "ok", "write", json!(1)),
        (1, "invoke", "read", json!(null)),
        (1, "ok", "read", json!(1)),
    ]);
    assert_eq!(verdict(&h, json!(0)), Verdict::Valid);
}

#[test]
fn a_stale_read_after_a_completed_write_is_invalid() {
    let h = hist(&[
        (0, "invoke", "write", json!(1)),
        (0, "ok", "write", json!(1)),
        (1, "invoke", "read", json!(null)),
        (1, "ok", "read", json!(0)),
    ]);
    let r = check(&h, &cas_register(json!(0)), &CheckOptions::default()).unwrap();
    assert_eq!(r.verdict, Verdict::Invalid);
    let failure = r.partitions[0].failure.as_ref().unwrap();
    assert_eq!(
        (failure.op.process, failure.op.index),
        (Process::Client(1), 3)
    );
    assert_eq!(failure.op.describe, "read 0");
    assert_eq!(failure.prefixes[0].state, "1");
    assert_eq!(failure.prefixes[0].ops[0].describe, "write 1");
    let cx = failure.counterexample.as_ref().unwrap();
    assert!(cx.minimal);
    assert_eq!(cx.ops.len(), 2);
    assert_eq!(cx.events.len(), 4);
}

#[test]
fn a_crashed_write_may_take_effect_later_or_never() {
    let crashed = |read: Value| {
        hist(&[
            (0, "invoke", "write", json!(1)),
            (0, "info", "write", json!(1)),
            (1, "invoke", "read", json!(null)),
            (1, "ok", "read", json!(0)),
            (1, "invoke", "read", json!(null)),
            (1, "ok", "read", read),
        ])
    };
    assert_eq!(
        verdict(&crashed(json!(1)), json!(0)),
        Verdict::Valid,
        "later"
    );
    assert_eq!(
        verdict(&crashed(json!(0)), json!(0)),
        Verdict::Valid,
        "never"
    );
    assert_eq!(verdict(&crashed(json!(2)), json!(0)), Verdict::Invalid);
}

#[test]
fn a_crashed_write_cannot_take_effect_before_its_invocation() {
    let h = hist(&[
        (1, "invoke", "read", json!(null)),
        (1, "ok", "read", json!(1)),
        (0, "invoke", "write", json!(1)),
    ]);
    assert_eq!(verdict(&h, json!(0)), Verdict::Invalid);
}

#[test]
fn a_crashed_cas_that_linearized_succeeded() {
    let h = hist(&[
        (0, "invoke", "cas", json!([0, 5])),
        (0, "info", "cas", json!([0, 5])),
        (1, "invoke", "write", json!(3)),
        (1, "ok", "write", json!(3)),
        (1, "invoke", "read", json!(null)),
        (1, "ok", "read", json!(5)),
    ]);
    // The cas could only succeed before the write of 3, so 5 is gone.
    assert_eq!(verdict(&h, json!(0)), Verdict::Invalid);
}

#[test]
fn failed_ops_never_happened() {
    let h = hist(&[
        (0, "invoke", "write", json!(1)),
        (0, "fail", "write", json!(1)),
        (1, "invoke", "read", json!(null)),
        (1, "ok", "read", json!(1)),
    ]);
    assert_eq!(verdict(&h, json!(0)), Verdict::Invalid);
}

#[test]
fn partitions_split_by_key_and_name_the_bad_key() {
    let h = hist(&[
        (0, "invoke", "put", json!(["a", "x"])),
        (0, "ok", "put", json!(["a", "x"])),
        (1, "invoke", "get", json!(["b", null])),
        (1, "ok", "get", json!(["b", "x"])),
        (2, "invoke", "get", json!(["a", null])),
        (2, "ok", "get", json!(["a", "x"])),
    ]);
    let every = CheckOptions {
        stop_early: false,
        ..CheckOptions::default()
    };
    let split = check_spec(&h, &ModelSpec::new(ModelKind::Kv), &every).unwrap();
    assert_eq!(split.verdict, Verdict::Invalid);
    assert_eq!(split.partitions.len(), 2);
    let bad: Vec<_> = split
        .partitions
        .iter()
        .filter(|p| p.verdict == Verdict::Invalid)
        .collect();
    assert_eq!(bad.len(), 1);
    assert_eq!(bad[0].key.as_deref(), Some("b"));
    let whole = ModelSpec {
        split_keys: false,
        ..ModelSpec::new(ModelKind::Kv)
    };
    let r = check_spec(&h, &whole, &CheckOptions::default()).unwrap();
    assert_eq!((r.verdict, r.partitions.len()), (Verdict::Invalid, 1));
}

/// A register history whose search space explodes: many concurrent
/// writes of distinct values, all crashed, and reads that fit.
fn hard_history() -> History {
    let mut rows = Vec::new();
    for p in 0..40u64 {
        rows.push((p, "invoke", "write", json!(p)));
    }
    for p in 0..40u64 {
        rows.push((p, "info", "write", json!(p)));
    }
    for i in 0..40u64 {
        rows.push((100, "invoke", "read", json!(null)));
        rows.push((100, "ok", "read", json!(if i % 2 == 0 { 1000 } else { i })));
    }
    hist(&rows)
}

#[test]
fn the_time_limit_gives_unknown_with_the_reason() {
    let opts = CheckOptions {
        time_limit: Some(Duration::from_millis(1)),
        ..CheckOptions::default()
    };
    let r = check(&hard_history(), &cas_register(json!(0)), &opts).unwrap();
    assert_eq!(r.verdict, Verdict::Unknown);
    let stop = r.partitions[0].unknown.as_ref().unwrap();
    assert!(
        matches!(stop, Stop::TimeLimit { limit_ms: 1, .. }),
        "{stop:?}"
    );
    assert!(
        r.to_string()
            .contains("unknown: time limit of 1 ms ran out"),
        "{r}"
    );
}

#[test]
fn the_memory_budget_gives_unknown_with_the_reason() {
    let opts = CheckOptions {
        memory_budget: Some(64 << 10),
        ..CheckOptions::default()
    };
    let r = check(&hard_history(), &cas_register(json!(0)), &opts).unwrap();
    assert_eq!(r.verdict, Verdict::Unknown);
    let stop = r.partitions[0].unknown.as_ref().unwrap();
    assert!(
        matches!(stop, Stop::MemoryBudget { bytes: 65536, .. }),
        "{stop:?}"
    );
}

#[test]
fn the_text_names_the_op_the_prefixes_and_the_counterexample() {
    let h = hist(&[
        (3, "invoke", "write", json!(1)),
        (3, "ok", "write", json!(1)),
        (7, "invoke", "write", json!(2)),
        (7, "ok", "write", json!(2)),
        (4, "invoke", "write", json!(9)),
        (21, "invoke", "read", json!(null)),
        (21, "ok", "read", json!(1)),
    ]);
    let r = check(&h, &cas_register(json!(1)), &CheckOptions::default()).unwrap();
    let text = r.to_string();
    assert!(
        text.starts_with("NOT linearizable: 4 ops in 1 partitions (1 not valid)"),
        "{text}"
    );
    assert!(
        text.contains("cannot linearize: process 21 read 1 (index 6)"),
        "{text}"
    );
    assert!(
        text.contains("    write 1 (p3), write 2 (p7)  => state 2\n"),
        "{text}"
    );
    assert!(text.contains("write 9 (p4)  => state 9"), "{text}");
    assert!(
        text.contains("smallest counterexample (2 ops: the failing op and what rules it out):"),
        "{text}"
    );
    assert!(
        text.contains("    p7    invoke write 2   (index 2)\n"),
        "{text}"
    );
    assert!(
        text.contains("    p21   ok     read 1   (index 6)\n"),
        "{text}"
    );
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["partitions"][0]["failure"]["op"]["process"], json!(21));
    let back: LinearResult = serde_json::from_value(json).unwrap();
    assert_eq!(back, r);
}

/// The counterexample's ops as `p<process> <describe>`, in history order.
fn counterexample_ops(r: &LinearResult) -> Vec<String> {
    let failure = r.partitions[0].failure.as_ref().unwrap();
    let cx = failure.counterexample.as_ref().unwrap();
    assert!(cx.minimal, "{r}");
    let mut ops: Vec<&OpRef> = cx.ops.iter().collect();
    ops.sort_by_key(|o| o.invoke_index);
    ops.iter()
        .map(|o| format!("p{} {}", o.process, o.describe))
        .collect()
}

#[test]
fn the_counterexample_is_the_failing_read_and_the_write_that_rules_it_out() {
    // Shaped like Knossos's cas-failure.edn: rounds of writes, cas and
    // reads by many processes; process 70 finally reads a stale 0.
    let h = hist(&[
        (75, "invoke", "write", json!(3)),
        (78, "invoke", "write", json!(0)),
        (75, "ok", "write", json!(3)),
        (78, "ok", "write", json!(0)),
        (72, "invoke", "read", json!(null)),
        (72, "ok", "read", json!(0)),
        (76, "invoke", "cas", json!([0, 2])),
        (77, "invoke", "write", json!(4)),
        (77, "ok", "write", json!(4)),
        (76, "ok", "cas", json!([0, 2])),
        (73, "invoke", "cas", json!([3, 1])),
        (73, "fail", "cas", json!([3, 1])),
        (79, "invoke", "write", json!(2)),
        (79, "ok", "write", json!(2)),
        (71, "invoke", "read", json!(null)),
        (71, "ok", "read", json!(2)),
        (74, "invoke", "write", json!(1)),
        (70, "invoke", "read", json!(null)),
        (70, "ok", "read", json!(0)),
    ]);
    let r = check(&h, &cas_register(json!(0)), &CheckOptions::default()).unwrap();
    assert_eq!(r.verdict, Verdict::Invalid);
    let failure = r.partitions[0].failure.as_ref().unwrap();
    assert_eq!(failure.op.describe, "read 0");
    assert_eq!(failure.op.process, Process::Client(70));
    let ops = counterexample_ops(&r);
    assert!((2..=3).contains(&ops.len()), "{r}");
    assert_eq!(ops.last().map(String::as_str), Some("p70 read 0"), "{r}");
    assert!(
        ops[..ops.len() - 1]
            .iter()
            .all(|o| o.contains("write") || o.contains("cas 0->2")),
        "only what moved the register off 0 explains a stale 0: {r}"
    );
}

#[test]
fn a_stale_read_keeps_the_write_it_read_and_a_phantom_stands_alone() {
    let stale = hist(&[
        (0, "invoke", "write", json!(4)),
        (0, "ok", "write", json!(4)),
        (1, "invoke", "write", json!(2)),
        (1, "ok", "write", json!(2)),
        (2, "invoke", "read", json!(null)),
        (2, "ok", "read", json!(4)),
    ]);
    let r = check(&stale, &cas_register(json!(0)), &CheckOptions::default()).unwrap();
    assert_eq!(
        counterexample_ops(&r),
        ["p0 write 4", "p1 write 2", "p2 read 4"],
        "a bare `read 4` would say 4 was never written: {r}"
    );
    let phantom = hist(&[
        (0, "invoke", "write", json!(4)),
        (0, "ok", "write", json!(4)),
        (2, "invoke", "read", json!(null)),
        (2, "ok", "read", json!(100)),
    ]);
    let r = check(&phantom, &cas_register(json!(0)), &CheckOptions::default()).unwrap();
    assert_eq!(counterexample_ops(&r), ["p2 read 100"], "{r}");
}

#[test]
fn partitions_are_taken_from_both_ends_each_once() {
    for n in 0..7 {
        let order: Vec<usize> = (0..n).collect();
        let mut got: Vec<usize> = (0..n + 2).filter_map(|t| both_ends(&order, t)).collect();
        assert_eq!(got.first(), order.first(), "biggest first");
        assert_eq!(got.get(1), order.last().filter(|_| n > 1), "then smallest");
        got.sort_unstable();
        assert_eq!(got, order);
    }
}
