//! How fast the harness itself is: generator + 50 workers + recorder,
//! against an in-memory client that answers at once, writing a real
//! history.jsonl. Prints ops/s and the recorder's bytes per op.
//!
//! `cargo bench -p harness --bench interpreter` (set TEMBLOR_BENCH_OPS to
//! change the op count; every run is also cut off after 60 s).

use harness::interpreter::Interpreter;
use harness::recorder::{Clock, Recorder};
use std::sync::Arc;
use std::time::{Duration, Instant};
use workloads::client::memory::MemoryClient;
use workloads::generator::limit;
use workloads::{by_name, Options};

const WORKERS: usize = 50;
const CUTOFF: Duration = Duration::from_secs(60);

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let ops: u64 = match std::env::var("TEMBLOR_BENCH_OPS") {
        Ok(s) => s.parse()?,
        Err(_) => 1_000_000,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    for workload in ["register", "list-append"] {
        rt.block_on(bench(workload, ops))?;
    }
    Ok(())
}

async fn bench(workload: &str, ops: u64) -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("temblor-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("{workload}.jsonl"));
    let opts = Options {
        threads_per_key: 5,
        ops_per_key: 1000,
        ..Options::default()
    };
    let gen = limit(ops, by_name(workload)?.generator(&opts)?);
    let clock = Clock::start();
    let recorder = Recorder::create(&path, clock)?;
    let nodes = (1..=5).map(|i| format!("n{i}")).collect();
    let client = Arc::new(MemoryClient::new());
    let started = Instant::now();
    let outcome = Interpreter::new(WORKERS, nodes, 42, client, recorder.sender(), clock)
        .deadline(CUTOFF)
        .run(gen)
        .await?;
    let elapsed = started.elapsed().as_secs_f64();
    let summary = recorder.finish().await?;
    let completed = outcome.ok + outcome.fail + outcome.info;
    println!(
        "{workload:>12}: {completed} ops in {elapsed:.2} s = {:.0} ops/s with {WORKERS} workers; \
         history {} records, {} bytes = {:.1} bytes/record, {:.1} bytes/op (invoke + completion){}",
        completed as f64 / elapsed,
        summary.progress.records,
        summary.bytes,
        summary.bytes as f64 / summary.progress.records.max(1) as f64,
        summary.bytes as f64 / completed.max(1) as f64,
        if outcome.interrupted {
            " (cut off)"
        } else {
            ""
        },
    );
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
