//! What a generator may know when asked for an op: the time, which worker
//! threads exist and are free, which process each thread runs, and the one
//! seeded RNG (Jepsen's `jepsen.generator.context`).
//!
//! Threads are numbered `0..concurrency` for clients; thread `concurrency`
//! is the nemesis. Thread `t` starts as process `t`; each `info` completion
//! moves it to process `p + concurrency`, so `thread = process % concurrency`.

use super::{Next, Template};
use checkers::{Op, OpType, Process};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::borrow::Cow;

/// Words kept inline: sets of up to 256 threads never allocate, so that
/// restricting a context on every op stays cheap.
const INLINE: usize = 4;

/// A set of worker threads, as a bitset.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ThreadSet {
    inline: [u64; INLINE],
    spill: Vec<u64>,
}

impl ThreadSet {
    /// An empty set able to hold threads `0..n`.
    pub fn empty(n: usize) -> Self {
        ThreadSet {
            inline: [0; INLINE],
            spill: vec![0; n.div_ceil(64).saturating_sub(INLINE)],
        }
    }

    /// The set of threads `0..n`.
    pub fn full(n: usize) -> Self {
        ThreadSet::filter(n, |_| true)
    }

    /// The threads for which `keep` holds, among `0..n`.
    pub fn filter(n: usize, keep: impl Fn(usize) -> bool) -> Self {
        let mut s = ThreadSet::empty(n);
        (0..n).filter(|&t| keep(t)).for_each(|t| s.insert(t));
        s
    }

    fn words(&self) -> impl Iterator<Item = u64> + '_ {
        self.inline.iter().chain(&self.spill).copied()
    }

    fn word(&self, i: usize) -> u64 {
        match i.checked_sub(INLINE) {
            None => self.inline[i],
            Some(j) => self.spill.get(j).copied().unwrap_or(0),
        }
    }

    fn word_mut(&mut self, i: usize) -> &mut u64 {
        match i.checked_sub(INLINE) {
            None => &mut self.inline[i],
            Some(j) => {
                if j >= self.spill.len() {
                    self.spill.resize(j + 1, 0);
                }
                &mut self.spill[j]
            }
        }
    }

    /// Adds `t`.
    pub fn insert(&mut self, t: usize) {
        *self.word_mut(t / 64) |= 1 << (t % 64);
    }

    /// Removes `t`.
    pub fn remove(&mut self, t: usize) {
        *self.word_mut(t / 64) &= !(1 << (t % 64));
    }

    /// True when `t` is in the set.
    pub fn contains(&self, t: usize) -> bool {
        self.word(t / 64) & (1 << (t % 64)) != 0
    }

    /// How many threads are in the set.
    pub fn len(&self) -> usize {
        self.words().map(|w| w.count_ones() as usize).sum()
    }

    /// True when no thread is in the set.
    pub fn is_empty(&self) -> bool {
        self.words().all(|w| w == 0)
    }

    /// The threads in both sets.
    pub fn intersect(&self, other: &ThreadSet) -> ThreadSet {
        let mut out = ThreadSet {
            inline: [0; INLINE],
            spill: Vec::new(),
        };
        for i in 0..INLINE {
            out.inline[i] = self.inline[i] & other.inline[i];
        }
        if !self.spill.is_empty() {
            out.spill = (0..self.spill.len())
                .map(|j| self.spill[j] & other.word(INLINE + j))
                .collect();
        }
        out
    }

    /// True when some thread is in both sets.
    pub fn intersects(&self, other: &ThreadSet) -> bool {
        self.words()
            .enumerate()
            .any(|(i, w)| w & other.word(i) != 0)
    }

    /// True when every thread of `self` is in `other`.
    pub fn is_subset(&self, other: &ThreadSet) -> bool {
        self.words()
            .enumerate()
            .all(|(i, w)| w & !other.word(i) == 0)
    }

    /// The `i`-th thread in ascending order.
    pub fn nth(&self, mut i: usize) -> Option<usize> {
        for (wi, w) in self.words().enumerate() {
            let n = w.count_ones() as usize;
            if i < n {
                let mut w = w;
                for _ in 0..i {
                    w &= w - 1;
                }
                return Some(wi * 64 + w.trailing_zeros() as usize);
            }
            i -= n;
        }
        None
    }

    /// The threads in ascending order.
    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.words().enumerate().flat_map(|(wi, w)| {
            (0..64)
                .filter(move |b| w & (1 << b) != 0)
                .map(move |b| wi * 64 + b)
        })
    }
}

/// The threads of a run and the process each one currently executes.
#[derive(Clone, Debug)]
pub struct Workers {
    concurrency: usize,
    processes: Vec<u64>,
}

impl Workers {
    /// `concurrency` client threads plus the nemesis thread.
    pub fn new(concurrency: usize) -> Self {
        Workers {
            concurrency,
            processes: (0..concurrency as u64).collect(),
        }
    }

    /// Number of client threads.
    pub fn concurrency(&self) -> usize {
        self.concurrency
    }

    /// The nemesis's thread number.
    pub fn nemesis_thread(&self) -> usize {
        self.concurrency
    }

    /// Number of threads, the nemesis's included.
    pub fn thread_count(&self) -> usize {
        self.concurrency + 1
    }

    /// The process thread `t` executes now.
    pub fn process(&self, t: usize) -> Process {
        match self.processes.get(t) {
            Some(&p) => Process::Client(p),
            None => Process::Nemesis,
        }
    }

    /// The thread that executes `process`.
    pub fn thread_of(&self, process: Process) -> usize {
        match process {
            Process::Client(p) if self.concurrency > 0 => (p % self.concurrency as u64) as usize,
            _ => self.concurrency,
        }
    }

    /// Moves thread `t` to a fresh process, after its op crashed (`info`).
    pub fn crash(&mut self, t: usize) {
        if let Some(p) = self.processes.get_mut(t) {
            *p += self.concurrency as u64;
        }
    }
}

/// What a generator sees when asked for an op or told about an event.
pub struct Context<'a> {
    /// Nanoseconds since the run started.
    pub time: u64,
    workers: &'a Workers,
    all: Cow<'a, ThreadSet>,
    free: Cow<'a, ThreadSet>,
    rng: &'a mut ChaCha8Rng,
}

impl<'a> Context<'a> {
    /// A context over all threads of `workers`, of which `free` are idle.
    pub fn new(
        time: u64,
        workers: &'a Workers,
        all: &'a ThreadSet,
        free: &'a ThreadSet,
        rng: &'a mut ChaCha8Rng,
    ) -> Self {
        Context {
            time,
            workers,
            all: Cow::Borrowed(all),
            free: Cow::Borrowed(free),
            rng,
        }
    }

    /// The run's RNG: every random choice a generator makes comes from here.
    pub fn rng(&mut self) -> &mut ChaCha8Rng {
        self.rng
    }

    /// The threads and processes of the run.
    pub fn workers(&self) -> &Workers {
        self.workers
    }

    /// The threads this generator may use.
    pub fn all_threads(&self) -> &ThreadSet {
        &self.all
    }

    /// The threads this generator may use that are idle.
    pub fn free_threads(&self) -> &ThreadSet {
        &self.free
    }

    /// True when every thread this generator may use is idle.
    pub fn all_free(&self) -> bool {
        self.all.is_subset(&self.free)
    }

    /// This context seen through `mask`: only threads in it are visible.
    pub fn restrict(&mut self, mask: &ThreadSet) -> Context<'_> {
        Context {
            time: self.time,
            workers: self.workers,
            all: Cow::Owned(self.all.intersect(mask)),
            free: Cow::Owned(self.free.intersect(mask)),
            rng: self.rng,
        }
    }

    /// A random idle thread, or `None` when all are busy.
    pub fn some_free_thread(&mut self) -> Option<usize> {
        match self.free.len() {
            0 => None,
            1 => self.free.nth(0),
            n => {
                let i = self.rng.gen_range(0..n);
                self.free.nth(i)
            }
        }
    }

    /// The op `template` on a random idle thread: `Pending` when none is.
    /// The nemesis's ops are `info` on both ends, as Jepsen records them.
    pub fn invoke(&mut self, template: &Template) -> Next {
        match self.some_free_thread() {
            Some(t) => self.invoke_on(t, template),
            None => Next::Pending(None),
        }
    }

    /// The op `template` on thread `t`, which the caller chose among the
    /// idle threads (for ops whose value depends on the thread, like a
    /// lock's owner).
    pub fn invoke_on(&mut self, t: usize, template: &Template) -> Next {
        let process = self.workers.process(t);
        let kind = match process {
            Process::Nemesis => OpType::Info,
            Process::Client(_) => OpType::Invoke,
        };
        Next::Op(Op {
            index: 0,
            time: Some(self.time),
            process,
            kind,
            f: template.f.clone(),
            value: template.value.clone(),
            node: None,
            error: None,
            is_final: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn thread_sets_count_and_index() {
        let mut s = ThreadSet::empty(400);
        for t in [1, 64, 129, 300] {
            s.insert(t);
        }
        assert_eq!(s.len(), 4);
        assert_eq!(s.nth(1), Some(64));
        assert_eq!(s.nth(3), Some(300));
        assert_eq!(s.nth(4), None);
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![1, 64, 129, 300]);
        s.remove(64);
        assert!(!s.contains(64) && s.contains(300));
        assert!(s.is_subset(&ThreadSet::full(400)));
        assert!(!ThreadSet::full(3).is_subset(&s));
        let big = ThreadSet::filter(400, |t| t >= 200);
        assert_eq!(s.intersect(&big).iter().collect::<Vec<_>>(), vec![300]);
        assert!(s.intersects(&big) && !ThreadSet::full(2).intersects(&big));
    }

    #[test]
    fn a_crash_moves_a_thread_to_a_new_process() {
        let mut w = Workers::new(5);
        w.crash(2);
        assert_eq!(w.process(2), Process::Client(7));
        assert_eq!(w.thread_of(Process::Client(7)), 2);
        assert_eq!(w.process(5), Process::Nemesis);
        assert_eq!(w.thread_of(Process::Nemesis), 5);
    }

    #[test]
    fn invoke_uses_only_visible_free_threads() {
        let w = Workers::new(4);
        let all = ThreadSet::full(5);
        let mut free = ThreadSet::empty(5);
        free.insert(4);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut ctx = Context::new(9, &w, &all, &free, &mut rng);
        let t = Template::new("start", serde_json::Value::Null);
        let Next::Op(op) = ctx.invoke(&t) else {
            panic!("nemesis thread is free")
        };
        assert_eq!(
            (op.process, op.kind, op.time),
            (Process::Nemesis, OpType::Info, Some(9))
        );
        let clients = ThreadSet::full(4);
        assert_eq!(ctx.restrict(&clients).invoke(&t), Next::Pending(None));
    }
}
