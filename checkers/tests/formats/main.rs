//! Integration tests of the history readers and writers
//! (`checkers::format`): the reference histories of Knossos, Porcupine and
//! Elle, round trips between formats, and malformed input.

mod fast_paths;
mod fuzz_corpus;
mod malformed;
mod reference;
mod roundtrip;
mod split;

use checkers::format::ReadError;
use checkers::history::History;
use std::path::PathBuf;

/// The shared reference histories, or `None` (with a note) when absent.
pub fn shared_histories() -> Option<PathBuf> {
    checkers::testing::reference_histories()
}

/// Asserts that two reads of `text` (`what` names them, as "a vs b")
/// gave the same ops and lines, or the same error.
pub fn assert_same_read(
    what: &str,
    a: &Result<History, ReadError>,
    b: &Result<History, ReadError>,
    text: &[u8],
) {
    let text = String::from_utf8_lossy(text);
    match (a, b) {
        (Ok(a), Ok(b)) => {
            assert_eq!(a.ops, b.ops, "{what}: {text}");
            assert_eq!(a.lines, b.lines, "{what}: {text}");
        }
        (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{what}"),
        _ => panic!(
            "{what}: {:?} vs {:?}\n{text}",
            a.as_ref().map(History::len),
            b.as_ref().map(History::len)
        ),
    }
}
