//! Sound reductions for crashed ops, applied before a partition is decided.
//!
//! A crashed op (an `info` completion, or none) may take effect at any
//! point after its invocation, or never, so every crashed op multiplies the
//! orders a search must try. Each reduction below drops crashed ops that
//! provably never matter: the history is linearizable with them iff it is
//! without them. The proof for each is in its doc comment; the unit tests
//! check them against the search on thousands of random histories with
//! crashes, and `tests/linear_property.rs` checks the whole checker
//! against a brute-force one.

use super::hash::FxMap;
use super::model::RegisterOp;
use super::prepare::Prepared;
use super::zones::RegisterModel;

/// Drops every crashed op invoked after the last completed op returned.
///
/// Proof, for any model: take a linearization `L` of the history. An op
/// placed after such a crashed op `c` in `L` must not have returned before
/// `c` was invoked (real time), so it is itself crashed. Cutting `L` just
/// before `c` keeps every completed op, in the same order, from the same
/// states: a linearization without `c` (and without the crashed ops after
/// it, which may always be left out). The converse is immediate: a
/// linearization without `c` is one in which `c` never took effect.
pub(crate) fn late_crashes<I: Clone>(ops: &[Prepared<I>]) -> Vec<Prepared<I>> {
    let last = ops.iter().filter_map(|o| o.ret).max();
    ops.iter()
        .filter(|o| o.ret.is_some() || last.is_some_and(|l| o.call < l))
        .cloned()
        .collect()
}

/// Drops every crashed write or cas whose new value no remaining op
/// observes (no read returns it, no cas expects it), repeatedly: dropping
/// a crashed cas takes away what it expected, which may leave another
/// crashed write unobserved.
///
/// Proof, for the register and cas-register: take a linearization `L` with
/// such an op `c` writing `v`. The op right after `c` in `L` runs in state
/// `v`, so it is not a read (none returns `v`) and not a cas (none expects
/// `v`; a cas that did not apply failed and is not in the history): it is a
/// write, or there is none. Removing `c` changes the state only between
/// `c` and that write, where no op looks at it, and `c`'s own condition (a
/// cas's expected value) constrains nothing once it is gone. So `L` without
/// `c` is a linearization too, and, as `c` crashed, one it was allowed to
/// have.
pub(crate) fn unobserved_crashes<M: RegisterModel>(
    model: &M,
    ops: &[Prepared<M::Input>],
) -> Vec<Prepared<M::Input>> {
    let rops: Vec<RegisterOp> = ops.iter().map(|p| model.register_op(&p.input)).collect();
    let observes = |op: RegisterOp| match op {
        RegisterOp::Read(v) | RegisterOp::Cas(v, _) => Some(v),
        RegisterOp::Write(_) => None,
    };
    let mut watchers: FxMap<u32, usize> = FxMap::default();
    for v in rops.iter().filter_map(|&o| observes(o)) {
        *watchers.entry(v).or_default() += 1;
    }
    let mut by_value: FxMap<u32, Vec<usize>> = FxMap::default();
    for (i, o) in rops
        .iter()
        .enumerate()
        .filter(|(i, _)| ops[*i].ret.is_none())
    {
        if let RegisterOp::Write(v) | RegisterOp::Cas(_, v) = *o {
            by_value.entry(v).or_default().push(i);
        }
    }
    let mut keep = vec![true; ops.len()];
    let mut todo: Vec<u32> = by_value.keys().copied().collect();
    while let Some(v) = todo.pop() {
        if watchers.get(&v).copied().unwrap_or(0) > 0 {
            continue;
        }
        for i in by_value.remove(&v).unwrap_or_default() {
            keep[i] = false;
            if let Some(old) = observes(rops[i]) {
                let n = watchers.entry(old).or_default();
                *n -= 1;
                if *n == 0 {
                    todo.push(old);
                }
            }
        }
    }
    ops.iter()
        .zip(keep)
        .filter(|(_, k)| *k)
        .map(|(o, _)| o.clone())
        .collect()
}

/// Both reductions, to a fixpoint (each may enable the other).
pub(crate) fn register_crashes<M: RegisterModel>(
    model: &M,
    ops: &[Prepared<M::Input>],
) -> Vec<Prepared<M::Input>> {
    let mut cur = late_crashes(ops);
    loop {
        let next = late_crashes(&unobserved_crashes(model, &cur));
        if next.len() == cur.len() {
            return cur;
        }
        cur = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linear::limits::Limits;
    use crate::linear::model::{NilReads, Register};
    use crate::linear::search::{search, Found};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use serde_json::json;

    /// Random cas-register ops over few values: some crashed, intervals
    /// overlapping at random, most of them not linearizable.
    fn random_ops(rng: &mut ChaCha8Rng) -> Vec<Prepared<RegisterOp>> {
        let n = rng.gen_range(1..=9);
        let mut out = Vec::new();
        for i in 0..n {
            let call = rng.gen_range(0..30) * 2;
            let ret = rng
                .gen_bool(0.7)
                .then(|| call + 1 + rng.gen_range(0..10) * 2);
            let (a, b) = (rng.gen_range(0..4), rng.gen_range(0..4));
            let input = match rng.gen_range(0..3) {
                0 => RegisterOp::Read(a),
                1 => RegisterOp::Write(a),
                _ => RegisterOp::Cas(a, b),
            };
            out.push(Prepared {
                input,
                op: i,
                call,
                ret,
            });
        }
        out
    }

    fn verdict(m: &Register, ops: &[Prepared<RegisterOp>]) -> bool {
        let limits = Limits::new(None, None);
        matches!(search(m, ops, &limits, 0).0, Found::Valid)
    }

    #[test]
    fn dropping_crashed_ops_never_changes_the_verdict() {
        // Values are raw ids 0..4; the initial value, 0, has id 1.
        let m = Register::new(&json!(0), NilReads::Absent, true);
        let mut rng = ChaCha8Rng::seed_from_u64(17);
        let (mut dropped, mut valid) = (0, 0);
        for _ in 0..20_000 {
            let ops = random_ops(&mut rng);
            let want = verdict(&m, &ops);
            let late = late_crashes(&ops);
            assert_eq!(verdict(&m, &late), want, "late crashes of {ops:?}");
            let reduced = register_crashes(&m, &ops);
            assert_eq!(
                verdict(&m, &reduced),
                want,
                "reduced {ops:?} to {reduced:?}"
            );
            dropped += ops.len() - reduced.len();
            valid += want as usize;
        }
        assert!(dropped > 5_000, "the reductions dropped only {dropped} ops");
        assert!(valid > 2_000 && valid < 18_000, "{valid} of 20,000 valid");
    }
}
