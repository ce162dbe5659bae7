//! Fuzzes the test-file parser: any bytes as a TOML test file must give a
//! spec or an error naming the file, never a panic; a spec that validates
//! must survive what a run does with it
//! (`harness::run::spec::read_any_test_file`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    harness::run::spec::read_any_test_file(data);
});
