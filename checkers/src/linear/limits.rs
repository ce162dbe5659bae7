//! The bounds on a check: a deadline and a memory budget shared by every
//! partition searched in parallel, and a cancel flag (the first invalid
//! partition stops the others when asked). Running out is an answer,
//! `unknown`, never a guess (Porcupine's `CheckResult` Unknown; Knossos's
//! `:unknown` on timeout).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Why a search stopped without an answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Stop {
    /// The time limit ran out.
    TimeLimit {
        /// The limit, in milliseconds.
        limit_ms: u64,
        /// Configurations cached in this partition when it stopped.
        explored: usize,
    },
    /// The memory budget ran out.
    MemoryBudget {
        /// The budget, in bytes.
        bytes: usize,
        /// Configurations cached in this partition when it stopped.
        explored: usize,
    },
    /// Another partition was invalid, and the check was asked to stop early.
    Cancelled,
}

impl Stop {
    pub(crate) fn set_explored(&mut self, n: usize) {
        match self {
            Stop::TimeLimit { explored, .. } | Stop::MemoryBudget { explored, .. } => *explored = n,
            Stop::Cancelled => {}
        }
    }
}

impl fmt::Display for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stop::TimeLimit { limit_ms, explored } => write!(
                f,
                "time limit of {limit_ms} ms ran out after {explored} configurations"
            ),
            Stop::MemoryBudget { bytes, explored } => write!(
                f,
                "memory budget of {} MiB ran out after {explored} configurations",
                bytes / (1 << 20)
            ),
            Stop::Cancelled => f.write_str("not searched: another partition is invalid"),
        }
    }
}

/// Shared bounds for one check.
#[derive(Debug)]
pub(crate) struct Limits {
    deadline: Option<Instant>,
    limit: Option<Duration>,
    budget: Option<usize>,
    used: Arc<AtomicUsize>,
    cancel: Arc<AtomicBool>,
    /// This search alone is no longer needed (a race was won elsewhere).
    stop: AtomicBool,
}

impl Limits {
    /// Bounds starting now.
    pub fn new(limit: Option<Duration>, budget: Option<usize>) -> Limits {
        Limits {
            deadline: limit.map(|l| Instant::now() + l),
            limit,
            budget,
            used: Arc::new(AtomicUsize::new(0)),
            cancel: Arc::new(AtomicBool::new(false)),
            stop: AtomicBool::new(false),
        }
    }

    /// The same bounds (deadline, shared budget, cancel flag) for one
    /// search that can also be stopped on its own ([`Limits::stop`]).
    pub fn child(&self) -> Limits {
        Limits {
            deadline: self.deadline,
            limit: self.limit,
            budget: self.budget,
            used: Arc::clone(&self.used),
            cancel: Arc::clone(&self.cancel),
            stop: AtomicBool::new(false),
        }
    }

    /// Stops this search only: it answers `Cancelled`.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Charges a search's growth to `bytes` (it had charged `charged`) and
    /// says whether any bound is exceeded.
    pub fn exceeded(&self, bytes: usize, charged: &mut usize) -> Option<Stop> {
        if bytes > *charged {
            self.used.fetch_add(bytes - *charged, Ordering::Relaxed);
            *charged = bytes;
        }
        if self.cancel.load(Ordering::Relaxed) || self.stop.load(Ordering::Relaxed) {
            return Some(Stop::Cancelled);
        }
        if let Some(b) = self
            .budget
            .filter(|&b| self.used.load(Ordering::Relaxed) > b)
        {
            return Some(Stop::MemoryBudget {
                bytes: b,
                explored: 0,
            });
        }
        self.timed_out()
    }

    /// `Some` once the deadline has passed.
    pub fn timed_out(&self) -> Option<Stop> {
        let late = self.deadline.is_some_and(|d| Instant::now() >= d);
        let limit_ms = self.limit.map_or(0, |l| l.as_millis() as u64);
        late.then_some(Stop::TimeLimit {
            limit_ms,
            explored: 0,
        })
    }

    /// Returns what a finished search had charged.
    pub fn release(&self, charged: usize) {
        self.used.fetch_sub(charged, Ordering::Relaxed);
    }

    /// Asks every running search to stop.
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_are_shared_and_released() {
        let l = Limits::new(None, Some(100));
        let (mut a, mut b) = (0, 0);
        assert_eq!(l.exceeded(60, &mut a), None);
        assert!(matches!(
            l.exceeded(60, &mut b),
            Some(Stop::MemoryBudget { .. })
        ));
        l.release(a);
        assert_eq!(l.exceeded(60, &mut b), None);
        l.cancel();
        assert_eq!(l.exceeded(0, &mut b), Some(Stop::Cancelled));
    }

    #[test]
    fn a_zero_limit_is_already_late() {
        let l = Limits::new(Some(Duration::ZERO), None);
        let stop = l.timed_out().unwrap();
        assert_eq!(
            stop.to_string(),
            "time limit of 0 ms ran out after 0 configurations"
        );
    }
}
