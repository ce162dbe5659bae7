//! Where the reference histories of other projects are
//! (`../shared/histories` beside the workspace, or the folder named by
//! `$TEMBLOR_SHARED_HISTORIES`), for the tests and benches of every crate.
//! They are never copied into the repository.

use std::path::PathBuf;

/// The folder the reference histories should be in, present or not.
pub fn reference_histories_dir() -> PathBuf {
    match std::env::var_os("TEMBLOR_SHARED_HISTORIES") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/histories"),
    }
}

/// The reference histories, or `None` after saying on stderr why a test
/// skips. With `CI=true` a missing folder fails the calling test instead:
/// CI always has it.
pub fn reference_histories() -> Option<PathBuf> {
    let dir = reference_histories_dir();
    if dir.is_dir() {
        return Some(dir);
    }
    let why = format!(
        "reference histories not found at {} (set TEMBLOR_SHARED_HISTORIES)",
        dir.display()
    );
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{why}; CI=true, so tests that need them must not skip");
    }
    eprintln!("skipping: {why}");
    None
}
