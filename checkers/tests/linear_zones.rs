//! The zones decision (Gibbons and Korach, for registers whose written
//! values are distinct) against the Wing-Gong-Lowe search on thousands of
//! seeded histories: correct registers and registers with stale reads,
//! lost writes, phantom values and reads from the future; with crashed,
//! never-completed and failed ops, nil reads both ways, one register or
//! independent keys. Verdicts must agree, the failing op must be the one
//! the search names, and every counterexample must be non-linearizable,
//! hold the failing op, and be linearizable without it.

use checkers::linear::{check_spec, CheckOptions, Decider, Method, ModelKind, ModelSpec};
use checkers::linear::{LinearResult, NilReads};
use checkers::{History, Op, OpType, Verdict};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Fault {
    None,
    StaleRead,
    LostWrite,
    Phantom,
    /// A read returns a value whose write has not happened yet.
    Future,
}

struct Busy {
    id: u64,
    key: u64,
    f: &'static str,
    value: Value,
    applied: bool,
}

/// What one simulated store looks like.
struct Shape {
    procs: usize,
    ops: usize,
    keys: u64,
    fault: Fault,
    /// Percent of completions that crash (info or never).
    crash: u32,
}

/// A register store (or `keys` of them) driven by `procs` processes;
/// written values are 1, 2, 3... (distinct), the initial value nil.
fn simulate(rng: &mut ChaCha8Rng, s: &Shape) -> History {
    let mut regs: Vec<Vec<i64>> = vec![vec![]; s.keys as usize];
    let (mut issued, mut next_value, mut next_id) = (0, 1i64, s.procs as u64);
    let mut busy: Vec<Option<Busy>> = (0..s.procs).map(|_| None).collect();
    let mut ids: Vec<u64> = (0..s.procs as u64).collect();
    let mut out = Vec::new();
    let wrap = |k: u64, v: Value| if s.keys > 1 { json!([k, v]) } else { v };
    while issued < s.ops || busy.iter().any(Option::is_some) {
        let p = rng.gen_range(0..s.procs);
        match busy[p].take() {
            None if issued < s.ops => {
                issued += 1;
                let key = rng.gen_range(0..s.keys);
                let (f, value) = if rng.gen_bool(0.5) {
                    ("read", Value::Null)
                } else {
                    next_value += 1;
                    ("write", json!(next_value - 1))
                };
                out.push(Op::new(ids[p], OpType::Invoke, f, wrap(key, value.clone())));
                busy[p] = Some(Busy {
                    id: ids[p],
                    key,
                    f,
                    value,
                    applied: false,
                });
            }
            None => {}
            Some(mut b) if !b.applied && rng.gen_bool(0.4) => {
                let reg = &mut regs[b.key as usize];
                let wrong = rng.gen_bool(0.3);
                if b.f == "read" {
                    let now = reg.last().map_or(Value::Null, |&v| json!(v));
                    b.value = match s.fault {
                        Fault::StaleRead if wrong && !reg.is_empty() => {
                            json!(reg[rng.gen_range(0..reg.len())])
                        }
                        Fault::Phantom if wrong => json!(-1),
                        Fault::Future if wrong => json!(next_value),
                        _ => now,
                    };
                } else if !(s.fault == Fault::LostWrite && wrong) {
                    reg.push(b.value.as_i64().unwrap_or(0));
                }
                b.applied = true;
                busy[p] = Some(b);
            }
            Some(b) => {
                let roll = rng.gen_range(0..100);
                let ending = issued >= s.ops;
                if roll < s.crash || (ending && roll < 2 * s.crash) {
                    if roll % 2 == 0 {
                        out.push(Op::new(b.id, OpType::Info, b.f, wrap(b.key, b.value)));
                    }
                    ids[p] = next_id;
                    next_id += 1;
                    continue;
                }
                let kind = if b.applied { OpType::Ok } else { OpType::Fail };
                out.push(Op::new(b.id, kind, b.f, wrap(b.key, b.value)));
            }
        }
    }
    History::from_ops("sim", out)
}

fn check(h: &History, keys: u64, nil: NilReads, decider: Decider) -> LinearResult {
    let spec = ModelSpec {
        nil_reads: nil,
        independent: keys > 1,
        ..ModelSpec::new(ModelKind::Register)
    };
    let opts = CheckOptions {
        decider,
        ..CheckOptions::default()
    };
    check_spec(h, &spec, &opts).unwrap()
}

/// Compares the two deciders on one history; true when it is valid.
fn compare(h: &History, keys: u64, nil: NilReads, what: &str) -> bool {
    let zones = check(h, keys, nil, Decider::Auto);
    let search = check(h, keys, nil, Decider::Search);
    assert_eq!(
        zones.verdict, search.verdict,
        "{what}: zones {zones}\nsearch {search}"
    );
    assert!(
        zones.partitions.iter().all(|p| p.method == Method::Zones),
        "{what}: a partition fell back to the search\n{zones}"
    );
    if zones.verdict == Verdict::Valid {
        return true;
    }
    let bad = |r: &LinearResult| {
        let p = r.partitions.iter().find(|p| p.verdict == Verdict::Invalid);
        p.and_then(|p| p.failure.clone().map(|f| (p.key.clone(), f)))
    };
    let (key, failure) = bad(&zones).unwrap();
    // The search stops at the first invalid partition it meets; compare
    // the failing op on the same key.
    if let Some(sp) = search.partitions.iter().find(|p| p.key == key) {
        if let Some(sf) = &sp.failure {
            assert_eq!(
                failure.op, sf.op,
                "{what}: failing ops differ\n{zones}\n{search}"
            );
        }
    }
    assert!(!failure.prefixes.is_empty(), "{what}: no prefix\n{zones}");
    let cx = failure.counterexample.as_ref().expect("a counterexample");
    let f = &failure.op;
    assert!(
        cx.ops.iter().any(|o| o.index == f.index),
        "{what}: lacks F\n{zones}"
    );
    let sub = cx.history();
    let sub_r = check(&sub, keys, nil, Decider::Search);
    assert_eq!(
        sub_r.verdict,
        Verdict::Invalid,
        "{what}: cx is fine\n{zones}"
    );
    let rest = check(&cx.history_without(f), keys, nil, Decider::Search);
    assert_eq!(
        rest.verdict,
        Verdict::Valid,
        "{what}: not F's failure\n{zones}"
    );
    false
}

#[test]
fn zones_agree_with_the_search_on_small_histories() {
    let faults = [
        Fault::None,
        Fault::StaleRead,
        Fault::LostWrite,
        Fault::Phantom,
        Fault::Future,
    ];
    let (mut valid, mut invalid) = (0, 0);
    for seed in 0..4000u64 {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let shape = Shape {
            procs: rng.gen_range(1..=6),
            ops: rng.gen_range(1..=30),
            keys: [1, 1, 3][seed as usize % 3],
            fault: faults[seed as usize % faults.len()],
            crash: [0, 5, 15][seed as usize / 7 % 3],
        };
        let h = simulate(&mut rng, &shape);
        let nil = [NilReads::Absent, NilReads::Wildcard][seed as usize / 3 % 2];
        let what = format!("seed {seed} ({:?}, {nil:?})", shape.fault);
        let ok = compare(&h, shape.keys, nil, &what);
        if shape.fault == Fault::None {
            assert!(ok, "{what}: a correct register is invalid");
        }
        if ok {
            valid += 1;
        } else {
            invalid += 1;
        }
    }
    assert!(
        valid > 1500 && invalid > 900,
        "valid {valid}, invalid {invalid}"
    );
}

#[test]
fn zones_agree_with_the_search_on_long_overlapping_histories() {
    let (mut valid, mut invalid) = (0, 0);
    for seed in 0..300u64 {
        let mut rng = ChaCha8Rng::seed_from_u64(1_000_000 + seed);
        let shape = Shape {
            procs: 10,
            ops: 200,
            keys: 1,
            fault: [Fault::None, Fault::StaleRead, Fault::LostWrite][seed as usize % 3],
            crash: 3,
        };
        let h = simulate(&mut rng, &shape);
        let ok = compare(&h, 1, NilReads::Absent, &format!("long seed {seed}"));
        if ok {
            valid += 1;
        } else {
            invalid += 1;
        }
    }
    assert!(
        valid > 80 && invalid > 80,
        "valid {valid}, invalid {invalid}"
    );
}
