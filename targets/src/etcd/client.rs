//! etcd's client for every workload but queue, over etcd's v3 JSON
//! gateway with reqwest, following Jepsen's etcd test (`jepsen.etcd.*`).
//!
//! Why the gateway and not the `etcd-client` crate: that crate compiles
//! etcd's protobufs at build time and needs `protoc`, which the build
//! machine does not have (DEVELOPERS.md); the gateway speaks the same API
//! as JSON over plain HTTP.
//!
//! - register: `read` is a range, `write` a put, `cas` a txn comparing the
//!   value (a failed compare is a definite `fail`).
//! - list-append and rw-register ([`crate::versioned`]): a txn of ranges reads
//!   every key of the op and its mod revision at one revision; then a txn
//!   puts the new values only if every key's mod revision is unchanged, so
//!   a failed compare is a definite `fail`. A read-only op is the first txn.
//! - set: element `e` of set `k` is its own key `set/{k}/{e}`; a read is a
//!   range over the prefix.
//! - counter and bank: read the keys (with their mod revisions), compute
//!   here, and put the new values in a txn that compares the revisions, as
//!   for transactions; a transfer that would overdraw fails without
//!   writing. An account never written holds the bank's initial balance.
//! - unique-ids: a put's revision (etcd's cluster-wide write counter).
//! - lock ([`lock`]): etcd's lock API under a lease per owner.
//! - reads are linearizable by default; `serializable` lets a member answer
//!   from its own, possibly stale, state.
//!
//! Error mapping: a refused connection is `fail` (unavailable: the worker
//! backs off); any error of an op that only reads is `fail` (it changed
//! nothing); for a write, an etcd error with a definite gRPC code is `fail`
//! and anything else (timeout, lost connection, leader change) is `info`.

mod lock;

use super::gateway;
use crate::client::{bad, keyed, send_error, unknown_f, NodeHttp, Served};
use crate::versioned::{self, Kv, Versioned};
use checkers::Op;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use workloads::client::BoxFuture;
use workloads::{Client, ClientError, Complete, Options};

/// An etcd client template; [`Client::open`] binds one to a node.
#[derive(Clone)]
pub struct EtcdClient {
    nodes: NodeHttp,
    serializable: bool,
    served: Served,
    /// Each lock owner's lease, shared by every client of the template.
    owners: Arc<lock::Owners>,
}

/// Whether an op could have changed anything: decides what an error means.
#[derive(Clone, Copy, PartialEq)]
enum Effect {
    ReadOnly,
    Write,
}

impl EtcdClient {
    /// The workloads this client serves.
    pub const WORKLOADS: &'static [&'static str] = crate::client::KV_WORKLOADS;

    /// A client template for nodes `addrs` on `client_port`, each request
    /// cut off after `timeout`; `serializable` makes reads stale-allowed.
    pub fn new(
        addrs: &BTreeMap<String, String>,
        client_port: u16,
        timeout: Duration,
        serializable: bool,
    ) -> Result<Self, ClientError> {
        Ok(EtcdClient {
            nodes: NodeHttp::new(addrs, client_port, timeout)?,
            serializable,
            served: Served::Unset,
            owners: Arc::default(),
        })
    }

    /// POSTs `body` to `path` and maps failures as the module doc says.
    async fn call(&self, path: &str, body: Value, effect: Effect) -> Result<Value, ClientError> {
        let resp = self
            .nodes
            .request(reqwest::Method::POST, path)
            .json(&body)
            .send()
            .await;
        let resp = resp.map_err(|e| classify(send_error(e), effect))?;
        let status = resp.status();
        let text = resp.text().await.map_err(|e| {
            classify(
                ClientError::Unknown(format!("reading the answer: {e}")),
                effect,
            )
        })?;
        let value: Value = serde_json::from_str(&text).map_err(|_| {
            let head: String = text.chars().take(200).collect();
            classify(
                ClientError::Unknown(format!("HTTP {status}: not JSON: {head}")),
                effect,
            )
        })?;
        if status.is_success() {
            return Ok(value);
        }
        let (msg, code) = gateway::parse_error(&value);
        let e = if gateway::definite_code(code) {
            ClientError::Fail(msg)
        } else {
            ClientError::Unknown(format!("{msg} (code {code})"))
        };
        Err(classify(e, effect))
    }

    /// One key's value and mod revision (`None`: absent).
    async fn get(&self, key: &str) -> Result<Option<Kv>, ClientError> {
        let body = gateway::range(key, self.serializable);
        let resp = self.call("/v3/kv/range", body, Effect::ReadOnly).await?;
        gateway::parse_range(&resp).map_err(ClientError::Fail)
    }
}

impl versioned::Store for EtcdClient {
    const NAME: &'static str = "etcd";

    fn served(&self) -> Served {
        self.served
    }

    async fn lock(&self, op: &Op) -> Result<Op, ClientError> {
        self.lock_op(op).await
    }

    async fn register(&self, op: &Op) -> Result<Op, ClientError> {
        let (k, arg) = keyed(op)?;
        let key = versioned::key_of(k);
        match op.f.as_str() {
            "read" => {
                let kv = self.get(&key).await?;
                Ok(op.ok(json!([k, kv.map_or(Value::Null, |kv| kv.value)])))
            }
            "write" => {
                let body = gateway::put(&key, arg);
                self.call("/v3/kv/put", body, Effect::Write).await?;
                Ok(op.ok(op.value.clone()))
            }
            "cas" => {
                let Some([old, new]) = arg.as_array().map(Vec::as_slice) else {
                    return Err(bad(op, "[key, [old, new]]"));
                };
                let body = gateway::cas(&key, old, new);
                let resp = self.call("/v3/kv/txn", body, Effect::Write).await?;
                Ok(if gateway::txn_succeeded(&resp) {
                    op.ok(op.value.clone())
                } else {
                    op.fail("cas mismatch")
                })
            }
            _ => Err(unknown_f("etcd", self.served, op)),
        }
    }

    async fn set(&self, op: &Op) -> Result<Op, ClientError> {
        let (k, e) = keyed(op)?;
        let prefix = format!("set/{}/", versioned::key_of(k));
        match op.f.as_str() {
            "add" => {
                let body = gateway::put(&format!("{prefix}{e}"), e);
                self.call("/v3/kv/put", body, Effect::Write).await?;
                Ok(op.ok(op.value.clone()))
            }
            "read" => {
                let body = gateway::range_prefix(&prefix, self.serializable);
                let resp = self.call("/v3/kv/range", body, Effect::ReadOnly).await?;
                let kvs = gateway::parse_range_all(&resp).map_err(ClientError::Fail)?;
                let elements: Vec<Value> = kvs.into_iter().map(|kv| kv.value).collect();
                Ok(op.ok(json!([k, elements])))
            }
            _ => Err(unknown_f("etcd", self.served, op)),
        }
    }

    async fn unique_id(&self, op: &Op) -> Result<Op, ClientError> {
        let body = gateway::put("ids", &Value::Null);
        let resp = self.call("/v3/kv/put", body, Effect::Write).await?;
        let rev = gateway::header_revision(&resp).map_err(ClientError::Unknown)?;
        Ok(op.ok(json!(rev)))
    }
}

impl Versioned for EtcdClient {
    async fn get_all(&self, keys: &[String]) -> Result<BTreeMap<String, Option<Kv>>, ClientError> {
        let body = gateway::read_all(keys, self.serializable);
        let resp = self.call("/v3/kv/txn", body, Effect::ReadOnly).await?;
        let read = gateway::parse_read_all(&resp).map_err(ClientError::Fail)?;
        Ok(keys.iter().cloned().zip(read).collect())
    }

    async fn put_if_unchanged(
        &self,
        seen: &BTreeMap<String, Option<Kv>>,
        puts: &[(String, Value)],
    ) -> Result<Option<String>, ClientError> {
        let revs: Vec<(String, i64)> = seen
            .iter()
            .map(|(k, kv)| (k.clone(), kv.as_ref().map_or(0, |kv| kv.version)))
            .collect();
        let body = gateway::put_if_unchanged(&revs, puts);
        let resp = self.call("/v3/kv/txn", body, Effect::Write).await?;
        Ok((!gateway::txn_succeeded(&resp))
            .then(|| "a key changed since it was read (mod revision compare failed)".to_string()))
    }
}

impl Client for EtcdClient {
    fn open<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<Box<dyn Client>, ClientError>> {
        Box::pin(async move {
            Ok(Box::new(EtcdClient {
                nodes: self.nodes.bind("etcd", node)?,
                ..self.clone()
            }) as Box<dyn Client>)
        })
    }

    fn invoke<'a>(&'a mut self, op: &'a Op) -> BoxFuture<'a, Result<Op, ClientError>> {
        Box::pin(async move { versioned::serve(self, op).await })
    }

    fn for_workload(
        &self,
        workload: &str,
        _: &Options,
    ) -> Result<Option<Box<dyn Client>>, ClientError> {
        let served = Served::parse("etcd", Self::WORKLOADS, workload)?;
        Ok(Some(Box::new(EtcdClient {
            served,
            ..self.clone()
        })))
    }
}

/// An op that only reads changed nothing, whatever happened to it.
fn classify(e: ClientError, effect: Effect) -> ClientError {
    match (e, effect) {
        (ClientError::Unknown(m), Effect::ReadOnly) => ClientError::Fail(m),
        (e, _) => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::fake;
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine as _;
    use checkers::OpType;
    use workloads::workload::INITIAL_BALANCE;

    fn b64(s: &str) -> String {
        STANDARD.encode(s)
    }

    async fn client_for(
        workload: &str,
        script: impl Fn(&fake::Request) -> (&'static str, String) + Send + Sync + 'static,
    ) -> (Box<dyn Client>, fake::Seen) {
        let (addrs, port, seen) = fake::serve(script).await;
        let template = EtcdClient::new(&addrs, port, Duration::from_millis(500), false).unwrap();
        let made = template
            .for_workload(workload, &Options::default())
            .unwrap()
            .unwrap();
        (made.open("n1").await.unwrap(), seen)
    }

    fn invoke(f: &str, value: Value) -> Op {
        Op::new(0, OpType::Invoke, f, value)
    }

    fn paths(seen: &fake::Seen) -> Vec<String> {
        seen.lock()
            .unwrap()
            .iter()
            .map(|r| r.path.clone())
            .collect()
    }

    #[tokio::test]
    async fn an_id_is_the_revision_of_a_put() {
        let (mut c, _) = client_for("unique-ids", |_| {
            ("200 OK", r#"{"header":{"revision":"17"}}"#.into())
        })
        .await;
        assert_eq!(
            c.invoke(&invoke("generate", json!(null)))
                .await
                .unwrap()
                .value,
            json!(17)
        );
    }

    #[tokio::test]
    async fn a_set_read_ranges_over_the_sets_prefix() {
        let kvs = json!({"header": {}, "kvs": [{"key": b64("set/3/1"), "value": b64("1"), "mod_revision": "4"}]});
        let (mut c, seen) = client_for("set", move |_| ("200 OK", kvs.to_string())).await;
        let done = c.invoke(&invoke("read", json!([3, null]))).await.unwrap();
        assert_eq!(done.value, json!([3, [1]]));
        assert_eq!(seen.lock().unwrap()[0].body["range_end"], b64("set/30"));
    }

    #[tokio::test]
    async fn a_transfer_that_would_overdraw_fails_without_writing() {
        let read = json!({"header": {}, "succeeded": true, "responses": [
            {"response_range": {"kvs": [{"key": b64("bank/0"), "value": b64("2"), "mod_revision": "9"}]}},
            {"response_range": {"header": {}}}]});
        let (mut c, seen) = client_for("bank", move |_| ("200 OK", read.to_string())).await;
        let done = c
            .invoke(&invoke(
                "transfer",
                json!({"from": 0, "to": 1, "amount": 3}),
            ))
            .await
            .unwrap();
        assert_eq!(done.kind, OpType::Fail);
        assert_eq!(paths(&seen), vec!["/v3/kv/txn"], "only the read");
        let balances = c.invoke(&invoke("read", json!([0, 1]))).await.unwrap();
        assert_eq!(balances.value, json!({"0": 2, "1": INITIAL_BALANCE}));
    }

    #[tokio::test]
    async fn a_lock_is_taken_under_a_lease_and_given_back_by_revoking_it() {
        let (mut c, seen) = client_for("lock", |r| match r.path.as_str() {
            "/v3/lease/grant" => ("200 OK", r#"{"header":{},"ID":"55","TTL":"10"}"#.into()),
            "/v3/lock/lock" => (
                "200 OK",
                json!({"header": {}, "key": b64("temblor-lock/37")}).to_string(),
            ),
            _ => ("200 OK", r#"{"header":{}}"#.into()),
        })
        .await;
        c.invoke(&invoke("acquire", json!(2))).await.unwrap();
        let again = c.invoke(&invoke("acquire", json!(2))).await.unwrap();
        assert_eq!(again.kind, OpType::Fail, "not re-entrant");
        c.invoke(&invoke("release", json!(2))).await.unwrap();
        let not_held = c.invoke(&invoke("release", json!(2))).await.unwrap();
        assert_eq!(not_held.kind, OpType::Fail);
        assert_eq!(
            paths(&seen),
            vec![
                "/v3/lease/grant",
                "/v3/lock/lock",
                "/v3/lock/unlock",
                "/v3/lease/revoke"
            ]
        );
        let seen = seen.lock().unwrap().clone();
        assert_eq!(
            seen[1].body,
            json!({"name": b64("temblor-lock"), "lease": "55"})
        );
        assert_eq!(seen[2].body, json!({"key": b64("temblor-lock/37")}));
    }

    #[tokio::test]
    async fn after_a_crashed_acquire_the_release_revokes_and_is_indeterminate() {
        let (mut c, seen) = client_for("lock", |r| match r.path.as_str() {
            "/v3/lease/grant" => ("200 OK", r#"{"header":{},"ID":"8","TTL":"10"}"#.into()),
            "/v3/lock/lock" => (
                "503 Service Unavailable",
                r#"{"error":"leader changed","code":14}"#.into(),
            ),
            _ => ("200 OK", r#"{"header":{}}"#.into()),
        })
        .await;
        let e = c.invoke(&invoke("acquire", json!(1))).await.unwrap_err();
        assert!(matches!(e, ClientError::Unknown(_)), "{e:?}");
        let done = c.invoke(&invoke("release", json!(1))).await.unwrap();
        assert_eq!(done.kind, OpType::Info);
        assert_eq!(seen.lock().unwrap()[2].body, json!({"ID": "8"}));
    }

    #[test]
    fn read_only_errors_are_failures_write_errors_stay_unknown() {
        let unknown = || ClientError::Unknown("timeout".into());
        assert!(matches!(
            classify(unknown(), Effect::ReadOnly),
            ClientError::Fail(_)
        ));
        assert!(matches!(
            classify(unknown(), Effect::Write),
            ClientError::Unknown(_)
        ));
        let down = || ClientError::Unavailable("cannot connect".into());
        assert!(classify(down(), Effect::ReadOnly).is_unavailable());
        assert!(classify(down(), Effect::Write).is_unavailable());
    }
}
