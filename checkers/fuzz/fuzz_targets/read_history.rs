//! Fuzzes the history readers: any bytes, in every format, must give a
//! history or an error with a file and line, never a panic, a hang or a
//! stack overflow. A history that reads must also survive pairing and
//! writing as JSON Lines and CSV (`checkers::testing::read_in_every_format`).
//! Elle's reader, which reads values straight into micro-ops, must agree
//! with Elle on the history read whole. The two-thread EDN reader must
//! read what one thread reads, wherever its second thread starts.
#![no_main]

use checkers::elle::{check, check_reader, ElleOptions, Workload};
use checkers::format::{read, read_split_at, Format};
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
    for format in [Format::Edn, Format::PorcupineKv] {
        let whole = |h: checkers::history::History| (h.ops, h.lines);
        let one = read(data, "fuzz", format).map(whole).map_err(|e| e.to_string());
        let line_start = data.windows(2).position(|w| w == b"\n{").map(|i| i + 1);
        for at in [Some(data.len() / 2), line_start].into_iter().flatten() {
            let two = read_split_at(data, at, "fuzz", format)
                .map(whole)
                .map_err(|e| e.to_string());
            assert_eq!(one, two, "second thread from byte {at}");
        }
    }
    checkers::testing::read_in_every_format(data);
});
