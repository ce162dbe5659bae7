//! What the HTTP clients of every target share: reading Jepsen's
//! independent `[key, value]` tuples, refusing values of the wrong shape,
//! and telling a request that was never sent (`fail`) from one that got no
//! answer (`info`), after Jepsen's client contract.

#[cfg(test)]
pub(crate) mod fake;

use checkers::Op;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use workloads::ClientError;

/// An HTTP client for a target's nodes: one connection pool, every node's
/// base URL, and the node this copy is bound to ([`NodeHttp::bind`]).
#[derive(Clone)]
pub(crate) struct NodeHttp {
    http: reqwest::Client,
    /// Node name -> `http://addr:port`.
    bases: Arc<BTreeMap<String, String>>,
    base: String,
}

impl NodeHttp {
    /// Nodes `addrs` (name -> address) on `port`, each request cut off
    /// after `timeout` (connecting after at most 1 s).
    pub fn new(
        addrs: &BTreeMap<String, String>,
        port: u16,
        timeout: Duration,
    ) -> Result<Self, ClientError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(1)))
            .tcp_nodelay(true)
            .build()
            .map_err(|e| ClientError::Fail(format!("cannot build an HTTP client: {e}")))?;
        let bases = addrs
            .iter()
            .map(|(n, a)| (n.clone(), format!("http://{a}:{port}")))
            .collect();
        Ok(NodeHttp {
            http,
            bases: Arc::new(bases),
            base: String::new(),
        })
    }

    /// A copy bound to `node`; `target` names the store in the error.
    pub fn bind(&self, target: &str, node: &str) -> Result<Self, ClientError> {
        let base = self
            .bases
            .get(node)
            .ok_or_else(|| ClientError::Fail(format!("{target}: no address for node {node}")))?;
        Ok(NodeHttp {
            base: base.clone(),
            ..self.clone()
        })
    }

    /// A request to `path` on the bound node.
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http.request(method, format!("{}{path}", self.base))
    }
}

/// The workload a built-in client was made for ([`workloads::Client::for_workload`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Served {
    /// Not told: registers, and `txn` as list-append (what the clients did
    /// before they served several workloads).
    Unset,
    Register,
    ListAppend,
    RwRegister,
    Set,
    Counter,
    Bank,
    UniqueIds,
    Lock,
    Queue,
}

impl Served {
    /// `workload`, if `target`'s client (which serves `supported`) can.
    pub fn parse(target: &str, supported: &[&str], workload: &str) -> Result<Served, ClientError> {
        let served = match workload {
            "register" => Served::Register,
            "list-append" => Served::ListAppend,
            "rw-register" => Served::RwRegister,
            "set" => Served::Set,
            "counter" => Served::Counter,
            "bank" => Served::Bank,
            "unique-ids" => Served::UniqueIds,
            "lock" => Served::Lock,
            "queue" => Served::Queue,
            _ => Served::Unset,
        };
        if served == Served::Unset || !supported.contains(&workload) {
            return Err(ClientError::Fail(format!(
                "{target} has no client for the {workload} workload (it has: {})",
                supported.join(", ")
            )));
        }
        Ok(served)
    }
}

/// The workloads the etcd and Consul clients serve: all but queue, which
/// neither store offers.
pub(crate) const KV_WORKLOADS: &[&str] = &[
    "register",
    "list-append",
    "rw-register",
    "set",
    "counter",
    "bank",
    "unique-ids",
    "lock",
];

/// What each lock owner holds (a lease, a session), kept on a client
/// template so that it outlives the process a crash replaced.
#[derive(Debug)]
pub(crate) struct Owners<H>(std::sync::Mutex<BTreeMap<String, H>>);

impl<H> Default for Owners<H> {
    fn default() -> Self {
        Owners(std::sync::Mutex::new(BTreeMap::new()))
    }
}

impl<H: Clone> Owners<H> {
    /// What `owner` holds.
    pub fn get(&self, owner: &str) -> Option<H> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(owner)
            .cloned()
    }

    /// `owner` now holds `h` (nothing, with `None`).
    pub fn set(&self, owner: &str, h: Option<H>) {
        let mut m = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match h {
            Some(h) => m.insert(owner.to_string(), h),
            None => m.remove(owner),
        };
    }
}

/// An op whose `f` the workload being served does not have.
pub(crate) fn unknown_f(target: &str, served: Served, op: &Op) -> ClientError {
    ClientError::Fail(format!(
        "{target}: the {served:?} client has no f {:?}",
        op.f
    ))
}

/// The bank's accounts of a read: `[0, 1, ...]`.
pub(crate) fn accounts(op: &Op) -> Result<&[Value], ClientError> {
    op.value
        .as_array()
        .map(Vec::as_slice)
        .ok_or_else(|| bad(op, "a list of accounts"))
}

/// A transfer's `(from, to, amount)`.
pub(crate) fn transfer(op: &Op) -> Result<(&Value, &Value, i64), ClientError> {
    let v = &op.value;
    match (
        v.get("from"),
        v.get("to"),
        v.get("amount").and_then(Value::as_i64),
    ) {
        (Some(from), Some(to), Some(amount)) if amount >= 0 => Ok((from, to, amount)),
        _ => Err(bad(
            op,
            "{\"from\": account, \"to\": account, \"amount\": n >= 0}",
        )),
    }
}

/// The `[k, v]` of a register op.
pub(crate) fn keyed(op: &Op) -> Result<(&Value, &Value), ClientError> {
    match op.value.as_array().map(Vec::as_slice) {
        Some([k, v]) => Ok((k, v)),
        _ => Err(bad(op, "[key, value]")),
    }
}

/// A value of the wrong shape: the op was never sent, so it failed.
pub(crate) fn bad(op: &Op, want: &str) -> ClientError {
    ClientError::Fail(format!("{}: value {} is not {want}", op.f, op.value))
}

/// A request that never got an answer. When no connection could be made
/// (refused, no route to the host), nothing was sent: the op failed, and the
/// node is down or cut off, which [`ClientError::Unavailable`] tells the
/// worker so it backs off. Anything else (a timeout, a dropped connection)
/// is `info`.
pub(crate) fn send_error(e: reqwest::Error) -> ClientError {
    if e.is_connect() && !e.is_timeout() {
        ClientError::Unavailable(format!("cannot connect: {}", root_cause(&e)))
    } else {
        ClientError::Unknown(format!("no answer: {e}"))
    }
}

/// `e` and the innermost error it wraps: reqwest's own message names only
/// the URL, the cause says why ("Connection refused (os error 111)").
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut inner = e;
    while let Some(next) = inner.source() {
        inner = next;
    }
    match std::ptr::addr_eq(inner, e) {
        true => e.to_string(),
        false => format!("{e}: {inner}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_refused_connection_is_unavailable_and_says_why() {
        // A port that was just free on loopback: nothing listens there.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let e = reqwest::Client::new()
            .get(format!("http://127.0.0.1:{port}/"))
            .send()
            .await
            .unwrap_err();
        let mapped = send_error(e);
        assert!(mapped.is_unavailable(), "{mapped:?}");
        assert!(mapped.to_string().contains("refused"), "{mapped}");
    }
}
