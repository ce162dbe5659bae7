//! Jepsen's EDN histories, as Jepsen (`store/history.edn`), Knossos
//! (`data/*.edn`) and Elle (`histories/*.edn`) write them, and Porcupine's
//! kv test data (`test_data/kv`, EDN maps with `:key`).
//!
//! A file is either one collection, `[...]` or `(...)`, of op maps, or op
//! maps one after another. Either way the reader streams: it parses one op
//! map at a time (inside the outer collection, element by element) and
//! converts it, so only one op's text is ever held.
//!
//! Defaults for minimal histories (Elle's `paper-example.edn` has only
//! `:index`, `:type` and `:value`): a missing `:index` is the op's
//! position; a missing `:f` on an op whose value is a vector is `txn`; a
//! missing `:process` is assigned so that pairing stays valid (see
//! [`convert::ProcessDefaults`]: a fresh id per invocation, completions
//! paired first in, first out). A map with `:key` becomes Jepsen's
//! independent-key op: `value = [key, value]`. Other unknown keys are
//! ignored.

mod convert;
mod parse;
mod scan;
mod split;

use super::ReadError;
use crate::elle::mops::TxnValue;
use crate::history::{History, HistoryError, HistoryErrorKind, Op};
pub(super) use convert::ProcessDefaults;
use convert::{op_from_fields, op_from_value, Converted, Fields};
use parse::{ParseError, Parser};
use serde_json::Value;
pub(crate) use split::find_seam;
use split::{Seam, Tail};
use std::io::BufRead;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;

/// Reads an EDN history; `porcupine` demands `:key` on every client op.
pub(super) fn read<R: BufRead>(
    reader: R,
    source: &str,
    porcupine: bool,
) -> Result<History, ReadError> {
    let mut h = History::new(source);
    let defaults = read_into(reader, source, porcupine, &mut |op, line| h.push(op, line))?;
    defaults.apply(&mut h);
    Ok(h)
}

/// [`read`] on two threads: `head` is the input from its start, `tail`
/// the same input from byte `at` on, a seam (a line that starts with `{`,
/// see [`split::find_seam`]). The result, ops, lines and errors, is the
/// one-thread reader's whatever `at` is; see [`split`] for why.
pub(super) fn read_split<R: BufRead, T: BufRead + Send>(
    head: R,
    tail: T,
    at: u64,
    source: &str,
    porcupine: bool,
) -> Result<History, ReadError> {
    let stop = AtomicBool::new(false);
    let (tx, rx) = mpsc::sync_channel(1);
    std::thread::scope(|s| {
        let stop = &stop;
        let spawned = std::thread::Builder::new()
            .name("tail reader".into())
            .spawn_scoped(s, move || {
                let _ = tx.send(split::read_tail(tail, porcupine, stop));
            });
        // Without the thread (the system is out of them), the head reader
        // reads alone.
        let seam = spawned.is_ok().then_some(Seam { at, stop, tail: rx });
        let mut h = History::new(source);
        let read = read_ops(
            Parser::new(head),
            source,
            porcupine,
            seam,
            &mut |op, _, line| h.push(op, line),
        );
        // Ended before the seam (an error), or the seam was met: either
        // way the tail reader has nothing left to do.
        stop.store(true, Ordering::Relaxed);
        read?.apply(&mut h);
        Ok(h)
    })
}

/// [`read`] by the general parser alone, never the fast path: the
/// reference the fast path is tested against.
pub(super) fn read_general<R: BufRead>(
    reader: R,
    source: &str,
    porcupine: bool,
) -> Result<History, ReadError> {
    let mut h = History::new(source);
    let mut p = Parser::new(reader);
    p.scan = false;
    let defaults = read_ops(p, source, porcupine, None, &mut |op, _, line| {
        h.push(op, line)
    })?;
    defaults.apply(&mut h);
    Ok(h)
}

/// Reads an EDN history op by op into `sink`; the process ids of ops
/// whose map had none are known only at the end: the caller applies the
/// returned defaults to the history it built.
pub(super) fn read_into<R: BufRead>(
    reader: R,
    source: &str,
    porcupine: bool,
    sink: &mut dyn FnMut(Op, u32),
) -> Result<ProcessDefaults, ReadError> {
    read_ops(
        Parser::new(reader),
        source,
        porcupine,
        None,
        &mut |op, _, line| sink(op, line),
    )
}

/// Reads an EDN history op by op into `sink`, each op's value as
/// micro-ops ([`TxnValue`], read from the text) and the op's own value
/// left null; see [`read_into`] for the returned defaults.
pub(super) fn read_txns_into<R: BufRead>(
    reader: R,
    source: &str,
    porcupine: bool,
    sink: &mut dyn FnMut(Op, TxnValue, u32),
) -> Result<ProcessDefaults, ReadError> {
    let mut p = Parser::new(reader);
    // Porcupine's `:key` wraps the value: read it as JSON, then.
    p.txn_values = !porcupine;
    read_ops(p, source, porcupine, None, &mut |mut op, value, line| {
        let json = std::mem::take(&mut op.value);
        sink(op, value.unwrap_or(TxnValue::Json(json)), line)
    })
}

/// Reads every op through `sink`; with a `seam`, the ops from there on
/// may come from its tail reader.
fn read_ops<R: BufRead>(
    p: Parser<R>,
    source: &str,
    porcupine: bool,
    seam: Option<Seam<'_>>,
    sink: &mut dyn FnMut(Op, Option<TxnValue>, u32),
) -> Result<ProcessDefaults, ReadError> {
    let mut r = OpReader {
        p,
        source,
        count: 0,
        sink,
        defaults: ProcessDefaults::default(),
        porcupine,
        fields: Fields::default(),
        seam,
    };
    match r.read_all() {
        Ok(()) => Ok(r.defaults),
        Err(e) => Err(r.fail(e)),
    }
}

/// What went wrong while reading: the text, or an op in it.
enum Fault {
    Syntax(ParseError),
    BadOp(u32, String),
}

impl From<ParseError> for Fault {
    fn from(e: ParseError) -> Self {
        Fault::Syntax(e)
    }
}

fn syntax(line: u32, msg: impl Into<String>) -> Fault {
    Fault::Syntax(ParseError {
        line,
        msg: msg.into(),
    })
}

struct OpReader<'a, R> {
    p: Parser<R>,
    source: &'a str,
    count: usize,
    sink: &'a mut dyn FnMut(Op, Option<TxnValue>, u32),
    defaults: ProcessDefaults,
    porcupine: bool,
    /// The op map being read, reused.
    fields: Fields,
    /// Where a tail reader started, until this reader reaches it.
    seam: Option<Seam<'a>>,
}

impl<R: BufRead> OpReader<'_, R> {
    fn read_all(&mut self) -> Result<(), Fault> {
        let Some(first) = self.p.skip_blank() else {
            return Ok(());
        };
        if first != b'[' && first != b'(' {
            return self.ops_until(None).map(drop);
        }
        let open_line = self.p.src.line();
        self.p.src.bump();
        if self.ops_until(Some((first, open_line)))? {
            // The tail reader read the rest, closing bracket and all.
            return Ok(());
        }
        match self.p.skip_blank() {
            None => Ok(()),
            Some(_) => Err(syntax(
                self.p.src.line(),
                "text after the history's closing bracket",
            )),
        }
    }

    /// Ops up to the bracket closing `outer` (`None`: up to the end);
    /// true when they ended with a tail reader's, which read that far.
    fn ops_until(&mut self, outer: Option<(u8, u32)>) -> Result<bool, Fault> {
        let close = outer.map(|(open, _)| if open == b'[' { b']' } else { b')' });
        loop {
            let next = self.p.skip_blank();
            if next.is_some() && self.at_seam() {
                if let Some(tail) = self.meet_seam() {
                    if tail.close == close {
                        self.stitch(tail)?;
                        return Ok(true);
                    }
                }
            }
            match (next, outer) {
                (None, None) => return Ok(false),
                (None, Some((open, at))) => {
                    let msg = format!("`{}` opened here is never closed", open as char);
                    return Err(syntax(at, msg));
                }
                (Some(c), _) if Some(c) == close => {
                    self.p.src.bump();
                    return Ok(false);
                }
                (Some(b'{'), _) => {
                    // The common case, an op map, is read straight into its
                    // fields, with no map or key strings built.
                    let line = self.p.src.line();
                    self.p.op_map(&mut self.fields)?;
                    let c = op_from_fields(&mut self.fields, self.count, self.porcupine);
                    self.push(c, line)?;
                }
                (Some(_), _) => {
                    let line = self.p.src.line();
                    if let Some(v) = self.p.item()? {
                        self.push(op_from_value(v, self.count, self.porcupine), line)?;
                    }
                }
            }
        }
    }

    /// True when this reader has reached or passed the seam.
    fn at_seam(&self) -> bool {
        let offset = self.p.src.offset();
        self.seam.as_ref().is_some_and(|s| offset >= s.at)
    }

    /// The tail reader's ops, if this reader's next element starts
    /// exactly at the seam; the seam is gone either way.
    fn meet_seam(&mut self) -> Option<Tail> {
        let offset = self.p.src.offset();
        self.seam.take()?.meet(offset)
    }

    /// Takes the tail reader's ops as if read here: their lines counted
    /// on from this reader's.
    fn stitch(&mut self, tail: Tail) -> Result<(), Fault> {
        let lines_before = self.p.src.line() - 1;
        for (c, line) in tail.ops {
            self.push(Ok(c), line.saturating_add(lines_before))?;
        }
        Ok(())
    }

    fn push(&mut self, c: Result<Converted, String>, line: u32) -> Result<(), Fault> {
        let position = self.count;
        let c = c.map_err(|m| Fault::BadOp(line, m))?;
        self.defaults.note(position, &c);
        self.count += 1;
        let mut op = c.op;
        let mut value = self.p.txn_value.take();
        if c.keyed {
            // `:key` made it an independent op, `[key, value]`: the
            // micro-ops go back into the op, as whole reads have them.
            if let (Some(v), Value::Array(kv)) = (value.take(), &mut op.value) {
                kv[1] = v.to_value();
            }
        }
        (self.sink)(op, value, line);
        Ok(())
    }

    /// The error to return: an I/O error if the reader failed, else `e`.
    fn fail(&mut self, e: Fault) -> ReadError {
        if let Some(source) = self.p.src.take_error() {
            return ReadError::Io {
                path: PathBuf::from(self.source),
                source,
            };
        }
        let (line, kind) = match e {
            Fault::Syntax(e) => (e.line, HistoryErrorKind::Syntax(e.msg)),
            Fault::BadOp(line, m) => (line, HistoryErrorKind::BadOp(m)),
        };
        ReadError::History(HistoryError {
            file: self.source.to_string(),
            line: Some(line),
            kind,
        })
    }
}

/// True when the first op map in `head` (EDN text, maybe cut short) has a
/// `:key` entry: Porcupine's kv format.
pub(super) fn first_map_has_key(head: &[u8]) -> bool {
    let mut p = Parser::new(head);
    if p.skip_blank() != Some(b'{') {
        return false;
    }
    matches!(p.item(), Ok(Some(serde_json::Value::Object(m))) if m.contains_key("key"))
}

#[cfg(test)]
mod tests;
