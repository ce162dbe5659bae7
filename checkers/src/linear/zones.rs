//! Linearizability of a read/write register whose written values are
//! distinct, decided in O(n log n): Gibbons and Korach, "Testing Shared
//! Memories", SIAM J. Comput. 26(4), 1997 (verifying linearizability with
//! the read-mapping known). With distinct values every read names the
//! write it saw, so no search is needed.
//!
//! # Clusters and zones
//!
//! A write and the reads of its value form a *cluster* (the initial value
//! is a virtual write before everything). In any linearization a cluster
//! is contiguous: its write, then its reads, before the next write. Let
//! `r` be the earliest completion among a cluster's ops and `i` the latest
//! invocation. If `r < i` the cluster's *forward zone* `[r, i]` lies inside
//! its span in every linearization (the op completing at `r` is placed
//! before `r`, the one invoked at `i` after `i`). Otherwise every op of the
//! cluster is running throughout its *backward zone* `[i, r]`, and the
//! whole cluster may be placed at any one point of it. The history is
//! linearizable iff no read completes before its write is invoked, no two
//! forward zones intersect, and no backward zone lies inside a forward
//! zone (Gibbons and Korach's theorem).
//!
//! # Certified answers
//!
//! Both answers carry their proof. `Invalid` names the few ops whose zones
//! conflict: the argument above shows that this sub-history alone cannot be
//! linearized. `Valid` comes with a linearization built from the zones
//! (clusters in zone order, each backward cluster at a free point of its
//! zone), which is then checked against real time in one pass; should it
//! ever fail, the answer is `Undecided` and the caller falls back to the
//! search, so a gap in this reasoning can cost time but never a wrong
//! verdict. The property tests compare both answers with the search on
//! thousands of histories.
//!
//! # Knossos's semantics
//!
//! The ops are the model's prepared inputs, so failed ops, crashed reads
//! and (with `--nil-reads wildcard`) nil reads are already gone. A crashed
//! write may take effect at any time after its invocation or never: it is
//! kept, with no completion, when some read observed its value, and
//! dropped otherwise (placing it never changes a read, see
//! [`super::reduce`]). Prefixes of the history (everything up to a
//! position) are decided the same way, with ops still running treated as
//! crashed; that is how the failing op is found (see [`failing`]).

use super::hash::FxMap;
use super::model::{Independent, Keyed, Model, Register, RegisterOp};
use super::prepare::Prepared;

/// The register models this decision applies to: their state is the
/// register's interned value.
pub(crate) trait RegisterModel: Model<State = u32> {
    /// The register op an input is.
    fn register_op(&self, input: &Self::Input) -> RegisterOp;
}

impl RegisterModel for Register {
    fn register_op(&self, input: &RegisterOp) -> RegisterOp {
        *input
    }
}

impl RegisterModel for Independent<Register> {
    fn register_op(&self, input: &Keyed<RegisterOp>) -> RegisterOp {
        input.input
    }
}

/// One op as the decision sees it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Rop {
    pub write: bool,
    pub value: u32,
    /// History position of the invocation.
    pub call: usize,
    /// History position of the completion; `None`: crashed.
    pub ret: Option<usize>,
}

impl Rop {
    /// The partition's ops, or `None` when they hold a cas.
    pub fn all<M: RegisterModel>(model: &M, ops: &[Prepared<M::Input>]) -> Option<Vec<Rop>> {
        ops.iter()
            .map(|p| {
                let (write, value) = match model.register_op(&p.input) {
                    RegisterOp::Read(v) => (false, v),
                    RegisterOp::Write(v) => (true, v),
                    RegisterOp::Cas(..) => return None,
                };
                Some(Rop {
                    write,
                    value,
                    call: p.call,
                    ret: p.ret,
                })
            })
            .collect()
    }
}

/// True when every written value is distinct and none is `initial`: each
/// read then names the one write it saw.
pub(crate) fn distinct(ops: &[Rop], initial: u32) -> bool {
    let mut seen: FxMap<u32, ()> = FxMap::default();
    ops.iter()
        .filter(|o| o.write)
        .all(|o| o.value != initial && seen.insert(o.value, ()).is_none())
}

/// The answer for a history (or a prefix of it).
#[derive(Debug, PartialEq)]
pub(crate) enum Decision {
    /// A linearization, as positions in the ops, that was checked.
    Valid(Vec<usize>),
    /// Ops (positions, sorted) that cannot be linearized together.
    Invalid(Vec<usize>),
    /// The built linearization did not check out: use the search.
    Undecided,
}

/// Positions scaled so that free points fit between any two events
/// (`4p + 4`; odd values and the virtual initial write's 0..2 are free).
/// Capped below [`PENDING`] (the shrinker widens an op to `usize::MAX - 1`).
fn at(p: usize) -> u64 {
    (p as u64).min(u64::MAX / 8) * 4 + 4
}

const NO_OP: usize = usize::MAX;
const PENDING: u64 = u64::MAX;

/// A write and the reads of its value.
#[derive(Clone, Debug)]
struct Cluster {
    /// The write's position in the ops; `NO_OP` for the initial value.
    write: usize,
    included: bool,
    reads: Vec<usize>,
    /// Earliest completion and the op it belongs to.
    min_ret: (u64, usize),
    /// Latest invocation and the op it belongs to.
    max_call: (u64, usize),
}

impl Cluster {
    fn new(write: usize) -> Cluster {
        Cluster {
            write,
            included: false,
            reads: Vec::new(),
            min_ret: (PENDING, NO_OP),
            max_call: (0, NO_OP),
        }
    }

    fn add(&mut self, i: usize, call: u64, ret: u64) {
        self.min_ret = self.min_ret.min((ret, i));
        self.max_call = self.max_call.max((call, i));
    }

    /// The ops that fix its zone: the write and the two extremes.
    fn witnesses(&self, out: &mut Vec<usize>) {
        for i in [self.write, self.min_ret.1, self.max_call.1] {
            if i != NO_OP {
                out.push(i);
            }
        }
    }

    fn forward(&self) -> bool {
        self.min_ret.0 < self.max_call.0
    }
}

/// Decides the prefix of the history up to position `cut` (`usize::MAX`:
/// all of it): ops invoked later are left out, ops completing later count
/// as crashed.
pub(crate) fn decide(ops: &[Rop], initial: u32, cut: usize) -> Decision {
    let ret_of = |o: &Rop| o.ret.filter(|&r| r <= cut).map_or(PENDING, at);
    // Cluster 0 is the initial value's: a virtual write over 0..2.
    let mut clusters = vec![Cluster::new(NO_OP)];
    clusters[0].included = true;
    clusters[0].add(NO_OP, 0, 2);
    let mut by_value: FxMap<u32, usize> = FxMap::default();
    by_value.insert(initial, 0);
    for (i, o) in ops.iter().enumerate().filter(|(_, o)| o.write) {
        if o.call <= cut {
            by_value.insert(o.value, clusters.len());
            clusters.push(Cluster::new(i));
        }
    }
    for (i, o) in ops.iter().enumerate().filter(|(_, o)| !o.write) {
        let ret = ret_of(o);
        if o.call > cut || ret == PENDING {
            continue; // a read still running constrains nothing yet
        }
        let Some(&c) = by_value.get(&o.value) else {
            return Decision::Invalid(vec![i]); // nothing wrote this value
        };
        let w = clusters[c].write;
        if w != NO_OP && ret < at(ops[w].call) {
            return Decision::Invalid(sorted(vec![w, i]));
        }
        clusters[c].reads.push(i);
        clusters[c].included = true;
        clusters[c].add(i, at(o.call), ret);
    }
    for c in clusters.iter_mut().skip(1) {
        let w = &ops[c.write];
        let ret = ret_of(w);
        // A crashed write nobody read may never have happened.
        if ret != PENDING || c.included {
            c.included = true;
            c.add(c.write, at(w.call), ret);
        }
    }
    clusters.retain(|c| c.included);
    match place(&clusters) {
        Err((a, b)) => {
            let mut out = Vec::new();
            clusters[a].witnesses(&mut out);
            clusters[b].witnesses(&mut out);
            Decision::Invalid(sorted(out))
        }
        Ok(keys) => witness(ops, &clusters, &keys, cut),
    }
}

fn sorted(mut v: Vec<usize>) -> Vec<usize> {
    v.sort_unstable();
    v.dedup();
    v
}

/// A sort key per cluster placing it in a linearization, or two clusters
/// whose zones conflict.
fn place(clusters: &[Cluster]) -> Result<Vec<u64>, (usize, usize)> {
    let mut forward: Vec<(u64, u64, usize)> = clusters
        .iter()
        .enumerate()
        .filter(|(_, c)| c.forward())
        .map(|(k, c)| (c.min_ret.0, c.max_call.0, k))
        .collect();
    forward.sort_unstable();
    for w in forward.windows(2) {
        if w[0].1 >= w[1].0 {
            return Err((w[0].2, w[1].2));
        }
    }
    let mut keys = vec![0u64; clusters.len()];
    for &(start, _, k) in &forward {
        keys[k] = start - 1;
    }
    for (k, c) in clusters.iter().enumerate().filter(|(_, c)| !c.forward()) {
        let (x, y) = (c.max_call.0, c.min_ret.0);
        let before = forward.partition_point(|f| f.0 <= x);
        let covering = before
            .checked_sub(1)
            .map(|j| forward[j])
            .filter(|f| f.1 >= x);
        keys[k] = match covering {
            Some(f) if f.1 >= y => return Err((f.2, k)),
            Some(f) => f.1 + 2,
            None => x + 2,
        };
    }
    keys[0] = 0; // the initial value comes first, whatever its zone
    Ok(keys)
}

/// The linearization the keys give (each cluster's write, then its reads
/// in invocation order), checked against real time.
fn witness(ops: &[Rop], clusters: &[Cluster], keys: &[u64], cut: usize) -> Decision {
    let mut order: Vec<usize> = (0..clusters.len()).collect();
    order.sort_unstable_by_key(|&k| (keys[k], k));
    let mut seq: Vec<usize> = Vec::with_capacity(ops.len());
    for k in order {
        let c = &clusters[k];
        if c.write != NO_OP {
            seq.push(c.write);
        }
        let from = seq.len();
        seq.extend_from_slice(&c.reads);
        seq[from..].sort_unstable_by_key(|&i| ops[i].call);
    }
    // Real time: no op may complete before an op placed earlier began.
    let mut min_ret = u64::MAX;
    for &i in seq.iter().rev() {
        if at(ops[i].call) > min_ret {
            return Decision::Undecided;
        }
        min_ret = min_ret.min(ops[i].ret.filter(|&r| r <= cut).map_or(PENDING, at));
    }
    Decision::Valid(seq)
}

/// Knossos's failing op of an invalid history: the op whose completion no
/// linearization of the history before it can get past (the first
/// completion after which the prefix is invalid; validity of prefixes is
/// monotone, so a binary search finds it in O(n log² n)), and a
/// linearization of the prefix just before it. `None` when a prefix is
/// undecided.
pub(crate) fn failing(ops: &[Rop], initial: u32) -> Option<(usize, Vec<usize>)> {
    let mut rets: Vec<(usize, usize)> = ops
        .iter()
        .enumerate()
        .filter_map(|(i, o)| o.ret.map(|r| (r, i)))
        .collect();
    rets.sort_unstable();
    let (mut lo, mut hi) = (0, rets.len());
    while lo < hi {
        let mid = (lo + hi) / 2;
        match decide(ops, initial, rets[mid].0) {
            Decision::Invalid(_) => hi = mid,
            Decision::Valid(_) => lo = mid + 1,
            Decision::Undecided => return None,
        }
    }
    let &(pos, op) = rets.get(lo)?;
    match decide(ops, initial, pos - 1) {
        Decision::Valid(seq) => Some((op, seq)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `(write?, value, call, ret)` rows.
    fn rops(rows: &[(bool, u32, usize, Option<usize>)]) -> Vec<Rop> {
        rows.iter()
            .map(|&(write, value, call, ret)| Rop {
                write,
                value,
                call,
                ret,
            })
            .collect()
    }

    #[test]
    fn overlapping_ops_linearize_and_the_witness_is_checked() {
        // write 1 [0,3], read 1 [1,2], read 1 [4,5].
        let ops = rops(&[
            (true, 1, 0, Some(3)),
            (false, 1, 1, Some(2)),
            (false, 1, 4, Some(5)),
        ]);
        assert_eq!(decide(&ops, 0, usize::MAX), Decision::Valid(vec![0, 1, 2]));
    }

    #[test]
    fn a_stale_read_is_two_forward_zones_that_meet() {
        // write 1 [0,1]; read 1 [2,3]; write 2 [4,5]; read 1 [6,7].
        let ops = rops(&[
            (true, 1, 0, Some(1)),
            (false, 1, 2, Some(3)),
            (true, 2, 4, Some(5)),
            (false, 1, 6, Some(7)),
        ]);
        assert_eq!(
            decide(&ops, 0, usize::MAX),
            Decision::Invalid(vec![0, 2, 3])
        );
        let (f, before) = failing(&ops, 0).unwrap();
        assert_eq!(f, 3);
        assert_eq!(before, vec![0, 1, 2]);
    }

    #[test]
    fn a_write_inside_a_forward_zone_has_no_room() {
        // read 0 [0,1] then write 1 [2,3] then read 0 [4,5]: the initial
        // value's forward zone holds the write's whole backward zone.
        let ops = rops(&[
            (false, 0, 0, Some(1)),
            (true, 1, 2, Some(3)),
            (false, 0, 4, Some(5)),
        ]);
        assert_eq!(decide(&ops, 0, usize::MAX), Decision::Invalid(vec![1, 2]));
    }

    #[test]
    fn garbage_and_premature_reads_are_invalid() {
        let ops = rops(&[(false, 9, 0, Some(1))]);
        assert_eq!(decide(&ops, 0, usize::MAX), Decision::Invalid(vec![0]));
        let ops = rops(&[(false, 1, 0, Some(1)), (true, 1, 2, Some(3))]);
        assert_eq!(decide(&ops, 0, usize::MAX), Decision::Invalid(vec![0, 1]));
    }

    #[test]
    fn a_crashed_write_counts_only_when_observed() {
        // A crashed write of 1, never read: dropped, so read 0 is fine.
        let ops = rops(&[(true, 1, 0, None), (false, 0, 1, Some(2))]);
        assert_eq!(decide(&ops, 0, usize::MAX), Decision::Valid(vec![1]));
        // Read later: it happened before that read.
        let ops = rops(&[
            (true, 1, 0, None),
            (false, 0, 1, Some(2)),
            (false, 1, 3, Some(4)),
        ]);
        assert_eq!(decide(&ops, 0, usize::MAX), Decision::Valid(vec![1, 0, 2]));
    }

    #[test]
    fn distinctness_includes_the_initial_value() {
        assert!(distinct(
            &rops(&[(true, 1, 0, None), (true, 2, 1, None)]),
            0
        ));
        assert!(!distinct(
            &rops(&[(true, 1, 0, None), (true, 1, 1, None)]),
            0
        ));
        assert!(!distinct(&rops(&[(true, 0, 0, None)]), 0));
    }
}
