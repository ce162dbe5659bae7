//! SIGINT, SIGTERM and SIGHUP in the middle of a run with a partition and
//! a paused node in force: the run heals everything before it exits, and
//! the history holds every op, each invocation completed.

use crate::support::*;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// True once the history shows a partition and a pause both in force.
fn both_faults_active(history: &str) -> bool {
    completed(history, "start-partition") > completed(history, "stop-partition")
        && completed(history, "pause") > completed(history, "resume")
}

/// Runs a test until a partition and a pause are both in force, sends
/// `sig`, and checks the run healed, exited with a verdict and kept a
/// whole history.
fn stopped_by(sig: &str) {
    let results = results_dir(&format!("signal-{sig}"));
    let mut child = temblor(&[
        "test",
        "--nodes",
        "3",
        "--nemesis",
        "partition,pause",
        "--nemesis-interval",
        "2s",
        "--time-limit",
        "120s",
        "--results-dir",
        results.to_str().unwrap(),
    ])
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(90);
    let run = loop {
        assert!(
            Instant::now() < deadline,
            "{sig}: no partition and pause together within 90 s"
        );
        std::thread::sleep(Duration::from_millis(100));
        match live_history(&results) {
            Some((run, h)) if both_faults_active(&h) => break run,
            _ => continue,
        }
    };
    signal(child.id(), sig);
    let status = wait_for(&mut child, Duration::from_secs(120));
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(
        matches!(status.code(), Some(0..=2)),
        "SIG{sig}: the run exits with a verdict, not {status}:\n{stderr}"
    );
    assert!(
        stderr.contains(&format!("temblor: SIG{sig}: stopping")),
        "{stderr}"
    );
    assert_nodes_clean(&format!("after SIG{sig}"));
    let history_file = run.join("history.jsonl");
    let history = std::fs::read_to_string(&history_file).unwrap();
    let h = checkers::format::read_path(&history_file, None).expect("the history reads back");
    let ops = h
        .operations()
        .expect("every completion pairs with its invocation");
    assert!(ops.len() > 10, "{} ops", ops.len());
    assert!(
        ops.iter().all(|o| o.complete.is_some()),
        "an invocation was left without completion"
    );
    assert!(history.contains("\"f\":\"heal\""), "no heal recorded");
    let state = std::fs::read_to_string(run.join("state.json")).unwrap();
    assert!(state.contains("\"running\": false"), "{state}");
}

#[test]
fn sigint_sigterm_and_sighup_heal_every_fault_and_keep_the_history() {
    let Some(_cluster) = cluster_or_skip("signals mid-run") else {
        return;
    };
    let cluster = cluster_up();
    for sig in ["INT", "TERM", "HUP"] {
        stopped_by(sig);
    }
    cluster.down();
}
