//! Fuzzes the history readers: any bytes, in every format, must give a
//! history or an error with a file and line, never a panic, a hang or a
//! stack overflow. A history that reads must also survive pairing and
//! writing as JSON Lines and CSV (`checkers::testing::read_in_every_format`).
//! Elle's reader, which reads values straight into micro-ops, must agree
//! with Elle on the history read whole.
#![no_main]

use checkers::elle::{check, check_reader, ElleOptions, Workload};
use checkers::format::{read, Format};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
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
    }
    checkers::testing::read_in_every_format(data);
});
