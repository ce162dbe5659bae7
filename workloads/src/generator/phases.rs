//! Barriers: wait until every thread is idle before going on (Jepsen's
//! `synchronize` and `phases`).

use super::{boxed, cat, BoxGen, Cat, Context, Generator, Next};
use checkers::Op;

/// A generator that starts only once all its threads are idle.
#[derive(Clone)]
pub struct Synchronize<G> {
    started: bool,
    gen: G,
}

/// `gen`, held back until every thread it may use is idle.
pub fn synchronize<G: Generator>(gen: G) -> Synchronize<G> {
    Synchronize {
        started: false,
        gen,
    }
}

impl<G: Generator> Generator for Synchronize<G> {
    fn op(&mut self, ctx: &mut Context<'_>) -> Next {
        if !self.started {
            if !ctx.all_free() {
                return Next::Pending(None);
            }
            self.started = true;
        }
        self.gen.op(ctx)
    }

    fn update(&mut self, ctx: &mut Context<'_>, event: &Op) {
        if self.started {
            self.gen.update(ctx, event)
        }
    }
}

/// Each generator in turn, each starting only when all threads are idle:
/// the ops of one phase all complete before the next phase begins.
pub fn phases(gens: Vec<BoxGen>) -> Cat {
    cat(gens.into_iter().map(|g| boxed(synchronize(g))).collect())
}

#[cfg(test)]
mod tests {
    use super::super::{any, clients, from_fn, limit, nemesis, once, sim, sleep, Template};
    use super::*;
    use serde_json::json;
    use std::time::Duration;

    #[test]
    fn a_phase_waits_for_every_op_of_the_last_one() {
        let writes = limit(5, from_fn(|_| Template::new("write", json!(1))));
        let read = once(Template::new("read", json!(null)));
        let trace = sim::Sim::new(3, 1)
            .run(clients(phases(vec![boxed(writes), boxed(read)])), |_| {
                checkers::OpType::Ok
            });
        let h = &trace.history;
        let read_at = h.iter().position(|o| o.f == "read").unwrap();
        let writes_done = h[..read_at]
            .iter()
            .filter(|o| o.f == "write" && o.kind == checkers::OpType::Ok)
            .count();
        assert_eq!(
            writes_done, 5,
            "the read started before all writes completed"
        );
    }

    #[test]
    fn phases_wait_for_the_nemesis_too() {
        let slow_fault = any(vec![
            boxed(nemesis(once(Template::new("start", json!(null))))),
            boxed(clients(sleep(Duration::ZERO))),
        ]);
        let read = clients(once(Template::new("read", json!(null))));
        let g = phases(vec![boxed(slow_fault), boxed(read)]);
        let ops = sim::invocations(g, 2, 1);
        assert_eq!(ops[1].f, "read");
        assert_eq!(
            ops[1].time,
            Some(1_000_000),
            "read must wait for the fault to complete"
        );
    }
}
