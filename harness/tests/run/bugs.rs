//! raftkv with a bug switch on, under the fault that exposes it, must come
//! out invalid, with the explanation pointing at the anomaly: proof that
//! temblor finds what it is for.

use crate::support::*;

/// Runs `runs` tests with `args` and returns how many came out invalid,
/// printing each run's folder.
fn caught(test: &str, runs: usize, args: &[&str]) -> (usize, Vec<std::path::PathBuf>) {
    let results = results_dir(test);
    let mut invalid = Vec::new();
    for i in 0..runs {
        let seed = (i + 1).to_string();
        let mut all = args.to_vec();
        all.extend_from_slice(&["--seed", &seed]);
        let out = run_test(&results, &all);
        match out.status.code() {
            Some(1) => invalid.push(latest(&results)),
            Some(0) => eprintln!("{test}: run {i} (seed {seed}) came out valid"),
            other => panic!("{test}: run {i} ended with {other:?}, not a verdict"),
        }
    }
    eprintln!("{test}: caught in {} of {runs} runs", invalid.len());
    (invalid.len(), invalid)
}

/// The op the linearizability checker could not linearize, per failure.
fn failing_fs(run: &std::path::Path) -> Vec<String> {
    let r = results_json(run);
    let checks = r["checks"].as_array().unwrap();
    let lin = checks
        .iter()
        .find(|c| c["checker"] == "linearizable")
        .unwrap();
    lin["result"]["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["failure"]["op"]["f"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn follower_reads_under_partitions_are_stale_and_found() {
    let Some(_cluster) = cluster_or_skip("follower-reads") else {
        return;
    };
    let args = [
        "--bug",
        "follower-reads",
        "--nemesis",
        "partition",
        "--time-limit",
        "15s",
        "--nemesis-interval",
        "3s",
    ];
    let (n, runs) = caught("follower-reads", 3, &args);
    assert_eq!(n, 3, "follower-reads must be caught in every run");
    for run in runs {
        let fs = failing_fs(&run);
        assert!(
            !fs.is_empty() && fs.iter().all(|f| f == "read"),
            "{}: {fs:?}",
            run.display()
        );
    }
    assert_cluster_gone();
}

#[test]
fn early_ack_loses_acknowledged_writes_when_the_leader_is_cut_off() {
    let Some(_cluster) = cluster_or_skip("early-ack") else {
        return;
    };
    // Cutting off the leader is what strands its early acknowledgements;
    // 30 workers keep writes in flight at the moment of the cut.
    let args = [
        "--bug",
        "early-ack",
        "--nemesis",
        "partition",
        "--partition",
        "leader",
        "--concurrency",
        "30",
        "--time-limit",
        "20s",
        "--nemesis-interval",
        "2s",
    ];
    let (n, runs) = caught("early-ack", 3, &args);
    assert!(n >= 2, "early-ack caught in only {n} of 3 runs");
    for run in runs {
        assert!(
            !failing_fs(&run).is_empty(),
            "{}: invalid without a failing op",
            run.display()
        );
    }
    assert_cluster_gone();
}
