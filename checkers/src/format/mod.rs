//! History file formats: reading Jepsen-family histories into a
//! [`History`], and writing ours.
//!
//! Owns the native JSON Lines file (`history.jsonl`, one [`Op`] a line, as
//! Jepsen's op maps in JSON), Jepsen's EDN (`history.edn` as Jepsen, Knossos
//! and Elle write it), Porcupine's kv test files (EDN maps with `:key`, read
//! with Jepsen's independent-key convention `value = [key, value]`), and CSV
//! export. Readers stream: they hold one op's text at a time, never the
//! whole file, and every error names the file and 1-based line.
//!
//! [`Op`]: crate::history::Op

mod csv_export;
mod edn;
mod json_scan;
mod jsonl;
mod pipe;
mod source;

pub use csv_export::{write_csv, CsvWriter, CSV_COLUMNS};
pub use jsonl::{write_jsonl, JsonlWriter, OpStream};

use crate::elle::mops::TxnValue;
use crate::history::{History, HistoryError, Op};
use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// How much of a file [`read_path`] looks at to guess its format.
const SNIFF_BYTES: usize = 64 * 1024;
/// EDN files from this size on are read on two threads ([`read_path`]).
const SPLIT_BYTES: u64 = 4 << 20;
/// How far past the middle of a file a seam for the second thread is
/// looked for.
const SEAM_WINDOW: u64 = 64 * 1024;

/// A history file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// Native JSON Lines: one JSON op object per line.
    Jsonl,
    /// Jepsen EDN: one collection of op maps, or bare op maps.
    Edn,
    /// Porcupine's kv test data: EDN op maps that each carry `:key`.
    PorcupineKv,
}

impl Format {
    /// The name `FromStr` accepts and `Display` prints.
    pub fn name(self) -> &'static str {
        match self {
            Format::Jsonl => "jsonl",
            Format::Edn => "edn",
            Format::PorcupineKv => "porcupine-kv",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A format name that is not one of ours.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown history format {0:?} (expected jsonl, json, edn or porcupine-kv)")]
pub struct UnknownFormat(pub String);

impl FromStr for Format {
    type Err = UnknownFormat;

    fn from_str(s: &str) -> Result<Format, UnknownFormat> {
        match s.to_ascii_lowercase().as_str() {
            "jsonl" | "json" => Ok(Format::Jsonl),
            "edn" => Ok(Format::Edn),
            "porcupine-kv" => Ok(Format::PorcupineKv),
            _ => Err(UnknownFormat(s.to_string())),
        }
    }
}

/// A history that could not be read: the file could not be opened or read,
/// or its text is not a history.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Opening or reading failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file (or label) being read.
        path: PathBuf,
        /// What the OS said.
        source: io::Error,
    },
    /// The text is malformed or an op makes no sense (file and line inside).
    #[error(transparent)]
    History(#[from] HistoryError),
}

impl ReadError {
    /// The underlying history error, when the text (not the I/O) was at
    /// fault.
    pub fn as_history(&self) -> Option<&HistoryError> {
        match self {
            ReadError::History(e) => Some(e),
            ReadError::Io { .. } => None,
        }
    }
}

/// Guesses a file's format from its first bytes.
///
/// The first byte that is not whitespace, a comma or inside a `;` comment
/// decides: `[` or `(` is EDN; `{` is JSON Lines when the first line is a
/// JSON object with `"type"` (or, when the head is cut short, when the map's
/// first key is a JSON string), Porcupine kv when it is an EDN map with a
/// `:key` entry, EDN otherwise. Anything else is taken as JSON Lines, whose
/// reader then reports what is wrong on line 1.
pub fn detect(head: &[u8]) -> Format {
    let rest = skip_blank_and_comments(head);
    match rest.first() {
        Some(b'[' | b'(') => Format::Edn,
        Some(b'{') if looks_like_json_op(rest) => Format::Jsonl,
        Some(b'{') if edn::first_map_has_key(rest) => Format::PorcupineKv,
        Some(b'{') => Format::Edn,
        _ => Format::Jsonl,
    }
}

fn skip_blank_and_comments(mut s: &[u8]) -> &[u8] {
    loop {
        match s.first() {
            Some(c) if c.is_ascii_whitespace() || *c == b',' => s = &s[1..],
            Some(b';') => {
                let end = s.iter().position(|&c| c == b'\n').unwrap_or(s.len());
                s = &s[end..];
            }
            _ => return s,
        }
    }
}

fn looks_like_json_op(s: &[u8]) -> bool {
    let line = match s.iter().position(|&c| c == b'\n') {
        Some(end) => &s[..end],
        None => s,
    };
    match serde_json::from_slice::<serde_json::Value>(line) {
        Ok(v) => v.get("type").is_some(),
        // A first line longer than the head: JSON keys are strings, Jepsen's
        // EDN keys are keywords.
        Err(e) if e.is_eof() => skip_blank_and_comments(&line[1..]).first() == Some(&b'"'),
        Err(_) => false,
    }
}

/// Reads the history in `path`; `format` `None` guesses it with [`detect`].
///
/// A large EDN file is read on two threads, from its start and from a
/// line part way in, with the same result as one thread's read (see the
/// EDN reader's `split` module).
pub fn read_path(path: &Path, format: Option<Format>) -> Result<History, ReadError> {
    let (reader, format) = open(path, format)?;
    let source = path.display().to_string();
    match tail_reader(path, format) {
        Some((tail, at)) => {
            edn::read_split(reader, tail, at, &source, format == Format::PorcupineKv)
        }
        None => read(reader, &source, format),
    }
}

/// A second reader of the EDN file at `path`, from a seam past its
/// middle, and the seam's offset; `None` for small files, other formats
/// and anything but a regular file, when no seam is found, or when the
/// file cannot be read again (the one-thread reader then says why).
fn tail_reader(path: &Path, format: Format) -> Option<(BufReader<File>, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    if format == Format::Jsonl || !meta.is_file() || meta.len() < SPLIT_BYTES {
        return None;
    }
    let mut file = File::open(path).ok()?;
    let middle = meta.len() / 2;
    file.seek(SeekFrom::Start(middle)).ok()?;
    let mut window = Vec::new();
    (&mut file)
        .take(SEAM_WINDOW)
        .read_to_end(&mut window)
        .ok()?;
    let at = middle + edn::find_seam(&window)? as u64;
    file.seek(SeekFrom::Start(at)).ok()?;
    Some((BufReader::with_capacity(SNIFF_BYTES, file), at))
}

/// [`read`] on two threads, the second one starting at byte `at` of
/// `text`, as [`read_path`] reads a large EDN file (JSON Lines is read on
/// one): for tests and fuzzing, which compare it with [`read`] for every
/// `at`.
#[doc(hidden)]
pub fn read_split_at(
    text: &[u8],
    at: usize,
    source: &str,
    format: Format,
) -> Result<History, ReadError> {
    let tail = text.get(at..).unwrap_or_default();
    match format {
        Format::Jsonl => jsonl::read(text, source),
        Format::Edn => edn::read_split(text, tail, at as u64, source, false),
        Format::PorcupineKv => edn::read_split(text, tail, at as u64, source, true),
    }
}

/// Reads the history in `path` like [`read_path`], calling `visit` on
/// every op, with its position, before it is stored: a caller that keeps
/// what it needs of a value elsewhere may take it out of the op, so the
/// history never holds all values at once. The file is parsed on a second
/// thread while `visit` runs on this one. Ops whose EDN map had no
/// `:process` reach `visit` with process 0; the history gets their
/// assigned ids.
pub fn read_path_with(
    path: &Path,
    format: Option<Format>,
    visit: &mut dyn FnMut(usize, &mut Op),
) -> Result<History, ReadError> {
    let (reader, format) = open(path, format)?;
    let source = path.display().to_string();
    pipe::read_with(reader, &source, pipe::ops(format), &mut |i, op, ()| {
        visit(i, op)
    })
}

/// Reads a transactional history in `format` from `reader` like
/// [`read_path_with`], handing `visit` each op's value as micro-ops read
/// straight from the text (the op's own value is left null): Elle's
/// loader, which never builds JSON values.
pub(crate) fn read_txns<R: BufRead + Send>(
    reader: R,
    source: &str,
    format: Format,
    visit: &mut dyn FnMut(usize, &mut Op, &TxnValue),
) -> Result<History, ReadError> {
    pipe::read_with(reader, source, pipe::txns(format), visit)
}

/// The file at `path`, buffered, and its format (`format`, or detected).
pub(crate) fn open_path(
    path: &Path,
    format: Option<Format>,
) -> Result<(BufReader<File>, Format), ReadError> {
    open(path, format)
}

/// The file at `path`, buffered, and its format (`format`, or detected).
fn open(path: &Path, format: Option<Format>) -> Result<(BufReader<File>, Format), ReadError> {
    let io_err = |source| ReadError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(io_err)?;
    let mut reader = BufReader::with_capacity(SNIFF_BYTES, file);
    let format = match format {
        Some(f) => f,
        None => detect(reader.fill_buf().map_err(io_err)?),
    };
    Ok((reader, format))
}

/// The ops of the history in `path` one at a time, when it is JSON Lines
/// (`format` `None` guesses); `None` for the other formats, which are
/// read whole ([`read_path`]).
pub fn stream_path(
    path: &Path,
    format: Option<Format>,
) -> Result<Option<OpStream<BufReader<File>>>, ReadError> {
    let (reader, format) = open(path, format)?;
    Ok((format == Format::Jsonl).then(|| OpStream::new(reader, &path.display().to_string())))
}

/// Reads a history in `format` from `reader`; `source` names it in errors
/// (a path, or a label such as `<stdin>`).
pub fn read<R: BufRead>(reader: R, source: &str, format: Format) -> Result<History, ReadError> {
    match format {
        Format::Jsonl => jsonl::read(reader, source),
        Format::Edn => edn::read(reader, source, false),
        Format::PorcupineKv => edn::read(reader, source, true),
    }
}

/// Reads a history like [`read`], but by the general parsers alone,
/// never the fast paths that read the common shapes of op in one pass:
/// the reference those are tested against (by the tests and the fuzzer).
/// Slower; nothing else should need it.
#[doc(hidden)]
pub fn read_general<R: BufRead>(
    reader: R,
    source: &str,
    format: Format,
) -> Result<History, ReadError> {
    match format {
        Format::Jsonl => jsonl::read(reader, source),
        Format::Edn => edn::read_general(reader, source, false),
        Format::PorcupineKv => edn::read_general(reader, source, true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_names_round_trip() {
        for f in [Format::Jsonl, Format::Edn, Format::PorcupineKv] {
            assert_eq!(f.to_string().parse::<Format>().unwrap(), f);
        }
        assert_eq!("JSON".parse::<Format>().unwrap(), Format::Jsonl);
        let e = "yaml".parse::<Format>().unwrap_err();
        assert!(e.to_string().contains("\"yaml\""), "{e}");
    }

    #[test]
    fn detect_sniffs_the_first_record() {
        let jsonl = br#"{"index":0,"process":0,"type":"invoke","f":"read","value":null}"#;
        assert_eq!(detect(jsonl), Format::Jsonl);
        assert_eq!(detect(b"; comment\n[{:process 0}]"), Format::Edn);
        assert_eq!(detect(b"\n(\n{:type :invoke})"), Format::Edn);
        assert_eq!(detect(b"{:index 0 :type :invoke}\n"), Format::Edn);
        let kv = b"{:process 0, :type :invoke, :f :get, :key \"1\", :value nil}\n";
        assert_eq!(detect(kv), Format::PorcupineKv);
        // A first line cut short by the sniffing window.
        assert_eq!(detect(br#"{"index":0,"process":0,"ty"#), Format::Jsonl);
        assert_eq!(detect(b"{:index 0, :process 0, :ty"), Format::Edn);
        assert_eq!(detect(b""), Format::Jsonl);
    }

    #[test]
    fn a_missing_file_names_its_path() {
        let e = read_path(Path::new("/nonexistent/history.jsonl"), None).unwrap_err();
        assert!(matches!(e, ReadError::Io { .. }));
        assert!(
            e.to_string().starts_with("/nonexistent/history.jsonl: "),
            "{e}"
        );
    }
}
