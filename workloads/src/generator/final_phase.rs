//! What a final phase needs from generators besides [`defer`] and [`seq`]:
//! the keys a client generator was using when it stopped ([`KeysInUse`])
//! and the final mark on every op ([`finals`]); Jepsen's
//! `:final-generator`, e.g. `(gen/each-thread (gen/once {:f :read}))` with
//! `:final? true` on its ops.
//!
//! The keys are shared between the client generator (which writes them)
//! and the final generator (which reads them when first asked), so the
//! final reads are a function of the op stream, hence of the seed and the
//! clock, like every other choice a generator makes.
//!
//! [`defer`]: super::defer
//! [`seq`]: super::seq

use super::{Context, Generator, Next};
use checkers::Op;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};

/// The key each slot of a generator (a group of threads, a place in a
/// key pool) is working on, shared with whoever reads them later.
#[derive(Clone, Debug, Default)]
pub struct KeysInUse(Arc<Mutex<BTreeMap<usize, u64>>>);

impl KeysInUse {
    /// No keys yet.
    pub fn new() -> Self {
        KeysInUse::default()
    }

    fn slots(&self) -> MutexGuard<'_, BTreeMap<usize, u64>> {
        // A generator that panicked while holding the lock left a whole
        // map behind: the keys are still the best answer there is.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Slot `slot` now works on `key`.
    pub fn set(&self, slot: usize, key: u64) {
        self.slots().insert(slot, key);
    }

    /// The keys in use, ascending, each once.
    pub fn keys(&self) -> Vec<u64> {
        let keys: BTreeSet<u64> = self.slots().values().copied().collect();
        keys.into_iter().collect()
    }
}

/// A generator whose ops are marked final.
#[derive(Clone)]
pub struct Finals<G>(G);

/// `gen` with every op marked final (Jepsen's `:final? true`): the ops
/// that show the state a cluster settled in once its faults were healed.
pub fn finals<G: Generator>(gen: G) -> Finals<G> {
    Finals(gen)
}

impl<G: Generator> Generator for Finals<G> {
    fn op(&mut self, ctx: &mut Context<'_>) -> Next {
        match self.0.op(ctx) {
            Next::Op(mut op) => {
                op.is_final = true;
                Next::Op(op)
            }
            other => other,
        }
    }

    fn update(&mut self, ctx: &mut Context<'_>, event: &Op) {
        self.0.update(ctx, event)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{clients, each_thread, seq, sim, Template};
    use super::*;
    use checkers::Process;
    use serde_json::json;

    #[test]
    fn keys_in_use_are_the_latest_per_slot() {
        let k = KeysInUse::new();
        assert!(k.keys().is_empty());
        k.set(0, 7);
        k.set(1, 3);
        k.set(2, 7);
        k.clone().set(0, 9);
        assert_eq!(k.keys(), vec![3, 7, 9]);
    }

    #[test]
    fn each_thread_runs_the_whole_seq_marked_final() {
        let reads = seq(vec![
            Template::new("read", json!(1)),
            Template::new("read", json!(2)),
        ]);
        let ops = sim::invocations(finals(clients(each_thread(reads))), 3, 1);
        assert_eq!(ops.len(), 6);
        assert!(ops.iter().all(|o| o.is_final));
        for p in 0..3 {
            let mine: Vec<_> = ops
                .iter()
                .filter(|o| o.process == Process::Client(p))
                .map(|o| o.value.clone())
                .collect();
            assert_eq!(mine, vec![json!(1), json!(2)], "thread {p}");
        }
    }
}
