//! The history: Jepsen's op model, so that histories interchange with
//! Jepsen, Knossos, Elle and Porcupine.
//!
//! A history is a sequence of operations. A client's operation appears twice:
//! its invocation (`invoke`) and its completion (`ok`: took effect; `fail`:
//! certainly did not; `info`: unknown, may take effect at any later time).
//! A process has at most one outstanding invocation. Invocations are paired
//! with completions by process *and* invocation, so a process that crashed
//! (`info`) and was reused still pairs correctly; a crashed op stays open
//! until the end of the history.

mod error;
mod op;
mod pair;

pub use error::{HistoryError, HistoryErrorKind};
pub use op::{Op, OpType, Process};
pub use pair::{Operation, Outcome};

/// A history as read from a file or recorded by a run: the ops in order,
/// and where each came from so that errors can name a file and line.
#[derive(Clone, Debug, Default)]
pub struct History {
    /// The ops, in history order. `ops[i].index` need not equal `i` for
    /// histories read from other tools; positions are what pairing uses.
    pub ops: Vec<Op>,
    /// Where the history came from (a path, or a label like `<stdin>`).
    pub source: String,
    /// The 1-based source line of each op, parallel to `ops` (0: unknown).
    pub lines: Vec<u32>,
    /// The 1-based line of a last record cut short (its writer was killed
    /// mid-line), which the reader skipped; `None` when the file ends whole.
    pub torn_line: Option<u32>,
}

impl History {
    /// An empty history from `source`.
    pub fn new(source: impl Into<String>) -> Self {
        History {
            source: source.into(),
            ..Default::default()
        }
    }

    /// A history made in memory (tests, generators): lines are unknown and
    /// indices are assigned densely.
    pub fn from_ops(source: impl Into<String>, ops: impl IntoIterator<Item = Op>) -> Self {
        let mut h = History::new(source);
        for op in ops {
            h.push(op, 0);
        }
        h.reindex();
        h
    }

    /// Appends `op`, read from source line `line` (0 when unknown).
    pub fn push(&mut self, op: Op, line: u32) {
        self.ops.push(op);
        self.lines.push(line);
    }

    /// Number of ops (invocations and completions both count).
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// True when the history holds no ops.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// The source line of the op at position `i`, if known.
    pub fn line_of(&self, i: usize) -> Option<u32> {
        self.lines.get(i).copied().filter(|&l| l > 0)
    }

    /// Rewrites `index` to the op's position: Jepsen's dense indices.
    pub fn reindex(&mut self) {
        for (i, op) in self.ops.iter_mut().enumerate() {
            op.index = i as u64;
        }
    }

    /// An error about the op at position `i`, located at its file and line.
    pub fn error_at(&self, i: usize, kind: HistoryErrorKind) -> HistoryError {
        HistoryError {
            file: self.source.clone(),
            line: self.line_of(i),
            kind,
        }
    }
}
