//! The messages of the client protocol (docs/client-protocol.md), version
//! 1: what temblor writes to a client's stdin and reads from its stdout,
//! one JSON object per line, and the error codes of Maelstrom's table with
//! their definite (`fail`) or indefinite (`info`) meaning.

use checkers::Op;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use workloads::ClientError;

/// The protocol version this temblor speaks.
pub const VERSION: u32 = 1;

/// Workloads whose op values are Jepsen's independent `[key, value]`
/// tuples: a request carries the two apart, and an `ok` reply's value is
/// the value half.
pub const KEYED_WORKLOADS: &[&str] = &["register", "set"];

/// One node as the init message describes it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct InitNode {
    /// Its name (`n1`).
    pub name: String,
    /// The address clients dial.
    pub address: String,
    /// Its position among the nodes, from 1.
    pub id: usize,
}

/// The first message a client reads.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Init {
    /// Always `init`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The protocol version.
    pub protocol: u32,
    /// This run's id (`<test>/<time>`), the same for every client of the
    /// run: a store that keeps data from run to run (attach mode,
    /// `--no-teardown`) should put it in its keys, so that one run never
    /// reads another's values.
    pub run: String,
    /// The workload's name (`register`, `list-append`, ...).
    pub workload: String,
    /// The node this client is bound to.
    pub node: String,
    /// Every node of the test, in order.
    pub nodes: Vec<InitNode>,
    /// The target's ports by name.
    pub ports: BTreeMap<String, u16>,
    /// The target options, defaults filled in.
    pub options: BTreeMap<String, String>,
    /// How long temblor waits for each reply, in milliseconds.
    pub op_timeout_ms: u64,
}

/// One op, as a request.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Request<'a> {
    /// Always `invoke`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Echoed in the reply.
    pub id: u64,
    /// The op's function (`read`, `write`, `cas`, `txn`, ...).
    pub f: &'a str,
    /// The key, for keyed workloads; `null` otherwise.
    pub key: &'a Value,
    /// The op's argument.
    pub value: &'a Value,
}

/// Whether `workload`'s op values are `[key, value]` tuples.
pub fn is_keyed(workload: &str) -> bool {
    KEYED_WORKLOADS.contains(&workload)
}

/// The request for `op`: keyed workloads send `[k, v]` as key and value.
pub fn request<'a>(workload: &str, id: u64, op: &'a Op) -> Result<Request<'a>, ClientError> {
    const NULL: &Value = &Value::Null;
    let (key, value) = match (is_keyed(workload), op.value.as_array().map(Vec::as_slice)) {
        (true, Some([k, v])) => (k, v),
        (true, _) => {
            return Err(ClientError::Fail(format!(
                "{}: value {} is not [key, value]",
                op.f, op.value
            )))
        }
        (false, _) => (NULL, &op.value),
    };
    Ok(Request {
        kind: "invoke",
        id,
        f: &op.f,
        key,
        value,
    })
}

/// A reply as read from a client's stdout.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reply {
    /// `ok`, `fail`, `info` or `error` (`init_ok` for the init).
    #[serde(rename = "type")]
    pub kind: String,
    /// The request's id (absent on `init_ok`).
    #[serde(default)]
    pub id: Option<u64>,
    /// The result, on `ok`.
    #[serde(default)]
    pub value: Option<Value>,
    /// Why, on `fail` and `info`.
    #[serde(default)]
    pub error: Option<Value>,
    /// The error code, on `error`.
    #[serde(default)]
    pub code: Option<i64>,
    /// What went wrong, on `error`.
    #[serde(default)]
    pub text: Option<String>,
    /// The protocol version, on `init_ok` (optional).
    #[serde(default)]
    pub protocol: Option<u32>,
}

/// Maelstrom's error codes: name, and whether the op certainly did not
/// happen (definite). Codes not listed are indefinite.
pub const CODES: &[(i64, &str, bool)] = &[
    (0, "timeout", false),
    (1, "node-not-found", true),
    (10, "not-supported", true),
    (11, "temporarily-unavailable", true),
    (12, "malformed-request", true),
    (13, "crash", false),
    (14, "abort", true),
    (20, "key-does-not-exist", true),
    (21, "key-already-exists", true),
    (22, "precondition-failed", true),
    (30, "txn-conflict", true),
];

/// The code's name and whether it is definite.
pub fn code_meaning(code: i64) -> (&'static str, bool) {
    CODES
        .iter()
        .find(|(c, _, _)| *c == code)
        .map_or(("unknown-code", false), |(_, name, definite)| {
            (name, *definite)
        })
}

/// Why a line is not a reply to request `id`.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum BadReply {
    /// Not JSON, or not a reply object.
    #[error("not a reply ({0})")]
    Malformed(String),
    /// A reply to another request.
    #[error("a reply to request {got:?}, expected {want}")]
    WrongId {
        /// The id it carries.
        got: Option<u64>,
        /// The id asked.
        want: u64,
    },
}

/// Parses `line` as the reply to request `id`.
pub fn parse_reply(line: &str, id: u64) -> Result<Reply, BadReply> {
    let reply: Reply =
        serde_json::from_str(line).map_err(|e| BadReply::Malformed(e.to_string()))?;
    if reply.id != Some(id) {
        return Err(BadReply::WrongId {
            got: reply.id,
            want: id,
        });
    }
    Ok(reply)
}

/// The completion `reply` makes of `op` (the workload decides the shape of
/// an `ok` value); an error says `fail`, `info` or unavailable.
pub fn complete(workload: &str, op: &Op, reply: Reply) -> Result<Op, ClientError> {
    use workloads::Complete as _;
    let why = |e: Option<Value>| match e {
        Some(Value::String(s)) => s,
        Some(v) => v.to_string(),
        None => "no reason given".to_string(),
    };
    match reply.kind.as_str() {
        "ok" => Ok(op.ok(ok_value(workload, op, reply.value))),
        "fail" => Err(ClientError::Fail(why(reply.error))),
        "info" => Err(ClientError::Unknown(why(reply.error))),
        "error" => {
            let code = reply.code.ok_or_else(|| {
                ClientError::Unknown("an error reply without a code (indefinite)".into())
            })?;
            let (name, definite) = code_meaning(code);
            let text = reply.text.unwrap_or_default();
            let msg = match text.is_empty() {
                true => format!("error {code} {name}"),
                false => format!("error {code} {name}: {text}"),
            };
            Err(match (code, definite) {
                (11, _) => ClientError::Unavailable(msg),
                (_, true) => ClientError::Fail(msg),
                (_, false) => ClientError::Unknown(msg),
            })
        }
        other => Err(ClientError::Unknown(format!(
            "a reply of type {other:?} (expected ok, fail, info or error)"
        ))),
    }
}

/// An `ok`'s value in the history: for keyed workloads `[k, value]`, with
/// the invocation's own value half when the reply gives none (a write);
/// otherwise the reply's value, or the invocation's.
fn ok_value(workload: &str, op: &Op, value: Option<Value>) -> Value {
    match (is_keyed(workload), op.value.as_array().map(Vec::as_slice)) {
        (true, Some([k, v])) => json!([k, value.unwrap_or_else(|| v.clone())]),
        _ => value.unwrap_or_else(|| op.value.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use checkers::OpType;

    fn op(f: &str, value: Value) -> Op {
        Op::new(3, OpType::Invoke, f, value)
    }

    #[test]
    fn keyed_requests_split_the_tuple() {
        let read = op("read", json!([7, null]));
        let line = serde_json::to_string(&request("register", 1, &read).unwrap()).unwrap();
        assert_eq!(
            line,
            r#"{"type":"invoke","id":1,"f":"read","key":7,"value":null}"#
        );
        let txn = op("txn", json!([["append", 1, 2]]));
        let line = serde_json::to_string(&request("list-append", 2, &txn).unwrap()).unwrap();
        assert_eq!(
            line,
            r#"{"type":"invoke","id":2,"f":"txn","key":null,"value":[["append",1,2]]}"#
        );
        assert!(request("register", 3, &op("read", json!(5))).is_err());
        let add = op("add", json!([4, 9]));
        let line = serde_json::to_string(&request("set", 4, &add).unwrap()).unwrap();
        assert_eq!(
            line,
            r#"{"type":"invoke","id":4,"f":"add","key":4,"value":9}"#
        );
        let r = parse_reply(r#"{"type":"ok","id":5,"value":[9,8]}"#, 5).unwrap();
        let read = op("read", json!([4, null]));
        assert_eq!(complete("set", &read, r).unwrap().value, json!([4, [9, 8]]));
        let bank = op("read", json!([0, 1]));
        let line = serde_json::to_string(&request("bank", 6, &bank).unwrap()).unwrap();
        assert_eq!(
            line,
            r#"{"type":"invoke","id":6,"f":"read","key":null,"value":[0,1]}"#
        );
    }

    #[test]
    fn replies_complete_ops_with_the_workloads_shape() {
        let read = op("read", json!([7, null]));
        let r = parse_reply(r#"{"type":"ok","id":4,"value":2}"#, 4).unwrap();
        assert_eq!(complete("register", &read, r).unwrap().value, json!([7, 2]));
        let write = op("write", json!([7, 3]));
        let r = parse_reply(r#"{"type":"ok","id":5}"#, 5).unwrap();
        let done = complete("register", &write, r).unwrap();
        assert_eq!((done.kind, done.value), (OpType::Ok, json!([7, 3])));
        let txn = op("txn", json!([["r", 1, null]]));
        let r = parse_reply(r#"{"type":"ok","id":6,"value":[["r",1,[1,2]]]}"#, 6).unwrap();
        assert_eq!(
            complete("list-append", &txn, r).unwrap().value,
            json!([["r", 1, [1, 2]]])
        );
    }

    #[test]
    fn error_codes_follow_maelstroms_definite_and_indefinite() {
        let cas = op("cas", json!([1, [2, 3]]));
        let code = |c: i64| {
            let line = format!(r#"{{"type":"error","id":1,"code":{c},"text":"t"}}"#);
            complete("register", &cas, parse_reply(&line, 1).unwrap()).unwrap_err()
        };
        assert!(matches!(code(22), ClientError::Fail(m) if m == "error 22 precondition-failed: t"));
        assert!(matches!(code(20), ClientError::Fail(_)));
        assert!(matches!(code(0), ClientError::Unknown(_)));
        assert!(matches!(code(13), ClientError::Unknown(_)));
        assert!(matches!(code(1000), ClientError::Unknown(m) if m.contains("unknown-code")));
        assert!(code(11).is_unavailable());
        let fail = parse_reply(r#"{"type":"fail","id":1,"error":"no"}"#, 1).unwrap();
        assert_eq!(
            complete("register", &cas, fail).unwrap_err(),
            ClientError::Fail("no".into())
        );
        let info = parse_reply(r#"{"type":"info","id":1}"#, 1).unwrap();
        assert!(matches!(
            complete("register", &cas, info),
            Err(ClientError::Unknown(_))
        ));
    }

    #[test]
    fn lines_that_are_not_replies_to_this_request_are_refused() {
        assert!(matches!(
            parse_reply("hello", 1),
            Err(BadReply::Malformed(_))
        ));
        assert!(matches!(
            parse_reply(r#"{"type":"ok","id":2}"#, 1),
            Err(BadReply::WrongId {
                got: Some(2),
                want: 1
            })
        ));
        assert!(matches!(
            parse_reply(r#"{"type":"ok","id":1,"valeu":2}"#, 1),
            Err(BadReply::Malformed(m)) if m.contains("valeu")
        ));
    }
}
