//! The list-append workload: transactions of reads and appends over a
//! small pool of keys, each appended value unique per key; keys that have
//! taken enough appends are retired for fresh ones so histories stay
//! checkable (Elle's `append` generator, Jepsen's
//! `jepsen.tests.cycle.append`).
//!
//! Vocabulary: `txn`, invoked with `[["r", k, null], ["append", k, v],
//! ...]` (integer keys; each appended `v` unique per key); its `ok`
//! completion is the same list with every read filled in with the list
//! the key held (`null` when never appended), seeing the txn's own earlier
//! appends. The txn is all-or-nothing.
//!
//! Final reads: every client thread runs one txn that reads every key in
//! use when the client generator stopped (`key_count` keys). One txn per
//! thread, not one read per key in total: the threads are spread over the
//! nodes, so every node is asked for every key, and a node that never
//! caught up shows a stale final read (an anti-dependency on an append
//! that finished long before, a realtime cycle for Elle) while a lost
//! append shows as missing from every final read. Reading all keys in one
//! txn also gives Elle a snapshot across keys. Retired keys are not read:
//! there may be thousands, and they took their appends earlier in the run,
//! where later reads already checked them.

use super::{CheckerSpec, Generators, Options, Workload, WorkloadError};
use crate::generator::{
    boxed, clients, defer, each_thread, finals, once, Context, Generator, KeysInUse, Next, Template,
};
use checkers::elle::ElleOptions;
use rand::Rng;
use serde_json::{json, Value};
use std::collections::HashMap;

/// Transactions of list reads and appends.
pub struct ListAppend;

impl Workload for ListAppend {
    fn name(&self) -> &'static str {
        "list-append"
    }

    fn vocabulary(&self) -> &'static [&'static str] {
        &["txn"]
    }

    fn generators(&self, opts: &Options) -> Result<Generators, WorkloadError> {
        txn_generators(opts, "append")
    }

    fn checkers(&self, _: &Options) -> Vec<CheckerSpec> {
        let elle = ElleOptions::new(checkers::elle::Workload::ListAppend);
        vec![CheckerSpec::Elle(elle), CheckerSpec::Stats]
    }
}

/// The generators of a transactional workload whose writes are `write_f`
/// micro-ops (`append`, or `w` for rw-register): random txns over the
/// active keys, and a final txn per thread reading every active key.
pub(super) fn txn_generators(
    opts: &Options,
    write_f: &'static str,
) -> Result<Generators, WorkloadError> {
    opts.validate()?;
    let in_use = KeysInUse::new();
    let txns = Txns::new(opts, write_f).share_keys(in_use.clone());
    Ok(Generators {
        clients: opts.paced(clients(txns)),
        final_reads: boxed(finals(clients(defer(move || {
            let reads = in_use.keys().into_iter().map(|k| json!(["r", k, null]));
            each_thread(once(Template::new("txn", reads.collect())))
        })))),
    })
}

/// Endless random transactions.
#[derive(Clone, Debug)]
pub struct Txns {
    /// The write micro-op: `append` or `w`.
    write_f: &'static str,
    min_len: usize,
    max_len: usize,
    max_writes: u64,
    /// The keys in use.
    active: Vec<u64>,
    next_key: u64,
    /// Writes so far per active key: the next value is this plus one.
    writes: HashMap<u64, u64>,
    /// Where the active keys are published (slot = place in `active`).
    in_use: KeysInUse,
}

impl Txns {
    /// Transactions as `opts` describe them, writing with `write_f`.
    pub fn new(opts: &Options, write_f: &'static str) -> Self {
        Txns {
            write_f,
            min_len: opts.min_txn_len,
            max_len: opts.max_txn_len,
            max_writes: opts.max_writes_per_key,
            active: (0..opts.key_count as u64).collect(),
            next_key: opts.key_count as u64,
            writes: HashMap::new(),
            in_use: KeysInUse::new(),
        }
    }

    /// Keeps `keys` up to date with the active keys.
    pub fn share_keys(mut self, keys: KeysInUse) -> Self {
        for (slot, &k) in self.active.iter().enumerate() {
            keys.set(slot, k);
        }
        self.in_use = keys;
        self
    }

    fn micro_op(&mut self, rng: &mut impl Rng) -> Value {
        let slot = rng.gen_range(0..self.active.len());
        let k = self.active[slot];
        if rng.gen_bool(0.5) {
            return json!(["r", k, null]);
        }
        let n = self.writes.entry(k).or_insert(0);
        *n += 1;
        let v = *n;
        if v >= self.max_writes {
            self.writes.remove(&k);
            self.active[slot] = self.next_key;
            self.in_use.set(slot, self.next_key);
            self.next_key += 1;
        }
        json!([self.write_f, k, v])
    }
}

impl Generator for Txns {
    fn op(&mut self, ctx: &mut Context<'_>) -> Next {
        if ctx.free_threads().is_empty() {
            return Next::Pending(None);
        }
        let len = ctx.rng().gen_range(self.min_len..=self.max_len);
        let txn: Vec<Value> = (0..len).map(|_| self.micro_op(ctx.rng())).collect();
        ctx.invoke(&Template::new("txn", Value::Array(txn)))
    }
}

#[cfg(test)]
mod tests {
    use super::super::simulate_with_final_reads;
    use super::*;
    use crate::generator::{limit, sim};
    use std::collections::HashSet;

    #[test]
    fn appends_are_unique_per_key_and_keys_retire() {
        let opts = Options {
            key_count: 3,
            max_writes_per_key: 4,
            max_txn_len: 3,
            ..Options::default()
        };
        let ops = sim::invocations(limit(300, ListAppend.generator(&opts).unwrap()), 5, 8);
        let mut seen = HashSet::new();
        let mut keys = HashSet::new();
        for op in &ops {
            let txn = op.value.as_array().unwrap();
            assert!((1..=3).contains(&txn.len()));
            for m in txn {
                let k = m[1].as_u64().unwrap();
                keys.insert(k);
                if m[0] == "append" {
                    assert!(
                        seen.insert((k, m[2].as_u64().unwrap())),
                        "duplicate append {m}"
                    );
                    assert!(m[2].as_u64().unwrap() <= 4);
                } else {
                    assert_eq!((&m[0], &m[2]), (&json!("r"), &Value::Null));
                }
            }
        }
        assert!(keys.len() > 10, "keys never retired: {keys:?}");
    }

    #[test]
    fn every_thread_reads_every_active_key_in_one_final_txn() {
        let opts = Options {
            key_count: 3,
            max_writes_per_key: 4,
            ..Options::default()
        };
        let (ops, finals) = simulate_with_final_reads(&ListAppend, &opts, 200, 5);
        assert_eq!(ops.len(), 200);
        // The active keys at the end: replay the appends, retiring a key
        // at its 4th, as the generator does.
        let mut appends: HashMap<u64, u64> = HashMap::new();
        let mut active: Vec<u64> = (0..3).collect();
        for m in ops.iter().flat_map(|o| o.value.as_array().unwrap()) {
            let k = m[1].as_u64().unwrap();
            if m[0] == "append" {
                *appends.entry(k).or_default() += 1;
                if appends[&k] == 4 {
                    let slot = active.iter().position(|&a| a == k).unwrap();
                    // The newest key ever made is always active.
                    active[slot] = active.iter().max().unwrap() + 1;
                }
            }
        }
        active.sort();
        assert!(active[0] > 2, "no key retired: {active:?}");
        let want: Value = active.iter().map(|k| json!(["r", k, null])).collect();
        let mut procs: Vec<&checkers::Process> = finals.iter().map(|o| &o.process).collect();
        procs.sort();
        procs.dedup();
        assert_eq!((finals.len(), procs.len()), (5, 5), "one txn per thread");
        for op in &finals {
            assert_eq!((op.f.as_str(), &op.value), ("txn", &want));
        }
    }
}
