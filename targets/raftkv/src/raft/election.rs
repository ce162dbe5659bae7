//! Leader election: randomized timeouts, RequestVote with the election
//! restriction (Raft paper sections 5.2 and 5.4.1), the optional pre-vote
//! phase that keeps a rejoining node from disrupting a healthy leader
//! (thesis section 9.6), and check-quorum, by which a leader that cannot reach
//! a majority steps down (thesis section 6.2).

use super::{Body, NodeId, Progress, Raft, Role};

impl Raft {
    pub(super) fn become_follower(&mut self, term: u64, leader: Option<NodeId>) {
        if term > self.term {
            self.term = term;
            self.vote = None;
        }
        if self.role == Role::Leader {
            self.reads.fail_all(&mut self.out.failed_reads);
        }
        self.role = Role::Follower;
        self.leader = leader;
        self.reset_timeout();
    }

    /// Start an election, with a pre-vote round first when configured.
    pub(super) fn campaign(&mut self, pre: bool) {
        self.reset_timeout();
        self.leader = None;
        self.votes.clear();
        self.votes.insert(self.cfg.id, true);
        if pre {
            self.role = Role::PreCandidate;
        } else {
            self.term += 1;
            self.vote = Some(self.cfg.id);
            self.role = Role::Candidate;
        }
        if self.votes.len() >= self.quorum() {
            return self.won(pre);
        }
        let (last_index, last_term) = (self.log.last_index(), self.log.last_term());
        let term = if pre { self.term + 1 } else { self.term };
        for peer in self.peers() {
            let body = Body::Vote {
                pre,
                last_index,
                last_term,
            };
            self.out.messages.push(super::Message {
                from: self.cfg.id,
                to: peer,
                term,
                body,
            });
        }
    }

    fn won(&mut self, pre: bool) {
        if pre {
            self.campaign(false);
        } else {
            self.become_leader();
        }
    }

    pub(super) fn on_vote(
        &mut self,
        from: NodeId,
        term: u64,
        pre: bool,
        last_index: u64,
        last_term: u64,
    ) {
        let up_to_date = self.log.is_up_to_date(last_index, last_term);
        let granted = if pre {
            let leader_alive = self.role == Role::Leader
                || (self.leader.is_some() && self.elapsed < self.cfg.election_ticks);
            up_to_date && !leader_alive && (term > self.term || self.vote.is_none())
        } else {
            up_to_date && self.vote.is_none_or(|v| v == from)
        };
        if granted && !pre {
            self.vote = Some(from);
            self.reset_timeout();
        }
        let reply_term = if pre && granted { term } else { self.term };
        let body = Body::VoteReply { pre, granted };
        self.out.messages.push(super::Message {
            from: self.cfg.id,
            to: from,
            term: reply_term,
            body,
        });
    }

    pub(super) fn on_vote_reply(&mut self, from: NodeId, term: u64, pre: bool, granted: bool) {
        let expected = if pre {
            (Role::PreCandidate, self.term + 1)
        } else {
            (Role::Candidate, self.term)
        };
        if (self.role, term) != expected {
            return;
        }
        self.votes.insert(from, granted);
        let yes = self.votes.values().filter(|&&g| g).count();
        let no = self.votes.len() - yes;
        if yes >= self.quorum() {
            self.won(pre);
        } else if no >= self.quorum() {
            self.become_follower(self.term, None);
        }
    }

    fn become_leader(&mut self) {
        self.role = Role::Leader;
        self.leader = Some(self.cfg.id);
        self.heartbeat_elapsed = 0;
        self.elapsed = 0;
        let next = self.log.last_index() + 1;
        self.progress = self
            .peers()
            .into_iter()
            .map(|id| {
                (
                    id,
                    Progress {
                        next,
                        matched: 0,
                        active: true,
                    },
                )
            })
            .collect();
        self.reads.reset();
        // A no-op of the new term lets earlier entries commit (section 5.4.2)
        // and proves the commit index current for read-index (thesis 6.4).
        self.log.append(self.term, String::new());
        self.maybe_commit();
        self.broadcast_append();
    }

    pub(super) fn tick_leader(&mut self) {
        self.heartbeat_elapsed += 1;
        if self.heartbeat_elapsed >= self.cfg.heartbeat_ticks {
            self.heartbeat_elapsed = 0;
            self.broadcast_append();
        }
        if self.elapsed >= self.cfg.election_ticks {
            self.elapsed = 0;
            self.check_quorum();
        }
    }

    fn check_quorum(&mut self) {
        let active = 1 + self.progress.values().filter(|p| p.active).count();
        for p in self.progress.values_mut() {
            p.active = false;
        }
        if active < self.quorum() && !self.hold_leadership {
            self.become_follower(self.term, None);
        }
    }
}
