//! The Wing-Gong-Lowe search for one partition, as in Porcupine's
//! `checker.go` (`checkSingle`): a doubly linked list of call and return
//! entries in history order; linearizing an op lifts its two entries out,
//! backtracking puts them back; a cache of (linearized set, state) prunes
//! configurations already explored (Lowe 2017).
//!
//! Crashed ops (Knossos's `info`) get their return entries after every
//! other entry, so they may linearize anywhere after their call. Reaching
//! one means every completed op is linearized: the partition is valid, and
//! the crashed ops still in the list never took effect.

use super::cache::Cache;
use super::hash::{fx, splitmix};
use super::limits::{Limits, Stop};
use super::model::Model;
use super::prepare::Prepared;

const NONE: u32 = u32::MAX;
const HEAD: u32 = 0;

/// What the search found in one partition.
#[derive(Debug)]
pub(crate) enum Found<S> {
    /// Every completed op linearized.
    Valid,
    /// No linearization: the dead ends that got furthest.
    Invalid(DeadEnds<S>),
    /// A limit ran out first.
    Unknown(Stop),
}

/// Where the search got stuck: `op` (a position in the searched slice) is
/// the op whose return no configuration could get past (Knossos's failing
/// op), and the longest linearized sequences that reached it.
#[derive(Debug)]
pub(crate) struct DeadEnds<S> {
    pub op: usize,
    pub prefixes: Vec<(Vec<usize>, S)>,
}

/// The search's statistics, for results and benchmarks.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Stats {
    pub cache_entries: usize,
}

/// The entry list: node 0 is the head, node `2i+1` the call and `2i+2` the
/// return of op `i`.
struct Entries {
    next: Vec<u32>,
    prev: Vec<u32>,
}

impl Entries {
    fn new<I>(ops: &[Prepared<I>]) -> Entries {
        let mut order: Vec<(usize, usize, u32)> = Vec::with_capacity(ops.len() * 2);
        for (i, op) in ops.iter().enumerate() {
            let i32 = i as u32;
            order.push((op.call, 0, 2 * i32 + 1));
            order.push((op.ret.unwrap_or(usize::MAX), i, 2 * i32 + 2));
        }
        order.sort_unstable();
        let len = ops.len() * 2 + 1;
        let (mut next, mut prev) = (vec![NONE; len], vec![NONE; len]);
        let mut last = HEAD;
        for &(_, _, node) in &order {
            next[last as usize] = node;
            prev[node as usize] = last;
            last = node;
        }
        Entries { next, prev }
    }

    fn unlink(&mut self, x: u32) {
        let (p, n) = (self.prev[x as usize], self.next[x as usize]);
        self.next[p as usize] = n;
        if n != NONE {
            self.prev[n as usize] = p;
        }
    }

    fn relink(&mut self, x: u32) {
        let (p, n) = (self.prev[x as usize], self.next[x as usize]);
        self.next[p as usize] = x;
        if n != NONE {
            self.prev[n as usize] = x;
        }
    }

    fn lift(&mut self, call: u32) {
        self.unlink(call);
        self.unlink(call + 1);
    }

    fn unlift(&mut self, call: u32) {
        self.relink(call + 1);
        self.relink(call);
    }
}

/// The furthest dead ends seen so far, when the caller wants them.
struct Tracker<S> {
    keep: usize,
    furthest: Option<(usize, usize)>,
    prefixes: Vec<(Vec<usize>, S)>,
}

impl<S: Clone> Tracker<S> {
    fn dead_end(&mut self, pos: usize, op: usize, calls: &[(u32, S)], state: &S) {
        match self.furthest {
            Some((p, _)) if p > pos => return,
            Some((p, _)) if p == pos => {}
            _ => {
                self.furthest = Some((pos, op));
                self.prefixes.clear();
            }
        }
        if self.keep == 0 {
            return;
        }
        let shortest = self
            .prefixes
            .iter()
            .map(|p| p.0.len())
            .enumerate()
            .min_by_key(|p| p.1);
        let slot = match shortest {
            _ if self.prefixes.len() < self.keep => self.prefixes.len(),
            Some((i, len)) if len < calls.len() => i,
            _ => return,
        };
        let seq = calls
            .iter()
            .map(|&(node, _)| (node as usize - 1) / 2)
            .collect();
        let entry = (seq, state.clone());
        if slot == self.prefixes.len() {
            self.prefixes.push(entry);
        } else {
            self.prefixes[slot] = entry;
        }
    }
}

/// Searches for a linearization of `ops`. `keep` is how many of the
/// longest prefixes to remember for an explanation (0: none, faster).
pub(crate) fn search<M: Model>(
    model: &M,
    ops: &[Prepared<M::Input>],
    limits: &Limits,
    keep: usize,
) -> (Found<M::State>, Stats) {
    let words = ops.len().div_ceil(64).max(1);
    let mut cache: Cache<M::State> = Cache::new(words);
    let mut charged = 0;
    let mut found = run(model, ops, limits, keep, &mut cache, &mut charged);
    if let Found::Unknown(stop) = &mut found {
        stop.set_explored(cache.len());
    }
    limits.release(charged);
    let stats = Stats {
        cache_entries: cache.len(),
    };
    (found, stats)
}

fn run<M: Model>(
    model: &M,
    ops: &[Prepared<M::Input>],
    limits: &Limits,
    keep: usize,
    cache: &mut Cache<M::State>,
    charged: &mut usize,
) -> Found<M::State> {
    let mut list = Entries::new(ops);
    let zobrist: Vec<u64> = (0..ops.len() as u64).map(splitmix).collect();
    let mut bits = vec![0u64; ops.len().div_ceil(64).max(1)];
    let mut bits_hash = 0u64;
    let mut calls: Vec<(u32, M::State)> = Vec::new();
    let mut tracker = Tracker {
        keep,
        furthest: None,
        prefixes: Vec::new(),
    };
    let mut state = model.init();
    let mut entry = list.next[HEAD as usize];
    let mut ticks = 0u32;
    loop {
        // Bounds are checked as a search starts and every 256 steps.
        ticks = ticks.wrapping_add(1);
        if ticks & 255 == 1 {
            if let Some(stop) = limits.exceeded(cache.bytes(), charged) {
                return Found::Unknown(stop);
            }
        }
        if entry == NONE {
            return Found::Valid;
        }
        let i = ((entry - 1) / 2) as usize;
        if entry % 2 == 1 {
            // A call entry: try to linearize op i now.
            if let Some(next) = model.step(&state, &ops[i].input) {
                let (w, b) = (i / 64, 1u64 << (i % 64));
                bits[w] |= b;
                let h = bits_hash ^ zobrist[i];
                if cache.insert(h ^ fx(&next), &bits, &next) {
                    bits_hash = h;
                    calls.push((entry, std::mem::replace(&mut state, next)));
                    list.lift(entry);
                    entry = list.next[HEAD as usize];
                    continue;
                }
                bits[w] &= !b;
            }
            entry = list.next[entry as usize];
            continue;
        }
        // A return entry: op i must have linearized by now.
        let Some(ret) = ops[i].ret else {
            return Found::Valid;
        };
        tracker.dead_end(ret, i, &calls, &state);
        let Some((call, prev)) = calls.pop() else {
            let op = tracker.furthest.map_or(i, |f| f.1);
            return Found::Invalid(DeadEnds {
                op,
                prefixes: tracker.prefixes,
            });
        };
        let j = ((call - 1) / 2) as usize;
        bits[j / 64] &= !(1u64 << (j % 64));
        bits_hash ^= zobrist[j];
        state = prev;
        list.unlift(call);
        entry = list.next[call as usize];
    }
}
