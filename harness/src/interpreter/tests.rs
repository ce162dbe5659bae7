//! The interpreter with scripted clients: pairing, crashes and new
//! processes, stops, deadlines and the nemesis.

use super::*;
use crate::recorder::Recorder;
use checkers::{History, OpType, Process};
use serde_json::json;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use workloads::client::memory::MemoryClient;
use workloads::client::BoxFuture;
use workloads::generator::{any, clients, from_fn, limit, nemesis, once, time_limit};
use workloads::nemesis::{schedule, Fault, NemesisError};
use workloads::{ClientError, Complete, Template};

fn path(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("temblor-interp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn read_history(path: &PathBuf) -> History {
    let text = std::fs::read_to_string(path).unwrap();
    let ops = text.lines().map(|l| serde_json::from_str(l).unwrap());
    History::from_ops(path.display().to_string(), ops)
}

/// Runs `gen` with `client` on `n` threads; returns the outcome and the
/// recorded history.
async fn run_with(
    name: &str,
    n: usize,
    client: Arc<dyn Client>,
    gen: impl Generator,
    tweak: impl FnOnce(Interpreter) -> Interpreter,
) -> (Outcome, History) {
    let p = path(name);
    let clock = Clock::start();
    let rec = Recorder::create(&p, clock).unwrap();
    let nodes = vec!["n1".to_string(), "n2".to_string()];
    let interp = tweak(Interpreter::new(n, nodes, 7, client, rec.sender(), clock));
    let outcome = interp.run(gen).await.unwrap();
    rec.finish().await.unwrap();
    (outcome, read_history(&p))
}

fn reads(n: u64) -> impl Generator {
    clients(limit(
        n,
        from_fn(|_| Template::new("read", json!([0, null]))),
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_invocation_is_paired_with_its_completion() {
    let (outcome, h) = run_with(
        "paired.jsonl",
        8,
        Arc::new(MemoryClient::new()),
        reads(400),
        |i| i,
    )
    .await;
    assert_eq!((outcome.invoked, outcome.ok), (400, 400));
    let ops = h.operations().unwrap();
    assert_eq!(ops.len(), 400);
    assert!(ops.iter().all(|o| o.complete.is_some()));
    assert!(h.ops.iter().all(|o| o.node.is_some()));
    let times: Vec<u64> = h.ops.iter().map(|o| o.time.unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "times go back");
}

/// Every third op is ambiguous.
struct Flaky(Arc<AtomicU64>);

impl Client for Flaky {
    fn open<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<Box<dyn Client>, ClientError>> {
        let c = Flaky(self.0.clone());
        Box::pin(async move { Ok(Box::new(c) as Box<dyn Client>) })
    }

    fn invoke<'a>(&'a mut self, op: &'a Op) -> BoxFuture<'a, Result<Op, ClientError>> {
        let n = self.0.fetch_add(1, Ordering::Relaxed);
        Box::pin(async move {
            match n % 3 {
                2 => Err(ClientError::Unknown("connection reset".into())),
                _ => Ok(op.ok(json!(1))),
            }
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_op_moves_its_worker_to_a_new_process() {
    let client = Arc::new(Flaky(Arc::new(AtomicU64::new(0))));
    let (outcome, h) = run_with("flaky.jsonl", 3, client, reads(30), |i| i).await;
    assert_eq!((outcome.ok, outcome.info), (20, 10));
    h.operations().unwrap();
    let crashed: Vec<&Op> = h.ops.iter().filter(|o| o.kind == OpType::Info).collect();
    assert!(crashed
        .iter()
        .all(|o| o.error == Some(json!("connection reset"))));
    for c in crashed {
        let later = h.ops[c.index as usize + 1..].iter();
        assert!(
            later.filter(|o| o.process == c.process).count() == 0,
            "process {} reused",
            c.process
        );
    }
    let max = h.ops.iter().filter_map(|o| match o.process {
        Process::Client(p) => Some(p),
        Process::Nemesis => None,
    });
    assert!(max.max().unwrap() >= 3, "no new process ids");
}

/// Never answers.
struct Stuck;

impl Client for Stuck {
    fn open<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<Box<dyn Client>, ClientError>> {
        Box::pin(async { Ok(Box::new(Stuck) as Box<dyn Client>) })
    }

    fn invoke<'a>(&'a mut self, _: &'a Op) -> BoxFuture<'a, Result<Op, ClientError>> {
        Box::pin(std::future::pending())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_completes_outstanding_ops_as_info() {
    let shutdown = Shutdown::new();
    let trigger = shutdown.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        trigger.trigger();
    });
    let (outcome, h) = run_with("stop.jsonl", 4, Arc::new(Stuck), reads(100), |i| {
        i.shutdown(shutdown)
    })
    .await;
    assert!(outcome.interrupted);
    assert_eq!((outcome.invoked, outcome.info), (4, 4));
    let ops = h.operations().unwrap();
    assert!(ops.iter().all(|o| o.complete.is_some()));
    assert!(h
        .ops
        .iter()
        .filter(|o| o.kind == OpType::Info)
        .all(|o| o.error == Some(json!("interrupted"))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deadline_stops_an_endless_run() {
    let endless = clients(from_fn(|_| Template::new("read", json!([0, null]))));
    let (outcome, h) = run_with("deadline.jsonl", 2, Arc::new(Stuck), endless, |i| {
        i.deadline(Duration::from_millis(100))
    })
    .await;
    assert!(outcome.interrupted);
    assert_eq!(h.len(), 4);
}

/// Counts its faults.
struct Recording(Arc<AtomicU64>);

impl Nemesis for Recording {
    fn invoke<'a>(&'a mut self, op: &'a Op) -> BoxFuture<'a, Result<Op, NemesisError>> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Box::pin(async move { Ok(op.ok(json!("done"))) })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nemesis_ops_go_to_the_nemesis_and_are_info_on_both_ends() {
    let faults = Arc::new(AtomicU64::new(0));
    let fault = Fault {
        start: Template::new("start-partition", json!(null)),
        stop: Template::new("stop-partition", json!(null)),
    };
    let gen = time_limit(
        Duration::from_millis(300),
        any(vec![
            Box::new(clients(from_fn(|_| {
                Template::new("read", json!([0, null]))
            }))),
            Box::new(nemesis(schedule(Duration::from_millis(40), vec![fault]))),
        ]),
    );
    let nem = Box::new(Recording(faults.clone()));
    let (_, h) = run_with(
        "nemesis.jsonl",
        2,
        Arc::new(MemoryClient::new()),
        gen,
        |i| i.nemesis(nem),
    )
    .await;
    let nem_ops: Vec<&Op> = h.ops.iter().filter(|o| o.is_nemesis()).collect();
    assert!(nem_ops.len() >= 4, "{} nemesis records", nem_ops.len());
    assert!(nem_ops.iter().all(|o| o.kind == OpType::Info));
    assert_eq!(faults.load(Ordering::Relaxed) * 2, nem_ops.len() as u64);
    assert_eq!(nem_ops[0].f, "start-partition");
    assert_eq!(nem_ops[1].value, json!("done"));
    h.operations().unwrap();
}

#[tokio::test]
async fn no_threads_is_a_config_error() {
    let rec = Recorder::create(&path("none.jsonl"), Clock::start()).unwrap();
    let i = Interpreter::new(
        0,
        vec!["n1".into()],
        1,
        Arc::new(Stuck),
        rec.sender(),
        Clock::start(),
    );
    assert!(matches!(
        i.run(reads(1)).await,
        Err(InterpreterError::Config(_))
    ));
}

/// Answers from a script shared by its clients, then `ok` forever; the
/// clients of node `down` (if any) answer "unavailable" to everything.
struct Scripted {
    down: Option<&'static str>,
    node: String,
    script: Arc<std::sync::Mutex<Vec<bool>>>,
}

impl Scripted {
    fn new(down: Option<&'static str>, unavailable: Vec<bool>) -> Self {
        let mut script = unavailable;
        script.reverse();
        Scripted {
            down,
            node: String::new(),
            script: Arc::new(std::sync::Mutex::new(script)),
        }
    }
}

impl Client for Scripted {
    fn open<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<Box<dyn Client>, ClientError>> {
        let c = Scripted {
            down: self.down,
            node: node.to_string(),
            script: self.script.clone(),
        };
        Box::pin(async move { Ok(Box::new(c) as Box<dyn Client>) })
    }

    fn invoke<'a>(&'a mut self, op: &'a Op) -> BoxFuture<'a, Result<Op, ClientError>> {
        let scripted = self.script.lock().unwrap().pop().unwrap_or(false);
        let down = scripted || self.down == Some(self.node.as_str());
        Box::pin(async move {
            match down {
                true => Err(ClientError::Unavailable("cannot connect".into())),
                false => Ok(op.ok(json!([0, 1]))),
            }
        })
    }
}

/// The invocations and completions of one thread's processes, in order.
fn of_thread(h: &History, thread: u64, threads: u64) -> Vec<&Op> {
    h.ops
        .iter()
        .filter(|o| matches!(o.process, Process::Client(p) if p % threads == thread))
        .collect()
}

fn ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_whose_node_is_down_backs_off_and_others_do_not() {
    let endless = || {
        time_limit(
            Duration::from_millis(400),
            clients(from_fn(|_| Template::new("read", json!([0, null])))),
        )
    };
    // Thread 0 talks to n1, which is down; thread 1 to n2, which is up.
    let client = Arc::new(Scripted::new(Some("n1"), vec![]));
    let (_, h) = run_with("backoff.jsonl", 2, client, endless(), |i| i).await;
    let down = of_thread(&h, 0, 2);
    let up = of_thread(&h, 1, 2);
    assert!(down.iter().all(|o| o.node.as_deref() == Some("n1")));
    assert!(down[1..].iter().step_by(2).all(|o| o.kind == OpType::Fail));
    // 10 + 20 + 40 + 80 + 160 ms of rests fit in 400 ms: about 6 ops.
    assert!(
        down.len() / 2 <= 8,
        "{} ops on a node that is down",
        down.len() / 2
    );
    assert!(
        up.len() / 2 >= 100,
        "{} ops on a node that is up",
        up.len() / 2
    );
    // Each rest is at least the backoff and is not part of any op's
    // latency: a refused op completes at once.
    let times: Vec<u64> = down.iter().map(|o| o.time.unwrap()).collect();
    let mut want = 10.0;
    for pair in times.chunks(2).collect::<Vec<_>>().windows(2) {
        let (latency, rest) = (pair[0][1] - pair[0][0], pair[1][0] - pair[0][1]);
        assert!(ms(rest) >= want, "rest {} ms, want {want}", ms(rest));
        assert!(ms(latency) < 10.0, "latency {} ms", ms(latency));
        want *= 2.0;
    }
    // Without backoff the same worker hammers its node.
    let client = Arc::new(Scripted::new(Some("n1"), vec![]));
    let none = Backoff {
        floor: Duration::ZERO,
        cap: Duration::ZERO,
    };
    let (_, h) = run_with("no-backoff.jsonl", 2, client, endless(), |i| {
        i.backoff(none)
    })
    .await;
    assert!(of_thread(&h, 0, 2).len() / 2 >= 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ok_starts_the_backoff_over() {
    // Six unavailable answers (rests 10 .. 320 ms), an ok, one more
    // unavailable (a rest of 10 ms again, not 640), then ok.
    let script = vec![true, true, true, true, true, true, false, true];
    let client = Arc::new(Scripted::new(None, script));
    let (outcome, h) = run_with("reset.jsonl", 1, client, reads(9), |i| i).await;
    assert_eq!((outcome.ok, outcome.fail), (2, 7));
    let t: Vec<u64> = h.ops.iter().map(|o| o.time.unwrap()).collect();
    // Op i is invoked at t[2i] and completes at t[2i+1].
    let rest = |i: usize| ms(t[2 * i + 2] - t[2 * i + 1]);
    assert!(rest(5) >= 320.0, "sixth rest {} ms", rest(5));
    assert_eq!(h.ops[13].kind, OpType::Ok);
    assert!(
        rest(6) < 10.0,
        "an ok was followed by a rest of {} ms",
        rest(6)
    );
    assert!(
        (10.0..160.0).contains(&rest(7)),
        "after an ok the rest is {} ms, not 10",
        rest(7)
    );
}

/// Panics on the `n`th op it is asked for (over all its clients), and is
/// stuck on every other op until interrupted.
struct PanicsOnce {
    count: Arc<AtomicU64>,
    at: u64,
}

impl Client for PanicsOnce {
    fn open<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<Box<dyn Client>, ClientError>> {
        let c = PanicsOnce {
            count: self.count.clone(),
            at: self.at,
        };
        Box::pin(async move { Ok(Box::new(c) as Box<dyn Client>) })
    }

    fn invoke<'a>(&'a mut self, op: &'a Op) -> BoxFuture<'a, Result<Op, ClientError>> {
        let n = self.count.fetch_add(1, Ordering::Relaxed) + 1;
        Box::pin(async move {
            if n == self.at {
                panic!("client bug on op {n}");
            }
            match n < self.at {
                true => Ok(op.ok(json!([0, 1]))),
                false => std::future::pending().await,
            }
        })
    }
}

/// Runs `gen` on 3 threads expecting the interpreter to fail; returns the
/// error and the history recorded.
async fn run_failing(
    name: &str,
    client: Arc<dyn Client>,
    gen: impl Generator,
    tweak: impl FnOnce(Interpreter) -> Interpreter,
) -> (InterpreterError, History) {
    let p = path(name);
    let clock = Clock::start();
    let rec = Recorder::create(&p, clock).unwrap();
    let nodes = vec!["n1".to_string(), "n2".to_string()];
    let interp = tweak(Interpreter::new(3, nodes, 7, client, rec.sender(), clock));
    let run = tokio::time::timeout(Duration::from_secs(20), interp.run(gen));
    let e = run
        .await
        .expect("a panic must not hang the run")
        .unwrap_err();
    rec.finish().await.unwrap();
    (e, read_history(&p))
}

fn endless_reads() -> impl Generator {
    clients(from_fn(|_| Template::new("read", json!([0, null]))))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_client_stops_the_run_with_its_message_and_no_op_is_lost() {
    let client = Arc::new(PanicsOnce {
        count: Arc::default(),
        at: 20,
    });
    let (e, h) = run_failing("client-panic.jsonl", client, endless_reads(), |i| i).await;
    assert!(
        matches!(&e, InterpreterError::Panicked { who, message }
            if who.starts_with("client worker ") && message == "client bug on op 20"),
        "{e}"
    );
    let ops = h.operations().unwrap();
    assert!(ops.iter().all(|o| o.complete.is_some()), "an op was lost");
    let panicked: Vec<&Op> = h
        .ops
        .iter()
        .filter(|o| matches!(&o.error, Some(v) if v.to_string().contains("panicked: client bug")))
        .collect();
    assert_eq!(panicked.len(), 1, "the panicking op is recorded as info");
    assert_eq!(panicked[0].kind, OpType::Info);
    // The other workers' stuck ops were interrupted, not waited for.
    assert!(h.ops.iter().any(|o| o.error == Some(json!("interrupted"))));
}

/// Panics on its first fault.
struct PanickingNemesis;

impl Nemesis for PanickingNemesis {
    fn invoke<'a>(&'a mut self, _: &'a Op) -> BoxFuture<'a, Result<Op, NemesisError>> {
        Box::pin(async { panic!("nemesis bug") })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_nemesis_stops_the_run() {
    let fault = Fault {
        start: Template::new("start-partition", json!(null)),
        stop: Template::new("stop-partition", json!(null)),
    };
    let gen = any(vec![
        Box::new(endless_reads()),
        Box::new(nemesis(schedule(Duration::from_millis(20), vec![fault]))),
    ]);
    let client = Arc::new(MemoryClient::new());
    let (e, h) = run_failing("nemesis-panic.jsonl", client, gen, |i| {
        i.nemesis(Box::new(PanickingNemesis))
    })
    .await;
    assert_eq!(e.to_string(), "the nemesis panicked: nemesis bug");
    let last_fault = h.ops.iter().rfind(|o| o.is_nemesis()).unwrap();
    assert_eq!(
        last_fault.error,
        Some(json!("the nemesis panicked: nemesis bug"))
    );
    assert!(h.operations().unwrap().iter().all(|o| o.complete.is_some()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_generator_stops_the_run_after_the_ops_in_flight() {
    let count = Arc::new(AtomicU64::new(0));
    let seen = count.clone();
    let gen = clients(from_fn(move |_| {
        if seen.fetch_add(1, Ordering::Relaxed) == 10 {
            panic!("generator bug");
        }
        Template::new("read", json!([0, null]))
    }));
    let (e, h) = run_failing(
        "generator-panic.jsonl",
        Arc::new(MemoryClient::new()),
        gen,
        |i| i,
    )
    .await;
    assert_eq!(e.to_string(), "the generator panicked: generator bug");
    let ops = h.operations().unwrap();
    assert_eq!(ops.len(), 10);
    assert!(ops.iter().all(|o| o.complete.is_some()));
}

/// A fault that runs until released, telling when it has started.
struct Held {
    started: Arc<tokio::sync::Notify>,
    release: Arc<tokio::sync::Notify>,
}

impl Nemesis for Held {
    fn invoke<'a>(&'a mut self, op: &'a Op) -> BoxFuture<'a, Result<Op, NemesisError>> {
        Box::pin(async move {
            self.started.notify_one();
            self.release.notified().await;
            Ok(op.ok(json!("done")))
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_it_drains_the_run_says_what_it_waits_for() {
    let (started, release) = (
        Arc::new(tokio::sync::Notify::new()),
        Arc::new(tokio::sync::Notify::new()),
    );
    let shutdown = Shutdown::new();
    let (board, trigger) = (shutdown.clone(), shutdown.clone());
    let (s, r) = (started.clone(), release.clone());
    let watcher = tokio::spawn(async move {
        s.notified().await;
        trigger.trigger();
        let mut stage = String::new();
        for _ in 0..500 {
            stage = board.stage();
            if !stage.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        r.notify_one();
        stage
    });
    let gen = any(vec![
        Box::new(endless_reads()) as Box<dyn Generator>,
        Box::new(nemesis(once(Template::new("start-partition", json!(null))))),
    ]);
    let nem = Box::new(Held { started, release });
    let (outcome, h) = run_with("drain-board.jsonl", 2, Arc::new(Stuck), gen, |i| {
        i.nemesis(nem).shutdown(shutdown)
    })
    .await;
    let stage = watcher.await.unwrap();
    assert!(outcome.interrupted);
    assert!(
        stage.starts_with(
            "waiting for the ops in flight to end: the nemesis's start-partition (for "
        ),
        "{stage}"
    );
    let fault = h.ops.iter().rfind(|o| o.is_nemesis()).unwrap();
    assert_eq!(fault.value, json!("done"), "the fault ran to its end");
}
