//! The unique-ids workload (Jepsen's `unique-ids` checker): every op asks
//! the store for an id, and no two answers may be equal.
//!
//! Vocabulary: `generate` invoked with `null`, `ok` with the id (an
//! integer or a string). No final reads: there is nothing to read back.

use super::{CheckerSpec, Generators, Options, Workload, WorkloadError};
use crate::generator::{boxed, clients, from_fn, seq, Template};
use serde_json::Value;

/// Id generation.
pub struct UniqueIds;

impl Workload for UniqueIds {
    fn name(&self) -> &'static str {
        "unique-ids"
    }

    fn vocabulary(&self) -> &'static [&'static str] {
        &["generate"]
    }

    fn generators(&self, opts: &Options) -> Result<Generators, WorkloadError> {
        opts.validate()?;
        let ops = from_fn(|_| Template::new("generate", Value::Null));
        Ok(Generators {
            clients: opts.paced(clients(ops)),
            final_reads: boxed(seq(Vec::new())),
        })
    }

    fn checkers(&self, _: &Options) -> Vec<CheckerSpec> {
        vec![CheckerSpec::UniqueIds, CheckerSpec::Stats]
    }
}

#[cfg(test)]
mod tests {
    use super::super::simulate_with_final_reads;
    use super::*;

    #[test]
    fn every_op_generates_and_nothing_is_read_at_the_end() {
        let (ops, finals) = simulate_with_final_reads(&UniqueIds, &Options::default(), 50, 3);
        assert_eq!(ops.len(), 50);
        assert!(ops.iter().all(|o| o.f == "generate" && o.value.is_null()));
        assert!(finals.is_empty());
    }
}
