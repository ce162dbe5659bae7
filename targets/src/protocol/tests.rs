//! temblor's side of the protocol against a fixture client in Python
//! (`targets/tests/fixtures/memory_client.py`) that answers, misbehaves
//! or dies on request.

use super::*;
use checkers::OpType;
use serde_json::{json, Value};

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// A template running the fixture with `args`, logging into the vector.
fn template(
    workload: &str,
    args: &[&str],
    op_timeout: Duration,
) -> (ProtocolClient, Arc<Mutex<Vec<String>>>) {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&lines);
    let mut argv = vec!["python3".to_string(), "memory_client.py".to_string()];
    argv.extend(args.iter().map(|a| a.to_string()));
    let client = ProtocolClient::new(Settings {
        program: Program {
            argv,
            cwd: fixture(),
            env: BTreeMap::new(),
            start_timeout: Duration::from_secs(30),
        },
        run: "test/1".into(),
        workload: workload.into(),
        nodes: vec![("n1".into(), "10.0.0.1".into())],
        ports: BTreeMap::from([("client".to_string(), 7000)]),
        options: BTreeMap::new(),
        op_timeout,
        log: Arc::new(move |l: &str| sink.lock().unwrap().push(l.to_string())),
    });
    (client, lines)
}

fn op(f: &str, value: Value) -> Op {
    Op::new(0, OpType::Invoke, f, value)
}

#[tokio::test]
async fn a_register_client_answers_ok_fail_and_error_codes() {
    let (t, _) = template("register", &[], Duration::from_secs(30));
    let mut c = t.open("n1").await.unwrap();
    let done = c.invoke(&op("write", json!([1, 5]))).await.unwrap();
    assert_eq!((done.kind, done.value), (OpType::Ok, json!([1, 5])));
    let done = c.invoke(&op("read", json!([1, null]))).await.unwrap();
    assert_eq!(done.value, json!([1, 5]));
    let e = c.invoke(&op("cas", json!([1, [4, 6]]))).await.unwrap_err();
    assert_eq!(
        e,
        ClientError::Fail("error 22 precondition-failed: expected 4".into())
    );
    let done = c.invoke(&op("cas", json!([1, [5, 6]]))).await.unwrap();
    assert_eq!(done.kind, OpType::Ok);
    assert!(c
        .invoke(&op("error", json!([1, 11])))
        .await
        .unwrap_err()
        .is_unavailable());
    assert!(matches!(
        c.invoke(&op("info", json!([1, null]))).await,
        Err(ClientError::Unknown(_))
    ));
    c.close().await.unwrap();
}

#[tokio::test]
async fn list_append_txns_round_trip() {
    let (t, _) = template("list-append", &[], Duration::from_secs(30));
    let mut c = t.open("n1").await.unwrap();
    c.invoke(&op("txn", json!([["append", 3, 1], ["append", 3, 2]])))
        .await
        .unwrap();
    let done = c.invoke(&op("txn", json!([["r", 3, null]]))).await.unwrap();
    assert_eq!(done.value, json!([["r", 3, [1, 2]]]));
    c.close().await.unwrap();
}

#[tokio::test]
async fn no_reply_within_the_op_timeout_is_info_and_the_client_is_stopped() {
    let (t, log) = template("test", &[], Duration::from_millis(300));
    let mut c = t.open("n1").await.unwrap();
    let e = c.invoke(&op("hang", json!(null))).await.unwrap_err();
    assert!(
        matches!(&e, ClientError::Unknown(m) if m.contains("no reply within")),
        "{e:?}"
    );
    // The program is gone: the next op on it is info without a request.
    let e = c.invoke(&op("read", json!(null))).await.unwrap_err();
    assert!(
        matches!(&e, ClientError::Unknown(m) if m.contains("stopped")),
        "{e:?}"
    );
    let log = log.lock().unwrap().join("\n");
    assert!(log.contains("request 1 (hang): no reply within"), "{log}");
}

#[tokio::test]
async fn garbage_and_exits_are_info_with_the_line_and_status_in_the_log() {
    let (t, log) = template("test", &[], Duration::from_secs(30));
    let mut c = t.open("n1").await.unwrap();
    let e = c.invoke(&op("garbage", json!(null))).await.unwrap_err();
    assert!(matches!(&e, ClientError::Unknown(m) if m.contains("this is not a reply")));
    let mut c = t.open("n1").await.unwrap();
    let e = c.invoke(&op("exit", json!(null))).await.unwrap_err();
    assert!(
        matches!(&e, ClientError::Unknown(m) if m.contains("exit status: 3")),
        "{e:?}"
    );
    let log = log.lock().unwrap().join("\n");
    assert!(log.contains("this is not a reply"), "{log}");
    assert!(log.contains("exiting on purpose"), "{log}");
    assert!(log.contains("exit status: 3"), "{log}");
}

#[tokio::test]
async fn a_client_that_cannot_start_says_its_command_and_stderr() {
    let (t, _) = template("register", &["--die-at-start"], Duration::from_secs(30));
    let e = t.open("n1").await.err().unwrap().to_string();
    for want in ["memory_client.py --die-at-start", "boom", "exit status: 2"] {
        assert!(e.contains(want), "{want} missing from {e}");
    }
    let (t, _) = template("register", &["--refuse-init"], Duration::from_secs(30));
    let e = t.open("n1").await.err().unwrap().to_string();
    assert!(e.contains("refused init: error 12 bad options"), "{e}");
    let mut missing = template("register", &[], Duration::from_secs(1)).0;
    Arc::get_mut(&mut missing.shared).unwrap().program.argv = vec!["/nonexistent/client".into()];
    let e = missing.open("n1").await.err().unwrap().to_string();
    assert!(
        e.contains("cannot start the client `/nonexistent/client`"),
        "{e}"
    );
    assert!(e.contains("No such file"), "{e}");
}
