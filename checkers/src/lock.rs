//! The lock checker: mutual exclusion as linearizability against the mutex
//! model (`acquire` needs the lock free, `release` needs it held: Jepsen's
//! etcd and Consul lock tests use Knossos's mutex the same way), plus who
//! held the lock when, for the report.
//!
//! The mutex model does not know owners: an `acquire` by anyone while the
//! lock is held is impossible, whoever holds it. Owners matter only for
//! the timeline of holds: an op's value names its owner (the lock
//! workload's worker thread, which stays the same when a crash moves the
//! thread to a new process), or, when null as in Jepsen's histories, its
//! process does.

use crate::history::{History, HistoryError, Outcome};
use crate::linear::{self, CheckOptions, LinearResult, ModelKind, ModelSpec};
use crate::Verdict;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashMap;

/// At most this many holds are kept for the timeline.
pub const HOLDS: usize = 5000;

/// One time the lock was (or may have been) held.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Hold {
    /// Who held it: the ops' value, or their process.
    pub owner: String,
    /// The acquire: history index of its invocation, its outcome, and its
    /// invocation and completion times (ns).
    pub acquire_index: u64,
    pub acquired: Outcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acquired_at: Option<u64>,
    /// The release that ended it (the owner's next release that did not
    /// fail): its invocation's index and time, and its completion time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_index: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub released_from: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<u64>,
}

/// The lock checker's answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LockResult {
    /// The mutex check's verdict.
    pub verdict: Verdict,
    /// Mutual exclusion, as linearizability against the mutex model.
    pub linear: LinearResult,
    /// Acquires that succeeded or may have.
    pub hold_count: usize,
    /// The first [`HOLDS`] of them.
    pub holds: Vec<Hold>,
}

/// Checks `history`'s `acquire` and `release` ops.
pub fn check(history: &History, opts: &CheckOptions) -> Result<LockResult, HistoryError> {
    let linear = linear::check_spec(history, &ModelSpec::new(ModelKind::Mutex), opts)?;
    let (hold_count, holds) = holds(history)?;
    Ok(LockResult {
        verdict: linear.verdict,
        linear,
        hold_count,
        holds,
    })
}

fn owner(history: &History, pos: usize) -> String {
    let op = &history.ops[pos];
    match &op.value {
        Value::Null => format!("process {}", op.process),
        Value::String(s) => s.clone(),
        v => v.to_string(),
    }
}

/// Each acquire that did not fail, ended by its owner's next release that
/// did not fail.
fn holds(history: &History) -> Result<(usize, Vec<Hold>), HistoryError> {
    let mut open: HashMap<String, usize> = HashMap::new();
    let mut holds: Vec<Hold> = Vec::new();
    for o in history.operations()? {
        let inv = &history.ops[o.invoke];
        let done = o.complete.map(|c| &history.ops[c]);
        let who = owner(history, o.invoke);
        match (inv.f.as_str(), o.outcome) {
            (_, Outcome::Fail) => {}
            ("acquire", outcome) => {
                open.insert(who.clone(), holds.len());
                holds.push(Hold {
                    owner: who,
                    acquire_index: inv.index,
                    acquired: outcome,
                    from: inv.time,
                    acquired_at: done.and_then(|d| d.time),
                    release_index: None,
                    released_from: None,
                    to: None,
                });
            }
            ("release", _) => {
                if let Some(h) = open.remove(&who).and_then(|i| holds.get_mut(i)) {
                    h.release_index = Some(inv.index);
                    h.released_from = inv.time;
                    h.to = done.and_then(|d| d.time);
                }
            }
            _ => {}
        }
    }
    let count = holds.len();
    holds.truncate(HOLDS);
    Ok((count, holds))
}

impl std::fmt::Display for LockResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let owners: std::collections::BTreeSet<&str> =
            self.holds.iter().map(|h| h.owner.as_str()).collect();
        writeln!(
            f,
            "{}: the lock was held {} times by {} owners",
            self.verdict,
            self.hold_count,
            owners.len()
        )?;
        write!(f, "{}", self.linear)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::history;
    use serde_json::json;

    #[test]
    fn alternating_owners_are_valid_and_their_holds_drawn() {
        let h = history(&[
            (0, "invoke", "acquire", json!(0)),
            (0, "ok", "acquire", json!(0)),
            (1, "invoke", "acquire", json!(1)),
            (1, "fail", "acquire", json!(1)),
            (0, "invoke", "release", json!(0)),
            (0, "ok", "release", json!(0)),
            (1, "invoke", "acquire", json!(1)),
            (1, "ok", "acquire", json!(1)),
        ]);
        let r = check(&h, &CheckOptions::default()).unwrap();
        assert_eq!(r.verdict, Verdict::Valid, "{r}");
        assert_eq!(r.hold_count, 2);
        assert_eq!(
            (r.holds[0].owner.as_str(), r.holds[0].release_index),
            ("0", Some(4))
        );
        assert_eq!((r.holds[1].owner.as_str(), r.holds[1].to), ("1", None));
    }

    #[test]
    fn two_holders_at_once_are_invalid() {
        let h = history(&[
            (0, "invoke", "acquire", json!(null)),
            (0, "ok", "acquire", json!(null)),
            (1, "invoke", "acquire", json!(null)),
            (1, "ok", "acquire", json!(null)),
        ]);
        let r = check(&h, &CheckOptions::default()).unwrap();
        assert_eq!(r.verdict, Verdict::Invalid);
        assert_eq!(r.holds[1].owner, "process 1");
        assert!(r.to_string().contains("held 2 times by 2 owners"), "{r}");
    }

    #[test]
    fn a_crashed_release_may_have_freed_the_lock() {
        let h = history(&[
            (0, "invoke", "acquire", json!(0)),
            (0, "ok", "acquire", json!(0)),
            (0, "invoke", "release", json!(0)),
            (0, "info", "release", json!(0)),
            (1, "invoke", "acquire", json!(1)),
            (1, "ok", "acquire", json!(1)),
        ]);
        assert_eq!(
            check(&h, &CheckOptions::default()).unwrap().verdict,
            Verdict::Valid
        );
    }
}
