//! rw-register (`[w k v]`, `[r k v]`, unique writes): a simulated strictly
//! serializable store never shows an anomaly, with or without real-time
//! and process version inference; small hand-made histories show write
//! skew as G2-item, an aborted read as G1a, an intermediate read as G1b,
//! cyclic version orders, and real-time/process inference only when asked.

use checkers::elle::{check, ElleOptions, ElleResult, Model, Workload};
use checkers::{History, Op, OpType, Verdict};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

/// A strictly serializable store: each txn runs at one instant between
/// its invocation and completion; `processes` clients, `keys` registers.
fn serializable(seed: u64, txns: usize) -> History {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut state: Vec<Value> = vec![Value::Null; 4];
    let mut next = 0;
    let mut pending: Vec<Option<(Value, bool)>> = vec![None; 3];
    let mut ops = Vec::new();
    let mut invoked = 0;
    while invoked < txns || pending.iter().any(Option::is_some) {
        let p = rng.gen_range(0..pending.len());
        match pending[p].take() {
            None if invoked < txns => {
                let mops: Vec<Value> = (0..rng.gen_range(1..4))
                    .map(|_| {
                        let k = rng.gen_range(0..state.len());
                        if rng.gen_bool(0.5) {
                            next += 1;
                            json!(["w", k, next])
                        } else {
                            json!(["r", k, null])
                        }
                    })
                    .collect();
                ops.push(Op::new(p as u64, OpType::Invoke, "txn", json!(mops)));
                pending[p] = Some((json!(mops), false));
                invoked += 1;
            }
            None => {}
            Some((mops, false)) => pending[p] = Some((run(&mops, &mut state), true)),
            Some((mops, true)) => ops.push(Op::new(p as u64, OpType::Ok, "txn", mops)),
        }
    }
    History::from_ops("rw.jsonl", ops)
}

fn run(mops: &Value, state: &mut [Value]) -> Value {
    let list = mops.as_array().cloned().unwrap_or_default();
    let done: Vec<Value> = list
        .iter()
        .map(|m| {
            let k = m[1].as_u64().unwrap_or(0) as usize;
            if m[0] == "w" {
                state[k] = m[2].clone();
                m.clone()
            } else {
                json!(["r", k, state[k]])
            }
        })
        .collect();
    json!(done)
}

fn opts(realtime: bool, process: bool) -> ElleOptions {
    let mut o = ElleOptions::new(Workload::RwRegister);
    o.infer_realtime_versions = realtime;
    o.infer_process_versions = process;
    o
}

#[test]
fn a_serializable_store_never_shows_an_anomaly() {
    let mut edges = 0;
    for seed in 0..80 {
        let h = serializable(seed, 120);
        for (rt, pr) in [(false, false), (true, false), (false, true)] {
            let r = check(&h, &opts(rt, pr)).unwrap();
            assert_eq!(
                r.verdict,
                Verdict::Valid,
                "seed {seed} rt {rt} process {pr}:\n{}",
                r.render()
            );
            assert!(
                r.anomaly_types.is_empty(),
                "seed {seed}: {:?}",
                r.anomaly_types
            );
            edges += r.stats.edges;
        }
    }
    assert!(edges > 1000, "only {edges} edges inferred");
}

/// `(process, type, micro-ops)` records, in order.
fn hist(records: Vec<(u64, OpType, Value)>) -> History {
    History::from_ops(
        "t.jsonl",
        records.into_iter().map(|(p, k, v)| Op::new(p, k, "txn", v)),
    )
}

fn types(r: &ElleResult) -> Vec<&str> {
    r.anomaly_types.iter().map(String::as_str).collect()
}

#[test]
fn write_skew_is_g2_item() {
    use OpType::*;
    let t1 = json!([["r", "x", null], ["r", "y", null], ["w", "x", 1]]);
    let t2 = json!([["r", "x", null], ["r", "y", null], ["w", "y", 2]]);
    let h = hist(vec![
        (0, Invoke, t1.clone()),
        (1, Invoke, t2.clone()),
        (0, Ok, t1),
        (1, Ok, t2),
    ]);
    let r = check(&h, &opts(false, false).with_models(&[Model::Serializable])).unwrap();
    assert_eq!(r.verdict, Verdict::Invalid, "{}", r.render());
    assert_eq!(types(&r), vec!["G2-item"], "{}", r.render());
    let si = check(
        &h,
        &opts(false, false).with_models(&[Model::SnapshotIsolation]),
    )
    .unwrap();
    assert_eq!(si.verdict, Verdict::Valid, "{}", si.render());
}

#[test]
fn reading_an_aborted_write_is_g1a_and_an_overwritten_one_g1b() {
    use OpType::*;
    let w = json!([["w", "x", 1]]);
    // Read twice in one txn: still one G1a (the same read of the same write).
    let read1 = json!([["r", "x", 1], ["r", "x", 1]]);
    let h = hist(vec![
        (0, Invoke, w.clone()),
        (0, Fail, w),
        (1, Invoke, json!([["r", "x", null]])),
        (1, Ok, read1.clone()),
    ]);
    let r = check(&h, &opts(false, false)).unwrap();
    assert_eq!(types(&r), vec!["G1a"], "{}", r.render());
    assert_eq!(r.anomalies["G1a"].len(), 1);
    let ww = json!([["w", "x", 1], ["w", "x", 2]]);
    let h = hist(vec![
        (0, Invoke, ww.clone()),
        (0, Ok, ww),
        (1, Invoke, json!([["r", "x", null]])),
        (1, Ok, read1),
    ]);
    let r = check(&h, &opts(false, false)).unwrap();
    assert_eq!(types(&r), vec!["G1b"], "{}", r.render());
}

#[test]
fn txns_that_read_each_others_writes_before_writing_are_cyclic_versions() {
    use OpType::*;
    let t1 = json!([["r", "x", 1], ["w", "x", 2]]);
    let t2 = json!([["r", "x", 2], ["w", "x", 1]]);
    let h = hist(vec![
        (0, Invoke, t1.clone()),
        (1, Invoke, t2.clone()),
        (0, Ok, t1),
        (1, Ok, t2),
    ]);
    let r = check(&h, &opts(false, false)).unwrap();
    assert_eq!(r.verdict, Verdict::Invalid);
    assert!(types(&r).contains(&"cyclic-versions"), "{}", r.render());
}

/// w x 1, then w x 2, then a read of 1, each after the other completed,
/// by processes `p`.
fn stale(p: [u64; 3]) -> History {
    use OpType::*;
    let (w1, w2, r) = (
        json!([["w", "x", 1]]),
        json!([["w", "x", 2]]),
        json!([["r", "x", 1]]),
    );
    hist(vec![
        (p[0], Invoke, w1.clone()),
        (p[0], Ok, w1),
        (p[1], Invoke, w2.clone()),
        (p[1], Ok, w2),
        (p[2], Invoke, json!([["r", "x", null]])),
        (p[2], Ok, r),
    ])
}

#[test]
fn real_time_and_process_version_inference_apply_only_when_asked() {
    let h = stale([0, 1, 2]);
    let plain = check(&h, &opts(false, false)).unwrap();
    assert_eq!(plain.verdict, Verdict::Valid, "{}", plain.render());
    // Real time puts 1 before 2 (the writes) and 2 before 1 (the read
    // after the second write): the key is not linearizable.
    let rt = check(&h, &opts(true, false)).unwrap();
    assert_eq!(rt.verdict, Verdict::Invalid, "{}", rt.render());
    assert_eq!(types(&rt), vec!["cyclic-versions"], "{}", rt.render());
    // Different processes: process order says nothing.
    assert_eq!(
        check(&h, &opts(false, true)).unwrap().verdict,
        Verdict::Valid
    );
    let one = stale([0, 0, 0]);
    let pr = check(&one, &opts(false, true)).unwrap();
    assert_eq!(pr.verdict, Verdict::Invalid, "{}", pr.render());
    assert_eq!(types(&pr), vec!["cyclic-versions"], "{}", pr.render());
}

#[test]
fn a_read_completed_before_its_write_began_is_g1c_realtime() {
    use OpType::*;
    let (w, r) = (json!([["w", "x", 1]]), json!([["r", "x", 1]]));
    let h = hist(vec![
        (1, Invoke, json!([["r", "x", null]])),
        (1, Ok, r),
        (0, Invoke, w.clone()),
        (0, Ok, w),
    ]);
    let strict = check(&h, &opts(false, false)).unwrap();
    assert_eq!(types(&strict), vec!["G1c-realtime"], "{}", strict.render());
    let ser = check(&h, &opts(false, false).with_models(&[Model::Serializable])).unwrap();
    assert_eq!(ser.verdict, Verdict::Valid, "{}", ser.render());
}
