//! Read-index reads (Ongaro's thesis section 6.4): the leader records its
//! commit index, confirms it still leads by hearing from a majority in a round
//! that started after the read arrived, and then the read may be served once
//! the state machine has applied up to that index. Reads wait for the leader's
//! first commit of its term, so the commit index is known to be current.
//! Rounds are numbered (`read_seq`) and ride on ordinary AppendEntries traffic,
//! so one heartbeat round confirms a whole batch of reads.

use std::collections::{BTreeMap, VecDeque};

use super::{NodeId, NotLeader, Raft, Role};

/// A read that may be served once the state machine has applied `index`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadState {
    pub ctx: u64,
    pub index: u64,
}

#[derive(Debug, Default)]
pub(super) struct ReadIndex {
    seq: u64,
    acked: BTreeMap<NodeId, u64>,
    /// (round, commit index when the reads arrived, their contexts)
    pending: VecDeque<(u64, u64, Vec<u64>)>,
    /// Reads that arrived before this term's first commit.
    waiting: Vec<u64>,
}

impl ReadIndex {
    pub(super) fn seq(&self) -> u64 {
        self.seq
    }

    pub(super) fn reset(&mut self) {
        self.acked.clear();
    }

    pub(super) fn fail_all(&mut self, failed: &mut Vec<u64>) {
        failed.append(&mut self.waiting);
        for (_, _, ctxs) in self.pending.drain(..) {
            failed.extend(ctxs);
        }
        self.acked.clear();
    }
}

impl Raft {
    /// Ask to serve reads `ctxs` linearizably; they come back in
    /// [`super::Ready::reads`] or, if leadership is lost, `failed_reads`.
    pub fn read_index(&mut self, ctxs: Vec<u64>) -> Result<(), NotLeader> {
        if self.role != Role::Leader {
            return Err(NotLeader {
                leader: self.leader,
            });
        }
        if self.log.term(self.log.commit) != Some(self.term) {
            self.reads.waiting.extend(ctxs);
            return Ok(());
        }
        self.start_read_round(ctxs);
        Ok(())
    }

    fn start_read_round(&mut self, ctxs: Vec<u64>) {
        if ctxs.is_empty() {
            return;
        }
        self.reads.seq += 1;
        let round = (self.reads.seq, self.log.commit, ctxs);
        self.reads.pending.push_back(round);
        self.release_confirmed_reads();
        self.broadcast_append();
    }

    pub(super) fn ack_read(&mut self, from: NodeId, seq: u64) {
        let acked = self.reads.acked.entry(from).or_default();
        *acked = (*acked).max(seq);
        self.release_confirmed_reads();
    }

    fn release_confirmed_reads(&mut self) {
        while let Some((seq, index, _)) = self.reads.pending.front() {
            let (seq, index) = (*seq, *index);
            let confirmed = 1 + self.reads.acked.values().filter(|&&a| a >= seq).count();
            if confirmed < self.quorum() {
                return;
            }
            let Some((_, _, ctxs)) = self.reads.pending.pop_front() else {
                return;
            };
            self.out
                .reads
                .extend(ctxs.into_iter().map(|ctx| ReadState { ctx, index }));
        }
    }

    pub(super) fn on_commit_advanced(&mut self) {
        if !self.reads.waiting.is_empty() && self.log.term(self.log.commit) == Some(self.term) {
            let waiting = std::mem::take(&mut self.reads.waiting);
            self.start_read_round(waiting);
        }
    }
}
