//! Generators: what ops to invoke, on which thread, and when (Jepsen's
//! `jepsen.generator`).
//!
//! A generator is asked for its next op given a [`Context`] (the time, the
//! idle threads, the seeded RNG) and answers [`Next::Op`], [`Next::Pending`]
//! (ask again at a time, or when something completes) or
//! [`Next::Exhausted`]. It is told about every invocation and completion
//! through [`Generator::update`]. An op a generator returns is committed:
//! the caller must dispatch it, so a combinator asks at most one child per
//! op it returns.
//!
//! Determinism: every random choice comes from the context's one RNG, and
//! no generator reads a clock, so the same seed and the same sequence of
//! contexts give the same op stream ([`sim`] drives one with a fake clock).
//! Unlike Jepsen, time is not carried on future ops: a generator that must
//! wait answers `Pending(Some(t))` and is asked again at `t`.
//!
//! Leaf generators pick any idle thread they can see, the nemesis's
//! included: wrap client generators in [`clients`] and fault schedules in
//! [`nemesis`], as in Jepsen (`any(vec![clients(w), nemesis(n)])`).

mod basic;
mod context;
mod final_phase;
mod independent;
mod phases;
pub mod sim;
mod threads;
mod time;

pub use basic::{
    cat, cycle, defer, from_fn, limit, mix, once, repeat, seq, Cat, Cycle, Defer, FromFn, Limit,
    Mix, Once, Repeat, Seq,
};
pub use context::{Context, ThreadSet, Workers};
pub use final_phase::{finals, Finals, KeysInUse};
pub use independent::{independent, Independent};
pub use phases::{phases, synchronize, Synchronize};
pub use threads::{any, clients, each_thread, nemesis, on_threads, Any, EachThread, OnThreads};
pub use time::{delay, sleep, stagger, time_limit, Sleep, Stagger, TimeLimit};

use checkers::Op;
use serde_json::Value;

/// A generator's answer.
#[derive(Clone, Debug, PartialEq)]
pub enum Next {
    /// Invoke this op now (its `process` names the thread).
    Op(Op),
    /// Nothing yet: ask again at this time (ns since start) if given, and
    /// whenever an op completes.
    Pending(Option<u64>),
    /// Never anything again.
    Exhausted,
}

impl Next {
    /// The earlier of two wake-up times, where `None` means "no time".
    pub fn sooner(a: Option<u64>, b: Option<u64>) -> Option<u64> {
        match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, None) => a,
            (None, b) => b,
        }
    }
}

/// The shape of an op before it has a thread and time: its `f` and value.
#[derive(Clone, Debug, PartialEq)]
pub struct Template {
    /// The function.
    pub f: String,
    /// The argument.
    pub value: Value,
}

impl Template {
    /// An op `f` with argument `value`.
    pub fn new(f: impl Into<String>, value: Value) -> Self {
        Template { f: f.into(), value }
    }
}

/// Something that yields ops and learns of their outcomes.
pub trait Generator: Send {
    /// The next op, given what the caller knows now.
    fn op(&mut self, ctx: &mut Context<'_>) -> Next;

    /// An op was invoked or completed (`ctx` shows the state after it).
    fn update(&mut self, _ctx: &mut Context<'_>, _event: &Op) {}
}

/// A generator behind a box, for building trees of mixed kinds.
pub type BoxGen = Box<dyn Generator>;

impl Generator for BoxGen {
    fn op(&mut self, ctx: &mut Context<'_>) -> Next {
        (**self).op(ctx)
    }

    fn update(&mut self, ctx: &mut Context<'_>, event: &Op) {
        (**self).update(ctx, event)
    }
}

/// Boxes a generator.
pub fn boxed(gen: impl Generator + 'static) -> BoxGen {
    Box::new(gen)
}
