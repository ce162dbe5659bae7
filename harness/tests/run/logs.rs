//! A run's log and its replay: `temblor.log` holds every command a run
//! sent (node, exit status, duration) and the faults; `-v` and `-q` say
//! more and less on the terminal; `--replay` runs the same test again, and
//! its op stream and fault choices are the run's.

use crate::support::*;
use serde_json::Value;
use std::path::Path;

/// An op as compared: `(f, value)`.
type Call = (String, Value);

/// The history's client invocations (but the final reads) and fault
/// completions (but the heal), as `(f, value)` in history order: the
/// final reads and the heal come when the time is up, which cuts the two
/// streams at a point timing decides.
fn streams(run: &Path) -> (Vec<Call>, Vec<Call>) {
    let text = std::fs::read_to_string(run.join("history.jsonl")).unwrap();
    let (mut ops, mut faults) = (Vec::new(), Vec::new());
    for line in text.lines() {
        let op: Value = serde_json::from_str(line).unwrap();
        let pair = (op["f"].as_str().unwrap().to_string(), op["value"].clone());
        match (op["process"] == "nemesis", op["type"].as_str()) {
            (false, Some("invoke")) if op["final"] != true => ops.push(pair),
            (true, Some("info")) if !op["value"].is_null() && op["f"] != "heal" => {
                faults.push(pair)
            }
            _ => {}
        }
    }
    (ops, faults)
}

/// The first `n` of each, which must be equal.
fn same_prefix(what: &str, a: &[Call], b: &[Call], least: usize) {
    let n = a.len().min(b.len());
    assert!(n >= least, "{what}: only {n} to compare (want {least})");
    assert_eq!(a[..n], b[..n], "{what} differ");
}

#[test]
fn a_run_logs_its_commands_and_a_replay_repeats_its_ops_and_faults() {
    let Some(_cluster) = cluster_or_skip("log and replay") else {
        return;
    };
    let results = results_dir("log-replay");
    // One worker: which worker draws the next op is then no matter of
    // timing, so the op stream is the seed's alone.
    let out = run_test(
        &results,
        &[
            "--name",
            "first",
            "--nemesis",
            "partition,kill",
            "--nemesis-interval",
            "1s",
            "--time-limit",
            "5s",
            "--recovery-time",
            "1s",
            "--concurrency",
            "1",
            "--seed",
            "5",
            "-v",
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("temblor: [DEBUG temblor::ssh] exec "),
        "-v shows the commands: {stderr}"
    );
    let first = latest(&results);
    let log = std::fs::read_to_string(first.join("temblor.log")).unwrap();
    for node in ["n1", "n2", "n3"] {
        let sent = format!("node=\"{node}\" status=0 ms=");
        assert!(
            log.lines()
                .any(|l| l.contains("DEBUG temblor::ssh: exec ") && l.contains(&sent)),
            "no command on {node} with its status and duration in:\n{log}"
        );
    }
    for want in [
        "temblor::run: setting up raftkv on n1, n2, n3",
        "INFO  temblor::nemesis: start-partition: {\"grudge\"",
        "temblor::run: tearing down raftkv on n1, n2, n3",
        "temblor::run: the workload starts",
    ] {
        assert!(log.contains(want), "{want:?} missing from:\n{log}");
    }

    // The replay, quiet: nothing but warnings and errors on the terminal.
    let out = run_test(
        &results,
        &["--replay", first.to_str().unwrap(), "--name", "again", "-q"],
    );
    assert_eq!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr
            .lines()
            .all(|l| l.starts_with("temblor: warning:") || l.starts_with("temblor: error:")),
        "-q printed more than warnings: {stderr}"
    );
    let again = latest(&results);
    assert_ne!(first, again);
    let (ops_a, faults_a) = streams(&first);
    let (ops_b, faults_b) = streams(&again);
    same_prefix("the client ops", &ops_a, &ops_b, 100);
    same_prefix("the fault choices", &faults_a, &faults_b, 2);
    assert_cluster_gone();
}
