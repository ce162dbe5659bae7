//! Request paths, bodies and answer parsing for Consul's HTTP API, built to
//! its documentation (developer.hashicorp.com/consul/api-docs: `kv`, `txn`,
//! `status`); pure functions, unit-tested against the documented shapes.
//!
//! - `GET /v1/kv/<key>` answers `[{"Key", "Value" (base64), "ModifyIndex",
//!   ...}]`, or 404 when the key does not exist; `?consistent` and
//!   `?stale` choose the consistency mode.
//! - `PUT /v1/kv/<key>[?cas=<ModifyIndex>]` with the raw value as body
//!   answers `true` or `false` (`cas=0`: only if the key does not exist).
//! - `PUT /v1/txn` takes `[{"KV": {"Verb", "Key", "Value", "Index"}}]` and
//!   answers 200 `{"Results": [{"KV": ...}]}` or 409 `{"Errors": [{"OpIndex",
//!   "What"}]}` when it rolled back. A read-only txn honours `?stale` /
//!   `?consistent`. `get` fails the txn on a missing key, so reads use
//!   `get-tree` and keep the exact key.
//! - `GET /v1/kv/<prefix>?recurse` answers every entry under the prefix
//!   (404 when there is none).
//! - A txn's `set` answers the entry written, with its `ModifyIndex` (the
//!   Raft index of the write: unique and increasing).
//! - `PUT /v1/session/create` with `{"TTL", "LockDelay", "Behavior"}`
//!   answers `{"ID"}`; `PUT /v1/kv/<key>?acquire=<session>` (or
//!   `?release=`) answers `true` or `false`; `PUT
//!   /v1/session/destroy/<session>` ends a session and releases its locks.
//! - `GET /v1/status/leader` answers `"10.77.0.11:8300"` (`""`: none).

use crate::versioned::Kv;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::{json, Value};

/// How reads are served (Consul's consistency modes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    /// The leader answers without checking it still leads (may be stale
    /// for a moment after a leader change).
    #[default]
    Default,
    /// The leader confirms its leadership with a quorum first.
    Consistent,
    /// Any server answers from its own state.
    Stale,
}

impl Mode {
    /// `default`, `consistent` or `stale`.
    pub fn parse(s: &str) -> Option<Mode> {
        match s {
            "default" => Some(Mode::Default),
            "consistent" => Some(Mode::Consistent),
            "stale" => Some(Mode::Stale),
            _ => None,
        }
    }

    fn query(self) -> &'static str {
        match self {
            Mode::Default => "",
            Mode::Consistent => "?consistent",
            Mode::Stale => "?stale",
        }
    }

    /// The mode as one more query parameter (`&consistent`).
    fn and(self) -> &'static str {
        match self {
            Mode::Default => "",
            Mode::Consistent => "&consistent",
            Mode::Stale => "&stale",
        }
    }
}

/// The Consul key of a store key: under `temblor/`.
pub fn kv_key(key: &str) -> String {
    format!("temblor/{key}")
}

/// `GET` path reading `key` in `mode`.
pub fn read_path(key: &str, mode: Mode) -> String {
    format!("/v1/kv/{}{}", kv_key(key), mode.query())
}

/// `PUT` path writing `key`, as a check-and-set when `cas` is given.
pub fn write_path(key: &str, cas: Option<i64>) -> String {
    match cas {
        Some(i) => format!("/v1/kv/{}?cas={i}", kv_key(key)),
        None => format!("/v1/kv/{}", kv_key(key)),
    }
}

/// `GET` path reading every entry under `prefix` in `mode`.
pub fn read_prefix_path(prefix: &str, mode: Mode) -> String {
    format!("/v1/kv/{}?recurse{}", kv_key(prefix), mode.and())
}

/// The entries of a `?recurse` read (200), as (key, value) pairs.
pub fn parse_entries(body: &Value) -> Result<Vec<(String, Kv)>, String> {
    body.as_array()
        .ok_or_else(|| format!("a recurse read answered {body}, not a list"))?
        .iter()
        .map(entry)
        .collect()
}

/// A txn that writes `value` to `key` (its answer names the write's index).
pub fn set_txn(key: &str, value: &Value) -> Value {
    let value = STANDARD.encode(value.to_string());
    json!([{"KV": {"Verb": "set", "Key": kv_key(key), "Value": value}}])
}

/// The `ModifyIndex` of the first entry a txn answered.
pub fn txn_index(body: &Value) -> Result<i64, String> {
    body.get("Results")
        .and_then(Value::as_array)
        .and_then(|r| r.first())
        .and_then(|r| r.get("KV"))
        .and_then(|kv| kv.get("ModifyIndex"))
        .and_then(Value::as_i64)
        .ok_or_else(|| format!("txn answer without a ModifyIndex: {body}"))
}

/// The body creating a session that lasts `ttl_secs` unless renewed,
/// releases its locks when it ends, and lets them be taken again at once.
pub fn session_create(ttl_secs: u64) -> Value {
    json!({"Name": "temblor", "TTL": format!("{ttl_secs}s"), "LockDelay": "0s", "Behavior": "release"})
}

/// The id of a session `PUT /v1/session/create` answered.
pub fn parse_session(body: &Value) -> Result<String, String> {
    body.get("ID")
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty())
        .map(str::to_string)
        .ok_or_else(|| format!("session answer without an ID: {body}"))
}

/// `PUT` path taking (`acquire`) or giving back (`release`) the lock `key`
/// for `session`.
pub fn lock_path(key: &str, verb: &str, session: &str) -> String {
    format!("/v1/kv/{}?{verb}={session}", kv_key(key))
}

/// `PUT` path ending `session`.
pub fn session_destroy_path(session: &str) -> String {
    format!("/v1/session/destroy/{session}")
}

/// `PUT` path of a txn; the mode only matters when it only reads.
pub fn txn_path(mode: Mode) -> String {
    format!("/v1/txn{}", mode.query())
}

/// A read-only txn: one `get-tree` per key (a missing key is no error).
pub fn read_txn(keys: &[String]) -> Value {
    let ops: Vec<Value> = keys
        .iter()
        .map(|k| json!({"KV": {"Verb": "get-tree", "Key": kv_key(k)}}))
        .collect();
    Value::Array(ops)
}

/// A txn that sets `puts` only if every key of `seen` still has the
/// ModifyIndex it was read at (0: still absent).
pub fn write_txn(seen: &[(String, i64)], puts: &[(String, Value)]) -> Value {
    let checks = seen.iter().map(|(k, index)| match index {
        0 => json!({"KV": {"Verb": "check-not-exists", "Key": kv_key(k)}}),
        i => json!({"KV": {"Verb": "check-index", "Key": kv_key(k), "Index": i}}),
    });
    let sets = puts.iter().map(|(k, v)| {
        let value = STANDARD.encode(v.to_string());
        json!({"KV": {"Verb": "set", "Key": kv_key(k), "Value": value}})
    });
    Value::Array(checks.chain(sets).collect())
}

/// One KV entry (`{"Key", "Value", "ModifyIndex"}`) as (key, value).
fn entry(kv: &Value) -> Result<(String, Kv), String> {
    let key = kv.get("Key").and_then(Value::as_str).unwrap_or("");
    let version = kv.get("ModifyIndex").and_then(Value::as_i64).unwrap_or(0);
    let value = match kv.get("Value").and_then(Value::as_str) {
        None => Value::Null,
        Some(b) => {
            let bytes = STANDARD
                .decode(b)
                .map_err(|e| format!("{key}: bad base64: {e}"))?;
            serde_json::from_slice(&bytes).map_err(|e| format!("{key}: value not JSON: {e}"))?
        }
    };
    Ok((key.to_string(), Kv { value, version }))
}

/// The answer of a `GET /v1/kv/<key>` that found it (200).
pub fn parse_read(body: &Value) -> Result<Option<Kv>, String> {
    match body.as_array().and_then(|a| a.first()) {
        Some(kv) => entry(kv).map(|(_, kv)| Some(kv)),
        None => Ok(None),
    }
}

/// The entries of a txn built by [`read_txn`], for each of `keys`.
pub fn parse_read_txn(body: &Value, keys: &[String]) -> Result<Vec<Option<Kv>>, String> {
    let results = match body.get("Results") {
        Some(Value::Array(r)) => r.as_slice(),
        Some(Value::Null) | None => &[],
        Some(other) => return Err(format!("txn Results is not a list: {other}")),
    };
    let mut found = Vec::new();
    for r in results {
        if let Some(kv) = r.get("KV") {
            found.push(entry(kv)?);
        }
    }
    let pick = |k: &String| {
        let want = kv_key(k);
        found
            .iter()
            .find(|(key, _)| *key == want)
            .map(|(_, kv)| kv.clone())
    };
    Ok(keys.iter().map(pick).collect())
}

/// The rollback reasons of a 409 txn answer, one line.
pub fn txn_errors(body: &Value) -> String {
    let errors = body.get("Errors").and_then(Value::as_array);
    let whats: Vec<String> = errors
        .into_iter()
        .flatten()
        .map(|e| {
            let what = e.get("What").and_then(Value::as_str).unwrap_or("?");
            format!("op {}: {what}", e.get("OpIndex").unwrap_or(&Value::Null))
        })
        .collect();
    whats.join("; ")
}

/// `GET /v1/status/leader`: whether `addr` (an IP) leads.
pub fn leader_is(body: &Value, addr: &str) -> bool {
    body.as_str()
        .and_then(|l| l.rsplit_once(':'))
        .is_some_and(|(ip, _)| ip == addr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_carry_the_mode_and_cas_index() {
        assert_eq!(read_path("3", Mode::Default), "/v1/kv/temblor/3");
        assert_eq!(
            read_path("3", Mode::Consistent),
            "/v1/kv/temblor/3?consistent"
        );
        assert_eq!(read_path("3", Mode::Stale), "/v1/kv/temblor/3?stale");
        assert_eq!(write_path("3", Some(42)), "/v1/kv/temblor/3?cas=42");
        assert_eq!(write_path("3", None), "/v1/kv/temblor/3");
        assert_eq!(txn_path(Mode::Stale), "/v1/txn?stale");
        assert_eq!(Mode::parse("consistent"), Some(Mode::Consistent));
        assert_eq!(Mode::parse("linear"), None);
    }

    #[test]
    fn parses_the_documented_kv_answer() {
        // From the KV API docs, with the value "[1,2]".
        let body = json!([{"CreateIndex": 100, "ModifyIndex": 200, "LockIndex": 200,
            "Key": "temblor/3", "Flags": 0, "Value": "WzEsMl0=", "Session": ""}]);
        let kv = parse_read(&body).unwrap().unwrap();
        assert_eq!((kv.value, kv.version), (json!([1, 2]), 200));
        assert_eq!(parse_read(&json!([])).unwrap(), None);
        assert!(parse_read(&json!([{"Key": "k", "Value": "%%"}])).is_err());
    }

    #[test]
    fn txns_check_every_index_and_reads_keep_exact_keys() {
        let t = write_txn(
            &[("1".into(), 0), ("2".into(), 7)],
            &[("2".into(), json!([5]))],
        );
        assert_eq!(t[0]["KV"]["Verb"], "check-not-exists");
        assert_eq!(
            t[1]["KV"],
            json!({"Verb": "check-index", "Key": "temblor/2", "Index": 7})
        );
        assert_eq!(t[2]["KV"]["Verb"], "set");
        assert_eq!(t[2]["KV"]["Value"], "WzVd");
        assert_eq!(read_txn(&["1".into()])[0]["KV"]["Verb"], "get-tree");
        // get-tree on temblor/1 also returns temblor/10: only the exact key counts.
        let body = json!({"Results": [
            {"KV": {"Key": "temblor/10", "Value": "WzFd", "ModifyIndex": 9}},
            {"KV": {"Key": "temblor/1", "Value": "WzJd", "ModifyIndex": 8}}], "Errors": null});
        let got = parse_read_txn(&body, &["1".into(), "4".into()]).unwrap();
        assert_eq!(got[0].as_ref().unwrap().value, json!([2]));
        assert_eq!(got[1], None);
        let rolled_back = json!({"Results": null,
            "Errors": [{"OpIndex": 1, "What": "failed index check for key \"temblor/2\""}]});
        assert!(txn_errors(&rolled_back).starts_with("op 1: failed index check"));
    }

    #[test]
    fn sets_ids_and_sessions_follow_the_documented_shapes() {
        assert_eq!(
            read_prefix_path("set/3/", Mode::Default),
            "/v1/kv/temblor/set/3/?recurse"
        );
        assert_eq!(
            read_prefix_path("set/3/", Mode::Stale),
            "/v1/kv/temblor/set/3/?recurse&stale"
        );
        let body = json!([{"Key": "temblor/set/3/1", "Value": "MQ==", "ModifyIndex": 5},
                          {"Key": "temblor/set/3/2", "Value": "Mg==", "ModifyIndex": 6}]);
        let entries = parse_entries(&body).unwrap();
        assert_eq!(
            entries
                .iter()
                .map(|(_, kv)| kv.value.clone())
                .collect::<Vec<_>>(),
            vec![json!(1), json!(2)]
        );
        assert!(parse_entries(&json!({})).is_err());
        assert_eq!(set_txn("ids", &json!(null))[0]["KV"]["Verb"], "set");
        // The txn docs' answer: each result holds the entry with its indexes.
        let answer = json!({"Results": [{"KV": {"LockIndex": 0, "Key": "temblor/ids", "Flags": 0,
            "Value": null, "CreateIndex": 12, "ModifyIndex": 37}}], "Errors": null});
        assert_eq!(txn_index(&answer).unwrap(), 37);
        assert!(txn_index(&json!({"Results": []})).is_err());
        let s = session_create(10);
        assert_eq!(
            (
                s["TTL"].as_str(),
                s["Behavior"].as_str(),
                s["LockDelay"].as_str()
            ),
            (Some("10s"), Some("release"), Some("0s"))
        );
        assert_eq!(
            parse_session(&json!({"ID": "adf4238a-882b-9ddc-4a9d-5b6758e4159e"})).unwrap(),
            "adf4238a-882b-9ddc-4a9d-5b6758e4159e"
        );
        assert!(parse_session(&json!({"ID": ""})).is_err());
        assert_eq!(
            lock_path("lock", "acquire", "s1"),
            "/v1/kv/temblor/lock?acquire=s1"
        );
        assert_eq!(session_destroy_path("s1"), "/v1/session/destroy/s1");
    }

    #[test]
    fn the_leader_is_named_by_its_server_address() {
        assert!(leader_is(&json!("10.77.0.11:8300"), "10.77.0.11"));
        assert!(!leader_is(&json!("10.77.0.11:8300"), "10.77.0.1"));
        assert!(!leader_is(&json!(""), "10.77.0.11"));
    }
}
