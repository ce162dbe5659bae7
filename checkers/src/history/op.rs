//! One record of a history: Jepsen's op map as a Rust value.

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;
use std::fmt;

/// An invocation or a completion, as Jepsen writes it.
///
/// The JSON form is `{"index":0,"time":12,"process":3,"type":"invoke",
/// "f":"write","value":4}` plus optional `node`, `error` and `final`; the
/// file stays neutral so any tool, in any language, can write it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Op {
    /// Dense position in the history (0..).
    #[serde(default)]
    pub index: u64,
    /// Nanoseconds since the test started, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<u64>,
    /// The logical process (a client worker, or the nemesis).
    pub process: Process,
    /// invoke, ok, fail or info.
    #[serde(rename = "type")]
    pub kind: OpType,
    /// The function: `read`, `write`, `cas`, `txn`, ...
    pub f: String,
    /// The argument (on invoke) or the result (on completion).
    #[serde(default)]
    pub value: Value,
    /// The node the op was sent to, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// Why the op failed or is indeterminate, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Value>,
    /// True for the ops of the final phase, issued after every fault was
    /// healed and the cluster had time to recover (Jepsen's `:final?`).
    /// Written only when true, so histories without a final phase, and
    /// readers that ignore unknown fields, are unchanged.
    #[serde(
        default,
        rename = "final",
        alias = "final?",
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub is_final: bool,
}

impl Op {
    /// A client op with no time, node or error: handy in tests and
    /// generators.
    pub fn new(process: u64, kind: OpType, f: impl Into<String>, value: Value) -> Op {
        Op {
            index: 0,
            time: None,
            process: Process::Client(process),
            kind,
            f: f.into(),
            value,
            node: None,
            error: None,
            is_final: false,
        }
    }

    /// Same op with `time` set.
    pub fn at(mut self, time: u64) -> Op {
        self.time = Some(time);
        self
    }

    /// True for the nemesis's records, which are faults, not client ops.
    pub fn is_nemesis(&self) -> bool {
        self.process == Process::Nemesis
    }
}

/// The four op types of Jepsen's model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OpType {
    /// The op was issued.
    Invoke,
    /// The op took effect.
    Ok,
    /// The op certainly did not take effect.
    Fail,
    /// Unknown: the op may take effect at any later time, or never.
    Info,
}

impl OpType {
    /// Parses `invoke`, `ok`, `fail` or `info` (a leading `:` as in EDN is
    /// allowed).
    pub fn parse(s: &str) -> Option<OpType> {
        match s.strip_prefix(':').unwrap_or(s) {
            "invoke" => Some(OpType::Invoke),
            "ok" => Some(OpType::Ok),
            "fail" => Some(OpType::Fail),
            "info" => Some(OpType::Info),
            _ => None,
        }
    }

    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            OpType::Invoke => "invoke",
            OpType::Ok => "ok",
            OpType::Fail => "fail",
            OpType::Info => "info",
        }
    }
}

impl fmt::Display for OpType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who issued an op: a client worker's logical process, or the nemesis.
/// Serialized as an integer or the string `"nemesis"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Process {
    /// A client worker's logical process id.
    Client(u64),
    /// The fault injector.
    Nemesis,
}

impl fmt::Display for Process {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Process::Client(p) => write!(f, "{p}"),
            Process::Nemesis => f.write_str("nemesis"),
        }
    }
}

impl Serialize for Process {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Process::Client(p) => s.serialize_u64(*p),
            Process::Nemesis => s.serialize_str("nemesis"),
        }
    }
}

impl<'de> Deserialize<'de> for Process {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ProcessVisitor;
        impl Visitor<'_> for ProcessVisitor {
            type Value = Process;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a non-negative integer or \"nemesis\"")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Process, E> {
                Ok(Process::Client(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Process, E> {
                u64::try_from(v)
                    .map(Process::Client)
                    .map_err(|_| E::custom(format!("process {v} is negative")))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Process, E> {
                match v.strip_prefix(':').unwrap_or(v) {
                    "nemesis" => Ok(Process::Nemesis),
                    other => Err(E::custom(format!(
                        "process {other:?} is neither an integer nor \"nemesis\""
                    ))),
                }
            }
        }
        d.deserialize_any(ProcessVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_op_round_trips_through_json() {
        let op = Op::new(3, OpType::Invoke, "write", json!(4)).at(12);
        let text = serde_json::to_string(&op).unwrap();
        assert_eq!(
            text,
            r#"{"index":0,"time":12,"process":3,"type":"invoke","f":"write","value":4}"#
        );
        assert_eq!(serde_json::from_str::<Op>(&text).unwrap(), op);
    }

    #[test]
    fn the_final_mark_is_written_only_when_set() {
        let op = Op {
            is_final: true,
            ..Op::new(1, OpType::Invoke, "read", json!(null))
        };
        let text = serde_json::to_string(&op).unwrap();
        assert!(text.ends_with(r#""value":null,"final":true}"#), "{text}");
        assert_eq!(serde_json::from_str::<Op>(&text).unwrap(), op);
        let jepsen = r#"{"process":1,"type":"invoke","f":"read","final?":true}"#;
        assert!(serde_json::from_str::<Op>(jepsen).unwrap().is_final);
        let plain = r#"{"process":1,"type":"invoke","f":"read"}"#;
        assert!(!serde_json::from_str::<Op>(plain).unwrap().is_final);
    }

    #[test]
    fn the_nemesis_is_a_process() {
        let op: Op =
            serde_json::from_str(r#"{"process":"nemesis","type":"info","f":"start","value":null}"#)
                .unwrap();
        assert!(op.is_nemesis());
        assert!(serde_json::from_str::<Op>(r#"{"process":-1,"type":"ok","f":"r"}"#).is_err());
        assert!(serde_json::from_str::<Op>(r#"{"process":1,"type":"done","f":"r"}"#).is_err());
    }
}
