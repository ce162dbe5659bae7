//! Simulated stores: the checker finds what each isolation level allows
//! and each injected fault causes, names it right, and reports nothing
//! where nothing was injected.

use crate::gen::{generate, Config, Fault, Isolation};
use checkers::elle::{check, ElleOptions, ElleResult, Model, Workload};
use checkers::{History, Op, OpType, Verdict};
use serde_json::json;

fn run(cfg: Config, models: &[Model]) -> ElleResult {
    let h = generate(cfg);
    check(
        &h,
        &ElleOptions::new(Workload::ListAppend).with_models(models),
    )
    .unwrap()
}

fn has(r: &ElleResult, prefix: &str) -> bool {
    r.anomaly_types
        .iter()
        .any(|a| a == prefix || a.starts_with(&format!("{prefix}-")))
}

#[test]
fn a_serializable_store_never_shows_an_anomaly() {
    for seed in 0..60 {
        let r = run(
            Config::small(seed, Isolation::Serializable),
            &[Model::StrictSerializable],
        );
        assert_eq!(r.verdict, Verdict::Valid, "seed {seed}:\n{}", r.render());
        assert!(
            r.anomaly_types.is_empty() && r.unknown.is_empty(),
            "seed {seed}"
        );
        assert!(r.stats.edges > 0, "seed {seed}: no edges inferred");
    }
}

#[test]
fn snapshot_isolation_shows_write_skew_as_g2_item_never_g_single() {
    let mut g2 = 0;
    for seed in 0..60 {
        let r = run(
            Config::small(seed, Isolation::Snapshot),
            &[Model::StrictSerializable],
        );
        for a in &r.anomaly_types {
            assert!(
                a.starts_with("G2-item"),
                "seed {seed}: {a} under SI:\n{}",
                r.render()
            );
        }
        assert!(
            !r.not.contains(&Model::SnapshotIsolation)
                && !r.also_not.contains(&Model::SnapshotIsolation)
        );
        g2 += has(&r, "G2-item") as usize;
    }
    assert!(g2 > 5, "write skew seen in only {g2} of 60 runs");
}

#[test]
fn read_committed_shows_g_single_and_g2() {
    let (mut single, mut g2) = (0, 0);
    for seed in 0..60 {
        let r = run(
            Config::small(seed, Isolation::ReadCommitted),
            &[Model::StrictSerializable],
        );
        for a in &r.anomaly_types {
            // Non-repeatable reads inside a txn show as internal; RC allows them.
            let allowed = [
                "G-single",
                "G-nonadjacent",
                "G2-item",
                "lost-update",
                "internal",
            ];
            assert!(
                allowed.iter().any(|p| a.starts_with(p)),
                "seed {seed}: {a} under RC:\n{}",
                r.render()
            );
        }
        assert!(!r.not.contains(&Model::ReadCommitted));
        single += has(&r, "G-single") as usize;
        g2 += (has(&r, "G2-item") || has(&r, "G-nonadjacent")) as usize;
    }
    assert!(
        single > 5 && g2 > 5,
        "G-single in {single}, G2 in {g2} of 60 runs"
    );
}

const FAULTS: [(Fault, &str); 4] = [
    (Fault::AbortedVisible, "G1a"),
    (Fault::Intermediate, "G1b"),
    (Fault::LostAppend, "lost-update"),
    (Fault::Duplicate, "duplicate-elements"),
];

#[test]
fn each_injected_fault_is_found_and_named_and_no_other_fault_is_reported() {
    for (fault, name) in FAULTS {
        for seed in 0..15 {
            let cfg = Config {
                fault: Some(fault),
                ..Config::small(seed, Isolation::Serializable)
            };
            let r = run(cfg, &[Model::StrictSerializable]);
            assert_eq!(r.verdict, Verdict::Invalid, "{fault:?} seed {seed}");
            assert!(
                has(&r, name),
                "{fault:?} seed {seed}: {:?}",
                r.anomaly_types
            );
            for (_, other) in FAULTS.iter().filter(|(_, n)| *n != name) {
                assert!(
                    !has(&r, other),
                    "{fault:?} seed {seed} also reported {other}:\n{}",
                    r.render()
                );
            }
            for never in ["garbage-read", "internal", "incompatible-order"] {
                assert!(!has(&r, never), "{fault:?} seed {seed} reported {never}");
            }
        }
    }
}

fn line_history(ops: Vec<Op>) -> History {
    let mut h = History::new("bad.jsonl");
    for (i, op) in ops.into_iter().enumerate() {
        h.push(op, i as u32 + 1);
    }
    h
}

#[test]
fn malformed_transactions_are_errors_with_file_and_line() {
    let h = line_history(vec![
        Op::new(0, OpType::Invoke, "txn", json!([["append", 1, 1]])),
        Op::new(0, OpType::Ok, "txn", json!([["append", 1, 1]])),
        Op::new(
            1,
            OpType::Invoke,
            "txn",
            json!([["append", 1, 2], ["inc", 1]]),
        ),
    ]);
    let e = check(&h, &ElleOptions::new(Workload::ListAppend)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "bad.jsonl:3: txn micro-op 2 [\"inc\",1]: expected [f key value]"
    );
    let h = line_history(vec![
        Op::new(0, OpType::Invoke, "txn", json!([["append", 1, 1]])),
        Op::new(0, OpType::Ok, "txn", json!([["append", 1, 1]])),
        Op::new(1, OpType::Invoke, "txn", json!([["append", 1, 1]])),
    ]);
    let e = check(&h, &ElleOptions::new(Workload::ListAppend)).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("bad.jsonl:3: value 1 appended to key 1 twice"),
        "{e}"
    );
    let h = line_history(vec![Op::new(
        0,
        OpType::Invoke,
        "txn",
        json!({"append": 1}),
    )]);
    let e = check(&h, &ElleOptions::new(Workload::RwRegister)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "bad.jsonl:1: txn value {\"append\":1} is not a list of micro-ops"
    );
}
