//! What a history means: Jepsen's op model and its file formats, and the
//! checkers that judge a history (linearizability, Elle-style dependency
//! graphs). Pure: no I/O besides reading and writing history files.

pub mod bank;
pub mod checker;
pub mod counter;
pub mod elle;
pub mod format;
pub mod history;
pub mod linear;
pub mod lock;
pub mod queue;
pub mod set;
pub mod stats;
pub mod tally;
pub mod testing;
pub mod unique_ids;
pub mod verdict;

pub use history::{History, HistoryError, Op, OpType, Process};
pub use verdict::Verdict;
