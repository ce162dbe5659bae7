//! PostgreSQL (`targets/stores/postgres/`): list-append over SQL tables on
//! a primary with two streaming replicas, under the faults that mean
//! something for it. Its documentation promises serializability at
//! SERIALIZABLE and snapshot isolation at REPEATABLE READ ("Transaction
//! Isolation"): the target file has the checker test exactly that, and
//! these tests assert it holds.

use crate::store_or_skip;
use crate::support::*;

/// Runs PostgreSQL for 25 s with `opts` (target options) under `nemesis`,
/// and asserts what any run must show: it completes, the faults happened
/// (`faults`, as the history names them), the history is checked against
/// `models` (what the isolation level promises), and results.json and
/// the report give the verdict. Returns Elle's verdict.
fn run(test: &str, opts: &[&str], nemesis: &str, faults: &[&str], models: &str) -> String {
    let results = results_dir(test);
    let mut args = vec![
        "--target",
        "postgres",
        "--workload",
        "list-append",
        "--nemesis",
        nemesis,
        "--time-limit",
        "25s",
        "--nemesis-interval",
        "4s",
        "--seed",
        "1",
    ];
    for o in opts {
        args.extend(["--target-opt", o]);
    }
    if nemesis.contains("clock") {
        // Bumps, which leave an offset in force until the reset (the
        // assertions below look for them), not strobes.
        args.extend(["--clock-faults", "bump"]);
    }
    let out = run_test(&results, &args);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "the run must complete and be checked, not end with {:?}",
        out.status.code()
    );
    assert_cluster_gone();
    let run = latest(&results);
    let history = std::fs::read_to_string(run.join("history.jsonl")).unwrap();
    for f in faults {
        // A fault's completion says what it hit; its invocation's value is null.
        let done = history
            .lines()
            .any(|l| l.contains(&format!("\"f\":\"{f}\"")) && !l.contains("\"value\":null"));
        assert!(done, "{test}: no {f} done");
    }
    let results = results_json(&run);
    let check = |name: &str| {
        let checks = results["checks"].as_array().unwrap().iter();
        checks
            .clone()
            .find(|c| c["checker"] == name)
            .unwrap_or_else(|| panic!("{test}: no {name} check"))
            .clone()
    };
    let elle = check("elle-list-append");
    assert_eq!(elle["result"]["models"], serde_json::json!([models]));
    let verdict = elle["verdict"].as_str().unwrap().to_string();
    assert_eq!(results["verdict"], verdict);
    let report = std::fs::read_to_string(run.join("report.html")).unwrap();
    assert!(
        report.contains(&format!("checked: {models}")),
        "{test}: the report names the models checked"
    );
    let stats = check("stats");
    let committed = stats["result"]["by_f"]["txn"]["ok"].as_u64().unwrap_or(0);
    assert!(committed > 0, "{test}: no transaction committed: {stats}");
    for node in ["n1", "n2", "n3"] {
        let log = run.join("nodes").join(node).join("postgres.log");
        assert!(log.is_file(), "{test}: {node}'s postgres.log missing");
    }
    verdict
}

/// Faults kill and pause the primary and its replicas, and partitions cut
/// the primary off from the replicas its commits wait for: serializable
/// all the same. PostgreSQL promises it, and the design keeps the promise
/// in reach: every transaction runs on the one primary, nothing fails
/// over, and a commit is durable once acknowledged. A failure here is a
/// finding about PostgreSQL (Jepsen found G2-item at SERIALIZABLE in 12.3,
/// and reported one for 18.4): read the anomaly in the report.
#[test]
fn serializable_under_partitions_kills_and_pauses_is_serializable() {
    let Some(_cluster) = store_or_skip("psycopg2", "postgres serializable run") else {
        return;
    };
    let faults = ["start-partition", "kill", "pause"];
    let verdict = run(
        "postgres-serializable",
        &[],
        "partition,kill,pause",
        &faults,
        "serializable",
    );
    assert_eq!(verdict, "valid", "PostgreSQL promises serializability");
}

/// Repeatable read, asynchronous replicas, clocks moved under libfaketime:
/// snapshot isolation all the same, as documented.
#[test]
fn repeatable_read_under_kills_pauses_and_clock_faults_is_snapshot_isolation() {
    let Some(_cluster) = store_or_skip("psycopg2", "postgres repeatable-read run") else {
        return;
    };
    let opts = ["isolation=repeatable-read", "replication=async"];
    let faults = ["kill", "pause", "bump-clock"];
    let verdict = run(
        "postgres-repeatable-read",
        &opts,
        "kill,pause,clock",
        &faults,
        "snapshot-isolation",
    );
    assert_eq!(verdict, "valid", "PostgreSQL promises snapshot isolation");
}
