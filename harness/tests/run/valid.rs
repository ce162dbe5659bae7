//! raftkv with every bug switch off is valid under partitions, kills and
//! pauses: the harness does not cry wolf.

use crate::support::*;
use std::path::PathBuf;

/// Runs `workload` for 30 s under partitions, kills and pauses and asserts
/// the run and its `checker` are valid; returns the run's folder.
fn valid_run(test: &str, workload: &str, checker: &str) -> PathBuf {
    let results = results_dir(test);
    let args = [
        "--workload",
        workload,
        "--nemesis",
        "partition,kill,pause",
        "--time-limit",
        "30s",
        "--nemesis-interval",
        "4s",
        "--seed",
        "1",
    ];
    let out = run_test(&results, &args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "a correct raftkv must come out valid"
    );
    // stderr is a pipe here, not a terminal: the progress line comes as
    // plain lines, never redrawn with carriage returns and escape codes.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains(['\r', '\x1b']), "{stderr:?}");
    assert!(
        stderr.contains("ops/s  ok "),
        "no progress line in {stderr}"
    );
    let run = latest(&results);
    let v = verdicts(&run);
    assert!(v.contains(&(checker.into(), "valid".into())), "{v:?}");
    assert_cluster_gone();
    run
}

#[test]
fn raftkv_register_under_partitions_kills_and_pauses_is_valid() {
    let Some(_cluster) = cluster_or_skip("register valid run") else {
        return;
    };
    let run = valid_run("register-valid", "register", "linearizable");
    for file in [
        "spec.json",
        "history.jsonl",
        "history.csv",
        "results.json",
        "state.json",
        "report.html",
        "junit.xml",
    ] {
        assert!(
            run.join(file).is_file(),
            "{file} missing from {}",
            run.display()
        );
    }
    let spec: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("spec.json")).unwrap()).unwrap();
    assert_eq!(spec["seed"], 1);
    let faults = ["start-partition", "kill", "pause", "heal"];
    assert_run_exercised(&run, &faults, 100, "raftkv.log");
    // temblor check, with no flags, agrees with the run's own analysis.
    let check = temblor(&["check", run.to_str().unwrap()]).output().unwrap();
    assert_eq!(
        check.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
}

#[test]
fn raftkv_list_append_under_partitions_kills_and_pauses_is_valid() {
    let Some(_cluster) = cluster_or_skip("list-append valid run") else {
        return;
    };
    valid_run("append-valid", "list-append", "elle-list-append");
}
