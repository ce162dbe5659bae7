//! A transaction's value as read from a file, before interning: micro-ops
//! whose lists of integers are plain `Vec<i64>`s, not JSON trees. The
//! readers build it straight from the text (`format::json_scan` and the
//! EDN reader's `scan`), which spares the allocations of a JSON
//! value per element; [`Txns::parse_read`] then interns it. Whatever does
//! not fit this shape is kept as JSON and parsed as before, so both ways
//! give the same micro-ops and the same errors.

use super::txn::{Arg, Mop, MopF, Txns, Val};
use super::Workload;
use serde_json::Value;

/// A scalar: an integer, or any other JSON value (string, float, nil...).
#[derive(Clone, Debug, PartialEq)]
pub enum Atom {
    /// An integer.
    Int(i64),
    /// Anything else.
    Other(Value),
}

impl Atom {
    fn to_value(&self) -> Value {
        match self {
            Atom::Int(i) => Value::from(*i),
            Atom::Other(v) => v.clone(),
        }
    }

    fn is_nil(&self) -> bool {
        matches!(self, Atom::Other(Value::Null))
    }
}

/// A micro-op's function as read.
#[derive(Clone, Debug, PartialEq)]
pub enum ReadF {
    /// `append` (or `:append`).
    Append,
    /// `w`.
    W,
    /// `r`.
    R,
    /// Anything else, as read.
    Other(Value),
}

impl ReadF {
    /// The function named by `name` (a keyword's name or a string).
    pub fn named(name: &str) -> ReadF {
        match name.trim_start_matches(':') {
            "append" => ReadF::Append,
            "w" => ReadF::W,
            "r" => ReadF::R,
            _ => ReadF::Other(Value::String(name.to_string())),
        }
    }
}

/// A micro-op's argument as read.
#[derive(Clone, Debug, PartialEq)]
pub enum ReadArg {
    /// A scalar (nil included).
    Atom(Atom),
    /// A list of integers.
    Ints(Vec<i64>),
    /// Any other list.
    List(Vec<Atom>),
}

/// One micro-op `[f key arg]` as read.
#[derive(Clone, Debug, PartialEq)]
pub struct ReadMop {
    /// The function.
    pub f: ReadF,
    /// The key.
    pub key: Atom,
    /// The argument.
    pub arg: ReadArg,
}

/// A transaction's value as read: micro-ops, or JSON when it is not a
/// list of `[f key arg]` triples.
#[derive(Clone, Debug, PartialEq)]
pub enum TxnValue {
    /// Micro-ops.
    Mops(Vec<ReadMop>),
    /// Anything else.
    Json(Value),
}

impl ReadMop {
    /// The micro-op as JSON, as it was written.
    pub fn to_value(&self) -> Value {
        let f = match &self.f {
            ReadF::Append => Value::from("append"),
            ReadF::W => Value::from("w"),
            ReadF::R => Value::from("r"),
            ReadF::Other(v) => v.clone(),
        };
        let arg = match &self.arg {
            ReadArg::Atom(a) => a.to_value(),
            ReadArg::Ints(is) => Value::Array(is.iter().map(|&i| Value::from(i)).collect()),
            ReadArg::List(l) => Value::Array(l.iter().map(Atom::to_value).collect()),
        };
        Value::Array(vec![f, self.key.to_value(), arg])
    }
}

impl TxnValue {
    /// The value as JSON, as it was written.
    pub fn to_value(&self) -> Value {
        match self {
            TxnValue::Mops(m) => Value::Array(m.iter().map(ReadMop::to_value).collect()),
            TxnValue::Json(v) => v.clone(),
        }
    }
}

impl Txns {
    /// Parses one op's value as read, like [`Txns::parse_value`].
    pub(crate) fn parse_read(
        &mut self,
        value: &TxnValue,
        workload: Workload,
        ok: bool,
    ) -> Result<(), String> {
        let mops = match value {
            TxnValue::Json(v) => return self.parse_value(v, workload, ok),
            TxnValue::Mops(m) => m,
        };
        for (i, m) in mops.iter().enumerate() {
            if !self.read_mop(m, workload, ok) {
                // The general path gives the same answer, or its error.
                let v = m.to_value();
                self.parse_mop(&v, workload, ok)
                    .map_err(|why| format!("txn micro-op {} {v}: {why}", i + 1))?;
            }
        }
        Ok(())
    }

    /// The common, well-formed micro-ops, exactly as `parse_mop` takes
    /// them; false (nothing stored) for anything else.
    fn read_mop(&mut self, m: &ReadMop, workload: Workload, ok: bool) -> bool {
        let f = match (&m.f, workload) {
            (ReadF::Append, Workload::ListAppend) => MopF::Append,
            (ReadF::W, Workload::RwRegister) => MopF::Write,
            (ReadF::R, _) => MopF::Read,
            _ => return false,
        };
        if m.key.is_nil() {
            return false;
        }
        let arg = match (f, &m.arg, workload) {
            (MopF::Append | MopF::Write, ReadArg::Atom(a), _) if !a.is_nil() => Some(a),
            (MopF::Read, ReadArg::Atom(a), _) if a.is_nil() => None,
            (MopF::Read, ReadArg::Atom(a), Workload::RwRegister) => Some(a),
            (MopF::Read, ReadArg::Ints(_) | ReadArg::List(_), Workload::ListAppend) => None,
            _ => return false,
        };
        let kv = self.read_atom(&m.key);
        let key = self.key_id(kv);
        let arg = match (arg, &m.arg) {
            (Some(a), _) => Arg::Val(self.read_atom(a)),
            (None, ReadArg::Ints(is)) => self.list_of(key, is.iter().map(|&i| Atom::Int(i))),
            (None, ReadArg::List(l)) => self.list_of(key, l.iter().cloned()),
            (None, ReadArg::Atom(_)) if ok && workload == Workload::ListAppend => self.nil_read(),
            (None, ReadArg::Atom(_)) => Arg::Nil,
        };
        self.mops.push(Mop { f, key, arg });
        true
    }

    fn read_atom(&mut self, a: &Atom) -> Val {
        match a {
            Atom::Int(i) => Val::int(*i).unwrap_or_else(|| self.atom(&Value::from(*i))),
            Atom::Other(v) => self.atom(v),
        }
    }

    fn list_of(&mut self, key: u32, items: impl Iterator<Item = Atom>) -> Arg {
        let mut buf = std::mem::take(&mut self.scratch);
        buf.clear();
        for a in items {
            let v = self.read_atom(&a);
            buf.push(v);
        }
        self.list_arg_vals(key, buf)
    }
}
