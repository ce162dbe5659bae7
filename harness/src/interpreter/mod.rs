//! The generator interpreter: pulls ops from the generator, hands each to
//! the worker of its thread, and records every invocation and completion
//! (Jepsen's `jepsen.generator.interpreter`).
//!
//! One loop owns the generator, the thread/process table and the seeded
//! RNG; workers are tokio tasks, one logical process each, with at most one
//! op outstanding. An invocation is sent to the recorder before it goes to
//! its worker and a completion after it comes back, so the history never
//! claims an order that did not happen. An `info` completion (a timeout, an
//! ambiguous error) moves its thread to a new process, `p + concurrency`.
//! Stopping (a deadline, Ctrl-C) interrupts outstanding client ops, which
//! complete as `info`; a fault op in flight runs to its end. A worker whose
//! node could not be reached rests before its next op ([`Backoff`]).
//!
//! A panic never hangs a run: a worker that panics (its client, the
//! nemesis) has the op it held recorded as `info` with the panic's
//! message, a generator that panics is stopped asking, and either way the
//! run stops, lets every other op finish and returns
//! [`InterpreterError::Panicked`], so that the caller heals and exits.

mod backoff;
mod run;
mod worker;

pub use backoff::Backoff;

use crate::recorder::Clock;
use checkers::Op;
use futures::FutureExt as _;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use run::Run;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tracing::Instrument as _;
use worker::{ClientWorker, Report};
use workloads::generator::{ThreadSet, Workers};
use workloads::{Client, Generator, Nemesis};

/// Why a run of the interpreter broke off.
#[derive(Debug, thiserror::Error)]
pub enum InterpreterError {
    /// The settings cannot work.
    #[error("interpreter: {0}")]
    Config(String),
    /// The recorder stopped taking records (see its own error).
    #[error("history recorder stopped taking records")]
    RecorderGone,
    /// A worker task ended or panicked.
    #[error("worker for thread {thread} stopped: {reason}")]
    WorkerGone {
        /// Its thread.
        thread: usize,
        /// What happened.
        reason: String,
    },
    /// A client, the nemesis, the generator or the interpreter panicked.
    #[error("{who} panicked: {message}")]
    Panicked {
        /// What panicked (`client worker 3`, `the nemesis`, ...).
        who: String,
        /// The panic's message.
        message: String,
    },
    /// The generator chose a thread that was busy: a generator bug.
    #[error("generator chose busy thread {thread} for {f}")]
    BusyThread {
        /// The thread.
        thread: usize,
        /// The op's f.
        f: String,
    },
}

/// Stops a run from outside: Ctrl-C, or whoever holds it. It also carries
/// what the run is doing or waiting for (its stage), so that a second
/// Ctrl-C can say why the run has not stopped yet.
#[derive(Clone, Debug)]
pub struct Shutdown {
    tx: Arc<watch::Sender<bool>>,
    stage: Arc<Mutex<String>>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Shutdown::new()
    }
}

impl Shutdown {
    /// A handle that has not fired.
    pub fn new() -> Self {
        Shutdown {
            tx: Arc::new(watch::channel(false).0),
            stage: Arc::default(),
        }
    }

    /// Says what the run is doing or waiting for now.
    pub fn set_stage(&self, stage: impl Into<String>) {
        let stage = stage.into();
        tracing::debug!(target: "temblor::run", "{stage}");
        *self.stage.lock().unwrap_or_else(|e| e.into_inner()) = stage;
    }

    /// What the run said it is doing or waiting for.
    pub fn stage(&self) -> String {
        self.stage.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Stops the run: outstanding ops complete as `info`.
    pub fn trigger(&self) {
        self.tx.send_replace(true);
    }

    /// True once triggered.
    pub fn is_triggered(&self) -> bool {
        *self.tx.borrow()
    }

    fn watch(&self) -> watch::Receiver<bool> {
        self.tx.subscribe()
    }
}

/// How a run went.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Outcome {
    /// Ops invoked (client and nemesis).
    pub invoked: u64,
    /// Client completions by type.
    pub ok: u64,
    /// Client completions by type.
    pub fail: u64,
    /// Client completions by type.
    pub info: u64,
    /// True when the run was stopped before the generator was exhausted.
    pub interrupted: bool,
}

/// A run's fixed settings and live handles.
pub struct Interpreter {
    concurrency: usize,
    nodes: Vec<String>,
    seed: u64,
    deadline: Option<Duration>,
    backoff: Backoff,
    client: Arc<dyn Client>,
    nemesis: Option<Box<dyn Nemesis>>,
    history: mpsc::Sender<Op>,
    clock: Clock,
    shutdown: Shutdown,
}

impl Interpreter {
    /// `concurrency` client workers using `client` against `nodes` (round
    /// robin by thread), RNG seeded with `seed`, recording into `history`
    /// with times from `clock`.
    pub fn new(
        concurrency: usize,
        nodes: Vec<String>,
        seed: u64,
        client: Arc<dyn Client>,
        history: mpsc::Sender<Op>,
        clock: Clock,
    ) -> Self {
        Interpreter {
            concurrency,
            nodes,
            seed,
            deadline: None,
            backoff: Backoff::default(),
            client,
            nemesis: None,
            history,
            clock,
            shutdown: Shutdown::new(),
        }
    }

    /// Fault ops go to `nemesis` (without one they complete as `info`).
    pub fn nemesis(mut self, nemesis: Box<dyn Nemesis>) -> Self {
        self.nemesis = Some(nemesis);
        self
    }

    /// Stop the run this long after the clock's start, whatever the
    /// generator still has: a hard stop behind the generator's limits.
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// How long a worker rests after its node could not be reached
    /// (default: 10 ms doubling to 1 s).
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// Stop the run when `shutdown` fires.
    pub fn shutdown(mut self, shutdown: Shutdown) -> Self {
        self.shutdown = shutdown;
        self
    }

    /// Runs `gen` until it is exhausted and every op has completed, or
    /// until stopped; then stops the workers.
    pub async fn run(mut self, gen: impl Generator) -> Result<Outcome, InterpreterError> {
        if self.concurrency == 0 || self.nodes.is_empty() {
            return Err(InterpreterError::Config(
                "need at least one client thread and one node".into(),
            ));
        }
        let (done_tx, done_rx) = mpsc::unbounded_channel();
        let interrupt = Shutdown::new();
        let (senders, handles) = self.spawn_workers(done_tx, &interrupt);
        let threads = self.concurrency + 1;
        let run = Run {
            gen,
            workers: Workers::new(self.concurrency),
            all: ThreadSet::full(self.concurrency + 1),
            free: ThreadSet::full(self.concurrency + 1),
            rng: ChaCha8Rng::seed_from_u64(self.seed),
            nodes: self.nodes,
            senders,
            done: done_rx,
            history: self.history,
            clock: self.clock,
            deadline: self
                .deadline
                .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)),
            shutdown: self.shutdown.watch(),
            board: self.shutdown.clone(),
            interrupt: interrupt.clone(),
            outstanding: 0,
            in_flight: vec![None; threads],
            resting: Vec::new(),
            failure: None,
            outcome: Outcome::default(),
        };
        let result = match AssertUnwindSafe(run.drive()).catch_unwind().await {
            Ok(result) => result,
            // The loop itself panicked: its channels are gone, so workers
            // end after their op; stop them waiting for it.
            Err(panic) => {
                interrupt.trigger();
                Err(InterpreterError::Panicked {
                    who: "the interpreter".into(),
                    message: crate::error::panic_message(&*panic),
                })
            }
        };
        let joined = join(handles).await;
        result.and_then(|outcome| joined.map(|()| outcome))
    }

    fn spawn_workers(
        &mut self,
        done: mpsc::UnboundedSender<Report>,
        interrupt: &Shutdown,
    ) -> (Vec<mpsc::Sender<Op>>, Vec<JoinHandle<()>>) {
        let mut senders = Vec::with_capacity(self.concurrency + 1);
        let mut handles = Vec::with_capacity(self.concurrency + 1);
        for thread in 0..self.concurrency {
            let (tx, rx) = mpsc::channel(1);
            let w = ClientWorker {
                thread,
                node: self.nodes[thread % self.nodes.len()].clone(),
                template: self.client.clone(),
                done: done.clone(),
                stop: interrupt.watch(),
                rests: backoff::Rests::new(self.backoff),
            };
            senders.push(tx);
            let work = w.run(rx);
            handles.push(tokio::spawn(
                worker::guarded(thread, work, done.clone()).in_current_span(),
            ));
        }
        let (tx, rx) = mpsc::channel(1);
        let nemesis = self.nemesis.take();
        senders.push(tx);
        let thread = self.concurrency;
        let work = worker::run_nemesis(thread, nemesis, rx, done.clone());
        handles.push(tokio::spawn(
            worker::guarded(thread, work, done).in_current_span(),
        ));
        (senders, handles)
    }
}

async fn join(handles: Vec<JoinHandle<()>>) -> Result<(), InterpreterError> {
    for (thread, h) in handles.into_iter().enumerate() {
        h.await.map_err(|e| InterpreterError::WorkerGone {
            thread,
            reason: e.to_string(),
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
