//! The readers' fast paths (one pass over the buffer for the common shape
//! of an op, with micro-ops read straight into `TxnValue`s for Elle) give
//! exactly what the general parsers give: the same ops and lines, the
//! same errors, the same Elle results. Compared on generated histories
//! that mix the common shape with everything the fast paths leave alone
//! (tags, escapes, floats, comments, odd micro-ops, bad syntax), read
//! through buffers of every size so that ops straddle their ends.

use super::assert_same_read;
use checkers::elle::{check, check_reader, ElleOptions, Workload};
use checkers::format::{read, read_general, Format};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::io::BufReader;

/// A random EDN scalar or collection, often of the common shape.
pub(crate) fn edn_value(rng: &mut ChaCha8Rng, depth: u32) -> String {
    const ATOMS: &[&str] = &[
        "0",
        "7",
        "-3",
        "+5",
        "-0",
        "007",
        "123456789012345678",
        "1234567890123456789",
        "99999999999999999999",
        "1.5",
        "1e3",
        "5N",
        "2.5M",
        "1/2",
        "12abc",
        ":a",
        "::a",
        ":append",
        ":r",
        ":w",
        "foo",
        "-foo",
        "+",
        "nil",
        "true",
        "false",
        "\"abc\"",
        "\"a\\\"b\"",
        "\"two\nlines\"",
        "\"\u{e9}t\u{e9}\"",
        "\\a",
        "\\newline",
        "#inst \"2020\"",
        "#{1 2}",
        "##Inf",
        "#_ 5 6",
        ":",
        "\"\"",
        ":nemesis",
        ":invoke",
        ":ok",
        ":info",
        ":fail",
    ];
    if depth > 2 || rng.gen_bool(0.6) {
        return ATOMS.choose(rng).unwrap().to_string();
    }
    let n = rng.gen_range(0..4);
    let items: Vec<String> = (0..n).map(|_| edn_value(rng, depth + 1)).collect();
    let (open, close) = *[("[", "]"), ("(", ")"), ("{", "}")].choose(rng).unwrap();
    format!("{open}{}{close}", items.join(blank(rng)))
}

fn blank(rng: &mut ChaCha8Rng) -> &'static str {
    [" ", " ", " ", ", ", "\n", "\t", " ; note\n", "\x0c"]
        .choose(rng)
        .unwrap()
}

/// A micro-op, mostly well formed.
fn mop(rng: &mut ChaCha8Rng) -> String {
    let key = rng.gen_range(0..4).to_string();
    match rng.gen_range(0..12) {
        0..=3 => format!("[:append {key} {}]", rng.gen_range(0..50)),
        4..=6 => {
            let n = rng.gen_range(0..6);
            let list: Vec<String> = (0..n).map(|i| (i * 3 + 1).to_string()).collect();
            let (open, close) = *[("[", "]"), ("(", ")")].choose(rng).unwrap();
            format!("[:r {key} {open}{}{close}]", list.join(" "))
        }
        7 => format!("[:r {key} nil]"),
        8 => format!("[:w {key} {}]", rng.gen_range(0..9)),
        _ => {
            let n = rng.gen_range(0..5);
            let parts: Vec<String> = (0..n).map(|_| edn_value(rng, 2)).collect();
            format!("[{}]", parts.join(" "))
        }
    }
}

fn txn_value(rng: &mut ChaCha8Rng) -> String {
    if rng.gen_bool(0.1) {
        return edn_value(rng, 0);
    }
    let n = rng.gen_range(0..5);
    let mops: Vec<String> = (0..n).map(|_| mop(rng)).collect();
    format!("[{}]", mops.join(blank(rng)))
}

/// An op map: Jepsen's keys with good or odd values, in any order.
pub(crate) fn op_map(rng: &mut ChaCha8Rng, process: u64, kind: &str) -> String {
    let mut entries = vec![
        format!(":process {process}"),
        format!(":type :{kind}"),
        ":f :txn".to_string(),
        format!(":value {}", txn_value(rng)),
    ];
    for extra in [
        ":index 9",
        ":time 12345",
        ":node \"n1\"",
        ":error [:timeout \"x\"]",
        ":final? true",
        ":junk #object[x 1]",
        "\"type\" :ok",
        "5 6",
        ":key 3",
        ":value [[:append 1 2]]",
        ":process nil",
        ":tiiiiiiiiiiiiiiiime 3",
    ] {
        if rng.gen_bool(0.08) {
            entries.push(extra.to_string());
        }
    }
    for e in entries.iter_mut() {
        if rng.gen_bool(0.03) {
            let (k, _) = e.split_once(' ').unwrap();
            *e = format!("{k} {}", edn_value(rng, 0));
        }
    }
    entries.shuffle(rng);
    let sep = blank(rng);
    format!("{{{}}}", entries.join(sep))
}

/// A history of `ops` ops, maybe inside a vector, maybe cut short or
/// broken somewhere.
fn edn_history(rng: &mut ChaCha8Rng, ops: usize) -> String {
    let mut out = String::new();
    for i in 0..ops {
        let kind = if i % 2 == 0 { "invoke" } else { "ok" };
        out.push_str(&op_map(rng, (i / 2 % 3) as u64, kind));
        out.push('\n');
    }
    if rng.gen_bool(0.2) {
        out = format!("[{out}]");
    }
    if rng.gen_bool(0.1) {
        let cut = rng.gen_range(0..out.len());
        if !out.is_char_boundary(cut) {
            return out;
        }
        out.truncate(cut);
    }
    out
}

/// The common JSON op line, or one with an odd part.
fn json_history(rng: &mut ChaCha8Rng, ops: usize) -> String {
    const VALUES: &[&str] = &[
        r#"[["append",1,2],["r",1,[1,2]]]"#,
        r#"[["r",2,null],["append",2,5]]"#,
        r#"[["r", 3, [ 1 , 2 ]] , ["w",1,-4]]"#,
        r#"[["r",1,[1,"x",2.5]]]"#,
        r#"[["r",1,[-0]]]"#,
        r#"[["append",1,1e2]]"#,
        r#"[["append","k\"",1]]"#,
        r#"[["append",1]]"#,
        r#"{"a":1}"#,
        "null",
        "[]",
        r#"[["r",1,[007]]]"#,
        r#"[["r",1,[1,2]]"#,
    ];
    const EXTRAS: &[&str] = &[
        r#","time":5"#,
        r#","node":"n1""#,
        r#","error":"boom""#,
        r#","error":["timeout"]"#,
        r#","final":true"#,
        r#","final?":false"#,
        r#","index":3"#,
        r#","x":1.5"#,
        r#","f":"again""#,
        r#","time":-1"#,
    ];
    let mut out = String::new();
    for i in 0..ops {
        let kind = if i % 2 == 0 { "invoke" } else { "ok" };
        let value = VALUES.choose(rng).unwrap();
        let extra = if rng.gen_bool(0.3) {
            EXTRAS.choose(rng).unwrap()
        } else {
            ""
        };
        let p = i / 2 % 3;
        out.push_str(&format!(
            "{{\"process\":{p},\"type\":\"{kind}\",\"f\":\"txn\",\"value\":{value}{extra}}}"
        ));
        out.push_str(["\n", "\r\n", " \n", "\n\n"].choose(rng).unwrap());
    }
    out
}

fn compare_reads(text: &[u8], format: Format, capacity: usize) {
    let fast = read(BufReader::with_capacity(capacity, text), "h", format);
    let general = read_general(text, "h", format);
    assert_same_read("fast vs general", &fast, &general, text);
}

fn compare_elle(text: &[u8], format: Format, capacity: usize) {
    for workload in [Workload::ListAppend, Workload::RwRegister] {
        let opts = ElleOptions::new(workload);
        let general = read_general(text, "h", format)
            .map_err(|e| e.to_string())
            .and_then(|h| check(&h, &opts).map_err(|e| e.to_string()));
        let fast = check_reader(BufReader::with_capacity(capacity, text), "h", format, &opts)
            .map_err(|e| e.to_string());
        assert_eq!(fast, general, "{}", String::from_utf8_lossy(text));
    }
}

#[test]
fn edn_fast_path_reads_what_the_parser_reads() {
    let mut rng = ChaCha8Rng::seed_from_u64(17);
    for _ in 0..3000 {
        let ops = rng.gen_range(1..8);
        let text = edn_history(&mut rng, ops);
        let capacity = rng.gen_range(1..200);
        compare_reads(text.as_bytes(), Format::Edn, capacity);
        compare_reads(text.as_bytes(), Format::PorcupineKv, capacity);
        compare_elle(text.as_bytes(), Format::Edn, capacity);
    }
}

#[test]
fn jsonl_fast_path_reads_what_serde_reads() {
    let mut rng = ChaCha8Rng::seed_from_u64(17);
    for _ in 0..3000 {
        let ops = rng.gen_range(1..8);
        let text = json_history(&mut rng, ops);
        let capacity = rng.gen_range(1..400);
        compare_elle(text.as_bytes(), Format::Jsonl, capacity);
    }
}
