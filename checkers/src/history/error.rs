//! Errors in a history: what is wrong, and the file and line where it is.

use std::fmt;

/// A history that cannot be read or does not make sense. Always names the
/// source and, where known, the 1-based line.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct HistoryError {
    /// The file (or label) the history came from.
    pub file: String,
    /// The 1-based line, when known.
    pub line: Option<u32>,
    /// What is wrong.
    pub kind: HistoryErrorKind,
}

impl fmt::Display for HistoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.file, line, self.kind),
            None => write!(f, "{}: {}", self.file, self.kind),
        }
    }
}

/// What is wrong with a history.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum HistoryErrorKind {
    /// The text could not be parsed.
    #[error("syntax error: {0}")]
    Syntax(String),
    /// A record parsed but does not describe an op.
    #[error("bad op: {0}")]
    BadOp(String),
    /// A process invoked while its previous invocation was still open.
    #[error("process {process} invoked {f} while its invocation of {open_f} (line {open_line}) is still open")]
    BusyProcess {
        /// The process.
        process: String,
        /// The new invocation's f.
        f: String,
        /// The open invocation's f.
        open_f: String,
        /// The line of the open invocation (0: unknown).
        open_line: u32,
    },
    /// A completion arrived for a process with nothing open.
    #[error("{kind} completion of {f} by process {process} has no open invocation")]
    Unpaired {
        /// The process.
        process: String,
        /// The completion's type.
        kind: String,
        /// The completion's f.
        f: String,
    },
    /// A completion's f differs from its invocation's.
    #[error("completion of {f} by process {process} pairs with an invocation of {invoked_f} (line {invoke_line})")]
    MismatchedF {
        /// The process.
        process: String,
        /// The completion's f.
        f: String,
        /// The invocation's f.
        invoked_f: String,
        /// The invocation's line (0: unknown).
        invoke_line: u32,
    },
    /// A value does not have the shape a model or workload needs.
    #[error("{0}")]
    BadValue(String),
}
