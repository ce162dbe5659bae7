//! The data Raft exchanges and persists: log entries, the hard state (term and
//! vote), snapshots and the RPC messages of the Raft paper (Ongaro and
//! Ousterhout, "In Search of an Understandable Consensus Algorithm", Figure 2),
//! plus the pre-vote request of Ongaro's thesis section 9.6.

use serde::{Deserialize, Serialize};

/// A member of the cluster. Membership is fixed at start.
pub type NodeId = u64;

/// One log entry. An empty `data` is a no-op (a new leader's first entry, Raft
/// paper section 8).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub index: u64,
    pub term: u64,
    pub data: String,
}

/// What must be on stable storage before the node answers anything that
/// depends on it (Raft paper Figure 2, "Persistent state on all servers").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HardState {
    pub term: u64,
    pub vote: Option<NodeId>,
}

/// The state machine as of `index` (Raft paper section 7). `data` is opaque to
/// Raft; the key-value layer encodes its state there.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    pub index: u64,
    pub term: u64,
    pub data: String,
}

/// An RPC between two members, stamped with the sender's term.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub from: NodeId,
    pub to: NodeId,
    pub term: u64,
    pub body: Body,
}

/// The RPCs. `read_seq` rides on replication traffic so that a leader can
/// confirm it still leads before serving a read (thesis section 6.4).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Body {
    /// RequestVote; `pre` marks a pre-vote, which changes no one's term.
    Vote {
        pre: bool,
        last_index: u64,
        last_term: u64,
    },
    VoteReply {
        pre: bool,
        granted: bool,
    },
    /// AppendEntries; an empty `entries` is a heartbeat.
    Append {
        prev_index: u64,
        prev_term: u64,
        entries: Vec<Entry>,
        commit: u64,
        read_seq: u64,
    },
    /// The answer to `Append` and `Snapshot`. On rejection, `rejected` is the
    /// `prev_index` that did not match and the hints let the leader skip a
    /// whole conflicting term at once (Raft paper end of section 5.3).
    AppendReply {
        success: bool,
        match_index: u64,
        rejected: u64,
        hint_index: u64,
        hint_term: Option<u64>,
        read_seq: u64,
    },
    /// InstallSnapshot, sent whole (Raft paper section 7).
    Snapshot {
        snapshot: Snapshot,
        read_seq: u64,
    },
}

impl Body {
    /// Whether a leader may send this before its own log write is durable
    /// (thesis section 10.2.1: the leader writes its log in parallel).
    pub fn is_replication(&self) -> bool {
        matches!(self, Body::Append { .. } | Body::Snapshot { .. })
    }
}
