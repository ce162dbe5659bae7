//! List-append inference (Elle's `elle.list-append`): every appended value
//! is unique per key, so a read of a list reveals the whole version history
//! of its key up to that point. From the longest read of each key we get its
//! version order (every other read must be a prefix of it, else
//! `incompatible-order`), then ww edges between consecutive appends, wr
//! edges from the writer of a read's last element, and rw edges from a
//! reader to the writer of the element right after its read. Only external
//! reads (before the txn's own appends to the key) are checked against the
//! order and give wr/rw edges; a read after the txn's own append may extend
//! the order (a serializable or snapshot store puts its appends right after
//! what it read) but, showing a private state, is never an incompatible
//! order. Committed appends no read observed come after the whole order. Non-cycle
//! anomalies found on the way: duplicate elements, G1a (a read of a failed
//! txn's append), G1b (a read ending in an append its writer followed with
//! another), garbage reads, internal inconsistency, and lost updates.

use super::explain::{Anomaly, TxnRef};
use super::graph::{in_graph, EdgeList, Rel};
use super::txn::{Arg, FxMap, MopF, Txns, Val};
use super::Found;
use crate::history::{History, HistoryError, HistoryErrorKind, Outcome};

mod explain;
mod txn_checks;

const NONE: u32 = u32::MAX;

/// Who appended what: (key, value) -> (txn, is that txn's last append to key).
type Appends = FxMap<(u32, Val), (u32, bool)>;

/// One read of a key: the txn, whether it is external (no earlier append to
/// the key in that txn), and the list.
#[derive(Clone, Copy)]
struct Read {
    txn: u32,
    external: bool,
    start: u32,
    len: u32,
}

/// What the inference learned, kept to explain edges afterwards.
pub struct ListAppend {
    appends: Appends,
    /// Per key: the version order.
    order: Vec<Vec<Val>>,
    /// Per key: the writer of each version-order element (`NONE`: unknown).
    writer_at: Vec<Vec<u32>>,
    /// Per key: committed appends no read observed, with their writers.
    /// Reads are prefixes of the order, so these all come after it.
    unobserved: Vec<Vec<(Val, u32)>>,
}

/// Infers edges and non-cycle anomalies from `t`.
pub fn analyze(
    h: &History,
    t: &Txns,
    edges: &mut EdgeList,
    found: &mut Found,
) -> Result<ListAppend, HistoryError> {
    // The index of appends (a hash table, the costliest part) is built
    // while another core sorts the reads and appends by key.
    let (appends, (reads, unobserved)) = std::thread::scope(|s| {
        let by_key = s.spawn(|| (reads_by_key(t), committed_appends(t)));
        let appends = index_appends(h, t);
        let by_key = by_key
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (appends, by_key)
    });
    let mut la = ListAppend {
        appends: appends?,
        order: Vec::new(),
        writer_at: Vec::new(),
        unobserved,
    };
    for (key, key_reads) in reads.iter().enumerate() {
        la.infer_key(h, t, key as u32, key_reads, edges, found);
    }
    txn_checks::internal(h, t, found);
    txn_checks::lost_updates(h, t, &la, found);
    Ok(la)
}

/// Every committed append, by key, in history order (a sequential sweep,
/// not a walk of the hash table): the unobserved ones until reads show
/// otherwise, as observed ones drop out per key.
fn committed_appends(t: &Txns) -> Vec<Vec<(Val, u32)>> {
    let mut by_key = vec![Vec::new(); t.keys.len()];
    for (i, txn) in t.txns.iter().enumerate() {
        if txn.outcome != Outcome::Ok {
            continue;
        }
        for m in t.mops_of(i) {
            if let (MopF::Append, Arg::Val(v)) = (m.f, m.arg) {
                by_key[m.key as usize].push((v, i as u32));
            }
        }
    }
    by_key
}

fn index_appends(h: &History, t: &Txns) -> Result<Appends, HistoryError> {
    let mut appends = Appends::default();
    appends.reserve(t.mops.len());
    for (i, txn) in t.txns.iter().enumerate() {
        let mops = t.mops_of(i);
        for (j, m) in mops.iter().enumerate() {
            let (MopF::Append, Arg::Val(v)) = (m.f, m.arg) else {
                continue;
            };
            let last = !mops[j + 1..]
                .iter()
                .any(|n| n.f == MopF::Append && n.key == m.key);
            if let Some(&(other, _)) = appends.get(&(m.key, v)) {
                let at = t.txns[other as usize].value_pos();
                let msg = format!(
                    "value {} appended to key {} twice (also at index {}); list-append needs unique values per key",
                    t.json(v),
                    t.key_json(m.key),
                    h.ops[at].index
                );
                return Err(h.error_at(txn.value_pos(), HistoryErrorKind::BadValue(msg)));
            }
            appends.insert((m.key, v), (i as u32, last));
        }
    }
    Ok(appends)
}

fn reads_by_key(t: &Txns) -> Vec<Vec<Read>> {
    let mut reads: Vec<Vec<Read>> = vec![Vec::new(); t.keys.len()];
    for (i, txn) in t.txns.iter().enumerate() {
        if txn.outcome != Outcome::Ok {
            continue;
        }
        let mops = t.mops_of(i);
        for (j, m) in mops.iter().enumerate() {
            let Arg::List { start, len } = m.arg else {
                continue;
            };
            let external = !mops[..j]
                .iter()
                .any(|n| n.f == MopF::Append && n.key == m.key);
            reads[m.key as usize].push(Read {
                txn: i as u32,
                external,
                start,
                len,
            });
        }
    }
    reads
}

impl ListAppend {
    fn infer_key(
        &mut self,
        h: &History,
        t: &Txns,
        key: u32,
        reads: &[Read],
        edges: &mut EdgeList,
        found: &mut Found,
    ) {
        let longest = reads
            .iter()
            .filter(|r| r.external)
            .max_by_key(|r| r.len)
            .copied();
        let mut order: Vec<Val> = longest.map_or(Vec::new(), |r| list(t, r).to_vec());
        let mut internal: Vec<&Read> = reads.iter().filter(|r| !r.external).collect();
        internal.sort_unstable_by_key(|r| r.len);
        for r in internal {
            let l = list(t, *r);
            if l.len() > order.len() && l.starts_with(&order) {
                order = l.to_vec();
            }
        }
        let mut compatible = vec![true; reads.len()];
        for (i, r) in reads.iter().enumerate() {
            if !order.starts_with(list(t, *r)) {
                compatible[i] = false;
            }
            if !compatible[i] && r.external {
                if let Some(l) = longest {
                    found.add_once("incompatible-order", key, || incompatible(h, t, key, l, *r));
                }
                self.check_elements(h, t, key, *r, found);
            }
        }
        let writer_at: Vec<u32> = order
            .iter()
            .map(|v| self.appends.get(&(key, *v)).map_or(NONE, |w| w.0))
            .collect();
        // Only reads on the order contain its elements: blame those.
        let on_order: Vec<Read> = reads
            .iter()
            .zip(&compatible)
            .filter(|(_, &c)| c)
            .map(|(r, _)| *r)
            .collect();
        self.check_order(h, t, key, &on_order, &order, &writer_at, found);
        for w in writer_at.windows(2) {
            if w[0] != NONE && w[1] != NONE && graph_txn(t, w[0]) && graph_txn(t, w[1]) {
                edges.add(w[0], w[1], Rel::Ww);
            }
        }
        for (r, _) in reads
            .iter()
            .zip(&compatible)
            .filter(|(r, &c)| c && r.external)
        {
            read_edges(t, r, &writer_at, edges);
        }
        self.unobserved_edges(t, key, reads, &order, &writer_at, edges);
        for r in reads {
            self.check_intermediate(h, t, key, *r, found);
        }
        self.order.push(order);
        self.writer_at.push(writer_at);
    }

    /// Committed appends that no read saw come after every observed one:
    /// ww from the last observed writer, rw from every read of the whole order.
    #[allow(clippy::too_many_arguments)]
    fn unobserved_edges(
        &mut self,
        t: &Txns,
        key: u32,
        reads: &[Read],
        order: &[Val],
        writer_at: &[u32],
        edges: &mut EdgeList,
    ) {
        let in_order: FxMap<Val, ()> = order.iter().map(|&v| (v, ())).collect();
        let mut unseen = std::mem::take(&mut self.unobserved[key as usize]);
        unseen.retain(|(v, _)| !in_order.contains_key(v));
        unseen.sort_unstable();
        for &(_, w) in &unseen {
            if let Some(&last) = writer_at.last().filter(|&&l| l != NONE && graph_txn(t, l)) {
                edges.add(last, w, Rel::Ww);
            }
            for r in reads
                .iter()
                .filter(|r| r.external && r.len as usize == order.len())
            {
                edges.add(r.txn, w, Rel::Rw);
            }
        }
        self.unobserved[key as usize] = unseen;
    }

    /// Duplicates, garbage and aborted reads along the version order, each
    /// blamed on the first read that includes it.
    #[allow(clippy::too_many_arguments)]
    fn check_order(
        &self,
        h: &History,
        t: &Txns,
        key: u32,
        reads: &[Read],
        order: &[Val],
        writer_at: &[u32],
        found: &mut Found,
    ) {
        let mut by_len: Vec<Read> = reads.to_vec();
        by_len.sort_unstable_by_key(|r| r.len);
        let mut next = 0;
        let mut seen: FxMap<Val, usize> = FxMap::default();
        seen.reserve(order.len());
        for (pos, v) in order.iter().enumerate() {
            while next < by_len.len() && by_len[next].len as usize <= pos {
                next += 1;
            }
            let Some(&r) = by_len.get(next) else { continue };
            if seen.insert(*v, pos).is_some() {
                found.add("duplicate-elements", duplicate(h, t, key, r, *v));
            }
            self.check_element(h, t, key, r, *v, writer_at[pos], found);
        }
    }

    /// The same element checks for a read that is not on the version order.
    fn check_elements(&self, h: &History, t: &Txns, key: u32, r: Read, found: &mut Found) {
        let mut seen: FxMap<Val, ()> = FxMap::default();
        for &v in list(t, r) {
            if seen.insert(v, ()).is_some() {
                found.add("duplicate-elements", duplicate(h, t, key, r, v));
            }
            let w = self.appends.get(&(key, v)).map_or(NONE, |w| w.0);
            self.check_element(h, t, key, r, v, w, found);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn check_element(
        &self,
        h: &History,
        t: &Txns,
        key: u32,
        r: Read,
        v: Val,
        writer: u32,
        found: &mut Found,
    ) {
        let failed = writer != NONE && t.txns[writer as usize].outcome == Outcome::Fail;
        if writer != NONE && !failed {
            return;
        }
        let (kj, rj) = (t.key_json(key), t.list_json(list(t, r)));
        let reader = TxnRef::new(h, t, r.txn as usize);
        if failed {
            let writer = TxnRef::new(h, t, writer as usize);
            found.add(
                "G1a",
                Anomaly::DirtyRead {
                    reader,
                    writer,
                    key: kj,
                    value: t.json(v),
                    read: rj,
                },
            );
        } else {
            found.add(
                "garbage-read",
                Anomaly::GarbageRead {
                    reader,
                    key: kj,
                    value: t.json(v),
                    read: rj,
                },
            );
        }
    }

    /// G1b: a read by another txn ending in an append its writer followed
    /// with another append to the same key.
    fn check_intermediate(&self, h: &History, t: &Txns, key: u32, r: Read, found: &mut Found) {
        let Some(&last) = list(t, r).last() else {
            return;
        };
        let Some(&(w, is_last)) = self.appends.get(&(key, last)) else {
            return;
        };
        if is_last || w == r.txn || t.txns[w as usize].outcome == Outcome::Fail {
            return;
        }
        let reader = TxnRef::new(h, t, r.txn as usize);
        let writer = TxnRef::new(h, t, w as usize);
        let (kj, rj) = (t.key_json(key), t.list_json(list(t, r)));
        found.add(
            "G1b",
            Anomaly::DirtyRead {
                reader,
                writer,
                key: kj,
                value: t.json(last),
                read: rj,
            },
        );
    }
}

fn list(t: &Txns, r: Read) -> &[Val] {
    &t.lists[r.start as usize..(r.start + r.len) as usize]
}

fn graph_txn(t: &Txns, i: u32) -> bool {
    in_graph(t.txns[i as usize].outcome)
}

fn read_edges(t: &Txns, r: &Read, writer_at: &[u32], edges: &mut EdgeList) {
    let len = r.len as usize;
    if len > 0 {
        let w = writer_at[len - 1];
        if w != NONE && graph_txn(t, w) {
            edges.add(w, r.txn, Rel::Wr);
        }
    }
    if let Some(&w) = writer_at.get(len) {
        if w != NONE && graph_txn(t, w) {
            edges.add(r.txn, w, Rel::Rw);
        }
    }
}

fn incompatible(h: &History, t: &Txns, key: u32, a: Read, b: Read) -> Anomaly {
    Anomaly::IncompatibleOrder {
        key: t.key_json(key),
        first: TxnRef::new(h, t, a.txn as usize),
        first_read: t.list_json(list(t, a)),
        second: TxnRef::new(h, t, b.txn as usize),
        second_read: t.list_json(list(t, b)),
    }
}

fn duplicate(h: &History, t: &Txns, key: u32, r: Read, v: Val) -> Anomaly {
    Anomaly::DuplicateElements {
        reader: TxnRef::new(h, t, r.txn as usize),
        key: t.key_json(key),
        value: t.json(v),
        read: t.list_json(list(t, r)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::elle::Workload;
    use crate::history::{Op, OpType};
    use serde_json::json;

    /// Each txn invoked and completed in turn by process 0.
    fn serial(txns: &[(OpType, serde_json::Value)]) -> History {
        let ops = txns.iter().flat_map(|(kind, v)| {
            [
                Op::new(0, OpType::Invoke, "txn", v.clone()),
                Op::new(0, *kind, "txn", v.clone()),
            ]
        });
        History::from_ops("t.jsonl", ops)
    }

    fn rels(h: &History) -> (Vec<(usize, usize, u8)>, Found) {
        let t = Txns::parse(h, Workload::ListAppend).unwrap();
        let (mut edges, mut found) = (EdgeList::default(), Found::default());
        analyze(h, &t, &mut edges, &mut found).unwrap();
        let g = edges.build(t.txns.len());
        let mut out: Vec<_> = g
            .raw_edges()
            .iter()
            .map(|e| (e.source().index(), e.target().index(), e.weight))
            .collect();
        out.sort_unstable();
        (out, found)
    }

    #[test]
    fn reads_give_ww_wr_and_rw_edges_and_unobserved_appends_come_last() {
        let h = serial(&[
            (OpType::Ok, json!([["append", "x", 1]])),
            (OpType::Ok, json!([["r", "x", [1]]])),
            (OpType::Ok, json!([["append", "x", 2]])),
            (OpType::Ok, json!([["append", "x", 3]])),
            (OpType::Ok, json!([["r", "x", [1, 2]]])),
        ]);
        let (edges, found) = rels(&h);
        let (ww, wr, rw) = (Rel::Ww.bit(), Rel::Wr.bit(), Rel::Rw.bit());
        assert_eq!(
            edges,
            vec![
                (0, 1, wr),
                (0, 2, ww),
                (1, 2, rw),
                (2, 3, ww),
                (2, 4, wr),
                (4, 3, rw)
            ]
        );
        assert!(found.anomalies.is_empty());
    }

    #[test]
    fn an_aborted_append_seen_by_two_reads_is_one_g1a() {
        let h = serial(&[
            (OpType::Fail, json!([["append", "x", 1]])),
            (OpType::Ok, json!([["r", "x", [1]]])),
            (OpType::Ok, json!([["r", "x", [1]]])),
        ]);
        let (_, found) = rels(&h);
        assert_eq!(found.anomalies.keys().collect::<Vec<_>>(), vec!["G1a"]);
        assert_eq!(found.counts["G1a"], 1, "blamed on the first read only");
    }
}
