//! Every reference history reads, pairs, and has the counts and first ops
//! the source projects' files have.

use crate::shared_histories;
use checkers::format::{detect, read_path, Format};
use checkers::history::{History, OpType, Process};
use serde_json::json;
use std::path::{Path, PathBuf};

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "edn" || e == "txt") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn read(dir: &Path, rel: &str) -> History {
    read_path(&dir.join(rel), None).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn every_reference_history_reads_and_pairs() {
    let Some(dir) = shared_histories() else {
        return;
    };
    let files = files_under(&dir);
    assert_eq!(files.len(), 131, "knossos 122 + porcupine 6 + elle 3");
    for f in &files {
        let h = read_path(f, None).unwrap_or_else(|e| panic!("{e}"));
        assert!(!h.is_empty(), "{} is empty", f.display());
        assert_eq!(h.lines.len(), h.len());
        assert!(
            h.lines.iter().all(|&l| l > 0),
            "{}: an op without a line",
            f.display()
        );
        h.operations().unwrap_or_else(|e| panic!("{e}"));
    }
}

#[test]
fn formats_are_detected() {
    let Some(dir) = shared_histories() else {
        return;
    };
    let head = |rel: &str| std::fs::read(dir.join(rel)).unwrap();
    assert_eq!(
        detect(&head("porcupine-kv/c01-ok.txt")),
        Format::PorcupineKv
    );
    assert_eq!(detect(&head("elle/huge-scc.edn")), Format::Edn);
    assert_eq!(
        detect(&head("knossos/cas-register/bad/cas-failure.edn")),
        Format::Edn
    );
}

#[test]
fn porcupine_counts_and_keys() {
    let Some(dir) = shared_histories() else {
        return;
    };
    for (name, n) in [
        ("c01-ok", 58),
        ("c01-bad", 38),
        ("c10-ok", 337),
        ("c10-bad", 405),
        ("c50-ok", 1712),
        ("c50-bad", 2024),
    ] {
        let h = read(&dir, &format!("porcupine-kv/{name}.txt"));
        // The README counts operations: an invocation line and its completion.
        assert_eq!(h.len(), 2 * n, "{name}");
        assert_eq!(h.operations().unwrap().len(), n, "{name}");
    }
    let h = read(&dir, "porcupine-kv/c01-ok.txt");
    let first = &h.ops[0];
    assert_eq!(
        (first.process, first.kind, first.f.as_str()),
        (Process::Client(0), OpType::Invoke, "append")
    );
    assert_eq!(first.value, json!(["0", "x 0 0 y"]));
}

#[test]
fn knossos_files_keep_their_values_and_nemesis() {
    let Some(dir) = shared_histories() else {
        return;
    };
    let h = read(
        &dir,
        "knossos/cas-register/bad/mongodb-v0-ack-rollback-6.edn",
    );
    assert_eq!(h.ops[2].value, json!([0, 2]));
    assert_eq!(
        (h.ops[2].process, h.ops[2].f.as_str()),
        (Process::Client(95), "cas")
    );
    assert_eq!(h.lines[0], 2, "after the comment line");
    let h = read(
        &dir,
        "knossos/cas-register/good/mongodb-v0-ack-rollback-.edn",
    );
    assert!(h.ops.iter().all(|o| o.is_nemesis()));
    assert!(h.operations().unwrap().is_empty());
    let h = read(&dir, "knossos/mutex/bad/etcd.edn");
    assert_eq!(h.ops[1].error, Some(json!("not-held")));
    assert!(h.ops.iter().any(|o| o.is_nemesis() && o.f == "start"));
    let h = read(&dir, "knossos/multi-register/good/multi-register.edn");
    assert_eq!(h.ops[0].value, json!([["read", "x", null]]));
    assert_eq!(h.ops[0].time, Some(7686455705));
}

#[test]
fn elle_files_count_their_transactions() {
    let Some(dir) = shared_histories() else {
        return;
    };
    let h = read(&dir, "elle/huge-scc.edn");
    let ops = h.operations().unwrap();
    use checkers::history::Outcome::*;
    let count = |o| ops.iter().filter(|x| x.outcome == o).count();
    assert_eq!(
        (ops.len(), count(Ok), count(Fail), count(Info)),
        (10_254, 3_036, 7_070, 148)
    );
    let h = read(&dir, "elle/paper-example.edn");
    assert_eq!(h.operations().unwrap().len(), 4);
    assert!(h.ops.iter().all(|o| o.f == "txn" && o.time.is_none()));
    assert_eq!(
        h.ops[3].value,
        json!([["append", 255, 8], ["r", 253, [1, 3, 4]]])
    );
    let h = read(&dir, "elle/si-without-g-single.edn");
    assert_eq!(
        h.ops.iter().map(|o| o.index).collect::<Vec<_>>(),
        vec![10, 11, 20, 21, 30, 31, 40, 41]
    );
    assert_eq!(h.lines[0], 9);
}
