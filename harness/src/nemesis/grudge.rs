//! Partition shapes as grudges: for each node, the nodes whose packets it
//! drops (Jepsen's `nemesis.clj`: `complete-grudge`, `bridge`,
//! `majorities-ring`). Pure functions of the node list and the seeded RNG,
//! so a seed reproduces the same partitions.

use petgraph::graphmap::DiGraphMap;
use rand::seq::SliceRandom;
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Who drops whom: `grudge[a]` holds every node whose packets `a` drops.
pub type Grudge = BTreeMap<String, BTreeSet<String>>;

/// The partition shapes `--nemesis partition` chooses among.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Shape {
    /// One random node cut off from all others.
    One,
    /// The first half of the nodes against the second.
    Halves,
    /// A random half against the rest.
    RandomHalves,
    /// Every node sees a majority, but no two see the same majority.
    MajoritiesRing,
    /// Two halves that only one node, the bridge, connects.
    Bridge,
    /// The current leader cut off from all others.
    Leader,
}

kebab_choices!(Shape, "partition shape", [
    One => "one",
    Halves => "halves",
    RandomHalves => "random-halves",
    MajoritiesRing => "majorities-ring",
    Bridge => "bridge",
    Leader => "leader",
]);

/// Cuts every node of each component off from every node outside it.
pub fn complete(components: &[Vec<String>]) -> Grudge {
    let mut g = Grudge::new();
    for (i, comp) in components.iter().enumerate() {
        for node in comp {
            let others = components
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .flat_map(|(_, c)| c.iter().cloned());
            g.entry(node.clone()).or_default().extend(others);
        }
    }
    g
}

/// Isolates `node` from every other node.
pub fn isolate(nodes: &[String], node: &str) -> Grudge {
    let rest: Vec<String> = nodes.iter().filter(|n| *n != node).cloned().collect();
    complete(&[vec![node.to_string()], rest])
}

/// Splits `nodes` into a smaller first half and the rest.
pub fn halves(nodes: &[String]) -> Grudge {
    let (a, b) = nodes.split_at(nodes.len() / 2);
    complete(&[a.to_vec(), b.to_vec()])
}

/// Two halves joined by one node (the middle one) that sees both.
pub fn bridge(nodes: &[String]) -> Grudge {
    let mid = nodes.len() / 2;
    let a = &nodes[..mid];
    let b = nodes.get(mid + 1..).unwrap_or(&[]);
    let mut g = complete(&[a.to_vec(), b.to_vec()]);
    if let Some(bridge) = nodes.get(mid) {
        g.remove(bridge);
    }
    g
}

/// Each node hears only the majority of nodes nearest it on a ring, so
/// every node has a majority but no two nodes have the same one (Jepsen's
/// `majorities-ring`). With 5 nodes each node hears itself and its two
/// neighbours, which is symmetric; with 3 or 4 it cannot be, and as in
/// Jepsen the grudge stays one-way (a hears b while b drops a).
pub fn majorities_ring(ring: &[String]) -> Grudge {
    let n = ring.len();
    let majority = n / 2 + 1;
    let mut g = Grudge::new();
    for (i, node) in ring.iter().enumerate() {
        let heard: BTreeSet<usize> = (0..majority)
            .map(|d| (i + n + d - majority / 2) % n)
            .collect();
        let dropped = (0..n)
            .filter(|j| !heard.contains(j))
            .map(|j| ring[j].clone());
        g.insert(node.clone(), dropped.collect());
    }
    g
}

/// The grudge for `shape` over `nodes`; `leader` is needed for
/// [`Shape::Leader`] and ignored otherwise.
pub fn for_shape<R: Rng>(
    shape: Shape,
    nodes: &[String],
    leader: Option<&str>,
    rng: &mut R,
) -> Result<Grudge, String> {
    let mut shuffled = nodes.to_vec();
    shuffled.shuffle(rng);
    Ok(match shape {
        Shape::One => isolate(nodes, &shuffled[0]),
        Shape::Halves => halves(nodes),
        Shape::RandomHalves => halves(&shuffled),
        Shape::MajoritiesRing => majorities_ring(&shuffled),
        Shape::Bridge => bridge(&shuffled),
        Shape::Leader => {
            let leader = leader.ok_or("no node reports itself as leader")?;
            isolate(nodes, leader)
        }
    })
}

/// The grudge as a graph (an edge a -> b: a drops b's packets), for reports.
pub fn graph(g: &Grudge) -> DiGraphMap<&str, ()> {
    let mut graph = DiGraphMap::new();
    for (a, dropped) in g {
        graph.add_node(a.as_str());
        for b in dropped {
            graph.add_edge(a.as_str(), b.as_str(), ());
        }
    }
    graph
}

/// How many nodes `a` can still reach, itself included.
pub fn visible(g: &Grudge, nodes: &[String], a: &str) -> usize {
    let dropped = g.get(a).map_or(0, |d| d.len());
    nodes.len() - dropped
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn nodes(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("n{i}")).collect()
    }

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn isolating_one_node_cuts_it_both_ways() {
        let g = isolate(&nodes(3), "n2");
        assert_eq!(g["n2"], set(&["n1", "n3"]));
        assert_eq!(g["n1"], set(&["n2"]));
        assert_eq!(g["n3"], set(&["n2"]));
    }

    #[test]
    fn halves_leave_the_majority_on_one_side() {
        let g = halves(&nodes(5));
        assert_eq!(g["n1"], set(&["n3", "n4", "n5"]));
        assert_eq!(g["n5"], set(&["n1", "n2"]));
    }

    #[test]
    fn the_bridge_sees_both_halves() {
        let g = bridge(&nodes(5));
        assert!(!g.contains_key("n3"));
        assert_eq!(g["n1"], set(&["n4", "n5"]));
        assert_eq!(g["n4"], set(&["n1", "n2"]));
    }

    #[test]
    fn in_a_majorities_ring_every_node_hears_a_distinct_majority() {
        for n in [3, 4, 5, 7] {
            let all = nodes(n);
            let g = majorities_ring(&all);
            let mut seen = BTreeSet::new();
            for node in &all {
                assert!(
                    visible(&g, &all, node) > n / 2,
                    "{node} hears a minority: {g:?}"
                );
                assert!(
                    seen.insert(g[node].clone()),
                    "two nodes hear the same majority"
                );
            }
        }
        let five = majorities_ring(&nodes(5));
        for (a, dropped) in &five {
            for b in dropped {
                assert!(five[b].contains(a), "5 nodes: asymmetric, {a} drops {b}");
            }
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_partition() {
        let all = nodes(5);
        let pick = |seed| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            for_shape(Shape::RandomHalves, &all, None, &mut rng).unwrap()
        };
        assert_eq!(pick(7), pick(7));
        let leaderless = for_shape(Shape::Leader, &all, None, &mut ChaCha8Rng::seed_from_u64(1));
        assert!(leaderless.is_err());
    }
}
