//! The `Nemesis` trait (what injects faults) and the fault schedule that
//! drives it: sleep, start a fault, sleep, stop it, round and round
//! (Jepsen's `jepsen.nemesis` protocol and `nemesis.combined` schedules).
//! Real faults (partitions, kills, pauses, clocks) implement the trait in
//! the harness.

use crate::client::BoxFuture;
use crate::generator::{Context, Generator, Next, Template};
use checkers::Op;
use rand::seq::SliceRandom;
use std::time::Duration;

/// A fault injection that could not be carried out.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct NemesisError(pub String);

/// Injects and heals faults. Its ops are recorded as process `nemesis`,
/// `info` on both ends.
pub trait Nemesis: Send {
    /// Performs the fault op `op` and returns its completion (with what was
    /// done in its value).
    fn invoke<'a>(&'a mut self, op: &'a Op) -> BoxFuture<'a, Result<Op, NemesisError>>;
}

/// A fault as a pair of ops: the one that starts it and the one that stops
/// it (e.g. `start-partition` / `stop-partition`).
#[derive(Clone, Debug, PartialEq)]
pub struct Fault {
    /// Starts the fault.
    pub start: Template,
    /// Undoes it.
    pub stop: Template,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Step {
    Quiet,
    Start,
    Faulty,
    Stop,
}

/// The fault schedule generator.
#[derive(Clone, Debug)]
pub struct Schedule {
    interval: u64,
    faults: Vec<Fault>,
    step: Step,
    until: Option<u64>,
    current: usize,
    /// Faults not yet dealt this round, in a seeded random order.
    deck: Vec<usize>,
}

/// Cycles `interval` quiet, start a fault (chosen at random among
/// `faults`, dealt like cards: each one once per round, in a seeded random
/// order, so a short run still has every kind), `interval` faulty, stop
/// it. Each wait is counted from when
/// the nemesis is idle, so a slow fault op does not shorten the next
/// interval. Endless: bound it with `time_limit` and route it with
/// `generator::nemesis`.
pub fn schedule(interval: Duration, faults: Vec<Fault>) -> Schedule {
    Schedule {
        interval: u64::try_from(interval.as_nanos()).unwrap_or(u64::MAX),
        faults,
        step: Step::Quiet,
        until: None,
        current: 0,
        deck: Vec::new(),
    }
}

impl Schedule {
    /// Waits out the current interval; `None` once it is over.
    fn wait(&mut self, ctx: &Context<'_>) -> Option<Next> {
        let until = match self.until {
            Some(t) => t,
            None if ctx.free_threads().is_empty() => return Some(Next::Pending(None)),
            None => *self.until.insert(ctx.time.saturating_add(self.interval)),
        };
        if ctx.time < until {
            return Some(Next::Pending(Some(until)));
        }
        self.until = None;
        None
    }
}

impl Generator for Schedule {
    fn op(&mut self, ctx: &mut Context<'_>) -> Next {
        if self.faults.is_empty() {
            return Next::Exhausted;
        }
        loop {
            match self.step {
                Step::Quiet | Step::Faulty => match self.wait(ctx) {
                    Some(next) => return next,
                    None if self.step == Step::Quiet => self.step = Step::Start,
                    None => self.step = Step::Stop,
                },
                Step::Start => {
                    if ctx.free_threads().is_empty() {
                        return Next::Pending(None);
                    }
                    if self.deck.is_empty() {
                        self.deck = (0..self.faults.len()).collect();
                        self.deck.shuffle(ctx.rng());
                    }
                    self.current = self.deck.pop().unwrap_or(0);
                    let next = ctx.invoke(&self.faults[self.current].start);
                    self.step = Step::Faulty;
                    return next;
                }
                Step::Stop => {
                    let next = ctx.invoke(&self.faults[self.current].stop);
                    if matches!(next, Next::Op(_)) {
                        self.step = Step::Quiet;
                    }
                    return next;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generator::{nemesis, sim, time_limit};
    use checkers::Process;
    use serde_json::json;

    fn fault(name: &str) -> Fault {
        Fault {
            start: Template::new(format!("start-{name}"), json!(null)),
            stop: Template::new(format!("stop-{name}"), json!(null)),
        }
    }

    #[test]
    fn the_schedule_alternates_start_and_stop_every_interval() {
        let g = time_limit(
            Duration::from_millis(100),
            nemesis(schedule(
                Duration::from_millis(10),
                vec![fault("a"), fault("b")],
            )),
        );
        let ops = sim::invocations(g, 3, 4);
        assert!(ops.iter().all(|o| o.process == Process::Nemesis));
        for pair in ops.chunks(2) {
            let name = pair[0].f.strip_prefix("start-").unwrap();
            if let Some(stop) = pair.get(1) {
                assert_eq!(stop.f, format!("stop-{name}"));
            }
        }
        // 10 ms quiet, start (1 ms), 10 ms faulty, stop (1 ms): 22 ms a cycle.
        let times: Vec<u64> = ops.iter().map(|o| o.time.unwrap() / 1_000_000).collect();
        assert_eq!(times, vec![10, 21, 32, 43, 54, 65, 76, 87, 98]);
        assert!(ops.iter().any(|o| o.f == "start-a") && ops.iter().any(|o| o.f == "start-b"));
        // Dealt like cards: each round of two starts has both.
        let starts: Vec<&str> = ops
            .iter()
            .filter(|o| o.f.starts_with("start-"))
            .map(|o| o.f.as_str())
            .collect();
        for round in starts.chunks_exact(2) {
            assert_ne!(round[0], round[1], "{starts:?}");
        }
    }
}
