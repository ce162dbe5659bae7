//! raftkv's client for the register and list-append workloads, over its
//! HTTP/JSON API (see targets/raftkv/README.md).
//!
//! Error mapping (Jepsen's `client.clj` contract): an answer that says the
//! op certainly did not happen (`"definite": true`: not the leader before
//! proposing, a cas whose compare failed, a bad request) is `fail`; a
//! refused connection is `fail` too (the request never reached the node);
//! those two, and a definite 503 (starting up, no leader known), are
//! marked unavailable so the worker backs off; anything else (a timeout, a
//! dropped connection, an indefinite error) is `info`, because the write may
//! still take effect.

use crate::client::{bad, keyed, send_error, NodeHttp};
use checkers::Op;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;
use workloads::client::BoxFuture;
use workloads::{Client, ClientError, Complete};

/// A raftkv client template; [`Client::open`] binds one to a node.
#[derive(Clone)]
pub struct RaftKvClient {
    nodes: NodeHttp,
}

impl RaftKvClient {
    /// The workloads this client implements.
    pub const WORKLOADS: &'static [&'static str] = &["register", "list-append"];

    /// A client template for nodes `addrs` (name -> address) on
    /// `client_port`, each request cut off after `timeout`.
    pub fn new(
        addrs: &BTreeMap<String, String>,
        client_port: u16,
        timeout: Duration,
    ) -> Result<Self, ClientError> {
        Ok(RaftKvClient {
            nodes: NodeHttp::new(addrs, client_port, timeout)?,
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
                let body = json!({ "expect": pair[0], "value": pair[1] });
                self.call(reqwest::Method::POST, &format!("{path}/cas"), Some(body))
                    .await?;
                Ok(op.ok(op.value.clone()))
            }
            f => Err(ClientError::Fail(format!("raftkv: unknown f {f:?}"))),
        }
    }

    async fn txn(&self, op: &Op) -> Result<Op, ClientError> {
        if !op.value.is_array() {
            return Err(bad(op, "a list of micro-ops"));
        }
        let v = self
            .call(
                reqwest::Method::POST,
                "/txn",
                Some(json!({ "ops": op.value })),
            )
            .await?;
        let done = v
            .get("ops")
            .cloned()
            .ok_or_else(|| ClientError::Unknown(format!("txn answer without ops: {v}")))?;
        Ok(op.ok(done))
    }
}

impl Client for RaftKvClient {
    fn open<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<Box<dyn Client>, ClientError>> {
        Box::pin(async move {
            Ok(Box::new(RaftKvClient {
                nodes: self.nodes.bind("raftkv", node)?,
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

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A node on loopback that answers every request with `status` and `body`.
    async fn canned(status: &'static str, body: &'static str) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 1024];
                // Read the head and as much body as Content-Length says.
                loop {
                    let n = stream.read(&mut chunk).await.unwrap_or(0);
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).to_lowercase();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let len = text
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        if n == 0 || buf.len() >= end + 4 + len {
                            break;
                        }
                    } else if n == 0 {
                        break;
                    }
                }
                let reply = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\n\
                     content-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(reply.as_bytes()).await;
            }
        });
        port.to_string()
    }

    async fn write_to(status: &'static str, body: &'static str) -> ClientError {
        let port = canned(status, body).await;
        let addrs = BTreeMap::from([("n1".to_string(), "127.0.0.1".to_string())]);
        let template =
            RaftKvClient::new(&addrs, port.parse().unwrap(), Duration::from_secs(2)).unwrap();
        let mut client = template.open("n1").await.unwrap();
        let op = Op::new(0, checkers::OpType::Invoke, "write", json!([1, 2]));
        client.invoke(&op).await.unwrap_err()
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
}
