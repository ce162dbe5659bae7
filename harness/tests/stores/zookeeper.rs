//! ZooKeeper (`targets/stores/zookeeper`): a 3-node ensemble from Debian's
//! zookeeperd, installed by the target's own install step, with the
//! register workload through its kazoo client.
//!
//! ZooKeeper promises linearizable writes, and reads that are only
//! sequentially consistent, even after a sync ("Consistency Guarantees" in
//! its internals guide). So these tests assert that a run completes, is
//! checked and explained, and that its writes and compare-and-sets alone
//! are linearizable; the verdict of the whole history, reads included, is
//! a finding (see the store's README), not asserted.

use crate::support::*;
use crate::{assert_checked_and_explained, store_or_skip};
use serde_json::Value;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

fn zookeeper_args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["--target", "zookeeper", "--workload", "register"];
    args.extend_from_slice(extra);
    args
}

/// `temblor check` on the history without its reads: ZooKeeper's promise
/// of linearizable writes, which the cas ops make checkable (a cas that
/// succeeded read the value it replaced).
fn assert_writes_linearizable(run: &Path) {
    let history = std::fs::read_to_string(run.join("history.jsonl")).unwrap();
    let writes: Vec<&str> = history
        .lines()
        .filter(|l| {
            let op: Value = serde_json::from_str(l).unwrap();
            op["f"] != "read"
        })
        .collect();
    assert!(
        writes.iter().any(|l| l.contains("\"f\":\"cas\"")),
        "no cas in the history"
    );
    let file = run.join("writes.jsonl");
    std::fs::write(&file, writes.join("\n")).unwrap();
    let check = temblor(&["check", file.to_str().unwrap(), "--independent"])
        .output()
        .unwrap();
    assert_eq!(
        check.status.code(),
        Some(0),
        "ZooKeeper promises linearizable writes:\n{}",
        String::from_utf8_lossy(&check.stdout)
    );
}

#[test]
fn zookeeper_register_under_partitions_kills_and_pauses() {
    let Some(_cluster) = store_or_skip("kazoo", "zookeeper register run") else {
        return;
    };
    let results = results_dir("zookeeper-register");
    let extra = [
        "--nemesis",
        "partition,kill,pause",
        "--time-limit",
        "25s",
        "--nemesis-interval",
        "3s",
        "--seed",
        "1",
    ];
    let out = run_test(&results, &zookeeper_args(&extra));
    let run = latest(&results);
    let verdict = assert_checked_and_explained(out.status.code(), &run);
    eprintln!("zookeeper, sync reads, partitions, kills and pauses: {verdict}");
    let faults = ["start-partition", "kill", "pause", "heal"];
    assert_run_exercised(&run, &faults, 100, "zookeeper.log");
    assert_writes_linearizable(&run);
    assert_cluster_gone();
}

/// Opens a session on a node, then reads when the node says it began
/// (`est`, by the JVM's wall clock, in the `cons` four-letter word), and
/// prints how far that is from the true time, in ms.
const CLOCK_PROBE: &str = r#"
import socket, sys, time
from kazoo.client import KazooClient
zk = KazooClient(hosts=sys.argv[1] + ":2181", timeout=5)
zk.start(timeout=5)
began = time.time()
with socket.create_connection((sys.argv[1], 2181), timeout=5) as s:
    s.sendall(b"cons")
    out = b"".join(iter(lambda: s.recv(65536), b"")).decode()
line = next(l for l in out.splitlines() if f"sid={zk.client_id[0]:#x}," in l)
print(int(line.split("est=")[1].split(",")[0]) - int(began * 1000))
zk.stop()
"#;

/// How far the JVM's wall clock on the node at `addr` is from the true
/// time (the nodes share this machine's clock), in ms.
fn jvm_skew_ms(addr: &str) -> Option<i64> {
    let out = std::process::Command::new("/usr/bin/python3")
        .args(["-c", CLOCK_PROBE, addr])
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

/// The address of `node` in the local cluster that is up.
fn address(node: &str) -> Option<String> {
    let state = std::fs::read_to_string(cluster_state()).ok()?;
    let state: Value = serde_json::from_str(&state).ok()?;
    let nodes = state["nodes"].as_array()?;
    let found = nodes.iter().find(|n| n["name"] == node)?;
    Some(found["addr"].as_str()?.to_string())
}

/// The clock offsets in force after the run's last clock fault, by node
/// (empty after a reset or a heal), and that fault's history index.
fn offsets_in_force(history: &str) -> (Option<u64>, Vec<(String, i64)>) {
    let mut last = (None, Vec::new());
    for op in history
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
    {
        if op["process"] != "nemesis" || op["type"] != "info" {
            continue;
        }
        match (op["f"].as_str(), op["value"]["offsets_ms"].as_object()) {
            (Some("bump-clock" | "strobe-clock"), Some(offsets)) => {
                let offsets = offsets
                    .iter()
                    .filter_map(|(n, o)| Some((n.clone(), o.as_i64()?)))
                    .collect();
                last = (op["index"].as_u64(), offsets);
            }
            (Some("reset-clock" | "heal"), _) => last = (op["index"].as_u64(), Vec::new()),
            _ => {}
        }
    }
    last
}

/// While a `--nemesis clock` run goes on, asks a node whose clock it moved
/// what time its JVM thinks it is: the JVM honours libfaketime, so the
/// answer is off by the offset the nemesis set.
#[test]
fn zookeeper_clock_faults_move_the_jvm_wall_clock() {
    let Some(_cluster) = store_or_skip("kazoo", "zookeeper clock run") else {
        return;
    };
    let results = results_dir("zookeeper-clock");
    let mut args = vec!["test", "--nodes", "3", "--results-dir"];
    args.push(results.to_str().unwrap());
    let extra = [
        "--nemesis",
        "clock",
        // Bumps of at least 5 s, which the probe below can tell from the
        // round trip (strobes and small bumps it cannot).
        "--clock-faults",
        "bump",
        "--clock-bump-min",
        "5s",
        "--time-limit",
        "30s",
        "--nemesis-interval",
        "6s",
        "--seed",
        "3",
    ];
    args.extend(zookeeper_args(&extra));
    let output = std::fs::File::create(results.join("temblor.out")).unwrap();
    let mut child = temblor(&args)
        .stdout(output.try_clone().unwrap())
        .stderr(output)
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let (mut probed, mut seen, mut matched, mut misses) = (None, None, None, Vec::new());
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "the run hangs"
        );
        std::thread::sleep(Duration::from_millis(250));
        let history = std::fs::read_to_string(results.join("latest/history.jsonl"));
        let (index, offsets) = offsets_in_force(&history.unwrap_or_default());
        if index != seen {
            seen = index;
            probed = Some(Instant::now());
        }
        // libfaketime rereads its offset file at most once a second.
        let settled = probed.is_some_and(|t| t.elapsed() > Duration::from_millis(1500));
        if matched.is_some() || !settled || offsets.is_empty() {
            continue;
        }
        probed = None;
        for (node, offset) in offsets.iter().filter(|(_, o)| o.abs() >= 3000) {
            match address(node).and_then(|a| jvm_skew_ms(&a)) {
                Some(skew) if (skew - offset).abs() <= 1500 => {
                    matched = Some(format!("{node}: offset {offset} ms, JVM off by {skew} ms"))
                }
                other => misses.push(format!("{node}: offset {offset} ms, JVM off by {other:?}")),
            }
        }
    };
    let printed = std::fs::read_to_string(results.join("temblor.out")).unwrap_or_default();
    eprintln!("temblor {}\n{printed}", args.join(" "));
    let run = latest(&results);
    assert_checked_and_explained(status.code(), &run);
    let Some(matched) = matched else {
        panic!("no clock fault moved ZooKeeper's wall clock; probes: {misses:?}");
    };
    eprintln!("the JVM's clock moved: {matched} (misses: {misses:?})");
    // ZooKeeper relies on clocks for liveness, not correctness.
    assert_writes_linearizable(&run);
    assert_cluster_gone();
}
