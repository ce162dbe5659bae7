//! Consul's client for every workload but queue, over its HTTP KV, txn
//! and session API (see [`super::api`]), following Jepsen's Consul test
//! (`jepsen.consul`: a cas reads the ModifyIndex, compares the value
//! here, then writes with `?cas=<index>`).
//!
//! - register: `read` is a GET in the chosen mode, `write` a PUT, `cas` a
//!   consistent GET then `PUT ?cas=<ModifyIndex>` (`false` is a `fail`).
//! - list-append and rw-register: a read-only txn of `get-tree`s (in the
//!   chosen mode), then a txn of `check-index`/`check-not-exists` and
//!   `set`s; a 409 rollback is a definite `fail` ([`crate::versioned`]).
//! - set: element `e` of set `k` is its own key `set/{k}/{e}`; a read is a
//!   `?recurse` GET of the prefix.
//! - counter and bank: the same read-then-checked-txn as transactions; a
//!   transfer that would overdraw fails without writing; an account never
//!   written holds the bank's initial balance.
//! - unique-ids: the `ModifyIndex` of a txn's `set` (the Raft index).
//! - lock ([`lock`]): a session per owner, `?acquire=` and `?release=`.
//!
//! Error mapping: a refused connection is `fail` (unavailable: the worker
//! backs off); any error of an op that only reads is `fail`; otherwise a
//! 4xx (bad request, rollback) is `fail` and anything else (timeout, 5xx
//! such as "No cluster leader") `info`.

mod lock;

use super::api::{self, Mode};
use crate::client::{bad, keyed, send_error, unknown_f, NodeHttp, Served};
use crate::versioned::{self, Kv, Versioned};
use checkers::Op;
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use workloads::client::BoxFuture;
use workloads::{Client, ClientError, Complete, Options};

/// A Consul client template; [`Client::open`] binds one to a node.
#[derive(Clone)]
pub struct ConsulClient {
    nodes: NodeHttp,
    mode: Mode,
    served: Served,
    /// Each lock owner's session, shared by every client of the template.
    owners: Arc<lock::Owners>,
}

/// An answer: HTTP status and body text.
struct Answer {
    status: u16,
    text: String,
}

impl ConsulClient {
    /// The workloads this client serves.
    pub const WORKLOADS: &'static [&'static str] = crate::client::KV_WORKLOADS;

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
            served: Served::Unset,
            owners: Arc::default(),
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

    /// A write: `Ok(answer)` on 200, `fail` on another 4xx, else `info`.
    async fn write(&self, path: &str, body: String) -> Result<Answer, ClientError> {
        let a = self.call(Method::PUT, path, Some(body), false).await?;
        match a.status {
            200 => Ok(a),
            400..=499 => Err(ClientError::Fail(status_error(&a))),
            _ => Err(ClientError::Unknown(status_error(&a))),
        }
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
        let a = self
            .write(&api::write_path(key, cas), value.to_string())
            .await?;
        Ok(a.text.trim() == "true")
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
}

impl versioned::Store for ConsulClient {
    const NAME: &'static str = "consul";

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
                let kv = self.get(&key, self.mode).await?;
                Ok(op.ok(json!([k, kv.map_or(Value::Null, |kv| kv.value)])))
            }
            "write" => {
                self.put(&key, arg, None).await?;
                Ok(op.ok(op.value.clone()))
            }
            "cas" => self.cas(op, &key, arg).await,
            _ => Err(unknown_f("consul", self.served, op)),
        }
    }

    async fn set(&self, op: &Op) -> Result<Op, ClientError> {
        let (k, e) = keyed(op)?;
        let prefix = format!("set/{}/", versioned::key_of(k));
        match op.f.as_str() {
            "add" => {
                self.put(&format!("{prefix}{e}"), e, None).await?;
                Ok(op.ok(op.value.clone()))
            }
            "read" => {
                let path = api::read_prefix_path(&prefix, self.mode);
                let a = self.call(Method::GET, &path, None, true).await?;
                let elements: Vec<Value> = match a.status {
                    404 => Vec::new(),
                    200 => api::parse_entries(&json_of(&a)?)
                        .map_err(ClientError::Fail)?
                        .into_iter()
                        .map(|(_, kv)| kv.value)
                        .collect(),
                    _ => return Err(ClientError::Fail(status_error(&a))),
                };
                Ok(op.ok(json!([k, elements])))
            }
            _ => Err(unknown_f("consul", self.served, op)),
        }
    }

    async fn unique_id(&self, op: &Op) -> Result<Op, ClientError> {
        let body = api::set_txn("ids", &Value::Null).to_string();
        let a = self.write(&api::txn_path(Mode::Default), body).await?;
        let index = api::txn_index(&json_of(&a)?).map_err(ClientError::Unknown)?;
        Ok(op.ok(json!(index)))
    }
}

impl Versioned for ConsulClient {
    async fn get_all(&self, keys: &[String]) -> Result<BTreeMap<String, Option<Kv>>, ClientError> {
        let body = api::read_txn(keys).to_string();
        let a = self
            .call(Method::PUT, &api::txn_path(self.mode), Some(body), true)
            .await?;
        if a.status != 200 {
            return Err(ClientError::Fail(status_error(&a)));
        }
        let read = api::parse_read_txn(&json_of(&a)?, keys).map_err(ClientError::Fail)?;
        Ok(keys.iter().cloned().zip(read).collect())
    }

    async fn put_if_unchanged(
        &self,
        seen: &BTreeMap<String, Option<Kv>>,
        puts: &[(String, Value)],
    ) -> Result<Option<String>, ClientError> {
        let versions: Vec<(String, i64)> = seen
            .iter()
            .map(|(k, kv)| (k.clone(), kv.as_ref().map_or(0, |kv| kv.version)))
            .collect();
        let body = api::write_txn(&versions, puts).to_string();
        let a = self
            .call(
                Method::PUT,
                &api::txn_path(Mode::Default),
                Some(body),
                false,
            )
            .await?;
        match a.status {
            200 => Ok(None),
            409 => Ok(Some(format!(
                "rolled back: {}",
                api::txn_errors(&json_of(&a)?)
            ))),
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
        Box::pin(async move { versioned::serve(self, op).await })
    }

    fn for_workload(
        &self,
        workload: &str,
        _: &Options,
    ) -> Result<Option<Box<dyn Client>>, ClientError> {
        let served = Served::parse("consul", Self::WORKLOADS, workload)?;
        Ok(Some(Box::new(ConsulClient {
            served,
            ..self.clone()
        })))
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
    use crate::client::fake;
    use checkers::OpType;

    async fn client_for(
        workload: &str,
        script: impl Fn(&fake::Request) -> (&'static str, String) + Send + Sync + 'static,
    ) -> (Box<dyn Client>, fake::Seen) {
        let (addrs, port, seen) = fake::serve(script).await;
        let template =
            ConsulClient::new(&addrs, port, Duration::from_millis(500), Mode::Default).unwrap();
        let made = template
            .for_workload(workload, &Options::default())
            .unwrap()
            .unwrap();
        (made.open("n1").await.unwrap(), seen)
    }

    fn invoke(f: &str, value: Value) -> Op {
        Op::new(0, OpType::Invoke, f, value)
    }

    #[tokio::test]
    async fn an_id_is_the_modify_index_of_a_txn_set() {
        let answer = r#"{"Results":[{"KV":{"Key":"temblor/ids","ModifyIndex":91,"CreateIndex":3}}],"Errors":null}"#;
        let (mut c, seen) = client_for("unique-ids", move |_| ("200 OK", answer.into())).await;
        assert_eq!(
            c.invoke(&invoke("generate", json!(null)))
                .await
                .unwrap()
                .value,
            json!(91)
        );
        let sent = seen.lock().unwrap()[0].clone();
        assert_eq!(
            (sent.method.as_str(), sent.path.as_str()),
            ("PUT", "/v1/txn")
        );
        assert_eq!(sent.body[0]["KV"]["Verb"], "set");
    }

    #[tokio::test]
    async fn a_set_nobody_added_to_reads_empty() {
        let (mut c, seen) = client_for("set", |_| ("404 Not Found", String::new())).await;
        assert_eq!(
            c.invoke(&invoke("read", json!([4, null])))
                .await
                .unwrap()
                .value,
            json!([4, []])
        );
        assert_eq!(
            seen.lock().unwrap()[0].path,
            "/v1/kv/temblor/set/4/?recurse"
        );
    }

    #[tokio::test]
    async fn a_lock_is_acquired_and_released_with_the_owners_session() {
        let (mut c, seen) = client_for("lock", |r| match r.path.as_str() {
            "/v1/session/create" => ("200 OK", r#"{"ID":"s-1"}"#.into()),
            _ => ("200 OK", "true".into()),
        })
        .await;
        c.invoke(&invoke("acquire", json!(5))).await.unwrap();
        let again = c.invoke(&invoke("acquire", json!(5))).await.unwrap();
        assert_eq!(
            again.kind,
            OpType::Fail,
            "Consul would say true: refused here"
        );
        c.invoke(&invoke("release", json!(5))).await.unwrap();
        c.invoke(&invoke("acquire", json!(5))).await.unwrap();
        let paths: Vec<String> = seen
            .lock()
            .unwrap()
            .iter()
            .map(|r| r.path.clone())
            .collect();
        assert_eq!(
            paths,
            vec![
                "/v1/session/create",
                "/v1/kv/temblor/lock?acquire=s-1",
                "/v1/kv/temblor/lock?release=s-1",
                "/v1/kv/temblor/lock?acquire=s-1",
            ]
        );
        assert_eq!(seen.lock().unwrap()[0].body["Behavior"], "release");
    }

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
