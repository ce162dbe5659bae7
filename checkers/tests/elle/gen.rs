//! A seeded simulator of list-append stores, for testing and benchmarking
//! the Elle-style checker: logical processes run transactions against a
//! serializable, snapshot-isolated or read-committed store, optionally with
//! one injected fault, and the run is recorded as a history.

#![allow(dead_code)]

use checkers::{History, Op, OpType};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

/// How the simulated store isolates transactions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isolation {
    /// Each txn runs atomically at one instant between invoke and ok.
    Serializable,
    /// Reads from a snapshot taken at invoke; first committer wins.
    Snapshot,
    /// Reads see the latest committed state; appends apply at commit and
    /// lock their key from the append on (a txn whose key was committed to
    /// by another after it appended aborts, as a lock waiter would lose).
    ReadCommitted,
}

/// A fault injected once into a serializable store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// An aborted append becomes visible (G1a).
    AbortedVisible,
    /// A reader sees a txn's first of two appends (G1b).
    Intermediate,
    /// Two txns read the same state and append; one append vanishes.
    LostAppend,
    /// An append is applied twice (duplicate elements).
    Duplicate,
}

/// What to simulate.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    pub seed: u64,
    pub txns: usize,
    pub processes: usize,
    /// Keys in use at a time.
    pub keys: usize,
    /// Micro-ops per txn: 1..=max_mops.
    pub max_mops: usize,
    /// After this many appends a key retires for a fresh one (Elle's
    /// generator does the same to keep reads short).
    pub max_writes_per_key: usize,
    pub isolation: Isolation,
    pub fault: Option<Fault>,
}

impl Config {
    /// A small run: 4 processes, 5 keys, up to 4 micro-ops.
    pub fn small(seed: u64, isolation: Isolation) -> Config {
        Config {
            seed,
            txns: 300,
            processes: 4,
            keys: 5,
            max_mops: 4,
            max_writes_per_key: 1000,
            isolation,
            fault: None,
        }
    }
}

struct Active {
    /// (is append, key, value) for each micro-op.
    mops: Vec<(bool, u64, i64)>,
    reads: Vec<Option<Vec<i64>>>,
    pc: usize,
    executed: bool,
    snapshot: Vec<Vec<i64>>,
    start: u64,
    /// (key, clock) of each append, for read committed's write locks.
    locks: Vec<(u64, u64)>,
}

struct Sim {
    cfg: Config,
    rng: ChaCha8Rng,
    state: Vec<Vec<i64>>,
    last_commit: Vec<u64>,
    clock: u64,
    slots: Vec<u64>,
    next_key: u64,
    writes: Vec<usize>,
    ops: Vec<Op>,
    active: Vec<Option<Active>>,
}

/// Simulates `cfg` and returns the history.
pub fn generate(cfg: Config) -> History {
    let mut s = Sim {
        cfg,
        rng: ChaCha8Rng::seed_from_u64(cfg.seed),
        state: Vec::new(),
        last_commit: Vec::new(),
        clock: 0,
        slots: (0..cfg.keys as u64).collect(),
        next_key: cfg.keys as u64,
        writes: Vec::new(),
        ops: Vec::new(),
        active: (0..cfg.processes).map(|_| None).collect(),
    };
    let fault_at = cfg.txns / 3;
    let mut started = 0;
    while started < cfg.txns || s.active.iter().any(Option::is_some) {
        if started == fault_at && cfg.fault.is_some() {
            s.inject(cfg.fault.unwrap_or(Fault::Duplicate));
        }
        let p = s.rng.gen_range(0..cfg.processes);
        if s.active[p].is_none() {
            if started < cfg.txns {
                s.invoke(p);
                started += 1;
            }
        } else {
            s.advance(p);
        }
    }
    History::from_ops("generated", s.ops)
}

impl Sim {
    fn ensure(&mut self, k: u64) {
        let n = k as usize + 1;
        if self.state.len() < n {
            self.state.resize(n, Vec::new());
            self.last_commit.resize(n, 0);
            self.writes.resize(n, 0);
        }
    }

    fn fresh_value(&mut self, k: u64) -> i64 {
        self.ensure(k);
        self.writes[k as usize] += 1;
        self.writes[k as usize] as i64
    }

    fn pick_key(&mut self) -> u64 {
        let slot = self.rng.gen_range(0..self.slots.len());
        let k = self.slots[slot];
        self.ensure(k);
        if self.writes[k as usize] >= self.cfg.max_writes_per_key {
            self.slots[slot] = self.next_key;
            self.next_key += 1;
            self.ensure(self.slots[slot]);
        }
        self.slots[slot]
    }

    fn invoke(&mut self, p: usize) {
        let n = self.rng.gen_range(1..=self.cfg.max_mops);
        let mut mops = Vec::with_capacity(n);
        for _ in 0..n {
            let k = self.pick_key();
            if self.rng.gen_bool(0.5) {
                let v = self.fresh_value(k);
                mops.push((true, k, v));
            } else {
                mops.push((false, k, 0));
            }
        }
        let snapshot = if self.cfg.isolation == Isolation::Snapshot {
            self.state.clone()
        } else {
            Vec::new()
        };
        let a = Active {
            reads: vec![None; n],
            mops,
            pc: 0,
            executed: false,
            snapshot,
            start: self.clock,
            locks: Vec::new(),
        };
        self.ops
            .push(Op::new(p as u64, OpType::Invoke, "txn", txn_value(&a)));
        self.active[p] = Some(a);
    }

    fn advance(&mut self, p: usize) {
        let Some(mut a) = self.active[p].take() else {
            return;
        };
        match self.cfg.isolation {
            Isolation::Serializable if !a.executed => {
                self.execute_all(&mut a);
                self.active[p] = Some(a);
            }
            Isolation::Serializable => {
                self.ops
                    .push(Op::new(p as u64, OpType::Ok, "txn", txn_value(&a)))
            }
            _ if a.pc < a.mops.len() => {
                self.step_mop(&mut a);
                self.active[p] = Some(a);
            }
            _ => self.commit(p, a),
        }
    }

    fn execute_all(&mut self, a: &mut Active) {
        for i in 0..a.mops.len() {
            let (append, k, v) = a.mops[i];
            if append {
                self.state[k as usize].push(v);
            } else {
                a.reads[i] = Some(self.state[k as usize].clone());
            }
        }
        a.executed = true;
    }

    /// SI and RC: one micro-op; appends are buffered until commit.
    fn step_mop(&mut self, a: &mut Active) {
        let (append, k, _) = a.mops[a.pc];
        if append {
            a.locks.push((k, self.clock));
        } else {
            let base = match self.cfg.isolation {
                Isolation::Snapshot => a.snapshot.get(k as usize).cloned().unwrap_or_default(),
                _ => self.state[k as usize].clone(),
            };
            let mut seen = base;
            seen.extend(
                a.mops[..a.pc]
                    .iter()
                    .filter(|m| m.0 && m.1 == k)
                    .map(|m| m.2),
            );
            a.reads[a.pc] = Some(seen);
        }
        a.pc += 1;
    }

    fn commit(&mut self, p: usize, a: Active) {
        let conflict = match self.cfg.isolation {
            Isolation::Snapshot => a
                .locks
                .iter()
                .any(|&(k, _)| self.last_commit[k as usize] > a.start),
            _ => a
                .locks
                .iter()
                .any(|&(k, c)| self.last_commit[k as usize] > c),
        };
        if conflict {
            let mut failed = txn_value(&a);
            clear_reads(&mut failed);
            self.ops
                .push(Op::new(p as u64, OpType::Fail, "txn", failed));
            return;
        }
        self.clock += 1;
        for &(append, k, v) in &a.mops {
            if append {
                self.state[k as usize].push(v);
                self.last_commit[k as usize] = self.clock;
            }
        }
        self.ops
            .push(Op::new(p as u64, OpType::Ok, "txn", txn_value(&a)));
    }

    /// One scripted fault on fresh processes, atomic against the store.
    fn inject(&mut self, fault: Fault) {
        let k = self.pick_key();
        let (p, q) = (1000, 1001);
        let emit = |ops: &mut Vec<Op>, proc: u64, kind: OpType, v: Value| {
            ops.push(Op::new(proc, kind, "txn", v))
        };
        match fault {
            Fault::AbortedVisible => {
                let v = self.fresh_value(k);
                emit(&mut self.ops, p, OpType::Invoke, json!([["append", k, v]]));
                emit(&mut self.ops, p, OpType::Fail, json!([["append", k, v]]));
                self.state[k as usize].push(v);
            }
            Fault::Intermediate => {
                let (v1, v2) = (self.fresh_value(k), self.fresh_value(k));
                let w = json!([["append", k, v1], ["append", k, v2]]);
                emit(&mut self.ops, p, OpType::Invoke, w.clone());
                emit(&mut self.ops, q, OpType::Invoke, json!([["r", k, null]]));
                let mut seen = self.state[k as usize].clone();
                seen.push(v1);
                emit(&mut self.ops, q, OpType::Ok, json!([["r", k, seen]]));
                emit(&mut self.ops, p, OpType::Ok, w);
                self.state[k as usize].extend([v1, v2]);
            }
            Fault::LostAppend => {
                let (v1, v2) = (self.fresh_value(k), self.fresh_value(k));
                let s = self.state[k as usize].clone();
                emit(
                    &mut self.ops,
                    p,
                    OpType::Invoke,
                    json!([["r", k, null], ["append", k, v1]]),
                );
                emit(
                    &mut self.ops,
                    q,
                    OpType::Invoke,
                    json!([["r", k, null], ["append", k, v2]]),
                );
                emit(
                    &mut self.ops,
                    p,
                    OpType::Ok,
                    json!([["r", k, s], ["append", k, v1]]),
                );
                emit(
                    &mut self.ops,
                    q,
                    OpType::Ok,
                    json!([["r", k, s], ["append", k, v2]]),
                );
                self.state[k as usize].push(v2);
            }
            Fault::Duplicate => {
                let v = self.fresh_value(k);
                emit(&mut self.ops, p, OpType::Invoke, json!([["append", k, v]]));
                emit(&mut self.ops, p, OpType::Ok, json!([["append", k, v]]));
                self.state[k as usize].extend([v, v]);
            }
        }
        let r = 1002;
        emit(&mut self.ops, r, OpType::Invoke, json!([["r", k, null]]));
        emit(
            &mut self.ops,
            r,
            OpType::Ok,
            json!([["r", k, self.state[k as usize]]]),
        );
    }
}

fn txn_value(a: &Active) -> Value {
    Value::Array(
        a.mops
            .iter()
            .zip(&a.reads)
            .map(|(&(append, k, v), r)| {
                if append {
                    json!(["append", k, v])
                } else {
                    json!(["r", k, r])
                }
            })
            .collect(),
    )
}

fn clear_reads(v: &mut Value) {
    if let Value::Array(mops) = v {
        for m in mops {
            if m[0] == "r" {
                m[2] = Value::Null;
            }
        }
    }
}
