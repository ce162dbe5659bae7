//! A strict scanner for the common shape of JSON op lines, for Elle's
//! loader: one pass over the text gives the op and its value as micro-ops
//! ([`TxnValue`]: lists of integers as plain vectors, no JSON value per
//! element), where serde would take two (the line, then the value's raw
//! text) and allocate a value per element.
//!
//! The scanner takes only text it is sure of: JSON whitespace, integers
//! without leading zeros, strings without escapes or control characters,
//! the fields of an op once each, a value of `[f key arg]` triples. On
//! anything else it gives up (`None`), without consuming, and the caller
//! reads the line with serde as before, so both give the same op or the
//! same error. [`from_json`] reads a value's text, already checked by
//! serde, the same way.

use crate::elle::mops::{Atom, ReadArg, ReadF, ReadMop, TxnValue};
use crate::history::{Op, OpType, Process};
use serde_json::Value;

/// The value whose JSON text (valid JSON, one line) is `text`.
pub(crate) fn from_json(text: &str) -> TxnValue {
    let mut c = Cursor::new(text.as_bytes(), Vec::new());
    match c.mops() {
        Some(m) if c.peek().is_none() => TxnValue::Mops(m),
        _ => TxnValue::Json(serde_json::from_str(text).unwrap_or(Value::Null)),
    }
}

/// The op line at the start of `text` (a buffer of the file from a line's
/// start): the op (`position` its default index), its value as micro-ops,
/// and the bytes it took, its newline included. `None` when the line is
/// not plainly an op or does not end inside `text`. `scratch` is a
/// buffer to reuse.
pub(crate) fn op_line(
    text: &[u8],
    position: usize,
    scratch: &mut Vec<i64>,
) -> Option<(Op, TxnValue, usize)> {
    let mut c = Cursor::new(text, std::mem::take(scratch));
    let op = c.op(position);
    // Only blanks may follow the object on its line.
    let end = (c.peek() == Some(b'\n')).then_some(c.i + 1);
    *scratch = c.ints;
    let (op, value) = op?;
    Some((op, value, end?))
}

/// The fields of an op line (serde's names for [`Op`]'s fields).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    Index,
    Time,
    Process,
    Type,
    F,
    Value,
    Node,
    Error,
    Final,
    Other,
}

impl Field {
    fn named(key: &[u8]) -> Field {
        match key {
            b"index" => Field::Index,
            b"time" => Field::Time,
            b"process" => Field::Process,
            b"type" => Field::Type,
            b"f" => Field::F,
            b"value" => Field::Value,
            b"node" => Field::Node,
            b"error" => Field::Error,
            b"final" | b"final?" => Field::Final,
            _ => Field::Other,
        }
    }
}

/// The fields met so far: each may come once (serde refuses duplicates).
#[derive(Default)]
struct Seen(u16);

impl Seen {
    fn first(&mut self, field: Field) -> Option<()> {
        let bit = 1 << field as u16;
        let first = self.0 & bit == 0;
        self.0 |= bit;
        first.then_some(())
    }
}

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
    /// The list of integers being read.
    ints: Vec<i64>,
}

impl<'a> Cursor<'a> {
    fn new(b: &'a [u8], ints: Vec<i64>) -> Self {
        Cursor { b, i: 0, ints }
    }

    /// The next byte after JSON whitespace (a newline ends a line, so it
    /// is not skipped).
    #[inline]
    fn peek(&mut self) -> Option<u8> {
        while let Some(&c) = self.b.get(self.i) {
            if !matches!(c, b' ' | b'\t' | b'\r') {
                return Some(c);
            }
            self.i += 1;
        }
        None
    }

    #[inline]
    fn eat(&mut self, c: u8) -> Option<()> {
        (self.peek()? == c).then(|| self.i += 1)
    }

    /// `,` then more, or the closing `close` (consumed): true for more.
    #[inline]
    fn more(&mut self, close: u8) -> Option<bool> {
        match self.peek()? {
            b',' => {
                self.i += 1;
                Some(true)
            }
            c if c == close => {
                self.i += 1;
                Some(false)
            }
            _ => None,
        }
    }

    /// An op object, as serde reads [`crate::format::jsonl`]'s lines.
    fn op(&mut self, position: usize) -> Option<(Op, TxnValue)> {
        self.eat(b'{')?;
        let mut seen = Seen::default();
        let (mut index, mut time, mut process, mut kind) = (None, None, None, None);
        let (mut f, mut node, mut error, mut is_final) = (None, None, None, false);
        let mut value = TxnValue::Json(Value::Null);
        loop {
            let field = Field::named(self.plain_str()?);
            self.eat(b':')?;
            if field != Field::Other {
                seen.first(field)?;
            }
            match field {
                Field::Index => index = self.opt_u64()?,
                Field::Time => time = self.opt_u64()?,
                Field::Process => process = Some(self.process()?),
                Field::Type => kind = Some(self.op_type()?),
                Field::F => f = Some(self.string()?),
                Field::Value => value = self.value()?,
                Field::Node => node = self.opt_string()?,
                Field::Error => error = self.opt_string()?.map(Value::from),
                Field::Final => is_final = self.bool()?,
                Field::Other => self.skip_scalar()?,
            }
            if !self.more(b'}')? {
                break;
            }
        }
        let op = Op {
            index: index.unwrap_or(position as u64),
            time,
            process: process?,
            kind: kind?,
            f: f?,
            value: Value::Null,
            node,
            error,
            is_final,
        };
        Some((op, value))
    }

    /// A string's bytes, if it has no escapes or control characters and
    /// is UTF-8.
    fn plain_str(&mut self) -> Option<&'a [u8]> {
        self.eat(b'"')?;
        let start = self.i;
        let mut j = start;
        let mut ascii = true;
        loop {
            let c = *self.b.get(j)?;
            match c {
                b'"' => break,
                b'\\' | 0..=0x1f => return None,
                _ => ascii &= c.is_ascii(),
            }
            j += 1;
        }
        let s = &self.b[start..j];
        if !ascii && std::str::from_utf8(s).is_err() {
            return None;
        }
        self.i = j + 1;
        Some(s)
    }

    fn string(&mut self) -> Option<String> {
        let s = self.plain_str()?;
        // plain_str checked the bytes.
        std::str::from_utf8(s).ok().map(str::to_string)
    }

    fn opt_string(&mut self) -> Option<Option<String>> {
        if self.null() {
            return Some(None);
        }
        self.string().map(Some)
    }

    /// `null`, consumed.
    fn null(&mut self) -> bool {
        let is_null = self.peek() == Some(b'n') && self.b[self.i..].starts_with(b"null");
        if is_null && self.delimited(self.i + 4) {
            self.i += 4;
            return true;
        }
        false
    }

    fn bool(&mut self) -> Option<bool> {
        self.peek()?;
        let rest = &self.b[self.i..];
        let (v, n) = if rest.starts_with(b"true") {
            (true, 4)
        } else if rest.starts_with(b"false") {
            (false, 5)
        } else {
            return None;
        };
        self.delimited(self.i + n).then(|| self.i += n)?;
        Some(v)
    }

    /// True when a token ending before `end` really ends there.
    fn delimited(&self, end: usize) -> bool {
        self.b
            .get(end)
            .is_some_and(|&c| matches!(c, b',' | b']' | b'}' | b' ' | b'\t' | b'\r' | b'\n'))
    }

    /// A JSON integer of at most `max` digits that the text plainly
    /// ends (no leading zero, no fraction or exponent), or `None`, with
    /// nothing consumed. The sign is the caller's.
    #[inline]
    fn digits(&mut self, max: usize) -> Option<u64> {
        let start = self.i;
        let mut j = start;
        let mut n = 0u64;
        while let Some(&c) = self.b.get(j) {
            let d = c.wrapping_sub(b'0');
            if d > 9 {
                break;
            }
            n = n.wrapping_mul(10).wrapping_add(u64::from(d));
            j += 1;
        }
        let len = j - start;
        if len == 0 || len > max || (len > 1 && self.b[start] == b'0') || !self.delimited(j) {
            return None;
        }
        self.i = j;
        Some(n)
    }

    /// A non-negative integer that fits in a `u64`.
    fn u64(&mut self) -> Option<u64> {
        self.peek()?;
        // Up to 19 digits cannot overflow; longer ones are left to serde.
        self.digits(19)
    }

    fn opt_u64(&mut self) -> Option<Option<u64>> {
        if self.null() {
            return Some(None);
        }
        self.u64().map(Some)
    }

    fn process(&mut self) -> Option<Process> {
        if self.peek()? == b'"' {
            return match self.plain_str()? {
                b"nemesis" | b":nemesis" => Some(Process::Nemesis),
                _ => None,
            };
        }
        self.u64().map(Process::Client)
    }

    fn op_type(&mut self) -> Option<OpType> {
        Some(match self.plain_str()? {
            b"invoke" => OpType::Invoke,
            b"ok" => OpType::Ok,
            b"fail" => OpType::Fail,
            b"info" => OpType::Info,
            _ => return None,
        })
    }

    /// An op's value: `null`, or micro-ops.
    fn value(&mut self) -> Option<TxnValue> {
        if self.null() {
            return Some(TxnValue::Json(Value::Null));
        }
        self.mops().map(TxnValue::Mops)
    }

    /// An unknown field's value, when it is a scalar (serde ignores it,
    /// but checks its syntax).
    fn skip_scalar(&mut self) -> Option<()> {
        if self.null() || self.bool().is_some() {
            return Some(());
        }
        self.atom().map(|_| ())
    }

    /// `[mop, ...]`.
    fn mops(&mut self) -> Option<Vec<ReadMop>> {
        self.eat(b'[')?;
        let mut out = Vec::with_capacity(4);
        if self.eat(b']').is_some() {
            return Some(out);
        }
        loop {
            out.push(self.mop()?);
            if !self.more(b']')? {
                return Some(out);
            }
        }
    }

    /// `[f, key, arg]` with `f` a string.
    fn mop(&mut self) -> Option<ReadMop> {
        self.eat(b'[')?;
        let f = match self.plain_str()? {
            b"append" => ReadF::Append,
            b"r" => ReadF::R,
            b"w" => ReadF::W,
            other => ReadF::named(std::str::from_utf8(other).ok()?),
        };
        self.eat(b',')?;
        let key = self.atom()?;
        self.eat(b',')?;
        let arg = self.arg()?;
        self.eat(b']')?;
        Some(ReadMop { f, key, arg })
    }

    /// A scalar or a list of scalars.
    fn arg(&mut self) -> Option<ReadArg> {
        if self.peek()? != b'[' {
            return self.atom().map(ReadArg::Atom);
        }
        self.i += 1;
        self.ints.clear();
        if self.eat(b']').is_some() {
            return Some(ReadArg::Ints(Vec::new()));
        }
        loop {
            match self.int() {
                Some(i) => self.ints.push(i),
                None => {
                    let other = self.atom()?;
                    return self.rest_of_list(other);
                }
            }
            if !self.more(b']')? {
                return Some(ReadArg::Ints(self.ints.clone()));
            }
        }
    }

    /// A list that turned out not to be all integers: those read so far,
    /// then `next`, then the rest.
    fn rest_of_list(&mut self, next: Atom) -> Option<ReadArg> {
        let mut atoms: Vec<Atom> = self.ints.iter().map(|&i| Atom::Int(i)).collect();
        atoms.push(next);
        while self.more(b']')? {
            atoms.push(self.atom()?);
        }
        Some(ReadArg::List(atoms))
    }

    /// An integer of at most 18 digits (see [`Cursor::atom`]).
    #[inline]
    fn int(&mut self) -> Option<i64> {
        match self.peek()? {
            b'0'..=b'9' => self.digits(18).map(|n| n as i64),
            b'-' => {
                let start = self.i;
                self.i += 1;
                // `-0` is a float to serde (negative zero): leave it to serde.
                match self.digits(18) {
                    Some(n) if n != 0 => Some(-(n as i64)),
                    _ => {
                        self.i = start;
                        None
                    }
                }
            }
            _ => None,
        }
    }

    /// An integer of at most 18 digits, a string, `null`, `true` or
    /// `false`; `None` for anything else (a collection, a float, `-0`,
    /// which serde reads as a float, a string with escapes, bad syntax).
    fn atom(&mut self) -> Option<Atom> {
        match self.peek()? {
            b'"' => {
                let s = std::str::from_utf8(self.plain_str()?).ok()?;
                Some(Atom::Other(Value::String(s.to_string())))
            }
            b'0'..=b'9' | b'-' => self.int().map(Atom::Int),
            _ if self.null() => Some(Atom::Other(Value::Null)),
            _ => self.bool().map(|b| Atom::Other(Value::Bool(b))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn micro_ops_are_read_as_such_and_anything_else_as_json() {
        let text = r#"[["append", 5, 3], ["r", 6, [1, 2, -3]], ["r", "k", null], ["r", 7, [1, "x", true]]]"#;
        let v = from_json(text);
        assert!(matches!(v, TxnValue::Mops(_)), "{v:?}");
        assert_eq!(v.to_value(), serde_json::from_str::<Value>(text).unwrap());
        for odd in [
            r#"[["append", 5]]"#,
            r#"[["r", 5, [[1]]]]"#,
            r#"{"a": 1}"#,
            r#"[["r", "a\"b", null]]"#,
            r#"[["append", 5, 99999999999999999999]]"#,
            r#"[["append", 5, -0]]"#,
            r#"[["append", 5, 1e3]]"#,
            r#"[["r", 5, [1, 2.5]]]"#,
            "7",
        ] {
            let v = from_json(odd);
            assert_eq!(
                v.to_value(),
                serde_json::from_str::<Value>(odd).unwrap(),
                "{odd}"
            );
        }
        assert_eq!(from_json("[]"), TxnValue::Mops(vec![]));
        assert_eq!(from_json("null"), TxnValue::Json(json!(null)));
    }

    #[test]
    fn an_op_line_is_read_in_one_pass() {
        let line = b"{\"index\":7,\"time\":9,\"process\":3,\"type\":\"ok\",\"f\":\"txn\",\"value\":[[\"append\",1,2],[\"r\",1,[2]]],\"node\":\"n1\",\"error\":null,\"final\":true,\"x\":\"y\"}\r\nrest";
        let (op, value, used) = op_line(line, 0, &mut Vec::new()).unwrap();
        assert_eq!(&line[used..], b"rest");
        assert_eq!(
            (op.index, op.time, op.process),
            (7, Some(9), Process::Client(3))
        );
        assert_eq!(
            (op.kind, op.f.as_str(), op.node.as_deref()),
            (OpType::Ok, "txn", Some("n1"))
        );
        assert!(op.is_final && op.error.is_none());
        assert_eq!(value.to_value(), json!([["append", 1, 2], ["r", 1, [2]]]));
    }

    #[test]
    fn anything_unsure_is_left_to_serde() {
        let good = r#"{"process":0,"type":"invoke","f":"txn","value":null}"#;
        assert!(op_line(format!("{good}\n").as_bytes(), 0, &mut Vec::new()).is_some());
        assert!(
            op_line(good.as_bytes(), 0, &mut Vec::new()).is_none(),
            "no newline yet"
        );
        for bad in [
            good.replace("0,", "00,"),                      // leading zero
            good.replace("0,", "-1,"),                      // negative process
            good.replace("\"f\"", "\"f\":\"x\",\"f\""),     // duplicate
            good.replace("invoke", "inv\\u006bke"),         // escape
            good.replace("invoke", ":invoke"),              // not serde's
            good.replace("null", "{}"),                     // not micro-ops
            good.replace("\"process\":0,", ""),             // missing field
            good.replace("null", "nul"),                    // bad syntax
            good.replace("}", "}x"),                        // trailing text
            good.replace(",", "\n,"),                       // spans lines
            good.replace("\"type\"", "\"x\":[1],\"type\""), // unknown, not scalar
        ] {
            assert!(
                op_line(format!("{bad}\n").as_bytes(), 0, &mut Vec::new()).is_none(),
                "{bad}"
            );
        }
    }
}
