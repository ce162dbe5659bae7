//! The lock workload: every worker thread acquires one lock and releases
//! it, over and over, checked for mutual exclusion as linearizability
//! against the mutex model (Jepsen's etcd and Consul lock tests); the
//! report draws who held the lock when.
//!
//! Vocabulary: `acquire` invoked with the owner, `ok` the same, `fail`
//! when the lock is held (by anyone, the owner included: the lock is not
//! re-entrant); `release` invoked with the owner, `ok` the same, `fail`
//! when the owner does not hold it. The owner is the worker thread's
//! number, an integer that stays the same when a crash (`info`) moves the
//! thread to a new process: a thread whose acquire crashed releases next,
//! freeing a lock it may have taken, so a crash never leaves the lock held
//! for the rest of the run. Stores with leases or sessions may also let
//! the lock go when its lease expires; the checker then says whether that
//! broke mutual exclusion.
//!
//! No final reads: there is nothing to read back.

use super::{CheckerSpec, Generators, Options, Workload, WorkloadError};
use crate::generator::{boxed, clients, seq, Context, Generator, Next, Template};
use serde_json::json;
use std::collections::HashSet;

/// Acquire and release, alternating on each thread.
pub struct Lock;

impl Workload for Lock {
    fn name(&self) -> &'static str {
        "lock"
    }

    fn vocabulary(&self) -> &'static [&'static str] {
        &["acquire", "release"]
    }

    fn generators(&self, opts: &Options) -> Result<Generators, WorkloadError> {
        opts.validate()?;
        Ok(Generators {
            clients: opts.paced(clients(Alternate::default())),
            final_reads: boxed(seq(Vec::new())),
        })
    }

    fn checkers(&self, _: &Options) -> Vec<CheckerSpec> {
        vec![CheckerSpec::Lock, CheckerSpec::Stats]
    }
}

/// Each thread's next op is `acquire`, then `release`, then `acquire`...,
/// whatever the outcomes, with the thread's number as the owner.
#[derive(Default)]
struct Alternate {
    /// Threads whose next op is a release.
    releasing: HashSet<usize>,
}

impl Generator for Alternate {
    fn op(&mut self, ctx: &mut Context<'_>) -> Next {
        let Some(t) = ctx.some_free_thread() else {
            return Next::Pending(None);
        };
        let f = match self.releasing.remove(&t) {
            true => "release",
            false => {
                self.releasing.insert(t);
                "acquire"
            }
        };
        ctx.invoke_on(t, &Template::new(f, json!(t)))
    }
}

#[cfg(test)]
mod tests {
    use super::super::simulate_with_final_reads;
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn each_thread_alternates_with_itself_as_the_owner() {
        let (ops, finals) = simulate_with_final_reads(&Lock, &Options::default(), 100, 4);
        let mut by_owner: BTreeMap<u64, Vec<&str>> = BTreeMap::new();
        for op in &ops {
            let owner = op.value.as_u64().unwrap();
            let checkers::Process::Client(p) = op.process else {
                panic!("a client op on the nemesis")
            };
            assert_eq!(p % 4, owner, "the owner is the thread");
            by_owner.entry(owner).or_default().push(op.f.as_str());
        }
        assert_eq!(by_owner.len(), 4);
        for fs in by_owner.values() {
            for (i, f) in fs.iter().enumerate() {
                assert_eq!(*f, if i % 2 == 0 { "acquire" } else { "release" });
            }
        }
        assert!(finals.is_empty());
    }
}
