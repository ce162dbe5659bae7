//! The client API: HTTP/1.1 with JSON bodies on hyper. Routes:
//! `GET /kv/{key}`, `PUT /kv/{key}` `{"value": v}`, `POST /kv/{key}/cas`
//! `{"expect": v, "value": v}`, `POST /txn` `{"ops": [["r", k, null],
//! ["append", k, v], ["w", k, v], ["add", k, n], ["pop", k, null]]}`,
//! `POST /transfer` `{"from": k, "to": k, "amount": n, "initial": n}`,
//! `GET /status`, `GET /health`. Every error is a JSON
//! body `{"error": "...", "definite": bool}` so a client can tell `fail`
//! (definite: nothing happened) from `info` (indefinite), after Jepsen's
//! client error convention. A non-leader answers 307 with the leader's
//! address in `Location` and in the body.

use std::convert::Infallible;
use std::sync::{mpsc as std_mpsc, Arc};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::oneshot;

use crate::kv::{self, Command, MicroF};
use crate::node::{ApiError, ClientRequest, Event, Query, SharedStatus};

/// Request bodies larger than this are refused with 413.
pub const MAX_BODY: usize = 1 << 20;

/// An oversized body is read and dropped up to this size, or for this long,
/// before the 413 goes out: a client still sending when the server answers
/// and hangs up gets a reset instead of the answer (the "lingering close"
/// of Apache and nginx).
const DRAIN_MAX: usize = 64 << 20;
const DRAIN_TIME: Duration = Duration::from_secs(5);

pub struct Api {
    pub events: std_mpsc::Sender<Event>,
    pub status: SharedStatus,
    pub timeout: Duration,
}

type Resp = Response<Full<Bytes>>;

/// An answer that is not a success, with its HTTP status.
struct Failure {
    status: StatusCode,
    error: String,
    definite: bool,
    leader: Option<(u64, Option<String>)>,
}

fn bad_request(error: impl ToString) -> Failure {
    Failure {
        status: StatusCode::BAD_REQUEST,
        error: error.to_string(),
        definite: true,
        leader: None,
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WriteBody {
    value: Value,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CasBody {
    expect: Value,
    value: Value,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TxnBody {
    ops: Vec<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TransferBody {
    from: Value,
    to: Value,
    amount: i64,
    initial: i64,
}

/// Serve one connection's requests.
pub async fn handle(api: Arc<Api>, req: Request<Incoming>) -> Result<Resp, Infallible> {
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.to_string())
        .unwrap_or_default();
    let response = match route(&api, req).await {
        Ok(body) => json_response(StatusCode::OK, &body),
        Err(failure) => failure_response(failure, &path),
    };
    Ok(response)
}

async fn route(api: &Api, req: Request<Incoming>) -> Result<Value, Failure> {
    let path = req.uri().path().trim_start_matches('/').to_string();
    let parts: Vec<&str> = path.split('/').collect();
    let method = req.method().clone();
    match (&method, parts.as_slice()) {
        (&Method::GET, ["health"]) => Ok(json!({"ok": true})),
        (&Method::GET, ["status"]) => Ok(serde_json::to_value(api.status()).unwrap_or_default()),
        (&Method::GET, ["kv", key]) => read_key(api, key).await,
        (&Method::PUT, ["kv", key]) => {
            let body: WriteBody = parse_body(req).await?;
            let key = key_of(key)?;
            propose(
                api,
                Command::Write {
                    key,
                    value: body.value,
                },
            )
            .await
        }
        (&Method::POST, ["kv", key, "cas"]) => {
            let body: CasBody = parse_body(req).await?;
            let (key, expect, value) = (key_of(key)?, body.expect, body.value);
            propose(api, Command::Cas { key, expect, value }).await
        }
        (&Method::POST, ["txn"]) => txn(api, parse_body(req).await?).await,
        (&Method::POST, ["transfer"]) => {
            let body: TransferBody = parse_body(req).await?;
            if body.amount < 0 {
                return Err(bad_request("a transfer's amount must not be negative"));
            }
            let command = Command::Transfer {
                from: kv::key_slot(&body.from).map_err(bad_request)?,
                to: kv::key_slot(&body.to).map_err(bad_request)?,
                amount: body.amount,
                initial: body.initial,
            };
            propose(api, command).await
        }
        (_, ["health"] | ["status"] | ["kv", _] | ["kv", _, "cas"] | ["txn"] | ["transfer"]) => {
            Err(Failure {
                status: StatusCode::METHOD_NOT_ALLOWED,
                ..bad_request(format!("method {method} not allowed on /{path}"))
            })
        }
        _ => Err(Failure {
            status: StatusCode::NOT_FOUND,
            ..bad_request(format!("no route /{path}"))
        }),
    }
}

/// Proposes `command` and answers `{"ok": true}` once it is applied.
async fn propose(api: &Api, command: Command) -> Result<Value, Failure> {
    let request = ClientRequest::Propose {
        command,
        reply: dummy(),
    };
    api.call(request, true).await.map(|_| json!({"ok": true}))
}

fn key_of(segment: &str) -> Result<String, Failure> {
    kv::key_slot(&Value::String(segment.to_string())).map_err(bad_request)
}

async fn read_key(api: &Api, key: &str) -> Result<Value, Failure> {
    let query = Query::Key(key_of(key)?);
    let value = api
        .call(
            ClientRequest::Read {
                query,
                reply: dummy(),
                leased: false,
            },
            false,
        )
        .await?;
    Ok(json!({"value": value}))
}

async fn txn(api: &Api, body: TxnBody) -> Result<Value, Failure> {
    let ops = kv::parse_micro_ops(&body.ops).map_err(bad_request)?;
    if ops.is_empty() {
        return Err(bad_request("transaction has no micro-ops"));
    }
    let request = if ops.iter().all(|op| op.f == MicroF::R) {
        ClientRequest::Read {
            query: Query::Txn(ops),
            reply: dummy(),
            leased: false,
        }
    } else {
        ClientRequest::Propose {
            command: Command::Txn { ops },
            reply: dummy(),
        }
    };
    let writes = matches!(request, ClientRequest::Propose { .. });
    let ops = api.call(request, writes).await?;
    Ok(json!({"ops": ops}))
}

/// A placeholder the caller replaces with the real responder.
fn dummy() -> crate::node::Responder {
    oneshot::channel().0
}

async fn parse_body<T: serde::de::DeserializeOwned>(req: Request<Incoming>) -> Result<T, Failure> {
    let bytes = read_body(req.into_body()).await?;
    serde_json::from_slice(&bytes).map_err(|e| bad_request(format!("malformed request body: {e}")))
}

/// The body, up to [`MAX_BODY`]; past that a 413, once the rest has been
/// read and dropped (see [`DRAIN_MAX`]). The 413 closes the connection
/// ([`failure_response`]) so no client sends another request on it.
async fn read_body(mut body: Incoming) -> Result<Vec<u8>, Failure> {
    let mut bytes = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| bad_request(format!("reading request body: {e}")))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if bytes.len() + data.len() > MAX_BODY {
            let drain = drain(&mut body, bytes.len() + data.len());
            let _ = tokio::time::timeout(DRAIN_TIME, drain).await;
            let error = format!("request body exceeds {MAX_BODY} bytes");
            return Err(Failure {
                status: StatusCode::PAYLOAD_TOO_LARGE,
                ..bad_request(error)
            });
        }
        bytes.extend_from_slice(&data);
    }
    Ok(bytes)
}

/// Reads and drops the rest of `body` until its end or [`DRAIN_MAX`].
async fn drain(body: &mut Incoming, mut seen: usize) {
    while seen <= DRAIN_MAX {
        match body.frame().await {
            Some(Ok(frame)) => seen += frame.data_ref().map_or(0, |d| d.len()),
            Some(Err(_)) | None => return,
        }
    }
}

impl Api {
    fn status(&self) -> crate::node::NodeStatus {
        self.status.read().map(|s| s.clone()).unwrap_or_default()
    }

    /// Hand a request to the driver and wait for its answer. A write that
    /// times out is indefinite; a read that times out had no effect.
    async fn call(&self, request: ClientRequest, writes: bool) -> Result<Value, Failure> {
        let status = self.status();
        if !status.started {
            return Err(Failure {
                status: StatusCode::SERVICE_UNAVAILABLE,
                ..bad_request("node is starting up")
            });
        }
        let (tx, rx) = oneshot::channel();
        let request = match request {
            ClientRequest::Propose { command, .. } => ClientRequest::Propose { command, reply: tx },
            // The `lease-reads` bug's fast path: the lease is judged here,
            // by the status the driver last published, and the driver then
            // answers without judging it again (TiKV's local reader does
            // the same). After a pause that status is stale until the
            // driver has read the news of a newer term and published again.
            ClientRequest::Read { query, .. } => ClientRequest::Read {
                query,
                reply: tx,
                leased: status.lease,
            },
        };
        if self.events.send(Event::Client(request)).is_err() {
            return Err(Failure {
                status: StatusCode::SERVICE_UNAVAILABLE,
                ..bad_request("node is shutting down")
            });
        }
        match tokio::time::timeout(self.timeout, rx).await {
            Ok(Ok(Ok(value))) => Ok(value),
            Ok(Ok(Err(e))) => Err(self.api_failure(e)),
            Ok(Err(_)) => Err(indefinite(
                StatusCode::INTERNAL_SERVER_ERROR,
                "request dropped by the node",
                writes,
            )),
            Err(_) => Err(indefinite(
                StatusCode::GATEWAY_TIMEOUT,
                "timed out waiting for commit",
                writes,
            )),
        }
    }

    fn api_failure(&self, e: ApiError) -> Failure {
        match e {
            ApiError::NotLeader { leader: Some(id) } => {
                let addr = self
                    .status()
                    .leader_client
                    .filter(|_| self.status().leader == Some(id));
                let status = if addr.is_some() {
                    StatusCode::TEMPORARY_REDIRECT
                } else {
                    StatusCode::SERVICE_UNAVAILABLE
                };
                Failure {
                    status,
                    leader: Some((id, addr)),
                    ..bad_request("not leader")
                }
            }
            ApiError::NotLeader { leader: None } => Failure {
                status: StatusCode::SERVICE_UNAVAILABLE,
                ..bad_request("not leader and no leader known")
            },
            ApiError::Refused(error) => Failure {
                status: StatusCode::CONFLICT,
                ..bad_request(error)
            },
            ApiError::Indefinite(error) => {
                indefinite(StatusCode::INTERNAL_SERVER_ERROR, &error, true)
            }
        }
    }
}

fn indefinite(status: StatusCode, error: &str, writes: bool) -> Failure {
    Failure {
        status,
        error: error.to_string(),
        definite: !writes,
        leader: None,
    }
}

fn json_response(status: StatusCode, body: &Value) -> Resp {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}

fn failure_response(f: Failure, path: &str) -> Resp {
    let mut body = json!({"error": f.error, "definite": f.definite});
    if let Some((id, addr)) = &f.leader {
        body["leader"] = json!(id);
        body["leader_client"] = json!(addr);
    }
    let mut response = json_response(f.status, &body);
    if f.status == StatusCode::PAYLOAD_TOO_LARGE {
        response.headers_mut().insert(
            hyper::header::CONNECTION,
            hyper::header::HeaderValue::from_static("close"),
        );
    }
    if let Some((_, Some(addr))) = &f.leader {
        if let Ok(location) = hyper::header::HeaderValue::from_str(&format!("http://{addr}{path}"))
        {
            response
                .headers_mut()
                .insert(hyper::header::LOCATION, location);
        }
    }
    response
}
