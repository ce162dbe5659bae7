//! Cycle search within one strongly connected component: for each anomaly
//! type, the shortest cycle through some edge of its seed relation whose
//! relations satisfy the type's constraints (G0: ww only; G1c: ww and wr
//! with a wr; G-single: exactly one rw; G-nonadjacent: no two rw adjacent;
//! G2-item: two or more rw; -process and -realtime variants close the cycle
//! with a process or real-time edge). Breadth-first search over (vertex,
//! state) pairs restricted to the component, as Elle's `elle.graph`
//! `find-cycle-with` does, under a time budget that reports timeouts
//! instead of hanging. Found cycles are named by the relations they use.

use super::graph::{Rel, Rels, DATA};
use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::{EdgeFiltered, EdgeRef};
use petgraph::Direction;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How many rw edges a cycle of a type may hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RwCount {
    Zero,
    One,
    AtLeastTwo,
}

/// A cycle type to search for.
#[derive(Clone, Copy, Debug)]
pub struct Spec {
    /// The anomaly it finds.
    pub name: &'static str,
    seed: Rel,
    allowed: Rels,
    rw: RwCount,
    /// true: no two rw edges adjacent (G-nonadjacent); false: some two
    /// adjacent when the type allows two or more (G2-item).
    nonadjacent: bool,
}

const fn spec(
    name: &'static str,
    seed: Rel,
    allowed: Rels,
    rw: RwCount,
    nonadjacent: bool,
) -> Spec {
    Spec {
        name,
        seed,
        allowed,
        rw,
        nonadjacent,
    }
}

impl Spec {
    fn needs_adjacent(&self) -> bool {
        self.rw == RwCount::AtLeastTwo && !self.nonadjacent
    }
}

const WW: Rels = Rel::Ww.bit();
const WWR: Rels = Rel::Ww.bit() | Rel::Wr.bit();
const P: Rels = Rel::Process.bit();
const RT: Rels = Rel::Process.bit() | Rel::Realtime.bit();

/// Every cycle type, cheapest and most severe first.
pub const SPECS: &[Spec] = {
    use Rel::*;
    use RwCount::*;
    &[
        spec("G0", Ww, WW, Zero, false),
        spec("G1c", Wr, WWR, Zero, false),
        spec("G-single", Rw, DATA, One, false),
        spec("G-nonadjacent", Rw, DATA, AtLeastTwo, true),
        spec("G2-item", Rw, DATA, AtLeastTwo, false),
        spec("G0-process", Process, WW | P, Zero, false),
        spec("G1c-process", Process, WWR | P, Zero, false),
        spec("G-single-process", Process, DATA | P, One, false),
        spec("G-nonadjacent-process", Process, DATA | P, AtLeastTwo, true),
        spec("G2-item-process", Process, DATA | P, AtLeastTwo, false),
        spec("G0-realtime", Realtime, WW | RT, Zero, false),
        spec("G1c-realtime", Realtime, WWR | RT, Zero, false),
        spec("G-single-realtime", Realtime, DATA | RT, One, false),
        spec(
            "G-nonadjacent-realtime",
            Realtime,
            DATA | RT,
            AtLeastTwo,
            true,
        ),
        spec("G2-item-realtime", Realtime, DATA | RT, AtLeastTwo, false),
    ]
};

/// A cycle: each edge as (from txn, to txn, relation), closing on itself.
pub type Cycle = Vec<(u32, u32, Rel)>;

/// What the search of one component found.
#[derive(Debug, Default)]
pub struct SccOutcome {
    /// Each cycle with the anomaly type its relations make it.
    pub cycles: Vec<(String, Cycle)>,
    /// Types whose search ran out of time.
    pub timed_out: Vec<&'static str>,
}

/// The anomaly type a cycle's relations make (Elle's cycle classification).
pub fn classify(rels: &[Rel]) -> String {
    let n = rels.len();
    let rw = rels.iter().filter(|&&r| r == Rel::Rw).count();
    let wr = rels.contains(&Rel::Wr);
    let adjacent = (0..n).any(|i| rels[i] == Rel::Rw && rels[(i + 1) % n] == Rel::Rw);
    let base = match rw {
        0 if wr => "G1c",
        0 => "G0",
        1 => "G-single",
        _ if !adjacent => "G-nonadjacent",
        _ => "G2-item",
    };
    let suffix = if rels.contains(&Rel::Realtime) {
        "-realtime"
    } else if rels.contains(&Rel::Process) {
        "-process"
    } else {
        ""
    };
    format!("{base}{suffix}")
}

/// Searches the component `members` of `g` for each of `specs`, giving
/// the whole search `budget`.
pub fn search_scc(
    g: &DiGraph<(), Rels, u32>,
    members: &[NodeIndex<u32>],
    specs: &[Spec],
    budget: Duration,
) -> SccOutcome {
    let local = Local::new(g, members);
    let deadline = Instant::now() + budget;
    let mut out = SccOutcome::default();
    for (i, spec) in specs.iter().enumerate() {
        if out.cycles.iter().any(|(n, _)| n == spec.name) {
            continue;
        }
        let now = Instant::now();
        if now >= deadline {
            out.timed_out.extend(specs[i..].iter().map(|s| s.name));
            break;
        }
        let slice = (deadline - now) / (specs.len() - i) as u32;
        match local.find(spec, now + slice) {
            Ok(Some(c)) => {
                let rels: Vec<Rel> = c.iter().map(|e| e.2).collect();
                let cycle = c
                    .iter()
                    .map(|&(a, b, r)| (local.global[a as usize], local.global[b as usize], r))
                    .collect();
                out.cycles.push((classify(&rels), cycle));
            }
            Ok(None) => {}
            Err(Timeout) => out.timed_out.push(spec.name),
        }
    }
    out
}

struct Timeout;

/// Twelve search states: rw count (0, 1, 2+) times "last edge was rw"
/// times "two adjacent rw edges seen".
const STATES: usize = 12;

/// A component re-indexed from 0, as its own petgraph graph.
struct Local {
    g: DiGraph<(), Rels, u32>,
    global: Vec<u32>,
}

impl Local {
    fn new(g: &DiGraph<(), Rels, u32>, members: &[NodeIndex<u32>]) -> Local {
        let index: HashMap<NodeIndex<u32>, u32> = members
            .iter()
            .enumerate()
            .map(|(i, &n)| (n, i as u32))
            .collect();
        let mut lg = DiGraph::with_capacity(members.len(), members.len() * 4);
        for _ in members {
            lg.add_node(());
        }
        for &n in members {
            for e in g.edges(n) {
                if let Some(&to) = index.get(&e.target()) {
                    lg.add_edge(
                        NodeIndex::new(index[&n] as usize),
                        NodeIndex::new(to as usize),
                        *e.weight(),
                    );
                }
            }
        }
        Local {
            g: lg,
            global: members.iter().map(|n| n.index() as u32).collect(),
        }
    }

    /// The shortest cycle of `spec` through the first seed target that has
    /// one, or `None`.
    fn find(&self, spec: &Spec, deadline: Instant) -> Result<Option<Cycle>, Timeout> {
        let allowed = spec.allowed;
        let sub = EdgeFiltered::from_fn(&self.g, |e| e.weight() & allowed != 0);
        let mut comp = vec![u32::MAX; self.g.node_count()];
        for (c, scc) in tarjan_scc(&sub).iter().enumerate() {
            if scc.len() > 1 {
                for n in scc {
                    comp[n.index()] = c as u32;
                }
            }
        }
        let mut bfs = Bfs::new(self.g.node_count());
        for v in self.g.node_indices() {
            if comp[v.index()] == u32::MAX {
                continue;
            }
            let seeds: Vec<u32> = self
                .g
                .edges_directed(v, Direction::Incoming)
                .filter(|e| {
                    e.weight() & spec.seed.bit() != 0 && comp[e.source().index()] == comp[v.index()]
                })
                .map(|e| e.source().index() as u32)
                .collect();
            if seeds.is_empty() {
                continue;
            }
            if let Some(c) = bfs.run(self, spec, &comp, v.index() as u32, &seeds, deadline)? {
                return Ok(Some(c));
            }
        }
        Ok(None)
    }
}

/// Reusable breadth-first search buffers over (vertex, state).
struct Bfs {
    stamp: Vec<u32>,
    parent: Vec<(u32, u8, Rel)>,
    is_seed: Vec<u32>,
    round: u32,
    pops: u32,
    queue: std::collections::VecDeque<(u32, u8)>,
}

impl Bfs {
    fn new(n: usize) -> Bfs {
        Bfs {
            stamp: vec![0; n * STATES],
            parent: vec![(0, 0, Rel::Ww); n * STATES],
            is_seed: vec![0; n],
            round: 0,
            pops: 0,
            queue: Default::default(),
        }
    }

    /// From `start`, the shortest path back to one of `seeds` (each has a
    /// seed edge into `start`) that makes an accepted cycle.
    fn run(
        &mut self,
        l: &Local,
        spec: &Spec,
        comp: &[u32],
        start: u32,
        seeds: &[u32],
        deadline: Instant,
    ) -> Result<Option<Cycle>, Timeout> {
        self.round += 1;
        let round = self.round;
        for &s in seeds {
            self.is_seed[s as usize] = round;
        }
        let first_rw = spec.seed == Rel::Rw;
        let s0 = state(first_rw as u8, first_rw);
        self.queue.clear();
        self.queue.push_back((start, s0));
        self.stamp[start as usize * STATES + s0 as usize] = round;
        while let Some((v, s)) = self.queue.pop_front() {
            self.pops = self.pops.wrapping_add(1);
            if self.pops & 1023 == 0 && Instant::now() >= deadline {
                return Err(Timeout);
            }
            if self.is_seed[v as usize] == round && v != start && accepts(spec, s, first_rw) {
                return Ok(Some(self.path(start, v, s, spec.seed)));
            }
            for e in l.g.edges(NodeIndex::new(v as usize)) {
                let w = e.target().index() as u32;
                if w == start || comp[w as usize] != comp[start as usize] {
                    continue;
                }
                for rel in Rel::ALL {
                    if e.weight() & rel.bit() == 0 {
                        continue;
                    }
                    let Some(s2) = step(spec, s, rel) else {
                        continue;
                    };
                    let slot = w as usize * STATES + s2 as usize;
                    if self.stamp[slot] != round {
                        self.stamp[slot] = round;
                        self.parent[slot] = (v, s, rel);
                        self.queue.push_back((w, s2));
                    }
                }
            }
        }
        Ok(None)
    }

    fn path(&self, start: u32, end: u32, end_state: u8, seed: Rel) -> Cycle {
        let mut edges = vec![(end, start, seed)];
        let (mut v, mut s) = (end, end_state);
        while v != start || s != self.initial_state(seed) {
            let (pv, ps, rel) = self.parent[v as usize * STATES + s as usize];
            edges.push((pv, v, rel));
            (v, s) = (pv, ps);
        }
        edges.reverse();
        edges.rotate_right(1);
        edges
    }

    fn initial_state(&self, seed: Rel) -> u8 {
        state((seed == Rel::Rw) as u8, seed == Rel::Rw)
    }
}

fn state(rw: u8, last_rw: bool) -> u8 {
    rw.min(2) * 2 + last_rw as u8
}

fn unpack(s: u8) -> (u8, bool, bool) {
    ((s % 6) / 2, s % 2 == 1, s >= 6)
}

/// The state after following `rel` from `s`, if the spec allows it.
fn step(spec: &Spec, s: u8, rel: Rel) -> Option<u8> {
    if spec.allowed & rel.bit() == 0 {
        return None;
    }
    let is_rw = rel == Rel::Rw;
    let (count, last_rw, adjacent) = unpack(s);
    if spec.nonadjacent && is_rw && last_rw {
        return None;
    }
    let count = (count + is_rw as u8).min(2);
    let adjacent = adjacent || (is_rw && last_rw);
    match spec.rw {
        RwCount::Zero if count > 0 => None,
        RwCount::One if count > 1 => None,
        _ => Some(state(count, is_rw) + 6 * adjacent as u8),
    }
}

/// Whether a path ending in state `s` closes into a cycle of the spec.
fn accepts(spec: &Spec, s: u8, first_rw: bool) -> bool {
    let (count, last_rw, adjacent) = unpack(s);
    if spec.needs_adjacent() && !(adjacent || (first_rw && last_rw)) {
        return false;
    }
    let count_ok = match spec.rw {
        RwCount::Zero => count == 0,
        RwCount::One => count == 1,
        RwCount::AtLeastTwo => count == 2,
    };
    count_ok && !(spec.nonadjacent && first_rw && last_rw)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::elle::graph::EdgeList;

    #[test]
    fn cycles_are_named_by_their_relations() {
        use Rel::*;
        assert_eq!(classify(&[Ww, Ww]), "G0");
        assert_eq!(classify(&[Ww, Wr]), "G1c");
        assert_eq!(classify(&[Rw, Wr]), "G-single");
        assert_eq!(classify(&[Rw, Ww, Rw, Ww]), "G-nonadjacent");
        assert_eq!(classify(&[Rw, Rw, Ww]), "G2-item");
        // The closing edge counts as adjacent to the first.
        assert_eq!(classify(&[Rw, Ww, Rw]), "G2-item");
        assert_eq!(classify(&[Wr, Process]), "G1c-process");
        assert_eq!(classify(&[Rw, Process, Realtime]), "G-single-realtime");
    }

    fn graph(edges: &[(u32, u32, Rel)], n: usize) -> DiGraph<(), Rels, u32> {
        let mut e = EdgeList::default();
        for &(a, b, r) in edges {
            e.add(a, b, r);
        }
        e.build(n)
    }

    fn all(n: usize) -> Vec<NodeIndex<u32>> {
        (0..n).map(NodeIndex::new).collect()
    }

    #[test]
    fn the_search_finds_the_cheapest_type_and_only_types_asked_for() {
        // 0 -ww-> 1 -wr-> 2 -rw-> 0: G-single, not G0 or G1c.
        let g = graph(&[(0, 1, Rel::Ww), (1, 2, Rel::Wr), (2, 0, Rel::Rw)], 3);
        let out = search_scc(&g, &all(3), SPECS, Duration::from_secs(5));
        let names: Vec<&str> = out.cycles.iter().map(|c| c.0.as_str()).collect();
        assert_eq!(names, vec!["G-single"]);
        assert_eq!(out.cycles[0].1.len(), 3);
        let g1c_only: Vec<Spec> = SPECS.iter().filter(|s| s.name == "G1c").copied().collect();
        assert!(search_scc(&g, &all(3), &g1c_only, Duration::from_secs(5))
            .cycles
            .is_empty());
    }

    #[test]
    fn a_spent_budget_reports_a_timeout_not_a_verdict() {
        let g = graph(&[(0, 1, Rel::Rw), (1, 0, Rel::Rw)], 2);
        let out = search_scc(&g, &all(2), SPECS, Duration::ZERO);
        assert!(out.cycles.is_empty());
        assert_eq!(out.timed_out.len(), SPECS.len());
    }
}
