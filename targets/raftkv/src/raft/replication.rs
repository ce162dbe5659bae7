//! Log replication: proposals, AppendEntries with the consistency check, the
//! conflict-term hint for fast backtracking (Raft paper end of section 5.3),
//! the commit rule that counts replicas only for entries of the current term
//! (section 5.4.2), and InstallSnapshot for followers behind the compacted
//! prefix (section 7). Replication is optimistic (etcd-raft's pipelining): the
//! leader advances `next` when it sends and backs off on rejection.

use super::{Body, Entry, NodeId, NotLeader, Raft, Role, Snapshot};

impl Raft {
    /// Append commands to the leader's log; returns the index of the first one
    /// and the term they were proposed in.
    pub fn propose(&mut self, data: Vec<String>) -> Result<(u64, u64), NotLeader> {
        if self.role != Role::Leader {
            return Err(NotLeader {
                leader: self.leader,
            });
        }
        let first = self.log.last_index() + 1;
        for d in data {
            self.log.append(self.term, d);
        }
        self.maybe_commit();
        self.broadcast_append();
        Ok((first, self.term))
    }

    pub(super) fn broadcast_append(&mut self) {
        for peer in self.peers() {
            self.send_append(peer);
        }
    }

    fn send_append(&mut self, to: NodeId) {
        let Some(&pr) = self.progress.get(&to) else {
            return;
        };
        let read_seq = self.reads.seq();
        let body = if pr.next <= self.log.snapshot().index {
            let snapshot = self.log.snapshot().clone();
            self.set_next(to, snapshot.index + 1);
            Body::Snapshot { snapshot, read_seq }
        } else {
            let prev_index = pr.next - 1;
            let prev_term = self.log.term(prev_index).unwrap_or(0);
            let entries = self
                .log
                .entries_from(pr.next, self.cfg.max_entries_per_message);
            self.set_next(to, pr.next + entries.len() as u64);
            Body::Append {
                prev_index,
                prev_term,
                entries,
                commit: self.log.commit,
                read_seq,
            }
        };
        self.send(to, body);
    }

    fn set_next(&mut self, to: NodeId, next: u64) {
        if let Some(pr) = self.progress.get_mut(&to) {
            pr.next = next;
        }
    }

    pub(super) fn reject_body(
        &self,
        rejected: u64,
        hint_index: u64,
        hint_term: Option<u64>,
        read_seq: u64,
    ) -> Body {
        Body::AppendReply {
            success: false,
            match_index: 0,
            rejected,
            hint_index,
            hint_term,
            read_seq,
        }
    }

    fn accept_body(match_index: u64, read_seq: u64) -> Body {
        Body::AppendReply {
            success: true,
            match_index,
            rejected: 0,
            hint_index: 0,
            hint_term: None,
            read_seq,
        }
    }

    pub(super) fn on_append(
        &mut self,
        from: NodeId,
        mut prev_index: u64,
        mut prev_term: u64,
        mut entries: Vec<Entry>,
        commit: u64,
        read_seq: u64,
    ) {
        self.become_follower(self.term, Some(from));
        let snap = self.log.snapshot();
        if prev_index < snap.index {
            // Our snapshot is committed, so the leader's log agrees with it.
            entries.retain(|e| e.index > snap.index);
            (prev_index, prev_term) = (snap.index, snap.term);
        }
        match self.log.term(prev_index) {
            Some(term) if term == prev_term => {
                let last_new = prev_index + entries.len() as u64;
                self.log.merge(entries);
                let commit = commit.min(last_new);
                if commit > self.log.commit {
                    self.log.commit = commit;
                }
                self.send(from, Self::accept_body(last_new, read_seq));
            }
            Some(term) => {
                let hint_index = self.log.first_index_of_term_at(prev_index);
                self.send(
                    from,
                    self.reject_body(prev_index, hint_index, Some(term), read_seq),
                );
            }
            None => {
                let hint_index = self.log.last_index() + 1;
                self.send(
                    from,
                    self.reject_body(prev_index, hint_index, None, read_seq),
                );
            }
        }
    }

    pub(super) fn on_snapshot(&mut self, from: NodeId, snapshot: Snapshot, read_seq: u64) {
        self.become_follower(self.term, Some(from));
        if snapshot.index > self.log.commit {
            self.log.install(snapshot.clone());
            self.out.snapshot = Some(snapshot);
            self.out.apply_snapshot = true;
        }
        // Whatever we hold up to our commit index is in the leader's log too.
        self.send(from, Self::accept_body(self.log.commit, read_seq));
    }

    pub(super) fn on_append_reply(&mut self, from: NodeId, body: Body) {
        let Body::AppendReply {
            success,
            match_index,
            rejected,
            hint_index,
            hint_term,
            read_seq,
        } = body
        else {
            return;
        };
        if self.role != Role::Leader {
            return;
        }
        let Some(&pr) = self.progress.get(&from) else {
            return;
        };
        let pr = if success {
            super::Progress {
                matched: pr.matched.max(match_index),
                next: pr.next.max(match_index + 1),
                active: true,
            }
        } else if rejected > pr.matched {
            let next = match hint_term.and_then(|t| self.log.last_index_of_term(t, rejected)) {
                Some(index) => index + 1,
                None => hint_index,
            };
            super::Progress {
                next: next.min(rejected).max(pr.matched + 1),
                active: true,
                ..pr
            }
        } else {
            super::Progress { active: true, ..pr }
        };
        self.progress.insert(from, pr);
        if success {
            self.maybe_commit();
        }
        self.ack_read(from, read_seq);
        let lagging = self
            .progress
            .get(&from)
            .is_some_and(|p| p.next <= self.log.last_index());
        if lagging || !success {
            self.send_append(from);
        }
    }

    /// Raft paper section 5.4.2: the highest index stored on a majority
    /// commits only if its entry is of the current term.
    pub(super) fn maybe_commit(&mut self) {
        let mut matched: Vec<u64> = self.progress.values().map(|p| p.matched).collect();
        matched.push(self.log.last_index());
        matched.sort_unstable_by(|a, b| b.cmp(a));
        let candidate = matched[self.quorum() - 1];
        if candidate > self.log.commit && self.log.term(candidate) == Some(self.term) {
            self.log.commit = candidate;
            self.on_commit_advanced();
        }
    }
}
