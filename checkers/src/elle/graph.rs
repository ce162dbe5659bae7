//! The transaction dependency graph: one petgraph node per transaction,
//! edges labelled with a bit set of relations (Adya's ww, wr, rw, plus
//! Elle's process and real-time orders), and its strongly connected
//! components (Tarjan). Follows Elle's `elle.graph` and `elle.txn`.

use super::txn::{FxMap, Txns};
use crate::history::Outcome;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::{GraphBase, IntoNeighbors, IntoNodeIdentifiers, NodeIndexable};
use serde::{Deserialize, Serialize};
use std::fmt;

/// One relation between two transactions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Rel {
    /// Write-write: the second overwrote (appended after) the first.
    Ww,
    /// Write-read: the second read the first's write.
    Wr,
    /// Read-write (anti-dependency): the second overwrote what the first read.
    Rw,
    /// The same process ran the first, then the second.
    Process,
    /// The first completed before the second was invoked.
    Realtime,
}

impl Rel {
    /// All relations, in bit order.
    pub const ALL: [Rel; 5] = [Rel::Ww, Rel::Wr, Rel::Rw, Rel::Process, Rel::Realtime];

    /// This relation's bit in a [`Rels`] set.
    pub const fn bit(self) -> Rels {
        1 << self as u8
    }

    /// The short name.
    pub fn as_str(self) -> &'static str {
        match self {
            Rel::Ww => "ww",
            Rel::Wr => "wr",
            Rel::Rw => "rw",
            Rel::Process => "process",
            Rel::Realtime => "realtime",
        }
    }
}

impl fmt::Display for Rel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of relations, one bit per [`Rel`].
pub type Rels = u8;
/// ww, wr and rw: the data dependencies.
pub const DATA: Rels = Rel::Ww.bit() | Rel::Wr.bit() | Rel::Rw.bit();

/// Dependency edges collected before the graph is built; duplicates merge.
#[derive(Default)]
pub struct EdgeList(Vec<(u32, u32, Rels)>);

impl EdgeList {
    /// Adds `from -rel-> to`; self-edges are dropped (Elle's graphs never
    /// hold them).
    pub fn add(&mut self, from: u32, to: u32, rel: Rel) {
        if from != to {
            self.0.push((from, to, rel.bit()));
        }
    }

    /// Adds every edge of `other` (the graph does not depend on the order
    /// edges were added in).
    pub fn append(&mut self, mut other: EdgeList) {
        self.0.append(&mut other.0);
    }

    /// Builds the graph over `n` transactions (see [`EdgeList::rows`]).
    pub fn build(self, n: usize) -> DiGraph<(), Rels, u32> {
        self.rows(n).graph(|_, _| true)
    }

    /// The edges over `n` transactions in compressed rows: bucketed by
    /// source in linear time (a counting sort, no global comparison
    /// sort), each source's few targets sorted and their relations merged.
    pub fn rows(self, n: usize) -> Rows {
        let mut start = vec![0u32; n + 1];
        for &(a, _, _) in &self.0 {
            start[a as usize + 1] += 1;
        }
        for i in 0..n {
            start[i + 1] += start[i];
        }
        let mut fill = start.clone();
        let mut out: Vec<(u32, Rels)> = vec![(0, 0); self.0.len()];
        for &(a, b, rels) in &self.0 {
            out[fill[a as usize] as usize] = (b, rels);
            fill[a as usize] += 1;
        }
        drop(self);
        // Merged rows are compacted in place: a row never starts after
        // the unmerged one it came from.
        let mut len = 0;
        for a in 0..n {
            let (from, to) = (start[a] as usize, start[a + 1] as usize);
            start[a] = len as u32;
            out[from..to].sort_unstable_by_key(|e| std::cmp::Reverse(e.0));
            let mut i = from;
            while i < to {
                let target = out[i].0;
                let mut rels = 0;
                while i < to && out[i].0 == target {
                    rels |= out[i].1;
                    i += 1;
                }
                out[len] = (target, rels);
                len += 1;
            }
        }
        start[n] = len as u32;
        out.truncate(len);
        let (targets, rels) = out.into_iter().unzip();
        Rows {
            start,
            targets,
            rels,
        }
    }
}

/// The dependency graph in compressed rows: each transaction's targets,
/// their relations merged, in decreasing order, which is the order a
/// petgraph [`DiGraph`] built by adding them in increasing order yields
/// them. So Tarjan's algorithm ([`Rows::sccs`]) visits exactly as it
/// would on that graph, and finds the same components in the same order,
/// without the graph: for a history of 100,000 txns and a million edges,
/// building the `DiGraph` took about as long as Tarjan's algorithm.
pub struct Rows {
    start: Vec<u32>,
    targets: Vec<u32>,
    rels: Vec<Rels>,
}

impl Rows {
    /// How many edges (pairs of transactions) the graph has.
    pub fn edge_count(&self) -> usize {
        self.targets.len()
    }

    /// The strongly connected components, as petgraph's `tarjan_scc`
    /// finds them on the graph [`Rows::graph`] builds.
    pub fn sccs(&self) -> Vec<Vec<NodeIndex<u32>>> {
        petgraph::algo::tarjan_scc(self)
    }

    /// The graph of the edges `a -> b` for which `keep(a, b)`, built as
    /// [`EdgeList::build`] builds the whole graph (so edges iterate in the
    /// same order), over all the transactions.
    pub fn graph(&self, keep: impl Fn(u32, u32) -> bool) -> DiGraph<(), Rels, u32> {
        let n = self.start.len() - 1;
        let mut g = DiGraph::with_capacity(n, self.targets.len());
        for _ in 0..n {
            g.add_node(());
        }
        for a in 0..n {
            let row = self.start[a] as usize..self.start[a + 1] as usize;
            for i in row.rev() {
                if keep(a as u32, self.targets[i]) {
                    let b = NodeIndex::new(self.targets[i] as usize);
                    g.add_edge(NodeIndex::new(a), b, self.rels[i]);
                }
            }
        }
        g
    }
}

impl GraphBase for Rows {
    type NodeId = NodeIndex<u32>;
    type EdgeId = usize;
}

impl<'a> IntoNeighbors for &'a Rows {
    type Neighbors = std::iter::Map<std::slice::Iter<'a, u32>, fn(&u32) -> NodeIndex<u32>>;

    fn neighbors(self, a: NodeIndex<u32>) -> Self::Neighbors {
        let row = self.start[a.index()] as usize..self.start[a.index() + 1] as usize;
        self.targets[row]
            .iter()
            .map(|&b| NodeIndex::new(b as usize))
    }
}

impl IntoNodeIdentifiers for &Rows {
    type NodeIdentifiers = std::iter::Map<std::ops::Range<usize>, fn(usize) -> NodeIndex<u32>>;

    fn node_identifiers(self) -> Self::NodeIdentifiers {
        (0..self.start.len() - 1).map(NodeIndex::new)
    }
}

impl NodeIndexable for Rows {
    fn node_bound(&self) -> usize {
        self.start.len() - 1
    }

    fn to_index(&self, a: NodeIndex<u32>) -> usize {
        a.index()
    }

    fn from_index(&self, i: usize) -> NodeIndex<u32> {
        NodeIndex::new(i)
    }
}

/// Whether a txn belongs in the graph: it took effect or may have.
pub fn in_graph(outcome: Outcome) -> bool {
    outcome != Outcome::Fail
}

/// Process order: each process's consecutive graph txns. A process that
/// crashed continues as a new id, so the chain ends at its `info` txn.
pub fn process_edges(t: &Txns, edges: &mut EdgeList) {
    let mut last: FxMap<u64, u32> = FxMap::default();
    for (i, txn) in t.txns.iter().enumerate() {
        if !in_graph(txn.outcome) {
            continue;
        }
        if let Some(prev) = last.insert(txn.process, i as u32) {
            edges.add(prev, i as u32, Rel::Process);
        }
    }
}

/// Real-time order between the graph txns of `t` (see [`realtime_order`]).
pub fn realtime_edges(t: &Txns, edges: &mut EdgeList) {
    let spans = t.txns.iter().map(|txn| {
        let done = match (txn.outcome, txn.complete) {
            (Outcome::Ok, Some(c)) => Some(c),
            _ => None,
        };
        in_graph(txn.outcome).then_some((txn.invoke, done))
    });
    realtime_order(spans, |a, b| edges.add(a, b, Rel::Realtime));
}

/// Real-time order, transitively reduced as Elle does: `spans[i]` is item
/// i's (invocation, completion) history positions (`None`: left out; no
/// completion: never precedes anything). Sweeping the history, every item
/// invoked sees the current frontier of completed items as predecessors;
/// an item that completes replaces its own predecessors in the frontier,
/// since they reach anything after it through it.
pub fn realtime_order(
    spans: impl Iterator<Item = Option<(usize, Option<usize>)>>,
    mut add: impl FnMut(u32, u32),
) {
    // What happens at each history position: an invoke or a completion of item i.
    let mut at: Vec<(usize, u32, bool)> = Vec::new();
    for (i, span) in spans.enumerate() {
        let Some((invoke, complete)) = span else {
            continue;
        };
        at.push((invoke, i as u32, true));
        if let Some(c) = complete {
            at.push((c, i as u32, false));
        }
    }
    at.sort_unstable();
    let items = at.iter().map(|e| e.1 as usize + 1).max().unwrap_or(0);
    // The frontier each item saw when invoked, as (version, length): the
    // frontier only changes at completions, so items invoked between two
    // completions share one snapshot in `saved`.
    let mut seen: Vec<(u32, u32)> = vec![(0, 0); items];
    let mut saved: Vec<u32> = Vec::new();
    let mut snapshot: Option<(u32, u32)> = None;
    let mut frontier: Vec<u32> = Vec::new();
    for (_, i, is_invoke) in at {
        if is_invoke {
            for &p in &frontier {
                add(p, i);
            }
            let snap = *snapshot.get_or_insert_with(|| {
                let from = saved.len() as u32;
                saved.extend_from_slice(&frontier);
                (from, frontier.len() as u32)
            });
            seen[i as usize] = snap;
        } else {
            let (from, len) = seen[i as usize];
            let before = &saved[from as usize..(from + len) as usize];
            frontier.retain(|f| !before.contains(f));
            frontier.push(i);
            snapshot = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn duplicate_edges_merge_their_relations() {
        let mut e = EdgeList::default();
        e.add(0, 1, Rel::Ww);
        e.add(0, 1, Rel::Realtime);
        e.add(1, 1, Rel::Wr);
        e.add(1, 0, Rel::Rw);
        let g = e.build(2);
        assert_eq!(g.edge_count(), 2);
        let w = g
            .edges_connecting(NodeIndex::new(0), NodeIndex::new(1))
            .next()
            .unwrap();
        assert_eq!(*w.weight(), Rel::Ww.bit() | Rel::Realtime.bit());
    }

    /// Random edge lists over a few nodes, so cycles are common.
    fn random_edges(rng: &mut rand_chacha::ChaCha8Rng, n: u32) -> EdgeList {
        use rand::Rng;
        let mut e = EdgeList::default();
        for _ in 0..rng.gen_range(0..4 * n) {
            let rel = Rel::ALL[rng.gen_range(0..Rel::ALL.len())];
            e.add(rng.gen_range(0..n), rng.gen_range(0..n), rel);
        }
        e
    }

    #[test]
    fn rows_find_the_components_the_graph_has_in_the_same_order() {
        use rand::SeedableRng;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(17);
        for round in 0..500 {
            let n = 1 + round % 40;
            let edges = random_edges(&mut rng, n);
            let mut merged: BTreeMap<(u32, u32), Rels> = BTreeMap::new();
            for &(a, b, r) in &edges.0 {
                *merged.entry((a, b)).or_default() |= r;
            }
            let rows = edges.rows(n as usize);
            let g = rows.graph(|_, _| true);
            assert_eq!(rows.edge_count(), merged.len());
            let built: BTreeMap<(u32, u32), Rels> = g
                .raw_edges()
                .iter()
                .map(|e| {
                    (
                        (e.source().index() as u32, e.target().index() as u32),
                        e.weight,
                    )
                })
                .collect();
            assert_eq!(built, merged);
            assert_eq!(rows.sccs(), petgraph::algo::tarjan_scc(&g));
            for a in g.node_indices() {
                let from_rows: Vec<_> = (&rows).neighbors(a).collect();
                assert_eq!(from_rows, g.neighbors(a).collect::<Vec<_>>());
            }
            // A graph of some edges keeps their order.
            let odd = rows.graph(|a, b| (a + b) % 2 == 1);
            for a in g.node_indices() {
                let kept: Vec<_> = g
                    .neighbors(a)
                    .filter(|b| (a.index() + b.index()) % 2 == 1)
                    .collect();
                assert_eq!(odd.neighbors(a).collect::<Vec<_>>(), kept);
            }
        }
    }
}
