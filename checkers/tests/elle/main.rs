//! Integration tests of the Elle-style checker (`checkers::elle`): Elle's
//! own reference histories, and simulated stores (serializable, snapshot
//! isolation, read committed, and injected faults) from a seeded generator.

mod gen;
mod histories;
mod rw;
mod sim;

use std::path::PathBuf;

/// The shared reference histories, or `None` (with a note) when absent.
/// With `CI=true` their absence fails the test.
pub fn shared_histories() -> Option<PathBuf> {
    let dir = std::env::var_os("TEMBLOR_SHARED_HISTORIES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/histories")
        });
    if dir.is_dir() {
        return Some(dir);
    }
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    assert!(
        !ci,
        "CI=true but the reference histories are missing at {}",
        dir.display()
    );
    eprintln!(
        "skipping: reference histories not found at {} (set TEMBLOR_SHARED_HISTORIES)",
        dir.display()
    );
    None
}
