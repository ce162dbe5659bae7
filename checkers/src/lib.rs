//! What a history means: Jepsen's op model and its file formats, and the
//! checkers that judge a history (linearizability, Elle-style dependency
//! graphs). Pure: no I/O besides reading and writing history files.

pub mod elle;
pub mod format;
pub mod history;
pub mod linear;
pub mod stats;
pub mod testing;
pub mod verdict;

pub use history::{History, HistoryError, Op, OpType, Process};
pub use verdict::Verdict;
