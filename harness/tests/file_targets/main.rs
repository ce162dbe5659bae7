//! Targets described by a file, end to end through the temblor binary:
//! tinykv (`tests/fixtures/tinykv/`, a one-node in-memory store with a
//! Python client) run under faults with a real verdict; attach mode; and
//! what a user's mistakes look like: a bad file refused before any node is
//! touched, a failing step named with its node, command, status and
//! stderr, a client that cannot start, and nothing left running after.
//!
//! The runs need root and the local cluster: outside CI they skip, saying
//! why; with `CI=true` they must run.

#[path = "../run/support.rs"]
#[allow(dead_code)]
mod support;

use std::path::{Path, PathBuf};
use std::process::Output;
use support::{cluster_or_skip, latest, results_dir, results_json, temblor};

fn tinykv() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tinykv/target.toml")
}

/// `temblor test --target FILE --nodes N` with `args`, results in `results`.
fn run(results: &Path, target: &Path, nodes: &str, args: &[&str]) -> Output {
    let mut all = vec![
        "test",
        "--target",
        target.to_str().unwrap(),
        "--nodes",
        nodes,
        "--results-dir",
        results.to_str().unwrap(),
    ];
    all.extend_from_slice(args);
    let out = temblor(&all).output().expect("temblor runs");
    eprintln!(
        "temblor {}\n--- stdout\n{}\n--- stderr\n{}",
        all.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A target file written into a scratch folder next to tinykv's files.
fn scratch_target(test: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("temblor-ft-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("target.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// PIDs of processes whose command line contains `needle` (as words
/// separated by NULs in /proc: `sleep 3141` is `sleep\03141`).
fn processes(needle: &[&str]) -> Vec<String> {
    let want = needle.join("\0");
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
            String::from_utf8_lossy(&cmdline)
                .contains(&want)
                .then(|| e.file_name().to_string_lossy().into_owned())
        })
        .collect()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_store_described_by_a_file_runs_under_faults_with_a_real_verdict() {
    let Some(_lock) = cluster_or_skip("a_store_described_by_a_file_runs_under_faults") else {
        return;
    };
    let results = results_dir("ft-tinykv");
    // One node: tinykv does not replicate. Pauses lose nothing, so the
    // history must be linearizable.
    let out = run(
        &results,
        &tinykv(),
        "1",
        &[
            "--nemesis",
            "pause",
            "--nemesis-interval",
            "2s",
            "--time-limit",
            "8s",
            "--recovery-time",
            "1s",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let run_dir = latest(&results);
    let r = results_json(&run_dir);
    assert_eq!(r["verdict"], "valid");
    let history = std::fs::read_to_string(run_dir.join("history.jsonl")).unwrap();
    assert!(
        history.contains("\"f\":\"pause\""),
        "no pause in the history"
    );
    assert!(
        history.matches("\"type\":\"ok\"").count() > 100,
        "too few ops"
    );
    let spec = std::fs::read_to_string(run_dir.join("spec.json")).unwrap();
    assert!(spec.contains("\"kind\": \"file\""), "{spec}");
    assert!(
        run_dir.join("nodes/n1/tinykv.log").is_file(),
        "the daemon's log"
    );
    assert!(run_dir.join("temblor.log").is_file());
    support::assert_cluster_gone();
}

#[test]
fn a_failing_step_names_its_node_command_status_and_stderr_and_nothing_is_left_running() {
    let Some(_lock) = cluster_or_skip("a_failing_step_names_its_node") else {
        return;
    };
    let results = results_dir("ft-failing-step");
    let base = r#"
name = "broken"
[client]
command = ["/usr/bin/python3", "client.py"]
workloads = ["register"]
[[daemon]]
name = "sleeper"
command = "sleep 3141"
"#;
    let configure = scratch_target(
        "configure",
        &format!("{base}[configure]\ncommand = \"echo config is broken >&2; exit 3\"\n"),
    );
    let out = run(&results, &configure, "1", &["--time-limit", "2s"]);
    assert_eq!(out.status.code(), Some(255), "{}", stderr(&out));
    let e = stderr(&out);
    for want in [
        "cannot set up the target",
        "n1: configure (",
        "target.toml:10) failed: exit status 3: config is broken",
        "the command: echo config is broken >&2; exit 3",
    ] {
        assert!(e.contains(want), "{want:?} missing from:\n{e}");
    }
    // The harness failed, and says so where CI looks: results.json and
    // junit.xml, both carrying the error; the log has the failing command.
    let failed = latest(&results);
    support::assert_failure_recorded(&failed, "harness-error", "config is broken");
    let log = std::fs::read_to_string(failed.join("temblor.log")).unwrap();
    assert!(
        log.lines().any(|l| l.contains("temblor::ssh: exec ")
            && l.contains("exit 3")
            && l.contains("node=\"n1\" status=3 ms=")),
        "the failing command is not in temblor.log:\n{log}"
    );
    // The daemon starts, but never becomes ready: the run fails after the
    // ready timeout, quoting the last check, and stops the daemon.
    let never = scratch_target(
        "ready",
        &format!("{base}[ready]\ncommand = \"echo not yet >&2; false\"\ntimeout = \"2s\"\n"),
    );
    let out = run(
        &results,
        &never,
        "1",
        &["--time-limit", "2s", "--no-teardown"],
    );
    assert_eq!(out.status.code(), Some(255), "{}", stderr(&out));
    let e = stderr(&out);
    assert!(
        e.contains("broken not ready within 2s") && e.contains("not yet"),
        "{e}"
    );
    assert!(
        processes(&["sleep", "3141"]).is_empty(),
        "the daemon was left running"
    );
    support::assert_cluster_gone();
}

#[test]
fn a_client_that_cannot_start_stops_the_run_before_any_fault() {
    let Some(_lock) = cluster_or_skip("a_client_that_cannot_start") else {
        return;
    };
    let results = results_dir("ft-client");
    let target = scratch_target(
        "client",
        r#"
name = "noclient"
[client]
command = ["/usr/bin/python3", "-c", "import sys; sys.stderr.write('no driver for this store\\n'); sys.exit(2)"]
workloads = ["register"]
[[daemon]]
name = "sleeper"
command = "sleep 3142"
"#,
    );
    let out = run(
        &results,
        &target,
        "1",
        &["--nemesis", "kill", "--time-limit", "5s"],
    );
    assert_eq!(out.status.code(), Some(254), "{}", stderr(&out));
    let e = stderr(&out);
    for want in [
        "cannot start the client",
        "sys.exit(2)",
        "no driver for this store",
        "exit status: 2",
    ] {
        assert!(e.contains(want), "{want:?} missing from:\n{e}");
    }
    let history = latest(&results).join("history.jsonl");
    assert!(!history.exists(), "no op and no fault may run");
    support::assert_failure_recorded(&latest(&results), "usage-error", "no driver for this store");
    assert!(
        processes(&["sleep", "3142"]).is_empty(),
        "the daemon was left running"
    );
    support::assert_cluster_gone();
}

#[test]
fn a_bad_target_file_is_refused_before_any_node_is_touched() {
    // No root needed: the file is refused before the local cluster.
    let results = results_dir("ft-bad-file");
    let typo = scratch_target(
        "typo",
        "name = \"kv\"\n[client]\ncommand = [\"x\"]\nworkloads = [\"register\"]\n[[daemon]]\nname = \"kv\"\ncomand = \"kvd\"\n",
    );
    let out = run(&results, &typo, "3", &[]);
    assert_eq!(out.status.code(), Some(254));
    assert!(
        !stderr(&out).contains("bringing up"),
        "a cluster was brought up"
    );
    let e = stderr(&out);
    assert!(e.contains("target.toml:7: unknown field `comand`"), "{e}");
    let placeholder = scratch_target(
        "placeholder",
        "name = \"kv\"\n[client]\ncommand = [\"x\"]\nworkloads = [\"register\"]\n[[daemon]]\nname = \"kv\"\ncommand = \"kvd --port {{ ports.client }}\"\n",
    );
    let out = run(&results, &placeholder, "3", &[]);
    assert_eq!(out.status.code(), Some(254));
    let e = stderr(&out);
    assert!(
        e.contains("target.toml:7: daemon.kv.command:") && e.contains("ports.client"),
        "{e}"
    );
    let out = run(&results, &tinykv(), "3", &["--workload", "list-append"]);
    assert_eq!(out.status.code(), Some(254));
    assert!(stderr(&out).contains("tinykv cannot run the list-append workload"));
    let out = run(&results, &tinykv(), "3", &["--target-opt", "speed=fast"]);
    assert_eq!(out.status.code(), Some(254));
    assert!(stderr(&out).contains("unknown option \"speed\" for target tinykv (it has: none)"));
}

/// Takes the test's local cluster down when dropped, even after a failed
/// assert.
struct ClusterDown;

impl Drop for ClusterDown {
    fn drop(&mut self) {
        let _ = temblor(&["cluster", "down"]).output();
    }
}

#[test]
fn an_attached_cluster_takes_only_the_faults_its_file_allows() {
    let Some(_lock) = cluster_or_skip("an_attached_cluster_takes_only_the_faults") else {
        return;
    };
    let up = temblor(&["cluster", "up", "--nodes", "1"])
        .output()
        .unwrap();
    assert!(up.status.success(), "{}", stderr(&up));
    let _down = ClusterDown;
    let results = results_dir("ft-attach");
    // A managed run leaves tinykv running on the cluster it did not bring
    // up; the attached runs then find it there.
    let out = run(
        &results,
        &tinykv(),
        "1",
        &["--nemesis", "none", "--time-limit", "1s", "--no-teardown"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let client = tinykv().with_file_name("client.py");
    let pidfile = "/var/lib/temblor/{{ node.name }}/tinykv/run/tinykv.pid";
    let attached = scratch_target(
        "attach",
        &format!(
            r#"
name = "tinykv-attached"
mode = "attach"
[client]
command = ["/usr/bin/python3", "{client}"]
workloads = ["register"]
[ports]
client = 7600
[ready]
tcp = "{{{{ ports.client }}}}"
[clock]
mode = "faketime"
[attach]
pause = "kill -STOP $(cat {pidfile})"
resume = "kill -CONT $(cat {pidfile})"
"#,
            client = client.display()
        ),
    );
    let out = run(
        &results,
        &attached,
        "1",
        &["--nemesis", "kill,clock", "--time-limit", "2s"],
    );
    assert_eq!(out.status.code(), Some(254), "{}", stderr(&out));
    let e = stderr(&out);
    assert!(
        e.contains("kill: tinykv-attached cannot be killed and restarted"),
        "{e}"
    );
    assert!(e.contains("clock: tinykv-attached is attached"), "{e}");
    let out = run(
        &results,
        &attached,
        "1",
        &[
            "--nemesis",
            "pause,partition",
            "--nemesis-interval",
            "1s",
            "--time-limit",
            "5s",
            "--recovery-time",
            "1s",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("tinykv-attached can take partition, pause, packet; not kill"));
    let run_dir = latest(&results);
    let history = std::fs::read_to_string(run_dir.join("history.jsonl")).unwrap();
    assert!(
        history.contains("\"f\":\"pause\""),
        "no pause in the history"
    );
    // Attached: nothing was torn down, tinykv still runs.
    assert!(
        !processes(&["tinykv.py"]).is_empty(),
        "the attached store was stopped"
    );

    // A hosted service: no SSH at all, the nodes file only names them.
    let hosted = scratch_target(
        "hosted",
        &format!(
            r#"
name = "tinykv-hosted"
mode = "attach"
[client]
command = ["/usr/bin/python3", "{client}"]
workloads = ["register"]
[ports]
client = 7600
[attach]
ssh = false
"#,
            client = client.display()
        ),
    );
    let nodes_file = hosted.with_file_name("nodes.txt");
    std::fs::write(
        &nodes_file,
        format!("n1 {}\n", support::slot().subnet().node(1)),
    )
    .unwrap();
    let nodes_file = nodes_file.to_str().unwrap();
    let with_nodes = |extra: &[&'static str]| {
        let mut args = vec![
            "--nodes-file",
            nodes_file,
            "--time-limit",
            "3s",
            "--recovery-time",
            "0s",
        ];
        args.extend_from_slice(extra);
        run(&results, &hosted, "1", &args)
    };
    let out = with_nodes(&["--nemesis", "partition"]);
    assert_eq!(out.status.code(), Some(254), "{}", stderr(&out));
    assert!(stderr(&out).contains("partition: tinykv-hosted is reached without SSH"));
    let out = with_nodes(&["--nemesis", "none"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn a_dry_run_prints_each_nodes_commands_and_touches_nothing() {
    let results = results_dir("ft-dry");
    let out = run(
        &results,
        &tinykv(),
        "3",
        &["--dry-run", "--nemesis", "partition,kill,clock"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    for want in [
        "target tinykv (file), workload register, faults partition, kill, clock",
        "tinykv can take partition, kill, pause, clock, packet",
        "client: /usr/bin/python3 client.py",
        &format!("== n2 ({})", support::slot().subnet().node(2)),
        "[install] upload ",
        &format!("tinykv.py {} 7600", support::slot().subnet().node(2)),
        "LD_PRELOAD",
        &format!("[ready] tcp {}:7600", support::slot().subnet().node(3)),
    ] {
        assert!(text.contains(want), "{want:?} missing from:\n{text}");
    }
    assert!(
        !results.join("latest").exists(),
        "a dry run writes no results"
    );

    // A store that cannot say which node leads: faults never aim at it.
    let leaderless = scratch_target(
        "leaderless",
        "name = \"kv\"\n[client]\ncommand = [\"x\"]\nworkloads = [\"register\"]\n[[daemon]]\nname = \"kv\"\ncommand = \"kvd\"\n",
    );
    let out = run(&results, &leaderless, "3", &["--dry-run"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("kv cannot say which node leads"), "{text}");
    let only_leaders = [
        "--dry-run",
        "--nemesis",
        "kill",
        "--fault-targets",
        "primaries",
    ];
    let out = run(&results, &leaderless, "3", &only_leaders);
    assert_eq!(out.status.code(), Some(254), "{}", stderr(&out));
    assert!(stderr(&out).contains("--fault-targets primaries: kv cannot say which node leads"));
}
