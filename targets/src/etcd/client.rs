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
//! Error mapping: a refused connection is `fail`; any error of an op that
//! only reads is `fail` (it changed nothing); for a write, an etcd error
//! with a definite gRPC code is `fail` and anything else (timeout, lost
//! connection, leader change) is `info`.

use super::gateway::{self, Kv};
use checkers::Op;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use workloads::client::BoxFuture;
use workloads::{Client, ClientError, Complete};

/// An etcd client template; [`Client::open`] binds one to a node.
#[derive(Clone)]
pub struct EtcdClient {
    http: reqwest::Client,
    /// Node name -> `http://addr:port`.
    bases: Arc<BTreeMap<String, String>>,
    base: String,
    serializable: bool,
}

/// Whether an op could have changed anything: decides what an error means.
#[derive(Clone, Copy, PartialEq)]
enum Effect {
    ReadOnly,
    Write,
}

impl EtcdClient {
    /// A client template for nodes `addrs` on `client_port`, each request
    /// cut off after `timeout`; `serializable` makes reads stale-allowed.
    pub fn new(
        addrs: &BTreeMap<String, String>,
        client_port: u16,
        timeout: Duration,
        serializable: bool,
    ) -> Result<Self, ClientError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(1)))
            .tcp_nodelay(true)
            .build()
            .map_err(|e| ClientError::Fail(format!("cannot build an HTTP client: {e}")))?;
        let bases = addrs
            .iter()
            .map(|(n, a)| (n.clone(), format!("http://{a}:{client_port}")))
            .collect();
        Ok(EtcdClient {
            http,
            bases: Arc::new(bases),
            base: String::new(),
            serializable,
        })
    }

    /// POSTs `body` to `path` and maps failures as the module doc says.
    async fn call(&self, path: &str, body: Value, effect: Effect) -> Result<Value, ClientError> {
        let url = format!("{}{path}", self.base);
        let resp = self.http.post(url).json(&body).send().await;
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
        let key = gateway::key_of(k);
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
        let micro = parse_micro_ops(op)?;
        let keys: Vec<String> =
            micro
                .iter()
                .map(|m| m.key.clone())
                .fold(Vec::new(), |mut ks, k| {
                    if !ks.contains(&k) {
                        ks.push(k);
                    }
                    ks
                });
        let body = gateway::read_all(&keys, self.serializable);
        let resp = self.call("/v3/kv/txn", body, Effect::ReadOnly).await?;
        let read = gateway::parse_read_all(&resp).map_err(ClientError::Fail)?;
        let seen: BTreeMap<String, Option<Kv>> = keys.iter().cloned().zip(read).collect();
        let (done, puts) = apply(&micro, &seen);
        if puts.is_empty() {
            return Ok(op.ok(Value::Array(done)));
        }
        let revs: Vec<(String, i64)> = seen
            .iter()
            .map(|(k, kv)| (k.clone(), kv.as_ref().map_or(0, |kv| kv.mod_revision)))
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

/// One `[f, k, v]` of a list-append txn.
struct Micro {
    f: String,
    k: Value,
    key: String,
    v: Value,
}

fn parse_micro_ops(op: &Op) -> Result<Vec<Micro>, ClientError> {
    let list = op
        .value
        .as_array()
        .ok_or_else(|| bad(op, "a list of micro-ops"))?;
    list.iter()
        .map(|m| match m.as_array().map(Vec::as_slice) {
            Some([Value::String(f), k, v]) if f == "r" || f == "append" => Ok(Micro {
                f: f.clone(),
                k: k.clone(),
                key: gateway::key_of(k),
                v: v.clone(),
            }),
            _ => Err(bad(op, "[\"r\"|\"append\", key, value] micro-ops")),
        })
        .collect()
}

/// Runs the micro-ops over the lists read: the completed micro-ops (a read
/// sees the txn's own earlier appends) and the lists to put back.
fn apply(
    micro: &[Micro],
    seen: &BTreeMap<String, Option<Kv>>,
) -> (Vec<Value>, Vec<(String, Value)>) {
    let mut lists: BTreeMap<&str, Option<Vec<Value>>> = seen
        .iter()
        .map(|(k, kv)| {
            let list = kv
                .as_ref()
                .map(|kv| kv.value.as_array().cloned().unwrap_or_default());
            (k.as_str(), list)
        })
        .collect();
    let mut appended: Vec<String> = Vec::new();
    let mut done = Vec::with_capacity(micro.len());
    for m in micro {
        let list = lists.entry(m.key.as_str()).or_insert(None);
        let result = if m.f == "append" {
            list.get_or_insert_with(Vec::new).push(m.v.clone());
            if !appended.contains(&m.key) {
                appended.push(m.key.clone());
            }
            m.v.clone()
        } else {
            list.clone().map_or(Value::Null, Value::Array)
        };
        done.push(json!([m.f, m.k, result]));
    }
    let puts = appended
        .into_iter()
        .map(|k| {
            let list = lists.get(k.as_str()).cloned().flatten().unwrap_or_default();
            (k, Value::Array(list))
        })
        .collect();
    (done, puts)
}

impl Client for EtcdClient {
    fn open<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<Box<dyn Client>, ClientError>> {
        Box::pin(async move {
            let base = self
                .bases
                .get(node)
                .ok_or_else(|| ClientError::Fail(format!("etcd: no address for node {node}")))?;
            Ok(Box::new(EtcdClient {
                base: base.clone(),
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

/// `[k, v]`.
fn keyed(op: &Op) -> Result<(&Value, &Value), ClientError> {
    match op.value.as_array().map(Vec::as_slice) {
        Some([k, v]) => Ok((k, v)),
        _ => Err(bad(op, "[key, value]")),
    }
}

fn bad(op: &Op, want: &str) -> ClientError {
    ClientError::Fail(format!("{}: value {} is not {want}", op.f, op.value))
}

/// A request that never got an answer: `fail` only when the connection was
/// refused (nothing was sent), `info` otherwise.
fn send_error(e: reqwest::Error) -> ClientError {
    if e.is_connect() && !e.is_timeout() {
        ClientError::Fail(format!("connection refused: {e}"))
    } else {
        ClientError::Unknown(format!("no answer: {e}"))
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
        let seen: BTreeMap<String, Option<Kv>> = [
            (
                "1".to_string(),
                Some(Kv {
                    value: json!([1, 2]),
                    mod_revision: 5,
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
    fn malformed_micro_ops_are_definite_failures() {
        assert!(matches!(
            parse_micro_ops(&op(json!([["w", 1, 2]]))),
            Err(ClientError::Fail(_))
        ));
        assert!(parse_micro_ops(&op(json!(5))).is_err());
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
    }
}
