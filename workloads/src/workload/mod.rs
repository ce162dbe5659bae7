//! Workloads: what a test asks of the system, as an op vocabulary, a
//! client generator built from options, a final generator of reads for
//! after the faults, and the checkers that judge the history (Jepsen's
//! `jepsen.tests.*` workload maps of `:generator`, `:final-generator` and
//! `:checker`). The checkers are named with `checkers`' typed specs
//! ([`CheckerSpec`]), so `temblor test` and `temblor check --workload`
//! judge a workload's histories the same way.
//!
//! Every workload's op vocabulary (each `f`, and the values of its
//! invocation and of its `ok` completion) is in its module's doc; a
//! client implements exactly that, whatever the store.

mod bank;
mod counter;
mod list_append;
mod lock;
mod queue;
mod register;
mod rw_register;
mod set;
mod unique_ids;

pub use bank::{Bank, INITIAL_BALANCE};
pub use counter::Counter;
pub use list_append::ListAppend;
pub use lock::Lock;
pub use queue::Queue;
pub use register::Register;
pub use rw_register::RwRegister;
pub use set::Set;
pub use unique_ids::UniqueIds;

pub use checkers::checker::CheckerSpec;

use crate::generator::{boxed, stagger, BoxGen, Generator};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::Duration;

/// The workload options of a test spec; each workload reads those it needs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Options {
    /// Total ops per second over all client threads (`None`: as fast as
    /// the clients answer).
    pub rate: Option<f64>,
    /// register: client threads working on one key at a time.
    pub threads_per_key: usize,
    /// register: ops on a key before its threads move to the next key.
    pub ops_per_key: u64,
    /// register: written values are drawn from `0..value_range`.
    pub value_range: u64,
    /// list-append: keys in use at any time.
    pub key_count: usize,
    /// list-append: micro-ops per transaction, at least 1.
    pub min_txn_len: usize,
    /// list-append: micro-ops per transaction, at most.
    pub max_txn_len: usize,
    /// list-append: appends to a key before it is retired for a fresh one.
    pub max_writes_per_key: u64,
    /// set, counter, bank, queue: the share of ops that read (dequeue, for
    /// a queue), between 0 and 1; each workload has its own default.
    pub read_fraction: Option<f64>,
    /// counter: half the adds are `-1` instead of `1`.
    pub decrements: bool,
    /// bank: how many accounts (each starts with [`INITIAL_BALANCE`]).
    pub accounts: usize,
    /// bank: a transfer moves between 1 and this much.
    pub max_transfer: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            rate: None,
            threads_per_key: 2,
            ops_per_key: 200,
            value_range: 5,
            key_count: 5,
            min_txn_len: 1,
            max_txn_len: 4,
            max_writes_per_key: 32,
            read_fraction: None,
            decrements: false,
            accounts: 10,
            max_transfer: 5,
        }
    }
}

/// The slowest and fastest `rate` a run may ask for, in ops per second.
const MIN_RATE: f64 = 0.001;
const MAX_RATE: f64 = 1e7;
/// The largest count of keys or threads per key (they are allocated).
const MAX_COUNT: usize = 100_000;
/// The most micro-ops in one transaction.
const MAX_TXN_LEN: usize = 1_000;

/// Options that make no sense.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum WorkloadError {
    /// No workload has that name.
    #[error("unknown workload {name:?} (known: {known})")]
    Unknown {
        /// The name asked for.
        name: String,
        /// The known names, comma-separated.
        known: String,
    },
    /// An option is out of range.
    #[error("workload option {option}: {reason}")]
    BadOption {
        /// The option's name.
        option: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// `--workload-opt KEY=VALUE` names no option or gives a value of the
    /// wrong type.
    #[error("--workload-opt {key}: {reason}")]
    Setting {
        /// The key given.
        key: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl Options {
    /// Checks the ranges every workload relies on.
    pub fn validate(&self) -> Result<(), WorkloadError> {
        let bad = |option, reason: &str| {
            Err(WorkloadError::BadOption {
                option,
                reason: reason.to_string(),
            })
        };
        match self {
            // Below that the pause between ops overflows; above it no
            // client keeps up anyway.
            Options { rate: Some(r), .. } if !(MIN_RATE..=MAX_RATE).contains(r) => {
                bad("rate", "must be between 0.001 and 10000000 ops per second")
            }
            Options {
                threads_per_key, ..
            } if *threads_per_key > MAX_COUNT => bad("threads_per_key", "must be at most 100000"),
            Options { key_count, .. } if *key_count > MAX_COUNT => {
                bad("key_count", "must be at most 100000")
            }
            Options { max_txn_len, .. } if *max_txn_len > MAX_TXN_LEN => {
                bad("max_txn_len", "must be at most 1000")
            }
            Options {
                threads_per_key: 0, ..
            } => bad("threads_per_key", "must be at least 1"),
            Options { value_range: 0, .. } => bad("value_range", "must be at least 1"),
            Options { key_count: 0, .. } => bad("key_count", "must be at least 1"),
            Options { min_txn_len: 0, .. } => bad("min_txn_len", "must be at least 1"),
            o if o.max_txn_len < o.min_txn_len => {
                bad("max_txn_len", "must be at least min_txn_len")
            }
            Options {
                max_writes_per_key: 0,
                ..
            } => bad("max_writes_per_key", "must be at least 1"),
            Options {
                read_fraction: Some(f),
                ..
            } if !(0.0..=1.0).contains(f) => bad("read_fraction", "must be between 0 and 1"),
            o if o.accounts < 2 => bad("accounts", "must be at least 2"),
            Options {
                max_transfer: 0, ..
            } => bad("max_transfer", "must be at least 1"),
            _ => Ok(()),
        }
    }

    /// Sets the option `key` (its name as in a test file's
    /// `[workload_options]`, `-` or `_` alike) from the text after
    /// `--workload-opt key=`: JSON (a number, `true`, `null`).
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), WorkloadError> {
        let setting = |reason: String| WorkloadError::Setting {
            key: key.to_string(),
            reason,
        };
        let field = key.replace('-', "_");
        let mut map = match serde_json::to_value(&*self) {
            Ok(Value::Object(map)) => map,
            other => return Err(setting(format!("options are not a table: {other:?}"))),
        };
        if !map.contains_key(&field) {
            let known: Vec<String> = map.keys().map(|k| k.replace('_', "-")).collect();
            return Err(setting(format!(
                "no such option (known: {})",
                known.join(", ")
            )));
        }
        let parsed = serde_json::from_str(value).map_err(|e| setting(format!("{value:?}: {e}")))?;
        map.insert(field, parsed);
        *self = serde_json::from_value(Value::Object(map))
            .map_err(|e| setting(format!("{value:?}: {e}")))?;
        Ok(())
    }

    /// The options that differ from the defaults, as `key=value` for
    /// [`Options::set`] (what `--workload-opt` takes), in name order.
    pub fn changed(&self) -> Vec<String> {
        let (Ok(Value::Object(mine)), Ok(Value::Object(defaults))) = (
            serde_json::to_value(self),
            serde_json::to_value(Options::default()),
        ) else {
            return Vec::new();
        };
        let mut changed: Vec<String> = mine
            .iter()
            .filter(|(k, v)| defaults.get(*k) != Some(*v))
            .map(|(k, v)| format!("{}={v}", k.replace('_', "-")))
            .collect();
        changed.sort();
        changed
    }

    /// The share of reads, or `default` when none was given.
    pub fn reads(&self, default: f64) -> f64 {
        self.read_fraction.unwrap_or(default)
    }

    /// `gen` at the configured total rate, if any.
    pub fn paced(&self, gen: impl Generator + 'static) -> BoxGen {
        match self.rate {
            Some(rate) => boxed(stagger(Duration::from_secs_f64(1.0 / rate), gen)),
            None => boxed(gen),
        }
    }
}

/// A workload's generators for one run, built together because the final
/// one reads the keys the client one was using when it stopped.
pub struct Generators {
    /// The client generator (already routed to client threads); endless
    /// unless the options bound it: the run adds time limits and faults.
    pub clients: BoxGen,
    /// Reads for after every fault is healed and the cluster had time to
    /// recover, once per client thread, their ops marked final (Jepsen's
    /// `:final-generator`): they show what state the cluster converged to.
    /// Finite, and built when first asked, so it must be run after
    /// `clients`.
    pub final_reads: BoxGen,
}

/// What a test does to the system.
pub trait Workload: Send + Sync {
    /// Its name on the command line.
    fn name(&self) -> &'static str;

    /// The `f`s its ops use.
    fn vocabulary(&self) -> &'static [&'static str];

    /// The client generator and the final reads.
    fn generators(&self, opts: &Options) -> Result<Generators, WorkloadError>;

    /// The client generator alone, for runs without a final phase.
    fn generator(&self, opts: &Options) -> Result<BoxGen, WorkloadError> {
        Ok(self.generators(opts)?.clients)
    }

    /// The checkers for its histories, given the options it ran with.
    fn checkers(&self, opts: &Options) -> Vec<CheckerSpec>;
}

/// The names [`by_name`] knows.
pub const NAMES: &[&str] = &[
    "register",
    "list-append",
    "rw-register",
    "set",
    "counter",
    "bank",
    "unique-ids",
    "lock",
    "queue",
];

/// The workload called `name`.
pub fn by_name(name: &str) -> Result<Box<dyn Workload>, WorkloadError> {
    match name {
        "register" => Ok(Box::new(Register)),
        "list-append" => Ok(Box::new(ListAppend)),
        "rw-register" => Ok(Box::new(RwRegister)),
        "set" => Ok(Box::new(Set)),
        "counter" => Ok(Box::new(Counter)),
        "bank" => Ok(Box::new(Bank)),
        "unique-ids" => Ok(Box::new(UniqueIds)),
        "lock" => Ok(Box::new(Lock)),
        "queue" => Ok(Box::new(Queue)),
        _ => Err(WorkloadError::Unknown {
            name: name.to_string(),
            known: NAMES.join(", "),
        }),
    }
}

/// The client ops and the final ops of `workload` in a simulated run:
/// `n` client ops, then the final reads, on `threads` threads.
#[cfg(test)]
pub(crate) fn simulate_with_final_reads(
    workload: &dyn Workload,
    opts: &Options,
    n: u64,
    threads: usize,
) -> (Vec<checkers::Op>, Vec<checkers::Op>) {
    use crate::generator::{limit, phases, sim};
    let g = workload.generators(opts).expect("valid options");
    let run = phases(vec![boxed(limit(n, g.clients)), g.final_reads]);
    let ops = sim::invocations(run, threads, 3);
    let (finals, ops) = ops.into_iter().partition(|o| o.is_final);
    (ops, finals)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_set_by_name_and_the_changed_ones_listed() {
        let mut o = Options::default();
        assert!(o.changed().is_empty());
        o.set("key-count", "7").unwrap();
        o.set("read_fraction", "0.25").unwrap();
        o.set("decrements", "true").unwrap();
        assert_eq!(
            o.changed(),
            ["decrements=true", "key-count=7", "read-fraction=0.25"]
        );
        let mut again = Options::default();
        for kv in o.changed() {
            let (k, v) = kv.split_once('=').unwrap();
            again.set(k, v).unwrap();
        }
        assert_eq!(again, o);
        let e = o.set("keys", "7").unwrap_err().to_string();
        assert!(
            e.starts_with("--workload-opt keys: no such option (known: "),
            "{e}"
        );
        assert!(e.contains("key-count"), "{e}");
        let e = o.set("key-count", "many").unwrap_err().to_string();
        assert!(e.starts_with("--workload-opt key-count: \"many\""), "{e}");
        assert!(o.set("key-count", "-1").is_err());
        assert_eq!(o.key_count, 7, "a refused value changes nothing");
    }

    #[test]
    fn workloads_are_found_by_name_and_typos_are_named() {
        for name in NAMES {
            assert_eq!(by_name(name).unwrap().name(), *name);
        }
        let e = by_name("regster").err().unwrap();
        assert_eq!(
            e.to_string(),
            "unknown workload \"regster\" (known: register, list-append, rw-register, set, counter, bank, unique-ids, lock, queue)"
        );
    }

    #[test]
    fn options_out_of_range_are_refused() {
        assert!(Options::default().validate().is_ok());
        let o = Options {
            max_txn_len: 0,
            ..Options::default()
        };
        assert_eq!(
            o.validate().unwrap_err().to_string(),
            "workload option max_txn_len: must be at least min_txn_len"
        );
        for rate in [0.0, 1e-300, f64::NAN, 1e300] {
            let o = Options {
                rate: Some(rate),
                ..Options::default()
            };
            let e = o.validate().unwrap_err().to_string();
            assert!(e.contains("rate: must be between 0.001 and"), "{rate}: {e}");
        }
        // The slowest rate allowed still paces without overflowing.
        let slow = Options {
            rate: Some(MIN_RATE),
            ..Options::default()
        };
        slow.validate().unwrap();
        drop(slow.paced(crate::generator::from_fn(|_| {
            crate::generator::Template::new("read", serde_json::Value::Null)
        })));
        let o = Options {
            max_txn_len: 1_000_000,
            ..Options::default()
        };
        assert!(o
            .validate()
            .unwrap_err()
            .to_string()
            .contains("at most 1000"));
        let typo = serde_json::from_str::<Options>(r#"{"ops_per_kye": 3}"#);
        assert!(typo.is_err());
    }
}
