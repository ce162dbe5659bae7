//! Speed of the Elle-style checker: generated list-append histories of
//! 100,000 and 1,000,000 txns (10 processes, 1-5 micro-ops, 1,000 keys)
//! and Elle's huge-scc.edn. The 1,000,000-txn run prints its wall and CPU
//! time and the process's peak memory once, outside criterion's sampling.
//! Also linearizability through the graph (`check_register_graph`) on a
//! generated 100,000-op cas-register history with unique writes.

#[path = "../tests/elle/gen.rs"]
mod gen;

use checkers::elle::{check, check_register_graph, ElleOptions, GraphLinearOptions, Workload};
use checkers::{History, Op, OpType};
use criterion::{criterion_group, criterion_main, Criterion};
use gen::{generate, Config, Isolation};
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
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

/// A pending register op: f, invocation value, and its result once applied.
type Pending = (&'static str, Value, Option<(OpType, Value)>);

/// A linearizable cas-register history: `processes` clients; each op takes
/// effect at one instant between its invocation and completion; writes and
/// cas write fresh values.
fn register_history(ops: usize, processes: usize) -> History {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let (mut state, mut next) = (Value::Null, 0);
    let mut pending: Vec<Option<Pending>> = vec![None; processes];
    let (mut out, mut invoked) = (Vec::with_capacity(ops * 2), 0);
    while invoked < ops || pending.iter().any(Option::is_some) {
        let p = rng.gen_range(0..processes);
        pending[p] = match pending[p].take() {
            None if invoked < ops => {
                invoked += 1;
                next += 1;
                let (f, v) = match rng.gen_range(0..3) {
                    0 => ("read", Value::Null),
                    1 => ("write", json!(next)),
                    _ => ("cas", json!([state.clone(), next])),
                };
                out.push(Op::new(p as u64, OpType::Invoke, f, v.clone()));
                Some((f, v, None))
            }
            None => None,
            Some((f, v, None)) => {
                let done = match f {
                    "read" => (OpType::Ok, state.clone()),
                    "write" => {
                        state = v.clone();
                        (OpType::Ok, v.clone())
                    }
                    _ if v[0] == state => {
                        state = v[1].clone();
                        (OpType::Ok, v.clone())
                    }
                    _ => (OpType::Fail, v.clone()),
                };
                Some((f, v, Some(done)))
            }
            Some((f, _, Some((kind, value)))) => {
                out.push(Op::new(p as u64, kind, f, value));
                None
            }
        };
    }
    History::from_ops("register.jsonl", out)
}

fn bench(c: &mut Criterion) {
    let opts = ElleOptions::new(Workload::ListAppend);
    let h = generate(config(100_000));
    let mut g = c.benchmark_group("elle");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    g.bench_function("list-append 100k txns", |b| {
        b.iter(|| check(&h, &opts).map(|r| r.verdict))
    });
    let shared = checkers::testing::reference_histories_dir();
    let huge = shared.join("elle/huge-scc.edn");
    match checkers::format::read_path(&huge, None) {
        Ok(hh) => {
            g.bench_function("huge-scc.edn", |b| {
                b.iter(|| check(&hh, &opts).map(|r| r.verdict))
            });
        }
        Err(e) => eprintln!("skipping huge-scc.edn: {e}"),
    }
    let reg = register_history(100_000, 10);
    let gl = GraphLinearOptions::default();
    g.bench_function("register graph-linear 100k ops", |b| {
        b.iter(|| check_register_graph(&reg, &gl).map(|r| r.verdict))
    });
    g.finish();
    let r = check_register_graph(&reg, &gl).map(|r| (r.verdict, r.reason));
    println!("register graph-linear 100k ops: {r:?}");
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
