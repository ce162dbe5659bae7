//! The counter and set checkers against slow, obviously correct versions
//! on many small random histories: simulated stores that are right or
//! that lie now and then (stale, lost, phantom values), with crashed
//! (`info`), failed and never-completed ops.
//!
//! - counter: a read is possible iff some subset of the adds that may have
//!   happened, together with those that must have, sums to it. The
//!   checker's bounds must never flag a possible read, and with unit adds
//!   they must flag every impossible one.
//! - set: every element's fate recomputed from its definition by scanning
//!   every read, and the set checker's findings checked against the
//!   linearizability checker's set model (a lost, stale or unexpected
//!   element is never linearizable).

use checkers::counter;
use checkers::history::{Op, OpType, Outcome};
use checkers::linear::{check_spec, CheckOptions, ModelKind, ModelSpec};
use checkers::set::{self, SetOptions};
use checkers::{History, Verdict};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// A store the simulation drives: applies an op at its linearization
/// point and says what it returns (maybe a lie).
trait Store {
    fn invoke(&mut self, rng: &mut ChaCha8Rng) -> (&'static str, Value);
    fn apply(&mut self, f: &str, value: &Value, rng: &mut ChaCha8Rng) -> Value;
}

/// Up to 5 processes issue up to `total` ops; each op takes effect at a
/// random moment while in flight (or, if it crashes, maybe never).
fn simulate(rng: &mut ChaCha8Rng, store: &mut dyn Store, total: usize) -> History {
    let procs = rng.gen_range(1..=5);
    let mut ids: Vec<u64> = (0..procs as u64).collect();
    let mut next_id = procs as u64;
    let mut busy: Vec<Option<(&'static str, Value, Option<Value>)>> = vec![None; procs];
    let (mut ops, mut issued) = (Vec::new(), 0);
    while issued < total || busy.iter().any(Option::is_some) {
        let p = rng.gen_range(0..procs);
        match busy[p].take() {
            None if issued < total => {
                issued += 1;
                let (f, v) = store.invoke(rng);
                ops.push(Op::new(ids[p], OpType::Invoke, f, v.clone()));
                busy[p] = Some((f, v, None));
            }
            None => {}
            Some((f, v, None)) if rng.gen_bool(0.5) => {
                let out = store.apply(f, &v, rng);
                busy[p] = Some((f, v, Some(out)));
            }
            Some((f, v, applied)) => {
                let kind = match (&applied, rng.gen_range(0..10)) {
                    (_, 0) if issued >= total => continue, // never completes
                    (_, 1) => OpType::Info,
                    (None, 2) => OpType::Fail,
                    (None, _) => {
                        busy[p] = Some((f, v, None));
                        continue;
                    }
                    _ => OpType::Ok,
                };
                let value = match (kind, applied) {
                    (OpType::Ok, Some(out)) => out,
                    _ => v,
                };
                ops.push(Op::new(ids[p], kind, f, value));
                if kind == OpType::Info {
                    ids[p] = next_id;
                    next_id += 1;
                }
            }
        }
    }
    History::from_ops("sim", ops)
}

struct Counter {
    value: i64,
    unit: bool,
    lies: bool,
}

impl Store for Counter {
    fn invoke(&mut self, rng: &mut ChaCha8Rng) -> (&'static str, Value) {
        match (rng.gen_bool(0.5), self.unit) {
            (true, _) => ("read", Value::Null),
            (false, true) => ("add", json!(if rng.gen_bool(0.7) { 1 } else { -1 })),
            (false, false) => ("add", json!(rng.gen_range(-2..=3))),
        }
    }

    fn apply(&mut self, f: &str, value: &Value, rng: &mut ChaCha8Rng) -> Value {
        if f == "add" {
            self.value += value.as_i64().unwrap_or(0);
            return value.clone();
        }
        match self.lies && rng.gen_bool(0.2) {
            true => json!(self.value + rng.gen_range(-2..=2)),
            false => json!(self.value),
        }
    }
}

/// Whether the read op `r` could have returned its value: some subset of
/// the adds that may have happened before it, with those that must have,
/// sums to it.
fn read_possible(h: &History, ops: &[checkers::history::Operation], r: usize) -> bool {
    let read = &ops[r];
    let (inv, done) = (read.invoke, read.complete.unwrap_or(usize::MAX));
    let value = h.ops[done].value.as_i64().unwrap_or(i64::MIN);
    let (mut must, mut free) = (0i64, Vec::new());
    for a in ops.iter().filter(|a| h.ops[a.invoke].f == "add") {
        let n = h.ops[a.invoke].value.as_i64().unwrap_or(0);
        match (a.outcome, a.complete) {
            (Outcome::Ok, Some(c)) if c < inv => must += n,
            (Outcome::Fail, _) => {}
            _ if a.invoke < done => free.push(n),
            _ => {}
        }
    }
    (0u32..1 << free.len()).any(|mask| {
        let chosen: i64 = (0..free.len())
            .filter(|i| mask & (1 << i) != 0)
            .map(|i| free[i])
            .sum();
        must + chosen == value
    })
}

#[test]
fn counter_bounds_never_flag_a_possible_read_and_catch_every_impossible_unit_read() {
    let mut flagged_any = 0;
    for seed in 0..1500u64 {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let unit = seed % 3 != 0;
        let mut store = Counter {
            value: 0,
            unit,
            lies: seed % 2 == 0,
        };
        let h = simulate(&mut rng, &mut store, 12);
        let ops = h.operations().unwrap();
        let r = counter::check(&h).unwrap();
        let flagged: BTreeSet<u64> = r.errors.items.iter().map(|e| e.index).collect();
        flagged_any += usize::from(!flagged.is_empty());
        for (i, o) in ops.iter().enumerate() {
            let (Some(c), Outcome::Ok) = (o.complete, o.outcome) else {
                continue;
            };
            if h.ops[o.invoke].f != "read" {
                continue;
            }
            let possible = read_possible(&h, &ops, i);
            let is_flagged = flagged.contains(&h.ops[c].index);
            assert!(
                !(possible && is_flagged),
                "seed {seed}: a possible read flagged: {r}\n{:#?}",
                h.ops
            );
            if unit {
                assert!(
                    possible || is_flagged,
                    "seed {seed}: an impossible unit read passed: {r}\n{:#?}",
                    h.ops
                );
            }
        }
    }
    assert!(
        flagged_any > 100,
        "the lying counters were caught only {flagged_any} times"
    );
}

struct Set {
    elements: Vec<i64>,
    /// Each state the set was in, for stale reads.
    past: Vec<Vec<i64>>,
    next: i64,
    lies: bool,
}

impl Store for Set {
    fn invoke(&mut self, rng: &mut ChaCha8Rng) -> (&'static str, Value) {
        if rng.gen_bool(0.4) {
            return ("read", Value::Null);
        }
        self.next += 1;
        ("add", json!(self.next))
    }

    fn apply(&mut self, f: &str, value: &Value, rng: &mut ChaCha8Rng) -> Value {
        if f == "add" {
            self.elements.push(value.as_i64().unwrap_or(0));
            self.past.push(self.elements.clone());
            return value.clone();
        }
        let mut read = self.elements.clone();
        if self.lies {
            match rng.gen_range(0..10) {
                0 if !self.past.is_empty() => {
                    read = self.past[rng.gen_range(0..self.past.len())].clone()
                }
                1 if !read.is_empty() => {
                    read.remove(rng.gen_range(0..read.len()));
                }
                2 => read.push(99),
                3 if !read.is_empty() => read.push(read[0]),
                _ => {}
            }
        }
        json!(read)
    }
}

/// Each element's fate, straight from the definitions, by scanning every
/// read: (lost, stale, never read, stable) counts, plus unexpected and
/// duplicated reads.
fn oracle(h: &History) -> (usize, usize, usize, usize, usize, usize) {
    let ops = h.operations().unwrap();
    let reads: Vec<(usize, usize, Vec<Value>)> = ops
        .iter()
        .filter(|o| h.ops[o.invoke].f == "read" && o.outcome == Outcome::Ok)
        .filter_map(|o| {
            let c = o.complete?;
            Some((o.invoke, c, h.ops[c].value.as_array()?.clone()))
        })
        .collect();
    let adds: Vec<&checkers::history::Operation> =
        ops.iter().filter(|o| h.ops[o.invoke].f == "add").collect();
    let (mut lost, mut stale, mut never, mut stable) = (0, 0, 0, 0);
    for a in &adds {
        let e = &h.ops[a.invoke].value;
        let seen: Vec<&(usize, usize, Vec<Value>)> =
            reads.iter().filter(|r| r.1 > a.invoke).collect();
        let ok_at = a.complete.filter(|_| a.outcome == Outcome::Ok);
        let first_seen = seen.iter().filter(|r| r.2.contains(e)).map(|r| r.1).min();
        let known = [ok_at, first_seen].into_iter().flatten().min();
        let present = seen.iter().filter(|r| r.2.contains(e)).map(|r| r.0).max();
        let absent = seen.iter().filter(|r| !r.2.contains(e)).map(|r| r.0).max();
        match (known, present, absent) {
            (_, Some(p), a) if a.is_none_or(|a| a < p) => {
                stable += 1;
                stale += usize::from(known.zip(a).is_some_and(|(k, a)| a > k));
            }
            (Some(k), p, Some(a)) if p.is_none_or(|p| p < a) && k < a => lost += 1,
            _ => never += 1,
        }
    }
    let (mut unexpected, mut duplicated) = (0, 0);
    for (_, c, list) in &reads {
        let mut distinct: Vec<&Value> = Vec::new();
        for v in list {
            if !distinct.contains(&v) {
                distinct.push(v);
            }
        }
        for v in distinct {
            let add = adds
                .iter()
                .find(|a| h.ops[a.invoke].value == *v && a.invoke < *c);
            unexpected += usize::from(add.is_none_or(|a| a.outcome == Outcome::Fail));
            duplicated += usize::from(list.iter().filter(|x| *x == v).count() > 1);
        }
    }
    (lost, stale, never, stable, unexpected, duplicated)
}

#[test]
fn set_fates_match_their_definitions_and_every_finding_is_not_linearizable() {
    let (mut invalid, mut stale_seen) = (0, 0);
    for seed in 0..1500u64 {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut store = Set {
            elements: Vec::new(),
            past: Vec::new(),
            next: 0,
            lies: seed % 2 == 0,
        };
        let h = simulate(&mut rng, &mut store, 14);
        let r = set::check(&h, &SetOptions::default()).unwrap();
        let got = (
            r.lost.count,
            r.stale.count,
            r.never_read.count,
            r.stable_count,
            r.unexpected.count,
            r.duplicated.count,
        );
        assert_eq!(got, oracle(&h), "seed {seed}: {r}\n{:#?}", h.ops);
        stale_seen += usize::from(r.stale.count > 0);
        if r.lost.count + r.stale.count + r.unexpected.count > 0 {
            invalid += 1;
            let lin = check_spec(
                &h,
                &ModelSpec::new(ModelKind::Set),
                &CheckOptions::default(),
            )
            .unwrap();
            assert_eq!(
                lin.verdict,
                Verdict::Invalid,
                "seed {seed}: set found {r}but the set model linearizes it"
            );
        }
    }
    assert!(
        invalid > 100 && stale_seen > 20,
        "too few anomalies: {invalid} invalid, {stale_seen} stale"
    );
}
