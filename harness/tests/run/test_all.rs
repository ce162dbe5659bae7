//! `temblor test-all` on the local cluster: a matrix of two raftkv cells
//! (one with its follower-reads bug, under partitions), run two at a time
//! on two cluster slots, then as two shards side by side (two CI jobs on
//! one host) merged by `temblor report --merge`. Checks the worst exit
//! code, the merged junit.xml through a JUnit-shaped XML parse, the
//! summary and the records.

use crate::support::*;
use serde_json::Value;
use std::path::Path;

const MATRIX: &str = r#"
targets = ["raftkv", { kind = "raftkv", bugs = ["follower-reads"] }]
workloads = ["register"]
nemeses = [["partition"]]

[test]
time_limit = 8
nemesis_interval = 2
recovery_time = 1
nodes = 3
"#;

fn record(results: &Path) -> Value {
    let dir = results.join("test-all");
    let stamp = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .max()
        .expect("a test-all folder");
    serde_json::from_str(&std::fs::read_to_string(stamp.join("test-all.json")).unwrap()).unwrap()
}

fn latest_test_all(results: &Path) -> std::path::PathBuf {
    std::fs::read_dir(results.join("test-all"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .max()
        .unwrap()
}

/// (suites, cases, failures, errors) of a junit.xml, counted from its
/// elements (not its attributes), after checking the attributes agree.
fn junit_counts(path: &Path) -> (usize, usize, usize, usize) {
    let text = std::fs::read_to_string(path).unwrap();
    let doc = roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    let suites: Vec<_> = root
        .children()
        .filter(|n| n.has_tag_name("testsuite"))
        .collect();
    let mut totals = (suites.len(), 0, 0, 0);
    for s in &suites {
        let cases: Vec<_> = s
            .children()
            .filter(|n| n.has_tag_name("testcase"))
            .collect();
        let count = |tag: &str| {
            cases
                .iter()
                .filter(|c| c.children().any(|k| k.has_tag_name(tag)))
                .count()
        };
        let (f, e) = (count("failure"), count("error"));
        assert_eq!(s.attribute("tests"), Some(cases.len().to_string().as_str()));
        assert_eq!(s.attribute("failures"), Some(f.to_string().as_str()));
        assert_eq!(s.attribute("errors"), Some(e.to_string().as_str()));
        totals = (totals.0, totals.1 + cases.len(), totals.2 + f, totals.3 + e);
    }
    assert_eq!(root.attribute("tests"), Some(totals.1.to_string().as_str()));
    assert_eq!(
        root.attribute("failures"),
        Some(totals.2.to_string().as_str())
    );
    totals
}

/// Every run's exit code agrees with its results.json, and the record's
/// exit code is the worst of them.
fn check_record(results: &Path, rec: &Value) -> Vec<u8> {
    let runs = rec["runs"].as_array().unwrap();
    let mut codes = Vec::new();
    for r in runs {
        let code = r["exit_code"].as_u64().unwrap() as u8;
        let run = results.join(r["run"].as_str().expect("every run made its folder"));
        let verdict = results_json(&run)["verdict"].as_str().unwrap().to_string();
        let expected = match verdict.as_str() {
            "valid" => 0,
            "invalid" => 1,
            _ => 2,
        };
        assert_eq!(code, expected, "{r}");
        let spec: Value =
            serde_json::from_str(&std::fs::read_to_string(run.join("spec.json")).unwrap()).unwrap();
        assert_eq!(spec["seed"], r["seed"], "the run used its derived seed");
        codes.push(code);
    }
    let worst = codes.iter().copied().max().unwrap();
    assert_eq!(rec["exit_code"].as_u64(), Some(u64::from(worst)));
    codes
}

#[test]
fn a_matrix_runs_in_parallel_and_as_merged_shards() {
    let Some(_cluster) = cluster_or_skip("test-all") else {
        return;
    };
    let base = slot().number();
    let results = results_dir("test-all");
    let matrix = results.join("nightly.toml");
    std::fs::write(&matrix, MATRIX).unwrap();
    let summary = results.join("step-summary.md");
    let r = results.to_str().unwrap();
    let m = matrix.to_str().unwrap();
    let s = summary.to_str().unwrap();

    // Two cells at once, on slots base and base+1.
    let out = temblor(&[
        "test-all",
        "--matrix",
        m,
        "--results-dir",
        r,
        "--parallel",
        "2",
        "--seed",
        "3",
        "--summary",
        s,
    ])
    .output()
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let rec = record(&results);
    let codes = check_record(&results, &rec);
    assert_eq!(
        out.status.code(),
        Some(i32::from(*codes.iter().max().unwrap()))
    );
    assert_eq!(
        codes[1], 1,
        "raftkv with follower-reads under partitions is invalid"
    );
    let slots: Vec<u64> = rec["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["cluster"].as_u64().unwrap())
        .collect();
    let mut sorted = slots.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        [u64::from(base), u64::from(base) + 1],
        "each run on its own slot"
    );
    assert_eq!(
        junit_counts(&latest_test_all(&results).join("junit.xml")).0,
        2
    );
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(
        md.starts_with("## temblor test-all: invalid (exit 1)"),
        "{md}"
    );
    assert!(
        md.contains("raftkv.follower-reads-register-partition"),
        "{md}"
    );
    assert!(std::fs::read_to_string(results.join("index.html"))
        .unwrap()
        .contains("follower-reads"));
    assert_cluster_gone();

    // The same matrix as two shards, two jobs side by side on one host.
    let shard = |i: &str, slot: u8| {
        let dir = results.join(format!("shard-{i}"));
        let d = dir.to_str().unwrap().to_string();
        let child = temblor(&[
            "test-all",
            "--matrix",
            m,
            "--results-dir",
            &d,
            "--seed",
            "3",
            "--shard",
            &format!("{i}/2"),
        ])
        .env("TEMBLOR_CLUSTER", slot.to_string())
        .spawn()
        .unwrap();
        (dir, child)
    };
    let (a, mut ja) = shard("1", base);
    let (b, mut jb) = shard("2", base + 1);
    let (ca, cb) = (ja.wait().unwrap(), jb.wait().unwrap());
    let (ra, rb) = (record(&a), record(&b));
    assert_eq!(ca.code(), Some(i32::from(check_record(&a, &ra)[0])));
    assert_eq!(cb.code(), Some(i32::from(check_record(&b, &rb)[0])));
    assert_eq!(ra["runs"][0]["cell_index"], 0);
    assert_eq!(rb["runs"][0]["cell_index"], 1);
    assert_eq!(
        ra["runs"][0]["seed"], rec["runs"][0]["seed"],
        "a shard's seeds are the whole run's"
    );
    let merged = results.join("merged");
    let mg = merged.to_str().unwrap();
    let out = temblor(&[
        "report",
        "--merge",
        a.to_str().unwrap(),
        "--merge",
        b.to_str().unwrap(),
        "--results",
        mg,
    ])
    .output()
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let all = record(&merged);
    check_record(&merged, &all);
    let (suites, cases, failures, _) = junit_counts(&latest_test_all(&merged).join("junit.xml"));
    assert_eq!(suites, 2);
    assert!(cases >= 4, "a case per checker: {cases}");
    assert_eq!(failures > 0, all["exit_code"] == 1);
    assert_cluster_gone();
    let second = targets::cluster::Slot::new(base + 1).unwrap();
    assert!(
        !second.dir().join("state.json").exists(),
        "slot {} is left up",
        base + 1
    );
    std::fs::remove_dir_all(&results).unwrap();
}
