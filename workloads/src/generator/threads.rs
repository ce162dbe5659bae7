//! Routing ops to threads: restrict a generator to some threads (clients,
//! the nemesis), run generators side by side, or give each thread its own
//! copy (Jepsen's `on-threads`, `clients`, `nemesis`, `any`,
//! `each-thread`).

use super::{BoxGen, Context, Generator, Next, ThreadSet, Workers};
use checkers::Op;
use std::sync::Arc;

/// A caller's choice of threads: `keep(thread, workers)`.
type Keep = Arc<dyn Fn(usize, &Workers) -> bool + Send + Sync>;

/// Which threads a generator may use.
#[derive(Clone)]
enum Threads {
    Clients,
    Nemesis,
    Custom(Keep),
}

impl Threads {
    fn mask(&self, w: &Workers) -> ThreadSet {
        let n = w.thread_count();
        match self {
            Threads::Clients => ThreadSet::filter(n, |t| t < w.concurrency()),
            Threads::Nemesis => ThreadSet::filter(n, |t| t == w.nemesis_thread()),
            Threads::Custom(keep) => ThreadSet::filter(n, |t| keep(t, w)),
        }
    }
}

/// A generator that sees only some threads.
#[derive(Clone)]
pub struct OnThreads<G> {
    threads: Threads,
    mask: Option<ThreadSet>,
    gen: G,
}

fn on<G: Generator>(threads: Threads, gen: G) -> OnThreads<G> {
    OnThreads {
        threads,
        mask: None,
        gen,
    }
}

/// `gen` on the client threads only.
pub fn clients<G: Generator>(gen: G) -> OnThreads<G> {
    on(Threads::Clients, gen)
}

/// `gen` on the nemesis thread only: its ops become the nemesis's.
pub fn nemesis<G: Generator>(gen: G) -> OnThreads<G> {
    on(Threads::Nemesis, gen)
}

/// `gen` on the threads for which `keep(thread, workers)` holds.
pub fn on_threads<G: Generator>(
    keep: impl Fn(usize, &Workers) -> bool + Send + Sync + 'static,
    gen: G,
) -> OnThreads<G> {
    on(Threads::Custom(Arc::new(keep)), gen)
}

impl<G: Generator> OnThreads<G> {
    fn mask_for(&mut self, w: &Workers) -> ThreadSet {
        self.mask
            .get_or_insert_with(|| self.threads.mask(w))
            .clone()
    }
}

impl<G: Generator> Generator for OnThreads<G> {
    fn op(&mut self, ctx: &mut Context<'_>) -> Next {
        let mask = self.mask_for(ctx.workers());
        self.gen.op(&mut ctx.restrict(&mask))
    }

    fn update(&mut self, ctx: &mut Context<'_>, event: &Op) {
        let mask = self.mask_for(ctx.workers());
        if mask.contains(ctx.workers().thread_of(event.process)) {
            self.gen.update(&mut ctx.restrict(&mask), event)
        }
    }
}

/// Several generators side by side.
pub struct Any {
    gens: Vec<BoxGen>,
    start: usize,
}

/// The first op any of `gens` has, asking them in turn so none starves
/// (Jepsen's `any`); usually over disjoint threads, e.g.
/// `any(vec![clients(w), nemesis(n)])`. Updates go to all.
pub fn any(gens: Vec<BoxGen>) -> Any {
    Any { gens, start: 0 }
}

impl Generator for Any {
    fn op(&mut self, ctx: &mut Context<'_>) -> Next {
        let mut wake = None;
        let mut k = 0;
        while k < self.gens.len() {
            let i = (self.start + k) % self.gens.len();
            match self.gens[i].op(ctx) {
                Next::Op(op) => {
                    self.start = i + 1;
                    return Next::Op(op);
                }
                Next::Pending(w) => {
                    wake = Next::sooner(wake, w);
                    k += 1;
                }
                Next::Exhausted => {
                    self.gens.remove(i);
                    self.start = i;
                    k = 0;
                    wake = None;
                }
            }
        }
        match self.gens.is_empty() {
            true => Next::Exhausted,
            false => Next::Pending(wake),
        }
    }

    fn update(&mut self, ctx: &mut Context<'_>, event: &Op) {
        self.gens.iter_mut().for_each(|g| g.update(ctx, event))
    }
}

enum Slot<G> {
    Fresh,
    Active(G),
    Done,
}

/// Each thread with its own copy of a generator.
pub struct EachThread<G> {
    proto: G,
    slots: Vec<Slot<G>>,
}

/// A fresh copy of `gen` for every thread it may use, e.g. one final read
/// per client: `clients(each_thread(once(read)))`.
pub fn each_thread<G: Generator + Clone>(gen: G) -> EachThread<G> {
    EachThread {
        proto: gen,
        slots: Vec::new(),
    }
}

impl<G: Generator + Clone> EachThread<G> {
    fn slot(&mut self, t: usize) -> &mut Slot<G> {
        if self.slots.len() <= t {
            self.slots.resize_with(t + 1, || Slot::Fresh);
        }
        let slot = &mut self.slots[t];
        if let Slot::Fresh = slot {
            *slot = Slot::Active(self.proto.clone());
        }
        slot
    }
}

impl<G: Generator + Clone> Generator for EachThread<G> {
    fn op(&mut self, ctx: &mut Context<'_>) -> Next {
        let mut wake = None;
        let threads: Vec<usize> = ctx.all_threads().iter().collect();
        for &t in &threads {
            let mut mask = ThreadSet::empty(t + 1);
            mask.insert(t);
            let Slot::Active(g) = self.slot(t) else {
                continue;
            };
            match g.op(&mut ctx.restrict(&mask)) {
                Next::Op(op) => return Next::Op(op),
                Next::Pending(w) => wake = Next::sooner(wake, w),
                Next::Exhausted => self.slots[t] = Slot::Done,
            }
        }
        match threads.iter().all(|&t| matches!(self.slots[t], Slot::Done)) {
            true => Next::Exhausted,
            false => Next::Pending(wake),
        }
    }

    fn update(&mut self, ctx: &mut Context<'_>, event: &Op) {
        let t = ctx.workers().thread_of(event.process);
        let mut mask = ThreadSet::empty(t + 1);
        mask.insert(t);
        if let Some(Slot::Active(g)) = self.slots.get_mut(t) {
            g.update(&mut ctx.restrict(&mask), event)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{boxed, from_fn, limit, once, sim, Template};
    use super::*;
    use checkers::{OpType, Process};
    use serde_json::json;

    fn reads() -> impl Generator + Clone {
        from_fn(|_| Template::new("read", json!(null)))
    }

    #[test]
    fn clients_and_nemesis_route_to_their_threads() {
        let g = any(vec![
            boxed(limit(10, clients(reads()))),
            boxed(limit(2, nemesis(reads()))),
        ]);
        let ops = sim::invocations(g, 3, 5);
        let nem: Vec<&Op> = ops
            .iter()
            .filter(|o| o.process == Process::Nemesis)
            .collect();
        assert_eq!(nem.len(), 2);
        assert!(nem.iter().all(|o| o.kind == OpType::Info));
        assert_eq!(ops.len(), 12);
        // The nemesis is not starved by clients that always have an op.
        assert!(ops.iter().position(|o| o.is_nemesis()).unwrap() < 4);
    }

    #[test]
    fn on_threads_uses_only_chosen_threads() {
        let g = limit(
            20,
            on_threads(|t, w| t % 2 == 0 && t < w.concurrency(), reads()),
        );
        let ops = sim::invocations(g, 6, 1);
        assert!(ops
            .iter()
            .all(|o| matches!(o.process, Process::Client(p) if p % 2 == 0)));
        assert_eq!(ops.len(), 20);
    }

    #[test]
    fn each_thread_gives_every_thread_one_copy() {
        let g = clients(each_thread(once(Template::new("read", json!(null)))));
        let mut procs: Vec<Process> = sim::invocations(g, 4, 1)
            .iter()
            .map(|o| o.process)
            .collect();
        procs.sort();
        assert_eq!(procs, (0..4).map(Process::Client).collect::<Vec<_>>());
    }
}
