//! Speed of the Elle-style checker: generated list-append histories of
//! 100,000 and 1,000,000 txns (10 processes, 1-5 micro-ops, 1,000 keys)
//! and Elle's huge-scc.edn. The 1,000,000-txn run prints its wall and CPU
//! time and the process's peak memory once, outside criterion's sampling.

#[path = "../tests/elle/gen.rs"]
mod gen;

use checkers::elle::{check, ElleOptions, Workload};
use criterion::{criterion_group, criterion_main, Criterion};
use gen::{generate, Config, Isolation};
use std::time::{Duration, Instant};

fn config(txns: usize) -> Config {
    Config {
        seed: 7,
        txns,
        processes: 10,
        keys: 1000,
        max_mops: 5,
        max_writes_per_key: 64,
        isolation: Isolation::Serializable,
        fault: None,
    }
}

fn peak_rss_kb() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM"))
                .map(|l| l.trim_start_matches("VmHWM:").trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

/// CPU time this thread has used, in ns (Linux; 0 elsewhere): on a shared,
/// loaded machine it says more than wall time.
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn bench(c: &mut Criterion) {
    let opts = ElleOptions::new(Workload::ListAppend);
    let h = generate(config(100_000));
    let mut g = c.benchmark_group("elle");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    g.bench_function("list-append 100k txns", |b| {
        b.iter(|| check(&h, &opts).map(|r| r.verdict))
    });
    let shared = std::env::var_os("TEMBLOR_SHARED_HISTORIES")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/histories")
        });
    let huge = shared.join("elle/huge-scc.edn");
    match checkers::format::read_path(&huge, None) {
        Ok(hh) => {
            g.bench_function("huge-scc.edn", |b| {
                b.iter(|| check(&hh, &opts).map(|r| r.verdict))
            });
        }
        Err(e) => eprintln!("skipping huge-scc.edn: {e}"),
    }
    g.finish();
    let (start, cpu) = (Instant::now(), thread_cpu_ns());
    let verdict = check(&h, &opts).map(|r| r.verdict);
    let cpu = Duration::from_nanos(thread_cpu_ns().saturating_sub(cpu));
    println!(
        "elle list-append 100k txns, one run: {:?} wall, {cpu:?} cpu, {verdict:?}",
        start.elapsed()
    );
    drop(h);
    if std::env::var_os("ELLE_BENCH_SKIP_1M").is_none() {
        let big = generate(config(1_000_000));
        let before = peak_rss_kb();
        let (start, cpu) = (Instant::now(), thread_cpu_ns());
        let r = check(&big, &opts);
        let took = start.elapsed();
        let cpu = Duration::from_nanos(thread_cpu_ns().saturating_sub(cpu));
        let verdict = r
            .map(|r| r.verdict.to_string())
            .unwrap_or_else(|e| e.to_string());
        println!(
            "elle list-append 1M txns: {took:?} wall, {cpu:?} cpu, verdict {verdict}, peak RSS before check {before}, after {}",
            peak_rss_kb()
        );
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
