//! Small models of shared objects: a mutex (Knossos's `mutex`: acquire needs
//! unlocked, release needs locked), a grow-only set whose reads return the
//! whole set, and a FIFO queue (Knossos's `fifo-queue`).

use super::{shape, unknown_f, Interner, Model, OpView, NIL};
use std::sync::Arc;

/// A lock: `acquire` and `release`.
#[derive(Debug, Default)]
pub struct Mutex;

/// A mutex op: acquire (`true`) or release.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MutexOp {
    /// True for acquire.
    pub acquire: bool,
}

impl Model for Mutex {
    type State = bool;
    type Input = MutexOp;

    fn init(&self) -> bool {
        false
    }

    fn prepare(&self, op: &OpView<'_>) -> Result<Option<MutexOp>, String> {
        match op.f {
            "acquire" => Ok(Some(MutexOp { acquire: true })),
            "release" => Ok(Some(MutexOp { acquire: false })),
            f => Err(unknown_f("mutex", f, "acquire, release")),
        }
    }

    fn step(&self, locked: &bool, input: &MutexOp) -> Option<bool> {
        (*locked != input.acquire).then_some(input.acquire)
    }

    fn describe_state(&self, locked: &bool) -> String {
        if *locked { "locked" } else { "unlocked" }.into()
    }

    fn describe_op(&self, input: &MutexOp) -> String {
        if input.acquire { "acquire" } else { "release" }.into()
    }
}

/// Interned elements, sorted (set) or in order (queue).
type Elements = Arc<[u32]>;

fn show_all(values: &Interner, elements: &[u32]) -> String {
    let parts: Vec<String> = elements.iter().map(|&e| values.show(e)).collect();
    format!("[{}]", parts.join(" "))
}

/// A set: `add v`, and `read` returning every element.
#[derive(Debug, Default)]
pub struct Set {
    values: Interner,
}

/// A set op.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SetOp {
    /// Add one element.
    Add(u32),
    /// Read: the whole set, sorted.
    Read(Elements),
}

impl Model for Set {
    type State = Elements;
    type Input = SetOp;

    fn init(&self) -> Elements {
        Arc::from(Vec::new())
    }

    fn prepare(&self, op: &OpView<'_>) -> Result<Option<SetOp>, String> {
        let v = op.value();
        match op.f {
            "add" => Ok(Some(SetOp::Add(self.values.id(v)))),
            "read" if op.crashed() => Ok(None),
            "read" => {
                let list = v
                    .as_array()
                    .ok_or_else(|| format!("set read needs a list, got {}", shape(v)))?;
                let mut ids: Vec<u32> = list.iter().map(|e| self.values.id(e)).collect();
                ids.sort_unstable();
                ids.dedup();
                Ok(Some(SetOp::Read(ids.into())))
            }
            f => Err(unknown_f("set", f, "add, read")),
        }
    }

    fn step(&self, state: &Elements, input: &SetOp) -> Option<Elements> {
        match input {
            SetOp::Read(seen) => (seen == state).then(|| state.clone()),
            SetOp::Add(e) => match state.binary_search(e) {
                Ok(_) => Some(state.clone()),
                Err(at) => {
                    let mut next = state.to_vec();
                    next.insert(at, *e);
                    Some(next.into())
                }
            },
        }
    }

    fn describe_state(&self, state: &Elements) -> String {
        show_all(&self.values, state)
    }

    fn describe_op(&self, input: &SetOp) -> String {
        match input {
            SetOp::Add(e) => format!("add {}", self.values.show(*e)),
            SetOp::Read(seen) => format!("read {}", show_all(&self.values, seen)),
        }
    }
}

/// A FIFO queue: `enqueue v`, and `dequeue` returning the head (`nil`: the
/// queue was empty).
#[derive(Debug, Default)]
pub struct Queue {
    values: Interner,
}

/// A queue op.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueueOp {
    /// Append at the tail.
    Enqueue(u32),
    /// Remove the head, which was this (`NIL`: empty).
    Dequeue(u32),
    /// A crashed dequeue: removes the head, whatever it was.
    DequeueAny,
}

impl Model for Queue {
    type State = Elements;
    type Input = QueueOp;

    fn init(&self) -> Elements {
        Arc::from(Vec::new())
    }

    fn prepare(&self, op: &OpView<'_>) -> Result<Option<QueueOp>, String> {
        let v = self.values.id(op.value());
        match op.f {
            "enqueue" => Ok(Some(QueueOp::Enqueue(v))),
            "dequeue" if op.crashed() => Ok(Some(QueueOp::DequeueAny)),
            "dequeue" => Ok(Some(QueueOp::Dequeue(v))),
            f => Err(unknown_f("queue", f, "enqueue, dequeue")),
        }
    }

    fn step(&self, state: &Elements, input: &QueueOp) -> Option<Elements> {
        match *input {
            QueueOp::Enqueue(e) => {
                let mut next = state.to_vec();
                next.push(e);
                Some(next.into())
            }
            QueueOp::Dequeue(NIL) => state.is_empty().then(|| state.clone()),
            QueueOp::Dequeue(e) => (state.first() == Some(&e)).then(|| state[1..].into()),
            QueueOp::DequeueAny if state.is_empty() => Some(state.clone()),
            QueueOp::DequeueAny => Some(state[1..].into()),
        }
    }

    fn describe_state(&self, state: &Elements) -> String {
        show_all(&self.values, state)
    }

    fn describe_op(&self, input: &QueueOp) -> String {
        match *input {
            QueueOp::Enqueue(e) => format!("enqueue {}", self.values.show(e)),
            QueueOp::Dequeue(e) => format!("dequeue {}", self.values.show(e)),
            QueueOp::DequeueAny => "dequeue ?".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{info, ok, run};
    use super::*;
    use serde_json::json;

    #[test]
    fn a_mutex_alternates() {
        let n = json!(null);
        let (a, r) = (ok("acquire", &n, &n), ok("release", &n, &n));
        assert_eq!(run(&Mutex, &[a, r, a]), Some(true));
        assert_eq!(run(&Mutex, &[a, a]), None);
        assert_eq!(run(&Mutex, &[r]), None);
    }

    #[test]
    fn a_set_read_returns_every_element() {
        let m = Set::default();
        let (one, two, both, only) = (json!(1), json!(2), json!([2, 1]), json!([1]));
        let s = run(
            &m,
            &[
                ok("add", &one, &one),
                ok("add", &two, &two),
                ok("read", &both, &both),
            ],
        );
        assert_eq!(m.describe_state(&s.unwrap()), "[1 2]");
        assert!(run(
            &m,
            &[
                ok("add", &one, &one),
                ok("add", &two, &two),
                ok("read", &only, &only)
            ]
        )
        .is_none());
        assert!(m.prepare(&info("read", &only)).unwrap().is_none());
    }

    #[test]
    fn a_queue_is_fifo() {
        let m = Queue::default();
        let (one, two, n) = (json!(1), json!(2), json!(null));
        let (e1, e2) = (ok("enqueue", &one, &one), ok("enqueue", &two, &two));
        assert!(run(
            &m,
            &[e1, e2, ok("dequeue", &n, &one), ok("dequeue", &n, &two)]
        )
        .is_some());
        assert!(run(&m, &[e1, e2, ok("dequeue", &n, &two)]).is_none());
        assert!(run(&m, &[ok("dequeue", &n, &n)]).is_some());
        let s = run(&m, &[e1, e2, info("dequeue", &n)]).unwrap();
        assert_eq!(m.describe_state(&s), "[2]");
    }
}
