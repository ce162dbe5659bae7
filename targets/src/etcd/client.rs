//! etcd's client for the register and list-append workloads, over etcd's
//! v3 JSON gateway (`/v3/kv/range`, `/v3/kv/put`, `/v3/kv/txn`) with
//! reqwest, following Jepsen's etcd test (`jepsen.etcd.register`,
//! `jepsen.etcd.append`).
//!
//! Why the gateway and not the `etcd-client` crate: that crate compiles
//! etcd's protobufs at build time and needs `protoc`, which the build
//! machine does not have (DEVELOPERS.md); the gateway speaks the same API
//! as JSON over plain HTTP.
//!
//! - register: `read` is a range, `write` a put, `cas` a txn comparing the
//!   value (a failed compare is a definite `fail`).
//! - list-append: a txn of ranges reads every key of the op and its mod
//!   revision at one revision; then a txn puts the appended lists only if
//!   every key's mod revision is unchanged, so a failed compare is a
//!   definite `fail`. A read-only op is just the first txn.
//! - reads are linearizable by default; `serializable` lets a member answer
//!   from its own, possibly stale, state.
//!
//! Error mapping: a refused connection is `fail` (unavailable: the worker
//! backs off); any error of an op that only reads is `fail` (it changed
//! nothing); for a write, an etcd error with a definite gRPC code is `fail`
//! and anything else (timeout, lost connection, leader change) is `info`.

use super::gateway;
use crate::append::{self, Kv};
use crate::client::{bad, keyed, send_error, NodeHttp};
use checkers::Op;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;
use workloads::client::BoxFuture;
use workloads::{Client, ClientError, Complete};

/// An etcd client template; [`Client::open`] binds one to a node.
#[derive(Clone)]
pub struct EtcdClient {
    nodes: NodeHttp,
    serializable: bool,
}

/// Whether an op could have changed anything: decides what an error means.
#[derive(Clone, Copy, PartialEq)]
enum Effect {
    ReadOnly,
    Write,
}

impl EtcdClient {
    /// The workloads this client implements.
    pub const WORKLOADS: &'static [&'static str] = &["register", "list-append"];

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

    async fn register(&self, op: &Op) -> Result<Op, ClientError> {
        let (k, arg) = keyed(op)?;
        let key = append::key_of(k);
        match op.f.as_str() {
            "read" => {
                let body = gateway::range(&key, self.serializable);
                let resp = self.call("/v3/kv/range", body, Effect::ReadOnly).await?;
                let kv = gateway::parse_range(&resp).map_err(ClientError::Fail)?;
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
            f => Err(ClientError::Fail(format!("etcd: unknown f {f:?}"))),
        }
    }

    async fn txn(&self, op: &Op) -> Result<Op, ClientError> {
        let micro = append::parse_micro_ops(op)?;
        let keys = append::keys(&micro);
        let body = gateway::read_all(&keys, self.serializable);
        let resp = self.call("/v3/kv/txn", body, Effect::ReadOnly).await?;
        let read = gateway::parse_read_all(&resp).map_err(ClientError::Fail)?;
        let seen: BTreeMap<String, Option<Kv>> = keys.iter().cloned().zip(read).collect();
        let (done, puts) = append::apply(&micro, &seen);
        if puts.is_empty() {
            return Ok(op.ok(Value::Array(done)));
        }
        let revs: Vec<(String, i64)> = seen
            .iter()
            .map(|(k, kv)| (k.clone(), kv.as_ref().map_or(0, |kv| kv.version)))
            .collect();
        let body = gateway::put_if_unchanged(&revs, &puts);
        let resp = self.call("/v3/kv/txn", body, Effect::Write).await?;
        Ok(if gateway::txn_succeeded(&resp) {
            op.ok(Value::Array(done))
        } else {
            op.fail("a key changed since it was read (mod revision compare failed)")
        })
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
        Box::pin(async move {
            match op.f.as_str() {
                "txn" => self.txn(op).await,
                _ => self.register(op).await,
            }
        })
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
