//! Malformed histories are errors naming the file and line, never panics.

use checkers::format::{read, Format, ReadError};
use checkers::history::HistoryErrorKind;

const FORMATS: [Format; 3] = [Format::Jsonl, Format::Edn, Format::PorcupineKv];

/// The error for `text` read as `format`: its line, kind and message.
fn error(text: &[u8], format: Format) -> (u32, HistoryErrorKind, String) {
    match read(text, "bad.hist", format) {
        Err(ReadError::History(e)) => {
            let msg = e.to_string();
            assert!(msg.starts_with("bad.hist:"), "{msg}");
            (e.line.expect("a line"), e.kind, msg)
        }
        Err(e) => panic!("not a history error: {e}"),
        Ok(h) => panic!("read {} ops from malformed input", h.len()),
    }
}

const JSON_OK: &str = "{\"process\":0,\"type\":\"invoke\",\"f\":\"get\",\"value\":null}\n";
const EDN_OK: &str = "{:process 0, :type :invoke, :f :get, :key \"k\", :value nil}\n";

#[test]
fn a_truncated_last_line() {
    // JSON Lines: the record a killed writer cut short is skipped and
    // reported (a run killed with kill -9 leaves one).
    let text = format!("{JSON_OK}{JSON_OK}{}", &JSON_OK[..20]);
    let h = read(text.as_bytes(), "bad.hist", Format::Jsonl).unwrap();
    assert_eq!((h.len(), h.torn_line), (2, Some(3)));
    let text = format!("{EDN_OK}{EDN_OK}{}", &EDN_OK[..20]);
    for f in [Format::Edn, Format::PorcupineKv] {
        let (line, kind, msg) = error(text.as_bytes(), f);
        assert_eq!(line, 3, "{msg}");
        assert!(matches!(kind, HistoryErrorKind::Syntax(_)), "{msg}");
    }
}

#[test]
fn a_truncated_line_in_the_middle_of_a_jsonl_file() {
    let text = format!("{JSON_OK}{}\n{JSON_OK}", &JSON_OK[..30]);
    assert_eq!(error(text.as_bytes(), Format::Jsonl).0, 2);
}

#[test]
fn wrong_types() {
    let text = format!("{JSON_OK}{}", JSON_OK.replace("\"f\":\"get\"", "\"f\":7"));
    let (line, kind, _) = error(text.as_bytes(), Format::Jsonl);
    assert_eq!(
        (line, matches!(kind, HistoryErrorKind::BadOp(_))),
        (2, true)
    );
    let text = format!("{EDN_OK}\n{}", EDN_OK.replace(":process 0", ":process [0]"));
    let (line, kind, msg) = error(text.as_bytes(), Format::Edn);
    assert_eq!(
        (line, matches!(kind, HistoryErrorKind::BadOp(_))),
        (3, true),
        "{msg}"
    );
    let text = format!("{EDN_OK}{}", EDN_OK.replace(":f :get", ":f 1.5"));
    assert_eq!(error(text.as_bytes(), Format::PorcupineKv).0, 2);
}

#[test]
fn an_unknown_op_type() {
    let text = format!("{JSON_OK}{JSON_OK}{}", JSON_OK.replace("invoke", "maybe"));
    let (line, _, msg) = error(text.as_bytes(), Format::Jsonl);
    assert_eq!(line, 3, "{msg}");
    let text = format!("[{EDN_OK}{}]", EDN_OK.replace(":invoke", ":maybe"));
    let (line, _, msg) = error(text.as_bytes(), Format::Edn);
    assert_eq!(line, 2);
    assert!(msg.contains("unknown op type \"maybe\""), "{msg}");
}

#[test]
fn unbalanced_brackets() {
    for (text, line) in [
        (format!("[{EDN_OK}{EDN_OK}"), 1),
        (format!("[{EDN_OK}{EDN_OK}]]"), 3),
        (format!("{EDN_OK}{{:process 0 :value [1 2}}\n"), 2),
        (format!("{EDN_OK}\n\n)"), 4),
    ] {
        assert_eq!(error(text.as_bytes(), Format::Edn).0, line, "{text}");
    }
    let text = format!("{JSON_OK}{}]\n", JSON_OK.trim_end());
    assert_eq!(error(text.as_bytes(), Format::Jsonl).0, 2);
}

#[test]
fn binary_garbage() {
    let mut garbage = EDN_OK.as_bytes().to_vec();
    garbage.extend((0u8..=255).rev().cycle().take(4096));
    for f in FORMATS {
        let (line, _, msg) = error(&garbage, f);
        assert!(line <= 2, "{f}: {msg}");
    }
}

#[test]
fn deep_nesting_and_huge_numbers() {
    let deep = format!(
        "{{:process 0 :type :ok :f :r :value {}}}",
        "[".repeat(50_000)
    );
    let (line, _, msg) = error(deep.as_bytes(), Format::Edn);
    assert_eq!(line, 1);
    assert!(msg.contains("nesting deeper"), "{msg}");
    let deep = format!(
        "{{\"process\":0,\"type\":\"ok\",\"f\":\"r\",\"value\":{}}}",
        "[".repeat(50_000)
    );
    assert_eq!(error(deep.as_bytes(), Format::Jsonl).0, 1);
    let huge = format!("{{:process 0 :type :ok :f :r :value 1{}}}", "0".repeat(400));
    assert!(error(huge.as_bytes(), Format::Edn)
        .2
        .contains("out of range"));
    let huge = format!("{{:process 1{} :type :ok :f :r}}", "0".repeat(30));
    assert!(error(huge.as_bytes(), Format::Edn)
        .2
        .contains(":process must be"));
    let huge = r#"{"process":0,"type":"ok","f":"r","value":1e999}"#;
    assert_eq!(error(huge.as_bytes(), Format::Jsonl).0, 1);
}
