//! An EDN value parser over a streaming [`Source`], producing JSON values
//! (the `edn-format` spec, as Clojure's `clojure.edn/read` accepts it).
//!
//! Mapping: vectors, lists and sets become arrays; maps become objects with
//! keys stringified (keywords and symbols by name, strings as they are,
//! anything else as its JSON text); keywords become strings without the
//! colon; `nil` is null; characters become one-character strings; `##Inf`,
//! `##-Inf` and `##NaN` (which JSON cannot hold) become the strings
//! `"##Inf"`...; a tagged literal `#tag value` (`#inst`, `#uuid`,
//! `#object`, any other) is kept opaque as the object `{"#tag": value}`;
//! `#_ value` is discarded. Integers beyond 64 bits (`N` bigints) and
//! decimals (`M`) become floats, as JSON parsers do; a number a float
//! cannot hold is an error. Nesting deeper than [`MAX_DEPTH`] is an error,
//! not a stack overflow.

use super::super::source::Source;
use super::convert::Fields;
use super::scan::{self, Scan};
use crate::elle::mops::{Atom, ReadArg, ReadF, ReadMop, TxnValue};
use serde_json::{Map, Number, Value};
use std::io::BufRead;

/// How deep collections may nest; op values in the field nest 4 or 5 deep.
pub(crate) const MAX_DEPTH: u32 = 128;
/// The most text the fast path is given to find an op map's end in;
/// longer maps are read by the parser alone.
const SCAN_WINDOW: usize = 4 << 20;
/// The longest number, keyword or symbol accepted.
pub(super) const MAX_TOKEN: usize = 4096;

/// A syntax error at a 1-based line.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ParseError {
    pub line: u32,
    pub msg: String,
}

type Result<T> = std::result::Result<T, ParseError>;

/// What a parse step found: a value, or a `#_` discard that produced none.
pub(crate) type Item = Option<Value>;

/// Parses EDN values one at a time from a streaming source.
pub(crate) struct Parser<R> {
    pub src: Source<R>,
    depth: u32,
    /// The token being scanned, reused.
    scratch: Vec<u8>,
    /// Read op maps' `:value`s as micro-ops ([`Parser::txn_value`]) into
    /// `txn_value`, leaving an empty vector in their place.
    pub txn_values: bool,
    /// The last op map's `:value` as micro-ops, when `txn_values` is on.
    pub txn_value: Option<TxnValue>,
    /// Read op maps by the fast path ([`scan`]) where it can (the default).
    pub scan: bool,
    /// The fast path's buffers.
    scan_scratch: scan::Scratch,
}

fn is_delimiter(c: u8) -> bool {
    c.is_ascii_whitespace()
        || matches!(
            c,
            b',' | b'(' | b')' | b'[' | b']' | b'{' | b'}' | b'"' | b';'
        )
}

impl<R: BufRead> Parser<R> {
    pub(crate) fn new(reader: R) -> Self {
        Parser {
            src: Source::new(reader),
            depth: 0,
            scratch: Vec::with_capacity(64),
            txn_values: false,
            txn_value: None,
            scan: true,
            scan_scratch: scan::Scratch::default(),
        }
    }

    /// Starts the reader as if inside `depth` collections (the history's
    /// outer one, for a reader that starts part way in).
    pub(crate) fn nested_in(mut self, depth: u32) -> Self {
        self.depth = depth;
        self
    }

    pub(crate) fn err<T>(&self, line: u32, msg: impl Into<String>) -> Result<T> {
        Err(ParseError {
            line,
            msg: msg.into(),
        })
    }

    /// Skips whitespace, commas and `;` comments; returns the next byte.
    pub(crate) fn skip_blank(&mut self) -> Option<u8> {
        loop {
            let chunk = self.src.chunk();
            let blank = chunk
                .iter()
                .position(|&c| !(c.is_ascii_whitespace() || c == b','));
            match blank {
                None if chunk.is_empty() => return None,
                None => {
                    let n = chunk.len();
                    self.src.advance(n);
                }
                Some(i) if chunk[i] == b';' => {
                    self.src.advance(i);
                    while !matches!(self.src.bump(), None | Some(b'\n')) {}
                }
                Some(i) => {
                    let c = chunk[i];
                    self.src.advance(i);
                    return Some(c);
                }
            }
        }
    }

    /// Parses the next value; `None` when it was a `#_` discard. The caller
    /// has checked that input remains and is not a closing bracket.
    pub(crate) fn item(&mut self) -> Result<Item> {
        let line = self.src.line();
        let Some(c) = self.skip_blank() else {
            return self.err(line, "unexpected end of input, expected a value");
        };
        match c {
            b'{' | b'[' | b'(' => self.nested(|p| p.collection(c)).map(Some),
            b'"' => self.string().map(|s| Some(Value::String(s))),
            b'#' => self.dispatch(),
            b'\\' => self.character().map(Some),
            b')' | b']' | b'}' => self.err(line, format!("unexpected `{}`", c as char)),
            b'0'..=b'9' | b'-' => match self.int_in_chunk() {
                Some(i) => Ok(Some(Value::from(i))),
                None => self.atom().map(Some),
            },
            _ => self.atom().map(Some),
        }
    }

    /// A plain integer that ends inside the current buffer, read in place:
    /// the bulk of a history's values. `None` (nothing consumed) for
    /// anything else.
    #[inline]
    fn int_in_chunk(&mut self) -> Option<i64> {
        let chunk = self.src.chunk();
        let end = chunk.iter().position(|&c| is_delimiter(c))?;
        let i = small_int(&chunk[..end])?;
        self.src.advance(end);
        Some(i)
    }

    /// Parses the next value, skipping discards; an error at the end.
    fn value(&mut self) -> Result<Value> {
        loop {
            if let Some(v) = self.item()? {
                return Ok(v);
            }
        }
    }

    fn nested<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        if self.depth >= MAX_DEPTH {
            let line = self.src.line();
            return self.err(line, format!("nesting deeper than {MAX_DEPTH} levels"));
        }
        self.depth += 1;
        let r = f(self);
        self.depth -= 1;
        r
    }

    /// A map, vector, list or set whose opening byte `open` is next.
    fn collection(&mut self, open: u8) -> Result<Value> {
        let line = self.src.line();
        self.src.bump();
        let items = self.items_until(open, line)?;
        if open != b'{' {
            return Ok(Value::Array(items));
        }
        if items.len() % 2 == 1 {
            return self.err(line, "map has a key without a value");
        }
        let mut map = Map::with_capacity(items.len() / 2);
        let mut it = items.into_iter();
        while let (Some(k), Some(v)) = (it.next(), it.next()) {
            map.insert(key_string(k), v);
        }
        Ok(Value::Object(map))
    }

    /// An op map, whose `{` is next, into `fields` (empty): like
    /// [`Parser::item`] on a map, but keyword keys are matched in place
    /// and only the entries an op needs are kept.
    pub(crate) fn op_map(&mut self, fields: &mut Fields) -> Result<()> {
        if self.scan_op_map(fields) {
            return Ok(());
        }
        let line = self.src.line();
        self.nested(|p| {
            p.src.bump();
            p.txn_value = None;
            while let Some(key) = p.map_key(line)? {
                if p.txn_values && key.text() == b"value" {
                    // The last `:value` wins, as in a map.
                    p.txn_value = None;
                    match p.txn_value()? {
                        Some(TxnValue::Mops(m)) => {
                            p.txn_value = Some(TxnValue::Mops(m));
                            fields.set(b"value", Value::Array(Vec::new()));
                            continue;
                        }
                        Some(TxnValue::Json(v)) => {
                            fields.set(b"value", v);
                            continue;
                        }
                        None => {} // a discard: the value follows
                    }
                }
                let value = loop {
                    match p.skip_blank() {
                        None => return p.err(line, "`{` opened here is never closed"),
                        Some(b'}') => return p.err(line, "map has a key without a value"),
                        Some(c @ (b')' | b']')) => {
                            let at = p.src.line();
                            let msg = format!("`{}` closes `{{` opened at line {line}", c as char);
                            return p.err(at, msg);
                        }
                        _ => {
                            if let Some(v) = p.item()? {
                                break v;
                            }
                        }
                    }
                };
                fields.set(key.text(), value);
            }
            Ok(())
        })
    }

    /// The op map next, read into `fields` by the fast path ([`scan`])
    /// when it can (true): it is given more text while the map does not
    /// end in the buffer, up to [`SCAN_WINDOW`] bytes.
    fn scan_op_map(&mut self, fields: &mut Fields) -> bool {
        if !self.scan {
            return false;
        }
        loop {
            let scanned = scan::op_map(
                self.src.chunk(),
                self.txn_values,
                self.depth,
                &mut self.scan_scratch,
                fields,
            );
            match scanned {
                Scan::Done(value, used) => {
                    self.src.advance(used);
                    self.txn_value = value;
                    return true;
                }
                Scan::Unsure => return false,
                Scan::More => {
                    if !self.src.top_up(SCAN_WINDOW) {
                        return false;
                    }
                }
            }
        }
    }

    /// The next key of a map opened at `line`; `None` at the closing brace.
    fn map_key(&mut self, line: u32) -> Result<Option<Key>> {
        loop {
            match self.skip_blank() {
                None => return self.err(line, "`{` opened here is never closed"),
                Some(b'}') => {
                    self.src.bump();
                    return Ok(None);
                }
                Some(c @ (b')' | b']')) => {
                    let at = self.src.line();
                    let msg = format!("`{}` closes `{{` opened at line {line}", c as char);
                    return self.err(at, msg);
                }
                Some(b':') => {
                    let at = self.src.line();
                    self.token_bytes()?;
                    if self.scratch.len() == 1 {
                        return self.err(at, "empty keyword");
                    }
                    return Ok(Some(Key::short(&self.scratch[1..])));
                }
                Some(_) => {
                    if let Some(k) = self.item()? {
                        return Ok(Some(Key::Long(key_string(k))));
                    }
                }
            }
        }
    }

    /// A txn op's `:value`, next, as micro-ops (see [`TxnValue`]): a
    /// vector of `[f key arg]` vectors whose lists are read as integers in
    /// place; any other shape as a JSON value, exactly as [`Parser::item`]
    /// reads it (`None` for a discard, or when no value follows: the
    /// caller reads on, and reports that as for any key).
    pub(crate) fn txn_value(&mut self) -> Result<Option<TxnValue>> {
        let line = self.src.line();
        let open = match self.skip_blank() {
            Some(c @ (b'[' | b'(')) => c,
            None | Some(b'}' | b')' | b']') => return Ok(None),
            _ => return Ok(self.item()?.map(TxnValue::Json)),
        };
        self.nested(|p| {
            p.src.bump();
            p.mops_until(open, line).map(Some)
        })
    }

    fn mops_until(&mut self, open: u8, line: u32) -> Result<TxnValue> {
        let close = if open == b'[' { b']' } else { b')' };
        let mut mops: Vec<ReadMop> = Vec::new();
        loop {
            let odd = match self.skip_blank() {
                None => {
                    let msg = format!("`{}` opened here is never closed", open as char);
                    return self.err(line, msg);
                }
                Some(c) if c == close => {
                    self.src.bump();
                    return Ok(TxnValue::Mops(mops));
                }
                Some(b'[') => match self.nested(|p| p.mop())? {
                    Ok(m) => {
                        mops.push(m);
                        continue;
                    }
                    Err(v) => v,
                },
                Some(_) => match self.item()? {
                    Some(v) => v,
                    None => continue,
                },
            };
            // Not a micro-op: the rest is read as plain values.
            let mut items: Vec<Value> = mops.iter().map(ReadMop::to_value).collect();
            items.push(odd);
            items.extend(self.items_until(open, line)?);
            return Ok(TxnValue::Json(Value::Array(items)));
        }
    }

    /// `[f key arg]`, its `[` next; `Err` with the vector as a value when it
    /// is not such a triple.
    fn mop(&mut self) -> Result<std::result::Result<ReadMop, Value>> {
        let line = self.src.line();
        self.src.bump();
        let mut items: Vec<Value> = Vec::with_capacity(3);
        while items.len() < 2 {
            match self.skip_blank() {
                Some(b']') => {
                    self.src.bump();
                    return Ok(Err(Value::Array(items)));
                }
                None | Some(b')' | b'}') => {
                    items.extend(self.items_until(b'[', line)?);
                    return Ok(Err(Value::Array(items)));
                }
                Some(_) => items.extend(self.item()?),
            }
        }
        let arg = match self.skip_blank() {
            Some(c @ (b'[' | b'(')) => self.nested(|p| p.list_arg(c))?,
            Some(b']') | None | Some(b')' | b'}') => {
                items.extend(self.items_until(b'[', line)?);
                return Ok(Err(Value::Array(items)));
            }
            Some(_) => match self.item()? {
                Some(v) => ReadArg::Atom(atom_of(v)),
                None => {
                    items.extend(self.items_until(b'[', line)?);
                    return Ok(Err(Value::Array(items)));
                }
            },
        };
        if self.skip_blank() != Some(b']') {
            let key = items.pop().unwrap_or(Value::Null);
            let f = items.pop().unwrap_or(Value::Null);
            let m = ReadMop {
                f: ReadF::Other(f),
                key: atom_of(key),
                arg,
            };
            let mut all = m.to_value().as_array().cloned().unwrap_or_default();
            all.extend(self.items_until(b'[', line)?);
            return Ok(Err(Value::Array(all)));
        }
        self.src.bump();
        let key = items.pop().unwrap_or(Value::Null);
        let f = match items.pop() {
            Some(Value::String(name)) => ReadF::named(&name),
            other => ReadF::Other(other.unwrap_or(Value::Null)),
        };
        Ok(Ok(ReadMop {
            f,
            key: atom_of(key),
            arg,
        }))
    }

    /// A list argument, its opening byte `open` next: integers in place.
    fn list_arg(&mut self, open: u8) -> Result<ReadArg> {
        let line = self.src.line();
        self.src.bump();
        let close = if open == b'[' { b']' } else { b')' };
        let mut ints: Vec<i64> = Vec::new();
        let mut others: Option<Vec<Atom>> = None;
        loop {
            let v = match self.skip_blank() {
                Some(c) if c == close => {
                    self.src.bump();
                    break;
                }
                None | Some(b')' | b']' | b'}') => {
                    // Let the general reader report it.
                    self.items_until(open, line)?;
                    break;
                }
                Some(b'0'..=b'9' | b'-') => match self.int_in_chunk() {
                    Some(i) => Atom::Int(i),
                    None => match self.item()? {
                        Some(v) => atom_of(v),
                        None => continue,
                    },
                },
                Some(_) => match self.item()? {
                    Some(v) => atom_of(v),
                    None => continue,
                },
            };
            match (&mut others, v) {
                (None, Atom::Int(i)) => ints.push(i),
                (None, other) => {
                    let mut all: Vec<Atom> = ints.drain(..).map(Atom::Int).collect();
                    all.push(other);
                    others = Some(all);
                }
                (Some(all), v) => all.push(v),
            }
        }
        Ok(match others {
            Some(all) => ReadArg::List(all),
            None => ReadArg::Ints(ints),
        })
    }

    /// Values up to the bracket that closes `open` (opened at `line`).
    fn items_until(&mut self, open: u8, line: u32) -> Result<Vec<Value>> {
        let close = match open {
            b'[' => b']',
            b'(' => b')',
            _ => b'}',
        };
        let mut items = Vec::new();
        loop {
            match self.skip_blank() {
                None => {
                    return self.err(
                        line,
                        format!("`{}` opened here is never closed", open as char),
                    )
                }
                Some(c) if c == close => {
                    self.src.bump();
                    return Ok(items);
                }
                Some(c @ (b')' | b']' | b'}')) => {
                    let at = self.src.line();
                    let msg = format!(
                        "`{}` closes `{}` opened at line {line}",
                        c as char, open as char
                    );
                    return self.err(at, msg);
                }
                Some(_) => items.extend(self.item()?),
            }
        }
    }

    /// After `#`: a set, a discard, a symbolic value or a tagged literal.
    fn dispatch(&mut self) -> Result<Item> {
        let line = self.src.line();
        self.src.bump();
        match self.src.peek() {
            Some(b'{') => self
                .nested(|p| {
                    p.src.bump();
                    p.items_until(b'{', line).map(Value::Array)
                })
                .map(Some),
            Some(b'_') => {
                self.src.bump();
                self.nested(|p| p.value()).map(|_| None)
            }
            Some(b'#') => {
                self.src.bump();
                let sym = self.token()?;
                Ok(Some(Value::String(format!("##{sym}"))))
            }
            Some(c) if c.is_ascii_alphabetic() => {
                let tag = self.token()?;
                let inner = self.nested(|p| p.value())?;
                let mut m = Map::with_capacity(1);
                m.insert(format!("#{tag}"), inner);
                Ok(Some(Value::Object(m)))
            }
            _ => self.err(line, "`#` must start a set, a tag, `#_` or `##`"),
        }
    }

    /// Bytes up to the next delimiter (a number, keyword or symbol).
    fn token(&mut self) -> Result<String> {
        let line = self.src.line();
        self.token_bytes()?;
        let bytes = self.scratch.clone();
        String::from_utf8(bytes).or_else(|_| self.err(line, "invalid UTF-8 in a token"))
    }

    /// Scans a token into `self.scratch`, a chunk at a time.
    fn token_bytes(&mut self) -> Result<()> {
        let line = self.src.line();
        self.scratch.clear();
        loop {
            let chunk = self.src.chunk();
            if chunk.is_empty() {
                return Ok(());
            }
            let end = chunk.iter().position(|&c| is_delimiter(c));
            let take = end.unwrap_or(chunk.len());
            if self.scratch.len() + take > MAX_TOKEN {
                return self.err(line, format!("token longer than {MAX_TOKEN} bytes"));
            }
            self.scratch.extend_from_slice(&chunk[..take]);
            self.src.advance(take);
            if end.is_some() {
                return Ok(());
            }
        }
    }

    /// A number, keyword, `nil`, `true`, `false` or symbol.
    fn atom(&mut self) -> Result<Value> {
        let line = self.src.line();
        self.token_bytes()?;
        if let Some(i) = small_int(&self.scratch) {
            return Ok(Value::from(i));
        }
        let tok = String::from_utf8(self.scratch.clone())
            .or_else(|_| self.err(line, "invalid UTF-8 in a token"))?;
        let numeric = match tok.as_bytes() {
            [d, ..] if d.is_ascii_digit() => true,
            [b'+' | b'-', d, ..] => d.is_ascii_digit(),
            _ => false,
        };
        if numeric {
            return number(&tok).map_or_else(|m| self.err(line, m), Ok);
        }
        match tok.as_str() {
            "nil" => Ok(Value::Null),
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            ":" => self.err(line, "empty keyword"),
            _ => Ok(Value::String(
                tok.strip_prefix(':').unwrap_or(&tok).to_string(),
            )),
        }
    }

    /// `\c`, `\newline`, `\uXXXX`...: a one-character string.
    fn character(&mut self) -> Result<Value> {
        let line = self.src.line();
        self.src.bump();
        let Some(first) = self.src.bump() else {
            return self.err(line, "`\\` at the end of input");
        };
        let mut name = String::from_utf8(vec![first]).unwrap_or_default();
        if first.is_ascii() {
            name.push_str(&self.token()?);
        } else {
            let rest = self.token()?;
            name = String::from_utf8([&[first], rest.as_bytes()].concat())
                .or_else(|_| self.err(line, "invalid UTF-8 in a character"))?;
        }
        let c = match name.as_str() {
            "newline" => '\n',
            "space" => ' ',
            "tab" => '\t',
            "return" => '\r',
            "backspace" => '\u{8}',
            "formfeed" => '\u{c}',
            n if n.chars().count() == 1 => n.chars().next().unwrap_or(' '),
            n => match n
                .strip_prefix('u')
                .and_then(|h| u32::from_str_radix(h, 16).ok())
            {
                Some(u) => char::from_u32(u).unwrap_or('\u{fffd}'),
                None => return self.err(line, format!("unknown character \\{n}")),
            },
        };
        Ok(Value::String(c.to_string()))
    }

    /// A `"..."` string with EDN's escapes; may span lines.
    fn string(&mut self) -> Result<String> {
        let line = self.src.line();
        self.src.bump();
        let mut bytes = Vec::new();
        loop {
            let chunk = self.src.chunk();
            if chunk.is_empty() {
                return self.err(line, "string opened here is never closed");
            }
            let end = chunk.iter().position(|&c| c == b'"' || c == b'\\');
            let take = end.unwrap_or(chunk.len());
            bytes.extend_from_slice(&chunk[..take]);
            self.src.advance(take);
            match end.map(|_| self.src.bump()) {
                None => {}
                Some(Some(b'"')) => break,
                Some(_) => self.escape(&mut bytes, line)?,
            }
        }
        String::from_utf8(bytes).or_else(|_| self.err(line, "invalid UTF-8 in a string"))
    }

    fn escape(&mut self, out: &mut Vec<u8>, line: u32) -> Result<()> {
        let c = match self.src.bump() {
            Some(b't') => '\t',
            Some(b'r') => '\r',
            Some(b'n') => '\n',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'\\') => '\\',
            Some(b'"') => '"',
            Some(b'\'') => '\'',
            Some(b'u') => {
                let mut code = 0u32;
                for _ in 0..4 {
                    let d = self.src.bump().and_then(|d| (d as char).to_digit(16));
                    let Some(d) = d else {
                        return self.err(line, "bad \\u escape in a string");
                    };
                    code = code * 16 + d;
                }
                char::from_u32(code).unwrap_or('\u{fffd}')
            }
            Some(c) => {
                return self.err(line, format!("unknown escape \\{} in a string", c as char))
            }
            None => return self.err(line, "string opened here is never closed"),
        };
        let mut buf = [0u8; 4];
        out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        Ok(())
    }
}

/// A scalar read as a JSON value, as an [`Atom`].
pub(super) fn atom_of(v: Value) -> Atom {
    match v.as_i64() {
        Some(i) => Atom::Int(i),
        None => Atom::Other(v),
    }
}

/// An op map's key: a keyword's name kept in place when short (every key
/// an op uses is), else the key's text.
enum Key {
    Short([u8; 8], usize),
    Long(String),
}

impl Key {
    fn short(name: &[u8]) -> Key {
        let mut buf = [0u8; 8];
        match buf.get_mut(..name.len()) {
            Some(b) => {
                b.copy_from_slice(name);
                Key::Short(buf, name.len())
            }
            None => Key::Long(String::from_utf8_lossy(name).into_owned()),
        }
    }

    fn text(&self) -> &[u8] {
        match self {
            Key::Short(buf, len) => &buf[..*len],
            Key::Long(s) => s.as_bytes(),
        }
    }
}

/// A plain decimal integer that fits in an `i64` (the common case, parsed
/// without allocating); anything else is left to [`number`].
pub(super) fn small_int(tok: &[u8]) -> Option<i64> {
    let (neg, digits) = match tok {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, tok),
    };
    if digits.is_empty() || digits.len() > 18 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = digits
        .iter()
        .fold(0i64, |n, &d| n * 10 + i64::from(d - b'0'));
    Some(if neg { -n } else { n })
}

/// A number token: integers (maybe `N`), floats (maybe `M`), ratios.
fn number(tok: &str) -> std::result::Result<Value, String> {
    let bad = || format!("bad number `{tok}`");
    let digits = tok.strip_suffix('N').unwrap_or(tok);
    if let Ok(i) = digits.parse::<i64>() {
        return Ok(Value::from(i));
    }
    if let Ok(u) = digits.parse::<u64>() {
        return Ok(Value::from(u));
    }
    let f = if let Some((n, d)) = tok.split_once('/') {
        let (n, d) = (n.parse::<f64>(), d.parse::<f64>());
        n.and_then(|n| d.map(|d| n / d)).map_err(|_| bad())?
    } else {
        tok.strip_suffix('M')
            .unwrap_or(digits)
            .parse::<f64>()
            .map_err(|_| bad())?
    };
    Number::from_f64(f)
        .map(Value::Number)
        .ok_or_else(|| format!("number `{tok}` is out of range"))
}

/// A map key as a JSON object key.
pub(super) fn key_string(k: Value) -> String {
    match k {
        Value::String(s) => s,
        Value::Null => "nil".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(text: &str) -> Result<Value> {
        Parser::new(text.as_bytes()).value()
    }

    #[test]
    fn scalars_map_to_json() {
        assert_eq!(parse("nil").unwrap(), json!(null));
        assert_eq!(parse(" true").unwrap(), json!(true));
        assert_eq!(parse(":read").unwrap(), json!("read"));
        assert_eq!(parse("-12").unwrap(), json!(-12));
        assert_eq!(parse("18446744073709551615").unwrap(), json!(u64::MAX));
        assert_eq!(parse("7N").unwrap(), json!(7));
        assert_eq!(parse("1.5").unwrap(), json!(1.5));
        assert_eq!(parse("2.5M").unwrap(), json!(2.5));
        assert_eq!(parse("1/4").unwrap(), json!(0.25));
        assert_eq!(parse("\\a").unwrap(), json!("a"));
        assert_eq!(parse("\\newline").unwrap(), json!("\n"));
        assert_eq!(parse("##Inf").unwrap(), json!("##Inf"));
        assert_eq!(parse(r#""a\"b\n\u0041""#).unwrap(), json!("a\"b\nA"));
    }

    #[test]
    fn collections_and_tags_map_to_json() {
        let v = parse("{:a [1 (2) #{3}], 4 nil, \"s\" {:k :v}}").unwrap();
        assert_eq!(v, json!({"a": [1, [2], [3]], "4": null, "s": {"k": "v"}}));
        let v = parse("[#inst \"2020-01-01\" #uuid \"f\" #_ 5 #_#_ 6 7 8]").unwrap();
        assert_eq!(v, json!([{"#inst": "2020-01-01"}, {"#uuid": "f"}, 8]));
        assert_eq!(parse("{[1 2] 3}").unwrap(), json!({"[1,2]": 3}));
    }

    #[test]
    fn malformed_text_is_an_error_with_a_line() {
        let e = parse("[1\n2\n").unwrap_err();
        assert_eq!(
            (e.line, e.msg.as_str()),
            (1, "`[` opened here is never closed")
        );
        let e = parse("{:a\n 1]").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.msg.contains("opened at line 1"), "{}", e.msg);
        assert_eq!(
            parse("{:a}").unwrap_err().msg,
            "map has a key without a value"
        );
        assert!(parse("1e999").unwrap_err().msg.contains("out of range"));
        assert!(parse("12abc").unwrap_err().msg.contains("bad number"));
        assert!(parse("\"\\q\"").unwrap_err().msg.contains("unknown escape"));
        assert!(parse("\"\u{0}\\").is_err());
        assert!(parse("#").is_err());
        assert!(parse("#_").is_err());
        assert!(parse("\"\u{ff}\"").is_ok());
        let bad_utf8 = Parser::new(&b"\"\xff\xfe\""[..]).value().unwrap_err();
        assert!(bad_utf8.msg.contains("UTF-8"));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = "[".repeat(100_000);
        let e = parse(&deep).unwrap_err();
        assert!(e.msg.contains("nesting deeper"), "{}", e.msg);
        let tags = "#a ".repeat(100_000);
        assert!(parse(&tags).unwrap_err().msg.contains("nesting deeper"));
        let discards = "#_".repeat(100_000);
        assert!(parse(&discards).unwrap_err().msg.contains("nesting deeper"));
        let ok = format!("{}{}", "[".repeat(100), "]".repeat(100));
        assert!(parse(&ok).is_ok());
    }
}
