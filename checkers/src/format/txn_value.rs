//! Transaction values read straight from JSON text into micro-ops
//! ([`TxnValue`]), for Elle's loader: a list of `[f key arg]` triples
//! whose lists hold integers becomes plain vectors of integers, with no
//! JSON value per element. Anything of another shape is parsed as JSON,
//! so nothing is lost. (The EDN reader does the same in
//! `edn::parse::Parser::txn_value`.)

use crate::elle::mops::{Atom, ReadArg, ReadF, ReadMop, TxnValue};
use serde_json::Value;

/// The value whose JSON text (valid JSON) is `text`.
pub(crate) fn from_json(text: &str) -> TxnValue {
    let mut c = Cursor {
        b: text.as_bytes(),
        i: 0,
    };
    match c.mops() {
        Some(m) if c.end() => TxnValue::Mops(m),
        _ => TxnValue::Json(serde_json::from_str(text).unwrap_or(Value::Null)),
    }
}

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn ws(&mut self) {
        while self.b.get(self.i).is_some_and(u8::is_ascii_whitespace) {
            self.i += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.b.get(self.i).copied()
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        (self.peek()? == c).then(|| self.i += 1)
    }

    fn end(&mut self) -> bool {
        self.peek().is_none()
    }

    /// `[mop, ...]`.
    fn mops(&mut self) -> Option<Vec<ReadMop>> {
        self.eat(b'[')?;
        let mut out = Vec::new();
        if self.eat(b']').is_some() {
            return Some(out);
        }
        loop {
            out.push(self.mop()?);
            match self.peek()? {
                b',' => self.i += 1,
                b']' => {
                    self.i += 1;
                    return Some(out);
                }
                _ => return None,
            }
        }
    }

    /// `[f, key, arg]` with `f` a string.
    fn mop(&mut self) -> Option<ReadMop> {
        self.eat(b'[')?;
        let f = match self.atom()? {
            Atom::Other(Value::String(s)) => ReadF::named(&s),
            _ => return None,
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
        let mut atoms = Vec::new();
        if self.eat(b']').is_none() {
            loop {
                atoms.push(self.atom()?);
                match self.peek()? {
                    b',' => self.i += 1,
                    b']' => {
                        self.i += 1;
                        break;
                    }
                    _ => return None,
                }
            }
        }
        let ints: Option<Vec<i64>> = atoms
            .iter()
            .map(|a| match a {
                Atom::Int(i) => Some(*i),
                Atom::Other(_) => None,
            })
            .collect();
        Some(match ints {
            Some(is) => ReadArg::Ints(is),
            None => ReadArg::List(atoms),
        })
    }

    /// A number, string, `null`, `true` or `false`; `None` for anything
    /// else (a collection, a string with escapes).
    fn atom(&mut self) -> Option<Atom> {
        let start = {
            self.peek()?;
            self.i
        };
        let first = self.b[start];
        if first == b'"' {
            let len = self.b[start + 1..].iter().position(|&c| c == b'"')?;
            let s = &self.b[start + 1..start + 1 + len];
            if s.contains(&b'\\') {
                return None;
            }
            self.i = start + len + 2;
            let s = std::str::from_utf8(s).ok()?;
            return Some(Atom::Other(Value::String(s.to_string())));
        }
        let len = self.b[start..]
            .iter()
            .position(|&c| matches!(c, b',' | b']' | b'[' | b'{' | b'}') || c.is_ascii_whitespace())
            .unwrap_or(self.b.len() - start);
        let tok = &self.b[start..start + len];
        self.i = start + len;
        let digits = tok.strip_prefix(b"-").unwrap_or(tok);
        if !digits.is_empty() && digits.len() <= 18 && digits.iter().all(u8::is_ascii_digit) {
            let n = digits
                .iter()
                .fold(0i64, |n, &d| n * 10 + i64::from(d - b'0'));
            return Some(Atom::Int(if tok[0] == b'-' { -n } else { n }));
        }
        let v: Value = serde_json::from_slice(tok).ok()?;
        (!v.is_array() && !v.is_object()).then_some(Atom::Other(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn micro_ops_are_read_as_such_and_anything_else_as_json() {
        let text = r#"[["append", 5, 3], ["r", 6, [1, 2, -3]], ["r", "k", null], ["r", 7, [1, "x", 2.5]]]"#;
        let v = from_json(text);
        assert!(matches!(v, TxnValue::Mops(_)), "{v:?}");
        assert_eq!(v.to_value(), serde_json::from_str::<Value>(text).unwrap());
        for odd in [
            r#"[["append", 5]]"#,
            r#"[["r", 5, [[1]]]]"#,
            r#"{"a": 1}"#,
            r#"[["r", "a\"b", null]]"#,
            r#"[["append", 5, 99999999999999999999]]"#,
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
}
