//! The plain generators and sequencing combinators: one op, a fixed list of
//! ops, ops from a function, a generator made when first asked, limit,
//! repeat, concatenation, cycle and random mixing (Jepsen's map/seq/fn
//! generators, `limit`, `repeat`, `cycle`, `mix`).

use super::{BoxGen, Context, Generator, Next, Template};
use checkers::Op;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::collections::VecDeque;

/// One op, then exhausted.
#[derive(Clone, Debug)]
pub struct Once(Option<Template>);

/// The op `template`, once.
pub fn once(template: Template) -> Once {
    Once(Some(template))
}

impl Generator for Once {
    fn op(&mut self, ctx: &mut Context<'_>) -> Next {
        let Some(t) = &self.0 else {
            return Next::Exhausted;
        };
        let next = ctx.invoke(t);
        if matches!(next, Next::Op(_)) {
            self.0 = None;
        }
        next
    }
}

/// A generator made when it is first asked for an op.
pub struct Defer<F, G> {
    make: Option<F>,
    gen: Option<G>,
}

/// The generator `make()` returns, made when first asked for an op (not
/// when built): under [`phases`](super::phases) that is when its phase
/// begins, so it can read what earlier phases left, e.g.
/// [`KeysInUse`](super::KeysInUse). Updates before then are dropped.
pub fn defer<F, G>(make: F) -> Defer<F, G>
where
    F: FnOnce() -> G + Send,
    G: Generator,
{
    Defer {
        make: Some(make),
        gen: None,
    }
}

impl<F, G> Generator for Defer<F, G>
where
    F: FnOnce() -> G + Send,
    G: Generator,
{
    fn op(&mut self, ctx: &mut Context<'_>) -> Next {
        if let Some(make) = self.make.take() {
            self.gen = Some(make());
        }
        match &mut self.gen {
            Some(g) => g.op(ctx),
            None => Next::Exhausted,
        }
    }

    fn update(&mut self, ctx: &mut Context<'_>, event: &Op) {
        if let Some(g) = &mut self.gen {
            g.update(ctx, event)
        }
    }
}

/// Ops from a list, in order, each once.
#[derive(Clone, Debug)]
pub struct Seq(VecDeque<Template>);

/// Each of `templates` in order, on whichever thread is free (Jepsen's
/// sequence of op maps); `each_thread(seq(...))` gives every thread the
/// whole list.
pub fn seq(templates: Vec<Template>) -> Seq {
    Seq(templates.into())
}

impl Generator for Seq {
    fn op(&mut self, ctx: &mut Context<'_>) -> Next {
        let Some(t) = self.0.front() else {
            return Next::Exhausted;
        };
        let next = ctx.invoke(t);
        if matches!(next, Next::Op(_)) {
            self.0.pop_front();
        }
        next
    }
}

/// Endless ops, each made by a function of the RNG.
#[derive(Clone)]
pub struct FromFn<F>(F);

/// Endless ops made by `f`; `f` is called only when a thread is free, so the
/// RNG is consumed once per op, however often the generator is polled.
pub fn from_fn<F: FnMut(&mut ChaCha8Rng) -> Template + Send>(f: F) -> FromFn<F> {
    FromFn(f)
}

impl<F: FnMut(&mut ChaCha8Rng) -> Template + Send> Generator for FromFn<F> {
    fn op(&mut self, ctx: &mut Context<'_>) -> Next {
        if ctx.free_threads().is_empty() {
            return Next::Pending(None);
        }
        let t = (self.0)(ctx.rng());
        ctx.invoke(&t)
    }
}

/// At most `n` ops from a generator.
#[derive(Clone)]
pub struct Limit<G> {
    remaining: u64,
    gen: G,
}

/// The first `n` ops of `gen`.
pub fn limit<G: Generator>(n: u64, gen: G) -> Limit<G> {
    Limit { remaining: n, gen }
}

impl<G: Generator> Generator for Limit<G> {
    fn op(&mut self, ctx: &mut Context<'_>) -> Next {
        if self.remaining == 0 {
            return Next::Exhausted;
        }
        let next = self.gen.op(ctx);
        if matches!(next, Next::Op(_)) {
            self.remaining -= 1;
        }
        next
    }

    fn update(&mut self, ctx: &mut Context<'_>, event: &Op) {
        self.gen.update(ctx, event)
    }
}

/// The first op of a generator, again and again, without advancing it.
#[derive(Clone)]
pub struct Repeat<G> {
    remaining: Option<u64>,
    gen: G,
}

/// Asks a fresh copy of `gen` for each op (`n` times, or forever): the
/// inverse of [`once`]. A random generator yields different ops each time.
pub fn repeat<G: Generator + Clone>(n: Option<u64>, gen: G) -> Repeat<G> {
    Repeat { remaining: n, gen }
}

impl<G: Generator + Clone> Generator for Repeat<G> {
    fn op(&mut self, ctx: &mut Context<'_>) -> Next {
        if self.remaining == Some(0) {
            return Next::Exhausted;
        }
        let next = self.gen.clone().op(ctx);
        if let (Next::Op(_), Some(n)) = (&next, &mut self.remaining) {
            *n -= 1;
        }
        next
    }
}

/// Generators one after another, without waiting in between.
pub struct Cat {
    gens: VecDeque<BoxGen>,
}

/// All ops of each generator in turn (Jepsen's sequences). Updates go to
/// the current generator only.
pub fn cat(gens: Vec<BoxGen>) -> Cat {
    Cat { gens: gens.into() }
}

impl Generator for Cat {
    fn op(&mut self, ctx: &mut Context<'_>) -> Next {
        while let Some(g) = self.gens.front_mut() {
            match g.op(ctx) {
                Next::Exhausted => {
                    self.gens.pop_front();
                }
                next => return next,
            }
        }
        Next::Exhausted
    }

    fn update(&mut self, ctx: &mut Context<'_>, event: &Op) {
        if let Some(g) = self.gens.front_mut() {
            g.update(ctx, event)
        }
    }
}

/// A generator restarted from its initial state whenever it is exhausted.
#[derive(Clone)]
pub struct Cycle<G> {
    proto: G,
    cur: G,
    progressed: bool,
}

/// `gen` over and over. A round that neither yields an op nor waits ends
/// the cycle, so a generator that is empty from the start cannot spin.
pub fn cycle<G: Generator + Clone>(gen: G) -> Cycle<G> {
    Cycle {
        cur: gen.clone(),
        proto: gen,
        progressed: false,
    }
}

impl<G: Generator + Clone> Generator for Cycle<G> {
    fn op(&mut self, ctx: &mut Context<'_>) -> Next {
        loop {
            match self.cur.op(ctx) {
                Next::Exhausted if self.progressed => {
                    self.cur = self.proto.clone();
                    self.progressed = false;
                }
                Next::Exhausted => return Next::Exhausted,
                next => {
                    self.progressed = true;
                    return next;
                }
            }
        }
    }

    fn update(&mut self, ctx: &mut Context<'_>, event: &Op) {
        self.cur.update(ctx, event)
    }
}

/// A uniformly random choice among generators for each op.
pub struct Mix {
    gens: Vec<BoxGen>,
    chosen: Option<usize>,
}

/// Each op from a generator chosen at random; exhausted ones drop out. The
/// choice is kept while the chosen generator is pending (Jepsen re-rolls),
/// so the RNG is consumed once per op, not once per poll. Updates are
/// ignored, as in Jepsen.
pub fn mix(gens: Vec<BoxGen>) -> Mix {
    Mix { gens, chosen: None }
}

impl Generator for Mix {
    fn op(&mut self, ctx: &mut Context<'_>) -> Next {
        while !self.gens.is_empty() {
            let n = self.gens.len();
            let i = *self.chosen.get_or_insert_with(|| ctx.rng().gen_range(0..n));
            match self.gens[i].op(ctx) {
                Next::Exhausted => {
                    self.gens.swap_remove(i);
                    self.chosen = None;
                }
                next @ Next::Op(_) => {
                    self.chosen = None;
                    return next;
                }
                pending => return pending,
            }
        }
        Next::Exhausted
    }
}

#[cfg(test)]
mod tests {
    use super::super::{boxed, clients, sim};
    use super::*;
    use serde_json::json;

    fn fs(ops: &[Op]) -> Vec<&str> {
        ops.iter().map(|o| o.f.as_str()).collect()
    }

    #[test]
    fn limit_stops_at_n() {
        let g = clients(limit(7, from_fn(|_| Template::new("read", json!(null)))));
        assert_eq!(sim::invocations(g, 3, 1).len(), 7);
    }

    #[test]
    fn once_and_cat_run_in_order() {
        let g = cat(vec![
            boxed(once(Template::new("a", json!(1)))),
            boxed(once(Template::new("b", json!(2)))),
        ]);
        assert_eq!(fs(&sim::invocations(clients(g), 1, 1)), vec!["a", "b"]);
    }

    #[test]
    fn a_deferred_generator_is_made_when_first_asked() {
        let keys = super::super::KeysInUse::new();
        let seen = keys.clone();
        let g = defer(move || {
            let reads = seen
                .keys()
                .into_iter()
                .map(|k| Template::new("read", json!([k, null])))
                .collect();
            seq(reads)
        });
        // Set after the generator was built, before it is asked.
        keys.set(0, 4);
        keys.set(1, 5);
        let ops = sim::invocations(clients(g), 1, 1);
        let values: Vec<_> = ops.iter().map(|o| o.value.clone()).collect();
        assert_eq!(values, vec![json!([4, null]), json!([5, null])]);
    }

    #[test]
    fn repeat_asks_a_fresh_copy_each_time() {
        let g = repeat(Some(3), once(Template::new("a", json!(1))));
        assert_eq!(fs(&sim::invocations(clients(g), 2, 1)), vec!["a", "a", "a"]);
    }

    #[test]
    fn cycle_restarts_and_an_empty_cycle_ends() {
        let empty = cycle(limit(0, once(Template::new("x", json!(null)))));
        assert!(sim::invocations(clients(empty), 1, 1).is_empty());
        let g = limit(
            5,
            cycle(repeat(Some(2), once(Template::new("a", json!(1))))),
        );
        assert_eq!(sim::invocations(clients(g), 1, 1).len(), 5);
    }

    #[test]
    fn mix_draws_from_every_generator_and_is_seeded() {
        let mk = || {
            limit(
                200,
                mix(vec![
                    boxed(from_fn(|_| Template::new("read", json!(null)))),
                    boxed(from_fn(|r| {
                        Template::new("write", json!(r.gen_range(0..5)))
                    })),
                ]),
            )
        };
        let a = sim::invocations(clients(mk()), 4, 42);
        let reads = a.iter().filter(|o| o.f == "read").count();
        assert!((60..140).contains(&reads), "reads: {reads}");
        assert_eq!(a, sim::invocations(clients(mk()), 4, 42));
        assert_ne!(a, sim::invocations(clients(mk()), 4, 43));
    }

    #[test]
    fn mix_drops_exhausted_generators() {
        let g = mix(vec![
            boxed(once(Template::new("a", json!(1)))),
            boxed(limit(3, from_fn(|_| Template::new("b", json!(2))))),
        ]);
        let mut got = fs(&sim::invocations(clients(g), 2, 9)).join(",");
        got = got.replace("a,", "").replace(",a", "");
        assert_eq!(got, "b,b,b");
    }
}
