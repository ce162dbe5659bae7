//! Integration tests of the Elle-style checker (`checkers::elle`): Elle's
//! own reference histories, and simulated stores (serializable, snapshot
//! isolation, read committed, and injected faults) from a seeded generator.

mod file;
mod gen;
mod histories;
mod rw;
mod sim;

use std::path::PathBuf;

/// The shared reference histories, or `None` (with a note) when absent.
pub fn shared_histories() -> Option<PathBuf> {
    checkers::testing::reference_histories()
}
