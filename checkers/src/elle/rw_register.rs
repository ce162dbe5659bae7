//! Read-write register inference (Elle's `elle.rw-register`): written
//! values are unique per key, so a read names the txn that wrote it. Each
//! key's version order is a graph over values, inferred from the initial
//! state (nil comes first), from each txn's own order (what it read
//! externally comes before what it finally wrote), and, when asked, from
//! real-time and process order (then a txn's final version precedes the
//! next txn's first). A cyclic version graph is `cyclic-versions`; else
//! each version edge u < v yields ww (writer of u -> writer of v), rw (every
//! reader of u -> writer of v) and wr (writer of v -> its readers) edges.

use super::explain::{Anomaly, Evidence, TxnRef};
use super::graph::{in_graph, EdgeList, Rel};
use super::txn::{Arg, FxMap, MopF, Txns, Val};
use super::{ElleOptions, Found};
use crate::history::{History, HistoryError, HistoryErrorKind, Outcome};
use petgraph::algo::tarjan_scc;
use petgraph::graphmap::DiGraphMap;

/// A version of a key: `None` is the initial nil.
type Ver = Option<Val>;

/// (key, value) -> (writer, is its final write to the key).
type Writes = FxMap<(u32, Val), (u32, bool)>;

/// Per txn and key: the external read and the final write.
#[derive(Clone, Copy, Default)]
struct Access {
    read: Option<Ver>,
    write: Option<Val>,
}

/// What the inference learned, kept to explain edges afterwards.
pub struct RwRegister {
    /// Who wrote each value.
    writes: Writes,
    /// Per key: the version edges, sorted.
    versions: Vec<Vec<(Ver, Ver)>>,
    /// Per txn: its accesses by key.
    access: Vec<Vec<(u32, Access)>>,
}

/// Infers edges and non-cycle anomalies from `t`.
pub fn analyze(
    h: &History,
    t: &Txns,
    opts: &ElleOptions,
    edges: &mut EdgeList,
    found: &mut Found,
) -> Result<RwRegister, HistoryError> {
    let writes = index_writes(h, t)?;
    let access: Vec<Vec<(u32, Access)>> = (0..t.txns.len()).map(|i| accesses(t, i)).collect();
    let mut rr = RwRegister {
        writes,
        versions: vec![Vec::new(); t.keys.len()],
        access,
    };
    rr.read_checks(h, t, found);
    rr.txn_versions();
    if opts.infer_realtime_versions || opts.infer_process_versions {
        rr.order_versions(t, opts.infer_realtime_versions);
    }
    let (finals, readers) = rr.by_key(t.keys.len());
    for key in 0..t.keys.len() {
        rr.key_edges(t, key as u32, &finals[key], &readers[key], edges, found);
    }
    lost_updates(h, t, &rr, found);
    Ok(rr)
}

fn index_writes(h: &History, t: &Txns) -> Result<Writes, HistoryError> {
    let mut writes = FxMap::default();
    for (i, txn) in t.txns.iter().enumerate() {
        let mops = t.mops_of(i);
        for (j, m) in mops.iter().enumerate() {
            let (MopF::Write, Arg::Val(v)) = (m.f, m.arg) else {
                continue;
            };
            let last = !mops[j + 1..]
                .iter()
                .any(|n| n.f == MopF::Write && n.key == m.key);
            if writes.insert((m.key, v), (i as u32, last)).is_some() {
                let msg = format!(
                    "value {} written to key {} twice; rw-register needs unique written values per key",
                    t.json(v),
                    t.key_json(m.key)
                );
                return Err(h.error_at(txn.value_pos(), HistoryErrorKind::BadValue(msg)));
            }
        }
    }
    Ok(writes)
}

/// A txn's external reads and final writes, by key; reads only count for ok txns.
fn accesses(t: &Txns, i: usize) -> Vec<(u32, Access)> {
    let ok = t.txns[i].outcome == Outcome::Ok;
    let mut out: Vec<(u32, Access)> = Vec::new();
    for m in t.mops_of(i) {
        let slot = match out.iter().position(|a| a.0 == m.key) {
            Some(p) => p,
            None => {
                out.push((m.key, Access::default()));
                out.len() - 1
            }
        };
        let a = &mut out[slot].1;
        match (m.f, m.arg) {
            (MopF::Write, Arg::Val(v)) => a.write = Some(v),
            (MopF::Read, Arg::Val(v)) if ok && a.write.is_none() && a.read.is_none() => {
                a.read = Some(Some(v))
            }
            (MopF::Read, Arg::Nil) if ok && a.write.is_none() && a.read.is_none() => {
                a.read = Some(None)
            }
            _ => {}
        }
    }
    out
}

impl RwRegister {
    /// Garbage, aborted and intermediate reads, and internal consistency.
    fn read_checks(&self, h: &History, t: &Txns, found: &mut Found) {
        for (i, txn) in t.txns.iter().enumerate() {
            if txn.outcome != Outcome::Ok {
                continue;
            }
            let mops = t.mops_of(i);
            for (j, m) in mops.iter().enumerate() {
                if m.f != MopF::Read {
                    continue;
                }
                self.check_read(h, t, i, m.key, m.arg, found);
                let before = mops[..j].iter().rev().find(|n| n.key == m.key);
                if let Some(prev) = before {
                    if prev.arg != m.arg {
                        let txn_ref = TxnRef::new(h, t, i);
                        found.add(
                            "internal",
                            Anomaly::Internal {
                                txn: txn_ref,
                                mop: j,
                                expected: t.arg_json(prev.arg),
                                read: t.arg_json(m.arg),
                            },
                        );
                    }
                }
            }
        }
    }

    fn check_read(&self, h: &History, t: &Txns, i: usize, key: u32, arg: Arg, found: &mut Found) {
        let Arg::Val(v) = arg else { return };
        let (kj, vj) = (t.key_json(key), t.json(v));
        let reader = || TxnRef::new(h, t, i);
        match self.writes.get(&(key, v)) {
            None => found.add(
                "garbage-read",
                Anomaly::GarbageRead {
                    reader: reader(),
                    key: kj,
                    value: vj.clone(),
                    read: vj,
                },
            ),
            Some(&(w, last)) if w as usize != i => {
                let kind = match (t.txns[w as usize].outcome, last) {
                    (Outcome::Fail, _) => "G1a",
                    (_, false) => "G1b",
                    _ => return,
                };
                let writer = TxnRef::new(h, t, w as usize);
                found.add(
                    kind,
                    Anomaly::DirtyRead {
                        reader: reader(),
                        writer,
                        key: kj,
                        value: vj.clone(),
                        read: vj,
                    },
                );
            }
            Some(_) => {}
        }
    }

    /// Within a txn: its external read comes before its final write.
    fn txn_versions(&mut self) {
        for acc in &self.access {
            for &(k, a) in acc {
                if let (Some(r), Some(w)) = (a.read, a.write) {
                    if r != Some(w) {
                        self.versions[k as usize].push((r, Some(w)));
                    }
                }
            }
        }
    }

    /// Between txns: a txn's final version of a key precedes the first
    /// version of the next txn (in real-time or process order) on that key.
    fn order_versions(&mut self, t: &Txns, realtime: bool) {
        let mut order = EdgeList::default();
        if realtime {
            super::graph::realtime_edges(t, &mut order);
        } else {
            super::graph::process_edges(t, &mut order);
        }
        let g = order.build(t.txns.len());
        let first = |acc: &Access| acc.read.or(acc.write.map(Some));
        let last = |acc: &Access| acc.write.map(Some).or(acc.read);
        for e in g.raw_edges() {
            let (a, b) = (e.source().index(), e.target().index());
            for &(k, acc_a) in &self.access[a] {
                let Some(&(_, acc_b)) = self.access[b].iter().find(|x| x.0 == k) else {
                    continue;
                };
                if let (Some(x), Some(y)) = (last(&acc_a), first(&acc_b)) {
                    if x != y {
                        self.versions[k as usize].push((x, y));
                    }
                }
            }
        }
    }

    /// Per key: the final writes, and the external readers of each version.
    #[allow(clippy::type_complexity)]
    fn by_key(&self, n: usize) -> (Vec<Vec<Val>>, Vec<FxMap<Ver, Vec<u32>>>) {
        let mut finals = vec![Vec::new(); n];
        for (&(k, v), &(_, last)) in &self.writes {
            if last {
                finals[k as usize].push(v);
            }
        }
        let mut readers: Vec<FxMap<Ver, Vec<u32>>> = vec![FxMap::default(); n];
        for (i, acc) in self.access.iter().enumerate() {
            for &(k, a) in acc {
                if let Some(r) = a.read {
                    readers[k as usize].entry(r).or_default().push(i as u32);
                }
            }
        }
        (finals, readers)
    }

    #[allow(clippy::too_many_arguments)]
    fn key_edges(
        &mut self,
        t: &Txns,
        key: u32,
        finals: &[Val],
        readers: &FxMap<Ver, Vec<u32>>,
        edges: &mut EdgeList,
        found: &mut Found,
    ) {
        let vs = &mut self.versions[key as usize];
        let has_pred: FxMap<Val, ()> = vs.iter().filter_map(|&(_, b)| b.map(|b| (b, ()))).collect();
        for &v in finals {
            if !has_pred.contains_key(&v) {
                vs.push((None, Some(v)));
            }
        }
        vs.sort_unstable();
        vs.dedup();
        let g: DiGraphMap<Ver, ()> = DiGraphMap::from_edges(vs.iter().copied());
        if let Some(cycle) = tarjan_scc(&g).into_iter().find(|c| c.len() > 1) {
            let values = cycle
                .iter()
                .map(|v| v.map_or(serde_json::Value::Null, |v| t.json(v)))
                .collect();
            found.add(
                "cyclic-versions",
                Anomaly::CyclicVersions {
                    key: t.key_json(key),
                    values,
                },
            );
            return;
        }
        let writer = |v: Ver| {
            v.and_then(|v| self.writes.get(&(key, v)))
                .map(|w| w.0)
                .filter(|&w| in_graph(t.txns[w as usize].outcome))
        };
        for &(u, v) in vs.iter() {
            let Some(wv) = writer(v) else { continue };
            if let Some(wu) = writer(u) {
                edges.add(wu, wv, Rel::Ww);
            }
            for &r in readers.get(&u).map_or(&[][..], |r| r.as_slice()) {
                edges.add(r, wv, Rel::Rw);
            }
        }
        for (&v, rs) in readers {
            if let Some(w) = writer(v) {
                for &r in rs {
                    edges.add(w, r, Rel::Wr);
                }
            }
        }
    }

    /// Evidence for `from -rel-> to`, looked up after the search.
    pub fn explain(&self, t: &Txns, from: u32, to: u32, rel: Rel) -> Option<Evidence> {
        let acc = |i: u32| &self.access[i as usize];
        let j = |v: Ver| v.map_or(serde_json::Value::Null, |v| t.json(v));
        for &(k, a) in acc(from) {
            let Some(&(_, b)) = acc(to).iter().find(|x| x.0 == k) else {
                continue;
            };
            let vs = &self.versions[k as usize];
            let key = t.key_json(k);
            match (rel, a, b) {
                (Rel::Ww, Access { write: Some(x), .. }, Access { write: Some(y), .. })
                    if vs.binary_search(&(Some(x), Some(y))).is_ok() =>
                {
                    return Some(Evidence::Ww {
                        key,
                        value: t.json(x),
                        next: t.json(y),
                    });
                }
                (
                    Rel::Wr,
                    Access { write: Some(x), .. },
                    Access {
                        read: Some(Some(y)),
                        ..
                    },
                ) if x == y => {
                    return Some(Evidence::Wr {
                        key,
                        value: t.json(x),
                        read: t.json(y),
                    });
                }
                (Rel::Rw, Access { read: Some(x), .. }, Access { write: Some(y), .. })
                    if vs.binary_search(&(x, Some(y))).is_ok() =>
                {
                    return Some(Evidence::Rw {
                        key,
                        read: j(x),
                        value: t.json(y),
                    });
                }
                _ => {}
            }
        }
        None
    }
}

/// Lost update: committed txns that read the same version of a key and
/// then wrote it.
fn lost_updates(h: &History, t: &Txns, rr: &RwRegister, found: &mut Found) {
    let mut cases: Vec<(u32, Ver, u32)> = Vec::new();
    for (i, acc) in rr.access.iter().enumerate() {
        for &(k, a) in acc {
            if let (Some(r), Some(_), Outcome::Ok) = (a.read, a.write, t.txns[i].outcome) {
                cases.push((k, r, i as u32));
            }
        }
    }
    cases.sort_unstable();
    for group in cases
        .chunk_by(|a, b| a.0 == b.0 && a.1 == b.1)
        .filter(|g| g.len() > 1)
    {
        let read = group[0].1.map_or(serde_json::Value::Null, |v| t.json(v));
        let txns = group
            .iter()
            .map(|c| TxnRef::new(h, t, c.2 as usize))
            .collect();
        found.add(
            "lost-update",
            Anomaly::LostUpdate {
                key: t.key_json(group[0].0),
                read,
                txns,
            },
        );
    }
}
