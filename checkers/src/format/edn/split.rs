//! One EDN history file read on two threads: the head reader reads from
//! the start as always, while a tail reader reads from a seam part way
//! in, a line that starts with `{`. The tail's ops are kept only if the
//! head reader, reaching the seam, finds itself at the start of an op
//! map of the history's top level, exactly there.
//!
//! Why that is enough: from an op map at the top level, the rest of the
//! file parses the same whatever came before, with two exceptions the
//! tail reader refuses to guess about, giving up instead:
//!
//! - a map without `:index` or `:process`, whose defaults depend on its
//!   position and on the ops before it ([`super::ProcessDefaults`]);
//! - anything but op maps: a discard, a stray value, an error. The head
//!   reader reads those itself, so errors are reported from one place, at
//!   the same line, with the same words.
//!
//! The tail reader does not know whether the history is one collection
//! (`[...]`) or bare maps, so it accepts either ending: the end of the
//! input, or one closing bracket and then only blanks. The head reader
//! checks that ending against its own opening bracket. It starts one
//! level deep, so a map the head reader (inside a bracket) would find too
//! deep is one the tail reader also refuses. When the seam falls inside a
//! string, a nested value or a comment, the head reader steps over it
//! without landing on it, tells the tail reader to stop, and reads on
//! alone: the result is always the one-thread reader's.

use super::convert::{op_from_fields, Converted, Fields};
use super::parse::Parser;
use std::io::BufRead;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;

/// Ops the tail reader reads between looks at the stop flag.
const CHECK_EVERY: usize = 1024;

/// What the tail reader read: every op from the seam on, each with its
/// line counted from the seam's (1), and the closing bracket that ended
/// the input, if one did.
pub(super) struct Tail {
    pub ops: Vec<(Converted, u32)>,
    pub close: Option<u8>,
}

/// The head reader's side of a seam.
pub(super) struct Seam<'a> {
    /// The seam's byte offset in the input.
    pub at: u64,
    /// Tells the tail reader to give up.
    pub stop: &'a AtomicBool,
    /// The tail reader's answer: `None` when it gave up.
    pub tail: mpsc::Receiver<Option<Tail>>,
}

impl Seam<'_> {
    /// The tail, when the head reader's next element starts at `offset`,
    /// exactly at the seam; `None` (and the tail reader told to stop)
    /// otherwise.
    pub fn meet(self, offset: u64) -> Option<Tail> {
        if offset != self.at {
            self.stop.store(true, Ordering::Relaxed);
            return None;
        }
        self.tail.recv().ok().flatten()
    }
}

/// Reads op maps from the seam to the end of the input; `None` when the
/// text there is anything else, when `stop` is set, or on an I/O error.
pub(super) fn read_tail<R: BufRead>(reader: R, porcupine: bool, stop: &AtomicBool) -> Option<Tail> {
    let mut p = Parser::new(reader).nested_in(1);
    let mut fields = Fields::default();
    let mut ops = Vec::new();
    let close = loop {
        if ops.len() % CHECK_EVERY == 0 && stop.load(Ordering::Relaxed) {
            return None;
        }
        match p.skip_blank() {
            None => break None,
            Some(b'{') => {
                let line = p.src.line();
                p.op_map(&mut fields).ok()?;
                let c = op_from_fields(&mut fields, 0, porcupine).ok()?;
                if !(c.has_index && c.has_process) {
                    return None;
                }
                ops.push((c, line));
            }
            Some(c @ (b']' | b')')) => {
                p.src.bump();
                if p.skip_blank().is_some() {
                    return None;
                }
                break Some(c);
            }
            Some(_) => return None,
        }
    };
    if p.src.take_error().is_some() {
        return None;
    }
    Some(Tail { ops, close })
}

/// The offset of a seam in `window` (text from part way into a file): the
/// `{` that starts a line, after blanks.
pub(crate) fn find_seam(window: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(nl) = window[from..].iter().position(|&c| c == b'\n') {
        let start = from + nl + 1;
        let blank = window[start..]
            .iter()
            .position(|&c| !matches!(c, b' ' | b'\t' | b','))?;
        if window[start + blank] == b'{' {
            return Some(start + blank);
        }
        from = start;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seam_is_a_map_that_starts_a_line() {
        assert_eq!(find_seam(b"ue}\n{:a 1}"), Some(4));
        assert_eq!(find_seam(b"1}\n , {:a 1}"), Some(6));
        assert_eq!(find_seam(b"x\n[1]\n\n {"), Some(8));
        assert_eq!(find_seam(b"{:a 1}"), None);
        assert_eq!(find_seam(b"x\n  "), None);
    }

    #[test]
    fn the_tail_reader_gives_up_on_what_depends_on_the_head() {
        let stop = AtomicBool::new(false);
        let tail = |text: &str| read_tail(text.as_bytes(), false, &stop);
        let ok = "{:index 5, :process 1, :type :invoke, :f :r, :value nil}\n";
        let t = tail(&format!("{ok}{ok}]\n; end\n")).unwrap();
        assert_eq!((t.ops.len(), t.close, t.ops[1].1), (2, Some(b']'), 2));
        assert_eq!(tail(ok).unwrap().close, None);
        assert!(tail("{:process 1, :type :invoke, :f :r}").is_none());
        assert!(tail("{:index 1, :type :invoke, :f :r}").is_none());
        assert!(tail(&format!("{ok}#_ {ok}")).is_none());
        assert!(tail(&format!("{ok}] {ok}")).is_none());
        assert!(tail("{:index 1, :process 1, :type :bad, :f :r}").is_none());
        stop.store(true, Ordering::Relaxed);
        assert!(tail(ok).is_none());
    }
}
