//! The register workload: reads, writes and compare-and-sets on
//! independent keys, a few threads per key, checked per key against a
//! cas-register model (Jepsen's `jepsen.tests.linearizable-register`).
//!
//! Vocabulary (Jepsen's independent tuples, integer keys): `read` invoked
//! with `[k, null]`, `ok` with `[k, v]` (`null` when never written);
//! `write` `[k, v]`, `ok` the same; `cas` `[k, [old, new]]`, `ok` the same,
//! `fail` when the key did not hold `old`. Values are small integers.
//!
//! Final reads: every client thread reads, once each and in key order, the
//! keys the groups of threads were working on when the client generator
//! stopped. Those are the keys being written while faults were in force,
//! so the ones where a lost write or a replica that never caught up shows;
//! earlier keys were finished and checked while the run went on. It is
//! bounded (one key per group, so `concurrency / threads_per_key` keys and
//! that many reads per thread) and follows from the op stream. Reading from
//! every thread reads every key on every node the threads are spread over.

use super::{CheckerSpec, Generators, Options, Workload, WorkloadError};
use crate::generator::{
    boxed, clients, defer, each_thread, finals, from_fn, independent, limit, mix, seq, BoxGen,
    KeysInUse, Template,
};
use checkers::linear::{ModelKind, ModelSpec};
use rand::Rng;
use serde_json::{json, Value};

/// Reads, writes and cas on independent keys.
pub struct Register;

impl Workload for Register {
    fn name(&self) -> &'static str {
        "register"
    }

    fn vocabulary(&self) -> &'static [&'static str] {
        &["read", "write", "cas"]
    }

    fn generators(&self, opts: &Options) -> Result<Generators, WorkloadError> {
        opts.validate()?;
        let (range, per_key) = (opts.value_range, opts.ops_per_key);
        let in_use = KeysInUse::new();
        let keys = independent(opts.threads_per_key, None, move |_| {
            boxed(limit(per_key, key_ops(range)))
        })
        .share_keys(in_use.clone());
        Ok(Generators {
            clients: opts.paced(clients(keys)),
            final_reads: keyed_final_reads(in_use),
        })
    }

    fn checkers(&self, _: &Options) -> Vec<CheckerSpec> {
        let model = ModelSpec {
            independent: true,
            ..ModelSpec::new(ModelKind::CasRegister)
        };
        vec![CheckerSpec::Linearizable(model), CheckerSpec::Stats]
    }
}

/// Every thread reads, once each and in key order, the keys in use when
/// the client generator stopped: `read [k, null]`, marked final.
pub(super) fn keyed_final_reads(in_use: KeysInUse) -> BoxGen {
    boxed(finals(clients(defer(move || {
        let reads = in_use
            .keys()
            .into_iter()
            .map(|k| Template::new("read", json!([k, null])))
            .collect();
        each_thread(seq(reads))
    }))))
}

/// Endless ops on one key (the key is added by `independent`).
fn key_ops(range: u64) -> crate::generator::Mix {
    mix(vec![
        boxed(from_fn(|_| Template::new("read", Value::Null))),
        boxed(from_fn(move |rng| {
            Template::new("write", json!(rng.gen_range(0..range)))
        })),
        boxed(from_fn(move |rng| {
            let (old, new) = (rng.gen_range(0..range), rng.gen_range(0..range));
            Template::new("cas", json!([old, new]))
        })),
    ])
}

#[cfg(test)]
mod tests {
    use super::super::simulate_with_final_reads;
    use super::*;
    use crate::generator::sim;
    use checkers::Process;
    use std::collections::{BTreeMap, BTreeSet};

    #[test]
    fn ops_are_keyed_tuples_moving_to_new_keys() {
        let opts = Options {
            ops_per_key: 10,
            threads_per_key: 2,
            ..Options::default()
        };
        let gen = limit(100, Register.generator(&opts).unwrap());
        let ops = sim::invocations(gen, 4, 3);
        assert_eq!(ops.len(), 100);
        for op in &ops {
            let [k, v] = op.value.as_array().unwrap().as_slice() else {
                panic!("not a tuple: {op:?}")
            };
            assert!(k.is_u64());
            match op.f.as_str() {
                "read" => assert!(v.is_null()),
                "write" => assert!(v.as_u64().unwrap() < 5),
                "cas" => assert_eq!(v.as_array().unwrap().len(), 2),
                f => panic!("unexpected f {f}"),
            }
        }
        let max_key = ops.iter().map(|o| o.value[0].as_u64().unwrap()).max();
        assert_eq!(max_key, Some(9), "100 ops at 10 per key use keys 0..=9");
    }

    #[test]
    fn every_thread_reads_the_keys_in_use_at_the_end_once() {
        let opts = Options {
            ops_per_key: 10,
            threads_per_key: 2,
            ..Options::default()
        };
        let (ops, finals) = simulate_with_final_reads(&Register, &opts, 95, 6);
        assert_eq!(ops.len(), 95);
        // Each group's key is the one of its last op.
        let mut in_use = BTreeMap::new();
        for op in &ops {
            let Process::Client(p) = op.process else {
                panic!()
            };
            in_use.insert(p % 6 / 2, op.value[0].as_u64().unwrap());
        }
        let keys: BTreeSet<u64> = in_use.values().copied().collect();
        assert_eq!(keys.len(), 3, "three groups of two threads");
        assert_eq!(finals.len(), 6 * 3, "each of 6 threads reads 3 keys");
        for t in 0..6 {
            let mine: Vec<&Value> = finals
                .iter()
                .filter(|o| o.process == Process::Client(t))
                .map(|o| &o.value)
                .collect();
            let want: Vec<Value> = keys.iter().map(|k| json!([k, null])).collect();
            assert_eq!(mine, want.iter().collect::<Vec<_>>(), "thread {t}");
        }
        assert!(finals.iter().all(|o| o.f == "read"));
        let last_client_op = ops.iter().filter_map(|o| o.time).max().unwrap();
        assert!(finals.iter().all(|o| o.time.unwrap() > last_client_op));
    }

    #[test]
    fn no_client_ops_no_final_reads() {
        let (ops, finals) = simulate_with_final_reads(&Register, &Options::default(), 0, 4);
        assert!(ops.is_empty() && finals.is_empty());
    }
}
