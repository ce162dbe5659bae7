//! Integration tests of raftkv as processes on loopback: a leader killed while
//! clients write loses no acknowledged write, a restarted node catches up
//! (through a snapshot when the log was compacted past it), and bad input gets
//! clear HTTP errors without crashing the node.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::Cluster;

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()
        .unwrap()
}

/// Write distinct keys for `limit` time or `max` writes; return the
/// acknowledged ones.
async fn writer(
    cluster_clients: Vec<String>,
    worker: usize,
    max: usize,
    limit: Duration,
) -> BTreeMap<String, u64> {
    let http = http();
    let mut acked = BTreeMap::new();
    let start = Instant::now();
    for i in 0..max {
        if start.elapsed() > limit {
            break;
        }
        let key = format!("w{worker}-{i}");
        let node = &cluster_clients[(worker + i) % cluster_clients.len()];
        let resp = http
            .put(format!("{node}/kv/{key}"))
            .json(&json!({"value": i}))
            .send()
            .await;
        if resp.is_ok_and(|r| r.status().is_success()) {
            acked.insert(key, i as u64);
        } else {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    acked
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_leader_loses_no_acknowledged_write_and_it_catches_up() {
    let args = [
        "--snapshot-threshold",
        "40",
        "--election-timeout-ms",
        "300",
        "--heartbeat-ms",
        "50",
    ];
    let mut cluster = Cluster::start("kill-leader", 3, &args);
    let http = http();
    let first = cluster
        .leader(&http, Duration::from_secs(10))
        .await
        .expect("a leader is elected");
    let clients: Vec<String> = (1..=3).map(|id| cluster.client(id)).collect();
    let writers: Vec<_> = (0..4)
        .map(|w| tokio::spawn(writer(clients.clone(), w, 400, Duration::from_secs(6))))
        .collect();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    cluster.kill(first);
    let mut acked = BTreeMap::new();
    for w in writers {
        acked.extend(w.await.unwrap());
    }
    assert!(
        acked.len() > 100,
        "too few writes acknowledged: {}",
        acked.len()
    );
    let leader = cluster
        .leader(&http, Duration::from_secs(10))
        .await
        .expect("a new leader");
    assert_ne!(leader, first);
    for (key, value) in &acked {
        let body: Value = http
            .get(format!("{}/kv/{key}", cluster.client(leader)))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            body["value"],
            json!(value),
            "acknowledged write {key}={value} lost"
        );
    }

    // Compact the new leader's log past everything the killed node can hold:
    // it holds at most the entries committed when it died plus the few writes
    // in flight then, so `COMPACT_PAST` further writes put the leader's
    // snapshot beyond its log whatever the timing of the writers above was.
    const COMPACT_PAST: u64 = 200;
    let committed = cluster.status(&http, leader).await.unwrap()["commit"]
        .as_u64()
        .unwrap();
    let more = writer(
        vec![cluster.client(leader)],
        9,
        COMPACT_PAST as usize,
        Duration::from_secs(20),
    )
    .await;
    assert!(
        more.len() as u64 > COMPACT_PAST * 3 / 4,
        "only {} of {COMPACT_PAST} writes to a stable leader succeeded",
        more.len()
    );
    let snapshot = cluster.status(&http, leader).await.unwrap()["snapshot_index"]
        .as_u64()
        .unwrap();
    assert!(
        snapshot > committed + COMPACT_PAST / 2,
        "leader did not compact: snapshot at {snapshot}, {committed} committed before"
    );

    cluster.restart(first);
    let target = cluster.status(&http, leader).await.unwrap()["commit"]
        .as_u64()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut applied = 0;
    while Instant::now() < deadline && applied < target {
        tokio::time::sleep(Duration::from_millis(100)).await;
        applied = cluster
            .status(&http, first)
            .await
            .map_or(0, |s| s["applied"].as_u64().unwrap_or(0));
    }
    assert!(
        applied >= target,
        "restarted node applied {applied} < {target}"
    );
    let log = std::fs::read_to_string(cluster.log_path(first)).unwrap();
    assert!(
        log.contains("installed snapshot"),
        "restarted node did not catch up by snapshot:\n{log}"
    );
}

async fn call(http: &reqwest::Client, req: reqwest::RequestBuilder) -> (u16, Value) {
    let _ = http;
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_clear_errors_and_never_a_crash() {
    let mut cluster = Cluster::start("bad-input", 1, &[]);
    let http = http();
    cluster
        .leader(&http, Duration::from_secs(10))
        .await
        .expect("single node leads");
    let base = cluster.client(1);
    let cases = [
        (
            http.put(format!("{base}/kv/a")).body("{nope"),
            400,
            "malformed",
        ),
        (
            http.put(format!("{base}/kv/a"))
                .body(r#"{"value": 1, "extra": 2}"#),
            400,
            "unknown field",
        ),
        (
            http.post(format!("{base}/kv/a/cas"))
                .body(r#"{"value": 1}"#),
            400,
            "missing field",
        ),
        (
            http.post(format!("{base}/txn"))
                .body(r#"{"ops": [["x", 1, 2]]}"#),
            400,
            "unknown function",
        ),
        (
            http.post(format!("{base}/txn"))
                .body(r#"{"ops": [["add", 1, "two"]]}"#),
            400,
            "add needs an integer",
        ),
        (
            http.post(format!("{base}/transfer"))
                .body(r#"{"from": 1, "to": 2, "amount": -3, "initial": 10}"#),
            400,
            "must not be negative",
        ),
        (
            http.post(format!("{base}/txn"))
                .body(r#"{"ops": [["r", [1], null]]}"#),
            400,
            "key must be",
        ),
        (http.get(format!("{base}/nothing")), 404, "no route"),
        (http.delete(format!("{base}/kv/a")), 405, "not allowed"),
    ];
    for (req, status, needle) in cases {
        let (got, body) = call(&http, req).await;
        assert_eq!(got, status, "{body}");
        assert_eq!(body["definite"], json!(true), "{body}");
        assert!(body["error"].as_str().unwrap().contains(needle), "{body}");
    }
    // An oversized body is read to its end before the 413, which closes
    // the connection: the next request goes out on a fresh one instead of
    // one the server is closing (reqwest's pool would otherwise reuse it).
    let big = format!(r#"{{"value": "{}"}}"#, "x".repeat(2 << 20));
    for _ in 0..3 {
        let resp = http
            .put(format!("{base}/kv/a"))
            .body(big.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 413);
        let close = resp.headers().get("connection").map(|v| v.as_bytes());
        assert_eq!(close, Some(&b"close"[..]), "413 must close the connection");
        let body: Value = resp.json().await.unwrap();
        assert!(
            body["error"].as_str().unwrap().contains("exceeds"),
            "{body}"
        );
        let (got, body) = call(&http, http.get(format!("{base}/kv/a"))).await;
        assert_eq!(got, 200, "the request after a 413: {body}");
    }
    let (got, _) = call(
        &http,
        http.put(format!("{base}/kv/a")).body(r#"{"value": 1}"#),
    )
    .await;
    assert_eq!(got, 200);
    let (got, body) = call(
        &http,
        http.post(format!("{base}/kv/a/cas"))
            .body(r#"{"expect": 2, "value": 3}"#),
    )
    .await;
    assert_eq!(
        (got, body["definite"].clone()),
        (409, json!(true)),
        "{body}"
    );
    let (got, body) = call(
        &http,
        http.post(format!("{base}/txn"))
            .body(r#"{"ops": [["append", "a", 4]]}"#),
    )
    .await;
    assert_eq!(got, 409, "append to a non-list must be refused: {body}");
    assert!(cluster.alive(1), "node crashed on bad input");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_without_a_quorum_says_so_definitely() {
    let mut cluster = Cluster::start("no-quorum", 3, &[]);
    cluster.kill(2);
    cluster.kill(3);
    let http = http();
    let base = cluster.client(1);
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut seen = (0, Value::Null);
    while Instant::now() < deadline && seen.0 != 503 {
        seen = match http.get(format!("{base}/kv/a")).send().await {
            Ok(r) => (r.status().as_u16(), r.json().await.unwrap_or(Value::Null)),
            Err(_) => (0, Value::Null),
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(seen.0, 503, "{:?}", seen.1);
    assert_eq!(seen.1["definite"], json!(true));
    assert!(cluster.alive(1));
}
