//! Shrinking a failing partition to a small counterexample: delta debugging
//! (`ddmin`, Zeller & Hildebrandt 2002, "Simplifying and isolating
//! failure-inducing input") over its operations, every candidate re-checked
//! with the search, bounded by a deadline.
//!
//! It starts from the ops invoked before the failing op's completion: no
//! configuration survives that point, and later ops cannot revive one.

use super::limits::Limits;
use super::model::Model;
use super::prepare::Prepared;
use super::search::{search, Found};
use std::time::Instant;

/// The smallest failing sub-history found, and whether it is 1-minimal.
pub(crate) fn shrink<M: Model>(
    model: &M,
    ops: &[Prepared<M::Input>],
    fail_pos: usize,
    deadline: Instant,
) -> (Vec<Prepared<M::Input>>, bool) {
    let fails = |idx: &[usize]| -> Option<bool> {
        let left = deadline.checked_duration_since(Instant::now())?;
        let cand: Vec<Prepared<M::Input>> = idx.iter().map(|&i| ops[i].clone()).collect();
        match search(model, &cand, &Limits::new(Some(left), None), 0).0 {
            Found::Invalid(_) => Some(true),
            Found::Valid => Some(false),
            Found::Unknown(_) => None,
        }
    };
    let mut cur: Vec<usize> = (0..ops.len()).filter(|&i| ops[i].call < fail_pos).collect();
    if fails(&cur) != Some(true) {
        cur = (0..ops.len()).collect();
    }
    let minimal = ddmin(&mut cur, fails);
    (cur.iter().map(|&i| ops[i].clone()).collect(), minimal)
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
            Some(None) if n >= cur.len() => return true,
            Some(None) => n = (n * 2).min(cur.len()),
            None => return false,
        }
    }
    true
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
    fn ddmin_says_when_it_ran_out_of_time() {
        let mut cur: Vec<usize> = (0..8).collect();
        assert!(!ddmin(&mut cur, |_| None));
        assert_eq!(cur.len(), 8);
    }
}
