//! Fuzzes the history readers: any bytes, in every format, must give a
//! history or an error with a file and line, never a panic, a hang or a
//! stack overflow. A history that reads must also survive pairing and
//! writing as JSON Lines.
#![no_main]

use checkers::format::{detect, read, write_csv, write_jsonl, Format, ReadError};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
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
                write_csv(&h, Vec::new()).expect("writing csv to memory");
            }
            Err(ReadError::History(e)) => assert!(e.line.is_some(), "{e}"),
            Err(e) => panic!("an in-memory read failed with i/o: {e}"),
        }
    }
});
