//! A deterministic simulation of a Raft cluster for the core's tests: a
//! seeded network that loses, delays, reorders and duplicates messages, nodes
//! that crash and restart from what they persisted, and checks after every
//! step of the safety properties of the Raft paper's Figure 3 (election
//! safety, log matching, leader completeness, state machine safety) plus
//! read-index linearizability (a read's index covers every commit that
//! happened before it was asked). Randomness comes from one ChaCha seed, as in
//! turmoil and madsim.

use std::collections::BTreeMap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{Config, Entry, HardState, Message, NodeId, Raft, Ready, Role, Snapshot};

#[derive(Debug, Clone, Copy)]
pub struct Faults {
    pub nodes: usize,
    pub ticks: u64,
    pub loss: f64,
    pub duplicate: f64,
    pub max_delay: u64,
    pub crash: f64,
    pub down_ticks: (u64, u64),
    pub pre_vote: bool,
    pub volatile_vote: bool,
}

impl Default for Faults {
    fn default() -> Faults {
        Faults {
            nodes: 3,
            ticks: 2000,
            loss: 0.1,
            duplicate: 0.05,
            max_delay: 8,
            crash: 0.002,
            down_ticks: (5, 60),
            pre_vote: false,
            volatile_vote: false,
        }
    }
}

#[derive(Default, Clone)]
struct Disk {
    hard_state: HardState,
    snapshot: Snapshot,
    entries: Vec<Entry>,
}

struct Node {
    raft: Option<Raft>,
    disk: Disk,
    /// The state machine: how many entries are applied and a hash chained
    /// over their commands, so replicas can be compared cheaply.
    applied: Applied,
    down_until: u64,
    was_leader: bool,
    /// Commits up to here are checked against `Sim::committed` already.
    checked_commit: u64,
}

/// What one simulated run saw.
#[derive(Debug, Default, PartialEq)]
pub struct Outcome {
    pub violations: Vec<String>,
    pub committed: usize,
    pub committed_after_heal: usize,
    pub reads_served: usize,
    pub messages: usize,
}

pub struct Sim {
    faults: Faults,
    seed: u64,
    rng: ChaCha8Rng,
    now: u64,
    nodes: Vec<Node>,
    net: Vec<(u64, Message)>,
    leaders: BTreeMap<u64, NodeId>,
    committed: BTreeMap<u64, Entry>,
    /// The state machine hash after applying each index, as first seen.
    prefix_hashes: BTreeMap<u64, u64>,
    /// Read context -> the highest commit anywhere when it was asked.
    reads: BTreeMap<u64, u64>,
    next_ctx: u64,
    proposals: u64,
    out: Outcome,
}

const SNAPSHOT_EVERY: u64 = 16;

impl Sim {
    pub fn new(seed: u64, faults: Faults) -> Sim {
        let mut sim = Sim {
            faults,
            seed,
            rng: ChaCha8Rng::seed_from_u64(seed),
            now: 0,
            nodes: Vec::new(),
            net: Vec::new(),
            leaders: BTreeMap::new(),
            committed: BTreeMap::new(),
            prefix_hashes: BTreeMap::new(),
            reads: BTreeMap::new(),
            next_ctx: 0,
            proposals: 0,
            out: Outcome::default(),
        };
        for id in 1..=faults.nodes as u64 {
            let node = Node {
                raft: None,
                disk: Disk::default(),
                applied: Applied::default(),
                down_until: 0,
                was_leader: false,
                checked_commit: 0,
            };
            sim.nodes.push(node);
            sim.start(id);
        }
        sim
    }

    fn config(&mut self, id: NodeId) -> Config {
        Config {
            id,
            members: (1..=self.faults.nodes as u64).collect(),
            election_ticks: 10,
            heartbeat_ticks: 3,
            pre_vote: self.faults.pre_vote,
            volatile_vote: self.faults.volatile_vote,
            max_entries_per_message: 8,
            seed: self
                .seed
                .wrapping_mul(1000)
                .wrapping_add(self.rng.gen::<u32>() as u64),
        }
    }

    /// Start (or restart) a node from its disk only.
    fn start(&mut self, id: NodeId) {
        let cfg = self.config(id);
        let node = &mut self.nodes[id as usize - 1];
        let disk = node.disk.clone();
        node.applied = decode(&disk.snapshot.data);
        node.raft = Some(Raft::new(cfg, disk.hard_state, disk.snapshot, disk.entries));
        node.was_leader = false;
        node.checked_commit = 0;
    }

    pub fn run(mut self) -> Outcome {
        let heal_at = self.faults.ticks * 3 / 4;
        for now in 0..self.faults.ticks {
            self.now = now;
            if now == heal_at {
                self.heal();
            }
            if now < heal_at {
                self.crash_and_restart();
            }
            self.deliver();
            self.tick_all();
            self.client_load();
            if now % 16 == 0 {
                self.check_log_matching();
            }
        }
        self.out.committed = self.committed.len();
        self.out
    }

    fn heal(&mut self) {
        self.faults.loss = 0.0;
        self.faults.duplicate = 0.0;
        self.faults.crash = 0.0;
        for id in 1..=self.nodes.len() as u64 {
            if self.nodes[id as usize - 1].raft.is_none() {
                self.start(id);
            }
        }
        self.out.committed_after_heal = self.committed.len();
    }

    fn crash_and_restart(&mut self) {
        for id in 1..=self.nodes.len() as u64 {
            let i = id as usize - 1;
            if self.nodes[i].raft.is_none() {
                if self.now >= self.nodes[i].down_until {
                    self.start(id);
                }
            } else if self.rng.gen_bool(self.faults.crash) {
                let (lo, hi) = self.faults.down_ticks;
                self.nodes[i].down_until = self.now + self.rng.gen_range(lo..=hi);
                self.nodes[i].raft = None;
            }
        }
    }

    fn deliver(&mut self) {
        let now = self.now;
        let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.net)
            .into_iter()
            .partition(|(at, _)| *at <= now);
        self.net = later;
        let mut due: Vec<Message> = due.into_iter().map(|(_, m)| m).collect();
        // Shuffle what is due so that equal delays still reorder.
        for i in (1..due.len()).rev() {
            due.swap(i, self.rng.gen_range(0..=i));
        }
        for m in due {
            let to = m.to;
            if let Some(raft) = self.nodes[to as usize - 1].raft.as_mut() {
                raft.step(m);
                self.process(to);
            }
        }
    }

    fn tick_all(&mut self) {
        for id in 1..=self.nodes.len() as u64 {
            if let Some(raft) = self.nodes[id as usize - 1].raft.as_mut() {
                raft.tick();
                self.process(id);
            }
        }
    }

    fn client_load(&mut self) {
        let leaders: Vec<NodeId> = (1..=self.nodes.len() as u64)
            .filter(|&id| {
                self.raft(id)
                    .is_some_and(|r| r.status().role == Role::Leader)
            })
            .collect();
        for id in leaders {
            if self.rng.gen_bool(0.3) {
                self.proposals += 1;
                let data = vec![format!("s{}-p{}", self.seed, self.proposals)];
                let _ = self.nodes[id as usize - 1]
                    .raft
                    .as_mut()
                    .map(|r| r.propose(data));
            }
            if self.rng.gen_bool(0.2) {
                self.next_ctx += 1;
                let highest = self.committed.keys().next_back().copied().unwrap_or(0);
                self.reads.insert(self.next_ctx, highest);
                let ctx = self.next_ctx;
                let _ = self.nodes[id as usize - 1]
                    .raft
                    .as_mut()
                    .map(|r| r.read_index(vec![ctx]));
            }
            self.process(id);
        }
    }

    fn raft(&self, id: NodeId) -> Option<&Raft> {
        self.nodes[id as usize - 1].raft.as_ref()
    }

    /// Persist, send and apply one node's Ready, then check invariants.
    fn process(&mut self, id: NodeId) {
        let Some(raft) = self.nodes[id as usize - 1].raft.as_mut() else {
            return;
        };
        let ready = raft.ready();
        self.persist(id, &ready);
        self.send(ready.messages.clone());
        self.apply(id, &ready);
        self.check_reads(id, &ready);
        self.record_commits(id);
        self.check_leader(id);
        self.maybe_compact(id);
    }

    fn persist(&mut self, id: NodeId, ready: &Ready) {
        let disk = &mut self.nodes[id as usize - 1].disk;
        if let Some(hs) = ready.hard_state {
            disk.hard_state = hs;
        }
        if let Some(snapshot) = &ready.snapshot {
            disk.snapshot = snapshot.clone();
            disk.entries = ready.entries.clone();
            return;
        }
        for e in &ready.entries {
            disk.entries.retain(|d| d.index < e.index);
            disk.entries.push(e.clone());
        }
    }

    fn send(&mut self, messages: Vec<Message>) {
        for m in messages {
            self.out.messages += 1;
            if self.rng.gen_bool(self.faults.loss) {
                continue;
            }
            let copies = if self.rng.gen_bool(self.faults.duplicate) {
                2
            } else {
                1
            };
            for _ in 0..copies {
                let at = self.now + self.rng.gen_range(1..=self.faults.max_delay);
                self.net.push((at, m.clone()));
            }
        }
    }

    fn apply(&mut self, id: NodeId, ready: &Ready) {
        let node = &mut self.nodes[id as usize - 1];
        let mut states = Vec::new();
        if let (Some(snapshot), true) = (&ready.snapshot, ready.apply_snapshot) {
            node.applied = decode(&snapshot.data);
            states.push(node.applied);
        }
        let mut violations = Vec::new();
        for e in &ready.committed {
            if e.index != node.applied.count + 1 {
                violations.push(format!(
                    "node {id} applied {} after {}",
                    e.index, node.applied.count
                ));
            }
            node.applied = node.applied.then(&e.data);
            states.push(node.applied);
        }
        for state in states {
            let first = *self.prefix_hashes.entry(state.count).or_insert(state.hash);
            if first != state.hash {
                violations.push(format!(
                    "state machine safety: node {id} differs after applying {}",
                    state.count
                ));
            }
        }
        self.out.violations.extend(violations);
    }

    fn check_reads(&mut self, id: NodeId, ready: &Ready) {
        for read in &ready.reads {
            self.out.reads_served += 1;
            let asked_at = self.reads.get(&read.ctx).copied().unwrap_or(0);
            if read.index < asked_at {
                let v = format!(
                    "stale read at node {id}: index {} < commit {asked_at} when asked",
                    read.index
                );
                self.out.violations.push(v);
            }
        }
    }

    /// Everything up to a node's commit index is committed: it must agree
    /// with what any node ever saw committed at the same index.
    fn record_commits(&mut self, id: NodeId) {
        let node = &mut self.nodes[id as usize - 1];
        let Some(raft) = node.raft.as_ref() else {
            return;
        };
        let log = raft.log();
        let from = log.first_index().max(node.checked_commit + 1);
        node.checked_commit = node.checked_commit.max(log.commit);
        for index in from..=log.commit {
            let Some(e) = log.entry(index) else { continue };
            match self.committed.get(&index) {
                Some(c) if c != e => {
                    let v = format!("node {id} commits {e:?} where {c:?} was committed");
                    self.out.violations.push(v);
                }
                Some(_) => {}
                None => {
                    self.committed.insert(index, e.clone());
                }
            }
        }
    }

    /// Election safety, and leader completeness at the moment of election.
    fn check_leader(&mut self, id: NodeId) {
        let Some(raft) = self.raft(id) else { return };
        let status = raft.status();
        let is_leader = status.role == Role::Leader;
        let mut violations = Vec::new();
        if is_leader {
            if let Some(&other) = self.leaders.get(&status.term) {
                if other != id {
                    violations.push(format!(
                        "two leaders in term {}: {other} and {id}",
                        status.term
                    ));
                }
            }
            if !self.nodes[id as usize - 1].was_leader {
                violations.extend(self.missing_committed(raft));
            }
        }
        if is_leader {
            self.leaders.entry(status.term).or_insert(id);
        }
        self.nodes[id as usize - 1].was_leader = is_leader;
        self.out.violations.extend(violations);
    }

    fn missing_committed(&self, raft: &Raft) -> Vec<String> {
        let log = raft.log();
        self.committed
            .range(log.first_index()..)
            .filter(|(&i, c)| log.entry(i) != Some(c))
            .map(|(i, _)| {
                format!(
                    "leader completeness: node {} elected without committed entry {i}",
                    raft.status().id
                )
            })
            .collect()
    }

    fn check_log_matching(&mut self) {
        let live: Vec<&Raft> = self.nodes.iter().filter_map(|n| n.raft.as_ref()).collect();
        let mut violations = Vec::new();
        for (a, ra) in live.iter().enumerate() {
            for rb in &live[a + 1..] {
                violations.extend(log_mismatch(ra, rb));
            }
        }
        self.out.violations.extend(violations);
    }

    fn maybe_compact(&mut self, id: NodeId) {
        let node = &mut self.nodes[id as usize - 1];
        let Some(raft) = node.raft.as_mut() else {
            return;
        };
        let applied = node.applied;
        if applied.count >= raft.log().snapshot().index + SNAPSHOT_EVERY {
            raft.compact(applied.count, format!("{} {}", applied.count, applied.hash));
        }
    }
}

/// Raft paper section 5.3: if two logs hold an entry with the same index and
/// term, the logs are identical up to it.
fn log_mismatch(a: &Raft, b: &Raft) -> Option<String> {
    let (la, lb) = (a.log(), b.log());
    let low = la.first_index().max(lb.first_index());
    let high = la.last_index().min(lb.last_index());
    let mut agreed = false;
    for index in (low..=high).rev() {
        let (ea, eb) = (la.entry(index), lb.entry(index));
        if ea.map(|e| e.term) == eb.map(|e| e.term) {
            agreed = true;
        }
        if agreed && ea != eb {
            return Some(format!(
                "log matching: nodes {} and {} differ at {index}",
                a.status().id,
                b.status().id
            ));
        }
    }
    None
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Applied {
    count: u64,
    hash: u64,
}

impl Applied {
    fn then(self, data: &str) -> Applied {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (self.hash, data).hash(&mut h);
        Applied {
            count: self.count + 1,
            hash: h.finish(),
        }
    }
}

/// The sim's snapshot data is "count hash".
fn decode(data: &str) -> Applied {
    let mut parts = data.split(' ').map(|p| p.parse().unwrap_or(0));
    Applied {
        count: parts.next().unwrap_or(0),
        hash: parts.next().unwrap_or(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_seeds(
        seeds: std::ops::Range<u64>,
        faults: impl Fn(u64) -> Faults,
    ) -> Vec<(u64, Outcome)> {
        seeds
            .map(|seed| (seed, Sim::new(seed, faults(seed)).run()))
            .collect()
    }

    #[test]
    fn safety_holds_over_many_seeds_with_faults() {
        let outcomes = run_seeds(0..200, |seed| Faults {
            ticks: 1500,
            nodes: if seed % 3 == 0 { 5 } else { 3 },
            pre_vote: seed % 2 == 0,
            ..Faults::default()
        });
        for (seed, outcome) in &outcomes {
            assert!(
                outcome.violations.is_empty(),
                "seed {seed}: {:?}",
                outcome.violations
            );
            assert!(
                outcome.committed > outcome.committed_after_heal,
                "seed {seed}: no progress after heal: {outcome:?}"
            );
        }
        let crashy = outcomes.iter().filter(|(_, o)| o.reads_served > 0).count();
        assert!(crashy > 180, "read-index must serve reads in most runs");
    }

    #[test]
    fn volatile_vote_lets_two_leaders_share_a_term() {
        let faults = |_| Faults {
            volatile_vote: true,
            crash: 0.02,
            down_ticks: (1, 6),
            ..Faults::default()
        };
        let two_leaders = |o: &Outcome| o.violations.iter().any(|v| v.starts_with("two leaders"));
        let caught = (0..300).find(|&seed| two_leaders(&Sim::new(seed, faults(seed)).run()));
        assert!(
            caught.is_some(),
            "no seed in 0..300 found two leaders in one term"
        );
        let honest = run_seeds(0..50, |seed| Faults {
            volatile_vote: false,
            ..faults(seed)
        });
        for (seed, outcome) in honest {
            assert!(
                outcome.violations.is_empty(),
                "seed {seed} without the bug: {:?}",
                outcome.violations
            );
        }
    }

    #[test]
    fn same_seed_same_run() {
        let a = Sim::new(7, Faults::default()).run();
        let b = Sim::new(7, Faults::default()).run();
        assert_eq!(a, b);
        let c = Sim::new(8, Faults::default()).run();
        assert_ne!(a.messages, c.messages);
    }
}
