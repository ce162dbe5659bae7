//! Consul's client for the register and list-append workloads over its
//! HTTP KV and txn API (see [`super::api`]), following Jepsen's Consul
//! test (`jepsen.consul`: a cas reads the ModifyIndex, compares the value
//! here, then writes with `?cas=<index>`).
//!
//! - register: `read` is a GET in the chosen mode, `write` a PUT, `cas` a
//!   consistent GET then `PUT ?cas=<ModifyIndex>` (`false` is a `fail`).
//! - list-append: a read-only txn of `get-tree`s (in the chosen mode), then
//!   a txn of `check-index`/`check-not-exists` and `set`s; a 409 rollback
//!   is a definite `fail` ([`crate::append`]).
//!
//! Error mapping: a refused connection is `fail` (unavailable: the worker
//! backs off); any error of an op that only reads is `fail`; otherwise a
//! 4xx (bad request, rollback) is `fail` and anything else (timeout, 5xx
//! such as "No cluster leader") `info`.

use super::api::{self, Mode};
use crate::append::{self, Kv};
use crate::client::{bad, send_error, NodeHttp};
use checkers::Op;
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;
use workloads::client::BoxFuture;
use workloads::{Client, ClientError, Complete};

/// A Consul client template; [`Client::open`] binds one to a node.
#[derive(Clone)]
pub struct ConsulClient {
    nodes: NodeHttp,
    mode: Mode,
}

/// An answer: HTTP status and body text.
struct Answer {
    status: u16,
    text: String,
}

impl ConsulClient {
    /// The workloads this client implements.
    pub const WORKLOADS: &'static [&'static str] = &["register", "list-append"];

    /// A client template for nodes `addrs` on `http_port`, requests cut
    /// off after `timeout`, reads in `mode`.
    pub fn new(
        addrs: &BTreeMap<String, String>,
        http_port: u16,
        timeout: Duration,
        mode: Mode,
    ) -> Result<Self, ClientError> {
        Ok(ConsulClient {
            nodes: NodeHttp::new(addrs, http_port, timeout)?,
            mode,
        })
    }

    /// Sends a request; `read_only` decides what an error means.
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<String>,
        read_only: bool,
    ) -> Result<Answer, ClientError> {
        let mut req = self.nodes.request(method, path);
        if let Some(body) = body {
            req = req.body(body);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| classify(send_error(e), read_only))?;
        let status = resp.status().as_u16();
        let text = resp.text().await.map_err(|e| {
            classify(
                ClientError::Unknown(format!("reading the answer: {e}")),
                read_only,
            )
        })?;
        Ok(Answer { status, text })
    }

    async fn get(&self, key: &str, mode: Mode) -> Result<Option<Kv>, ClientError> {
        let a = self
            .call(Method::GET, &api::read_path(key, mode), None, true)
            .await?;
        match a.status {
            404 => Ok(None),
            200 => api::parse_read(&json_of(&a)?).map_err(ClientError::Fail),
            _ => Err(ClientError::Fail(status_error(&a))),
        }
    }

    /// PUTs `value`; whether Consul said `true`.
    async fn put(&self, key: &str, value: &Value, cas: Option<i64>) -> Result<bool, ClientError> {
        let path = api::write_path(key, cas);
        let a = self
            .call(Method::PUT, &path, Some(value.to_string()), false)
            .await?;
        match a.status {
            200 => Ok(a.text.trim() == "true"),
            400..=499 => Err(ClientError::Fail(status_error(&a))),
            _ => Err(ClientError::Unknown(status_error(&a))),
        }
    }

    async fn register(&self, op: &Op) -> Result<Op, ClientError> {
        let Some([k, arg]) = op.value.as_array().map(Vec::as_slice) else {
            return Err(bad(op, "[key, value]"));
        };
        let key = append::key_of(k);
        match op.f.as_str() {
            "read" => {
                let kv = self.get(&key, self.mode).await?;
                Ok(op.ok(json!([k, kv.map_or(Value::Null, |kv| kv.value)])))
            }
            "write" => {
                self.put(&key, arg, None).await?;
                Ok(op.ok(op.value.clone()))
            }
            "cas" => self.cas(op, &key, arg).await,
            f => Err(ClientError::Fail(format!("consul: unknown f {f:?}"))),
        }
    }

    async fn cas(&self, op: &Op, key: &str, arg: &Value) -> Result<Op, ClientError> {
        let Some([old, new]) = arg.as_array().map(Vec::as_slice) else {
            return Err(bad(op, "[key, [old, new]]"));
        };
        match self.get(key, Mode::Consistent).await? {
            Some(kv) if kv.value == *old => Ok(if self.put(key, new, Some(kv.version)).await? {
                op.ok(op.value.clone())
            } else {
                op.fail("cas mismatch (ModifyIndex changed)")
            }),
            _ => Ok(op.fail("cas mismatch")),
        }
    }

    async fn txn(&self, op: &Op) -> Result<Op, ClientError> {
        let micro = append::parse_micro_ops(op)?;
        let keys = append::keys(&micro);
        let body = api::read_txn(&keys).to_string();
        let a = self
            .call(Method::PUT, &api::txn_path(self.mode), Some(body), true)
            .await?;
        if a.status != 200 {
            return Err(ClientError::Fail(status_error(&a)));
        }
        let read = api::parse_read_txn(&json_of(&a)?, &keys).map_err(ClientError::Fail)?;
        let seen: BTreeMap<String, Option<Kv>> = keys.iter().cloned().zip(read).collect();
        let (done, puts) = append::apply(&micro, &seen);
        if puts.is_empty() {
            return Ok(op.ok(Value::Array(done)));
        }
        let versions: Vec<(String, i64)> = seen
            .iter()
            .map(|(k, kv)| (k.clone(), kv.as_ref().map_or(0, |kv| kv.version)))
            .collect();
        let body = api::write_txn(&versions, &puts).to_string();
        let a = self
            .call(
                Method::PUT,
                &api::txn_path(Mode::Default),
                Some(body),
                false,
            )
            .await?;
        match a.status {
            200 => Ok(op.ok(Value::Array(done))),
            409 => Ok(op.fail(format!("rolled back: {}", api::txn_errors(&json_of(&a)?)))),
            400..=499 => Err(ClientError::Fail(status_error(&a))),
            _ => Err(ClientError::Unknown(status_error(&a))),
        }
    }
}

impl Client for ConsulClient {
    fn open<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<Box<dyn Client>, ClientError>> {
        Box::pin(async move {
            Ok(Box::new(ConsulClient {
                nodes: self.nodes.bind("consul", node)?,
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

fn json_of(a: &Answer) -> Result<Value, ClientError> {
    serde_json::from_str(&a.text).map_err(|_| ClientError::Unknown(status_error(a)))
}

fn status_error(a: &Answer) -> String {
    let head: String = a.text.trim().chars().take(200).collect();
    format!("HTTP {}: {head}", a.status)
}

/// An op that only reads changed nothing, whatever happened to it.
fn classify(e: ClientError, read_only: bool) -> ClientError {
    match e {
        ClientError::Unknown(m) if read_only => ClientError::Fail(m),
        e => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_keep_the_status_and_a_short_body() {
        let a = Answer {
            status: 500,
            text: "No cluster leader\n".into(),
        };
        assert_eq!(status_error(&a), "HTTP 500: No cluster leader");
        assert!(matches!(json_of(&a), Err(ClientError::Unknown(_))));
        let unknown = || ClientError::Unknown("x".into());
        assert!(matches!(classify(unknown(), true), ClientError::Fail(_)));
        assert!(matches!(
            classify(unknown(), false),
            ClientError::Unknown(_)
        ));
        let down = || ClientError::Unavailable("cannot connect".into());
        assert!(classify(down(), true).is_unavailable());
    }
}
