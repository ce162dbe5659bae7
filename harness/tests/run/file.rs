//! File faults on raftkv: a node's data file damaged while it is down.
//! One node of three with a truncated file stays valid (the others hold
//! every committed entry and the node either catches up or refuses to
//! start); the same on every node (a majority, and then some: with two
//! of three the surviving copy may or may not win the next election, so
//! the outcome would hang on timing) loses acknowledged writes or keeps
//! nodes down, and the run says so. The fault (truncate) and the node
//! sets are forced by flags, so the outcome does not hang on the seed.

use crate::support::*;
use serde_json::Value;
use std::path::Path;

/// The nemesis records of `f` with a value (the completions).
fn completions(run: &Path, f: &str) -> Vec<Value> {
    std::fs::read_to_string(run.join("history.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|op| op["process"] == "nemesis" && op["f"] == f && !op["value"].is_null())
        .map(|op| op["value"].clone())
        .collect()
}

/// Runs raftkv's set workload for 8 s with truncate faults on `targets`
/// (two, 2 s apart); returns the run folder, the exit code and how many
/// nodes were damaged.
fn file_run(test: &str, targets: &str) -> (std::path::PathBuf, Option<i32>, usize) {
    let results = results_dir(test);
    let args = [
        "--workload",
        "set",
        "--nemesis",
        "file",
        "--file-faults",
        "truncate",
        "--file-fault-targets",
        targets,
        "--time-limit",
        "8s",
        "--nemesis-interval",
        "2s",
        "--seed",
        "4",
    ];
    let out = run_test(&results, &args);
    let run = latest(&results);
    let corrupted = completions(&run, "corrupt-files");
    assert!(!corrupted.is_empty(), "no file fault in 8 s");
    let mut damaged = 0;
    for v in &corrupted {
        for (node, what) in v["nodes"].as_object().expect("nodes") {
            assert_eq!(what["fault"], "truncate", "{node}: {what}");
            let (before, after) = sizes(what["result"].as_str().unwrap_or(""));
            assert!(after < before, "{node}: nothing cut: {what}");
            damaged += 1;
        }
    }
    assert_cluster_gone();
    (run, out.status.code(), damaged)
}

/// `size keep` as printed by the truncate.
fn sizes(result: &str) -> (u64, u64) {
    let mut words = result.split_whitespace().map(|w| w.parse().unwrap_or(0));
    (words.next().unwrap_or(0), words.next().unwrap_or(0))
}

/// How each node took its start after the fault, from the start op and
/// the heal.
fn outcomes(run: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for v in completions(run, "start-corrupted")
        .into_iter()
        .chain(completions(run, "heal"))
    {
        for (node, o) in v["started"].as_object().into_iter().flatten() {
            out.push((
                node.clone(),
                o["outcome"].as_str().unwrap_or("").to_string(),
            ));
        }
    }
    out
}

#[test]
fn a_truncated_file_on_one_node_of_three_is_valid() {
    let Some(_cluster) = cluster_or_skip("file faults on one node") else {
        return;
    };
    let (run, code, damaged) = file_run("file-one", "one");
    assert_eq!(code, Some(0), "raftkv survives one damaged node at a time");
    let o = outcomes(&run);
    assert_eq!(
        o.len(),
        damaged,
        "each damaged node was started again: {o:?}"
    );
    let report = std::fs::read_to_string(run.join("report.html")).unwrap();
    assert!(report.contains("File faults"), "no file fault table");
    assert!(report.contains(&o[0].1), "the outcome is not in the report");
}

#[test]
fn truncated_files_on_every_node_are_detected() {
    let Some(_cluster) = cluster_or_skip("file faults on every node") else {
        return;
    };
    let (run, code, damaged) = file_run("file-all", "all");
    let o = outcomes(&run);
    assert_eq!(
        o.len(),
        damaged,
        "each damaged node was started again: {o:?}"
    );
    let refused: Vec<&String> = o
        .iter()
        .filter(|(_, outcome)| outcome != "started")
        .map(|(n, _)| n)
        .collect();
    let report = std::fs::read_to_string(run.join("report.html")).unwrap();
    // Either the checker finds the lost acknowledged adds, or nodes refused
    // their damaged files and the report says which beside the verdict.
    match refused.is_empty() {
        true => assert_eq!(code, Some(1), "lost writes on every node must be invalid"),
        false => assert!(
            report.contains("these nodes refused to start"),
            "refusals by {refused:?} not in the verdict line"
        ),
    }
}
