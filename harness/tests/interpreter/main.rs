//! End to end without a cluster: workloads, the interpreter and the
//! recorder against the in-memory store write a history.jsonl that the
//! checkers' history model accepts, and the seed fixes the op stream.

use checkers::{History, Op, OpType};
use harness::interpreter::Interpreter;
use harness::recorder::{Clock, Recorder};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use workloads::client::memory::MemoryClient;
use workloads::generator::{limit, sim};
use workloads::{by_name, Options};

mod final_phase;

fn path(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("temblor-it-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// Parses history.jsonl line by line, as any other tool would.
fn read(path: &Path) -> History {
    let text = std::fs::read_to_string(path).unwrap();
    let mut h = History::new(path.display().to_string());
    for (i, line) in text.lines().enumerate() {
        let op: Op = serde_json::from_str(line).unwrap_or_else(|e| panic!("line {}: {e}", i + 1));
        h.push(op, i as u32 + 1);
    }
    h
}

async fn run(workload: &str, ops: u64, threads: usize, seed: u64, file: &str) -> History {
    let opts = Options {
        ops_per_key: 50,
        ..Options::default()
    };
    let gen = limit(ops, by_name(workload).unwrap().generator(&opts).unwrap());
    let clock = Clock::start();
    let p = path(file);
    let rec = Recorder::create(&p, clock).unwrap();
    let nodes = vec!["n1".into(), "n2".into(), "n3".into()];
    let outcome = Interpreter::new(
        threads,
        nodes,
        seed,
        Arc::new(MemoryClient::new()),
        rec.sender(),
        clock,
    )
    .deadline(Duration::from_secs(30))
    .run(gen)
    .await
    .unwrap();
    assert!(!outcome.interrupted);
    let summary = rec.finish().await.unwrap();
    assert_eq!(summary.progress.records, 2 * ops);
    read(&p)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_register_run_writes_a_history_the_checkers_accept() {
    let h = run("register", 2000, 10, 1, "register.jsonl").await;
    assert_eq!(h.len(), 4000);
    assert!(
        h.ops.iter().enumerate().all(|(i, o)| o.index == i as u64),
        "indices not dense"
    );
    let ops = h.operations().unwrap();
    assert_eq!(ops.len(), 2000);
    assert!(
        ops.iter().all(|o| o.complete.is_some()),
        "an invocation is unpaired"
    );
    let fs: std::collections::BTreeSet<&str> = h.ops.iter().map(|o| o.f.as_str()).collect();
    assert_eq!(
        fs.into_iter().collect::<Vec<_>>(),
        vec!["cas", "read", "write"]
    );
    // The in-memory store is linearizable: reads see a written value.
    for o in &ops {
        let done = &h.ops[o.complete.unwrap()];
        if done.f == "read" && done.kind == OpType::Ok {
            assert!(done.value[1].is_null() || done.value[1].as_u64().unwrap() < 5);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_append_run_writes_paired_txns() {
    let h = run("list-append", 500, 5, 2, "append.jsonl").await;
    let ops = h.operations().unwrap();
    assert_eq!(ops.len(), 500);
    let done = &h.ops[ops[0].complete.unwrap()];
    assert_eq!((done.f.as_str(), done.kind), ("txn", OpType::Ok));
}

fn stream(h: &History) -> Vec<(String, String, serde_json::Value)> {
    h.ops
        .iter()
        .filter(|o| o.kind == OpType::Invoke)
        .map(|o| (o.process.to_string(), o.f.clone(), o.value.clone()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_seed_gives_the_same_op_stream() {
    // One thread: no interleaving, so the real run is reproducible as is.
    let a = run("register", 300, 1, 9, "seed-a.jsonl").await;
    let b = run("register", 300, 1, 9, "seed-b.jsonl").await;
    let c = run("register", 300, 1, 10, "seed-c.jsonl").await;
    assert_eq!(stream(&a), stream(&b));
    assert_ne!(stream(&a), stream(&c));
    // Many threads: the generator's stream under the fake clock.
    let gen = || {
        limit(
            1000,
            by_name("register")
                .unwrap()
                .generator(&Options::default())
                .unwrap(),
        )
    };
    let x = sim::invocations(gen(), 10, 5);
    assert_eq!(x.len(), 1000);
    assert_eq!(x, sim::invocations(gen(), 10, 5));
    assert_ne!(x, sim::invocations(gen(), 10, 6));
}
