//! The `Client` trait: how a worker performs ops against the system under
//! test, one client per worker (Jepsen's `jepsen.client`). Wrappers add
//! timeouts and validation; [`memory`] is an in-process store for tests and
//! benches.
//!
//! A client is first a template: [`Client::open`] binds a fresh client to a
//! node for one worker. [`Client::invoke`] turns an invocation into its
//! completion; an error says whether the op certainly did not happen
//! ([`ClientError::Fail`]) or might have ([`ClientError::Unknown`]), and the
//! worker records `fail` or `info` accordingly. [`ClientError::Unavailable`]
//! is a `fail` that also says the node could not be reached at all, so the
//! worker waits before its next op instead of hammering a node that is down
//! (the client side of Jepsen's stagger and slow-failing clients).

pub mod memory;
mod wrap;

pub use wrap::{check_completion, Timeout, Validate};

use crate::workload::Options;
use checkers::{Op, OpType};
use serde_json::Value;
use std::future::Future;
use std::pin::Pin;

/// A boxed, sendable future: what the object-safe async traits return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why an op did not complete normally.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ClientError {
    /// The op certainly did not take effect (e.g. refused before sending).
    #[error("{0}")]
    Fail(String),
    /// The op may or may not have taken effect (e.g. a lost connection).
    #[error("{0}")]
    Unknown(String),
    /// The node could not be reached (connection refused, no route to
    /// host): nothing was sent, so the op certainly did not take effect,
    /// and the node is probably down, so the worker backs off.
    #[error("{0}")]
    Unavailable(String),
    /// The client answered something that is not a completion of the op.
    #[error("invalid completion: {0}")]
    Invalid(String),
}

impl ClientError {
    /// The completion type this error means: `fail` only when certain.
    pub fn outcome(&self) -> OpType {
        match self {
            ClientError::Fail(_) | ClientError::Unavailable(_) => OpType::Fail,
            ClientError::Unknown(_) | ClientError::Invalid(_) => OpType::Info,
        }
    }

    /// True when the node could not be reached at all.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, ClientError::Unavailable(_))
    }
}

/// Performs ops against the system under test.
pub trait Client: Send + Sync {
    /// A new client for one worker, bound to `node`.
    fn open<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<Box<dyn Client>, ClientError>>;

    /// Performs `op` (an invocation) and returns its completion: the same
    /// `process` and `f`, type `ok`, `fail` or `info`.
    fn invoke<'a>(&'a mut self, op: &'a Op) -> BoxFuture<'a, Result<Op, ClientError>>;

    /// Releases what `open` acquired.
    fn close(&mut self) -> BoxFuture<'_, Result<(), ClientError>> {
        Box::pin(std::future::ready(Ok(())))
    }

    /// This template, made to serve `workload` with `opts`, before any
    /// client is opened: the same `f` means different things in different
    /// workloads (a `read` of a register, of a set, of every bank
    /// balance), so a store's client is built per workload, as Jepsen's
    /// are (and as the client protocol's `init` tells a client). `Ok(None)`:
    /// this client serves every workload as it is. An error says why it
    /// cannot serve this one.
    fn for_workload(
        &self,
        _workload: &str,
        _opts: &Options,
    ) -> Result<Option<Box<dyn Client>>, ClientError> {
        Ok(None)
    }
}

impl Client for Box<dyn Client> {
    fn open<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<Box<dyn Client>, ClientError>> {
        (**self).open(node)
    }

    fn invoke<'a>(&'a mut self, op: &'a Op) -> BoxFuture<'a, Result<Op, ClientError>> {
        (**self).invoke(op)
    }

    fn close(&mut self) -> BoxFuture<'_, Result<(), ClientError>> {
        (**self).close()
    }

    fn for_workload(
        &self,
        workload: &str,
        opts: &Options,
    ) -> Result<Option<Box<dyn Client>>, ClientError> {
        (**self).for_workload(workload, opts)
    }
}

/// Completions made from an invocation.
pub trait Complete {
    /// Took effect, with result `value`.
    fn ok(&self, value: Value) -> Op;
    /// Certainly did not take effect, because of `error`.
    fn fail(&self, error: impl Into<Value>) -> Op;
    /// May or may not have taken effect, because of `error`.
    fn info(&self, error: impl Into<Value>) -> Op;
}

impl Complete for Op {
    fn ok(&self, value: Value) -> Op {
        Op {
            kind: OpType::Ok,
            value,
            ..self.clone()
        }
    }

    fn fail(&self, error: impl Into<Value>) -> Op {
        Op {
            kind: OpType::Fail,
            error: Some(error.into()),
            ..self.clone()
        }
    }

    fn info(&self, error: impl Into<Value>) -> Op {
        Op {
            kind: OpType::Info,
            error: Some(error.into()),
            ..self.clone()
        }
    }
}

/// The completion to record for `invocation` given what the client said:
/// an error becomes `fail` or `info` carrying its message. A completion
/// keeps its invocation's final mark, however the client built it.
pub fn completion(invocation: &Op, result: Result<Op, ClientError>) -> Op {
    let mut done = match result {
        Ok(op) => op,
        Err(e) if e.outcome() == OpType::Fail => invocation.fail(e.to_string()),
        Err(e) => invocation.info(e.to_string()),
    };
    done.is_final = invocation.is_final;
    done
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn errors_complete_as_fail_only_when_certain() {
        let inv = Op::new(3, OpType::Invoke, "write", json!([1, 2]));
        let f = completion(&inv, Err(ClientError::Fail("refused".into())));
        assert_eq!((f.kind, f.error), (OpType::Fail, Some(json!("refused"))));
        let i = completion(&inv, Err(ClientError::Unknown("reset".into())));
        assert_eq!(
            (i.kind, i.process, i.f.as_str()),
            (OpType::Info, inv.process, "write")
        );
        assert_eq!(completion(&inv, Ok(inv.ok(json!(1)))).value, json!(1));
        let down = ClientError::Unavailable("connection refused".into());
        assert!(down.is_unavailable() && !ClientError::Fail("x".into()).is_unavailable());
        assert_eq!(completion(&inv, Err(down)).kind, OpType::Fail);
    }

    #[test]
    fn a_completion_keeps_the_final_mark() {
        let inv = Op {
            is_final: true,
            ..Op::new(3, OpType::Invoke, "read", json!(null))
        };
        let built = Op::new(3, OpType::Ok, "read", json!(4));
        assert!(completion(&inv, Ok(built)).is_final);
        assert!(completion(&inv, Err(ClientError::Unknown("reset".into()))).is_final);
        let plain = Op::new(3, OpType::Invoke, "read", json!(null));
        assert!(!completion(&plain, Ok(inv.ok(json!(1)))).is_final);
    }
}
