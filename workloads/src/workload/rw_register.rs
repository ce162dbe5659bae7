//! The rw-register workload: transactions of reads and blind writes over a
//! small pool of keys, every written value unique per key, keys retired
//! after enough writes, checked by Elle's rw-register checker for strict
//! serializability (Elle's `wr` generator; Jepsen's
//! `jepsen.tests.cycle.wr`).
//!
//! Vocabulary: `txn`, invoked with `[["r", k, null], ["w", k, v], ...]`
//! (integer keys; each `v` written once per key: 1, 2, 3, ...); its `ok`
//! completion is the same list with every read filled in with the value
//! the key held (`null` when never written), seeing the txn's own earlier
//! writes. The txn is all-or-nothing.
//!
//! Final reads: as list-append's, one txn per thread reading every key in
//! use when the client generator stopped.

use super::list_append::txn_generators;
use super::{CheckerSpec, Generators, Options, Workload, WorkloadError};
use checkers::elle::ElleOptions;

/// Transactions of register reads and writes.
pub struct RwRegister;

impl Workload for RwRegister {
    fn name(&self) -> &'static str {
        "rw-register"
    }

    fn vocabulary(&self) -> &'static [&'static str] {
        &["txn"]
    }

    fn generators(&self, opts: &Options) -> Result<Generators, WorkloadError> {
        txn_generators(opts, "w")
    }

    fn checkers(&self, _: &Options) -> Vec<CheckerSpec> {
        let elle = ElleOptions::new(checkers::elle::Workload::RwRegister);
        vec![CheckerSpec::Elle(elle), CheckerSpec::Stats]
    }
}

#[cfg(test)]
mod tests {
    use super::super::simulate_with_final_reads;
    use super::*;
    use serde_json::json;
    use std::collections::HashSet;

    #[test]
    fn writes_are_unique_per_key_and_finals_read_the_active_keys() {
        let opts = Options {
            key_count: 2,
            max_writes_per_key: 3,
            ..Options::default()
        };
        let (ops, finals) = simulate_with_final_reads(&RwRegister, &opts, 200, 4);
        let mut written = HashSet::new();
        for m in ops.iter().flat_map(|o| o.value.as_array().unwrap()) {
            match m[0].as_str().unwrap() {
                "w" => assert!(written.insert((m[1].clone(), m[2].clone())), "{m} twice"),
                "r" => assert_eq!(m[2], json!(null)),
                f => panic!("micro-op {f}"),
            }
        }
        assert!(written.len() > 20);
        assert_eq!(finals.len(), 4);
        let reads = finals[0].value.as_array().unwrap();
        assert_eq!(reads.len(), 2);
        assert!(reads.iter().all(|m| m[0] == "r"));
    }
}
