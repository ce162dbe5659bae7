//! The run's phases through the real interpreter and recorder, against the
//! in-memory store: the final reads come after the heal and the recovery
//! window, once per worker, marked final; the checkers accept them, and
//! judge by them (a replica that never caught up is caught only by its
//! final read); a stopped run has none.

use super::{path, read};
use checkers::{History, Op, OpType, Process, Verdict};
use harness::interpreter::{Interpreter, Outcome, Shutdown};
use harness::recorder::{Clock, Recorder};
use harness::run::analysis::analyze;
use harness::run::phases::{test_generator, Durations};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use workloads::client::memory::MemoryClient;
use workloads::client::BoxFuture;
use workloads::generator::boxed;
use workloads::nemesis::{schedule, Fault, NemesisError};
use workloads::{by_name, Client, ClientError, Complete, Nemesis, Options, Template};

const THREADS: u64 = 4;
const MS: u64 = 1_000_000;

/// Faults that do nothing but answer.
struct Pretend;

impl Nemesis for Pretend {
    fn invoke<'a>(&'a mut self, op: &'a Op) -> BoxFuture<'a, Result<Op, NemesisError>> {
        Box::pin(async move { Ok(op.ok(json!("done"))) })
    }
}

/// The in-memory store, except that node `stale` answers final ops from a
/// replica that never caught up: an empty store.
struct Lagging {
    store: MemoryClient,
    replica: MemoryClient,
    stale: Option<&'static str>,
    node: String,
}

impl Client for Lagging {
    fn open<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<Box<dyn Client>, ClientError>> {
        let c = Lagging {
            store: self.store.clone(),
            replica: self.replica.clone(),
            stale: self.stale,
            node: node.to_string(),
        };
        Box::pin(async move { Ok(Box::new(c) as Box<dyn Client>) })
    }

    fn invoke<'a>(&'a mut self, op: &'a Op) -> BoxFuture<'a, Result<Op, ClientError>> {
        match op.is_final && self.stale == Some(self.node.as_str()) {
            true => self.replica.invoke(op),
            false => self.store.invoke(op),
        }
    }
}

fn times() -> Durations {
    Durations::new(
        Duration::from_millis(300),
        Duration::from_millis(150),
        Duration::from_millis(100),
    )
}

/// Runs `workload`'s phases with faults every 50 ms, stopped after
/// `stop_after` if given.
async fn run_phases(
    workload: &str,
    stale: Option<&'static str>,
    stop_after: Option<Duration>,
    file: &str,
) -> (Outcome, History) {
    let opts = Options {
        ops_per_key: 50,
        ..Options::default()
    };
    let gens = by_name(workload).unwrap().generators(&opts).unwrap();
    let fault = Fault {
        start: Template::new("start-partition", json!(null)),
        stop: Template::new("stop-partition", json!(null)),
    };
    let faults = boxed(schedule(Duration::from_millis(50), vec![fault]));
    let gen = test_generator(gens.clients, faults, gens.final_reads, &times());
    let client = Lagging {
        store: MemoryClient::new(),
        replica: MemoryClient::new(),
        stale,
        node: String::new(),
    };
    let shutdown = Shutdown::new();
    if let Some(after) = stop_after {
        let trigger = shutdown.clone();
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            trigger.trigger();
        });
    }
    let clock = Clock::start();
    let p = path(file);
    let rec = Recorder::create(&p, clock).unwrap();
    let nodes = vec!["n1".into(), "n2".into()];
    let outcome = Interpreter::new(
        THREADS as usize,
        nodes,
        3,
        Arc::new(client),
        rec.sender(),
        clock,
    )
    .nemesis(Box::new(Pretend))
    .shutdown(shutdown)
    .deadline(Duration::from_secs(30))
    .run(gen)
    .await
    .unwrap();
    rec.finish().await.unwrap();
    (outcome, read(&p))
}

fn thread(op: &Op) -> u64 {
    match op.process {
        Process::Client(p) => p % THREADS,
        Process::Nemesis => THREADS,
    }
}

/// Checks the shape of a finished run's final phase; returns the final
/// invocations of each thread.
fn final_phase(h: &History) -> BTreeMap<u64, Vec<&Op>> {
    let heal = h
        .ops
        .iter()
        .rposition(|o| o.f == "heal")
        .expect("no heal recorded");
    let healed_at = h.ops[heal].time.unwrap();
    let finals: Vec<&Op> = h.ops.iter().filter(|o| o.is_final).collect();
    assert!(
        h.ops[..heal].iter().all(|o| !o.is_final),
        "a final op before the heal"
    );
    assert!(
        h.ops[heal + 1..].iter().all(|o| o.is_final),
        "a non-final op after the heal"
    );
    let mut by_thread: BTreeMap<u64, Vec<&Op>> = BTreeMap::new();
    for op in finals.iter().filter(|o| o.kind == OpType::Invoke) {
        let waited = op.time.unwrap() - healed_at;
        assert!(
            waited >= 150 * MS,
            "final read {} ms after the heal",
            waited / MS
        );
        by_thread.entry(thread(op)).or_default().push(op);
    }
    assert!(finals
        .iter()
        .filter(|o| o.kind != OpType::Invoke)
        .all(|o| o.kind == OpType::Ok));
    assert_eq!(
        by_thread.len(),
        THREADS as usize,
        "a worker did no final read"
    );
    by_thread
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_final_reads_follow_the_recovery_window_once_per_worker_per_key() {
    let (outcome, h) = run_phases("register", None, None, "final-register.jsonl").await;
    assert!(!outcome.interrupted);
    let by_thread = final_phase(&h);
    // Two groups of two threads: two keys in use, read by every worker.
    for (t, reads) in &by_thread {
        let keys: Vec<&serde_json::Value> = reads.iter().map(|o| &o.value[0]).collect();
        assert_eq!(keys.len(), 2, "thread {t} read {keys:?}");
        assert_ne!(keys[0], keys[1]);
        assert!(reads.iter().all(|o| o.f == "read" && o.value[1].is_null()));
    }
    let first: Vec<_> = by_thread[&0].iter().map(|o| &o.value).collect();
    assert!(by_thread
        .values()
        .all(|r| r.iter().map(|o| &o.value).collect::<Vec<_>>() == first));
    let checkers = by_name("register").unwrap().checkers(&Options::default());
    let analysis = analyze(&h, &checkers, Duration::from_secs(60));
    assert_eq!(analysis.verdict, Verdict::Valid, "{:#?}", analysis.checks);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_append_final_reads_are_one_txn_per_worker_that_elle_accepts() {
    let (outcome, h) = run_phases("list-append", None, None, "final-append.jsonl").await;
    assert!(!outcome.interrupted);
    for (t, txns) in final_phase(&h) {
        assert_eq!(txns.len(), 1, "thread {t}");
        let micro = txns[0].value.as_array().unwrap();
        assert_eq!(micro.len(), Options::default().key_count);
        assert!(micro.iter().all(|m| m[0] == "r" && m[2].is_null()));
    }
    let checkers = by_name("list-append")
        .unwrap()
        .checkers(&Options::default());
    let analysis = analyze(&h, &checkers, Duration::from_secs(60));
    assert_eq!(analysis.verdict, Verdict::Valid, "{:#?}", analysis.checks);
}

/// `h` without its final ops.
fn without_finals(h: &History) -> History {
    let ops = h.ops.iter().filter(|o| !o.is_final).cloned();
    History::from_ops("no finals", ops)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_that_never_caught_up_is_caught_by_its_final_reads() {
    for workload in ["register", "list-append"] {
        let file = format!("final-stale-{workload}.jsonl");
        let (_, h) = run_phases(workload, Some("n2"), None, &file).await;
        final_phase(&h);
        let checkers = by_name(workload).unwrap().checkers(&Options::default());
        let with = analyze(&h, &checkers, Duration::from_secs(60));
        assert_eq!(with.verdict, Verdict::Invalid, "{workload}");
        let without = analyze(&without_finals(&h), &checkers, Duration::from_secs(60));
        assert_eq!(
            without.verdict,
            Verdict::Valid,
            "{workload} without final reads"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_run_has_no_final_reads() {
    let stop = Some(Duration::from_millis(100));
    let (outcome, h) = run_phases("register", None, stop, "final-stopped.jsonl").await;
    assert!(outcome.interrupted);
    assert!(h.ops.iter().all(|o| !o.is_final));
    assert!(
        h.ops.iter().all(|o| o.f != "heal"),
        "the generator's heal ran"
    );
    let last = h.ops.iter().filter_map(|o| o.time).max().unwrap();
    assert!(
        last < 300 * MS,
        "ops went on after the stop: {} ms",
        last / MS
    );
}
