//! The set workload: add unique elements to sets and read them back whole,
//! checked like Jepsen's `set-full` (lost, stale, never-read, unexpected and
//! duplicated elements, and how long an element takes to become visible
//! everywhere). Sets are independent keys, a few threads each, moving to a
//! fresh key after `ops_per_key` ops, so reads stay short however long the
//! run (Jepsen's `independent` set tests).
//!
//! Vocabulary (independent tuples, integer keys and elements): `add`
//! invoked with `[k, e]`, `ok` the same (each `e` added once per key, in
//! increasing order); `read` invoked with `[k, null]`, `ok` with
//! `[k, [e, ...]]`, every element the set holds, in any order (`[]` when
//! empty). `read_fraction` of the ops are reads (default 0.25), and a
//! key's last op is a read, so the elements added last are read back
//! before its threads move on.
//!
//! Final reads: every thread reads each set in use when the clients
//! stopped, as the register workload does: an element acknowledged during
//! a fault and gone afterwards shows as lost.

use super::register::keyed_final_reads;
use super::{CheckerSpec, Generators, Options, Workload, WorkloadError};
use crate::generator::{
    boxed, cat, clients, from_fn, independent, limit, once, FromFn, KeysInUse, Template,
};
use checkers::set::SetOptions;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

/// Adds and whole-set reads on independent keys.
pub struct Set;

impl Workload for Set {
    fn name(&self) -> &'static str {
        "set"
    }

    fn vocabulary(&self) -> &'static [&'static str] {
        &["add", "read"]
    }

    fn generators(&self, opts: &Options) -> Result<Generators, WorkloadError> {
        opts.validate()?;
        let (reads, per_key) = (opts.reads(0.25), opts.ops_per_key);
        let in_use = KeysInUse::new();
        // Each key ends with a read, so the elements added last are read
        // back before the group moves on to a fresh key.
        let keys = independent(opts.threads_per_key, None, move |_| {
            let last_read = once(Template::new("read", Value::Null));
            boxed(cat(vec![
                boxed(limit(per_key, key_ops(reads))),
                boxed(last_read),
            ]))
        })
        .share_keys(in_use.clone());
        Ok(Generators {
            clients: opts.paced(clients(keys)),
            final_reads: keyed_final_reads(in_use),
        })
    }

    fn checkers(&self, _: &Options) -> Vec<CheckerSpec> {
        let set = SetOptions {
            independent: true,
            linearizable: false,
        };
        vec![CheckerSpec::Set(set), CheckerSpec::Stats]
    }
}

/// One key's ops: reads with probability `reads`, else the next element.
fn key_ops(reads: f64) -> FromFn<impl FnMut(&mut ChaCha8Rng) -> Template + Send> {
    let mut next = 0u64;
    from_fn(move |rng: &mut ChaCha8Rng| {
        if rng.gen_bool(reads) {
            Template::new("read", Value::Null)
        } else {
            next += 1;
            Template::new("add", json!(next - 1))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::super::simulate_with_final_reads;
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn elements_are_unique_per_key_and_every_thread_reads_the_keys_in_use() {
        let opts = Options {
            ops_per_key: 20,
            ..Options::default()
        };
        let (ops, finals) = simulate_with_final_reads(&Set, &opts, 200, 4);
        let mut added = HashSet::new();
        let reads = ops.iter().filter(|o| o.f == "read").count();
        assert!((20..=80).contains(&reads), "{reads} reads of 200");
        for op in ops.iter().filter(|o| o.f == "add") {
            assert!(added.insert(op.value.clone()), "{} added twice", op.value);
        }
        assert!(finals.iter().all(|o| o.f == "read" && o.value[1].is_null()));
        assert_eq!(
            finals.len(),
            4 * 2,
            "two groups of two threads: two keys each"
        );
    }
}
