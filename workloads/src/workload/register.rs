//! The register workload: reads, writes and compare-and-sets on
//! independent keys, a few threads per key, checked per key against a
//! cas-register model (Jepsen's `jepsen.tests.linearizable-register`).
//!
//! Values are Jepsen's independent tuples: `read [k nil]`, `write [k v]`,
//! `cas [k [old new]]`.

use super::{CheckerSpec, Options, Workload, WorkloadError};
use crate::generator::{boxed, clients, from_fn, independent, limit, mix, BoxGen, Template};
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

    fn generator(&self, opts: &Options) -> Result<BoxGen, WorkloadError> {
        opts.validate()?;
        let (range, per_key) = (opts.value_range, opts.ops_per_key);
        let keys = independent(opts.threads_per_key, None, move |_| {
            boxed(limit(per_key, key_ops(range)))
        });
        Ok(opts.paced(clients(keys)))
    }

    fn checkers(&self) -> Vec<CheckerSpec> {
        vec![
            CheckerSpec {
                name: "linearizable".into(),
                model: Some("cas-register".into()),
                per_key: true,
            },
            CheckerSpec::plain("stats"),
        ]
    }
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
    use super::*;
    use crate::generator::sim;

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
}
