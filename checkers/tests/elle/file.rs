//! `elle::check_file`, which reads a file keeping only micro-ops, answers
//! exactly as `elle::check` on the history read whole: on Elle's reference
//! histories and on simulated stores with faults, from JSON Lines and EDN.

use crate::gen::{generate, Config, Fault, Isolation};
use checkers::elle::{check, check_file, ElleOptions, Model, Workload};
use checkers::format::{read_path, write_jsonl, Format};
use std::path::Path;

fn same(path: &Path, format: Option<Format>, opts: &ElleOptions) {
    let whole = check(&read_path(path, format).unwrap(), opts).unwrap();
    let streamed = check_file(path, format, opts).unwrap();
    assert_eq!(streamed, whole, "{}", path.display());
}

#[test]
fn reference_histories_check_the_same_read_whole_or_streamed() {
    let Some(dir) = crate::shared_histories() else {
        return;
    };
    let all = ElleOptions::new(Workload::ListAppend).with_models(&[
        Model::StrictSerializable,
        Model::SnapshotIsolation,
        Model::RepeatableRead,
    ]);
    for name in [
        "si-without-g-single.edn",
        "paper-example.edn",
        "huge-scc.edn",
    ] {
        same(&dir.join("elle").join(name), None, &all);
    }
}

#[test]
fn simulated_faults_check_the_same_read_whole_or_streamed() {
    let dir = std::env::temp_dir().join(format!("temblor-elle-file-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let faults = [
        None,
        Some(Fault::AbortedVisible),
        Some(Fault::Intermediate),
        Some(Fault::LostAppend),
        Some(Fault::Duplicate),
    ];
    for (i, fault) in faults.into_iter().enumerate() {
        let h = generate(Config {
            fault,
            ..Config::small(i as u64, Isolation::Serializable)
        });
        let path = dir.join(format!("h{i}.jsonl"));
        write_jsonl(&h, std::fs::File::create(&path).unwrap()).unwrap();
        same(
            &path,
            Some(Format::Jsonl),
            &ElleOptions::new(Workload::ListAppend),
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
