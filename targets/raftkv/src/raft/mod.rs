//! The Raft consensus core as a deterministic state machine, in the style of
//! etcd-raft and raft-rs: it is fed messages ([`Raft::step`]), clock ticks
//! ([`Raft::tick`]) and proposals, and hands back a [`Ready`] with what to
//! persist, send and apply. It does no I/O and draws randomness only from a
//! seeded ChaCha generator, so a simulated network can replay it exactly.
//!
//! Follows Ongaro and Ousterhout, "In Search of an Understandable Consensus
//! Algorithm" (extended version): election (section 5.2), replication with
//! the consistency check and the conflict-term hint (5.3), the election
//! restriction and commit rule (5.4), snapshots (7); and Ongaro's thesis:
//! pre-vote (9.6), check-quorum (6.2), read-index reads (6.4), parallel leader
//! disk writes (10.2.1). Membership is fixed.

mod election;
pub mod log;
pub mod message;
mod read;
mod replication;
#[cfg(test)]
mod sim;

use std::collections::BTreeMap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub use message::{Body, Entry, HardState, Message, NodeId, Snapshot};
pub use read::ReadState;

use log::RaftLog;
use read::ReadIndex;

/// How one node runs Raft. Times are in ticks of the caller's clock.
#[derive(Debug, Clone)]
pub struct Config {
    pub id: NodeId,
    /// Every member, this node included.
    pub members: Vec<NodeId>,
    /// A follower campaigns after a random timeout in
    /// `[election_ticks, 2 * election_ticks)` without hearing from a leader.
    pub election_ticks: u32,
    pub heartbeat_ticks: u32,
    pub pre_vote: bool,
    /// Bug switch: the vote is left out of the hard state handed to storage,
    /// so a node that crashes after voting can vote again in the same term.
    pub volatile_vote: bool,
    pub max_entries_per_message: usize,
    pub seed: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    Follower,
    PreCandidate,
    Candidate,
    Leader,
}

/// What the caller must do after feeding the core, in this order: persist
/// `hard_state`, then `snapshot` (and, when it is set, replace the stored log
/// with `entries`; otherwise append `entries`, overwriting from the first
/// one's index), sync, then send `messages`, then apply `snapshot` (when
/// `apply_snapshot`) and `committed`, then serve `reads`. A leader may send
/// replication messages before its own write is synced when `hard_state` is
/// `None` (thesis section 10.2.1).
#[derive(Debug, Default)]
pub struct Ready {
    pub hard_state: Option<HardState>,
    pub snapshot: Option<Snapshot>,
    pub apply_snapshot: bool,
    pub entries: Vec<Entry>,
    pub messages: Vec<Message>,
    pub committed: Vec<Entry>,
    pub reads: Vec<ReadState>,
    /// Read contexts that can no longer be served here (leadership lost).
    pub failed_reads: Vec<u64>,
}

/// A proposal or read reached a node that does not lead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not leader (leader hint: {leader:?})")]
pub struct NotLeader {
    pub leader: Option<NodeId>,
}

/// A replica's replication state, kept by the leader (Raft paper Figure 2).
#[derive(Debug, Clone, Copy)]
struct Progress {
    next: u64,
    matched: u64,
    active: bool,
}

/// A node's view, for status endpoints and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Status {
    pub id: NodeId,
    pub role: Role,
    pub term: u64,
    pub leader: Option<NodeId>,
    pub commit: u64,
    pub applied: u64,
    pub last_index: u64,
    pub snapshot_index: u64,
}

pub struct Raft {
    cfg: Config,
    term: u64,
    vote: Option<NodeId>,
    role: Role,
    leader: Option<NodeId>,
    log: RaftLog,
    elapsed: u32,
    timeout: u32,
    heartbeat_elapsed: u32,
    votes: BTreeMap<NodeId, bool>,
    progress: BTreeMap<NodeId, Progress>,
    reads: ReadIndex,
    rng: ChaCha8Rng,
    persisted: HardState,
    out: Ready,
    /// Skip the check-quorum step-down (the `lease-reads` bug: a leader
    /// that trusts its wall-clock lease over hearing from a majority).
    hold_leadership: bool,
}

impl Raft {
    /// While `hold` is set, a leader does not step down for want of a
    /// quorum (thesis section 6.2's check). Only the `lease-reads` bug sets
    /// it, while the node's wall-clock lease looks valid: a correct Raft
    /// never does.
    pub fn set_hold_leadership(&mut self, hold: bool) {
        self.hold_leadership = hold;
    }

    /// Start from what storage recovered (all defaults for a fresh node).
    pub fn new(
        cfg: Config,
        hard_state: HardState,
        snapshot: Snapshot,
        entries: Vec<Entry>,
    ) -> Raft {
        let mut raft = Raft {
            rng: ChaCha8Rng::seed_from_u64(cfg.seed),
            cfg,
            term: hard_state.term,
            vote: hard_state.vote,
            role: Role::Follower,
            leader: None,
            log: RaftLog::restore(snapshot, entries),
            elapsed: 0,
            timeout: 0,
            heartbeat_elapsed: 0,
            votes: BTreeMap::new(),
            progress: BTreeMap::new(),
            reads: ReadIndex::default(),
            persisted: hard_state,
            out: Ready::default(),
            hold_leadership: false,
        };
        raft.term = raft.term.max(raft.log.last_term());
        raft.reset_timeout();
        raft
    }

    pub fn status(&self) -> Status {
        Status {
            id: self.cfg.id,
            role: self.role,
            term: self.term,
            leader: self.leader,
            commit: self.log.commit,
            applied: self.log.applied,
            last_index: self.log.last_index(),
            snapshot_index: self.log.snapshot().index,
        }
    }

    pub fn log(&self) -> &RaftLog {
        &self.log
    }

    /// Advance the logical clock by one tick.
    pub fn tick(&mut self) {
        self.elapsed += 1;
        if self.role == Role::Leader {
            self.tick_leader();
        } else if self.elapsed >= self.timeout {
            self.campaign(self.cfg.pre_vote);
        }
    }

    /// Feed one message from a peer.
    pub fn step(&mut self, m: Message) {
        if m.to != self.cfg.id || !self.cfg.members.contains(&m.from) {
            return;
        }
        if m.term > self.term && !Self::keeps_term(&m.body) {
            let leader = m.body.is_replication().then_some(m.from);
            self.become_follower(m.term, leader);
        } else if m.term < self.term {
            self.reject_stale(&m);
            return;
        }
        match m.body {
            Body::Vote {
                pre,
                last_index,
                last_term,
            } => self.on_vote(m.from, m.term, pre, last_index, last_term),
            Body::VoteReply { pre, granted } => self.on_vote_reply(m.from, m.term, pre, granted),
            Body::Append {
                prev_index,
                prev_term,
                entries,
                commit,
                read_seq,
            } => self.on_append(m.from, prev_index, prev_term, entries, commit, read_seq),
            Body::AppendReply { .. } => self.on_append_reply(m.from, m.body),
            Body::Snapshot { snapshot, read_seq } => self.on_snapshot(m.from, snapshot, read_seq),
        }
    }

    /// Pre-vote traffic carries a future term that must not move ours.
    fn keeps_term(body: &Body) -> bool {
        matches!(
            body,
            Body::Vote { pre: true, .. }
                | Body::VoteReply {
                    pre: true,
                    granted: true
                }
        )
    }

    /// Tell a node from an older term about ours so it steps down.
    fn reject_stale(&mut self, m: &Message) {
        match m.body {
            Body::Append { .. } | Body::Snapshot { .. } => self.send(
                m.from,
                self.reject_body(0, self.log.last_index() + 1, None, 0),
            ),
            Body::Vote { pre, .. } => self.send(
                m.from,
                Body::VoteReply {
                    pre,
                    granted: false,
                },
            ),
            _ => {}
        }
    }

    /// Collect everything the caller must now persist, send and apply.
    pub fn ready(&mut self) -> Ready {
        let mut ready = std::mem::take(&mut self.out);
        let hard_state = HardState {
            term: self.term,
            vote: self.vote,
        };
        if hard_state != self.persisted {
            self.persisted = hard_state;
            let vote = if self.cfg.volatile_vote {
                None
            } else {
                hard_state.vote
            };
            ready.hard_state = Some(HardState { vote, ..hard_state });
        }
        ready.entries = if ready.snapshot.is_some() {
            self.log.stable = self.log.last_index();
            self.log.all_entries()
        } else {
            self.log.take_unstable()
        };
        ready.committed = self.log.take_committed();
        ready
    }

    /// Replace the applied prefix up to `index` with the state machine's
    /// snapshot `data` (Raft paper section 7).
    pub fn compact(&mut self, index: u64, data: String) {
        if let Some(snapshot) = self.log.compact(index, data) {
            self.out.snapshot = Some(snapshot);
        }
    }

    fn send(&mut self, to: NodeId, body: Body) {
        let m = Message {
            from: self.cfg.id,
            to,
            term: self.term,
            body,
        };
        self.out.messages.push(m);
    }

    fn peers(&self) -> Vec<NodeId> {
        self.cfg
            .members
            .iter()
            .copied()
            .filter(|&id| id != self.cfg.id)
            .collect()
    }

    fn quorum(&self) -> usize {
        self.cfg.members.len() / 2 + 1
    }

    fn reset_timeout(&mut self) {
        self.elapsed = 0;
        let base = self.cfg.election_ticks.max(1);
        self.timeout = self.rng.gen_range(base..2 * base);
    }
}
