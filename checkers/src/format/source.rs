//! A byte-at-a-time view of a `BufRead` that counts lines, for the EDN
//! reader: it holds one buffer of input, never the whole file.

use std::io::{self, BufRead};

/// Bytes from a reader with one byte of lookahead and the current 1-based
/// line. An I/O error ends the input; the caller asks [`Source::take_error`]
/// whether an early end was the reader's fault rather than the text's.
pub(crate) struct Source<R> {
    reader: R,
    buf: Vec<u8>,
    pos: usize,
    /// Bytes of input before `buf[0]`.
    base: u64,
    line: u32,
    error: Option<io::Error>,
    done: bool,
}

impl<R: BufRead> Source<R> {
    pub(crate) fn new(reader: R) -> Self {
        Source {
            reader,
            buf: Vec::new(),
            pos: 0,
            base: 0,
            line: 1,
            error: None,
            done: false,
        }
    }

    /// The 1-based line of the next byte.
    pub(crate) fn line(&self) -> u32 {
        self.line
    }

    /// How many bytes of input were consumed: the offset of the next byte.
    pub(crate) fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    /// The next byte without consuming it; `None` at the end.
    #[inline]
    pub(crate) fn peek(&mut self) -> Option<u8> {
        if self.pos < self.buf.len() {
            return Some(self.buf[self.pos]);
        }
        self.refill();
        self.buf.get(self.pos).copied()
    }

    /// Consumes and returns the next byte; `None` at the end.
    #[inline]
    pub(crate) fn bump(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.pos += 1;
        if c == b'\n' {
            self.line = self.line.saturating_add(1);
        }
        Some(c)
    }

    /// The unread bytes of the current buffer, refilled when it is used
    /// up; empty only at the end of the input. With [`Source::advance`],
    /// lets a scanner work on slices instead of a byte at a time.
    #[inline]
    pub(crate) fn chunk(&mut self) -> &[u8] {
        if self.pos >= self.buf.len() {
            self.refill();
        }
        &self.buf[self.pos..]
    }

    /// Consumes the first `n` bytes of [`Source::chunk`], counting lines.
    #[inline]
    pub(crate) fn advance(&mut self, n: usize) {
        let end = (self.pos + n).min(self.buf.len());
        // A sum, not a filtered count: the compiler vectorizes it.
        let newlines: usize = self.buf[self.pos..end]
            .iter()
            .map(|&c| usize::from(c == b'\n'))
            .sum();
        self.line = self.line.saturating_add(newlines as u32);
        self.pos = end;
    }

    /// Reads more input after the unread bytes of the buffer, so that
    /// [`Source::chunk`] at least doubles, unless it already holds `max`
    /// bytes; false when nothing more came (the end, an error, or `max`).
    pub(crate) fn top_up(&mut self, max: usize) -> bool {
        let unread = self.buf.len() - self.pos;
        if self.done || unread >= max {
            return false;
        }
        self.buf.drain(..self.pos);
        self.base += self.pos as u64;
        self.pos = 0;
        let want = (2 * unread).clamp(unread + 1, max);
        while !self.done && self.buf.len() < want {
            self.read_more();
        }
        self.buf.len() > unread
    }

    /// The I/O error that ended the input early, if one did.
    pub(crate) fn take_error(&mut self) -> Option<io::Error> {
        self.error.take()
    }

    fn refill(&mut self) {
        self.base += self.buf.len() as u64;
        self.buf.clear();
        self.pos = 0;
        self.read_more();
    }

    /// Appends the reader's next chunk to the buffer.
    fn read_more(&mut self) {
        if self.done {
            return;
        }
        loop {
            match self.reader.fill_buf() {
                Ok(chunk) => {
                    let n = chunk.len();
                    self.buf.extend_from_slice(chunk);
                    self.reader.consume(n);
                    self.done = n == 0;
                    return;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.error = Some(e);
                    self.done = true;
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufReader, Read};

    #[test]
    fn counts_lines_across_buffer_boundaries() {
        let text = b"ab\ncd\n\ne";
        let mut s = Source::new(BufReader::with_capacity(2, &text[..]));
        let mut seen = Vec::new();
        while let Some(c) = s.bump() {
            seen.push((c, s.line()));
            assert_eq!(s.offset(), seen.len() as u64);
        }
        assert_eq!(seen.len(), text.len());
        assert_eq!(s.line(), 4);
        assert!(s.take_error().is_none());
    }

    struct Broken;
    impl Read for Broken {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(io::Error::other("disk on fire"))
        }
    }

    #[test]
    fn an_io_error_ends_the_input_and_is_kept() {
        let mut s = Source::new(BufReader::new(Broken));
        assert_eq!(s.peek(), None);
        assert_eq!(s.take_error().unwrap().to_string(), "disk on fire");
    }
}
