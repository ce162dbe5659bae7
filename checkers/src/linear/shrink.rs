//! Shrinking a failing partition to a counterexample a person can follow:
//! the op that could not be linearized (the one the answer names) and the
//! smallest context that makes it impossible. Delta debugging (`ddmin`,
//! Zeller & Hildebrandt 2002, "Simplifying and isolating failure-inducing
//! input") over the other ops, every candidate re-checked with the search,
//! bounded by a deadline.
//!
//! # What a candidate must show
//!
//! Plain "smallest sub-history that is still not linearizable" explains
//! nothing: it drops the writes a read depends on and ends with one read of
//! a value nobody wrote, unrelated to the failing op. So a candidate `C`
//! always holds the failing op `F` and is accepted only when the failure is
//! attributable to `F`:
//!
//! 1. `C` is not linearizable, and
//! 2. `C` without `F` is linearizable (the context alone is fine), and,
//!    when the start set allows it,
//! 3. `C` with `F`'s real-time bounds widened to the whole history is
//!    linearizable: `F` was legal at some time, just not while it ran.
//!
//! Rule 3 keeps the writes that explain a stale read (`write 4; write 2;
//! read 4` rather than a bare `read 4`, which would wrongly suggest 4 was
//! never written). When `F` is legal at no time (a phantom value), rule 3
//! cannot hold and the counterexample is `F` with the context of rules 1-2.
//!
//! # Why not start from a prefix's state
//!
//! Starting from the model state a longest linearizable prefix reaches
//! would drop the early ops, but that state is one of many: other orders of
//! the early ops reach other states, so the counterexample would prove only
//! that this one order fails. A sub-history from the model's real initial
//! state is a self-contained proof anyone can re-check (the property test
//! does, with a brute-force checker), and ddmin already drops the early ops
//! that do not matter. The prefixes are reported beside it.
//!
//! # The start set: the latest context that works
//!
//! The search's dead end at `F`'s return gives a linearized sequence `L`
//! holding every op that returned before `F`. `L` is linearizable (its
//! order respects real time) and `L + F` is not (a linearization of it
//! would be a path of the search past `F`'s return), so rules 1-2 hold
//! for all of `L`. But a sub-history may also drop the ops that would have
//! rescued `F` in the real history: `write 4` at the start and `read 0`
//! at the end is a valid proof, yet misleading when `write 0` happened in
//! between. So shrinking starts from the shortest suffix of `L` (the ops
//! linearized last before `F` got stuck) that meets the rules, and ddmin
//! only removes ops: the context it keeps is the latest that explains.
//!
//! # The judge
//!
//! Every candidate is judged by the search, unless the caller has a
//! quicker decision for it (a register with distinct writes is decided by
//! its zones, see [`super::zones`]): then shrinking costs a few
//! milliseconds, not seconds.

use super::limits::Limits;
use super::model::Model;
use super::prepare::Prepared;
use super::search::{search, Found};
use std::time::Instant;

/// A decision quicker than the search for some candidates:
/// `Some(linearizable)`, or `None` to ask the search.
pub(crate) type Fast<'a, I> = &'a (dyn Fn(&[Prepared<I>]) -> Option<bool> + Sync);

/// The attributable counterexample found, and whether it is 1-minimal.
pub(crate) fn shrink<M: Model>(
    model: &M,
    ops: &[Prepared<M::Input>],
    failing: usize,
    context: &[usize],
    deadline: Instant,
    fast: Option<Fast<'_, M::Input>>,
) -> (Vec<Prepared<M::Input>>, bool) {
    let judge = Judge {
        model,
        ops,
        failing,
        deadline,
        fast,
    };
    let (mut cur, strict) = judge.start(context);
    let minimal = ddmin(&mut cur, |c| judge.attributable(c, strict));
    cur.push(failing);
    cur.sort_unstable();
    (cur.iter().map(|&i| ops[i].clone()).collect(), minimal)
}

/// Judges candidates: the failing op plus a context (positions in `ops`).
struct Judge<'a, M: Model> {
    model: &'a M,
    ops: &'a [Prepared<M::Input>],
    failing: usize,
    deadline: Instant,
    fast: Option<Fast<'a, M::Input>>,
}

impl<M: Model> Judge<'_, M> {
    /// The shortest suffix of the dead-end sequence `context` (trying
    /// lengths 0, 1, 2, 4, ...) that meets rules 1-3, else the shortest
    /// that meets rules 1-2, else all of it; and whether rule 3 holds.
    fn start(&self, context: &[usize]) -> (Vec<usize>, bool) {
        let mut lax = None;
        let mut len = 0;
        loop {
            let mut window = context[context.len() - len..].to_vec();
            window.sort_unstable();
            if self.attributable(&window, false) == Some(true) {
                if self.attributable(&window, true) == Some(true) {
                    return (window, true);
                }
                lax.get_or_insert(window);
            }
            if len == context.len() {
                break;
            }
            len = (len * 2).clamp(1, context.len());
        }
        let mut all = context.to_vec();
        all.sort_unstable();
        (lax.unwrap_or(all), false)
    }

    /// Rules 1-2 (and 3 when `strict`) for `context + F`; `None` on timeout.
    fn attributable(&self, context: &[usize], strict: bool) -> Option<bool> {
        // Rule 2 first: without `F` most candidates fail it quickest.
        if !self.linearizable(context, None)? {
            return Some(false);
        }
        if self.linearizable(context, Some(false))? {
            return Some(false);
        }
        if strict {
            return self.linearizable(context, Some(true));
        }
        Some(true)
    }

    /// Whether `context` is linearizable, with `F` added when `with` is
    /// `Some(widened)`: `F`'s bounds widened to the whole history if true.
    fn linearizable(&self, context: &[usize], with: Option<bool>) -> Option<bool> {
        let left = self.deadline.checked_duration_since(Instant::now())?;
        let mut cand: Vec<Prepared<M::Input>> =
            context.iter().map(|&i| self.ops[i].clone()).collect();
        if let Some(widened) = with {
            let mut f = self.ops[self.failing].clone();
            if widened {
                f.call = 0;
                f.ret = Some(usize::MAX - 1);
            }
            cand.push(f);
        }
        if let Some(answer) = self.fast.and_then(|fast| fast(&cand)) {
            return Some(answer);
        }
        match search(self.model, &cand, &Limits::new(Some(left), None), 0).0 {
            Found::Invalid(_) => Some(false),
            Found::Valid => Some(true),
            Found::Unknown(_) => None,
        }
    }
}

/// Zeller's ddmin on `cur`; false if a check ran out of time.
fn ddmin(cur: &mut Vec<usize>, fails: impl Fn(&[usize]) -> Option<bool>) -> bool {
    let mut n = 2;
    while cur.len() >= 2 {
        let chunks = split(cur, n);
        match reduce(cur, &chunks, &fails) {
            Some(Some(next)) => {
                n = if next.len() * 2 <= cur.len() {
                    2
                } else {
                    (n - 1).max(2)
                };
                *cur = next;
            }
            Some(None) if n >= cur.len() => break,
            Some(None) => n = (n * 2).min(cur.len()),
            None => return false,
        }
    }
    // 1-minimal for one element: can the context go entirely?
    match cur.len() {
        1 => match fails(&[]) {
            Some(empty) => {
                if empty {
                    cur.clear();
                }
                true
            }
            None => false,
        },
        _ => true,
    }
}

/// A failing chunk, else a failing complement; `None` on timeout.
fn reduce(
    cur: &[usize],
    chunks: &[Vec<usize>],
    fails: &impl Fn(&[usize]) -> Option<bool>,
) -> Option<Option<Vec<usize>>> {
    for c in chunks {
        if fails(c)? {
            return Some(Some(c.clone()));
        }
    }
    if chunks.len() == 2 {
        return Some(None); // the complements are the chunks themselves
    }
    for c in chunks {
        let rest: Vec<usize> = cur.iter().copied().filter(|i| !c.contains(i)).collect();
        if fails(&rest)? {
            return Some(Some(rest));
        }
    }
    Some(None)
}

fn split(cur: &[usize], n: usize) -> Vec<Vec<usize>> {
    let size = cur.len().div_ceil(n);
    cur.chunks(size).map(<[usize]>::to_vec).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ddmin_finds_the_two_ops_that_fail_together() {
        let fails = |s: &[usize]| Some(s.contains(&3) && s.contains(&11));
        let mut cur: Vec<usize> = (0..20).collect();
        assert!(ddmin(&mut cur, fails));
        assert_eq!(cur, [3, 11]);
    }

    #[test]
    fn ddmin_may_shrink_the_context_to_nothing() {
        let mut cur: Vec<usize> = (0..5).collect();
        assert!(ddmin(&mut cur, |_| Some(true)));
        assert!(cur.is_empty());
        let mut one = vec![4];
        assert!(ddmin(&mut one, |s: &[usize]| Some(s == [4])));
        assert_eq!(one, [4]);
    }

    #[test]
    fn ddmin_says_when_it_ran_out_of_time() {
        let mut cur: Vec<usize> = (0..8).collect();
        assert!(!ddmin(&mut cur, |_| None));
        assert_eq!(cur.len(), 8);
    }
}
