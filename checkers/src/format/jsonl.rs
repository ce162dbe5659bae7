//! The native history file, `history.jsonl`: one [`Op`] as a JSON object
//! per line (Jepsen's op map in JSON), written while a run goes and read
//! back line by line. Blank lines are skipped; unknown fields are ignored;
//! a missing `index` is the op's position. A last line without its newline
//! that ends before its JSON does is a record cut short by a writer killed
//! mid-line (`kill -9` of a run): it is skipped and reported in
//! [`History::torn_line`], so a hard-killed run can still be checked.

use super::{json_scan, ReadError};
use crate::elle::mops::TxnValue;
use crate::history::{History, HistoryError, HistoryErrorKind, Op, OpType, Process};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;
use std::io::{self, BufRead, BufWriter, Write};
use std::path::PathBuf;

/// An op line as written, with `index` optional.
#[derive(Deserialize)]
struct Line {
    index: Option<u64>,
    time: Option<u64>,
    process: Process,
    #[serde(rename = "type")]
    kind: OpType,
    f: String,
    #[serde(default)]
    value: Value,
    node: Option<String>,
    error: Option<Value>,
    #[serde(default, rename = "final", alias = "final?")]
    is_final: bool,
}

/// Reads a JSON Lines history, one line at a time.
pub(super) fn read<R: BufRead>(reader: R, source: &str) -> Result<History, ReadError> {
    let mut h = History::new(source);
    h.torn_line = read_into(reader, source, &mut |op, line| h.push(op, line))?;
    Ok(h)
}

/// Reads a JSON Lines history op by op into `sink`; returns the line of a
/// last record cut short, if one was.
pub(super) fn read_into<R: BufRead>(
    reader: R,
    source: &str,
    sink: &mut dyn FnMut(Op, u32),
) -> Result<Option<u32>, ReadError> {
    let mut ops = OpStream::new(reader, source);
    for item in ops.by_ref() {
        let (op, line) = item?;
        sink(op, line);
    }
    Ok(ops.torn_line)
}

/// The ops of a JSON Lines history with their 1-based lines, read on
/// demand: only the current line's text is held, so a history of any size
/// streams through in constant memory. A last line cut short ends the
/// stream and shows in [`OpStream::torn_line`].
pub struct OpStream<R> {
    reader: R,
    source: String,
    buf: Vec<u8>,
    line: u32,
    position: usize,
    done: bool,
    torn_line: Option<u32>,
    /// The scanner's reused buffer.
    scratch: Vec<i64>,
}

impl<R: BufRead> OpStream<R> {
    /// Ops from `reader`; `source` names it in errors.
    pub fn new(reader: R, source: &str) -> Self {
        OpStream {
            reader,
            source: source.to_string(),
            buf: Vec::new(),
            line: 0,
            position: 0,
            done: false,
            torn_line: None,
            scratch: Vec::new(),
        }
    }

    /// The line of a last record cut short, once the stream has ended.
    pub fn torn_line(&self) -> Option<u32> {
        self.torn_line
    }

    fn next_op(&mut self) -> Result<Option<(Op, u32)>, ReadError> {
        self.next_with(parse_line)
    }

    /// The next non-blank line, parsed by `parse` (given the op's
    /// position); `None` at the end, or at a last line cut short.
    pub(super) fn next_with<T>(
        &mut self,
        parse: impl FnOnce(&[u8], usize) -> Result<T, BadLine>,
    ) -> Result<Option<(T, u32)>, ReadError> {
        loop {
            self.buf.clear();
            let n = self
                .reader
                .read_until(b'\n', &mut self.buf)
                .map_err(|e| ReadError::Io {
                    path: PathBuf::from(&self.source),
                    source: e,
                })?;
            if n == 0 {
                return Ok(None);
            }
            self.line = self.line.saturating_add(1);
            if !self.buf.iter().all(u8::is_ascii_whitespace) {
                break;
            }
        }
        let op = match parse(&self.buf, self.position) {
            Ok(op) => op,
            // Only the last line can lack its newline (`read_until` stops
            // short of one at the end of the input alone), and a record
            // cut short ends before its JSON does.
            Err(BadLine { cut: true, .. }) if self.buf.last() != Some(&b'\n') => {
                self.torn_line = Some(self.line);
                return Ok(None);
            }
            Err(BadLine { kind, .. }) => {
                return Err(HistoryError {
                    file: self.source.clone(),
                    line: Some(self.line),
                    kind,
                }
                .into())
            }
        };
        self.position += 1;
        Ok(Some((op, self.line)))
    }
}

impl<R: BufRead> OpStream<R> {
    /// The next line scanned in place in the reader's buffer (see
    /// [`json_scan::op_line`]); `None`, with nothing consumed, when the
    /// scanner leaves it to serde or the line does not end in the buffer.
    fn scan_txn_line(&mut self) -> Option<(Op, TxnValue, u32)> {
        let buf = self.reader.fill_buf().ok()?;
        let (op, value, used) = json_scan::op_line(buf, self.position, &mut self.scratch)?;
        self.reader.consume(used);
        self.line = self.line.saturating_add(1);
        self.position += 1;
        Some((op, value, self.line))
    }
}

impl<R: BufRead> Iterator for OpStream<R> {
    type Item = Result<(Op, u32), ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let r = self.next_op().transpose();
        self.done = !matches!(r, Some(Ok(_)));
        r
    }
}

/// Reads a JSON Lines history op by op into `sink`, each op's value as
/// micro-ops ([`TxnValue`], read from the value's text) and the op's own
/// value left null; returns the line of a last record cut short.
pub(super) fn read_txns_into<R: BufRead>(
    reader: R,
    source: &str,
    sink: &mut dyn FnMut(Op, TxnValue, u32),
) -> Result<Option<u32>, ReadError> {
    let mut ops = OpStream::new(reader, source);
    loop {
        // The scanner takes only lines that end in a newline: a last
        // record cut short is left to `next_with`, which reports it.
        if let Some((op, value, line)) = ops.scan_txn_line() {
            sink(op, value, line);
            continue;
        }
        match ops.next_with(parse_txn_line)? {
            Some(((op, value), line)) => sink(op, value, line),
            None => return Ok(ops.torn_line),
        }
    }
}

/// An op line with its value left as text.
#[derive(Deserialize)]
struct RawLine<'a> {
    index: Option<u64>,
    time: Option<u64>,
    process: Process,
    #[serde(rename = "type")]
    kind: OpType,
    f: String,
    #[serde(borrow, default)]
    value: Option<&'a RawValue>,
    node: Option<String>,
    error: Option<Value>,
    #[serde(default, rename = "final", alias = "final?")]
    is_final: bool,
}

fn parse_txn_line(text: &[u8], position: usize) -> Result<(Op, TxnValue), BadLine> {
    let l: RawLine = serde_json::from_slice(text).map_err(kind_of)?;
    let value = l.value.map_or(TxnValue::Json(Value::Null), |raw| {
        json_scan::from_json(raw.get())
    });
    let op = Op {
        index: l.index.unwrap_or(position as u64),
        time: l.time,
        process: l.process,
        kind: l.kind,
        f: l.f,
        value: Value::Null,
        node: l.node,
        error: l.error,
        is_final: l.is_final,
    };
    Ok((op, value))
}

/// A line that is not an op: what is wrong, and whether its text ended
/// before its JSON did (a record cut short, when it is the last line).
pub(super) struct BadLine {
    kind: HistoryErrorKind,
    cut: bool,
}

fn kind_of(e: serde_json::Error) -> BadLine {
    let kind = if e.is_data() {
        HistoryErrorKind::BadOp(e.to_string())
    } else {
        HistoryErrorKind::Syntax(e.to_string())
    };
    BadLine {
        kind,
        cut: e.is_eof(),
    }
}

/// One line as an op at `position`.
fn parse_line(text: &[u8], position: usize) -> Result<Op, BadLine> {
    let l: Line = serde_json::from_slice(text).map_err(kind_of)?;
    Ok(Op {
        index: l.index.unwrap_or(position as u64),
        time: l.time,
        process: l.process,
        kind: l.kind,
        f: l.f,
        value: l.value,
        node: l.node,
        error: l.error,
        is_final: l.is_final,
    })
}

/// Writes ops as JSON Lines as they happen (the run's recorder uses it):
/// one JSON object and a newline per op, buffered until [`flush`].
///
/// [`flush`]: JsonlWriter::flush
pub struct JsonlWriter<W: Write> {
    out: BufWriter<W>,
}

impl<W: Write> JsonlWriter<W> {
    /// A writer onto `w`; it buffers, so `w` need not.
    pub fn new(w: W) -> Self {
        JsonlWriter {
            out: BufWriter::new(w),
        }
    }

    /// Appends one op as a line.
    pub fn write(&mut self, op: &Op) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, op)?;
        self.out.write_all(b"\n")
    }

    /// Pushes buffered lines through to the underlying writer.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// The underlying writer (buffered lines not yet in it).
    pub fn get_mut(&mut self) -> &mut W {
        self.out.get_mut()
    }

    /// Flushes and returns the underlying writer.
    pub fn into_inner(self) -> io::Result<W> {
        self.out.into_inner().map_err(|e| e.into_error())
    }
}

/// Writes a whole history as JSON Lines.
pub fn write_jsonl<W: Write>(h: &History, w: W) -> io::Result<()> {
    let mut out = JsonlWriter::new(w);
    for op in &h.ops {
        out.write(op)?;
    }
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::io::{BufReader, Read};

    fn read_str(text: &str) -> Result<History, ReadError> {
        read(text.as_bytes(), "h.jsonl")
    }

    fn line_of(e: ReadError) -> (Option<u32>, String) {
        let s = e.to_string();
        match e {
            ReadError::History(h) => (h.line, s),
            ReadError::Io { .. } => (None, s),
        }
    }

    #[test]
    fn reads_ops_skipping_blank_lines_and_defaulting_index() {
        let text = "{\"process\":0,\"type\":\"invoke\",\"f\":\"read\"}\n\n  \n\
                    {\"index\":7,\"process\":\"nemesis\",\"type\":\"info\",\"f\":\"kill\",\"extra\":1}";
        let h = read_str(text).unwrap();
        assert_eq!(h.len(), 2);
        assert_eq!(h.ops[0].index, 0);
        assert_eq!(h.ops[0].value, json!(null));
        assert_eq!(h.ops[1].index, 7);
        assert!(h.ops[1].is_nemesis());
        assert_eq!(h.lines, vec![1, 4]);
    }

    #[test]
    fn reads_the_final_mark() {
        let text = "{\"process\":0,\"type\":\"invoke\",\"f\":\"read\",\"final\":true}\n\
                    {\"process\":0,\"type\":\"ok\",\"f\":\"read\",\"final?\":true}\n\
                    {\"process\":1,\"type\":\"invoke\",\"f\":\"read\"}";
        let h = read_str(text).unwrap();
        let marks: Vec<bool> = h.ops.iter().map(|o| o.is_final).collect();
        assert_eq!(marks, vec![true, true, false]);
        let mut out = Vec::new();
        write_jsonl(&h, &mut out).unwrap();
        assert_eq!(read(&out[..], "again").unwrap().ops, h.ops);
    }

    #[test]
    fn errors_name_the_file_and_line() {
        let good = r#"{"process":0,"type":"invoke","f":"read"}"#;
        let (line, msg) = line_of(read_str(&format!("{good}\n{{\"process\":0,\n")).unwrap_err());
        assert_eq!(line, Some(2));
        assert!(msg.starts_with("h.jsonl:2: syntax error: "), "{msg}");
        let (line, msg) = line_of(
            read_str(&format!("{good}\n\n{}", good.replace("invoke", "done"))).unwrap_err(),
        );
        assert_eq!(line, Some(3));
        assert!(
            msg.starts_with("h.jsonl:3: bad op: unknown variant `done`"),
            "{msg}"
        );
        let (line, msg) = line_of(read_str(r#"{"process":"x","type":"ok","f":"r"}"#).unwrap_err());
        assert_eq!(line, Some(1));
        assert!(msg.contains("bad op"), "{msg}");
        let (line, _) = line_of(read(&b"\xff\xfe\x00garbage\n"[..], "h.jsonl").unwrap_err());
        assert_eq!(line, Some(1));
    }

    #[test]
    fn a_last_line_cut_short_is_skipped_and_reported() {
        let whole = "{\"process\":0,\"type\":\"invoke\",\"f\":\"read\"}\n\
                     {\"process\":0,\"type\":\"ok\",\"f\":\"read\",\"value\":1}\n";
        for cut in [
            "{\"process\":1,\"type\":\"inv",
            "{",
            "{\"process\":1,\"value\":[1,",
        ] {
            let h = read_str(&format!("{whole}{cut}")).unwrap();
            assert_eq!((h.len(), h.torn_line), (2, Some(3)), "{cut:?}");
        }
        // A whole last line without its newline is a record, not a cut,
        // and one that is whole but wrong is an error.
        let h = read_str(whole.trim_end()).unwrap();
        assert_eq!((h.len(), h.torn_line), (2, None));
        let wrong = format!("{whole}{{\"process\":1,\"type\":\"done\",\"f\":\"r\"}}");
        let (line, _) = line_of(read_str(&wrong).unwrap_err());
        assert_eq!(line, Some(3));
        // A bad line with its newline is an error even at the end: only a
        // writer killed mid-line leaves a line without one.
        let (line, _) = line_of(read_str(&format!("{whole}{{\"process\":1\n")).unwrap_err());
        assert_eq!(line, Some(3));
        let (line, _) = line_of(read_str(&format!("{{nope\n{whole}")).unwrap_err());
        assert_eq!(line, Some(1));
    }

    #[test]
    fn writes_what_it_reads() {
        let h = History::from_ops(
            "mem",
            vec![
                Op::new(0, OpType::Invoke, "write", json!(3)).at(5),
                Op::new(0, OpType::Ok, "write", json!(3)).at(9),
            ],
        );
        let mut out = Vec::new();
        write_jsonl(&h, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.lines().count(), 2);
        assert_eq!(read_str(&text).unwrap().ops, h.ops);
        let mut w = JsonlWriter::new(Vec::new());
        w.write(&h.ops[0]).unwrap();
        assert_eq!(w.into_inner().unwrap().last(), Some(&b'\n'));
    }

    /// Produces `ops` op lines lazily and counts what it hands out, so the
    /// file never exists as a whole.
    struct Generated {
        next: usize,
        ops: usize,
        pending: Vec<u8>,
        served: usize,
    }

    impl Read for Generated {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.pending.is_empty() && self.next < self.ops {
                let kind = ["invoke", "ok"][self.next % 2];
                let op = json!({"process": self.next / 2 % 10, "type": kind, "f": "write", "value": self.next});
                self.pending = format!("{op}\n").into_bytes();
                self.next += 1;
            }
            let n = buf.len().min(self.pending.len());
            buf[..n].copy_from_slice(&self.pending[..n]);
            self.pending.drain(..n);
            self.served += n;
            Ok(n)
        }
    }

    #[test]
    fn reads_a_large_history_as_a_stream() {
        let ops = 200_000;
        let gen = || Generated {
            next: 0,
            ops,
            pending: Vec::new(),
            served: 0,
        };
        let mut src = gen();
        let mut it = OpStream::new(BufReader::with_capacity(4096, &mut src), "gen.jsonl");
        let (first, line) = it.next().unwrap().unwrap();
        assert_eq!((first.value, line), (json!(0), 1));
        drop(it);
        // The first op came out after one buffer's worth, not the file.
        assert!(
            src.served <= 4096,
            "served {} bytes before the first op",
            src.served
        );
        let mut src = gen();
        let h = read(BufReader::with_capacity(4096, &mut src), "gen.jsonl").unwrap();
        assert_eq!(h.len(), ops);
        assert_eq!(h.ops[ops - 1].value, json!(ops - 1));
        assert_eq!(h.lines[ops - 1] as usize, ops);
        assert!(src.served > 10_000_000, "served {} bytes", src.served);
        assert_eq!(h.operations().unwrap().len(), ops / 2);
    }
}
