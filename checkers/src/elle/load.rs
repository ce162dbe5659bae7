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
use super::txn::{Arg, Txn, Txns, Val};
use super::Workload;
use crate::history::{History, HistoryError, HistoryErrorKind, Op, OpType};
use serde_json::Value;

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
    pub fn visit(&mut self, pos: usize, op: &mut Op, value: &TxnValue) {
        debug_assert_eq!(pos, self.parsed.len());
        if op.is_nemesis() {
            op.value = value.to_value();
            self.parsed.push(Ok((0, 0)));
            return;
        }
        let start = self.t.mops.len() as u32;
        let r = self
            .t
            .parse_read(value, self.workload, op.kind == OpType::Ok);
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
            let Some(mut txn) = Txn::of(history, &o) else {
                continue;
            };
            let pos = txn.value_pos();
            txn.mops = std::mem::replace(&mut self.parsed[pos], Ok((0, 0)))
                .map_err(|msg| history.error_at(pos, HistoryErrorKind::BadValue(msg)))?;
            self.t.txns.push(txn);
        }
        self.t.renumber();
        Ok(self.t)
    }
}

impl Txns {
    /// Renumbers keys and interned values in the order [`Txns::parse`]
    /// meets them (txns in invocation order, each one's micro-ops in
    /// order, a key before its argument), so that everything ordered by
    /// key or value (which anomalies are kept, in which order) comes out
    /// as when the history is read whole. The loader met them in file
    /// order, invocations included.
    fn renumber(&mut self) {
        let mut keys = Renumbering::new(self.keys.len());
        let mut syms = Renumbering::new(self.syms.len());
        let sym = |v: Val, syms: &mut Renumbering| {
            if let Err(s) = v.unpack() {
                syms.see(s);
            }
        };
        for i in 0..self.txns.len() {
            let (a, b) = self.txns[i].mops;
            for m in &self.mops[a as usize..b as usize] {
                sym(self.keys[m.key as usize], &mut syms);
                keys.see(m.key);
                match m.arg {
                    Arg::Val(v) => sym(v, &mut syms),
                    Arg::List { start, len } => {
                        for &v in &self.lists[start as usize..(start + len) as usize] {
                            sym(v, &mut syms);
                        }
                    }
                    Arg::Nil => {}
                }
            }
        }
        let (keys, syms) = (keys.finish(), syms.finish());
        let remap = |v: Val| match v.unpack() {
            Err(s) => Val::sym(syms[s as usize]),
            Ok(_) => v,
        };
        for m in &mut self.mops {
            m.key = keys[m.key as usize];
            if let Arg::Val(v) = m.arg {
                m.arg = Arg::Val(remap(v));
            }
        }
        for v in &mut self.lists {
            *v = remap(*v);
        }
        let mut new_keys = vec![Val::int(0).unwrap_or(Val::sym(0)); self.keys.len()];
        for (old, &k) in self.keys.iter().enumerate() {
            new_keys[keys[old] as usize] = remap(k);
        }
        self.keys = new_keys;
        let mut new_syms = vec![Value::Null; self.syms.len()];
        for (old, v) in self.syms.drain(..).enumerate() {
            new_syms[syms[old] as usize] = v;
        }
        self.syms = new_syms;
        self.forget_ids();
    }
}

/// A renumbering of ids `0..n`: ids in the order first seen, then the
/// rest in their old order.
struct Renumbering {
    new: Vec<u32>,
    next: u32,
}

impl Renumbering {
    fn new(n: usize) -> Renumbering {
        Renumbering {
            new: vec![u32::MAX; n],
            next: 0,
        }
    }

    fn see(&mut self, old: u32) {
        if self.new[old as usize] == u32::MAX {
            self.new[old as usize] = self.next;
            self.next += 1;
        }
    }

    /// Old id to new id.
    fn finish(mut self) -> Vec<u32> {
        for n in &mut self.new {
            if *n == u32::MAX {
                *n = self.next;
                self.next += 1;
            }
        }
        self.new
    }
}
