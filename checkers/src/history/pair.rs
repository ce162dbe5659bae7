//! Pairing invocations with completions, and the validation that comes with
//! it: a process may have one open invocation; every completion needs one.

use super::{History, HistoryError, HistoryErrorKind, OpType, Process};
use crate::linear::FxMap;

/// How a client operation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Took effect.
    Ok,
    /// Certainly did not take effect.
    Fail,
    /// Crashed: an `info` completion, or never completed. It may take effect
    /// at any point after its invocation, or never; it stays open until the
    /// end of the history.
    Info,
}

/// One client operation: an invocation and its completion, by position in
/// [`History::ops`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Operation {
    /// Position of the invocation.
    pub invoke: usize,
    /// Position of the completion; `None` when it never completed.
    pub complete: Option<usize>,
    /// How it ended.
    pub outcome: Outcome,
}

impl History {
    /// The client operations, in invocation order, each paired with its
    /// completion. Nemesis records are skipped.
    ///
    /// Errors (with file and line): an invocation by a process that still
    /// has one open, a completion with no open invocation, a completion whose
    /// `f` differs from its invocation's.
    pub fn operations(&self) -> Result<Vec<Operation>, HistoryError> {
        // Keyed by process ids and positions, not by text from outside:
        // the Fx hash is enough, and much quicker than SipHash here.
        let mut open: FxMap<u64, usize> = FxMap::default();
        let mut out: Vec<Operation> = Vec::with_capacity(self.ops.len() / 2);
        // Where each open invocation sits in `out`.
        let mut slot: FxMap<usize, usize> = FxMap::default();
        for (i, op) in self.ops.iter().enumerate() {
            let Process::Client(p) = op.process else {
                continue;
            };
            if op.kind == OpType::Invoke {
                if let Some(&j) = open.get(&p) {
                    return Err(self.error_at(
                        i,
                        HistoryErrorKind::BusyProcess {
                            process: p.to_string(),
                            f: op.f.clone(),
                            open_f: self.ops[j].f.clone(),
                            open_line: self.line_of(j).unwrap_or(0),
                        },
                    ));
                }
                open.insert(p, i);
                slot.insert(i, out.len());
                out.push(Operation {
                    invoke: i,
                    complete: None,
                    outcome: Outcome::Info,
                });
                continue;
            }
            let Some(j) = open.remove(&p) else {
                return Err(self.error_at(
                    i,
                    HistoryErrorKind::Unpaired {
                        process: p.to_string(),
                        kind: op.kind.to_string(),
                        f: op.f.clone(),
                    },
                ));
            };
            if self.ops[j].f != op.f {
                return Err(self.error_at(
                    i,
                    HistoryErrorKind::MismatchedF {
                        process: p.to_string(),
                        f: op.f.clone(),
                        invoked_f: self.ops[j].f.clone(),
                        invoke_line: self.line_of(j).unwrap_or(0),
                    },
                ));
            }
            let o = &mut out[slot[&j]];
            o.complete = Some(i);
            o.outcome = match op.kind {
                OpType::Ok => Outcome::Ok,
                OpType::Fail => Outcome::Fail,
                OpType::Info | OpType::Invoke => Outcome::Info,
            };
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Op;
    use serde_json::json;

    fn h(ops: Vec<Op>) -> History {
        let mut h = History::new("test.jsonl");
        for (i, op) in ops.into_iter().enumerate() {
            h.push(op, i as u32 + 1);
        }
        h
    }

    #[test]
    fn pairs_by_process_and_leaves_crashed_ops_open() {
        let hist = h(vec![
            Op::new(0, OpType::Invoke, "write", json!(1)),
            Op::new(1, OpType::Invoke, "read", json!(null)),
            Op::new(0, OpType::Info, "write", json!(1)),
            Op::new(0, OpType::Invoke, "read", json!(null)),
            Op::new(0, OpType::Ok, "read", json!(1)),
        ]);
        let ops = hist.operations().unwrap();
        assert_eq!(ops.len(), 3);
        assert_eq!((ops[0].complete, ops[0].outcome), (Some(2), Outcome::Info));
        assert_eq!((ops[1].complete, ops[1].outcome), (None, Outcome::Info));
        assert_eq!((ops[2].complete, ops[2].outcome), (Some(4), Outcome::Ok));
    }

    #[test]
    fn a_busy_process_is_an_error_with_its_line() {
        let hist = h(vec![
            Op::new(0, OpType::Invoke, "write", json!(1)),
            Op::new(0, OpType::Invoke, "read", json!(null)),
        ]);
        let e = hist.operations().unwrap_err();
        assert_eq!(e.line, Some(2));
        assert_eq!(
            e.to_string(),
            "test.jsonl:2: process 0 invoked read while its invocation of write (line 1) is still open"
        );
    }

    #[test]
    fn a_completion_without_invocation_is_an_error() {
        let hist = h(vec![Op::new(4, OpType::Ok, "read", json!(1))]);
        let e = hist.operations().unwrap_err();
        assert_eq!(
            e.to_string(),
            "test.jsonl:1: ok completion of read by process 4 has no open invocation"
        );
    }

    #[test]
    fn nemesis_records_are_not_client_ops() {
        let mut nem = Op::new(0, OpType::Info, "start", json!(null));
        nem.process = Process::Nemesis;
        let hist = h(vec![nem.clone(), nem]);
        assert!(hist.operations().unwrap().is_empty());
    }
}
