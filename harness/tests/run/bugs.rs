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
    assert_stale_reads(&runs);
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

/// Every failure the linearizability checker found observes a value in
/// its minimal counterexample (a read, or a cas's compare): the stale
/// read. (The op the search stopped at may be a later cas that only a
/// stale read makes impossible.)
fn assert_stale_reads(runs: &[std::path::PathBuf]) {
    for run in runs {
        let r = results_json(run);
        let checks = r["checks"].as_array().unwrap();
        let lin = checks
            .iter()
            .find(|c| c["checker"] == "linearizable")
            .unwrap();
        let failures: Vec<&serde_json::Value> = lin["result"]["partitions"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|p| p.get("failure").filter(|f| !f.is_null()))
            .collect();
        assert!(!failures.is_empty(), "{}: no failure", run.display());
        // A stale value shows in a read, or in a cas, which compares
        // against the value it reads (a follower's stale copy made cas 2->0
        // succeed after write 1 in one CI run): either is an observation;
        // a counterexample of blind writes alone would be another bug.
        for f in failures {
            let ops = f["counterexample"]["ops"].as_array().unwrap();
            assert!(
                ops.iter().any(|op| op["f"] == "read" || op["f"] == "cas"),
                "{}: a counterexample that observes nothing: {f}",
                run.display()
            );
        }
    }
}

#[test]
fn lease_reads_under_leader_pauses_are_stale_and_found() {
    let Some(_cluster) = cluster_or_skip("lease-reads") else {
        return;
    };
    // Pausing the leader freezes its lease ticks; on waking it answers the
    // reads that queued meanwhile from its old state. 30 workers keep
    // reads queued at the leader when it wakes. A stale read shows only if
    // it was invoked after a write the new leader acknowledged: the 1 s op
    // timeout frees the workers stuck on the paused leader to send new
    // reads half way through the 2 s pause, well after the new leader
    // (elected within about 0.6 s) took writes. With the op timeout equal
    // to the pause (2 s), those reads raced the resume, and a loaded
    // machine caught the bug in only 1 of 3 runs.
    let args = [
        "--bug",
        "lease-reads",
        "--nemesis",
        "pause",
        "--fault-targets",
        "primaries",
        "--concurrency",
        "30",
        "--time-limit",
        "30s",
        "--nemesis-interval",
        "2s",
        "--op-timeout",
        "1s",
    ];
    let (n, runs) = caught("lease-reads-pause", 3, &args);
    assert!(
        n >= 2,
        "lease-reads under pauses caught in only {n} of 3 runs"
    );
    assert_stale_reads(&runs);
    assert_cluster_gone();
}

#[test]
fn lease_reads_under_clock_jumps_are_stale_and_found() {
    let Some(_cluster) = cluster_or_skip("lease-reads") else {
        return;
    };
    // The leader's clock jumps by seconds (back, half the time), then it
    // is cut off: its lease ticks stand still while the others elect a
    // new leader. Short op timeouts free workers stuck on writes to read
    // again.
    let args = [
        "--bug",
        "lease-reads",
        "--nemesis",
        "clock,partition",
        "--clock-faults",
        "bump",
        "--clock-bump-min",
        "3s",
        "--partition",
        "leader",
        "--fault-targets",
        "primaries",
        "--concurrency",
        "30",
        "--op-timeout",
        "250ms",
        "--time-limit",
        "30s",
        "--nemesis-interval",
        "2s",
    ];
    let (n, runs) = caught("lease-reads-clock", 3, &args);
    assert!(
        n >= 2,
        "lease-reads under clock jumps caught in only {n} of 3 runs"
    );
    assert_stale_reads(&runs);
    assert_cluster_gone();
}
