//! The bank workload (Jepsen's `jepsen.tests.bank`): `accounts` accounts,
//! each starting with [`INITIAL_BALANCE`], so every read must total
//! `accounts × INITIAL_BALANCE`; transfers of 1 to `max_transfer` between
//! two different accounts, each one transaction that refuses to overdraw;
//! and reads of every balance at once.
//!
//! Vocabulary (accounts are integers `0..accounts`): `transfer` invoked
//! with `{"from": a, "to": b, "amount": n}`, `ok` the same, `fail` when
//! `a` holds less than `n` (nothing moved); `read` invoked with the list of
//! accounts `[0, 1, ...]`, `ok` with `{"0": balance, "1": balance, ...}`
//! (JSON object keys are strings), every account's balance read in one
//! transaction. An account the store never wrote holds
//! [`INITIAL_BALANCE`]: stores need no setup, and a client needs nothing
//! but the op. `read_fraction` of the ops are reads (default 0.5).
//!
//! Final reads: every thread reads every balance once.

use super::{CheckerSpec, Generators, Options, Workload, WorkloadError};
use crate::generator::{boxed, clients, each_thread, finals, from_fn, once, Template};
use checkers::bank::BankOptions;
use rand::Rng;
use serde_json::{json, Value};

/// What every account holds before any transfer.
pub const INITIAL_BALANCE: i64 = 10;

/// Transfers between accounts and reads of every balance.
pub struct Bank;

impl Workload for Bank {
    fn name(&self) -> &'static str {
        "bank"
    }

    fn vocabulary(&self) -> &'static [&'static str] {
        &["transfer", "read"]
    }

    fn generators(&self, opts: &Options) -> Result<Generators, WorkloadError> {
        opts.validate()?;
        let (reads, n, max) = (opts.reads(0.5), opts.accounts as u64, opts.max_transfer);
        let read = Template::new("read", accounts(opts.accounts));
        let final_read = read.clone();
        let ops = from_fn(move |rng| {
            if rng.gen_bool(reads) {
                return read.clone();
            }
            let from = rng.gen_range(0..n);
            let to = (from + rng.gen_range(1..n)) % n;
            let amount = rng.gen_range(1..=max);
            Template::new(
                "transfer",
                json!({"from": from, "to": to, "amount": amount}),
            )
        });
        Ok(Generators {
            clients: opts.paced(clients(ops)),
            final_reads: boxed(finals(clients(each_thread(once(final_read))))),
        })
    }

    fn checkers(&self, opts: &Options) -> Vec<CheckerSpec> {
        let bank = BankOptions {
            accounts: Some((0..opts.accounts).map(|a| a.to_string()).collect()),
            total: opts.accounts as i64 * INITIAL_BALANCE,
            negative_balances: false,
        };
        vec![CheckerSpec::Bank(bank), CheckerSpec::Stats]
    }
}

/// The read's value: every account, `[0, 1, ..., n-1]`.
fn accounts(n: usize) -> Value {
    (0..n as u64).map(Value::from).collect()
}

#[cfg(test)]
mod tests {
    use super::super::simulate_with_final_reads;
    use super::*;

    #[test]
    fn transfers_move_between_two_accounts_and_reads_name_them_all() {
        let opts = Options {
            accounts: 3,
            max_transfer: 2,
            ..Options::default()
        };
        let (ops, finals) = simulate_with_final_reads(&Bank, &opts, 300, 4);
        for op in &ops {
            match op.f.as_str() {
                "read" => assert_eq!(op.value, json!([0, 1, 2])),
                "transfer" => {
                    let v = &op.value;
                    assert_ne!(v["from"], v["to"]);
                    assert!(v["from"].as_u64().unwrap() < 3 && v["to"].as_u64().unwrap() < 3);
                    assert!((1..=2).contains(&v["amount"].as_u64().unwrap()));
                }
                f => panic!("unexpected f {f}"),
            }
        }
        assert_eq!(finals.len(), 4);
        let Some(CheckerSpec::Bank(b)) = Bank.checkers(&opts).into_iter().next() else {
            panic!("the bank checker comes first")
        };
        assert_eq!((b.total, b.accounts.unwrap().len()), (30, 3));
    }
}
