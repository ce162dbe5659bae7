//! The counter workload: increments (and, with `decrements`, decrements)
//! and reads of one counter, checked like Jepsen's `checker/counter`:
//! every read lies between what the adds known to have completed and the
//! adds that might have happened allow.
//!
//! Vocabulary: `add` invoked with `1` (or `-1`), `ok` the same; `read`
//! invoked with `null`, `ok` with the counter's value, an integer (`0`
//! when never added to). `read_fraction` of the ops are reads (default
//! 0.5, as Jepsen's mix of reads and adds).
//!
//! Final reads: every thread reads once, so every node is asked what the
//! counter came to.

use super::{CheckerSpec, Generators, Options, Workload, WorkloadError};
use crate::generator::{boxed, clients, each_thread, finals, from_fn, once, Template};
use rand::Rng;
use serde_json::{json, Value};

/// Adds and reads of one counter.
pub struct Counter;

impl Workload for Counter {
    fn name(&self) -> &'static str {
        "counter"
    }

    fn vocabulary(&self) -> &'static [&'static str] {
        &["add", "read"]
    }

    fn generators(&self, opts: &Options) -> Result<Generators, WorkloadError> {
        opts.validate()?;
        let (reads, decrements) = (opts.reads(0.5), opts.decrements);
        let ops = from_fn(move |rng| {
            if rng.gen_bool(reads) {
                Template::new("read", Value::Null)
            } else if decrements && rng.gen_bool(0.5) {
                Template::new("add", json!(-1))
            } else {
                Template::new("add", json!(1))
            }
        });
        Ok(Generators {
            clients: opts.paced(clients(ops)),
            final_reads: boxed(finals(clients(each_thread(once(Template::new(
                "read",
                Value::Null,
            )))))),
        })
    }

    fn checkers(&self, _: &Options) -> Vec<CheckerSpec> {
        vec![CheckerSpec::Counter, CheckerSpec::Stats]
    }
}

#[cfg(test)]
mod tests {
    use super::super::simulate_with_final_reads;
    use super::*;

    #[test]
    fn adds_are_unit_steps_and_every_thread_reads_at_the_end() {
        let opts = Options {
            decrements: true,
            ..Options::default()
        };
        let (ops, finals) = simulate_with_final_reads(&Counter, &opts, 400, 3);
        let adds: Vec<i64> = ops
            .iter()
            .filter(|o| o.f == "add")
            .map(|o| o.value.as_i64().unwrap())
            .collect();
        assert!(adds.contains(&1) && adds.contains(&-1));
        assert!(adds.iter().all(|a| a.abs() == 1));
        assert_eq!(finals.len(), 3);
        let up = Options::default();
        let (ops, _) = simulate_with_final_reads(&Counter, &up, 100, 3);
        assert!(ops
            .iter()
            .filter(|o| o.f == "add")
            .all(|o| o.value == json!(1)));
    }
}
