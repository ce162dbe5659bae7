//! Every workload beyond register and list-append, end to end on raftkv
//! under partitions, kills and pauses: valid with every bug off, its
//! checker's section in the report; and raftkv's bug switches caught by
//! the workloads that should catch them (early acknowledgements lose set
//! elements; reads served by followers put a counter out of bounds).
//!
//! Runs are short (8 s, 3 nodes): the point is that each workload's ops,
//! client, final reads and checker work together under faults, not to
//! hunt rare bugs.

use crate::support::*;
use serde_json::Value;

/// The results of `checker` in `run`.
fn check_of(run: &std::path::Path, checker: &str) -> Value {
    let r = results_json(run);
    r["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["checker"] == checker)
        .unwrap_or_else(|| panic!("no {checker} check in {}", run.display()))
        .clone()
}

#[test]
fn every_workload_on_raftkv_under_partitions_kills_and_pauses_is_valid() {
    let Some(_cluster) = cluster_or_skip("workloads valid runs") else {
        return;
    };
    let results = results_dir("workloads");
    let cases = [
        ("set", "set", "Time from an add to stable visibility"),
        ("counter", "counter", "reads out of bounds"),
        ("bank", "bank", "Total of all accounts, read by read"),
        ("rw-register", "elle-rw-register", "elle-rw-register"),
        ("unique-ids", "unique-ids", "returned more than once"),
        ("lock", "lock", "Who held the lock when"),
        ("queue", "queue", "crashed dequeues"),
    ];
    for (workload, checker, in_report) in cases {
        let args = [
            "--name",
            workload,
            "--workload",
            workload,
            "--nemesis",
            "partition,kill,pause",
            "--time-limit",
            "8s",
            "--nemesis-interval",
            "2s",
            "--recovery-time",
            "2s",
            "--seed",
            "1",
        ];
        let out = run_test(&results, &args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{workload}: a correct raftkv must come out valid"
        );
        let run = latest(&results);
        let c = check_of(&run, checker);
        assert_eq!(c["verdict"], "valid", "{workload}: {}", c["text"]);
        let html = std::fs::read_to_string(run.join("report.html")).unwrap();
        assert!(
            html.contains(in_report),
            "{workload}: the report lacks {in_report:?}"
        );
        // Enough happened for the verdict to mean something.
        let stats = check_of(&run, "stats");
        let ok = stats["result"]["total"]["ok"].as_u64().unwrap();
        assert!(ok > 50, "{workload}: only {ok} ops succeeded");
    }
    let set = check_of(&latest_named(&results, "set"), "set");
    assert!(
        set["result"]["stable_count"].as_u64().unwrap() > 20,
        "{set}"
    );
    assert_cluster_gone();
}

/// The newest run of test `name` under `results`.
fn latest_named(results: &std::path::Path, name: &str) -> std::path::PathBuf {
    let dir = results.join(name);
    let mut runs: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    runs.sort();
    runs.pop()
        .unwrap_or_else(|| panic!("no run under {}", dir.display()))
}

/// Runs `args` with seeds 1 to `runs` until one comes out invalid;
/// returns that run's folder.
fn first_invalid(test: &str, runs: u64, args: &[&str]) -> Option<std::path::PathBuf> {
    let results = results_dir(test);
    for seed in 1..=runs {
        let seed = seed.to_string();
        let mut all = args.to_vec();
        all.extend_from_slice(&["--seed", &seed]);
        match run_test(&results, &all).status.code() {
            Some(1) => return Some(latest(&results)),
            Some(0) => eprintln!("{test}: seed {seed} came out valid"),
            other => panic!("{test}: seed {seed} ended with {other:?}, not a verdict"),
        }
    }
    None
}

#[test]
fn early_ack_loses_acknowledged_set_elements() {
    let Some(_cluster) = cluster_or_skip("early-ack set") else {
        return;
    };
    // Cutting off the leader strands the adds it acknowledged before
    // they committed; the final reads, after the heal, miss them.
    let args = [
        "--workload",
        "set",
        "--bug",
        "early-ack",
        "--nemesis",
        "partition",
        "--partition",
        "leader",
        "--concurrency",
        "20",
        "--time-limit",
        "12s",
        "--nemesis-interval",
        "2s",
    ];
    let run = first_invalid("early-ack-set", 3, &args).expect("early-ack never lost a set element");
    let set = check_of(&run, "set");
    assert_eq!(set["verdict"], "invalid");
    assert!(
        set["result"]["lost"]["count"].as_u64().unwrap() > 0,
        "{set}"
    );
    let html = std::fs::read_to_string(run.join("report.html")).unwrap();
    assert!(
        html.contains("Lost elements"),
        "the report does not list them"
    );
    assert_cluster_gone();
}

#[test]
fn follower_reads_put_counter_reads_out_of_bounds() {
    let Some(_cluster) = cluster_or_skip("follower-reads counter") else {
        return;
    };
    // A follower cut off from the leader keeps answering reads from its
    // own state, below the adds acknowledged since.
    let args = [
        "--workload",
        "counter",
        "--bug",
        "follower-reads",
        "--nemesis",
        "partition",
        "--time-limit",
        "12s",
        "--nemesis-interval",
        "2s",
    ];
    let run =
        first_invalid("follower-reads-counter", 3, &args).expect("follower-reads never caught");
    let counter = check_of(&run, "counter");
    let worst = &counter["result"]["worst"];
    assert!(
        worst["value"].as_i64() < worst["lower"].as_i64(),
        "a stale read is below its bound: {counter}"
    );
    assert_cluster_gone();
}
