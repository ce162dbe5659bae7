//! The interpreter's loop: ask the generator, dispatch, absorb
//! completions, wait for whichever comes first of a completion, the
//! generator's wake-up time, the deadline or a stop.

use super::worker::Done;
use super::{InterpreterError, Outcome, Shutdown};
use crate::recorder::Clock;
use checkers::{Op, OpType, Process};
use rand_chacha::ChaCha8Rng;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use workloads::generator::{Context, ThreadSet, Workers};
use workloads::{Generator, Next};

/// The state of one run.
pub(super) struct Run<G> {
    pub gen: G,
    pub workers: Workers,
    pub all: ThreadSet,
    pub free: ThreadSet,
    pub rng: ChaCha8Rng,
    pub nodes: Vec<String>,
    pub senders: Vec<mpsc::Sender<Op>>,
    pub done: mpsc::UnboundedReceiver<Done>,
    pub history: mpsc::Sender<Op>,
    pub clock: Clock,
    pub deadline: Option<u64>,
    pub shutdown: watch::Receiver<bool>,
    pub interrupt: Shutdown,
    pub outstanding: usize,
    /// Threads resting after an unavailable node, and until when (ns).
    pub resting: Vec<(u64, usize)>,
    pub outcome: Outcome,
}

/// What woke the loop up.
enum Wake {
    Done(Done),
    Time,
    Stop,
}

impl<G: Generator> Run<G> {
    /// Runs to exhaustion or stop, then lets outstanding ops finish.
    pub async fn drive(mut self) -> Result<Outcome, InterpreterError> {
        loop {
            while let Ok(done) = self.done.try_recv() {
                self.complete(done).await?;
            }
            if !self.resting.is_empty() {
                self.wake_rested();
            }
            if self.stopping() {
                self.outcome.interrupted = true;
                break;
            }
            let now = self.clock.now();
            let next = self.gen.op(&mut Context::new(
                now,
                &self.workers,
                &self.all,
                &self.free,
                &mut self.rng,
            ));
            let wake = match next {
                Next::Op(op) => {
                    self.dispatch(op, now).await?;
                    continue;
                }
                Next::Exhausted if self.outstanding == 0 => break,
                Next::Exhausted => None,
                Next::Pending(wake) => wake,
            };
            if let Wake::Done(done) = self.wait(wake).await {
                self.complete(done).await?;
            }
        }
        self.drain().await?;
        Ok(self.outcome)
    }

    fn stopping(&self) -> bool {
        *self.shutdown.borrow() || self.deadline.is_some_and(|d| self.clock.now() >= d)
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
                Some(d) => Wake::Done(d),
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
        self.gen.update(
            &mut Context::new(now, &self.workers, &self.all, &self.free, &mut self.rng),
            &op,
        );
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

    async fn complete(&mut self, done: Done) -> Result<(), InterpreterError> {
        let Done {
            thread: t,
            mut op,
            rest,
        } = done;
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
        self.gen.update(
            &mut Context::new(now, &self.workers, &self.all, &self.free, &mut self.rng),
            &op,
        );
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
    /// complete, then closes the workers' channels.
    async fn drain(&mut self) -> Result<(), InterpreterError> {
        if self.outstanding > 0 {
            self.interrupt.trigger();
        }
        while self.outstanding > 0 {
            match self.done.recv().await {
                Some(done) => self.complete(done).await?,
                None => break,
            }
        }
        self.senders.clear();
        Ok(())
    }
}
