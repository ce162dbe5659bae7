//! The kv models (per key, and the whole map as one state) against a
//! brute-force checker on strings, on many small random histories: a
//! correct store and one with stale gets and lost appends, crashed ops,
//! and tokens that overlap (`a`, `b`, `ab`, `""`), so that numbering the
//! live strings and collapsing the dead ones must be exact to agree.

use checkers::history::{Op, OpType};
use checkers::linear::{check_spec, CheckOptions, ModelKind, ModelSpec};
use checkers::{History, Verdict};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};

const TOKENS: [&str; 5] = ["a", "b", "ab", "", "ba"];

/// One op for the simulation and the brute force.
#[derive(Clone, Debug)]
struct Kop {
    process: u64,
    f: &'static str,
    key: usize,
    arg: String,
    done: bool,
    crashed: bool,
}

/// Up to 4 processes, up to 12 ops on 1-2 keys; `faulty` (3 seeds in 4): 40% of
/// the gets may read an old value and appends may be lost.
fn simulate(rng: &mut ChaCha8Rng, faulty: bool) -> History {
    let (procs, total, keys) = (
        rng.gen_range(1..=4),
        rng.gen_range(1..=12),
        rng.gen_range(1..=2),
    );
    let mut store = vec![String::new(); keys];
    let mut seen: Vec<Vec<String>> = vec![vec![String::new()]; keys];
    let mut busy: Vec<Option<Kop>> = vec![None; procs];
    let (mut ops, mut issued, mut next_id) = (Vec::new(), 0, procs as u64);
    let mut ids: Vec<u64> = (0..procs as u64).collect();
    while issued < total || busy.iter().any(Option::is_some) {
        let p = rng.gen_range(0..procs);
        match busy[p].take() {
            None if issued < total => {
                issued += 1;
                let op = invoke(rng, ids[p], keys);
                ops.push(record(&op, OpType::Invoke));
                busy[p] = Some(op);
            }
            None => {}
            Some(mut op) if !op.done => {
                apply(rng, &mut op, &mut store, &mut seen, faulty);
                busy[p] = Some(op);
            }
            Some(op) => {
                if rng.gen_bool(0.1) {
                    ops.push(record(&op, OpType::Info));
                    ids[p] = next_id;
                    next_id += 1;
                } else {
                    ops.push(record(&op, OpType::Ok));
                }
            }
        }
    }
    History::from_ops("kv-sim", ops)
}

fn invoke(rng: &mut ChaCha8Rng, process: u64, keys: usize) -> Kop {
    let f = ["get", "put", "append", "append"][rng.gen_range(0..4)];
    let arg = match f {
        "get" => String::new(),
        _ => TOKENS[rng.gen_range(0..TOKENS.len())].to_string(),
    };
    Kop {
        process,
        f,
        key: rng.gen_range(0..keys),
        arg,
        done: false,
        crashed: false,
    }
}

fn apply(
    rng: &mut ChaCha8Rng,
    op: &mut Kop,
    store: &mut [String],
    seen: &mut [Vec<String>],
    faulty: bool,
) {
    op.done = true;
    let wrong = faulty && rng.gen_bool(0.4);
    let s = &mut store[op.key];
    match op.f {
        "get" if wrong => op.arg = seen[op.key][rng.gen_range(0..seen[op.key].len())].clone(),
        "get" => op.arg = s.clone(),
        "put" => *s = op.arg.clone(),
        _ if wrong => {}
        _ => s.push_str(&op.arg),
    }
    seen[op.key].push(s.clone());
}

fn record(op: &Kop, kind: OpType) -> Op {
    let key = format!("k{}", op.key);
    let value = if op.f == "get" && kind == OpType::Invoke {
        json!([key, Value::Null])
    } else {
        json!([key, op.arg])
    };
    Op::new(op.process, kind, op.f, value)
}

/// An op for the brute force: bounds and what it does.
struct Plain {
    call: usize,
    ret: Option<usize>,
    op: Kop,
}

fn plain(h: &History) -> Vec<Plain> {
    let mut out = Vec::new();
    for o in h.operations().unwrap() {
        let inv = &h.ops[o.invoke];
        let ok = o.complete.filter(|&c| h.ops[c].kind == OpType::Ok);
        let value = &h.ops[ok.unwrap_or(o.invoke)].value;
        if inv.f == "get" && ok.is_none() {
            continue;
        }
        let key = value[0].as_str().unwrap()[1..].parse().unwrap();
        let op = Kop {
            process: 0,
            f: if inv.f == "get" {
                "get"
            } else if inv.f == "put" {
                "put"
            } else {
                "append"
            },
            key,
            arg: value[1].as_str().unwrap_or("").to_string(),
            done: false,
            crashed: ok.is_none(),
        };
        out.push(Plain {
            call: o.invoke,
            ret: ok,
            op,
        });
    }
    out
}

/// Every order consistent with real time, on strings (crashed optional).
fn brute(h: &History) -> bool {
    let ops = plain(h);
    let mut failed = HashSet::new();
    dfs(&ops, 0, &mut HashMap::new(), &mut failed)
}

fn dfs(
    ops: &[Plain],
    done: u64,
    state: &mut HashMap<usize, String>,
    failed: &mut HashSet<(u64, Vec<(usize, String)>)>,
) -> bool {
    if ops
        .iter()
        .enumerate()
        .all(|(i, o)| o.op.crashed || done & (1 << i) != 0)
    {
        return true;
    }
    let mut snapshot: Vec<(usize, String)> = state.iter().map(|(k, v)| (*k, v.clone())).collect();
    snapshot.sort();
    if !failed.insert((done, snapshot)) {
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
        let cur = state.get(&o.op.key).cloned().unwrap_or_default();
        let next = match o.op.f {
            "get" if cur != o.op.arg => continue,
            "get" => cur.clone(),
            "put" => o.op.arg.clone(),
            _ => cur.clone() + &o.op.arg,
        };
        state.insert(o.op.key, next);
        let ok = dfs(ops, done | (1 << i), state, failed);
        state.insert(o.op.key, cur);
        if ok {
            return true;
        }
    }
    false
}

#[test]
fn kv_per_key_and_as_one_map_agree_with_brute_force_on_strings() {
    let opts = CheckOptions::default();
    let split = ModelSpec::new(ModelKind::Kv);
    let whole = ModelSpec {
        split_keys: false,
        ..ModelSpec::new(ModelKind::Kv)
    };
    let (mut valid, mut invalid) = (0, 0);
    for seed in 0..3000u64 {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let h = simulate(&mut rng, seed % 4 != 0);
        let expected = brute(&h);
        for spec in [&split, &whole] {
            let r = check_spec(&h, spec, &opts).unwrap();
            assert_eq!(
                r.verdict == Verdict::Valid,
                expected,
                "seed {seed}, split {}: {r}\n{:#?}",
                spec.split_keys,
                h.ops
            );
        }
        if expected {
            valid += 1;
        } else {
            invalid += 1;
        }
    }
    assert!(
        valid > 1000 && invalid > 300,
        "valid {valid}, invalid {invalid}"
    );
}
