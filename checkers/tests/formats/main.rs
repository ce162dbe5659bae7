//! Integration tests of the history readers and writers
//! (`checkers::format`): the reference histories of Knossos, Porcupine and
//! Elle, round trips between formats, and malformed input.

mod fast_paths;
mod fuzz_corpus;
mod malformed;
mod reference;
mod roundtrip;
mod split;

use std::path::PathBuf;

/// The shared reference histories, or `None` (with a note) when absent.
pub fn shared_histories() -> Option<PathBuf> {
    checkers::testing::reference_histories()
}
