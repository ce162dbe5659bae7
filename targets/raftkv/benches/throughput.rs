//! Throughput and latency of a 3-node raftkv on loopback, fsync on: writes
//! (PUT) and linearizable reads (GET, read-index) with 10 and 50 concurrent
//! clients, each sending to the leader over a keep-alive connection. Every
//! phase is bounded in time and in count. Run: `cargo bench -p raftkv --bench
//! throughput` (RAFTKV_BENCH_SECS sets the seconds per phase, default 5).

#[path = "../tests/cluster/support.rs"]
mod support;

use std::time::{Duration, Instant};

use serde_json::json;
use support::Cluster;

const MAX_OPS_PER_CLIENT: usize = 200_000;

struct Figures {
    ok: usize,
    errors: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

async fn client_loop(
    base: String,
    worker: usize,
    write: bool,
    limit: Duration,
) -> (usize, Vec<Duration>) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let mut errors = 0;
    let mut latencies = Vec::new();
    let start = Instant::now();
    for i in 0..MAX_OPS_PER_CLIENT {
        if start.elapsed() >= limit {
            break;
        }
        let key = format!("k{}", (worker * 7 + i) % 100);
        let t = Instant::now();
        let req = if write {
            http.put(format!("{base}/kv/{key}"))
                .json(&json!({"value": i}))
        } else {
            http.get(format!("{base}/kv/{key}"))
        };
        match req.send().await {
            Ok(r) if r.status().is_success() => {
                let _ = r.bytes().await;
                latencies.push(t.elapsed());
            }
            _ => errors += 1,
        }
    }
    (errors, latencies)
}

async fn phase(base: &str, clients: usize, write: bool, limit: Duration) -> Figures {
    let start = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|w| tokio::spawn(client_loop(base.to_string(), w, write, limit)))
        .collect();
    let mut figures = Figures {
        ok: 0,
        errors: 0,
        elapsed: Duration::ZERO,
        latencies: Vec::new(),
    };
    for task in tasks {
        let (errors, latencies) = task.await.unwrap();
        figures.errors += errors;
        figures.ok += latencies.len();
        figures.latencies.extend(latencies);
    }
    figures.elapsed = start.elapsed();
    figures.latencies.sort();
    figures
}

fn report(what: &str, clients: usize, f: &Figures) {
    let rate = f.ok as f64 / f.elapsed.as_secs_f64();
    let (p50, p95, p99) = (
        percentile(&f.latencies, 0.5),
        percentile(&f.latencies, 0.95),
        percentile(&f.latencies, 0.99),
    );
    println!(
        "{what:<6} clients={clients:<3} ok={:<7} errors={:<4} {rate:>8.0} ops/s  p50={p50:.2}ms p95={p95:.2}ms p99={p99:.2}ms",
        f.ok, f.errors
    );
}

fn main() {
    let secs = std::env::var("RAFTKV_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let limit = Duration::from_secs(secs);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let cluster = Cluster::start("bench", 3, &[]);
        let http = reqwest::Client::new();
        let leader = cluster
            .leader(&http, Duration::from_secs(10))
            .await
            .expect("no leader elected");
        let base = cluster.client(leader);
        println!(
            "raftkv bench: 3 nodes on loopback, fsync on, {secs}s per phase, leader n{leader}"
        );
        for clients in [10, 50] {
            report("write", clients, &phase(&base, clients, true, limit).await);
            report("read", clients, &phase(&base, clients, false, limit).await);
        }
    });
}
