//! The replicated log of one node: a snapshot that replaces the compacted
//! prefix, the entries after it, and the indices that track what is committed,
//! handed out for applying, and already on stable storage (Raft paper sections
//! 5.3 and 7; the stable/unstable split follows etcd-raft's `raftLog`).

use super::message::{Entry, Snapshot};

#[derive(Debug, Clone)]
pub struct RaftLog {
    snapshot: Snapshot,
    entries: Vec<Entry>,
    pub commit: u64,
    pub applied: u64,
    /// Entries up to here are handed to storage already.
    pub stable: u64,
}

impl RaftLog {
    /// Rebuild from what storage holds. Nothing after the snapshot is known to
    /// be committed until a leader says so.
    pub fn restore(snapshot: Snapshot, entries: Vec<Entry>) -> RaftLog {
        let mut log = RaftLog {
            commit: snapshot.index,
            applied: snapshot.index,
            stable: snapshot.index,
            snapshot,
            entries: Vec::new(),
        };
        for entry in entries {
            if entry.index != log.last_index() + 1 {
                break;
            }
            log.entries.push(entry);
        }
        log.stable = log.last_index();
        log
    }

    pub fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }

    pub fn first_index(&self) -> u64 {
        self.snapshot.index + 1
    }

    pub fn last_index(&self) -> u64 {
        self.snapshot.index + self.entries.len() as u64
    }

    pub fn last_term(&self) -> u64 {
        self.entries.last().map_or(self.snapshot.term, |e| e.term)
    }

    /// The term of the entry at `index`, if the log still knows it.
    pub fn term(&self, index: u64) -> Option<u64> {
        if index == self.snapshot.index {
            return Some(self.snapshot.term);
        }
        self.entry(index).map(|e| e.term)
    }

    pub fn entry(&self, index: u64) -> Option<&Entry> {
        if index < self.first_index() {
            return None;
        }
        self.entries.get((index - self.first_index()) as usize)
    }

    /// Raft paper section 5.4.1: a candidate's log is at least as up to date
    /// as ours if its last term is higher, or equal with an index as high.
    pub fn is_up_to_date(&self, last_index: u64, last_term: u64) -> bool {
        last_term > self.last_term()
            || (last_term == self.last_term() && last_index >= self.last_index())
    }

    /// Entries from `from` on, at most `max` of them.
    pub fn entries_from(&self, from: u64, max: usize) -> Vec<Entry> {
        if from < self.first_index() {
            return Vec::new();
        }
        let start = ((from - self.first_index()) as usize).min(self.entries.len());
        let end = start.saturating_add(max).min(self.entries.len());
        self.entries[start..end].to_vec()
    }

    /// All entries after the snapshot (storage rewrites its log with them
    /// after a snapshot).
    pub fn all_entries(&self) -> Vec<Entry> {
        self.entries.clone()
    }

    pub fn append(&mut self, term: u64, data: String) -> u64 {
        let index = self.last_index() + 1;
        self.entries.push(Entry { index, term, data });
        index
    }

    /// Append a leader's entries that follow a matching `prev` entry: skip the
    /// ones we have, cut our log at the first conflict (never below the commit
    /// index, which would break state machine safety).
    pub fn merge(&mut self, entries: Vec<Entry>) {
        for entry in entries {
            if entry.index < self.first_index() {
                continue;
            }
            match self.term(entry.index) {
                Some(term) if term == entry.term => continue,
                Some(_) => {
                    debug_assert!(entry.index > self.commit, "conflict below commit");
                    self.truncate_from(entry.index);
                    self.entries.push(entry);
                }
                None => self.entries.push(entry),
            }
        }
    }

    fn truncate_from(&mut self, index: u64) {
        let keep = (index - self.first_index()) as usize;
        self.entries.truncate(keep);
        self.stable = self.stable.min(index - 1);
    }

    /// The first index of the run of entries with the same term as `index`,
    /// for the conflict hint of a rejection.
    pub fn first_index_of_term_at(&self, index: u64) -> u64 {
        let Some(term) = self.term(index) else {
            return index;
        };
        let mut first = index;
        while first > self.first_index() && self.term(first - 1) == Some(term) {
            first -= 1;
        }
        first
    }

    /// The last index at or below `at_most` whose entry has `term`.
    pub fn last_index_of_term(&self, term: u64, at_most: u64) -> Option<u64> {
        let mut index = at_most.min(self.last_index());
        while index >= self.snapshot.index {
            match self.term(index) {
                Some(t) if t == term => return Some(index),
                Some(t) if t < term => return None,
                _ => {}
            }
            if index == 0 {
                break;
            }
            index -= 1;
        }
        None
    }

    /// Entries not yet handed to storage; they count as stable from now on.
    pub fn take_unstable(&mut self) -> Vec<Entry> {
        let unstable = self.entries_from(self.stable + 1, usize::MAX);
        self.stable = self.last_index();
        unstable
    }

    /// Committed entries not yet handed out for applying.
    pub fn take_committed(&mut self) -> Vec<Entry> {
        let committed = self.entries_from(self.applied + 1, (self.commit - self.applied) as usize);
        self.applied += committed.len() as u64;
        committed
    }

    /// Replace the prefix up to `index` (applied already) with a snapshot.
    pub fn compact(&mut self, index: u64, data: String) -> Option<Snapshot> {
        if index <= self.snapshot.index || index > self.applied {
            return None;
        }
        let term = self.term(index)?;
        let drop = (index - self.snapshot.index) as usize;
        self.entries.drain(..drop);
        self.snapshot = Snapshot { index, term, data };
        Some(self.snapshot.clone())
    }

    /// Install a leader's snapshot: keep our entries after it only if our log
    /// agrees at the snapshot's index (Raft paper Figure 13, steps 6 and 7).
    pub fn install(&mut self, snapshot: Snapshot) {
        if self.term(snapshot.index) == Some(snapshot.term) && snapshot.index <= self.last_index() {
            let drop = (snapshot.index - self.snapshot.index) as usize;
            self.entries.drain(..drop);
        } else {
            self.entries.clear();
        }
        self.commit = self.commit.max(snapshot.index);
        self.applied = snapshot.index;
        self.stable = self.last_index().max(snapshot.index);
        self.snapshot = snapshot;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(index: u64, term: u64) -> Entry {
        Entry {
            index,
            term,
            data: format!("{index}/{term}"),
        }
    }

    fn log_with(terms: &[u64]) -> RaftLog {
        let entries = terms
            .iter()
            .enumerate()
            .map(|(i, t)| entry(i as u64 + 1, *t))
            .collect();
        RaftLog::restore(Snapshot::default(), entries)
    }

    #[test]
    fn merge_cuts_at_first_conflict_and_keeps_matching_prefix() {
        let mut log = log_with(&[1, 1, 2, 2]);
        log.merge(vec![entry(2, 1), entry(3, 3)]);
        assert_eq!(log.last_index(), 3);
        assert_eq!(log.term(3), Some(3));
        assert_eq!(log.stable, 2, "the cut entries must be written again");
        assert_eq!(log.take_unstable(), vec![entry(3, 3)]);
    }

    #[test]
    fn conflict_hints_find_term_boundaries() {
        let log = log_with(&[1, 1, 4, 4, 4, 5]);
        assert_eq!(log.first_index_of_term_at(5), 3);
        assert_eq!(log.last_index_of_term(4, 6), Some(5));
        assert_eq!(log.last_index_of_term(3, 6), None);
    }

    #[test]
    fn compact_then_install_keeps_only_agreeing_suffix() {
        let mut log = log_with(&[1, 1, 2, 2, 2]);
        log.commit = 3;
        log.take_committed();
        let snap = log.compact(3, "s".into()).unwrap();
        assert_eq!((snap.index, snap.term, log.first_index()), (3, 2, 4));
        assert_eq!(log.term(3), Some(2));
        assert_eq!(log.term(2), None);
        log.install(Snapshot {
            index: 4,
            term: 2,
            data: "t".into(),
        });
        assert_eq!(log.last_index(), 5, "agreeing suffix kept");
        log.install(Snapshot {
            index: 9,
            term: 7,
            data: "u".into(),
        });
        assert_eq!((log.last_index(), log.commit, log.applied), (9, 9, 9));
    }

    #[test]
    fn take_committed_hands_out_each_entry_once() {
        let mut log = log_with(&[1, 1, 1]);
        log.commit = 2;
        assert_eq!(log.take_committed().len(), 2);
        assert!(log.take_committed().is_empty());
        log.commit = 3;
        assert_eq!(log.take_committed(), vec![entry(3, 1)]);
    }
}
