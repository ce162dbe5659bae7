//! A test's phases as one generator (Jepsen's `core.clj` `run-case!` with
//! the `:generator` and `:final-generator` of a test): clients and faults
//! for the time limit; a heal; a quiet recovery window; the workload's
//! final reads, bounded in time so a cluster that never came back cannot
//! hang the run. Each phase starts once every op of the one before has
//! completed. A run stopped early (Ctrl-C, SIGTERM, the deadline) never
//! reaches the final reads: it heals and stops.

use super::TestSpec;
use crate::nemesis::{ClockFault, FaultKind};
use std::time::Duration;
use workloads::generator::{
    any, boxed, cat, clients, nemesis, once, phases, sleep, time_limit, BoxGen, Template,
};
use workloads::nemesis::schedule;

/// The final reads may take this many op timeouts: with every node down,
/// each read times out, and a register thread has a few keys to read.
pub const FINAL_READ_TIMEOUTS: u32 = 5;

/// How long each phase lasts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Durations {
    /// Clients and faults.
    pub limit: Duration,
    /// Quiet time after the heal, for the cluster to recover.
    pub recovery: Duration,
    /// No final read starts after this much time in the final phase;
    /// those under way still end by their own timeout.
    pub final_reads: Duration,
}

impl Durations {
    /// Phases for a time limit, a recovery window and an op timeout.
    pub fn new(limit: Duration, recovery: Duration, op_timeout: Duration) -> Self {
        Durations {
            limit,
            recovery,
            final_reads: op_timeout.saturating_mul(FINAL_READ_TIMEOUTS),
        }
    }

    /// When a run of these phases is over for sure, ops in flight included
    /// (`op_timeout` each), with `slack` for the heal and the nemesis.
    pub fn worst_case(&self, op_timeout: Duration, slack: Duration) -> Duration {
        [
            self.recovery,
            self.final_reads,
            op_timeout,
            op_timeout,
            slack,
        ]
        .into_iter()
        .fold(self.limit, Duration::saturating_add)
    }
}

/// The whole test: `clients` and `faults` together for `t.limit`, then a
/// `heal` fault op, then `t.recovery` of nothing, then `final_reads` for
/// at most `t.final_reads`.
pub fn test_generator(
    clients_gen: BoxGen,
    faults: BoxGen,
    final_reads: BoxGen,
    t: &Durations,
) -> BoxGen {
    boxed(phases(vec![
        boxed(any(vec![
            boxed(clients(time_limit(t.limit, clients_gen))),
            boxed(nemesis(time_limit(t.limit, faults))),
        ])),
        boxed(nemesis(once(Template::new(
            "heal",
            serde_json::Value::Null,
        )))),
        boxed(sleep(t.recovery)),
        boxed(time_limit(t.final_reads, final_reads)),
    ]))
}

/// The whole test `spec` describes, with the workload's generators
/// `gens`: what a run drives, and what a replay repeats.
pub fn for_spec(spec: &TestSpec, gens: workloads::Generators) -> BoxGen {
    let times = Durations::new(
        Duration::from_secs_f64(spec.time_limit),
        Duration::from_secs_f64(spec.recovery_time),
        Duration::from_secs_f64(spec.op_timeout),
    );
    let interval = Duration::from_secs_f64(spec.nemesis_interval);
    test_generator(
        gens.clients,
        fault_schedules(&spec.nemesis, &spec.clock_faults, interval),
        gens.final_reads,
        &times,
    )
}

/// One schedule per fault family, each cycling quiet/faulty on its own and
/// started a fraction of an interval after the previous, so that faults
/// overlap in every combination (a partition while a clock is skewed, a
/// pause during a partition) as Jepsen's combined nemesis does.
pub fn fault_schedules(kinds: &[FaultKind], clock: &[ClockFault], interval: Duration) -> BoxGen {
    let n = kinds.len().max(1) as u32;
    let gens = kinds
        .iter()
        .enumerate()
        .map(|(i, kind)| {
            let offset = interval * i as u32 / n;
            let opening = kind
                .opening()
                .map(|op| boxed(once(Template::new(op.name(), serde_json::Value::Null))));
            boxed(cat(opening
                .into_iter()
                .chain([
                    boxed(sleep(offset)),
                    boxed(schedule(interval, kind.faults(clock))),
                ])
                .collect()))
        })
        .collect();
    boxed(any(gens))
}

#[cfg(test)]
mod tests {
    use super::*;
    use checkers::{Op, OpType, Process};
    use serde_json::json;
    use workloads::generator::{each_thread, finals, from_fn, sim};

    const MS: u64 = 1_000_000;

    fn reads() -> BoxGen {
        boxed(from_fn(|_| Template::new("read", json!(null))))
    }

    fn final_read() -> BoxGen {
        boxed(finals(clients(each_thread(once(Template::new(
            "read",
            json!("final"),
        ))))))
    }

    fn times() -> Durations {
        Durations::new(
            Duration::from_millis(100),
            Duration::from_millis(50),
            Duration::from_millis(20),
        )
    }

    #[test]
    fn final_reads_come_after_the_heal_and_the_recovery_window() {
        let faults = boxed(schedule(
            Duration::from_millis(30),
            FaultKind::Partition.faults(&[]),
        ));
        let g = test_generator(reads(), faults, final_read(), &times());
        let trace = sim::Sim::new(3, 1).run(g, |_| OpType::Ok);
        let h = &trace.history;
        let heal = h.iter().rposition(|o| o.f == "heal").unwrap();
        let healed_at = h[heal].time.unwrap();
        let finals: Vec<&Op> = trace.invocations.iter().filter(|o| o.is_final).collect();
        assert_eq!(finals.len(), 3, "one final read per client");
        for f in &finals {
            assert!(f.time.unwrap() >= healed_at + 50 * MS, "{f:?}");
        }
        let last_other = h[..heal].iter().map(|o| o.time.unwrap()).max().unwrap();
        assert!(last_other <= healed_at);
        assert!(h[heal + 1..]
            .iter()
            .all(|o| o.is_final && o.process != Process::Nemesis));
    }

    #[test]
    fn the_final_phase_is_cut_off_in_time() {
        let endless = boxed(finals(clients(from_fn(|_| {
            Template::new("read", json!(null))
        }))));
        let g = test_generator(reads(), boxed(sleep(Duration::ZERO)), endless, &times());
        let trace = sim::Sim::new(2, 1).run(g, |_| OpType::Ok);
        let finals: Vec<&Op> = trace.invocations.iter().filter(|o| o.is_final).collect();
        let first = finals[0].time.unwrap();
        assert!(finals.iter().all(|o| o.time.unwrap() < first + 100 * MS));
        // 1 ms per op on 2 threads for 5 op timeouts of 20 ms.
        assert_eq!(finals.len(), 200);
    }

    #[test]
    fn the_worst_case_covers_every_phase() {
        let t = times();
        assert_eq!(t.final_reads, Duration::from_millis(20 * 5));
        let worst = t.worst_case(Duration::from_millis(20), Duration::from_secs(1));
        assert_eq!(worst, Duration::from_millis(100 + 50 + 100 + 40 + 1000));
        let absurd = Durations::new(Duration::MAX, Duration::MAX, Duration::MAX);
        assert_eq!(
            absurd.worst_case(Duration::MAX, Duration::MAX),
            Duration::MAX
        );
    }

    #[test]
    fn clock_faults_are_bumps_and_strobes_each_ended_by_a_reset() {
        let g = time_limit(
            Duration::from_secs(2),
            nemesis(fault_schedules(
                &[FaultKind::Clock],
                &ClockFault::ALL,
                Duration::from_millis(10),
            )),
        );
        let ops = sim::invocations(g, 1, 7);
        let fs: Vec<&str> = ops.iter().map(|o| o.f.as_str()).collect();
        assert_eq!(fs[0], "measure-clock", "the plot starts from a reading");
        for pair in fs[1..].chunks(2) {
            assert!(["bump-clock", "strobe-clock"].contains(&pair[0]), "{fs:?}");
            if let Some(stop) = pair.get(1) {
                assert_eq!(*stop, "reset-clock", "{fs:?}");
            }
        }
        for f in ["bump-clock", "strobe-clock", "reset-clock"] {
            assert!(fs.contains(&f), "{f} never scheduled: {fs:?}");
        }
        let again: Vec<Op> = sim::invocations(
            time_limit(
                Duration::from_secs(2),
                nemesis(fault_schedules(
                    &[FaultKind::Clock],
                    &ClockFault::ALL,
                    Duration::from_millis(10),
                )),
            ),
            1,
            7,
        );
        assert_eq!(ops, again, "the same seed, the same schedule");
        let bumps = sim::invocations(
            time_limit(
                Duration::from_secs(1),
                nemesis(fault_schedules(
                    &[FaultKind::Clock],
                    &[ClockFault::Bump],
                    Duration::from_millis(10),
                )),
            ),
            1,
            7,
        );
        assert!(bumps.iter().all(|o| o.f != "strobe-clock") && bumps.len() > 10);
    }
}
