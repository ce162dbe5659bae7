//! Workloads over a key-value store with per-key versions, the recipe
//! Jepsen's etcd test (`jepsen.etcd.append`) uses and that etcd (mod
//! revisions) and Consul (ModifyIndex) share: read every key an op needs
//! and its version at one point in time, compute the results and the new
//! values here, then write them back only if no key's version changed.
//! A failed version check means nothing was written: a definite `fail`.
//!
//! Serves list-append (`append` micro-ops: the new value is the list read
//! plus the element), rw-register (`w` micro-ops: the value written), the
//! counter (read, add, write back) and the bank (read both accounts,
//! refuse to overdraw, write both back), for any store that implements
//! [`Versioned`]; [`serve`] routes every workload's ops for a [`Store`].

use crate::client::{accounts, bad, transfer, unknown_f, Served};
use checkers::bank::account_name;
use checkers::Op;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use workloads::workload::INITIAL_BALANCE;
use workloads::{ClientError, Complete};

/// A store whose keys have versions.
pub(crate) trait Versioned: Sync {
    /// `keys` and their versions, read at one point in time.
    async fn get_all(&self, keys: &[String]) -> Result<BTreeMap<String, Option<Kv>>, ClientError>;

    /// Writes `puts` if no key of `seen` has changed since it was read;
    /// `Some(why)` when one had, and nothing was written.
    async fn put_if_unchanged(
        &self,
        seen: &BTreeMap<String, Option<Kv>>,
        puts: &[(String, Value)],
    ) -> Result<Option<String>, ClientError>;
}

/// A versioned store's client for every workload but queue: the ops that
/// need more than versions (registers, sets, ids, locks) are its own, and
/// [`serve`] routes each op to them or to the recipes here.
pub(crate) trait Store: Versioned {
    /// The target's name, for errors.
    const NAME: &'static str;

    /// The workload the client was made for.
    fn served(&self) -> Served;

    /// A register's read, write or cas.
    async fn register(&self, op: &Op) -> Result<Op, ClientError>;

    /// A set's add or read.
    async fn set(&self, op: &Op) -> Result<Op, ClientError>;

    /// A unique id.
    async fn unique_id(&self, op: &Op) -> Result<Op, ClientError>;

    /// A lock's acquire or release.
    async fn lock(&self, op: &Op) -> Result<Op, ClientError>;
}

/// Performs `op` of the workload `store` was made for; a client that was
/// not told serves registers and txns.
pub(crate) async fn serve<S: Store>(store: &S, op: &Op) -> Result<Op, ClientError> {
    match store.served() {
        Served::Unset if op.f == "txn" => txn(store, op).await,
        Served::Unset | Served::Register => store.register(op).await,
        Served::ListAppend | Served::RwRegister => txn(store, op).await,
        Served::Set => store.set(op).await,
        Served::Counter => counter(store, op).await,
        Served::Bank => bank(store, op).await,
        Served::UniqueIds => store.unique_id(op).await,
        Served::Lock => store.lock(op).await,
        served @ Served::Queue => Err(unknown_f(S::NAME, served, op)),
    }
}

/// A list-append or rw-register txn.
pub(crate) async fn txn(store: &impl Versioned, op: &Op) -> Result<Op, ClientError> {
    let micro = parse_micro_ops(op)?;
    let seen = store.get_all(&keys(&micro)).await?;
    let (done, puts) = apply(&micro, &seen);
    if puts.is_empty() {
        return Ok(op.ok(Value::Array(done)));
    }
    Ok(match store.put_if_unchanged(&seen, &puts).await? {
        None => op.ok(Value::Array(done)),
        Some(why) => op.fail(why),
    })
}

/// The counter's key.
const COUNTER: &str = "counter";

/// A counter's `read` or `add` (read, add, write back if unchanged).
pub(crate) async fn counter(store: &impl Versioned, op: &Op) -> Result<Op, ClientError> {
    let keys = [COUNTER.to_string()];
    let seen = store.get_all(&keys).await?;
    let now = seen[COUNTER]
        .as_ref()
        .and_then(|kv| kv.value.as_i64())
        .unwrap_or(0);
    if op.f == "read" {
        return Ok(op.ok(json!(now)));
    }
    let n = op.value.as_i64().ok_or_else(|| bad(op, "an integer"))?;
    let puts = [(COUNTER.to_string(), json!(now + n))];
    Ok(match store.put_if_unchanged(&seen, &puts).await? {
        None => op.ok(op.value.clone()),
        Some(why) => op.fail(why),
    })
}

/// A bank's `read` of every account in one txn, or `transfer` between two
/// (refused, nothing written, when `from` holds too little). An account
/// never written holds [`INITIAL_BALANCE`].
pub(crate) async fn bank(store: &impl Versioned, op: &Op) -> Result<Op, ClientError> {
    let key = |a: &Value| format!("bank/{}", account_name(a));
    let balance = |kv: &Option<Kv>| {
        kv.as_ref()
            .and_then(|kv| kv.value.as_i64())
            .unwrap_or(INITIAL_BALANCE)
    };
    if op.f == "read" {
        let accounts = accounts(op)?;
        let keys: Vec<String> = accounts.iter().map(key).collect();
        let seen = store.get_all(&keys).await?;
        let balances: Map<String, Value> = accounts
            .iter()
            .map(|a| (account_name(a), json!(balance(&seen[&key(a)]))))
            .collect();
        return Ok(op.ok(Value::Object(balances)));
    }
    let (from, to, amount) = transfer(op)?;
    let (kf, kt) = (key(from), key(to));
    let seen = store.get_all(&[kf.clone(), kt.clone()]).await?;
    let (a, b) = (balance(&seen[&kf]), balance(&seen[&kt]));
    if a < amount {
        return Ok(op.fail(format!(
            "{} holds {a}, less than {amount}",
            account_name(from)
        )));
    }
    let puts = [(kf, json!(a - amount)), (kt, json!(b + amount))];
    Ok(match store.put_if_unchanged(&seen, &puts).await? {
        None => op.ok(op.value.clone()),
        Some(why) => op.fail(why),
    })
}

/// One key as the store returned it.
#[derive(Clone, Debug, PartialEq)]
pub struct Kv {
    /// The stored value, decoded from its JSON text.
    pub value: Value,
    /// The store's version of the key: etcd's mod revision, Consul's
    /// ModifyIndex (0: the key does not exist).
    pub version: i64,
}

/// The store key for a workload key: its JSON text (`1`, `"x"` as `x`).
pub fn key_of(k: &Value) -> String {
    match k {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The distinct store keys of `micro`, in first-use order.
pub fn keys(micro: &[Micro]) -> Vec<String> {
    let mut keys: Vec<String> = Vec::new();
    for m in micro {
        if !keys.contains(&m.key) {
            keys.push(m.key.clone());
        }
    }
    keys
}

/// One `[f, k, v]` of a txn: `r`, `append` or `w`.
pub struct Micro {
    f: String,
    k: Value,
    /// The store's key for `k`.
    pub key: String,
    v: Value,
}

pub fn parse_micro_ops(op: &Op) -> Result<Vec<Micro>, ClientError> {
    let list = op
        .value
        .as_array()
        .ok_or_else(|| bad(op, "a list of micro-ops"))?;
    list.iter()
        .map(|m| match m.as_array().map(Vec::as_slice) {
            Some([Value::String(f), k, v]) if ["r", "append", "w"].contains(&f.as_str()) => {
                Ok(Micro {
                    f: f.clone(),
                    k: k.clone(),
                    key: key_of(k),
                    v: v.clone(),
                })
            }
            _ => Err(bad(op, "[\"r\"|\"append\"|\"w\", key, value] micro-ops")),
        })
        .collect()
}

/// Runs the micro-ops over the values read (key -> what the store held):
/// the completed micro-ops (a read sees the txn's own earlier writes) and
/// the values to put back.
pub fn apply(
    micro: &[Micro],
    seen: &BTreeMap<String, Option<Kv>>,
) -> (Vec<Value>, Vec<(String, Value)>) {
    let mut values: BTreeMap<&str, Value> = seen
        .iter()
        .map(|(k, kv)| {
            (
                k.as_str(),
                kv.as_ref().map_or(Value::Null, |kv| kv.value.clone()),
            )
        })
        .collect();
    let mut written: Vec<String> = Vec::new();
    let mut done = Vec::with_capacity(micro.len());
    for m in micro {
        let value = values.entry(m.key.as_str()).or_insert(Value::Null);
        let result = match m.f.as_str() {
            "r" => value.clone(),
            "append" => {
                let mut list = value.as_array().cloned().unwrap_or_default();
                list.push(m.v.clone());
                *value = Value::Array(list);
                m.v.clone()
            }
            _ => {
                *value = m.v.clone();
                m.v.clone()
            }
        };
        if m.f != "r" && !written.contains(&m.key) {
            written.push(m.key.clone());
        }
        done.push(json!([m.f, m.k, result]));
    }
    let puts = written
        .into_iter()
        .map(|k| {
            let v = values.get(k.as_str()).cloned().unwrap_or(Value::Null);
            (k, v)
        })
        .collect();
    (done, puts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(value: Value) -> Op {
        serde_json::from_value(json!({"index": 0, "time": 0, "process": 0,
            "type": "invoke", "f": "txn", "value": value}))
        .unwrap()
    }

    #[test]
    fn appends_build_on_what_was_read_and_reads_see_own_appends() {
        let micro = parse_micro_ops(&op(json!([
            ["r", 1, null],
            ["append", 1, 3],
            ["r", 1, null],
            ["append", 2, 9],
            ["r", 3, null]
        ])))
        .unwrap();
        assert_eq!(keys(&micro), vec!["1", "2", "3"]);
        let seen: BTreeMap<String, Option<Kv>> = [
            (
                "1".to_string(),
                Some(Kv {
                    value: json!([1, 2]),
                    version: 5,
                }),
            ),
            ("2".to_string(), None),
            ("3".to_string(), None),
        ]
        .into_iter()
        .collect();
        let (done, puts) = apply(&micro, &seen);
        assert_eq!(
            Value::Array(done),
            json!([
                ["r", 1, [1, 2]],
                ["append", 1, 3],
                ["r", 1, [1, 2, 3]],
                ["append", 2, 9],
                ["r", 3, null]
            ])
        );
        assert_eq!(
            puts,
            vec![("1".into(), json!([1, 2, 3])), ("2".into(), json!([9]))]
        );
    }

    #[test]
    fn register_writes_replace_and_are_read_back_within_the_txn() {
        let micro = parse_micro_ops(&op(json!([
            ["r", 1, null],
            ["w", 1, 3],
            ["r", 1, null],
            ["w", 2, 4]
        ])))
        .unwrap();
        let seen: BTreeMap<String, Option<Kv>> = [
            (
                "1".to_string(),
                Some(Kv {
                    value: json!(2),
                    version: 5,
                }),
            ),
            ("2".to_string(), None),
        ]
        .into_iter()
        .collect();
        let (done, puts) = apply(&micro, &seen);
        assert_eq!(
            Value::Array(done),
            json!([["r", 1, 2], ["w", 1, 3], ["r", 1, 3], ["w", 2, 4]])
        );
        assert_eq!(puts, vec![("1".into(), json!(3)), ("2".into(), json!(4))]);
    }

    #[test]
    fn malformed_micro_ops_are_definite_failures() {
        assert!(matches!(
            parse_micro_ops(&op(json!([["x", 1, 2]]))),
            Err(ClientError::Fail(_))
        ));
        assert!(parse_micro_ops(&op(json!(5))).is_err());
        assert_eq!(key_of(&json!("k")), "k");
        assert_eq!(key_of(&json!(3)), "3");
    }
}
