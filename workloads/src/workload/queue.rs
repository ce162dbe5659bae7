//! The queue workload: enqueue unique elements, dequeue them, and drain
//! the queue at the end, checked like Jepsen's `total-queue`: every
//! acknowledged element comes out, nothing comes out that never went in.
//!
//! Vocabulary: `enqueue` invoked with an integer `e` (each once), `ok` the
//! same; `dequeue` invoked with `null`, `ok` with the element taken from
//! the head, `fail` when the queue is empty; `drain` (final only) invoked
//! with `null`, `ok` with the list of every element it took, in order.
//! `read_fraction` of the ops are dequeues (default 0.5).
//!
//! Final reads: every thread drains once; the first empties the queue.

use super::{CheckerSpec, Generators, Options, Workload, WorkloadError};
use crate::generator::{boxed, clients, each_thread, finals, from_fn, once, Template};
use checkers::queue::QueueOptions;
use rand::Rng;
use serde_json::{json, Value};

/// Enqueues, dequeues and a final drain.
pub struct Queue;

impl Workload for Queue {
    fn name(&self) -> &'static str {
        "queue"
    }

    fn vocabulary(&self) -> &'static [&'static str] {
        &["enqueue", "dequeue", "drain"]
    }

    fn generators(&self, opts: &Options) -> Result<Generators, WorkloadError> {
        opts.validate()?;
        let dequeues = opts.reads(0.5);
        let mut next = 0u64;
        let ops = from_fn(move |rng| {
            if rng.gen_bool(dequeues) {
                Template::new("dequeue", Value::Null)
            } else {
                next += 1;
                Template::new("enqueue", json!(next - 1))
            }
        });
        Ok(Generators {
            clients: opts.paced(clients(ops)),
            final_reads: boxed(finals(clients(each_thread(once(Template::new(
                "drain",
                Value::Null,
            )))))),
        })
    }

    fn checkers(&self, _: &Options) -> Vec<CheckerSpec> {
        let queue = QueueOptions {
            allow_duplicates: false,
        };
        vec![CheckerSpec::Queue(queue), CheckerSpec::Stats]
    }
}

#[cfg(test)]
mod tests {
    use super::super::simulate_with_final_reads;
    use super::*;

    #[test]
    fn elements_are_unique_and_every_thread_drains_at_the_end() {
        let (ops, finals) = simulate_with_final_reads(&Queue, &Options::default(), 200, 3);
        let mut elements: Vec<u64> = ops
            .iter()
            .filter(|o| o.f == "enqueue")
            .map(|o| o.value.as_u64().unwrap())
            .collect();
        let n = elements.len();
        elements.dedup();
        assert_eq!(elements.len(), n);
        assert!(ops.iter().any(|o| o.f == "dequeue"));
        assert_eq!(finals.iter().filter(|o| o.f == "drain").count(), 3);
    }
}
