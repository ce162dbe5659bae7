//! Running the temblor binary and reading what a run left behind.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, MutexGuard};

/// Runs share the default local cluster: one at a time.
static CLUSTER: Mutex<()> = Mutex::new(());

/// Takes the cluster lock, or returns `None` (after saying why) when this
/// machine cannot run a local cluster and we are not in CI.
pub fn cluster_or_skip(test: &str) -> Option<MutexGuard<'static, ()>> {
    let root = euid() == 0;
    let netns = Path::new("/var/run/netns").exists() || which("ip");
    if !(root && netns) {
        let why = format!("{test}: needs root and iproute2 for the local cluster");
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{why} (CI=true: this test must run)");
        }
        eprintln!("skipping {why}");
        return None;
    }
    Some(CLUSTER.lock().unwrap_or_else(|e| e.into_inner()))
}

fn euid() -> u32 {
    // /proc/self/status: "Uid: real effective saved fs"
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2))
                .and_then(|u| u.parse().ok())
        })
        .unwrap_or(u32::MAX)
}

fn which(cmd: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(cmd).is_file()))
        .unwrap_or(false)
}

/// A fresh results folder for one test.
pub fn results_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("temblor-it-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `temblor <args>` as a command.
pub fn temblor(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_temblor"));
    cmd.args(args);
    cmd
}

/// Runs `temblor test` with `args` on 3 nodes, results in `results`.
pub fn run_test(results: &Path, args: &[&str]) -> Output {
    let mut all = vec!["test", "--nodes", "3", "--results-dir"];
    let results = results.to_str().unwrap();
    all.push(results);
    all.extend_from_slice(args);
    let out = temblor(&all).output().expect("temblor runs");
    eprintln!(
        "temblor {}\n--- stdout\n{}\n--- stderr (tail)\n{}",
        all.join(" "),
        String::from_utf8_lossy(&out.stdout),
        tail(&String::from_utf8_lossy(&out.stderr), 2000)
    );
    out
}

fn tail(s: &str, n: usize) -> &str {
    let start = s.len().saturating_sub(n);
    let start = (start..s.len())
        .find(|&i| s.is_char_boundary(i))
        .unwrap_or(s.len());
    &s[start..]
}

/// The newest run folder under `results`.
pub fn latest(results: &Path) -> PathBuf {
    std::fs::canonicalize(results.join("latest")).expect("results/latest points at the run")
}

/// A run's results.json.
pub fn results_json(run: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(run.join("results.json")).unwrap()).unwrap()
}

/// A run that failed left results.json with `outcome` and an error
/// holding `error`, and a junit.xml that parses, with one `<error>` case
/// carrying the same error.
pub fn assert_failure_recorded(run: &Path, outcome: &str, error: &str) {
    let r = results_json(run);
    assert_eq!(r["outcome"], outcome, "{r:#}");
    let code = if outcome == "usage-error" { 254 } else { 255 };
    assert_eq!(r["exit_code"], code, "{r:#}");
    assert_eq!(r["verdict"], "unknown", "{r:#}");
    let message = r["error"].as_str().unwrap_or_default();
    assert!(message.contains(error), "{error:?} not in {message:?}");
    let xml = std::fs::read_to_string(run.join("junit.xml")).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("{e}: {xml}"));
    let suite = doc
        .descendants()
        .find(|n| n.has_tag_name("testsuite"))
        .expect("a testsuite");
    assert_eq!(suite.attribute("errors"), Some("1"), "{xml}");
    let case = doc
        .descendants()
        .find(|n| n.has_tag_name("error"))
        .expect("an <error> case");
    let text = case.text().unwrap_or_default();
    assert!(
        text.contains(outcome) && text.contains(error),
        "{error:?} not in {text:?}"
    );
    assert_eq!(case.attribute("message"), Some(text));
}

/// The verdict of each checker, by name.
pub fn verdicts(run: &Path) -> Vec<(String, String)> {
    results_json(run)["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["checker"].as_str().unwrap().to_string(),
                c["verdict"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The local cluster the tests use: `TEMBLOR_CLUSTER`'s (the temblor
/// they run inherits it), else the default one.
pub fn slot() -> targets::cluster::Slot {
    targets::cluster::Slot::from_env().expect("TEMBLOR_CLUSTER is a cluster number")
}

/// The local cluster's state file: present while it is up.
pub fn cluster_state() -> PathBuf {
    slot().dir().join("state.json")
}

/// No local cluster, namespace or temblor process is left behind.
pub fn assert_cluster_gone() {
    let netns = Command::new("ip").args(["netns", "list"]).output().unwrap();
    let list = String::from_utf8_lossy(&netns.stdout);
    let prefix = format!("{}-", slot().bridge());
    assert!(!list.contains(&prefix), "namespaces left behind: {list}");
    assert!(
        !cluster_state().exists(),
        "the local cluster's state file is left behind"
    );
}

/// `cmd` on `node` (as root) over the local cluster's ssh_config, as a
/// person would; its stdout.
pub fn on_node(node: &str, cmd: &str) -> String {
    let config = slot().dir().join("ssh_config");
    let out = Command::new("timeout")
        .args(["60", "ssh", "-F"])
        .arg(&config)
        .args([node, cmd])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// What temblor's faults have left in force on a node, looked at directly.
#[derive(Debug, Default, PartialEq)]
pub struct NodeFaults {
    /// Rules in chain temblor.
    pub rules: u32,
    /// Stopped (SIGSTOP) processes.
    pub stopped: u32,
    /// raftkv's pidfile names a live process.
    pub raftkv_running: bool,
    /// The faketime offset file's content ("" when absent).
    pub faketime: String,
}

impl NodeFaults {
    /// Nothing of a fault in force (a missing or zero clock offset).
    pub fn is_clean(&self) -> bool {
        self.rules == 0 && self.stopped == 0 && matches!(self.faketime.as_str(), "" | "+0.000")
    }
}

/// Looks at `node`.
pub fn node_faults(node: &str) -> NodeFaults {
    let script = format!(
        "echo $(iptables -w -S 2>/dev/null | grep -c '^-A temblor '); \
         echo $(ps -eo stat= | grep -c '^T'); \
         kill -0 $(cat /var/lib/temblor/{node}/raftkv.pid 2>/dev/null) 2>/dev/null && echo up || echo down; \
         cat /var/lib/temblor/{node}/faketime 2>/dev/null; true"
    );
    let out = on_node(node, &script);
    let mut lines = out.lines();
    let mut next = || lines.next().unwrap_or("").trim().to_string();
    NodeFaults {
        rules: next().parse().unwrap_or(u32::MAX),
        stopped: next().parse().unwrap_or(u32::MAX),
        raftkv_running: next() == "up",
        faketime: next(),
    }
}

/// Asserts that no node of a 3-node cluster holds a fault.
pub fn assert_nodes_clean(when: &str) {
    for node in ["n1", "n2", "n3"] {
        let f = node_faults(node);
        assert!(f.is_clean(), "{when}: {node} still holds a fault: {f:?}");
    }
}

/// A 3-node local cluster, taken down when dropped, so that a failing
/// test never leaves it up for the next user of the machine.
pub struct ClusterUp {
    down: bool,
}

/// Brings up a 3-node local cluster.
pub fn cluster_up() -> ClusterUp {
    let up = temblor(&["cluster", "up", "--nodes", "3"])
        .status()
        .unwrap();
    assert!(up.success(), "cluster up");
    ClusterUp { down: false }
}

impl ClusterUp {
    /// Takes the cluster down and checks nothing is left.
    pub fn down(mut self) {
        self.down = true;
        let down = temblor(&["cluster", "down"]).status().unwrap();
        assert!(down.success(), "cluster down");
        assert_cluster_gone();
    }
}

impl Drop for ClusterUp {
    fn drop(&mut self) {
        if !self.down {
            let _ = temblor(&["cluster", "down"]).status();
        }
    }
}

/// How many completed (not invoked) records of fault op `f` a history holds.
pub fn completed(history: &str, f: &str) -> usize {
    history
        .lines()
        .filter(|l| l.contains(&format!("\"f\":\"{f}\"")) && !l.contains("\"value\":null"))
        .count()
}

/// Waits up to `limit` for `child` to exit.
pub fn wait_for(
    child: &mut std::process::Child,
    limit: std::time::Duration,
) -> std::process::ExitStatus {
    let deadline = std::time::Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("temblor did not exit within {limit:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// Sends `signal` to the process `pid`.
pub fn signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -{signal} {pid}");
}

/// The run folder under `results` once it exists, and its history text.
pub fn live_history(results: &Path) -> Option<(PathBuf, String)> {
    let run = std::fs::canonicalize(results.join("latest")).ok()?;
    let text = std::fs::read_to_string(run.join("history.jsonl")).unwrap_or_default();
    Some((run, text))
}

/// `temblor check` on a run: its exit code and output.
pub fn check_run(run: &Path) -> (Option<i32>, String) {
    let out = temblor(&["check", run.to_str().unwrap(), "--independent"])
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

/// Asserts that a run did what it was asked to: each fault in `faults`
/// is in its history, more than `min_ok` client ops succeeded, and each
/// of its nodes' `log` (a file name) was downloaded.
pub fn assert_run_exercised(run: &Path, faults: &[&str], min_ok: usize, log: &str) {
    let history = std::fs::read_to_string(run.join("history.jsonl")).unwrap();
    for f in faults {
        let needle = format!("\"f\":\"{f}\"");
        assert!(history.contains(&needle), "no {f} in the history");
    }
    let oks = history
        .lines()
        .filter(|l| l.contains("\"type\":\"ok\""))
        .count();
    assert!(
        oks > min_ok,
        "only {oks} ok ops: the workload did not get through"
    );
    let spec: Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("spec.json")).unwrap()).unwrap();
    let nodes = spec["nodes"].as_u64().unwrap();
    for n in 1..=nodes {
        let file = run.join("nodes").join(format!("n{n}")).join(log);
        assert!(file.is_file(), "{} missing", file.display());
    }
}
