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

/// The property the history readers' fuzz target checks, for any bytes:
/// in every format, reading gives a history or an error that names its
/// line (never a panic, and no I/O error from memory); a history that
/// reads pairs up or says why, writes as JSON Lines that read back to as
/// many ops, and writes as CSV. Panics when the property fails. The fuzz
/// target (`checkers/fuzz`) and the replay of its corpus in `cargo test`
/// both call this.
pub fn read_in_every_format(data: &[u8]) {
    use crate::format::{detect, read, write_csv, write_jsonl, Format, ReadError};
    let _ = detect(data);
    for format in [Format::Jsonl, Format::Edn, Format::PorcupineKv] {
        match read(data, "fuzz", format) {
            Ok(h) => {
                let _ = h.operations();
                let mut out = Vec::new();
                write_jsonl(&h, &mut out).expect("writing to memory");
                let back =
                    read(&out[..], "fuzz.jsonl", Format::Jsonl).expect("our own output reads");
                assert_eq!(back.len(), h.len());
                assert_eq!(back.torn_line, None, "our own output is whole");
                write_csv(&h, Vec::new()).expect("writing csv to memory");
            }
            Err(ReadError::History(e)) => assert!(e.line.is_some(), "{e}"),
            Err(e) => panic!("an in-memory read failed with i/o: {e}"),
        }
    }
}

/// A history from compact records `(process, type, f, value)`, each at
/// a time one millisecond after the one before (tests of every crate).
/// Process `u64::MAX` stands for the nemesis.
pub fn history(records: &[(u64, &str, &str, serde_json::Value)]) -> crate::History {
    let ops = records.iter().enumerate().map(|(i, (p, kind, f, v))| {
        let kind = crate::OpType::parse(kind)
            .unwrap_or_else(|| panic!("record {i}: {kind:?} is not an op type"));
        let mut op = crate::Op::new(*p, kind, *f, v.clone()).at(i as u64 * 1_000_000);
        if *p == u64::MAX {
            op.process = crate::Process::Nemesis;
        }
        op
    });
    crate::History::from_ops("test", ops)
}
