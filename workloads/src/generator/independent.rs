//! Independent keys: split the client threads into groups of `n`, give
//! each group its own key and a generator for it, and move the group to a
//! fresh key when that generator is exhausted (Jepsen's
//! `jepsen.independent/concurrent-generator`). Values become `[key, v]`
//! tuples, so a checker can split the history by key.

use super::{BoxGen, Context, Generator, KeysInUse, Next, ThreadSet};
use checkers::Op;
use serde_json::Value;

struct Group {
    threads: ThreadSet,
    key: u64,
    gen: Option<BoxGen>,
}

/// The keys not handed out yet, and how to make a key's generator.
struct Keys<F> {
    next: u64,
    max: Option<u64>,
    make: F,
}

impl<F: FnMut(u64) -> BoxGen> Keys<F> {
    fn fresh(&mut self) -> Option<(u64, BoxGen)> {
        if self.max.is_some_and(|m| self.next >= m) {
            return None;
        }
        let key = self.next;
        self.next += 1;
        Some((key, (self.make)(key)))
    }
}

/// Groups of threads, each working through keys.
pub struct Independent<F> {
    per_key: usize,
    keys: Keys<F>,
    groups: Option<Vec<Group>>,
    start: usize,
    in_use: Option<KeysInUse>,
}

/// `per_key` client threads per key (a remainder forms a smaller group);
/// keys are 0, 1, 2, ... (at most `max_keys` of them), and `make(key)`
/// gives the generator for a key, e.g. `limit(ops_per_key, ...)`.
pub fn independent<F>(per_key: usize, max_keys: Option<u64>, make: F) -> Independent<F>
where
    F: FnMut(u64) -> BoxGen + Send,
{
    Independent {
        per_key: per_key.max(1),
        keys: Keys {
            next: 0,
            max: max_keys,
            make,
        },
        groups: None,
        start: 0,
        in_use: None,
    }
}

impl<F: FnMut(u64) -> BoxGen + Send> Independent<F> {
    /// Keeps `keys` up to date with the key each group works on (slot =
    /// group), e.g. for a final phase that reads them.
    pub fn share_keys(mut self, keys: KeysInUse) -> Self {
        self.in_use = Some(keys);
        self
    }

    fn build_groups(&mut self, ctx: &Context<'_>) {
        let clients: Vec<usize> = ctx
            .all_threads()
            .iter()
            .filter(|&t| t < ctx.workers().concurrency())
            .collect();
        let n = ctx.workers().thread_count();
        let mut groups = Vec::new();
        for (i, chunk) in clients.chunks(self.per_key).enumerate() {
            let threads = ThreadSet::filter(n, |t| chunk.contains(&t));
            let (key, gen) = match self.keys.fresh() {
                Some((k, g)) => {
                    note(&self.in_use, i, k);
                    (k, Some(g))
                }
                None => (0, None),
            };
            groups.push(Group { threads, key, gen });
        }
        self.groups = Some(groups);
    }

    /// Asks group `i`, moving it to a new key when its generator is
    /// exhausted; a generator exhausted at once retires the group.
    fn ask(&mut self, i: usize, ctx: &mut Context<'_>) -> Next {
        let Some(g) = self.groups.as_mut().and_then(|gs| gs.get_mut(i)) else {
            return Next::Exhausted;
        };
        if g.gen.is_some() && !ctx.free_threads().intersects(&g.threads) {
            // Busy groups cannot yield an op, and a completion will come
            // before they can: skip them cheaply (the hot path with many
            // groups).
            return Next::Pending(None);
        }
        let mut sub = ctx.restrict(&g.threads);
        let mut fresh = false;
        loop {
            let Some(gen) = g.gen.as_mut() else {
                return Next::Exhausted;
            };
            match gen.op(&mut sub) {
                Next::Op(mut op) => {
                    op.value = Value::Array(vec![Value::from(g.key), op.value]);
                    return Next::Op(op);
                }
                Next::Exhausted if !fresh => {
                    fresh = true;
                    let in_use = &self.in_use;
                    g.gen = self.keys.fresh().map(|(k, gen)| {
                        g.key = k;
                        note(in_use, i, k);
                        gen
                    });
                }
                Next::Exhausted => {
                    g.gen = None;
                    return Next::Exhausted;
                }
                pending => return pending,
            }
        }
    }
}

/// Group `group` works on `key` now.
fn note(in_use: &Option<KeysInUse>, group: usize, key: u64) {
    if let Some(keys) = in_use {
        keys.set(group, key);
    }
}

impl<F: FnMut(u64) -> BoxGen + Send> Generator for Independent<F> {
    fn op(&mut self, ctx: &mut Context<'_>) -> Next {
        if self.groups.is_none() {
            self.build_groups(ctx);
        }
        let count = self.groups.as_ref().map_or(0, Vec::len);
        let (mut wake, mut live) = (None, false);
        for k in 0..count {
            let i = (self.start + k) % count;
            match self.ask(i, ctx) {
                Next::Op(op) => {
                    self.start = i + 1;
                    return Next::Op(op);
                }
                Next::Pending(w) => {
                    wake = Next::sooner(wake, w);
                    live = true;
                }
                Next::Exhausted => {}
            }
        }
        match live {
            true => Next::Pending(wake),
            false => Next::Exhausted,
        }
    }

    fn update(&mut self, ctx: &mut Context<'_>, event: &Op) {
        let t = ctx.workers().thread_of(event.process);
        let Some(groups) = self.groups.as_mut() else {
            return;
        };
        if let Some(g) = groups.iter_mut().find(|g| g.threads.contains(t)) {
            if let Some(gen) = g.gen.as_mut() {
                gen.update(&mut ctx.restrict(&g.threads), event)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{boxed, clients, from_fn, limit, sim, Template};
    use super::*;
    use checkers::Process;
    use serde_json::json;
    use std::collections::BTreeMap;

    fn keyed(per_key: usize, ops_per_key: u64, max_keys: Option<u64>) -> impl Generator {
        clients(independent(per_key, max_keys, move |_| {
            boxed(limit(
                ops_per_key,
                from_fn(|_| Template::new("read", json!(null))),
            ))
        }))
    }

    #[test]
    fn each_key_gets_its_ops_from_its_own_group_of_threads() {
        let ops = sim::invocations(keyed(2, 3, Some(6)), 4, 1);
        assert_eq!(ops.len(), 18);
        let mut by_key: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
        for op in &ops {
            let k = op.value[0].as_u64().unwrap();
            assert_eq!(op.value[1], json!(null));
            let Process::Client(p) = op.process else {
                panic!()
            };
            by_key.entry(k).or_default().push(p % 4 / 2);
        }
        assert_eq!(
            by_key.keys().copied().collect::<Vec<_>>(),
            (0..6).collect::<Vec<_>>()
        );
        for (k, groups) in by_key {
            assert_eq!(groups.len(), 3, "key {k}");
            assert!(
                groups.iter().all(|&g| g == groups[0]),
                "key {k} used two groups"
            );
        }
    }

    #[test]
    fn shared_keys_are_each_groups_current_key() {
        let keys = KeysInUse::new();
        let g = clients(
            independent(2, None, |_| {
                boxed(limit(3, from_fn(|_| Template::new("read", json!(null)))))
            })
            .share_keys(keys.clone()),
        );
        // 4 threads in 2 groups, 3 ops a key: 20 ops reach keys 0..=6.
        let ops = sim::invocations(limit(20, g), 4, 1);
        let mut last: BTreeMap<u64, u64> = BTreeMap::new();
        for op in &ops {
            let Process::Client(p) = op.process else {
                panic!()
            };
            last.insert(p % 4 / 2, op.value[0].as_u64().unwrap());
        }
        let want: Vec<u64> = last.values().copied().collect();
        assert_eq!(keys.keys(), want);
        assert_eq!(keys.keys().len(), 2);
    }

    #[test]
    fn a_remainder_of_threads_forms_a_smaller_group() {
        let ops = sim::invocations(keyed(2, 2, Some(3)), 3, 1);
        assert_eq!(ops.len(), 6);
    }

    #[test]
    fn empty_key_generators_end_the_run() {
        let g = clients(independent(1, None, |_| {
            boxed(limit(0, from_fn(|_| Template::new("r", json!(0)))))
        }));
        assert!(sim::invocations(g, 2, 1).is_empty());
    }
}
