//! Redis (`targets/stores/redis`): a primary and two replicas from Debian's
//! redis-server, a Sentinel on each node (quorum 2), installed by the
//! target's own install step, with the register workload through its
//! python3-redis client, which finds the primary through Sentinel.
//!
//! Redis promises no linearizability here: its Sentinel documentation says
//! that the system "does not guarantee that acknowledged writes are
//! retained during failures, since Redis uses asynchronous replication".
//! So these tests assert that a run completes, is checked and explained,
//! and that Sentinel's work is in the logs; the verdict is a finding (see
//! the store's README), not asserted.

use crate::support::*;
use crate::{assert_checked_and_explained, store_or_skip};
use std::path::Path;

/// `temblor test --target redis` for 25 s under `faults`, with `opts` as
/// target options; returns the run's folder and its exit code.
fn run(test: &str, faults: &[&str], opts: &[&str]) -> (std::path::PathBuf, Option<i32>) {
    let results = results_dir(test);
    let mut args = vec!["--target", "redis", "--workload", "register"];
    args.extend_from_slice(faults);
    args.extend([
        "--time-limit",
        "25s",
        "--nemesis-interval",
        "5s",
        "--seed",
        "1",
    ]);
    for opt in opts {
        args.extend(["--target-opt", opt]);
    }
    let out = run_test(&results, &args);
    (latest(&results), out.status.code())
}

/// The faults `fs` ran, clients got through, and every node's Redis and
/// Sentinel logs and configurations (as Sentinel rewrote them) were
/// downloaded.
fn assert_faults_clients_and_logs(run: &Path, fs: &[&str]) {
    let faults: Vec<&str> = fs.iter().copied().chain(["heal"]).collect();
    assert_run_exercised(run, &faults, 0, "redis.log");
    // The first fault comes after the nemesis interval: until then every
    // node is up and the primary answers, so reads and writes succeed.
    let history = std::fs::read_to_string(run.join("history.jsonl")).unwrap();
    for f in ["read", "write"] {
        let ok = format!("\"type\":\"ok\",\"f\":\"{f}\"");
        assert!(
            history.lines().any(|l| l.contains(&ok)),
            "no {f} succeeded: the workload did not get through"
        );
    }
    for node in ["n1", "n2", "n3"] {
        for file in ["sentinel.log", "redis.conf", "sentinel.conf"] {
            let path = run.join("nodes").join(node).join(file);
            assert!(path.is_file(), "{node}'s {file} missing");
        }
        // Sentinel rewrites its file with what it learns of the group: the
        // target is ready only once every Sentinel knows the others.
        let conf =
            std::fs::read_to_string(run.join("nodes").join(node).join("sentinel.conf")).unwrap();
        assert!(
            conf.contains("sentinel known-sentinel mymaster"),
            "{node}'s Sentinel never recorded another Sentinel:\n{conf}"
        );
    }
}

/// Whether any Sentinel promoted a replica during the run.
fn failed_over(run: &Path) -> bool {
    ["n1", "n2", "n3"].iter().any(|node| {
        std::fs::read_to_string(run.join("nodes").join(node).join("sentinel.log"))
            .is_ok_and(|log| log.contains("+switch-master"))
    })
}

#[test]
fn redis_register_under_partitions_kills_and_pauses() {
    let Some(_cluster) = store_or_skip("redis", "redis register run") else {
        return;
    };
    let faults = ["--nemesis", "partition,kill,pause"];
    let (run, code) = run("redis-register", &faults, &[]);
    let verdict = assert_checked_and_explained(code, &run);
    assert_faults_clients_and_logs(&run, &["start-partition", "kill", "pause"]);
    eprintln!(
        "redis, partitions, kills and pauses: {verdict} (failed over: {})",
        failed_over(&run)
    );
    assert_cluster_gone();
}

/// The options that narrow the window for lost writes, with partitions
/// that isolate the primary: they change the deployment and the client,
/// not what a run must show. It completes and is checked, NOREPLICAS
/// refusals and unacknowledged WAITs included.
#[test]
fn redis_with_min_replicas_wait_and_discovery_every_op_under_partitions() {
    let Some(_cluster) = store_or_skip("redis", "redis register run with its options") else {
        return;
    };
    let faults = ["--nemesis", "partition", "--partition", "leader"];
    let opts = [
        "min_replicas_to_write=1",
        "min_replicas_max_lag=1",
        "wait=1",
        "discovery=every-op",
    ];
    let (run, code) = run("redis-register-options", &faults, &opts);
    let verdict = assert_checked_and_explained(code, &run);
    assert_faults_clients_and_logs(&run, &["start-partition"]);
    let conf = std::fs::read_to_string(run.join("nodes/n2/redis.conf")).unwrap();
    assert!(
        conf.contains("min-replicas-to-write 1") && conf.contains("min-replicas-max-lag 1"),
        "the options did not reach redis.conf:\n{conf}"
    );
    eprintln!(
        "redis with min-replicas-to-write 1, WAIT 1 and discovery before every op: {verdict} \
         (failed over: {})",
        failed_over(&run)
    );
    assert_cluster_gone();
}
