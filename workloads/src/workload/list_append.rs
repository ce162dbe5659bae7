//! The list-append workload: transactions of reads and appends over a
//! small pool of keys, each appended value unique per key; keys that have
//! taken enough appends are retired for fresh ones so histories stay
//! checkable (Elle's `append` generator, Jepsen's
//! `jepsen.tests.cycle.append`).
//!
//! A txn's value is `[["r", k, null], ["append", k, v], ...]`.

use super::{CheckerSpec, Options, Workload, WorkloadError};
use crate::generator::{clients, BoxGen, Context, Generator, Next, Template};
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

    fn generator(&self, opts: &Options) -> Result<BoxGen, WorkloadError> {
        opts.validate()?;
        Ok(opts.paced(clients(Txns::new(opts))))
    }

    fn checkers(&self) -> Vec<CheckerSpec> {
        vec![
            CheckerSpec::plain("elle-list-append"),
            CheckerSpec::plain("stats"),
        ]
    }
}

/// Endless random transactions.
#[derive(Clone, Debug)]
pub struct Txns {
    min_len: usize,
    max_len: usize,
    max_writes: u64,
    /// The keys in use.
    active: Vec<u64>,
    next_key: u64,
    /// Appends so far per active key: the next value is this plus one.
    writes: HashMap<u64, u64>,
}

impl Txns {
    /// Transactions as `opts` describe them.
    pub fn new(opts: &Options) -> Self {
        Txns {
            min_len: opts.min_txn_len,
            max_len: opts.max_txn_len,
            max_writes: opts.max_writes_per_key,
            active: (0..opts.key_count as u64).collect(),
            next_key: opts.key_count as u64,
            writes: HashMap::new(),
        }
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
            self.next_key += 1;
        }
        json!(["append", k, v])
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
}
