//! Histories survive conversion between formats: EDN to History to JSON
//! Lines and back, and CSV that the csv crate reads back.

use crate::shared_histories;
use checkers::format::{read, read_path, write_csv, write_jsonl, Format};
use checkers::history::History;
use serde_json::Value;

fn via_jsonl(h: &History) -> History {
    let mut text = Vec::new();
    write_jsonl(h, &mut text).unwrap();
    read(&text[..], "round.jsonl", Format::Jsonl).unwrap()
}

#[test]
fn edn_to_jsonl_and_back_is_lossless() {
    let Some(dir) = shared_histories() else {
        return;
    };
    for rel in [
        "elle/huge-scc.edn",
        "elle/paper-example.edn",
        "knossos/cas-register/bad/cas-failure.edn",
        "knossos/multi-register/good/multi-register.edn",
        "porcupine-kv/c10-bad.txt",
    ] {
        let h = read_path(&dir.join(rel), None).unwrap();
        let back = via_jsonl(&h);
        assert_eq!(back.ops, h.ops, "{rel}");
        assert_eq!(back.lines, (1..=h.len() as u32).collect::<Vec<_>>());
    }
}

#[test]
fn inline_edn_round_trips_through_jsonl() {
    let edn = "[{:process 0 :type :invoke :f :txn :value [[:append 1 2] [:r 1 nil]] :time 3}\n\
               {:process 0 :type :info :f :txn :value #{1} :error #object[x 1] :node \"n1\"}\n\
               {:process :nemesis :type :info :f :partition :value {:n1 #{:n2} 5 \"x\"}}]";
    let h = read(edn.as_bytes(), "inline.edn", Format::Edn).unwrap();
    assert_eq!(via_jsonl(&h).ops, h.ops);
}

#[test]
fn csv_reads_back_with_the_csv_crate() {
    let Some(dir) = shared_histories() else {
        return;
    };
    let h = read_path(&dir.join("knossos/cas-register/bad/cas-failure.edn"), None).unwrap();
    let mut out = Vec::new();
    write_csv(&h, &mut out).unwrap();
    let mut rows = csv::Reader::from_reader(&out[..]);
    let header: Vec<String> = rows.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(
        header,
        ["index", "time", "process", "type", "f", "value", "node", "error", "final"]
    );
    let mut n = 0;
    for (row, op) in rows.records().zip(&h.ops) {
        let row = row.unwrap();
        assert_eq!(row[0].parse::<u64>().unwrap(), op.index);
        assert_eq!(row[1].parse::<u64>().ok(), op.time);
        assert_eq!(&row[2], op.process.to_string());
        assert_eq!(&row[3], op.kind.as_str());
        assert_eq!(&row[4], op.f);
        assert_eq!(serde_json::from_str::<Value>(&row[5]).unwrap(), op.value);
        assert_eq!((!row[6].is_empty()).then(|| row[6].to_string()), op.node);
        let error = (!row[7].is_empty()).then(|| serde_json::from_str::<Value>(&row[7]).unwrap());
        assert_eq!(error, op.error);
        assert_eq!(&row[8] == "true", op.is_final);
        n += 1;
    }
    assert_eq!(n, h.len());
}
