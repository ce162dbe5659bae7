//! Speed of the linearizability checker: Porcupine's kv histories per key
//! and as one map, and generated register histories (one register, 10
//! processes, 10,000 ops, 5% crashed; 100,000 ops over 1,000 keys).
//!
//! Also issue 17's register shapes (see `benches/shapes`).
//!
//! `CARGO_TARGET_DIR=... cargo bench -p checkers --bench linear`; the
//! shared histories come from `../shared/histories` or
//! `$TEMBLOR_SHARED_HISTORIES` (skipped, with a note, when absent).

#[path = "shapes/mod.rs"]
mod shapes;

use checkers::format::read_path;
use checkers::history::{Op, OpType};
use checkers::linear::{check_spec, CheckOptions, ModelKind, ModelSpec};
use checkers::{History, Verdict};
use criterion::{criterion_group, criterion_main, Criterion};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::Duration;

fn shared() -> Option<PathBuf> {
    let dir = checkers::testing::reference_histories_dir();
    dir.is_dir().then_some(dir)
}

/// Porcupine's early kill and no explanation: the work Porcupine does.
fn bare() -> CheckOptions {
    CheckOptions {
        prefixes: 0,
        shrink_time_limit: Duration::ZERO,
        ..CheckOptions::default()
    }
}

/// An op in flight: process, key, f, value, taken effect yet.
type InFlight = (u64, u64, &'static str, i64, bool);

/// A correct register (or `keys` independent ones) driven by 10 processes:
/// each op takes effect at a random point between its invocation and
/// completion; `crash` of them end `info`.
fn generated(ops: usize, keys: u64, crash: f64, seed: u64) -> History {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut regs = vec![0i64; keys as usize];
    let mut ids: Vec<u64> = (0..10).collect();
    let mut busy: Vec<Option<InFlight>> = vec![None; 10];
    let (mut out, mut issued, mut next) = (Vec::new(), 0, 10u64);
    let wrap = |k: u64, v: Value| if keys > 1 { json!([k, v]) } else { v };
    while issued < ops || busy.iter().any(Option::is_some) {
        let p = rng.gen_range(0..10);
        match busy[p].take() {
            None if issued < ops => {
                issued += 1;
                let k = rng.gen_range(0..keys);
                let (f, v) = if rng.gen_bool(0.5) {
                    ("read", 0)
                } else {
                    ("write", rng.gen_range(1..6))
                };
                let arg = if f == "read" { Value::Null } else { json!(v) };
                out.push(Op::new(ids[p], OpType::Invoke, f, wrap(k, arg)));
                busy[p] = Some((ids[p], k, f, v, false));
            }
            None => {}
            Some((id, k, f, mut v, false)) => {
                if f == "read" {
                    v = regs[k as usize];
                } else {
                    regs[k as usize] = v;
                }
                busy[p] = Some((id, k, f, v, true));
            }
            Some((id, k, f, v, true)) => {
                let crashed = rng.gen_bool(crash);
                let kind = if crashed { OpType::Info } else { OpType::Ok };
                out.push(Op::new(id, kind, f, wrap(k, json!(v))));
                if crashed {
                    ids[p] = next;
                    next += 1;
                }
            }
        }
    }
    History::from_ops("generated", out)
}

fn bench_porcupine(c: &mut Criterion) {
    let Some(dir) = shared() else {
        eprintln!("skipping porcupine-kv: shared histories not found");
        return;
    };
    let mut g = c.benchmark_group("porcupine-kv");
    g.sample_size(10).measurement_time(Duration::from_secs(5));
    for name in [
        "c01-ok", "c01-bad", "c10-ok", "c10-bad", "c50-ok", "c50-bad",
    ] {
        let h = read_path(&dir.join(format!("porcupine-kv/{name}.txt")), None).unwrap();
        let spec = ModelSpec::new(ModelKind::Kv);
        g.bench_function(format!("{name} per key"), |b| {
            b.iter(|| check_spec(&h, &spec, &bare()).unwrap())
        });
        if name.starts_with("c10") {
            let whole = ModelSpec {
                split_keys: false,
                ..spec
            };
            let expected = if name.ends_with("ok") {
                Verdict::Valid
            } else {
                Verdict::Invalid
            };
            let r = check_spec(&h, &whole, &bare()).unwrap();
            assert_eq!(r.verdict, expected, "{name} as one map: {r}");
            g.bench_function(format!("{name} one map"), |b| {
                b.iter(|| check_spec(&h, &whole, &bare()).unwrap())
            });
        }
    }
    g.finish();
}

fn bench_generated(c: &mut Criterion) {
    let mut g = c.benchmark_group("generated");
    g.sample_size(10).measurement_time(Duration::from_secs(5));
    let one = generated(10_000, 1, 0.05, 1);
    let spec = ModelSpec {
        initial: json!(0),
        ..ModelSpec::new(ModelKind::Register)
    };
    let r = check_spec(&one, &spec, &bare()).unwrap();
    assert_eq!(r.verdict, Verdict::Valid, "{r}");
    eprintln!(
        "register 10k ops 5% crashed: {} configurations",
        r.partitions[0].explored
    );
    g.bench_function("register 10k ops 5% crashed", |b| {
        b.iter(|| check_spec(&one, &spec, &bare()).unwrap())
    });
    let many = generated(100_000, 1_000, 0.01, 2);
    let keyed = ModelSpec {
        independent: true,
        ..spec.clone()
    };
    assert_eq!(
        check_spec(&many, &keyed, &bare()).unwrap().verdict,
        Verdict::Valid
    );
    g.bench_function("register 100k ops 1000 keys", |b| {
        b.iter(|| check_spec(&many, &keyed, &bare()).unwrap())
    });
    g.finish();
}

/// Issue 17's register shapes, checked as `temblor check` does (zones,
/// counterexample and all); `examples/check_shapes` times the whole process.
fn bench_shapes(c: &mut Criterion) {
    let mut g = c.benchmark_group("shapes");
    g.sample_size(10).measurement_time(Duration::from_secs(5));
    let spec = ModelSpec::new(ModelKind::Register);
    for name in [
        "register-latency",
        "register-latency-bad",
        "register-crashed",
    ] {
        let Some(h) = shapes::generate(name, 17) else {
            continue;
        };
        let r = check_spec(&h, &spec, &CheckOptions::default()).unwrap();
        assert_eq!(r.verdict.exit_code(), shapes::expected_exit(name), "{r}");
        g.bench_function(name, |b| {
            b.iter(|| check_spec(&h, &spec, &CheckOptions::default()).unwrap())
        });
    }
    g.finish();
}

criterion_group!(benches, bench_porcupine, bench_generated, bench_shapes);
criterion_main!(benches);
