//! Request bodies and answer parsing for etcd's v3 JSON gateway
//! (grpc-gateway over `etcdserverpb` and `v3lockpb`: `/v3/kv/range`,
//! `/v3/kv/put`, `/v3/kv/txn`, `/v3/lease/grant`, `/v3/lease/revoke`,
//! `/v3/lock/lock`, `/v3/lock/unlock`, `/v3/maintenance/status`). Pure
//! functions, so the shapes are unit-tested without an etcd. Field names
//! are the protobufs' own (`TTL`, `ID`): etcd's gateway marshals with
//! `OrigName`.
//!
//! The gateway's conventions: keys and values are base64 of the raw bytes;
//! 64-bit integers (revisions, member ids) are JSON strings; fields with
//! their zero value are left out (a failed txn has no `succeeded`, a range
//! that found nothing has no `kvs`). temblor stores every value as its JSON
//! text, so any workload value round-trips.

use crate::versioned::Kv;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::{json, Value};

fn b64(s: &str) -> String {
    STANDARD.encode(s.as_bytes())
}

fn unb64(s: &str) -> Result<String, String> {
    let bytes = STANDARD
        .decode(s)
        .map_err(|e| format!("bad base64 {s:?}: {e}"))?;
    String::from_utf8(bytes).map_err(|e| format!("value is not UTF-8: {e}"))
}

/// A range request for one key; `serializable` lets the member answer from
/// its own state without a quorum round (possibly stale).
pub fn range(key: &str, serializable: bool) -> Value {
    let mut r = json!({ "key": b64(key) });
    if serializable {
        r["serializable"] = json!(true);
    }
    r
}

/// A range request for every key that starts with `prefix` (etcd's
/// `WithPrefix`: `range_end` is the prefix with its last byte plus one).
pub fn range_prefix(prefix: &str, serializable: bool) -> Value {
    let mut end = prefix.as_bytes().to_vec();
    match end.iter().rposition(|b| *b < 0xff) {
        Some(i) => {
            end.truncate(i + 1);
            end[i] += 1;
        }
        None => end = vec![0],
    }
    let mut r = range(prefix, serializable);
    r["range_end"] = json!(STANDARD.encode(&end));
    r
}

/// A put of `value` (stored as its JSON text).
pub fn put(key: &str, value: &Value) -> Value {
    json!({ "key": b64(key), "value": b64(&value.to_string()) })
}

/// A txn that puts `new` only if the key's value is exactly `old`.
pub fn cas(key: &str, old: &Value, new: &Value) -> Value {
    json!({
        "compare": [{
            "key": b64(key),
            "target": "VALUE",
            "result": "EQUAL",
            "value": b64(&old.to_string()),
        }],
        "success": [{ "request_put": put(key, new) }],
    })
}

/// A txn with no compare that reads `keys` at one revision.
pub fn read_all(keys: &[String], serializable: bool) -> Value {
    let ranges: Vec<Value> = keys
        .iter()
        .map(|k| json!({ "request_range": range(k, serializable) }))
        .collect();
    json!({ "success": ranges })
}

/// A txn that puts `puts` only if every key in `seen` still has the mod
/// revision it was read at (0: the key did not exist).
pub fn put_if_unchanged(seen: &[(String, i64)], puts: &[(String, Value)]) -> Value {
    let compare: Vec<Value> = seen
        .iter()
        .map(|(k, rev)| {
            json!({
                "key": b64(k),
                "target": "MOD",
                "result": "EQUAL",
                "mod_revision": rev.to_string(),
            })
        })
        .collect();
    let success: Vec<Value> = puts
        .iter()
        .map(|(k, v)| json!({ "request_put": put(k, v) }))
        .collect();
    json!({ "compare": compare, "success": success })
}

/// A lease of `ttl` seconds (`/v3/lease/grant`).
pub fn lease_grant(ttl: i64) -> Value {
    json!({ "TTL": ttl.to_string() })
}

/// The lease id a grant answered.
pub fn parse_lease(resp: &Value) -> Result<i64, String> {
    match int(resp, "ID")? {
        0 => Err(format!("lease grant answer without an ID: {resp}")),
        id => Ok(id),
    }
}

/// Ends lease `id` and deletes every key attached to it (`/v3/lease/revoke`).
pub fn lease_revoke(id: i64) -> Value {
    json!({ "ID": id.to_string() })
}

/// Waits for the lock `name` and takes it under lease `lease`
/// (`/v3/lock/lock`).
pub fn lock(name: &str, lease: i64) -> Value {
    json!({ "name": b64(name), "lease": lease.to_string() })
}

/// The key that holds the lock, from a lock answer.
pub fn parse_lock_key(resp: &Value) -> Result<String, String> {
    let key = resp
        .get("key")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("lock answer without a key: {resp}"))?;
    unb64(key)
}

/// Releases the lock held by `key` (`/v3/lock/unlock`).
pub fn unlock(key: &str) -> Value {
    json!({ "key": b64(key) })
}

/// The store revision an answer was made at (a put's is the revision it
/// wrote: unique and increasing across the cluster).
pub fn header_revision(resp: &Value) -> Result<i64, String> {
    let header = resp
        .get("header")
        .ok_or_else(|| format!("answer without header: {resp}"))?;
    match int(header, "revision")? {
        0 => Err(format!("answer without a revision: {resp}")),
        r => Ok(r),
    }
}

/// A 64-bit integer field: the gateway writes them as strings.
fn int(v: &Value, field: &str) -> Result<i64, String> {
    match v.get(field) {
        None | Some(Value::Null) => Ok(0),
        Some(Value::String(s)) => s
            .parse()
            .map_err(|_| format!("{field} {s:?}: not an integer")),
        Some(Value::Number(n)) => n.as_i64().ok_or_else(|| format!("{field} {n}: not an i64")),
        Some(other) => Err(format!("{field} {other}: not an integer")),
    }
}

/// The first key of a range answer, or `None` when the key does not exist.
pub fn parse_range(resp: &Value) -> Result<Option<Kv>, String> {
    let Some(kv) = resp
        .get("kvs")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
    else {
        return Ok(None);
    };
    let text = unb64(kv.get("value").and_then(Value::as_str).unwrap_or(""))?;
    let value = serde_json::from_str(&text)
        .map_err(|e| format!("stored value {text:?} is not JSON: {e}"))?;
    let version = int(kv, "mod_revision")?;
    Ok(Some(Kv { value, version }))
}

/// Every key a range answered (a prefix range may answer many).
pub fn parse_range_all(resp: &Value) -> Result<Vec<Kv>, String> {
    let kvs = match resp.get("kvs") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(kvs)) => kvs,
        Some(other) => return Err(format!("kvs is not a list: {other}")),
    };
    kvs.iter()
        .map(|kv| {
            parse_range(&json!({ "kvs": [kv] })).map(|kv| {
                kv.unwrap_or(Kv {
                    value: Value::Null,
                    version: 0,
                })
            })
        })
        .collect()
}

/// Whether a txn's compares held (`succeeded` is absent when false).
pub fn txn_succeeded(resp: &Value) -> bool {
    resp.get("succeeded").and_then(Value::as_bool) == Some(true)
}

/// The range answers of a txn built by [`read_all`], in order.
pub fn parse_read_all(resp: &Value) -> Result<Vec<Option<Kv>>, String> {
    let responses = resp
        .get("responses")
        .and_then(Value::as_array)
        .ok_or_else(|| format!("txn answer without responses: {resp}"))?;
    responses
        .iter()
        .map(|r| {
            r.get("response_range")
                .ok_or_else(|| format!("txn response is not a range: {r}"))
                .and_then(parse_range)
        })
        .collect()
}

/// From `/v3/maintenance/status`: whether the answering member leads.
pub fn status_is_leader(resp: &Value) -> Result<bool, String> {
    let header = resp
        .get("header")
        .ok_or_else(|| format!("status without header: {resp}"))?;
    let member = member_id(header, "member_id")?;
    let leader = member_id(resp, "leader")?;
    Ok(member != 0 && member == leader)
}

/// Member ids are uint64, often above i64::MAX; absent means 0 (no leader).
fn member_id(v: &Value, field: &str) -> Result<u64, String> {
    match v.get(field) {
        None | Some(Value::Null) => Ok(0),
        Some(Value::String(s)) => s
            .parse()
            .map_err(|_| format!("{field} {s:?}: not a uint64")),
        Some(Value::Number(n)) => n
            .as_u64()
            .ok_or_else(|| format!("{field} {n}: not a uint64")),
        Some(other) => Err(format!("{field} {other}: not a uint64")),
    }
}

/// What an error answer says: its message and gRPC code (0 when absent).
pub fn parse_error(body: &Value) -> (String, i64) {
    let msg = body
        .get("error")
        .or_else(|| body.get("message"))
        .and_then(Value::as_str)
        .unwrap_or("error")
        .to_string();
    (msg, body.get("code").and_then(Value::as_i64).unwrap_or(0))
}

/// gRPC codes that etcd returns only when the request was rejected before
/// it could take effect: bad argument, permission, quota, compacted
/// revision, failed precondition. Anything else (unavailable, deadline,
/// leader changed, request timed out) may have committed.
pub fn definite_code(code: i64) -> bool {
    matches!(code, 3 | 7 | 8 | 9 | 11 | 16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_base64_and_json_encoded() {
        assert_eq!(range("3", false), json!({"key": "Mw=="}));
        assert_eq!(range("3", true)["serializable"], true);
        // The value 5 is stored as the text "5".
        assert_eq!(put("3", &json!(5)), json!({"key": "Mw==", "value": "NQ=="}));
        let c = cas("3", &json!(1), &json!(2));
        assert_eq!(c["compare"][0]["target"], "VALUE");
        assert_eq!(c["compare"][0]["value"], "MQ==");
        assert_eq!(c["success"][0]["request_put"]["value"], "Mg==");
    }

    #[test]
    fn append_txn_compares_every_mod_revision() {
        let t = put_if_unchanged(
            &[("1".into(), 0), ("2".into(), 17)],
            &[("1".into(), json!([4]))],
        );
        assert_eq!(t["compare"].as_array().unwrap().len(), 2);
        assert_eq!(t["compare"][0]["target"], "MOD");
        assert_eq!(t["compare"][0]["mod_revision"], "0");
        assert_eq!(t["compare"][1]["mod_revision"], "17");
        assert_eq!(t["success"][0]["request_put"]["value"], b64("[4]"));
        let r = read_all(&["1".into(), "2".into()], true);
        assert_eq!(r["success"][1]["request_range"]["serializable"], true);
    }

    #[test]
    fn parses_ranges_txns_and_status() {
        let found = json!({"header": {"revision": "9"}, "kvs": [
            {"key": "Mw==", "create_revision": "2", "mod_revision": "8",
             "version": "3", "value": b64("[1,2]")}], "count": "1"});
        let kv = parse_range(&found).unwrap().unwrap();
        assert_eq!((kv.value, kv.version), (json!([1, 2]), 8));
        assert_eq!(parse_range(&json!({"header": {}})).unwrap(), None);
        assert!(parse_range(&json!({"kvs": [{"value": "!!"}]})).is_err());
        let txn = json!({"header": {}, "succeeded": true, "responses": [
            {"response_range": found}, {"response_range": {"header": {}}}]});
        assert!(txn_succeeded(&txn));
        assert!(!txn_succeeded(&json!({"header": {}})));
        let reads = parse_read_all(&txn).unwrap();
        assert_eq!(reads.len(), 2);
        assert_eq!(reads[1], None);
        let status = json!({"header": {"member_id": "12867084467488187165"},
                            "leader": "12867084467488187165"});
        assert!(status_is_leader(&status).unwrap());
        let follower = json!({"header": {"member_id": "1"}, "leader": "2"});
        assert!(!status_is_leader(&follower).unwrap());
    }

    #[test]
    fn prefixes_leases_and_locks_have_the_gateway_shapes() {
        let r = range_prefix("set/3/", false);
        assert_eq!(r["key"], b64("set/3/"));
        assert_eq!(r["range_end"], b64("set/30"), "'/' + 1 is '0'");
        assert_eq!(lease_grant(10), json!({"TTL": "10"}));
        assert_eq!(
            parse_lease(&json!({"header": {}, "ID": "7587862069340465930", "TTL": "10"})).unwrap(),
            7587862069340465930
        );
        assert!(parse_lease(&json!({"header": {}})).is_err());
        assert_eq!(lease_revoke(5), json!({"ID": "5"}));
        assert_eq!(lock("l", 5), json!({"name": b64("l"), "lease": "5"}));
        let key = format!("l/{:x}", 5);
        assert_eq!(
            parse_lock_key(&json!({"header": {}, "key": b64(&key)})).unwrap(),
            key
        );
        assert_eq!(unlock(&key), json!({"key": b64(&key)}));
        assert_eq!(
            header_revision(&json!({"header": {"revision": "41"}})).unwrap(),
            41
        );
        let kvs = json!({"kvs": [{"key": b64("set/3/1"), "value": b64("1"), "mod_revision": "4"},
                                 {"key": b64("set/3/2"), "value": b64("2"), "mod_revision": "5"}]});
        let all = parse_range_all(&kvs).unwrap();
        assert_eq!(
            all.iter().map(|kv| kv.value.clone()).collect::<Vec<_>>(),
            vec![json!(1), json!(2)]
        );
        assert!(parse_range_all(&json!({"header": {}})).unwrap().is_empty());
    }

    #[test]
    fn errors_say_whether_they_are_definite() {
        let body = json!({"error": "etcdserver: request timed out", "code": 14});
        assert_eq!(
            parse_error(&body),
            ("etcdserver: request timed out".into(), 14)
        );
        assert!(!definite_code(14));
        assert!(definite_code(9));
        assert_eq!(parse_error(&json!({})).1, 0);
    }
}
