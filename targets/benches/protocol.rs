//! The client protocol must never be the bottleneck: 10 workers, each with
//! its own client program (the trivial in-memory fixture,
//! `tests/fixtures/memory_client.py`), doing register ops back to back
//! through temblor's side of the protocol. Prints ops/s over all workers
//! and the mean round trip of one op (temblor's side, the pipes and the
//! fixture together). Target: at least 20,000 ops/s.
//!
//! `cargo bench -p targets --bench protocol [-- WORKERS OPS_PER_WORKER]`

use checkers::{Op, OpType};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use targets::protocol::{Program, ProtocolClient, Settings};
use workloads::Client;

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let workers = args.first().copied().unwrap_or(10);
    let per_worker = args.get(1).copied().unwrap_or(20_000);
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    runtime.block_on(run(workers, per_worker));
}

async fn run(workers: usize, per_worker: usize) {
    let template = ProtocolClient::new(Settings {
        program: Program {
            argv: vec!["python3".into(), "memory_client.py".into()],
            cwd: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures"),
            env: BTreeMap::new(),
            start_timeout: Duration::from_secs(30),
        },
        run: "test/1".into(),
        workload: "register".into(),
        nodes: vec![("n1".into(), "127.0.0.1".into())],
        ports: BTreeMap::new(),
        options: BTreeMap::new(),
        op_timeout: Duration::from_secs(10),
        log: Arc::new(|line: &str| eprintln!("{line}")),
    });
    // Start every program first: the figure is the protocol's, not
    // Python's start-up.
    let mut clients = Vec::new();
    for _ in 0..workers {
        clients.push(template.open("n1").await.expect("the fixture starts"));
    }
    let started = Instant::now();
    let tasks: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(w, mut c)| {
            tokio::spawn(async move {
                for i in 0..per_worker {
                    let op = match i % 2 {
                        0 => Op::new(w as u64, OpType::Invoke, "write", json!([w, i])),
                        _ => Op::new(w as u64, OpType::Invoke, "read", json!([w, null])),
                    };
                    let done = c.invoke(&op).await.expect("the fixture answers");
                    assert_eq!(done.kind, OpType::Ok);
                }
                c.close().await.expect("close");
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("a worker");
    }
    let wall = started.elapsed();
    let ops = (workers * per_worker) as f64;
    println!(
        "protocol: {workers} workers x {per_worker} ops: {:.0} ops/s over all workers; \
         mean round trip {:.1} us per op ({:.2} s wall)",
        ops / wall.as_secs_f64(),
        wall.as_secs_f64() * 1e6 * workers as f64 / ops,
        wall.as_secs_f64()
    );
}
