//! Workers: one tokio task per thread, performing one op at a time. A
//! client worker opens its client lazily and reopens it when its thread
//! moves to a new process (after an `info`), as Jepsen's `ClientWorker`
//! does, and asks for a rest when its node could not be reached
//! ([`super::backoff`]); the nemesis worker hands fault ops to the
//! [`Nemesis`]. A worker that panics (its client, the nemesis, or its own
//! code) is [`guarded`]: the run hears of it with the panic's message
//! instead of waiting forever for the op it held.

use super::backoff::Rests;
use checkers::{Op, Process};
use futures::FutureExt as _;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use workloads::client::{check_completion, completion};
use workloads::{Client, ClientError, Complete, Nemesis};

/// A finished op, the thread that ran it, and how long that thread should
/// stay idle before its next op (after an unavailable node).
pub(crate) struct Done {
    pub thread: usize,
    pub op: Op,
    pub rest: Option<Duration>,
}

/// What a worker tells the run.
pub(crate) enum Report {
    /// An op completed.
    Done(Done),
    /// The worker panicked and is gone, with the op it held (if any).
    Panicked { thread: usize, message: String },
}

/// Runs a worker's loop and reports a panic anywhere in it to the run.
pub(crate) async fn guarded(
    thread: usize,
    work: impl Future<Output = ()>,
    reports: mpsc::UnboundedSender<Report>,
) {
    if let Err(panic) = AssertUnwindSafe(work).catch_unwind().await {
        let message = crate::error::panic_message(&*panic);
        // The run may be gone already (it panicked itself): nothing to tell.
        let _ = reports.send(Report::Panicked { thread, message });
    }
}

/// A client worker's fixed parts.
pub(crate) struct ClientWorker {
    pub thread: usize,
    pub node: String,
    pub template: Arc<dyn Client>,
    pub done: mpsc::UnboundedSender<Report>,
    pub stop: watch::Receiver<bool>,
    pub rests: Rests,
}

impl ClientWorker {
    /// Performs each op sent until the channel closes.
    pub async fn run(mut self, mut ops: mpsc::Receiver<Op>) {
        let mut client: Option<(Process, Box<dyn Client>)> = None;
        while let Some(op) = ops.recv().await {
            if client.as_ref().is_some_and(|(p, _)| *p != op.process) {
                close(&mut client).await;
            }
            let result = match &mut client {
                Some((_, c)) => self.invoke(c, &op).await,
                None => match self.template.open(&self.node).await {
                    Ok(c) => {
                        self.invoke(client.insert((op.process, c)).1.as_mut(), &op)
                            .await
                    }
                    Err(e) => {
                        // Once per process (and at most once a second per
                        // worker while a node is down, as workers back
                        // off): the log stays small.
                        tracing::debug!(target: "temblor::client", node = %self.node, "cannot open a client: {e}");
                        Err(open_error(&self.node, e))
                    }
                },
            };
            let done = Done {
                thread: self.thread,
                rest: self.rests.after(&result),
                op: completion(&op, result),
            };
            if self.done.send(Report::Done(done)).is_err() {
                break;
            }
        }
        close(&mut client).await;
    }

    /// Invokes `op`, cut short as `info` when the run is stopped, and
    /// checked to be a completion of `op`.
    async fn invoke(&mut self, c: &mut dyn Client, op: &Op) -> Result<Op, ClientError> {
        let interrupted = self.stop.wait_for(|stop| *stop);
        let done = tokio::select! {
            biased;
            done = c.invoke(op) => done?,
            _ = interrupted => return Err(ClientError::Unknown("interrupted".into())),
        };
        check_completion(op, &done).map(|()| done)
    }
}

/// A client that could not be opened sent nothing: the op failed, and
/// an unreachable node stays unavailable so the worker backs off.
fn open_error(node: &str, e: ClientError) -> ClientError {
    let msg = format!("open {node}: {e}");
    match e.is_unavailable() {
        true => ClientError::Unavailable(msg),
        false => ClientError::Fail(msg),
    }
}

async fn close(client: &mut Option<(Process, Box<dyn Client>)>) {
    if let Some((_, mut c)) = client.take() {
        // A client that fails to close leaves nothing to record.
        let _ = c.close().await;
    }
}

/// Performs fault ops until the channel closes. A fault op runs to its
/// end even when the run is stopped, so what is in effect stays known.
pub(crate) async fn run_nemesis(
    thread: usize,
    mut nemesis: Option<Box<dyn Nemesis>>,
    mut ops: mpsc::Receiver<Op>,
    done: mpsc::UnboundedSender<Report>,
) {
    while let Some(op) = ops.recv().await {
        let finished = match nemesis.as_mut() {
            None => op.info("no nemesis in this run"),
            Some(n) => match n.invoke(&op).await {
                Ok(mut d) => {
                    d.process = Process::Nemesis;
                    d.kind = checkers::OpType::Info;
                    d
                }
                Err(e) => op.info(e.to_string()),
            },
        };
        let finished = Done {
            thread,
            op: finished,
            rest: None,
        };
        if done.send(Report::Done(finished)).is_err() {
            break;
        }
    }
}
