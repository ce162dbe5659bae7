//! Generators that depend on time: stagger and delay (a total rate over all
//! threads), time limits and sleeps (Jepsen's `stagger`, `delay`,
//! `time-limit`, `sleep`). Time is the context's, never a clock.

use super::{Context, Generator, Next};
use checkers::Op;
use rand::Rng;
use std::time::Duration;

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Ops spaced out in time, by random or fixed intervals.
#[derive(Clone)]
pub struct Stagger<G> {
    step: u64,
    random: bool,
    next: Option<u64>,
    waited: bool,
    gen: G,
}

/// Ops from `gen` at uniformly random intervals in `0..=2*mean`: a total
/// rate of about one op per `mean` over all threads (Jepsen's `stagger`).
pub fn stagger<G: Generator>(mean: Duration, gen: G) -> Stagger<G> {
    Stagger {
        step: nanos(mean).saturating_mul(2),
        random: true,
        next: None,
        waited: false,
        gen,
    }
}

/// Ops from `gen` at least `dt` apart (Jepsen's `delay`).
pub fn delay<G: Generator>(dt: Duration, gen: G) -> Stagger<G> {
    Stagger {
        step: nanos(dt),
        random: false,
        next: None,
        waited: false,
        gen,
    }
}

impl<G: Generator> Generator for Stagger<G> {
    fn op(&mut self, ctx: &mut Context<'_>) -> Next {
        if let Some(t) = self.next.filter(|&t| ctx.time < t) {
            self.waited = true;
            return Next::Pending(Some(t));
        }
        match self.gen.op(ctx) {
            Next::Op(op) => {
                // After waiting for our slot, count from the slot, not from
                // when we were polled, so the mean rate holds.
                let base = match self.next {
                    Some(t) if self.waited => t,
                    _ => ctx.time,
                };
                let step = match self.random {
                    true => ctx.rng().gen_range(0..=self.step),
                    false => self.step,
                };
                self.next = Some(base.saturating_add(step));
                self.waited = false;
                Next::Op(op)
            }
            other => {
                self.waited = false;
                other
            }
        }
    }

    fn update(&mut self, ctx: &mut Context<'_>, event: &Op) {
        self.gen.update(ctx, event)
    }
}

/// A generator cut off some time after it is first asked.
#[derive(Clone)]
pub struct TimeLimit<G> {
    dt: u64,
    cutoff: Option<u64>,
    gen: G,
}

/// Ops from `gen` for `dt` after the first time it is asked.
pub fn time_limit<G: Generator>(dt: Duration, gen: G) -> TimeLimit<G> {
    TimeLimit {
        dt: nanos(dt),
        cutoff: None,
        gen,
    }
}

impl<G: Generator> Generator for TimeLimit<G> {
    fn op(&mut self, ctx: &mut Context<'_>) -> Next {
        let cutoff = *self.cutoff.get_or_insert(ctx.time.saturating_add(self.dt));
        if ctx.time >= cutoff {
            return Next::Exhausted;
        }
        match self.gen.op(ctx) {
            Next::Pending(wake) => Next::Pending(Next::sooner(wake, Some(cutoff))),
            other => other,
        }
    }

    fn update(&mut self, ctx: &mut Context<'_>, event: &Op) {
        self.gen.update(ctx, event)
    }
}

/// Nothing for a while, then exhausted.
#[derive(Clone, Debug)]
pub struct Sleep {
    dt: u64,
    until: Option<u64>,
}

/// Waits `dt`, counted from when one of its threads is idle: as Jepsen's
/// sleep occupies a thread, a nemesis's sleep starts after its last fault
/// op completed.
pub fn sleep(dt: Duration) -> Sleep {
    Sleep {
        dt: nanos(dt),
        until: None,
    }
}

impl Generator for Sleep {
    fn op(&mut self, ctx: &mut Context<'_>) -> Next {
        let until = match self.until {
            Some(t) => t,
            None if ctx.free_threads().is_empty() => return Next::Pending(None),
            None => *self.until.insert(ctx.time.saturating_add(self.dt)),
        };
        match ctx.time >= until {
            true => Next::Exhausted,
            false => Next::Pending(Some(until)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{boxed, cat, clients, from_fn, limit, nemesis, once, sim, Template};
    use super::*;
    use serde_json::json;

    fn reads() -> impl Generator + Clone {
        from_fn(|_| Template::new("read", json!(null)))
    }

    const MS: u64 = 1_000_000;

    #[test]
    fn time_limit_stops_at_the_cutoff() {
        let g = time_limit(Duration::from_millis(10), clients(reads()));
        let ops = sim::invocations(g, 2, 1);
        // 1 ms per op on each of 2 threads: 10 rounds of 2.
        assert_eq!(ops.len(), 20);
        assert!(ops.iter().all(|o| o.time.unwrap() < 10 * MS));
    }

    #[test]
    fn delay_spaces_ops_exactly() {
        let g = limit(4, delay(Duration::from_millis(5), clients(reads())));
        let times: Vec<u64> = sim::invocations(g, 8, 1)
            .iter()
            .map(|o| o.time.unwrap())
            .collect();
        assert_eq!(times, vec![0, 5 * MS, 10 * MS, 15 * MS]);
    }

    #[test]
    fn stagger_keeps_the_total_mean_rate() {
        let g = time_limit(
            Duration::from_secs(10),
            stagger(Duration::from_millis(10), clients(reads())),
        );
        let n = sim::invocations(g, 50, 7).len();
        // 10 s at a mean of 10 ms: about 1000 ops over all 50 threads.
        assert!((900..1100).contains(&n), "ops: {n}");
    }

    #[test]
    fn sleep_waits_between_ops() {
        let g = clients(cat(vec![
            boxed(once(Template::new("a", json!(null)))),
            boxed(sleep(Duration::from_millis(50))),
            boxed(once(Template::new("b", json!(null)))),
        ]));
        let ops = sim::invocations(g, 1, 1);
        // "a" completes at 1 ms; the sleep starts then (the thread is free).
        assert_eq!(ops[1].time, Some(51 * MS));
    }

    #[test]
    fn a_nemesis_sleep_starts_after_the_fault_completes() {
        let g = nemesis(cat(vec![
            boxed(once(Template::new("start", json!(null)))),
            boxed(sleep(Duration::from_millis(10))),
            boxed(once(Template::new("stop", json!(null)))),
        ]));
        let ops = sim::invocations(g, 3, 1);
        assert_eq!(
            ops.iter().map(|o| o.time.unwrap()).collect::<Vec<_>>(),
            vec![0, 11 * MS]
        );
    }
}
