//! Reading a transactional history straight into [`Txns`]: every op's
//! value is parsed into compact micro-ops as the op is read (on the
//! caller's thread while a second one parses the file, see
//! [`crate::format::read_path_with`]) and taken out of the op, so the
//! history never holds its JSON values. A history of 100,000 txns with
//! reads of hundreds of elements then takes tens of MB instead of GB;
//! the values an explanation shows are rebuilt from the micro-ops
//! ([`Txns::txn_json`]).
//!
//! Pairing happens at the end, as in [`Txns::parse`], and only the op
//! that holds a txn's micro-ops (its `ok` completion, else its
//! invocation) must parse: a bad value anywhere else is ignored, as
//! there.

use super::mops::TxnValue;
use super::txn::{Txn, Txns};
use super::Workload;
use crate::history::{History, HistoryError, HistoryErrorKind, Op, OpType, Process};

/// Parses ops' values as they are read.
pub(crate) struct Loader {
    t: Txns,
    workload: Workload,
    /// Per history position: the range of micro-ops its value parsed
    /// into, or why it did not parse.
    parsed: Vec<Result<(u32, u32), String>>,
}

impl Loader {
    pub fn new(workload: Workload) -> Loader {
        Loader {
            t: Txns::default(),
            workload,
            parsed: Vec::new(),
        }
    }

    /// Parses `value`, the value of op `pos` (the next one, its own value
    /// already taken out); the nemesis's ops get theirs back.
    pub fn visit(&mut self, pos: usize, op: &mut Op, value: TxnValue) {
        debug_assert_eq!(pos, self.parsed.len());
        if op.is_nemesis() {
            op.value = value.to_value();
            self.parsed.push(Ok((0, 0)));
            return;
        }
        let start = self.t.mops.len() as u32;
        let r = self
            .t
            .parse_read(&value, self.workload, op.kind == OpType::Ok);
        if r.is_err() {
            self.t.truncate_mops(start);
        }
        self.parsed
            .push(r.map(|()| (start, self.t.mops.len() as u32)));
    }

    /// Pairs the ops of `history` (the one the visited ops went into) into
    /// transactions, as [`Txns::parse`] does.
    pub fn finish(mut self, history: &History) -> Result<Txns, HistoryError> {
        let ops = history.operations()?;
        self.t.txns.reserve(ops.len());
        for o in ops {
            let Process::Client(process) = history.ops[o.invoke].process else {
                continue;
            };
            let mut txn = Txn {
                invoke: o.invoke,
                complete: o.complete,
                outcome: o.outcome,
                process,
                mops: (0, 0),
            };
            let pos = txn.value_pos();
            txn.mops = std::mem::replace(&mut self.parsed[pos], Ok((0, 0)))
                .map_err(|msg| history.error_at(pos, HistoryErrorKind::BadValue(msg)))?;
            self.t.txns.push(txn);
        }
        Ok(self.t)
    }
}
