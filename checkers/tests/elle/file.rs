//! `elle::check_file`, which reads a file keeping only micro-ops, answers
//! exactly as `elle::check` on the history read whole: on Elle's reference
//! histories and on simulated stores with faults, from JSON Lines and EDN.

use crate::gen::{generate, Config, Fault, Isolation};
use checkers::elle::{check, check_file, check_reader, ElleOptions, Model, Workload};
use checkers::format::{read_path, write_jsonl, Format};
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

fn same(path: &Path, format: Option<Format>, opts: &ElleOptions) {
    // A cycle search that runs out of time would make the two differ.
    let opts = &ElleOptions {
        cycle_search_timeout: Duration::from_secs(3600),
        ..opts.clone()
    };
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

/// An op as a line of Jepsen's history.edn (strings as keywords).
fn edn_line(op: &checkers::Op) -> String {
    fn edn(v: &Value) -> String {
        match v {
            Value::Null => "nil".into(),
            Value::String(s) => format!(":{s}"),
            Value::Array(a) => format!("[{}]", a.iter().map(edn).collect::<Vec<_>>().join(" ")),
            other => other.to_string(),
        }
    }
    format!(
        "{{:index {}, :type :{}, :process {}, :f :{}, :value {}}}\n",
        op.index,
        op.kind,
        op.process,
        op.f,
        edn(&op.value)
    )
}

/// Values of every odd shape read the same both ways, micro-ops or not,
/// and bad ones fail with the same error.
#[test]
fn odd_values_read_the_same_both_ways() {
    let dir = std::env::temp_dir().join(format!("temblor-elle-odd-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let values = [
        r#"[["append", 1, 1], ["r", 2, null]]"#,
        r#"[["r", 1, [1, "x", 2.5]], ["r", "k", []]]"#,
        r#"[["append", 1, 2, 3]]"#,
        r#"[["append", 1]]"#,
        r#"[["r", 1, 7]]"#,
        r#"[["r", 1, [[1], 2]]]"#,
        r#"[["x", 1, 2]]"#,
        r#"[[1, 1, 2]]"#,
        r#"[["append", null, 2]]"#,
        r#"[["append", 1, null]]"#,
        r#"{"a": 1}"#,
        r#"[1, 2]"#,
    ];
    for (i, v) in values.iter().enumerate() {
        let ok = format!(
            "{{\"process\":0,\"type\":\"invoke\",\"f\":\"txn\",\"value\":{v}}}\n{{\"process\":0,\"type\":\"ok\",\"f\":\"txn\",\"value\":{v}}}\n"
        );
        let path = dir.join(format!("odd{i}.jsonl"));
        std::fs::write(&path, ok).unwrap();
        let opts = ElleOptions::new(Workload::ListAppend);
        let whole = read_path(&path, None).map_err(|e| e.to_string());
        let whole = whole.and_then(|h| check(&h, &opts).map_err(|e| e.to_string()));
        let streamed = check_file(&path, None, &opts).map_err(|e| e.to_string());
        assert_eq!(streamed, whole, "{v}");
        let h = read_path(&path, None).unwrap();
        let edn = dir.join(format!("odd{i}.edn"));
        std::fs::write(&edn, h.ops.iter().map(edn_line).collect::<String>()).unwrap();
        let whole = check(&read_path(&edn, None).unwrap(), &opts).map_err(|e| e.to_string());
        let streamed = check_file(&edn, None, &opts).map_err(|e| e.to_string());
        assert_eq!(
            streamed.map_err(|e| e.replace(".edn", "")),
            whole.map_err(|e| e.replace(".edn", "")),
            "edn {v}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Read as Porcupine's kv format (every op needs `:key`, which wraps the
/// value), both ways agree too (found by the fuzzer).
#[test]
fn porcupine_kv_values_read_the_same_both_ways() {
    let opts = ElleOptions::new(Workload::ListAppend);
    for text in [
        "{:process 0, :type :invoke, :f :txn, :value [[:append 1 2]]}\n",
        "{:process 0, :type :invoke, :f :txn, :key 5, :value [[:append 1 2]]}\n\
         {:process 0, :type :ok, :f :txn, :key 5, :value [[:append 1 2]]}\n",
    ] {
        let whole = checkers::format::read(text.as_bytes(), "kv", Format::PorcupineKv)
            .map_err(|e| e.to_string())
            .and_then(|h| check(&h, &opts).map_err(|e| e.to_string()));
        let streamed = check_reader(text.as_bytes(), "kv", Format::PorcupineKv, &opts)
            .map_err(|e| e.to_string());
        assert_eq!(streamed, whole, "{text}");
    }
}

/// A history whose first value is not all micro-ops (found by the fuzzer).
#[test]
fn a_value_that_is_not_all_micro_ops_reads_the_same_both_ways() {
    let text = "{:index 0 :type :invoke  :value [[:append 253 1] [:append 253 3] [:append 253 4] [:append 255 2] [:append 255 3] [:append 255 4] [5 8] [:r 253 nil]]}\n\
        {:index 3 :type :ok,     :value [[:append 255 8] [:r 253 [1 3 4]]]}\n\
        {:index 4 :type :invoke, :value [[:append 256 4] [:r 255 nil] [:r 256 nil] [:r 253 nil]]}\n\
        {:index 5 :type :ok,     :value [[:append 256 4] [:r 255 [2 3 4 5 8]] [:r 256 [1 2 4]] [:r 253 [1 3 4]]]}\n\
        {:index 6 :type :invoke, :value [[:append 250 10] [:r 253 nil] [:r 255 nil] [:append 256 3]]}\n\
        {:index 7 :type :ok      :value [[:append 250 10] [:r 253 [1 3 4]] [:r 255 [2 3 4 5]] [:append 256 3]]}\n";
    let opts = ElleOptions::new(Workload::ListAppend);
    let h = checkers::format::read(text.as_bytes(), "h", Format::Edn).unwrap();
    let whole = check(&h, &opts).unwrap();
    let streamed = check_reader(text.as_bytes(), "h", Format::Edn, &opts).unwrap();
    assert_eq!(streamed.render(), whole.render());
    assert_eq!(streamed, whole);
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
