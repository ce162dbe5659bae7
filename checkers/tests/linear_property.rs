//! The linearizability checker against a brute-force one on many small
//! random register histories: a correct simulated register, and registers
//! with injected anomalies (stale reads, lost writes, phantom values), with
//! crashed (`info`), never-completed and failed ops. Both must agree on
//! every history; every counterexample must itself be non-linearizable,
//! hold the failing op, and be linearizable without it.

use checkers::history::{Op, OpType};
use checkers::linear::{check, model::Register, CheckOptions, NilReads};
use checkers::{History, Verdict};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};
use std::collections::HashSet;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Anomaly {
    None,
    StaleRead,
    LostWrite,
    Phantom,
}

/// An op in flight in the simulation.
struct Busy {
    id: u64,
    f: &'static str,
    value: Value,
    applied: bool,
}

/// Simulates up to 6 processes issuing up to 30 ops against one register.
fn simulate(rng: &mut ChaCha8Rng, anomaly: Anomaly) -> History {
    let procs = rng.gen_range(1..=6);
    let total = rng.gen_range(1..=30);
    let (mut reg, mut written, mut issued, mut next_id) = (0i64, vec![0i64], 0, procs as u64);
    let mut busy: Vec<Option<Busy>> = (0..procs).map(|_| None).collect();
    let mut ids: Vec<u64> = (0..procs as u64).collect();
    let mut ops = Vec::new();
    while issued < total || busy.iter().any(Option::is_some) {
        let p = rng.gen_range(0..procs);
        match busy[p].take() {
            None if issued < total => {
                issued += 1;
                let (f, value) = match rng.gen_range(0..3) {
                    0 => ("read", Value::Null),
                    1 => ("write", json!(rng.gen_range(1..5))),
                    _ => ("cas", json!([rng.gen_range(0..5), rng.gen_range(1..5)])),
                };
                ops.push(Op::new(ids[p], OpType::Invoke, f, value.clone()));
                busy[p] = Some(Busy {
                    id: ids[p],
                    f,
                    value,
                    applied: false,
                });
            }
            None => {}
            Some(mut b) if !b.applied && rng.gen_bool(0.5) => {
                apply(&mut b, &mut reg, &mut written, anomaly, rng);
                busy[p] = Some(b);
            }
            Some(b) => {
                let crashed = complete(b, &mut ops, rng, issued >= total);
                if crashed {
                    ids[p] = next_id; // after info, a new process (Jepsen)
                    next_id += 1;
                }
            }
        }
    }
    History::from_ops("sim", ops)
}

/// The op's linearization point: it takes effect (maybe wrongly) now.
fn apply(
    b: &mut Busy,
    reg: &mut i64,
    written: &mut Vec<i64>,
    anomaly: Anomaly,
    rng: &mut ChaCha8Rng,
) {
    b.applied = true;
    let wrong = rng.gen_bool(0.25);
    match b.f {
        "read" => {
            b.value = json!(match anomaly {
                Anomaly::StaleRead if wrong => written[rng.gen_range(0..written.len())],
                Anomaly::Phantom if wrong => 100,
                _ => *reg,
            })
        }
        "write" => {
            let v = b.value.as_i64().unwrap();
            written.push(v);
            if !(anomaly == Anomaly::LostWrite && wrong) {
                *reg = v;
            }
        }
        _ => {
            let (old, new) = (b.value[0].as_i64().unwrap(), b.value[1].as_i64().unwrap());
            if old == *reg {
                *reg = new;
                written.push(new);
            } else {
                b.f = "cas-failed";
            }
        }
    }
}

/// Completes `b`: ok, fail (only if it had no effect), crashed (`info`),
/// or left open at the end. True when the process crashed.
fn complete(b: Busy, ops: &mut Vec<Op>, rng: &mut ChaCha8Rng, ending: bool) -> bool {
    let roll = rng.gen_range(0..100);
    if roll < 10 || (ending && roll < 20) {
        if roll % 2 == 0 {
            ops.push(Op::new(
                b.id,
                OpType::Info,
                b.f.replace("-failed", ""),
                b.value,
            ));
        }
        return true; // crashed: info, or never completed
    }
    let kind = if !b.applied || b.f == "cas-failed" {
        OpType::Fail
    } else {
        OpType::Ok
    };
    ops.push(Op::new(b.id, kind, b.f.replace("-failed", ""), b.value));
    false
}

/// One op for the brute force: real-time bounds and what it does.
struct Plain {
    call: usize,
    ret: Option<usize>,
    f: String,
    value: Value,
}

fn plain(h: &History) -> Vec<Plain> {
    let mut out = Vec::new();
    for o in h.operations().unwrap() {
        let done = o.complete.map(|c| &h.ops[c]);
        if done.is_some_and(|d| d.kind == OpType::Fail) {
            continue;
        }
        let ok = done.filter(|d| d.kind == OpType::Ok);
        let f = h.ops[o.invoke].f.clone();
        if f == "read" && ok.is_none() {
            continue; // a crashed read constrains nothing
        }
        let value = ok.map_or(&h.ops[o.invoke].value, |d| &d.value).clone();
        out.push(Plain {
            call: o.invoke,
            ret: ok.map(|_| o.complete.unwrap()),
            f,
            value,
        });
    }
    out
}

/// Tries every order consistent with real time (crashed ops optional).
fn brute(h: &History) -> bool {
    let ops = plain(h);
    let mut failed = HashSet::new();
    dfs(&ops, 0, 0, &mut failed)
}

fn dfs(ops: &[Plain], done: u64, reg: i64, failed: &mut HashSet<(u64, i64)>) -> bool {
    let required = ops
        .iter()
        .enumerate()
        .all(|(i, o)| o.ret.is_none() || done & (1 << i) != 0);
    if required {
        return true;
    }
    if failed.contains(&(done, reg)) {
        return false;
    }
    for (i, o) in ops.iter().enumerate() {
        let blocked = ops
            .iter()
            .enumerate()
            .any(|(j, a)| done & (1 << j) == 0 && a.ret.is_some_and(|r| r < o.call));
        if done & (1 << i) != 0 || blocked {
            continue;
        }
        let next = match o.f.as_str() {
            "read" => (o.value.as_i64() == Some(reg)).then_some(reg),
            "write" => o.value.as_i64(),
            _ => (o.value[0].as_i64() == Some(reg)).then(|| o.value[1].as_i64().unwrap()),
        };
        if let Some(v) = next {
            if dfs(ops, done | (1 << i), v, failed) {
                return true;
            }
        }
    }
    failed.insert((done, reg));
    false
}

#[test]
fn the_checker_agrees_with_brute_force_on_random_register_histories() {
    let model = Register::new(&json!(0), NilReads::Absent, true);
    let opts = CheckOptions::default();
    let (mut valid, mut invalid, mut crashed) = (0, 0, 0);
    for seed in 0..3000u64 {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let anomaly = [
            Anomaly::None,
            Anomaly::StaleRead,
            Anomaly::LostWrite,
            Anomaly::Phantom,
        ][seed as usize % 4];
        let h = simulate(&mut rng, anomaly);
        crashed += usize::from(h.operations().unwrap().iter().any(|o| o.complete.is_none()));
        let r = check(&h, &model, &opts).unwrap();
        let expected = brute(&h);
        assert_eq!(
            r.verdict == Verdict::Valid,
            expected,
            "seed {seed} ({anomaly:?}): {r}\n{:#?}",
            h.ops
        );
        if anomaly == Anomaly::None {
            assert_eq!(r.verdict, Verdict::Valid, "seed {seed}: a correct register");
        }
        if expected {
            valid += 1;
            continue;
        }
        invalid += 1;
        let failure = r.partitions[0].failure.as_ref().unwrap();
        let cx = failure.counterexample.as_ref().unwrap();
        assert!(cx.minimal, "seed {seed}");
        assert!(
            !brute(&cx.history()),
            "seed {seed}: counterexample is linearizable\n{r}"
        );
        let f = &failure.op;
        assert!(
            cx.ops.iter().any(|o| o.index == f.index),
            "seed {seed}: counterexample lacks the failing op\n{r}"
        );
        let without = cx.history_without(f);
        assert_eq!(without.len() + 2, cx.events.len(), "seed {seed}");
        assert!(
            brute(&without),
            "seed {seed}: the failure is not the failing op's\n{r}"
        );
    }
    assert!(
        valid > 1000 && invalid > 300,
        "valid {valid}, invalid {invalid}"
    );
    assert!(
        crashed > 500,
        "only {crashed} histories with never-completed ops"
    );
}
