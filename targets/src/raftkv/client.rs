//! raftkv's client for every workload, over its HTTP/JSON API (see
//! targets/raftkv/README.md):
//!
//! - register: `GET /kv/{k}`, `PUT /kv/{k}`, `POST /kv/{k}/cas`;
//! - list-append, rw-register: the txn as it is, `POST /txn`;
//! - set: key `set-{k}` holds a list; `add` appends, `read` reads it;
//! - counter: key `counter`; `add n` is `["add", "counter", n]`;
//! - bank: account `a` is key `bank-{a}`; `transfer` is `POST /transfer`
//!   (which refuses to overdraw), `read` one txn reading every account;
//! - unique-ids: a txn adding 1 to key `ids` and reading it back;
//! - lock: key `lock` holds its owner; `acquire` is a cas from `null` to
//!   the owner, `release` a cas from the owner to `null`;
//! - queue: key `queue` holds a list; `enqueue` appends, `dequeue` pops
//!   the head, `drain` reads the list and writes `[]` in one txn.
//!
//! Error mapping (Jepsen's `client.clj` contract): an answer that says the
//! op certainly did not happen (`"definite": true`: not the leader before
//! proposing, a cas whose compare failed, a bad request) is `fail`; a
//! refused connection is `fail` too (the request never reached the node);
//! those two, and a definite 503 (starting up, no leader known), are
//! marked unavailable so the worker backs off; anything else (a timeout, a
//! dropped connection, an indefinite error) is `info`, because the write may
//! still take effect.

use crate::client::{accounts, bad, keyed, send_error, transfer, unknown_f, NodeHttp, Served};
use checkers::bank::account_name;
use checkers::Op;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::time::Duration;
use workloads::client::BoxFuture;
use workloads::workload::INITIAL_BALANCE;
use workloads::{Client, ClientError, Complete, Options};

/// A raftkv client template; [`Client::open`] binds one to a node.
#[derive(Clone)]
pub struct RaftKvClient {
    nodes: NodeHttp,
    served: Served,
}

impl RaftKvClient {
    /// The workloads this client serves: every one.
    pub const WORKLOADS: &'static [&'static str] = workloads::workload::NAMES;

    /// A client template for nodes `addrs` (name -> address) on
    /// `client_port`, each request cut off after `timeout`.
    pub fn new(
        addrs: &BTreeMap<String, String>,
        client_port: u16,
        timeout: Duration,
    ) -> Result<Self, ClientError> {
        Ok(RaftKvClient {
            nodes: NodeHttp::new(addrs, client_port, timeout)?,
            served: Served::Unset,
        })
    }

    /// Sends `body` to `path` and maps the answer: `Ok(json)` on success,
    /// the error mapping above otherwise.
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, ClientError> {
        let mut req = self.nodes.request(method, path);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.map_err(send_error)?;
        let status = resp.status();
        let text = resp
            .text()
            .await
            .map_err(|e| ClientError::Unknown(format!("reading the answer: {e}")))?;
        let value: Value = serde_json::from_str(&text).map_err(|_| {
            ClientError::Unknown(format!(
                "HTTP {status}: not JSON: {}",
                text.chars().take(200).collect::<String>()
            ))
        })?;
        if status.is_success() {
            return Ok(value);
        }
        let msg = value
            .get("error")
            .and_then(Value::as_str)
            .unwrap_or("error")
            .to_string();
        let definite = value
            .get("definite")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        // 503 with `definite`: the node is up but cannot serve (starting,
        // or no leader known): nothing happened, and the worker rests
        // before asking again rather than spin on an instant refusal.
        Err(
            if definite && status == reqwest::StatusCode::SERVICE_UNAVAILABLE {
                ClientError::Unavailable(msg)
            } else if definite {
                ClientError::Fail(msg)
            } else {
                ClientError::Unknown(msg)
            },
        )
    }

    /// Runs the micro-ops `ops` as one transaction; the micro-ops back,
    /// reads and pops filled in.
    async fn txn_ops(&self, ops: Value) -> Result<Vec<Value>, ClientError> {
        let v = self
            .call(reqwest::Method::POST, "/txn", Some(json!({ "ops": ops })))
            .await?;
        match v.get("ops") {
            Some(Value::Array(done)) => Ok(done.clone()),
            _ => Err(ClientError::Unknown(format!("txn answer without ops: {v}"))),
        }
    }

    /// The value micro-op `i` of a finished txn read (or popped).
    fn result(done: &[Value], i: usize) -> Result<Value, ClientError> {
        done.get(i)
            .and_then(|m| m.get(2))
            .cloned()
            .ok_or_else(|| ClientError::Unknown(format!("txn answer too short: {done:?}")))
    }

    async fn cas(&self, key: &str, expect: &Value, value: &Value) -> Result<(), ClientError> {
        let body = json!({ "expect": expect, "value": value });
        self.call(reqwest::Method::POST, &format!("/kv/{key}/cas"), Some(body))
            .await
            .map(|_| ())
    }

    async fn register(&self, op: &Op) -> Result<Op, ClientError> {
        let (key, arg) = keyed(op)?;
        let path = format!("/kv/{key}");
        match op.f.as_str() {
            "read" => {
                let v = self.call(reqwest::Method::GET, &path, None).await?;
                Ok(op.ok(json!([key, v.get("value").cloned().unwrap_or(Value::Null)])))
            }
            "write" => {
                self.call(reqwest::Method::PUT, &path, Some(json!({ "value": arg })))
                    .await?;
                Ok(op.ok(op.value.clone()))
            }
            "cas" => {
                let pair = arg
                    .as_array()
                    .filter(|a| a.len() == 2)
                    .ok_or_else(|| bad(op, "[key, [old, new]]"))?;
                self.cas(&key.to_string(), &pair[0], &pair[1]).await?;
                Ok(op.ok(op.value.clone()))
            }
            _ => Err(unknown_f("raftkv", self.served, op)),
        }
    }

    async fn txn(&self, op: &Op) -> Result<Op, ClientError> {
        if !op.value.is_array() {
            return Err(bad(op, "a list of micro-ops"));
        }
        Ok(op.ok(Value::Array(self.txn_ops(op.value.clone()).await?)))
    }

    async fn set(&self, op: &Op) -> Result<Op, ClientError> {
        let (k, e) = keyed(op)?;
        let key = format!("set-{k}");
        match op.f.as_str() {
            "add" => {
                self.txn_ops(json!([["append", key, e]])).await?;
                Ok(op.ok(op.value.clone()))
            }
            "read" => {
                let done = self.txn_ops(json!([["r", key, null]])).await?;
                let list = match Self::result(&done, 0)? {
                    Value::Null => json!([]),
                    list => list,
                };
                Ok(op.ok(json!([k, list])))
            }
            _ => Err(unknown_f("raftkv", self.served, op)),
        }
    }

    async fn counter(&self, op: &Op) -> Result<Op, ClientError> {
        match op.f.as_str() {
            "add" => {
                let n = op.value.as_i64().ok_or_else(|| bad(op, "an integer"))?;
                self.txn_ops(json!([["add", "counter", n]])).await?;
                Ok(op.ok(op.value.clone()))
            }
            "read" => {
                let done = self.txn_ops(json!([["r", "counter", null]])).await?;
                let n = match Self::result(&done, 0)? {
                    Value::Null => json!(0),
                    n => n,
                };
                Ok(op.ok(n))
            }
            _ => Err(unknown_f("raftkv", self.served, op)),
        }
    }

    async fn bank(&self, op: &Op) -> Result<Op, ClientError> {
        let key = |a: &Value| format!("bank-{}", account_name(a));
        match op.f.as_str() {
            "transfer" => {
                let (from, to, amount) = transfer(op)?;
                let body = json!({"from": key(from), "to": key(to), "amount": amount,
                                  "initial": INITIAL_BALANCE});
                self.call(reqwest::Method::POST, "/transfer", Some(body))
                    .await?;
                Ok(op.ok(op.value.clone()))
            }
            "read" => {
                let accounts = accounts(op)?;
                let reads: Vec<Value> = accounts
                    .iter()
                    .map(|a| json!(["r", key(a), null]))
                    .collect();
                let done = self.txn_ops(Value::Array(reads)).await?;
                let mut balances = Map::new();
                for (i, a) in accounts.iter().enumerate() {
                    let b = match Self::result(&done, i)? {
                        Value::Null => json!(INITIAL_BALANCE),
                        b => b,
                    };
                    balances.insert(account_name(a), b);
                }
                Ok(op.ok(Value::Object(balances)))
            }
            _ => Err(unknown_f("raftkv", self.served, op)),
        }
    }

    async fn unique_id(&self, op: &Op) -> Result<Op, ClientError> {
        let done = self
            .txn_ops(json!([["add", "ids", 1], ["r", "ids", null]]))
            .await?;
        Ok(op.ok(Self::result(&done, 1)?))
    }

    async fn lock(&self, op: &Op) -> Result<Op, ClientError> {
        let owner = &op.value;
        match op.f.as_str() {
            "acquire" => self.cas("lock", &Value::Null, owner).await?,
            "release" => self.cas("lock", owner, &Value::Null).await?,
            _ => return Err(unknown_f("raftkv", self.served, op)),
        }
        Ok(op.ok(op.value.clone()))
    }

    async fn queue(&self, op: &Op) -> Result<Op, ClientError> {
        match op.f.as_str() {
            "enqueue" => {
                self.txn_ops(json!([["append", "queue", op.value]])).await?;
                Ok(op.ok(op.value.clone()))
            }
            "dequeue" => {
                match Self::result(&self.txn_ops(json!([["pop", "queue", null]])).await?, 0)? {
                    Value::Null => Ok(op.fail("empty")),
                    e => Ok(op.ok(e)),
                }
            }
            "drain" => {
                let done = self
                    .txn_ops(json!([["r", "queue", null], ["w", "queue", []]]))
                    .await?;
                let list = match Self::result(&done, 0)? {
                    Value::Null => json!([]),
                    list => list,
                };
                Ok(op.ok(list))
            }
            _ => Err(unknown_f("raftkv", self.served, op)),
        }
    }
}

impl Client for RaftKvClient {
    fn open<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<Box<dyn Client>, ClientError>> {
        Box::pin(async move {
            Ok(Box::new(RaftKvClient {
                nodes: self.nodes.bind("raftkv", node)?,
                served: self.served,
            }) as Box<dyn Client>)
        })
    }

    fn invoke<'a>(&'a mut self, op: &'a Op) -> BoxFuture<'a, Result<Op, ClientError>> {
        Box::pin(async move {
            match self.served {
                Served::Unset if op.f == "txn" => self.txn(op).await,
                Served::Unset | Served::Register => self.register(op).await,
                Served::ListAppend | Served::RwRegister => self.txn(op).await,
                Served::Set => self.set(op).await,
                Served::Counter => self.counter(op).await,
                Served::Bank => self.bank(op).await,
                Served::UniqueIds => self.unique_id(op).await,
                Served::Lock => self.lock(op).await,
                Served::Queue => self.queue(op).await,
            }
        })
    }

    fn for_workload(
        &self,
        workload: &str,
        _: &Options,
    ) -> Result<Option<Box<dyn Client>>, ClientError> {
        let served = Served::parse("raftkv", Self::WORKLOADS, workload)?;
        Ok(Some(Box::new(RaftKvClient {
            served,
            ..self.clone()
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::fake;
    use checkers::OpType;

    /// A client for `workload` against a fake raftkv answering `script`.
    async fn client_for(
        workload: &str,
        script: impl Fn(&fake::Request) -> (&'static str, String) + Send + Sync + 'static,
    ) -> (Box<dyn Client>, fake::Seen) {
        let (addrs, port, seen) = fake::serve(script).await;
        let template = RaftKvClient::new(&addrs, port, Duration::from_secs(2)).unwrap();
        let made = template
            .for_workload(workload, &Options::default())
            .unwrap()
            .unwrap();
        (made.open("n1").await.unwrap(), seen)
    }

    fn invoke(f: &str, value: Value) -> Op {
        Op::new(0, OpType::Invoke, f, value)
    }

    /// Answers a txn with its own micro-ops, each read or pop filled in
    /// with `fill`.
    fn txn_answer(fill: Value) -> impl Fn(&fake::Request) -> (&'static str, String) {
        move |r| {
            let ops: Vec<Value> = r.body["ops"]
                .as_array()
                .map(|ops| {
                    ops.iter()
                        .map(|m| match m[0].as_str() {
                            Some("r" | "pop") => json!([m[0], m[1], fill]),
                            _ => m.clone(),
                        })
                        .collect()
                })
                .unwrap_or_default();
            ("200 OK", json!({ "ops": ops }).to_string())
        }
    }

    async fn write_to(status: &'static str, body: &'static str) -> ClientError {
        let (mut client, _) = client_for("register", move |_| (status, body.to_string())).await;
        client
            .invoke(&invoke("write", json!([1, 2])))
            .await
            .unwrap_err()
    }

    #[tokio::test]
    async fn answers_map_to_fail_unavailable_or_info() {
        let no_leader = r#"{"error":"not leader and no leader known","definite":true}"#;
        let e = write_to("503 Service Unavailable", no_leader).await;
        assert!(
            matches!(&e, ClientError::Unavailable(m) if m.contains("no leader")),
            "{e:?}"
        );
        let cas = r#"{"error":"cas failed","definite":true}"#;
        let e = write_to("409 Conflict", cas).await;
        assert!(matches!(e, ClientError::Fail(_)), "{e:?}");
        let timeout = r#"{"error":"timed out waiting for commit","definite":false}"#;
        let e = write_to("504 Gateway Timeout", timeout).await;
        assert!(matches!(e, ClientError::Unknown(_)), "{e:?}");
    }

    #[tokio::test]
    async fn a_bank_read_is_one_txn_and_unwritten_accounts_hold_the_initial_balance() {
        let (mut c, seen) = client_for("bank", |r| {
            let ops = r.body["ops"].as_array().cloned().unwrap_or_default();
            let filled: Vec<Value> = ops
                .iter()
                .map(|m| {
                    json!([
                        "r",
                        m[1],
                        if m[1] == "bank-0" {
                            json!(4)
                        } else {
                            json!(null)
                        }
                    ])
                })
                .collect();
            ("200 OK", json!({ "ops": filled }).to_string())
        })
        .await;
        let done = c.invoke(&invoke("read", json!([0, 1]))).await.unwrap();
        assert_eq!(done.value, json!({"0": 4, "1": INITIAL_BALANCE}));
        let sent = seen.lock().unwrap()[0].clone();
        assert_eq!((sent.method.as_str(), sent.path.as_str()), ("POST", "/txn"));
        assert_eq!(
            sent.body,
            json!({"ops": [["r", "bank-0", null], ["r", "bank-1", null]]})
        );
    }

    #[tokio::test]
    async fn a_transfer_posts_to_transfer_and_an_overdraw_fails() {
        let (mut c, seen) = client_for("bank", |_| {
            (
                "409 Conflict",
                r#"{"error":"transfer of 7 from bank-0 refused: it holds 6","definite":true}"#
                    .into(),
            )
        })
        .await;
        let e = c
            .invoke(&invoke(
                "transfer",
                json!({"from": 0, "to": 1, "amount": 7}),
            ))
            .await
            .unwrap_err();
        assert!(
            matches!(&e, ClientError::Fail(m) if m.contains("refused")),
            "{e:?}"
        );
        let sent = seen.lock().unwrap()[0].clone();
        assert_eq!(sent.path, "/transfer");
        assert_eq!(
            sent.body,
            json!({"from": "bank-0", "to": "bank-1", "amount": 7, "initial": INITIAL_BALANCE})
        );
    }

    #[tokio::test]
    async fn sets_counters_ids_and_queues_map_onto_txns() {
        let (mut c, seen) = client_for("set", txn_answer(json!(null))).await;
        let done = c.invoke(&invoke("read", json!([3, null]))).await.unwrap();
        assert_eq!(done.value, json!([3, []]), "an absent set is empty");
        c.invoke(&invoke("add", json!([3, 9]))).await.unwrap();
        assert_eq!(
            seen.lock().unwrap()[1].body,
            json!({"ops": [["append", "set-3", 9]]})
        );

        let (mut c, _) = client_for("counter", txn_answer(json!(null))).await;
        assert_eq!(
            c.invoke(&invoke("read", json!(null))).await.unwrap().value,
            json!(0)
        );

        let (mut c, seen) = client_for("unique-ids", txn_answer(json!(42))).await;
        assert_eq!(
            c.invoke(&invoke("generate", json!(null)))
                .await
                .unwrap()
                .value,
            json!(42)
        );
        assert_eq!(
            seen.lock().unwrap()[0].body,
            json!({"ops": [["add", "ids", 1], ["r", "ids", null]]})
        );

        let (mut c, _) = client_for("queue", txn_answer(json!(null))).await;
        let empty = c.invoke(&invoke("dequeue", json!(null))).await.unwrap();
        assert_eq!(
            (empty.kind, empty.error),
            (OpType::Fail, Some(json!("empty")))
        );
        assert_eq!(
            c.invoke(&invoke("drain", json!(null))).await.unwrap().value,
            json!([])
        );
    }

    #[tokio::test]
    async fn a_lock_is_a_cas_on_its_owner() {
        let (mut c, seen) = client_for("lock", |_| ("200 OK", r#"{"ok":true}"#.into())).await;
        c.invoke(&invoke("acquire", json!(3))).await.unwrap();
        c.invoke(&invoke("release", json!(3))).await.unwrap();
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen[0].path, "/kv/lock/cas");
        assert_eq!(seen[0].body, json!({"expect": null, "value": 3}));
        assert_eq!(seen[1].body, json!({"expect": 3, "value": null}));
    }

    #[test]
    fn a_workload_it_has_no_client_for_is_refused_by_name() {
        let addrs = BTreeMap::from([("n1".to_string(), "127.0.0.1".to_string())]);
        let c = RaftKvClient::new(&addrs, 1, Duration::from_secs(1)).unwrap();
        let e = c.for_workload("ledger", &Options::default()).err().unwrap();
        assert!(
            e.to_string()
                .starts_with("raftkv has no client for the ledger workload (it has: register,"),
            "{e}"
        );
    }
}
