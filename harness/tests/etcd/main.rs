//! End-to-end runs of `temblor test --target etcd` on a 3-node local
//! cluster with Debian's etcd-server (etcd 3.4): correct etcd comes out
//! valid under partitions, kills and pauses (register and list-append),
//! clock faults are refused before the run with the reason, and
//! serializable reads under partitions are caught as stale.
//!
//! These need root and etcd. Outside CI they skip, saying why; with
//! `CI=true` they must run. Runs are serialized inside this binary (the
//! support module's lock) and wait for other `temblor test` runs on this
//! machine, since there is only one local cluster.

#[allow(dead_code)]
#[path = "../run/support.rs"]
mod support;

use std::path::Path;
use std::sync::MutexGuard;
use std::time::{Duration, Instant};
use support::*;

/// The cluster lock, once etcd is installed and no other run uses the
/// local cluster; `None` (after saying why) when this machine cannot.
fn etcd_or_skip(test: &str) -> Option<MutexGuard<'static, ()>> {
    let guard = cluster_or_skip(test)?;
    if !Path::new("/usr/bin/etcd").is_file() {
        let why = format!("{test}: needs etcd (apt-get install etcd-server)");
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{why} (CI=true: this test must run)"
        );
        eprintln!("skipping {why}");
        return None;
    }
    wait_for_other_runs();
    Some(guard)
}

/// Waits (up to 10 minutes) while another process runs `temblor test`.
fn wait_for_other_runs() {
    let deadline = Instant::now() + Duration::from_secs(600);
    if other_runs() {
        eprintln!("waiting for another `temblor test` to finish: one local cluster at a time");
    }
    while other_runs() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_secs(2));
    }
}

fn other_runs() -> bool {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return false;
    };
    dir.flatten().any(|e| {
        let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
        args.first().is_some_and(|a| a.ends_with(b"temblor")) && args.get(1) == Some(&&b"test"[..])
    })
}

fn etcd_args<'a>(workload: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["--target", "etcd", "--workload", workload];
    args.extend_from_slice(extra);
    args
}

#[test]
fn etcd_register_under_partitions_kills_and_pauses_is_valid() {
    let Some(_cluster) = etcd_or_skip("etcd register valid run") else {
        return;
    };
    let results = results_dir("etcd-register");
    let faults = ["--nemesis", "partition,kill,pause"];
    let timing = [
        "--time-limit",
        "25s",
        "--nemesis-interval",
        "3s",
        "--seed",
        "1",
    ];
    let args = etcd_args("register", &[&faults[..], &timing[..]].concat());
    let out = run_test(&results, &args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "correct etcd must come out valid"
    );
    let run = latest(&results);
    assert_run_exercised(
        &run,
        &["start-partition", "kill", "pause", "heal"],
        100,
        "etcd.log",
    );
    let v = verdicts(&run);
    assert!(
        v.contains(&("linearizable".into(), "valid".into())),
        "{v:?}"
    );
    assert_cluster_gone();
}

#[test]
fn etcd_bank_under_partitions_kills_and_pauses_keeps_its_total() {
    let Some(_cluster) = etcd_or_skip("etcd bank valid run") else {
        return;
    };
    // Transfers are etcd txns comparing both accounts' mod revisions: the
    // recipe every versioned workload (counter, rw-register) shares.
    let results = results_dir("etcd-bank");
    let extra = [
        "--nemesis",
        "partition,kill,pause",
        "--time-limit",
        "15s",
        "--nemesis-interval",
        "3s",
        "--seed",
        "1",
    ];
    let out = run_test(&results, &etcd_args("bank", &extra));
    assert_eq!(
        out.status.code(),
        Some(0),
        "correct etcd must come out valid"
    );
    let run = latest(&results);
    let v = verdicts(&run);
    assert!(v.contains(&("bank".into(), "valid".into())), "{v:?}");
    let r = results_json(&run);
    let bank = &r["checks"][0]["result"];
    assert!(bank["read_count"].as_u64().unwrap() > 50, "{bank}");
    assert!(bank["transfers_ok"].as_u64().unwrap() > 20, "{bank}");
    assert_cluster_gone();
}

#[test]
fn etcd_list_append_under_partitions_kills_and_pauses_is_valid() {
    let Some(_cluster) = etcd_or_skip("etcd list-append valid run") else {
        return;
    };
    let results = results_dir("etcd-append");
    let extra = [
        "--nemesis",
        "partition,kill,pause",
        "--time-limit",
        "25s",
        "--nemesis-interval",
        "3s",
    ];
    let out = run_test(&results, &etcd_args("list-append", &extra));
    assert_eq!(
        out.status.code(),
        Some(0),
        "correct etcd must come out valid"
    );
    let v = verdicts(&latest(&results));
    assert!(
        v.contains(&("elle-list-append".into(), "valid".into())),
        "{v:?}"
    );
    assert_cluster_gone();
}

#[test]
fn etcd_clock_faults_are_refused_before_the_run() {
    let Some(_cluster) = etcd_or_skip("etcd clock refusal") else {
        return;
    };
    let results = results_dir("etcd-clock");
    let extra = ["--nemesis", "clock", "--time-limit", "5s"];
    let out = run_test(&results, &etcd_args("register", &extra));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(
        out.status.code(),
        Some(0),
        "a clock fault etcd cannot take ran"
    );
    assert!(
        stderr.contains("Go program") && stderr.contains("libfaketime"),
        "the refusal must say why: {stderr}"
    );
    assert!(
        !results.join("latest").join("history.jsonl").is_file(),
        "no workload may run when the fault is refused"
    );
    assert_cluster_gone();
}

/// Serializable reads let an isolated member answer from its own state:
/// under partitions they come out stale. Measured here: 2 runs of 20 s,
/// both invalid, 22-25 of ~28 keys not linearizable.
#[test]
fn etcd_serializable_reads_under_partitions_are_caught_stale() {
    let Some(_cluster) = etcd_or_skip("etcd serializable reads run") else {
        return;
    };
    let results = results_dir("etcd-stale");
    let extra = [
        "--etcd-serializable-reads",
        "--nemesis",
        "partition",
        "--partition",
        "one,halves",
        "--time-limit",
        "20s",
        "--nemesis-interval",
        "3s",
        "--seed",
        "1",
    ];
    let out = run_test(&results, &etcd_args("register", &extra));
    assert_eq!(
        out.status.code(),
        Some(1),
        "stale reads must make the run invalid"
    );
    let v = verdicts(&latest(&results));
    assert!(
        v.contains(&("linearizable".into(), "invalid".into())),
        "{v:?}"
    );
    // The explanation names a read that no linearization allows.
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("cannot linearize") && stdout.contains(" read "),
        "{stdout}"
    );
    assert_cluster_gone();
}
