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
