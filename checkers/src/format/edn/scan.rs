//! The fast path of the EDN reader: an op map read in one pass over a
//! slice of the buffered text, for the shape nearly every op of a Jepsen
//! history has (keywords, integers, plain strings, `nil`, `true`,
//! `false`, vectors, lists and maps of those).
//!
//! The scanner gives the same fields (and micro-ops) as the general
//! parser in [`super::parse`] or gives up: on anything else (tags, sets,
//! discards, comments, characters, escapes, floats, bad syntax) it
//! answers [`Scan::Unsure`], and on text that ends before the map does,
//! [`Scan::More`]; either way nothing is consumed, and the parser reads
//! the map itself (after more text, for `More`), so errors and odd values
//! come out of one place. The parser's per-byte work (a refill check per
//! byte, a value per token) is what made it slow.

use super::convert::Fields;
use super::parse::{atom_of, key_string, small_int, MAX_DEPTH, MAX_TOKEN};
use crate::elle::mops::{Atom, ReadArg, ReadF, ReadMop, TxnValue};
use crate::history::OpType;
use serde_json::{Map, Value};

/// What the scanner made of the text at hand.
pub(crate) enum Scan {
    /// The op map's `:value` as micro-ops (when asked for and it is
    /// micro-ops), and the bytes the map took; its fields are read.
    Done(Option<TxnValue>, usize),
    /// Not a shape it reads: the general parser must.
    Unsure,
    /// The text ended inside the map.
    More,
}

/// Why a scan stopped short.
enum Stop {
    Unsure,
    More,
}

type Step<T> = Result<T, Stop>;

/// Byte classes: EDN's delimiters end tokens; blanks are whitespace and
/// commas.
const DELIMITER: u8 = 1;
const BLANK: u8 = 2;

static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let delimiters = b" \t\n\r\x0c,()[]{}\";";
    let mut i = 0;
    while i < delimiters.len() {
        t[delimiters[i] as usize] = DELIMITER;
        i += 1;
    }
    let blanks = b" \t\n\r\x0c,";
    let mut i = 0;
    while i < blanks.len() {
        t[blanks[i] as usize] |= BLANK;
        i += 1;
    }
    t
};

/// Buffers the scanner reuses from map to map: collections are gathered
/// on a stack and moved out at their end, so each takes one allocation
/// of its exact size.
#[derive(Default)]
pub(crate) struct Scratch {
    values: Vec<Value>,
    ints: Vec<i64>,
}

/// Reads the op map at the start of `text` (its `{` first) into `fields`
/// (empty, and left empty unless `Done`); `txn_values`: read its `:value`
/// as micro-ops, as [`super::parse::Parser::op_map`] does. `depth` is the
/// parser's nesting depth outside the map.
pub(crate) fn op_map(
    text: &[u8],
    txn_values: bool,
    depth: u32,
    scratch: &mut Scratch,
    fields: &mut Fields,
) -> Scan {
    if text.first() != Some(&b'{') {
        return Scan::Unsure;
    }
    let mut c = Cursor {
        b: text,
        i: 0,
        depth,
        s: scratch,
    };
    let r = c.op_map(txn_values, fields);
    c.s.values.clear();
    if r.is_err() {
        *fields = Fields::default();
    }
    match r {
        Ok(value) => Scan::Done(value, c.i),
        Err(Stop::Unsure) => Scan::Unsure,
        Err(Stop::More) => Scan::More,
    }
}

struct Cursor<'a, 's> {
    b: &'a [u8],
    i: usize,
    depth: u32,
    s: &'s mut Scratch,
}

impl<'a> Cursor<'a, '_> {
    /// The next byte after blanks; a comment is left to the parser.
    #[inline]
    fn peek(&mut self) -> Step<u8> {
        loop {
            let c = *self.b.get(self.i).ok_or(Stop::More)?;
            if CLASS[c as usize] & BLANK == 0 {
                return if c == b';' { Err(Stop::Unsure) } else { Ok(c) };
            }
            self.i += 1;
        }
    }

    /// A token (number, keyword, symbol): the bytes up to a delimiter.
    #[inline]
    fn token(&mut self) -> Step<&'a [u8]> {
        let start = self.i;
        let mut j = start;
        loop {
            let c = *self.b.get(j).ok_or(Stop::More)?;
            if CLASS[c as usize] & DELIMITER != 0 {
                break;
            }
            j += 1;
        }
        if j - start > MAX_TOKEN {
            return Err(Stop::Unsure);
        }
        self.i = j;
        Ok(&self.b[start..j])
    }

    /// A `"..."` string without escapes, its `"` next.
    fn string(&mut self) -> Step<&'a str> {
        let start = self.i + 1;
        let len = self.b[start..]
            .iter()
            .position(|&c| c == b'"' || c == b'\\')
            .ok_or(Stop::More)?;
        if self.b[start + len] == b'\\' {
            return Err(Stop::Unsure);
        }
        let s = std::str::from_utf8(&self.b[start..start + len]).map_err(|_| Stop::Unsure)?;
        self.i = start + len + 1;
        Ok(s)
    }

    fn nested<T>(&mut self, f: impl FnOnce(&mut Self) -> Step<T>) -> Step<T> {
        if self.depth >= MAX_DEPTH {
            return Err(Stop::Unsure);
        }
        self.depth += 1;
        let r = f(self);
        self.depth -= 1;
        r
    }

    fn op_map(&mut self, txn_values: bool, fields: &mut Fields) -> Step<Option<TxnValue>> {
        self.nested(|c| {
            c.i += 1;
            let mut txn_value = None;
            let mut values = 0;
            loop {
                let key = match c.peek()? {
                    b'}' => {
                        c.i += 1;
                        return Ok(txn_value);
                    }
                    b':' => match c.token()? {
                        [_] => return Err(Stop::Unsure),
                        t => &t[1..],
                    },
                    b'"' => c.string()?.as_bytes(),
                    _ => return Err(Stop::Unsure),
                };
                if txn_values && key == b"value" {
                    values += 1;
                    if values > 1 {
                        return Err(Stop::Unsure);
                    }
                    match c.txn_value()? {
                        TxnValue::Json(v) => fields.set(key, v),
                        mops => {
                            txn_value = Some(mops);
                            fields.set(key, Value::Array(Vec::new()));
                        }
                    }
                    continue;
                }
                match c.peek()? {
                    b'}' => return Err(Stop::Unsure),
                    b':' if key == b"type" => {
                        let start = c.i;
                        let name = &c.token()?[1..];
                        match std::str::from_utf8(name).ok().and_then(OpType::parse) {
                            Some(t) => fields.set_type(t),
                            None => {
                                c.i = start;
                                let v = c.value()?;
                                fields.set(key, v);
                            }
                        }
                    }
                    _ => {
                        let v = c.value()?;
                        fields.set(key, v);
                    }
                }
            }
        })
    }

    /// A value, as [`super::parse::Parser::item`] reads it.
    fn value(&mut self) -> Step<Value> {
        match self.peek()? {
            b'[' | b'(' => self.nested(|c| c.items().map(Value::Array)),
            b'{' => self.nested(|c| c.map()),
            b'"' => self.string().map(|s| Value::String(s.to_string())),
            b'#' | b'\\' | b')' | b']' | b'}' => Err(Stop::Unsure),
            b'0'..=b'9' | b'-' => match self.int()? {
                Some(i) => Ok(Value::from(i)),
                None => self.token().and_then(atom_value),
            },
            _ => self.token().and_then(atom_value),
        }
    }

    /// The closing byte of the collection whose opening byte is next.
    fn open(&mut self) -> u8 {
        let close = match self.b[self.i] {
            b'[' => b']',
            b'(' => b')',
            _ => b'}',
        };
        self.i += 1;
        close
    }

    /// Values up to the closing bracket, their opening one next.
    fn items(&mut self) -> Step<Vec<Value>> {
        let close = self.open();
        let base = self.s.values.len();
        loop {
            match self.peek()? {
                c if c == close => {
                    self.i += 1;
                    return Ok(self.s.values.split_off(base));
                }
                _ => {
                    let v = self.value()?;
                    self.s.values.push(v);
                }
            }
        }
    }

    /// A map, its `{` next.
    fn map(&mut self) -> Step<Value> {
        let items = self.items()?;
        if items.len() % 2 == 1 {
            return Err(Stop::Unsure);
        }
        let mut map = Map::new();
        let mut it = items.into_iter();
        while let (Some(k), Some(v)) = (it.next(), it.next()) {
            map.insert(key_string(k), v);
        }
        Ok(Value::Object(map))
    }

    /// An op's `:value`, next: micro-ops, or any other value as JSON, as
    /// [`super::parse::Parser::txn_value`] reads it.
    fn txn_value(&mut self) -> Step<TxnValue> {
        if !matches!(self.peek()?, b'[' | b'(') {
            return self.value().map(TxnValue::Json);
        }
        self.nested(|c| {
            let close = c.open();
            let mut mops = Vec::with_capacity(4);
            loop {
                match c.peek()? {
                    b'[' => mops.push(c.nested(|c| c.mop())?),
                    x if x == close => {
                        c.i += 1;
                        return Ok(TxnValue::Mops(mops));
                    }
                    // Not all micro-ops: the parser turns it into JSON.
                    _ => return Err(Stop::Unsure),
                }
            }
        })
    }

    /// `[f key arg]`, its `[` next.
    fn mop(&mut self) -> Step<ReadMop> {
        self.i += 1;
        let f = match self.peek()? {
            b':' => match self.token()? {
                b":append" => ReadF::Append,
                b":r" => ReadF::R,
                b":w" => ReadF::W,
                t => function(atom_value(t)?),
            },
            b']' => return Err(Stop::Unsure),
            _ => function(self.value()?),
        };
        let key = self.scalar()?;
        let arg = match self.peek()? {
            b'[' | b'(' => self.nested(|c| c.list())?,
            _ => ReadArg::Atom(self.scalar()?),
        };
        if self.peek()? != b']' {
            return Err(Stop::Unsure);
        }
        self.i += 1;
        Ok(ReadMop { f, key, arg })
    }

    /// A micro-op's key or argument: any value, as an [`Atom`].
    fn scalar(&mut self) -> Step<Atom> {
        match self.peek()? {
            b']' | b')' | b'}' => Err(Stop::Unsure),
            b'0'..=b'9' | b'-' => match self.int()? {
                Some(i) => Ok(Atom::Int(i)),
                None => self.token().and_then(atom_value).map(atom_of),
            },
            _ => self.value().map(atom_of),
        }
    }

    /// The plain decimal integer next, as [`small_int`] reads the token,
    /// in one pass over its digits (micro-op keys and list elements are
    /// nearly all such); `None`, with nothing consumed, for any other
    /// token.
    #[inline]
    fn int(&mut self) -> Step<Option<i64>> {
        let neg = self.b.get(self.i) == Some(&b'-');
        let digits = self.i + usize::from(neg);
        let mut j = digits;
        let mut n = 0i64;
        loop {
            let c = *self.b.get(j).ok_or(Stop::More)?;
            if !c.is_ascii_digit() {
                // Up to 18 digits always fit; longer ones (whose value
                // may have wrapped) are left to the token reader.
                let plain = j > digits && j - digits <= 18;
                if !plain || CLASS[c as usize] & DELIMITER == 0 {
                    return Ok(None);
                }
                break;
            }
            n = n.wrapping_mul(10).wrapping_add(i64::from(c - b'0'));
            j += 1;
        }
        self.i = j;
        Ok(Some(if neg { -n } else { n }))
    }

    /// A list argument, its opening bracket next: integers as such.
    fn list(&mut self) -> Step<ReadArg> {
        let close = self.open();
        self.s.ints.clear();
        loop {
            let a = match self.peek()? {
                c if c == close => {
                    self.i += 1;
                    return Ok(ReadArg::Ints(self.s.ints.clone()));
                }
                _ => self.scalar()?,
            };
            match a {
                Atom::Int(i) => self.s.ints.push(i),
                other => return self.rest_of_list(other, close),
            }
        }
    }

    /// A list that turned out not to be all integers: those read so far,
    /// then `next`, then the rest.
    fn rest_of_list(&mut self, next: Atom, close: u8) -> Step<ReadArg> {
        let mut atoms: Vec<Atom> = self.s.ints.iter().map(|&i| Atom::Int(i)).collect();
        atoms.push(next);
        loop {
            match self.peek()? {
                c if c == close => {
                    self.i += 1;
                    return Ok(ReadArg::List(atoms));
                }
                _ => atoms.push(self.scalar()?),
            }
        }
    }
}

/// A token's value, as [`super::parse::Parser::atom`] reads it; numbers
/// other than plain integers are left to it.
fn atom_value(tok: &[u8]) -> Step<Value> {
    let text = |t| {
        std::str::from_utf8(t)
            .map(str::to_string)
            .map_err(|_| Stop::Unsure)
    };
    match tok {
        [b':'] => Err(Stop::Unsure),
        [b':', name @ ..] => text(name).map(Value::String),
        [d, ..] if d.is_ascii_digit() => small_int(tok).map(Value::from).ok_or(Stop::Unsure),
        [b'+' | b'-', d, ..] if d.is_ascii_digit() => {
            small_int(tok).map(Value::from).ok_or(Stop::Unsure)
        }
        b"nil" => Ok(Value::Null),
        b"true" => Ok(Value::Bool(true)),
        b"false" => Ok(Value::Bool(false)),
        _ => text(tok).map(Value::String),
    }
}

/// A micro-op's function as the parser reads it.
fn function(v: Value) -> ReadF {
    match v {
        Value::String(name) => ReadF::named(&name),
        other => ReadF::Other(other),
    }
}
