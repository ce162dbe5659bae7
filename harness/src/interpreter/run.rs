//! The interpreter's loop: ask the generator, dispatch, absorb
//! completions, wait for whichever comes first of a completion, the
//! generator's wake-up time, the deadline or a stop. A panic in the
//! generator or a worker is a failure: the loop stops dispatching, drains
//! what is in flight and returns it.

use super::worker::{Done, Report};
use super::{InterpreterError, Outcome, Shutdown};
use crate::error::panic_message;
use crate::recorder::Clock;
use checkers::{Op, OpType, Process};
use rand_chacha::ChaCha8Rng;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use workloads::generator::{Context, ThreadSet, Workers};
use workloads::{Complete as _, Generator, Next};

/// The state of one run.
pub(super) struct Run<G> {
    pub gen: G,
    pub workers: Workers,
    pub all: ThreadSet,
    pub free: ThreadSet,
    pub rng: ChaCha8Rng,
    pub nodes: Vec<String>,
    pub senders: Vec<mpsc::Sender<Op>>,
    pub done: mpsc::UnboundedReceiver<Report>,
    pub history: mpsc::Sender<Op>,
    pub clock: Clock,
    pub deadline: Option<u64>,
    pub shutdown: watch::Receiver<bool>,
    /// Where the run says what it waits for (the user's [`Shutdown`]).
    pub board: Shutdown,
    pub interrupt: Shutdown,
    pub outstanding: usize,
    /// The op each thread is performing, as invoked.
    pub in_flight: Vec<Option<Op>>,
    /// Threads resting after an unavailable node, and until when (ns).
    pub resting: Vec<(u64, usize)>,
    /// The first panic met: the run stops and returns it.
    pub failure: Option<InterpreterError>,
    pub outcome: Outcome,
}

/// What woke the loop up.
enum Wake {
    Report(Report),
    Time,
    Stop,
}

impl<G: Generator> Run<G> {
    /// Runs to exhaustion or stop, then lets outstanding ops finish.
    pub async fn drive(mut self) -> Result<Outcome, InterpreterError> {
        loop {
            while let Ok(report) = self.done.try_recv() {
                self.absorb(report).await?;
            }
            if !self.resting.is_empty() {
                self.wake_rested();
            }
            if self.stopping() {
                self.outcome.interrupted = true;
                break;
            }
            let now = self.clock.now();
            let Some(next) = self.ask(now) else { continue };
            let wake = match next {
                Next::Op(op) => {
                    self.dispatch(op, now).await?;
                    continue;
                }
                Next::Exhausted if self.outstanding == 0 => break,
                Next::Exhausted => None,
                Next::Pending(wake) => wake,
            };
            if let Wake::Report(report) = self.wait(wake).await {
                self.absorb(report).await?;
            }
        }
        self.drain().await?;
        match self.failure {
            Some(e) => Err(e),
            None => Ok(self.outcome),
        }
    }

    fn stopping(&self) -> bool {
        self.failure.is_some()
            || *self.shutdown.borrow()
            || self.deadline.is_some_and(|d| self.clock.now() >= d)
    }

    /// The generator's next op; `None` (and a failure) if it panicked.
    fn ask(&mut self, now: u64) -> Option<Next> {
        let (gen, rng) = (&mut self.gen, &mut self.rng);
        let ctx = &mut Context::new(now, &self.workers, &self.all, &self.free, rng);
        match catch_unwind(AssertUnwindSafe(|| gen.op(ctx))) {
            Ok(next) => Some(next),
            Err(panic) => {
                self.fail("the generator", panic_message(&*panic));
                None
            }
        }
    }

    /// Tells the generator about `op`, unless it has panicked before.
    fn tell(&mut self, now: u64, op: &Op) {
        if self.failure.is_some() {
            return;
        }
        let (gen, rng) = (&mut self.gen, &mut self.rng);
        let ctx = &mut Context::new(now, &self.workers, &self.all, &self.free, rng);
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| gen.update(ctx, op))) {
            self.fail("the generator", panic_message(&*panic));
        }
    }

    /// Records the first failure; the loop then stops.
    fn fail(&mut self, who: &str, message: String) {
        self.failure.get_or_insert(InterpreterError::Panicked {
            who: who.to_string(),
            message,
        });
    }

    /// Frees the threads whose rest is over.
    fn wake_rested(&mut self) {
        let now = self.clock.now();
        let free = &mut self.free;
        self.resting.retain(|&(until, t)| {
            let over = until <= now;
            if over {
                free.insert(t);
            }
            !over
        });
    }

    /// Waits for a completion, the time `wake` (ns since start), the end
    /// of a rest, the deadline or a stop, whichever is first.
    async fn wait(&mut self, wake: Option<u64>) -> Wake {
        let rested = self.resting.iter().map(|&(until, _)| until).min();
        let at = Next::sooner(Next::sooner(wake, rested), self.deadline);
        let sleep = async {
            match at {
                Some(t) => {
                    let ns = t.saturating_sub(self.clock.now());
                    tokio::time::sleep(Duration::from_nanos(ns)).await
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            done = self.done.recv() => match done {
                Some(d) => Wake::Report(d),
                // Every worker is gone: nothing more will complete.
                None => Wake::Stop,
            },
            _ = self.shutdown.wait_for(|s| *s) => Wake::Stop,
            _ = sleep => Wake::Time,
        }
    }

    async fn dispatch(&mut self, mut op: Op, now: u64) -> Result<(), InterpreterError> {
        let t = self.workers.thread_of(op.process);
        if !self.free.contains(t) {
            return Err(InterpreterError::BusyThread { thread: t, f: op.f });
        }
        op.time = Some(now);
        if let Process::Client(_) = op.process {
            op.node = Some(self.nodes[t % self.nodes.len()].clone());
        }
        self.free.remove(t);
        self.outstanding += 1;
        self.outcome.invoked += 1;
        self.tell(now, &op);
        self.in_flight[t] = Some(op.clone());
        self.history
            .send(op.clone())
            .await
            .map_err(|_| InterpreterError::RecorderGone)?;
        self.senders[t]
            .try_send(op)
            .map_err(|e| InterpreterError::WorkerGone {
                thread: t,
                reason: e.to_string(),
            })
    }

    async fn absorb(&mut self, report: Report) -> Result<(), InterpreterError> {
        match report {
            Report::Done(done) => self.complete(done).await,
            Report::Panicked { thread, message } => self.lost(thread, message).await,
        }
    }

    /// A worker panicked: the op it held is `info` (it may have happened),
    /// its thread is never used again, and the run stops.
    async fn lost(&mut self, thread: usize, message: String) -> Result<(), InterpreterError> {
        let who = match thread + 1 == self.in_flight.len() {
            true => "the nemesis".to_string(),
            false => format!("client worker {thread}"),
        };
        let held = self.in_flight.get_mut(thread).and_then(Option::take);
        self.fail(&who, message.clone());
        let Some(op) = held else { return Ok(()) };
        self.outstanding = self.outstanding.saturating_sub(1);
        let mut done = op.info(format!("{who} panicked: {message}"));
        done.time = Some(self.clock.now());
        if let Process::Client(_) = done.process {
            self.outcome.info += 1;
        }
        self.history
            .send(done)
            .await
            .map_err(|_| InterpreterError::RecorderGone)
    }

    async fn complete(&mut self, done: Done) -> Result<(), InterpreterError> {
        let Done {
            thread: t,
            mut op,
            rest,
        } = done;
        if let Some(slot) = self.in_flight.get_mut(t) {
            *slot = None;
        }
        let now = self.clock.now();
        op.time = Some(now);
        match rest {
            // The completion is recorded now; the thread stays busy for
            // the rest, so its next invocation comes after it.
            Some(rest) => {
                let ns = u64::try_from(rest.as_nanos()).unwrap_or(u64::MAX);
                self.resting.push((now.saturating_add(ns), t));
            }
            None => self.free.insert(t),
        }
        self.outstanding = self.outstanding.saturating_sub(1);
        self.tell(now, &op);
        if let Process::Client(_) = op.process {
            match op.kind {
                OpType::Ok => self.outcome.ok += 1,
                OpType::Fail => self.outcome.fail += 1,
                OpType::Info | OpType::Invoke => {
                    self.outcome.info += 1;
                    self.workers.crash(t);
                }
            }
        }
        self.history
            .send(op)
            .await
            .map_err(|_| InterpreterError::RecorderGone)
    }

    /// Interrupts what is outstanding (after a stop) and waits for it to
    /// complete, then closes the workers' channels. Client ops end at once
    /// (as `info`); a fault op runs to its end. What it waits for is on
    /// the board, for a second Ctrl-C to show.
    async fn drain(&mut self) -> Result<(), InterpreterError> {
        if self.outstanding > 0 {
            self.interrupt.trigger();
        }
        while self.outstanding > 0 {
            self.board.set_stage(self.waiting_for());
            match self.done.recv().await {
                Some(report) => self.absorb(report).await?,
                // Every worker is gone; each said so before it went.
                None => break,
            }
        }
        self.senders.clear();
        Ok(())
    }

    /// The ops in flight, for a person: `the nemesis's start-partition
    /// (for 1.2 s), 3 client ops (the oldest: p7's write on n2, for 2.0 s)`.
    fn waiting_for(&self) -> String {
        let now = self.clock.now();
        let age = |op: &Op| now.saturating_sub(op.time.unwrap_or(now)) as f64 / 1e9;
        let ops = self.in_flight.iter().flatten();
        let nemesis = ops.clone().find(|o| o.is_nemesis());
        let clients: Vec<&Op> = ops.filter(|o| !o.is_nemesis()).collect();
        let mut parts = Vec::new();
        if let Some(op) = nemesis {
            parts.push(format!("the nemesis's {} (for {:.1} s)", op.f, age(op)));
        }
        if let Some(oldest) = clients.iter().min_by_key(|o| o.time) {
            let node = oldest.node.as_deref().unwrap_or("?");
            parts.push(format!(
                "{} client op(s) (the oldest: {}'s {} on {node}, for {:.1} s)",
                clients.len(),
                oldest.process,
                oldest.f,
                age(oldest)
            ));
        }
        format!("waiting for the ops in flight to end: {}", parts.join(", "))
    }
}
