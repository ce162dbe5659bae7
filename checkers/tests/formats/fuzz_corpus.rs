//! The fuzz corpus of the history readers (`checkers/fuzz/corpus`),
//! replayed on every `cargo test`: each input once more through the
//! property the fuzz target checks.

#[test]
fn the_fuzz_corpus_still_reads_or_fails_cleanly() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/read_history");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        eprintln!("{}", path.display());
        checkers::testing::read_in_every_format(&data);
        n += 1;
    }
    assert!(n >= 5, "the corpus in {} is missing", dir.display());
}
