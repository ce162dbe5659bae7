//! Bad input gets a clear message and exit 254, and leaves nothing running.

use crate::support::*;

fn assert_usage(args: &[&str], expect: &str) {
    let out = temblor(args).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(254), "temblor {args:?}: {err}");
    assert!(
        err.contains(expect),
        "temblor {args:?}: expected {expect:?} in {err}"
    );
}

#[test]
fn unknown_names_and_typos_are_usage_errors() {
    assert_usage(&["test", "--target", "mongo"], "unknown target \"mongo\"");
    assert_usage(
        &["test", "--workload", "ledger"],
        "unknown workload \"ledger\"",
    );
    assert_usage(&["test", "--nemesis", "flood"], "unknown nemesis \"flood\"");
    assert_usage(&["test", "--time-limit", "soon"], "not a duration");
    assert_usage(
        &["test", "--nemesis", "file", "--file-faults", "shred"],
        "unknown file fault \"shred\" (one of bitflip, truncate, snapshot)",
    );
    assert_usage(
        &["test", "--target", "etcd", "--workload", "queue"],
        "target etcd cannot run the queue workload: its client implements register, list-append",
    );
    let dir = results_dir("usage");
    let file = dir.join("test.toml");
    std::fs::write(&file, "workload = \"register\"\nconcurency = 5\n").unwrap();
    assert_usage(
        &["test", "--test-file", file.to_str().unwrap()],
        "concurency",
    );
}

#[test]
fn a_node_that_cannot_be_reached_is_a_usage_error() {
    // A port on loopback where nothing listens: the connection is refused
    // at once, and nothing is started anywhere.
    let dir = results_dir("unreachable");
    let nodes = dir.join("nodes");
    std::fs::write(&nodes, "n1 127.0.0.1\n").unwrap();
    let key = dir.join("key");
    std::fs::write(&key, "not a key").unwrap();
    let file = dir.join("test.toml");
    std::fs::write(&file, "[ssh]\nport = 9\n").unwrap();
    let results = dir.join("results");
    let out = temblor(&[
        "test",
        "--test-file",
        file.to_str().unwrap(),
        "--nodes-file",
        nodes.to_str().unwrap(),
        "--ssh-key",
        key.to_str().unwrap(),
        "--results-dir",
        results.to_str().unwrap(),
    ])
    .output()
    .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(254), "{err}");
    assert!(err.contains("cannot reach node n1"), "{err}");
    assert_failure_recorded(&latest(&results), "usage-error", "cannot reach node n1");
}

#[test]
fn packet_delay_without_netem_is_refused_before_the_run() {
    let host_has_netem = std::process::Command::new("sh")
        .args([
            "-c",
            "modprobe -n sch_netem 2>/dev/null || test -e /sys/module/sch_netem",
        ])
        .status()
        .is_ok_and(|s| s.success());
    if host_has_netem {
        eprintln!("skipping: this kernel has netem, so --packet-delay is not refused here");
        return;
    }
    let Some(_cluster) = cluster_or_skip("packet-delay") else {
        return;
    };
    let results = results_dir("packet-delay");
    let out = temblor(&[
        "test",
        "--nodes",
        "3",
        "--results-dir",
        results.to_str().unwrap(),
        "--nemesis",
        "packet",
        "--packet-delay",
        "50ms",
        "--time-limit",
        "5s",
    ])
    .output()
    .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(254), "{err}");
    assert!(
        err.contains(
            "--packet-delay needs tc and the netem qdisc (sch_netem), which n1, n2, n3 lack"
        ),
        "{err}"
    );
    assert_cluster_gone();
}

#[test]
fn test_all_records_a_failed_cell_with_its_stderr_and_exits_with_it() {
    // Cells whose node refuses connections: each child `temblor test`
    // exits 254 at once; test-all records each with the end of its
    // stderr and its run folder, and exits with the worst code.
    let dir = results_dir("test-all-failed");
    let nodes = dir.join("nodes");
    std::fs::write(&nodes, "n1 127.0.0.1\n").unwrap();
    let key = dir.join("key");
    std::fs::write(&key, "not a key").unwrap();
    let results = dir.join("results");
    let out = temblor(&[
        "test-all",
        "--nodes-file",
        nodes.to_str().unwrap(),
        "--ssh-key",
        key.to_str().unwrap(),
        "--ssh-port",
        "9",
        "--workloads",
        "register,set",
        "--nemeses",
        "none",
        "--seed",
        "5",
        "--results-dir",
        results.to_str().unwrap(),
    ])
    .output()
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(254), "{stdout}");
    let test_all = std::fs::read_dir(results.join("test-all"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let text = std::fs::read_to_string(test_all.join("test-all.json")).unwrap();
    let rec: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(rec["exit_code"], 254);
    let runs = rec["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    for r in runs {
        assert_eq!(r["exit_code"], 254, "{r}");
        assert!(
            r["stderr_tail"]
                .as_str()
                .unwrap()
                .contains("cannot reach node n1"),
            "{r}"
        );
        assert!(
            results
                .join(r["run"].as_str().unwrap())
                .join("spec.json")
                .is_file(),
            "{r}"
        );
    }
    let junit = std::fs::read_to_string(test_all.join("junit.xml")).unwrap();
    let doc = roxmltree::Document::parse(&junit).unwrap();
    let errors = doc
        .descendants()
        .filter(|n| n.has_tag_name("error"))
        .count();
    assert_eq!(errors, 2, "{junit}");
    let md = std::fs::read_to_string(test_all.join("summary.md")).unwrap();
    assert!(md.contains("2 usage errors"), "{md}");
}
