//! Client wrappers for cross-cutting behaviour: a timeout that completes
//! an op as `info`, and validation of what a client returns (Jepsen's
//! `jepsen.client/Timeout` and `Validate`).

use super::{BoxFuture, Client, ClientError, Complete};
use crate::workload::Options;
use checkers::{Op, OpType};
use std::time::Duration;

/// Completes an op as `info` when the inner client takes longer than the
/// timeout: the op may still take effect, so it is never `fail`.
pub struct Timeout<C> {
    inner: C,
    after: Duration,
}

impl<C: Client> Timeout<C> {
    /// `inner`, with every op cut off after `after`.
    pub fn new(inner: C, after: Duration) -> Self {
        Timeout { inner, after }
    }
}

impl<C: Client> Client for Timeout<C> {
    fn open<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<Box<dyn Client>, ClientError>> {
        Box::pin(async move {
            let inner = self.inner.open(node).await?;
            Ok(Box::new(Timeout::new(inner, self.after)) as Box<dyn Client>)
        })
    }

    fn invoke<'a>(&'a mut self, op: &'a Op) -> BoxFuture<'a, Result<Op, ClientError>> {
        Box::pin(async move {
            match tokio::time::timeout(self.after, self.inner.invoke(op)).await {
                Ok(result) => result,
                Err(_) => Ok(op.info("timeout")),
            }
        })
    }

    fn close(&mut self) -> BoxFuture<'_, Result<(), ClientError>> {
        self.inner.close()
    }

    fn for_workload(
        &self,
        workload: &str,
        opts: &Options,
    ) -> Result<Option<Box<dyn Client>>, ClientError> {
        Ok(self
            .inner
            .for_workload(workload, opts)?
            .map(|inner| Box::new(Timeout::new(inner, self.after)) as Box<dyn Client>))
    }
}

/// Rejects completions that do not answer their invocation: wrong
/// process, wrong `f`, or not `ok`/`fail`/`info`. A rejected completion is
/// an [`ClientError::Invalid`] error, recorded as `info`.
pub struct Validate<C> {
    inner: C,
}

impl<C: Client> Validate<C> {
    /// `inner`, checked.
    pub fn new(inner: C) -> Self {
        Validate { inner }
    }
}

/// Why `done` is not a completion of `inv`, if it is not.
pub fn check_completion(inv: &Op, done: &Op) -> Result<(), ClientError> {
    if done.kind == OpType::Invoke {
        return Err(ClientError::Invalid(format!(
            "{} completed as invoke",
            inv.f
        )));
    }
    if done.process != inv.process {
        return Err(ClientError::Invalid(format!(
            "{} by process {} completed by process {}",
            inv.f, inv.process, done.process
        )));
    }
    if done.f != inv.f {
        return Err(ClientError::Invalid(format!(
            "{} completed as {}",
            inv.f, done.f
        )));
    }
    Ok(())
}

impl<C: Client> Client for Validate<C> {
    fn open<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<Box<dyn Client>, ClientError>> {
        Box::pin(async move {
            let inner = self.inner.open(node).await?;
            Ok(Box::new(Validate::new(inner)) as Box<dyn Client>)
        })
    }

    fn invoke<'a>(&'a mut self, op: &'a Op) -> BoxFuture<'a, Result<Op, ClientError>> {
        Box::pin(async move {
            let done = self.inner.invoke(op).await?;
            check_completion(op, &done).map(|()| done)
        })
    }

    fn close(&mut self) -> BoxFuture<'_, Result<(), ClientError>> {
        self.inner.close()
    }

    fn for_workload(
        &self,
        workload: &str,
        opts: &Options,
    ) -> Result<Option<Box<dyn Client>>, ClientError> {
        Ok(self
            .inner
            .for_workload(workload, opts)?
            .map(|inner| Box::new(Validate::new(inner)) as Box<dyn Client>))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Answers after a delay, with whatever `answer` makes of the op.
    struct Scripted {
        delay: Duration,
        answer: fn(&Op) -> Op,
    }

    impl Client for Scripted {
        fn open<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<Box<dyn Client>, ClientError>> {
            let c = Scripted {
                delay: self.delay,
                answer: self.answer,
            };
            Box::pin(async move { Ok(Box::new(c) as Box<dyn Client>) })
        }

        fn invoke<'a>(&'a mut self, op: &'a Op) -> BoxFuture<'a, Result<Op, ClientError>> {
            Box::pin(async move {
                tokio::time::sleep(self.delay).await;
                Ok((self.answer)(op))
            })
        }
    }

    fn read() -> Op {
        Op::new(2, OpType::Invoke, "read", json!(null))
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_op_times_out_as_info() {
        let slow = Scripted {
            delay: Duration::from_secs(5),
            answer: |op| op.ok(json!(1)),
        };
        let mut c = Timeout::new(slow, Duration::from_secs(1))
            .open("n1")
            .await
            .unwrap();
        let done = c.invoke(&read()).await.unwrap();
        assert_eq!(
            (done.kind, done.error),
            (OpType::Info, Some(json!("timeout")))
        );
        let fast = Scripted {
            delay: Duration::from_millis(10),
            answer: |op| op.ok(json!(1)),
        };
        let mut c = Timeout::new(fast, Duration::from_secs(1))
            .open("n1")
            .await
            .unwrap();
        assert_eq!(c.invoke(&read()).await.unwrap().kind, OpType::Ok);
    }

    #[tokio::test]
    async fn validate_rejects_a_foreign_completion() {
        let wrong = Scripted {
            delay: Duration::ZERO,
            answer: |op| Op::new(9, OpType::Ok, op.f.clone(), json!(1)),
        };
        let mut c = Validate::new(wrong).open("n1").await.unwrap();
        let e = c.invoke(&read()).await.unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid completion: read by process 2 completed by process 9"
        );
        assert_eq!(e.outcome(), OpType::Info);
        let renamed = Scripted {
            delay: Duration::ZERO,
            answer: |op| Op {
                f: "write".into(),
                ..op.ok(json!(1))
            },
        };
        let mut c = Validate::new(renamed).open("n1").await.unwrap();
        assert!(c.invoke(&read()).await.is_err());
    }
}
