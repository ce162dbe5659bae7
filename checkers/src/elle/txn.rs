//! Transactions as Elle sees them: a history's client operations parsed
//! once into compact micro-ops (`[append k v]`, `[w k v]`, `[r k v]`) with
//! keys and values interned, so that inference works on integers and never
//! clones JSON in its hot loops (Elle's `elle.txn` op model).

use super::Workload;
use crate::history::{History, HistoryError, HistoryErrorKind, Operation, Outcome, Process};
use serde_json::Value;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A key or value in 8 bytes: an integer that fits in 63 bits is kept
/// as itself (shifted left, low bit 0); anything else is interned in
/// [`Txns::syms`] (index shifted left, low bit 1). Equal JSON values get
/// equal `Val`s either way, so inference compares plain integers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Val(u64);

impl Val {
    /// The integer `i`, if it fits in 63 bits.
    pub fn int(i: i64) -> Option<Val> {
        let packed = i.wrapping_shl(1);
        (packed >> 1 == i).then_some(Val(packed as u64))
    }

    /// The interned value number `id`.
    pub fn sym(id: u32) -> Val {
        Val(((id as u64) << 1) | 1)
    }

    /// The integer, or `Err` with the interned value number.
    pub fn unpack(self) -> Result<i64, u32> {
        if self.0 & 1 == 0 {
            Ok((self.0 as i64) >> 1)
        } else {
            Err((self.0 >> 1) as u32)
        }
    }
}

/// What a micro-op does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MopF {
    /// `[append k v]` (list-append).
    Append,
    /// `[w k v]` (rw-register).
    Write,
    /// `[r k v]`: a list (list-append) or a value (rw-register).
    Read,
}

/// A read's or write's argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arg {
    /// A single value (append, write, register read).
    Val(Val),
    /// Unknown or initial: a read not filled in, or a register read of nil.
    Nil,
    /// A list read: `len` values from `start` in [`Txns::lists`].
    List { start: u32, len: u32 },
}

/// One micro-op: `key` indexes [`Txns::keys`].
#[derive(Clone, Copy, Debug)]
pub struct Mop {
    /// The function.
    pub f: MopF,
    /// The key's dense id.
    pub key: u32,
    /// The value written or read.
    pub arg: Arg,
}

/// One transaction: a client operation of the history.
#[derive(Clone, Debug)]
pub struct Txn {
    /// Position of the invocation in the history.
    pub invoke: usize,
    /// Position of the completion, if any.
    pub complete: Option<usize>,
    /// How it ended.
    pub outcome: Outcome,
    /// The logical process.
    pub process: u64,
    /// Its micro-ops, a range of [`Txns::mops`].
    pub mops: (u32, u32),
}

impl Txn {
    /// Operation `o` of `history` as a txn with no micro-ops yet; `None`
    /// for the nemesis's.
    pub fn of(history: &History, o: &Operation) -> Option<Txn> {
        let Process::Client(process) = history.ops[o.invoke].process else {
            return None;
        };
        Some(Txn {
            invoke: o.invoke,
            complete: o.complete,
            outcome: o.outcome,
            process,
            mops: (0, 0),
        })
    }

    /// The position whose value holds this txn's micro-ops: the completion
    /// for `ok` (reads filled in), else the invocation.
    pub fn value_pos(&self) -> usize {
        match (self.outcome, self.complete) {
            (Outcome::Ok, Some(c)) => c,
            _ => self.invoke,
        }
    }
}

/// The parsed transactions of a history, with their interning tables.
#[derive(Debug, Default)]
pub struct Txns {
    /// Transactions in invocation order.
    pub txns: Vec<Txn>,
    /// All micro-ops, each txn's contiguous.
    pub mops: Vec<Mop>,
    /// All list-read elements, each read's contiguous.
    pub lists: Vec<Val>,
    /// Keys by dense id.
    pub keys: Vec<Val>,
    /// Interned non-integer values.
    pub syms: Vec<Value>,
    key_ids: FxMap<Val, u32>,
    sym_ids: HashMap<String, u32>,
    /// Per key id: the longest list stored for it so far, as (start, len).
    last_list: Vec<(u32, u32)>,
    /// A reused buffer for the list being parsed.
    pub(crate) scratch: Vec<Val>,
    /// Micro-ops (positions in `mops`) whose committed read was recorded
    /// as nil and is kept as an empty list, so [`Txns::txn_json`] can
    /// show it as recorded.
    nil_reads: FxMap<u32, ()>,
}

impl Txns {
    /// Parses every client operation of `history` as a transaction of
    /// `workload`. Errors name the file and line of the bad op.
    pub fn parse(history: &History, workload: Workload) -> Result<Txns, HistoryError> {
        let mut t = Txns::default();
        let ops = history.operations()?;
        t.txns.reserve(ops.len());
        t.mops.reserve(ops.len() * 3);
        for o in ops {
            let Some(mut txn) = Txn::of(history, &o) else {
                continue;
            };
            let pos = txn.value_pos();
            let start = t.mops.len() as u32;
            let ok = txn.outcome == Outcome::Ok;
            t.parse_value(&history.ops[pos].value, workload, ok)
                .map_err(|msg| history.error_at(pos, HistoryErrorKind::BadValue(msg)))?;
            txn.mops = (start, t.mops.len() as u32);
            t.txns.push(txn);
        }
        Ok(t)
    }

    /// The micro-ops of txn `i`.
    pub fn mops_of(&self, i: usize) -> &[Mop] {
        let (a, b) = self.txns[i].mops;
        &self.mops[a as usize..b as usize]
    }

    /// The elements of a list read.
    pub fn list(&self, arg: Arg) -> Option<&[Val]> {
        match arg {
            Arg::List { start, len } => Some(&self.lists[start as usize..(start + len) as usize]),
            _ => None,
        }
    }

    /// A value back as JSON, for explanations.
    pub fn json(&self, v: Val) -> Value {
        match v.unpack() {
            Ok(i) => Value::from(i),
            Err(s) => self.syms[s as usize].clone(),
        }
    }

    /// A key back as JSON.
    pub fn key_json(&self, k: u32) -> Value {
        self.json(self.keys[k as usize])
    }

    /// A list back as JSON.
    pub fn list_json(&self, vals: &[Val]) -> Value {
        Value::Array(vals.iter().map(|&v| self.json(v)).collect())
    }

    /// A micro-op's argument back as JSON.
    pub fn arg_json(&self, arg: Arg) -> Value {
        match arg {
            Arg::Val(v) => self.json(v),
            Arg::Nil => Value::Null,
            Arg::List { .. } => self.list_json(self.list(arg).unwrap_or(&[])),
        }
    }

    /// Txn `i`'s micro-ops as JSON, as they were recorded.
    pub fn txn_json(&self, i: usize) -> Value {
        let from = self.txns[i].mops.0;
        let mops = self.mops_of(i).iter().enumerate().map(|(j, m)| {
            let f = match m.f {
                MopF::Append => "append",
                MopF::Write => "w",
                MopF::Read => "r",
            };
            let arg = if self.nil_reads.contains_key(&(from + j as u32)) {
                Value::Null
            } else {
                self.arg_json(m.arg)
            };
            Value::Array(vec![f.into(), self.key_json(m.key), arg])
        });
        Value::Array(mops.collect())
    }

    /// Forgets the interning tables (after a renumbering of keys and
    /// values, which they no longer match); parsing is over.
    pub(crate) fn forget_ids(&mut self) {
        self.key_ids = FxMap::default();
        self.sym_ids = HashMap::new();
        self.last_list = Vec::new();
    }

    /// Forgets the micro-ops from position `start` on (a value that did
    /// not parse).
    pub(crate) fn truncate_mops(&mut self, start: u32) {
        self.mops.truncate(start as usize);
        self.nil_reads.retain(|&m, _| m < start);
    }

    /// Parses one op's value as micro-ops appended to [`Txns::mops`];
    /// `ok`: it is an `ok` completion, whose reads are filled in.
    pub(crate) fn parse_value(
        &mut self,
        value: &Value,
        workload: Workload,
        ok: bool,
    ) -> Result<(), String> {
        let Value::Array(mops) = value else {
            return Err(format!("txn value {value} is not a list of micro-ops"));
        };
        for (i, mop) in mops.iter().enumerate() {
            self.parse_mop(mop, workload, ok)
                .map_err(|why| format!("txn micro-op {} {mop}: {why}", i + 1))?;
        }
        Ok(())
    }

    pub(crate) fn parse_mop(
        &mut self,
        mop: &Value,
        workload: Workload,
        ok: bool,
    ) -> Result<(), String> {
        let parts = match mop {
            Value::Array(p) if p.len() == 3 => p,
            _ => return Err("expected [f key value]".into()),
        };
        let f = parts[0].as_str().map(|s| s.trim_start_matches(':'));
        let f = match (f, workload) {
            (Some("append"), Workload::ListAppend) => MopF::Append,
            (Some("w"), Workload::RwRegister) => MopF::Write,
            (Some("r"), _) => MopF::Read,
            (Some(other), _) => {
                return Err(format!("unknown function {other:?} for {workload}"));
            }
            (None, _) => return Err("function is not a string".into()),
        };
        if parts[1].is_null() {
            return Err("key is nil".into());
        }
        let kv = self.atom(&parts[1]);
        let key = self.key_id(kv);
        let mut arg = self.parse_arg(f, key, &parts[2], workload)?;
        if ok && workload == Workload::ListAppend && arg == Arg::Nil {
            arg = self.nil_read();
        }
        self.mops.push(Mop { f, key, arg });
        Ok(())
    }

    /// Elle's histories record a committed read of a missing key as nil:
    /// an empty list, remembered as nil for [`Txns::txn_json`]. For the
    /// micro-op about to be pushed.
    pub(crate) fn nil_read(&mut self) -> Arg {
        self.nil_reads.insert(self.mops.len() as u32, ());
        Arg::List {
            start: self.lists.len() as u32,
            len: 0,
        }
    }

    fn parse_arg(
        &mut self,
        f: MopF,
        key: u32,
        v: &Value,
        workload: Workload,
    ) -> Result<Arg, String> {
        match (f, v) {
            (MopF::Append | MopF::Write, Value::Null) => Err("writes nil".into()),
            (MopF::Append | MopF::Write, v) => Ok(Arg::Val(self.atom(v))),
            (MopF::Read, Value::Null) => Ok(Arg::Nil),
            (MopF::Read, Value::Array(items)) if workload == Workload::ListAppend => {
                Ok(self.list_arg(key, items))
            }
            (MopF::Read, _) if workload == Workload::ListAppend => {
                Err("a list-append read must be nil or a list".into())
            }
            (MopF::Read, v) => Ok(Arg::Val(self.atom(v))),
        }
    }

    /// Stores a list read of `key`. Reads of a key are mostly prefixes of
    /// one another, so a list that is a prefix of the key's longest stored
    /// list shares it, and one that extends it (stored last) appends only
    /// its tail: memory grows with distinct versions, not with reads.
    fn list_arg(&mut self, key: u32, items: &[Value]) -> Arg {
        let mut buf = std::mem::take(&mut self.scratch);
        buf.clear();
        buf.extend(items.iter().map(|item| self.atom(item)));
        self.list_arg_vals(key, buf)
    }

    /// [`Txns::list_arg`] for a list already interned into `buf` (the
    /// scratch buffer, handed back).
    pub(crate) fn list_arg_vals(&mut self, key: u32, buf: Vec<Val>) -> Arg {
        if self.last_list.len() <= key as usize {
            self.last_list.resize(key as usize + 1, (0, 0));
        }
        let (start, len) = self.last_list[key as usize];
        let stored = &self.lists[start as usize..(start + len) as usize];
        let n = buf.len() as u32;
        let arg = if stored.starts_with(&buf) {
            Arg::List { start, len: n }
        } else if buf.starts_with(stored) && (start + len) as usize == self.lists.len() {
            self.lists.extend_from_slice(&buf[len as usize..]);
            self.last_list[key as usize] = (start, n);
            Arg::List { start, len: n }
        } else {
            let start = self.lists.len() as u32;
            self.lists.extend_from_slice(&buf);
            if n >= len {
                self.last_list[key as usize] = (start, n);
            }
            Arg::List { start, len: n }
        };
        self.scratch = buf;
        arg
    }

    pub(crate) fn atom(&mut self, v: &Value) -> Val {
        if let Some(val) = v.as_i64().and_then(Val::int) {
            return val;
        }
        // Tagged, so that the string "9223372036854775807" and the number
        // (too big to pack) stay apart.
        let text = match v {
            Value::String(s) => format!("s{s}"),
            other => format!("j{other}"),
        };
        let next = self.syms.len() as u32;
        let id = *self.sym_ids.entry(text).or_insert(next);
        if id == next {
            self.syms.push(v.clone());
        }
        Val::sym(id)
    }

    pub(crate) fn key_id(&mut self, k: Val) -> u32 {
        let next = self.keys.len() as u32;
        let id = *self.key_ids.entry(k).or_insert(next);
        if id == next {
            self.keys.push(k);
        }
        id
    }
}

/// A hash map keyed by small integers, with a multiply-rotate hasher
/// (the Fx hash of rustc): our keys are ids, not attacker-chosen text.
pub type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// The Fx hasher: fast for integers, not DoS-resistant.
#[derive(Default, Clone, Copy)]
pub struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(b as u64);
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.write_u64(i as u64);
    }
    fn write_u32(&mut self, i: u32) {
        self.write_u64(i as u64);
    }
    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_i64(&mut self, i: i64) {
        self.write_u64(i as u64);
    }
    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{Op, OpType};
    use serde_json::json;

    fn hist(ops: Vec<Op>) -> History {
        let mut h = History::new("t.jsonl");
        for (i, op) in ops.into_iter().enumerate() {
            h.push(op, i as u32 + 1);
        }
        h
    }

    #[test]
    fn ok_txns_take_the_completion_value() {
        let h = hist(vec![
            Op::new(
                0,
                OpType::Invoke,
                "txn",
                json!([["append", 5, 3], ["r", 5, null]]),
            ),
            Op::new(
                0,
                OpType::Ok,
                "txn",
                json!([["append", 5, 3], ["r", 5, [1, 3]]]),
            ),
        ]);
        let t = Txns::parse(&h, Workload::ListAppend).unwrap();
        let mops = t.mops_of(0);
        assert_eq!(mops.len(), 2);
        assert_eq!(mops[0].arg, Arg::Val(Val::int(3).unwrap()));
        assert_eq!(
            t.list(mops[1].arg).unwrap(),
            &[Val::int(1).unwrap(), Val::int(3).unwrap()]
        );
        assert_eq!(t.key_json(mops[1].key), json!(5));
    }

    #[test]
    fn a_malformed_mop_names_file_line_and_mop() {
        let h = hist(vec![
            Op::new(0, OpType::Invoke, "txn", json!([["append", 5, 3]])),
            Op::new(0, OpType::Ok, "txn", json!([["append", 5, 3], ["r", 5, 7]])),
        ]);
        let e = Txns::parse(&h, Workload::ListAppend).unwrap_err();
        assert_eq!(
            e.to_string(),
            "t.jsonl:2: txn micro-op 2 [\"r\",5,7]: a list-append read must be nil or a list"
        );
        let h = hist(vec![Op::new(
            0,
            OpType::Invoke,
            "txn",
            json!([["w", 5, 3]]),
        )]);
        let e = Txns::parse(&h, Workload::ListAppend).unwrap_err();
        assert!(
            e.to_string().starts_with("t.jsonl:1: txn micro-op 1"),
            "{e}"
        );
    }

    #[test]
    fn string_keys_and_values_are_interned() {
        let h = hist(vec![
            Op::new(
                0,
                OpType::Invoke,
                "txn",
                json!([["w", "x", "a"], ["r", "x", "a"]]),
            ),
            Op::new(
                0,
                OpType::Ok,
                "txn",
                json!([["w", "x", "a"], ["r", "x", "a"]]),
            ),
        ]);
        let t = Txns::parse(&h, Workload::RwRegister).unwrap();
        let m = t.mops_of(0);
        assert_eq!(m[0].key, m[1].key);
        assert_eq!(m[0].arg, m[1].arg);
        assert_eq!(t.arg_json(m[0].arg), json!("a"));
    }

    #[test]
    fn prefix_reads_share_storage_and_still_read_back() {
        let reads = [
            json!([["r", "x", [1]]]),
            json!([["r", "x", [1, 2]]]),
            json!([["r", "y", [7]]]),
            json!([["r", "x", [1]], ["r", "x", [1, 2, 3]]]),
            json!([["r", "x", [2]]]),
        ];
        let mut ops = Vec::new();
        for v in &reads {
            ops.push(Op::new(0, OpType::Invoke, "txn", v.clone()));
            ops.push(Op::new(0, OpType::Ok, "txn", v.clone()));
        }
        let t = Txns::parse(&hist(ops), Workload::ListAppend).unwrap();
        let back: Vec<Value> = t.mops.iter().map(|m| t.arg_json(m.arg)).collect();
        let expect: Vec<Value> = reads
            .iter()
            .flat_map(|r| r.as_array().unwrap().iter().map(|m| m[2].clone()))
            .collect();
        assert_eq!(back, expect);
        // [1 2] extends [1]; [1] and [1 2 3] reuse and extend x's list, but
        // [1 2 3] comes after y's [7], so it is copied; [2] is copied.
        assert_eq!(t.lists.len(), 2 + 1 + 3 + 1);
    }
}
