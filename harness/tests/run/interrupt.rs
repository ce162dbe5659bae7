//! SIGINT in the middle of a run with a partition and a paused node in
//! force: the run heals everything before it exits, and the history holds
//! every op, each invocation completed.

use crate::support::*;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// `cmd` on `node` over the local cluster's ssh_config, as a person would.
fn on_node(node: &str, cmd: &str) -> String {
    let config = slot().dir().join("ssh_config");
    let out = Command::new("ssh")
        .arg("-F")
        .arg(&config)
        .args([node, cmd])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// True once the history shows a partition and a pause both in force.
fn both_faults_active(history: &str) -> bool {
    let done = |f: &str| {
        history
            .lines()
            .filter(|l| l.contains(&format!("\"f\":\"{f}\"")) && !l.contains("\"value\":null"))
            .count()
    };
    done("start-partition") > done("stop-partition") && done("pause") > done("resume")
}

#[test]
fn sigint_heals_every_fault_and_keeps_the_history() {
    let Some(_cluster) = cluster_or_skip("SIGINT mid-run") else {
        return;
    };
    let up = temblor(&["cluster", "up", "--nodes", "3"])
        .status()
        .unwrap();
    assert!(up.success(), "cluster up");
    let results = results_dir("sigint");
    let mut child = temblor(&[
        "test",
        "--nodes",
        "3",
        "--nemesis",
        "partition,pause",
        "--nemesis-interval",
        "3s",
        "--time-limit",
        "120s",
        "--results-dir",
        results.to_str().unwrap(),
    ])
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(90);
    let history_file = loop {
        assert!(
            Instant::now() < deadline,
            "no partition and pause together within 90 s"
        );
        std::thread::sleep(Duration::from_millis(200));
        let Ok(run) = std::fs::canonicalize(results.join("latest")) else {
            continue;
        };
        let file = run.join("history.jsonl");
        if both_faults_active(&std::fs::read_to_string(&file).unwrap_or_default()) {
            break file;
        }
    };
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert!(
        matches!(status.code(), Some(0..=2)),
        "interrupted run exits with a verdict: {status}"
    );

    for node in ["n1", "n2", "n3"] {
        let rules = on_node(
            node,
            "iptables -w -S temblor 2>/dev/null | grep -c '^-A' || true",
        );
        assert_eq!(rules.trim(), "0", "{node}: temblor rules left: {rules}");
        let stopped = on_node(node, "ps -eo stat= | grep -c '^T' || true");
        assert_eq!(stopped.trim(), "0", "{node}: a stopped process is left");
    }
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
    let down = temblor(&["cluster", "down"]).status().unwrap();
    assert!(down.success());
    assert_cluster_gone();
}
