//! The temblor controller as a library: what the `temblor` binary runs.
//! The generator interpreter (workers and nemesis driven by a generator)
//! and the history recorder live here; the CLI is the binary's own
//! (`main.rs`, `cmd/`).

pub mod error;
pub mod interpreter;
pub mod matrix;
pub mod nemesis;
pub mod recorder;
pub mod report;
pub mod run;
