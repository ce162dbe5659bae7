//! Faults never outlive a run: a panic in the client or the nemesis heals
//! and exits 255; a controller killed with SIGKILL while a partition, a
//! pause, a kill and a clock offset are in force is healed by `temblor
//! heal` from another folder, and its history still gives a verdict; what
//! an earlier run left is cleaned before the next; a node temblor cannot
//! heal is named, and the others are healed.

use crate::support::*;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// Runs a short test with `TEMBLOR_INJECT_PANIC=inject`; returns the exit
/// code, stderr and the run folder.
fn panicking_run(test: &str, inject: &str, extra: &[&str]) -> (Option<i32>, String, PathBufRun) {
    let results = results_dir(test);
    let mut args = vec![
        "test",
        "--nodes",
        "3",
        "--time-limit",
        "60s",
        "--results-dir",
        results.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let out = temblor(&args)
        .env("TEMBLOR_INJECT_PANIC", inject)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.code(), stderr, latest(&results))
}

type PathBufRun = std::path::PathBuf;

#[test]
fn a_panic_in_the_client_or_the_nemesis_heals_keeps_the_history_and_exits_255() {
    let Some(_cluster) = cluster_or_skip("panics mid-run") else {
        return;
    };
    let cluster = cluster_up();
    // The client's 200th op, some seconds into a run paced at 50 ops/s
    // under partitions and pauses.
    let (code, stderr, run) = panicking_run(
        "client-panic",
        "client:200",
        &[
            "--rate",
            "50",
            "--nemesis",
            "partition,pause",
            "--nemesis-interval",
            "1s",
        ],
    );
    assert_eq!(code, Some(255), "{stderr}");
    assert!(
        stderr.contains("panicked: injected panic in the client on op 200"),
        "{stderr}"
    );
    assert!(
        stderr.contains("the history so far is in its history.jsonl"),
        "{stderr}"
    );
    assert_nodes_clean("after a client panic");
    let history = std::fs::read_to_string(run.join("history.jsonl")).unwrap();
    assert!(
        history.contains("injected panic in the client"),
        "the panicking op is recorded"
    );
    let (code, out) = check_run(&run);
    assert!(matches!(code, Some(0..=2)), "check gives a verdict: {out}");

    // The third fault op is the partition's stop: it panics with the
    // partition and a pause in force, and the run heals both.
    let (code, stderr, run) = panicking_run(
        "nemesis-panic",
        "nemesis:3",
        &[
            "--nemesis",
            "partition,pause",
            "--nemesis-interval",
            "2s",
            "--fault-targets",
            "one",
        ],
    );
    assert_eq!(code, Some(255), "{stderr}");
    assert!(
        stderr.contains("the nemesis panicked: injected panic in the nemesis"),
        "{stderr}"
    );
    let history = std::fs::read_to_string(run.join("history.jsonl")).unwrap();
    assert_eq!(completed(&history, "start-partition"), 1, "{history}");
    assert_eq!(completed(&history, "pause"), 1, "{history}");
    assert_eq!(completed(&history, "stop-partition"), 0, "{history}");
    assert_nodes_clean("after a nemesis panic");
    cluster.down();
}

/// True once the history shows a partition, a pause, a kill and a clock
/// offset all in force.
fn four_faults_active(history: &str) -> bool {
    [
        ("start-partition", "stop-partition"),
        ("pause", "resume"),
        ("kill", "start"),
        ("bump-clock", "reset-clock"),
    ]
    .iter()
    .all(|(on, off)| completed(history, on) > completed(history, off))
}

/// The nodes show all four faults: rules, a stopped process, a raftkv that
/// is not running, a clock offset.
fn four_faults_on_nodes() -> bool {
    let f: Vec<NodeFaults> = ["n1", "n2", "n3"].iter().map(|n| node_faults(n)).collect();
    f.iter().any(|f| f.rules > 0)
        && f.iter().any(|f| f.stopped > 0)
        && f.iter().any(|f| !f.raftkv_running)
        && f.iter()
            .any(|f| !matches!(f.faketime.as_str(), "" | "+0.000"))
}

#[test]
fn a_run_killed_hard_is_healed_from_another_folder_and_still_checked() {
    let Some(_cluster) = cluster_or_skip("SIGKILL, then temblor heal") else {
        return;
    };
    let cluster = cluster_up();
    let results = results_dir("sigkill");
    let mut child = temblor(&[
        "test",
        "--nodes",
        "3",
        "--nemesis",
        "partition,pause,kill,clock",
        "--clock-faults",
        "bump",
        "--nemesis-interval",
        "2s",
        "--fault-targets",
        "one",
        "--time-limit",
        "300s",
        "--results-dir",
        results.to_str().unwrap(),
    ])
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    // Freeze the controller whenever its history shows all four faults,
    // and kill it once the nodes agree; otherwise let it go on.
    let deadline = Instant::now() + Duration::from_secs(240);
    let run = loop {
        assert!(
            Instant::now() < deadline,
            "no partition, pause, kill and clock offset together within 240 s"
        );
        std::thread::sleep(Duration::from_millis(100));
        let Some((run, history)) = live_history(&results) else {
            continue;
        };
        if !four_faults_active(&history) {
            continue;
        }
        signal(child.id(), "STOP");
        if four_faults_on_nodes() {
            signal(child.id(), "KILL");
            break run;
        }
        signal(child.id(), "CONT");
    };
    wait_for(&mut child, Duration::from_secs(10));

    // From another folder, by a path relative to it.
    let elsewhere = results_dir("sigkill-elsewhere");
    let relative = pathdiff(&run, &elsewhere);
    let out = temblor(&["heal", relative.to_str().unwrap()])
        .current_dir(&elsewhere)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "temblor heal: {stderr}");
    for node in ["n1", "n2", "n3"] {
        let f = node_faults(node);
        assert!(f.is_clean(), "{node} after temblor heal: {f:?}");
        assert!(
            f.raftkv_running,
            "{node}: a killed raftkv was not restarted"
        );
    }
    let state = std::fs::read_to_string(run.join("state.json")).unwrap();
    assert!(state.contains("\"running\": false"), "{state}");
    let (code, out) = check_run(&run);
    assert!(matches!(code, Some(0..=2)), "check gives a verdict: {out}");
    cluster.down();
}

/// `path` relative to `base` (both absolute), through `..` as needed.
fn pathdiff(path: &Path, base: &Path) -> std::path::PathBuf {
    let (p, b): (Vec<_>, Vec<_>) = (path.components().collect(), base.components().collect());
    let common = p.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut out = std::path::PathBuf::new();
    for _ in common..b.len() {
        out.push("..");
    }
    for c in &p[common..] {
        out.push(c);
    }
    out
}

/// Starts `sleep` on `node` with a pidfile under the node's temblor folder
/// and stops it: a paused process an earlier run left behind. (It waits
/// for the `exec` first: a SIGSTOP that lands on the forked shell would
/// stop it with the SSH channel still open.)
fn stopped_process(node: &str, name: &str) -> String {
    on_node(
        node,
        &format!(
            "mkdir -p /var/lib/temblor/{node}; setsid nohup sleep 600 >/dev/null 2>&1 </dev/null & \
             p=$!; echo $p > /var/lib/temblor/{node}/{name}.pid; \
             i=0; while [ \"$(cat /proc/$p/comm)\" != sleep ] && [ $i -lt 500 ]; do sleep 0.01; i=$((i+1)); done; \
             kill -STOP $p; echo $p"
        ),
    )
    .trim()
    .to_string()
}

#[test]
fn what_an_earlier_run_left_is_cleaned_before_the_next_and_said() {
    let Some(_cluster) = cluster_or_skip("leftovers cleaned before a run") else {
        return;
    };
    let cluster = cluster_up();
    // On n1: a rule in our chain, a stopped daemon, a clock offset.
    on_node(
        "n1",
        "iptables -w -N temblor; iptables -w -A temblor -s 10.77.255.254 -j DROP; \
         mkdir -p /var/lib/temblor/n1; printf '+5.000\\n' > /var/lib/temblor/n1/faketime",
    );
    let pid = stopped_process("n1", "stale");
    let before = node_faults("n1");
    assert_eq!(
        (before.rules, before.stopped, before.faketime.as_str()),
        (1, 1, "+5.000")
    );
    let results = results_dir("leftovers");
    let out = run_test(&results, &["--nemesis", "none", "--time-limit", "3s"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let said = stderr
        .lines()
        .find(|l| l.starts_with("temblor: warning: n1: cleaned what an earlier run left: "))
        .unwrap_or_else(|| panic!("the run does not say what it cleaned: {stderr}"));
    for what in [
        "1 rule(s) in iptables chain temblor",
        &format!("process {pid} (/var/lib/temblor/n1/stale.pid) stopped by SIGSTOP"),
        "clock offset +5.000 s in /var/lib/temblor/n1/faketime",
    ] {
        assert!(said.contains(what), "{what:?} not in {said:?}");
    }
    assert_nodes_clean("after the run");
    let gone = on_node(
        "n1",
        &format!("kill -0 {pid} 2>/dev/null && echo alive || echo gone"),
    );
    assert_eq!(gone.trim(), "gone", "the stale daemon still runs");
    cluster.down();
}

#[test]
fn temblor_heal_names_the_nodes_it_cannot_heal_and_heals_the_others() {
    let Some(_cluster) = cluster_or_skip("heal, node by node") else {
        return;
    };
    let cluster = cluster_up();
    // A run on "real hosts": n1 of the local cluster, and n9, an address
    // on the cluster's bridge that no node has (no packet leaves it).
    let local = targets::cluster::Cluster::open(&slot().dir()).unwrap();
    let nowhere = format!("10.77.{}.250", slot().number());
    let dir = results_dir("heal-unreachable");
    let nodes = dir.join("nodes.txt");
    let n1 = local.addr("n1").unwrap();
    std::fs::write(&nodes, format!("n1 {n1}\nn9 {nowhere}\n")).unwrap();
    let spec = serde_json::json!({
        "nodes_file": nodes,
        "nemesis": ["partition"],
        "ssh": {
            "key": local.key_path(),
            "known_hosts": local.known_hosts_path(),
        },
    });
    let run = dir.join("run");
    std::fs::create_dir_all(&run).unwrap();
    let state = serde_json::json!({
        "running": true,
        "spec": spec,
        "nodes": {"n1": n1.to_string(), "n9": nowhere},
    });
    std::fs::write(run.join("state.json"), state.to_string()).unwrap();
    on_node(
        "n1",
        "iptables -w -N temblor; iptables -w -A temblor -s 10.77.255.254 -j DROP",
    );
    let pid = stopped_process("n1", "foreign");

    let out = temblor(&["heal", run.to_str().unwrap()]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(255), "{stderr}");
    assert!(
        stderr.contains("n9: "),
        "the unreachable node is named: {stderr}"
    );
    // raftkv's heal knows nothing of n1's foreign process: the check
    // after the heal finds it stopped and says so.
    assert!(
        stderr.contains(&format!(
            "n1: still in force after the heal: process {pid} (/var/lib/temblor/n1/foreign.pid) stopped by SIGSTOP"
        )),
        "{stderr}"
    );
    assert!(stderr.contains("could not heal n1, n9"), "{stderr}");
    assert_eq!(
        node_faults("n1").rules,
        0,
        "n1's rules were healed all the same"
    );
    let state = std::fs::read_to_string(run.join("state.json")).unwrap();
    assert!(
        state.contains("\"running\":true"),
        "a failed heal leaves the run marked running"
    );
    cluster.down();
}
