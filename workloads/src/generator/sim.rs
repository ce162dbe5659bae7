//! A deterministic simulation of the interpreter, with a fake clock: each
//! op completes a fixed latency after it is invoked (Jepsen's
//! `jepsen.generator.test` `perfect` helpers). It is how generators are
//! tested, and how a run's op stream can be reproduced from its seed
//! without a cluster.

use super::{Context, Generator, Next, ThreadSet, Workers};
use checkers::{Op, OpType, Process};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;

/// Settings of a simulated run.
#[derive(Clone, Debug)]
pub struct Sim {
    /// Client threads (the nemesis thread comes on top).
    pub concurrency: usize,
    /// The RNG seed.
    pub seed: u64,
    /// Nanoseconds from each invocation to its completion.
    pub latency: u64,
    /// The run stops after this many history records, whatever the
    /// generator still has.
    pub max_records: usize,
}

/// What a simulated run produced.
#[derive(Clone, Debug, Default)]
pub struct Trace {
    /// Invocations and completions, in order.
    pub history: Vec<Op>,
    /// The invocations alone (the generator's op stream).
    pub invocations: Vec<Op>,
}

impl Sim {
    /// `concurrency` threads, 1 ms per op, at most 200,000 records.
    pub fn new(concurrency: usize, seed: u64) -> Self {
        Sim {
            concurrency,
            seed,
            latency: 1_000_000,
            max_records: 200_000,
        }
    }

    /// Runs `gen` to exhaustion (or the record bound); `outcome` decides
    /// how each client op completes (the nemesis's always complete `info`).
    pub fn run(&self, mut gen: impl Generator, mut outcome: impl FnMut(&Op) -> OpType) -> Trace {
        let mut workers = Workers::new(self.concurrency);
        let all = ThreadSet::full(workers.thread_count());
        let mut free = all.clone();
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        let mut due: BTreeMap<(u64, u64), (usize, Op)> = BTreeMap::new();
        let mut trace = Trace::default();
        let (mut now, mut seq) = (0u64, 0u64);
        while trace.history.len() < self.max_records {
            while let Some(entry) = due.first_entry().filter(|e| e.key().0 <= now) {
                let (t, inv) = entry.remove();
                let mut done = inv.clone();
                done.time = Some(now);
                done.kind = match inv.process {
                    Process::Nemesis => OpType::Info,
                    Process::Client(_) => outcome(&inv),
                };
                free.insert(t);
                gen.update(
                    &mut Context::new(now, &workers, &all, &free, &mut rng),
                    &done,
                );
                if done.kind == OpType::Info {
                    workers.crash(t);
                }
                trace.history.push(done);
            }
            let next = gen.op(&mut Context::new(now, &workers, &all, &free, &mut rng));
            let next_done = due.keys().next().map(|k| k.0);
            match next {
                Next::Op(op) => {
                    let t = workers.thread_of(op.process);
                    assert!(free.contains(t), "generator chose busy thread {t}: {op:?}");
                    free.remove(t);
                    gen.update(&mut Context::new(now, &workers, &all, &free, &mut rng), &op);
                    due.insert((now + self.latency, seq), (t, op.clone()));
                    seq += 1;
                    trace.invocations.push(op.clone());
                    trace.history.push(op);
                }
                Next::Pending(wake) => match Next::sooner(wake.filter(|&w| w > now), next_done) {
                    Some(t) => now = t,
                    None => break,
                },
                Next::Exhausted => match next_done {
                    Some(t) => now = t,
                    None => break,
                },
            }
        }
        trace
    }
}

/// The op stream of `gen` on `concurrency` threads with seed `seed`, every
/// op completing `ok` after 1 ms.
pub fn invocations(gen: impl Generator, concurrency: usize, seed: u64) -> Vec<Op> {
    Sim::new(concurrency, seed)
        .run(gen, |_| OpType::Ok)
        .invocations
}

#[cfg(test)]
mod tests {
    use super::super::{clients, from_fn, limit, Template};
    use super::*;
    use serde_json::json;

    #[test]
    fn an_info_completion_moves_the_thread_to_a_new_process() {
        let g = clients(limit(4, from_fn(|_| Template::new("read", json!(null)))));
        let trace = Sim::new(1, 1).run(g, |_| OpType::Info);
        let procs: Vec<Process> = trace.invocations.iter().map(|o| o.process).collect();
        let p = |n| Process::Client(n);
        assert_eq!(procs, vec![p(0), p(1), p(2), p(3)]);
        assert_eq!(trace.history.len(), 8);
    }

    #[test]
    fn the_record_bound_holds_for_endless_generators() {
        let mut sim = Sim::new(2, 1);
        sim.max_records = 100;
        let trace = sim.run(
            clients(from_fn(|_| Template::new("r", json!(null)))),
            |_| OpType::Ok,
        );
        assert!(trace.history.len() <= 101);
    }
}
