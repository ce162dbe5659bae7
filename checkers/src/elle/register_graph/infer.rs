//! The graph of one key's register ops, every edge forced by
//! linearizability: real time, wr (a read or cas after the write of its
//! value), and the version order with its ww and rw edges. The version
//! order is inferred as Elle infers it for linearizable keys: along every
//! forced edge a -> b, the value a leaves comes no later than the value b
//! needs (or leaves). A cycle means no linearization exists; otherwise a
//! topological order is built greedily while running the register (see
//! [`Witness`]), and only one in which every op sees what it saw answers
//! valid.

use super::parse::{Kind, ROp};
use crate::elle::graph::realtime_order;
use crate::elle::txn::FxMap;
use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;
use std::collections::VecDeque;

/// Why one op must precede another.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Why {
    /// The initial state precedes every op.
    Initial,
    /// The first completed before the second was invoked.
    Realtime,
    /// The second read (or cas-read) the value the first wrote.
    Wr,
    /// The first's value precedes the second's in the version order.
    Ww,
    /// The first read a value the second's write comes after.
    Rw,
}

/// Why one value precedes another in a key's version order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Cause {
    /// The initial value precedes every written one.
    Initial,
    /// The cas at this node replaced the first value with the second.
    Cas(usize),
    /// The cas at this node put its new value directly after its old one,
    /// which orders these two values.
    Adjacent(usize),
    /// This forced edge ran from an op leaving the first value to one
    /// needing (or writing) the second.
    Edge(usize, usize, Why),
}

/// One edge of a cycle: `from` precedes `to` because of `why`; for ww and
/// rw, `cause` says why the values are in that order.
#[derive(Clone, Copy, Debug)]
pub struct Step {
    /// Node of the earlier op.
    pub from: usize,
    /// Node of the later op.
    pub to: usize,
    /// The relation.
    pub why: Why,
    /// For ww and rw: why the version order has the two values so.
    pub cause: Option<Cause>,
}

/// One key's answer: nodes are 0 (the initial state) and 1.. (its ops).
pub enum KeyOutcome {
    /// A linearization exists (replayed).
    Valid,
    /// A cycle of forced edges.
    Cycle(Vec<Step>),
    /// A read of a value no op that took effect wrote: the op's node.
    Garbage(usize),
    /// The forced edges leave the order open and the witness failed.
    Unknown,
}

/// Checks one key's ops, with `initial` the initial value's id.
pub fn check_key(ops: &[ROp], initial: u32) -> KeyOutcome {
    let nodes = with_init(ops, initial);
    let mut writer: FxMap<u32, usize> = FxMap::default();
    let mut readers: FxMap<u32, Vec<usize>> = FxMap::default();
    for (i, op) in nodes.iter().enumerate() {
        if op.kind != Kind::Read {
            writer.insert(op.post, i);
        }
        if let Some(pre) = op.pre {
            readers.entry(pre).or_default().push(i);
        }
    }
    if let Some(i) = nodes
        .iter()
        .position(|o| o.pre.is_some_and(|p| !writer.contains_key(&p)))
    {
        return KeyOutcome::Garbage(i);
    }
    let mut edges = forced_edges(&nodes, &writer);
    let versions = version_order(&nodes, &edges, initial);
    for &(x, y, _) in &versions {
        let wy = writer[&y];
        edges.push((writer[&x], wy, Why::Ww));
        for &r in readers.get(&x).map_or(&[][..], Vec::as_slice) {
            edges.push((r, wy, Why::Rw));
        }
    }
    match decide(&nodes, edges) {
        Decided::Cycle(c) => KeyOutcome::Cycle(explain(&nodes, &versions, c)),
        Decided::Valid => KeyOutcome::Valid,
        Decided::Unknown => KeyOutcome::Unknown,
    }
}

/// Attaches to each ww and rw step the cause of its version-order pair.
fn explain(
    nodes: &[ROp],
    versions: &[(u32, u32, Cause)],
    cycle: Vec<(usize, usize, Why)>,
) -> Vec<Step> {
    let cause = |x: u32, y: u32| {
        let i = versions.partition_point(|v| (v.0, v.1) < (x, y));
        versions
            .get(i)
            .filter(|v| (v.0, v.1) == (x, y))
            .map(|v| v.2)
    };
    cycle
        .into_iter()
        .map(|(from, to, why)| {
            let (a, b) = (&nodes[from], &nodes[to]);
            let cause = match why {
                Why::Ww => cause(a.post, b.post),
                Why::Rw => a.pre.and_then(|x| cause(x, b.post)),
                _ => None,
            };
            Step {
                from,
                to,
                why,
                cause,
            }
        })
        .collect()
}

enum Decided {
    Valid,
    Cycle(Vec<(usize, usize, Why)>),
    Unknown,
}

fn with_init(ops: &[ROp], initial: u32) -> Vec<ROp> {
    let init = ROp {
        kind: Kind::Init,
        key: ops.first().map_or(0, |o| o.key),
        pre: None,
        post: initial,
        invoke: 0,
        complete: None,
    };
    std::iter::once(init).chain(ops.iter().copied()).collect()
}

/// Initial, real-time and wr edges.
fn forced_edges(nodes: &[ROp], writer: &FxMap<u32, usize>) -> Vec<(usize, usize, Why)> {
    let mut edges: Vec<(usize, usize, Why)> =
        (1..nodes.len()).map(|i| (0, i, Why::Initial)).collect();
    let spans = nodes
        .iter()
        .enumerate()
        .map(|(i, o)| (i > 0).then_some((o.invoke, o.complete)));
    realtime_order(spans, |a, b| {
        edges.push((a as usize, b as usize, Why::Realtime))
    });
    for (i, op) in nodes.iter().enumerate() {
        if let Some(w) = op.pre.and_then(|p| writer.get(&p)) {
            edges.push((*w, i, Why::Wr));
        }
    }
    edges
}

/// Version-order edges (x, y): x comes before y. Along each forced edge
/// a -> b, a's value is no later than the value b needs (or, for a write,
/// leaves); cas makes its new value follow its old. The initial value
/// precedes every value with no other predecessor.
fn version_order(
    nodes: &[ROp],
    edges: &[(usize, usize, Why)],
    initial: u32,
) -> Vec<(u32, u32, Cause)> {
    let mut vs: Vec<(u32, u32, Cause)> = Vec::new();
    for &(a, b, why) in edges.iter().filter(|e| e.2 != Why::Initial) {
        let (x, y) = (nodes[a].post, nodes[b].pre.unwrap_or(nodes[b].post));
        if x != y && why != Why::Wr {
            vs.push((x, y, Cause::Edge(a, b, why)));
        }
    }
    for (i, op) in nodes
        .iter()
        .enumerate()
        .filter(|(_, o)| o.kind == Kind::Cas)
    {
        if let Some(pre) = op.pre.filter(|&p| p != op.post) {
            vs.push((pre, op.post, Cause::Cas(i)));
        }
    }
    let mut has_pred: FxMap<u32, ()> = FxMap::default();
    for &(x, y, _) in &vs {
        if x != initial {
            has_pred.insert(y, ());
        }
    }
    for op in nodes
        .iter()
        .filter(|o| matches!(o.kind, Kind::Write | Kind::Cas))
    {
        if !has_pred.contains_key(&op.post) {
            vs.push((initial, op.post, Cause::Initial));
        }
    }
    close_under_cas(nodes, &mut vs);
    vs.sort_unstable();
    vs.dedup_by_key(|v| (v.0, v.1));
    vs
}

/// Closes the version order under cas adjacency: a cas puts its new value
/// directly after its old one, so another value before the new one is
/// before the old one, and another value after the old one is after the
/// new one. (Two cas from one old value already make a cycle.)
fn close_under_cas(nodes: &[ROp], vs: &mut Vec<(u32, u32, Cause)>) {
    let (mut succ, mut pred) = (FxMap::default(), FxMap::default());
    for (i, op) in nodes
        .iter()
        .enumerate()
        .filter(|(_, o)| o.kind == Kind::Cas)
    {
        if let Some(x) = op.pre {
            succ.entry(x).or_insert((op.post, i));
            pred.entry(op.post).or_insert((x, i));
        }
    }
    let mut seen: FxMap<(u32, u32), ()> = vs.iter().map(|v| ((v.0, v.1), ())).collect();
    let mut i = 0;
    while i < vs.len() {
        let (a, b, _) = vs[i];
        i += 1;
        let derived = [
            pred.get(&b).filter(|p| p.0 != a).map(|&(x, c)| (a, x, c)),
            succ.get(&a).filter(|s| s.0 != b).map(|&(y, c)| (y, b, c)),
        ];
        for (x, y, c) in derived.into_iter().flatten() {
            if x != y && seen.insert((x, y), ()).is_none() {
                vs.push((x, y, Cause::Adjacent(c)));
            }
        }
    }
}

/// A cycle if the graph has one, else valid if a topological order replays.
fn decide(nodes: &[ROp], mut edges: Vec<(usize, usize, Why)>) -> Decided {
    edges.retain(|e| e.0 != e.1);
    edges.sort_unstable_by_key(|e| (e.0, e.1, e.2));
    edges.dedup_by_key(|e| (e.0, e.1));
    let mut g: DiGraph<(), Why, u32> = DiGraph::with_capacity(nodes.len(), edges.len());
    for _ in nodes {
        g.add_node(());
    }
    for &(a, b, why) in &edges {
        g.add_edge(NodeIndex::new(a), NodeIndex::new(b), why);
    }
    if let Some(scc) = tarjan_scc(&g).into_iter().find(|c| c.len() > 1) {
        return Decided::Cycle(shortest_cycle(&g, &scc));
    }
    if Witness::new(nodes, &g).run() {
        Decided::Valid
    } else {
        Decided::Unknown
    }
}

/// A linearization built greedily in topological order (Kahn's algorithm)
/// while running the register: an op that reads the current value goes
/// first; once no unplaced op still needs the current value, a write whose
/// value nobody reads, then any other write. Success means a real-time
/// respecting order in which every op sees what it saw: a proof of
/// linearizability. Failure proves nothing.
struct Witness<'a> {
    nodes: &'a [ROp],
    g: &'a DiGraph<(), Why, u32>,
    indegree: Vec<u32>,
    /// Per value: the ops that need it and are not placed yet.
    unplaced_readers: FxMap<u32, u32>,
    /// Ready ops that need a value, by that value.
    ready_by_pre: FxMap<u32, Vec<usize>>,
    /// Ready writes nobody reads, and ready writes somebody reads.
    ready_dead: Vec<usize>,
    ready_live: Vec<usize>,
}

impl<'a> Witness<'a> {
    fn new(nodes: &'a [ROp], g: &'a DiGraph<(), Why, u32>) -> Witness<'a> {
        let mut indegree = vec![0; nodes.len()];
        for e in g.raw_edges() {
            indegree[e.target().index()] += 1;
        }
        let mut unplaced_readers: FxMap<u32, u32> = FxMap::default();
        for p in nodes.iter().filter_map(|o| o.pre) {
            *unplaced_readers.entry(p).or_default() += 1;
        }
        Witness {
            nodes,
            g,
            indegree,
            unplaced_readers,
            ready_by_pre: FxMap::default(),
            ready_dead: Vec::new(),
            ready_live: Vec::new(),
        }
    }

    /// Places every op, starting from the initial state (node 0).
    fn run(mut self) -> bool {
        let mut placed = 0;
        let mut next = Some(0);
        while let Some(i) = next {
            let state = self.place(i);
            placed += 1;
            next = self.pick(state);
        }
        placed == self.nodes.len()
    }

    fn pick(&mut self, state: u32) -> Option<usize> {
        if let Some(i) = self.ready_by_pre.get_mut(&state).and_then(Vec::pop) {
            return Some(i);
        }
        if self.unplaced_readers.get(&state).is_some_and(|&n| n > 0) {
            return None;
        }
        if let Some(i) = self.ready_dead.pop() {
            return Some(i);
        }
        // Of the writes somebody reads, the one invoked first: the likeliest
        // to have taken effect first.
        let (k, _) = self
            .ready_live
            .iter()
            .enumerate()
            .min_by_key(|(_, &j)| self.nodes[j].invoke)?;
        Some(self.ready_live.swap_remove(k))
    }

    /// Places node `i`; returns the register's value after it.
    fn place(&mut self, i: usize) -> u32 {
        let op = self.nodes[i];
        if let Some(n) = op.pre.and_then(|p| self.unplaced_readers.get_mut(&p)) {
            *n -= 1;
        }
        for e in self.g.edges(NodeIndex::new(i)) {
            let j = e.target().index();
            self.indegree[j] -= 1;
            if self.indegree[j] == 0 {
                self.ready(j);
            }
        }
        op.post
    }

    fn ready(&mut self, j: usize) {
        let op = self.nodes[j];
        match op.pre {
            Some(p) => self.ready_by_pre.entry(p).or_default().push(j),
            None if self.unplaced_readers.contains_key(&op.post) => self.ready_live.push(j),
            None => self.ready_dead.push(j),
        }
    }
}

/// The shortest cycle through the component's first node (breadth-first
/// within the component).
fn shortest_cycle(g: &DiGraph<(), Why, u32>, scc: &[NodeIndex<u32>]) -> Vec<(usize, usize, Why)> {
    let mut inside = vec![false; g.node_count()];
    for n in scc {
        inside[n.index()] = true;
    }
    let start = scc[0];
    let mut parent: Vec<Option<(NodeIndex<u32>, Why)>> = vec![None; g.node_count()];
    let mut queue = VecDeque::from([start]);
    while let Some(v) = queue.pop_front() {
        for e in g.edges(v) {
            let w = e.target();
            if w == start {
                return unwind(&parent, start, v, *e.weight());
            }
            if inside[w.index()] && parent[w.index()].is_none() {
                parent[w.index()] = Some((v, *e.weight()));
                queue.push_back(w);
            }
        }
    }
    Vec::new()
}

fn unwind(
    parent: &[Option<(NodeIndex<u32>, Why)>],
    start: NodeIndex<u32>,
    last: NodeIndex<u32>,
    closing: Why,
) -> Vec<(usize, usize, Why)> {
    let mut steps = vec![(last.index(), start.index(), closing)];
    let mut v = last;
    while v != start {
        let Some((p, why)) = parent[v.index()] else {
            break;
        };
        steps.push((p.index(), v.index(), why));
        v = p;
    }
    steps.reverse();
    steps
}
