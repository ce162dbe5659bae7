//! Fuzzes the history readers: any bytes, in every format, must give a
//! history or an error with a file and line, never a panic, a hang or a
//! stack overflow. A history that reads must also survive pairing and
//! writing as JSON Lines. Elle's reader, which reads values straight into
//! micro-ops, must agree with Elle on the history read whole.
#![no_main]

use checkers::elle::{check, check_reader, ElleOptions, Workload};
use checkers::format::{detect, read, write_csv, write_jsonl, Format, ReadError};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = detect(data);
    for format in [Format::Jsonl, Format::Edn, Format::PorcupineKv] {
        for workload in [Workload::ListAppend, Workload::RwRegister] {
            let opts = ElleOptions::new(workload);
            let whole = read(data, "fuzz", format)
                .map_err(|e| e.to_string())
                .and_then(|h| check(&h, &opts).map_err(|e| e.to_string()));
            let streamed = check_reader(data, "fuzz", format, &opts).map_err(|e| e.to_string());
            match (&whole, &streamed) {
                (Ok(a), Ok(b)) => assert_eq!(a, b),
                (Err(_), Err(_)) => {}
                _ => panic!("whole {whole:?}, streamed {streamed:?}"),
            }
        }
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
