//! `temblor check --workload NAME` on histories of every workload, as
//! temblor writes them (JSON Lines) and as Jepsen writes them (EDN: keyword
//! `f`s and types, maps for bank balances, sets for set reads): the right
//! verdict as the exit code, each checker named in the output; and a
//! history the workload's checkers cannot read is a usage error (254)
//! naming the file and line.

use std::path::PathBuf;
use std::process::{Command, Output};

fn dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("temblor-check-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn check(name: &str, text: &str, args: &[&str]) -> Output {
    let file = dir().join(name);
    std::fs::write(&file, text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_temblor"))
        .arg("check")
        .arg(&file)
        .args(args)
        .output()
        .unwrap();
    eprintln!(
        "temblor check {name} {args:?}: {:?}\n{}{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn verdict(name: &str, text: &str, args: &[&str]) -> (i32, String) {
    let out = check(name, text, args);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
    )
}

/// Jepsen's EDN: one op map a line.
fn edn(ops: &[(&str, u64, &str, &str)]) -> String {
    ops.iter()
        .enumerate()
        .map(|(i, (t, p, f, v))| {
            format!(
                "{{:index {i}, :time {}, :type :{t}, :process {p}, :f :{f}, :value {v}}}\n",
                i * 1000
            )
        })
        .collect()
}

/// temblor's JSON Lines.
fn jsonl(ops: &[(&str, u64, &str, &str)]) -> String {
    ops.iter()
        .enumerate()
        .map(|(i, (t, p, f, v))| {
            format!(
                r#"{{"index":{i},"time":{},"process":{p},"type":"{t}","f":"{f}","value":{v}}}"#,
                i * 1000
            ) + "\n"
        })
        .collect()
}

#[test]
fn jepsen_edn_histories_of_every_workload_check() {
    let set_ok = edn(&[
        ("invoke", 0, "add", "1"),
        ("ok", 0, "add", "1"),
        ("invoke", 1, "read", "nil"),
        ("ok", 1, "read", "#{1}"),
    ]);
    let set_lost = edn(&[
        ("invoke", 0, "add", "1"),
        ("ok", 0, "add", "1"),
        ("invoke", 1, "read", "nil"),
        ("ok", 1, "read", "#{}"),
    ]);
    assert_eq!(verdict("set-ok.edn", &set_ok, &["--workload", "set"]).0, 0);
    let (code, out) = verdict("set-lost.edn", &set_lost, &["--workload", "set"]);
    assert_eq!(code, 1);
    assert!(
        out.contains("set — invalid") && out.contains("lost: element 1"),
        "{out}"
    );

    let counter = |read: &str| {
        edn(&[
            ("invoke", 0, "add", "1"),
            ("ok", 0, "add", "1"),
            ("invoke", 1, "read", "nil"),
            ("ok", 1, "read", read),
        ])
    };
    assert_eq!(
        verdict("counter-ok.edn", &counter("1"), &["--workload", "counter"]).0,
        0
    );
    let (code, out) = verdict("counter-bad.edn", &counter("0"), &["--workload", "counter"]);
    assert_eq!(code, 1);
    assert!(out.contains("outside [1, 1]"), "{out}");

    let bank = |read: &str| {
        edn(&[
            ("invoke", 0, "transfer", "{:from 0, :to 1, :amount 5}"),
            ("ok", 0, "transfer", "{:from 0, :to 1, :amount 5}"),
            ("invoke", 1, "read", "nil"),
            ("ok", 1, "read", read),
        ])
    };
    assert_eq!(
        verdict(
            "bank-ok.edn",
            &bank("{0 45, 1 55}"),
            &["--workload", "bank"]
        )
        .0,
        0
    );
    let (code, out) = verdict(
        "bank-bad.edn",
        &bank("{0 45, 1 50}"),
        &["--workload", "bank"],
    );
    assert_eq!(code, 1);
    assert!(out.contains("wrong-total"), "{out}");
    let args = ["--workload", "bank", "--accounts", "1", "--total", "95"];
    let (_, out) = verdict("bank-bad.edn", &bank("{0 45, 1 50}"), &args);
    assert!(out.contains("unexpected-key"), "{out}");

    let ids = |second: &str| {
        edn(&[
            ("invoke", 0, "generate", "nil"),
            ("ok", 0, "generate", "1"),
            ("invoke", 1, "generate", "nil"),
            ("ok", 1, "generate", second),
        ])
    };
    assert_eq!(
        verdict("ids-ok.edn", &ids("2"), &["--workload", "unique-ids"]).0,
        0
    );
    assert_eq!(
        verdict("ids-bad.edn", &ids("1"), &["--workload", "unique-ids"]).0,
        1
    );

    let lock = edn(&[
        ("invoke", 0, "acquire", "nil"),
        ("ok", 0, "acquire", "nil"),
        ("invoke", 1, "acquire", "nil"),
        ("ok", 1, "acquire", "nil"),
    ]);
    let (code, out) = verdict("lock-bad.edn", &lock, &["--workload", "lock"]);
    assert_eq!(code, 1);
    assert!(
        out.contains("could not be linearized") || out.contains("not linearizable"),
        "{out}"
    );

    let queue = |out: &str| {
        edn(&[
            ("invoke", 0, "enqueue", "1"),
            ("ok", 0, "enqueue", "1"),
            ("invoke", 1, "dequeue", "nil"),
            ("ok", 1, "dequeue", out),
        ])
    };
    assert_eq!(
        verdict("queue-ok.edn", &queue("1"), &["--workload", "queue"]).0,
        0
    );
    assert_eq!(
        verdict("queue-bad.edn", &queue("2"), &["--workload", "queue"]).0,
        1
    );

    let rw = edn(&[
        ("invoke", 0, "txn", "[[:w 1 1]]"),
        ("ok", 0, "txn", "[[:w 1 1]]"),
        ("invoke", 1, "txn", "[[:r 1 nil]]"),
        ("ok", 1, "txn", "[[:r 1 1]]"),
    ]);
    assert_eq!(verdict("rw.edn", &rw, &["--workload", "rw-register"]).0, 0);
}

#[test]
fn temblor_jsonl_histories_check_with_their_workloads_shapes() {
    let set = jsonl(&[
        ("invoke", 0, "add", "[3, 1]"),
        ("ok", 0, "add", "[3, 1]"),
        ("invoke", 1, "read", "[3, null]"),
        ("ok", 1, "read", "[3, [1, 1]]"),
    ]);
    let (code, out) = verdict("set.jsonl", &set, &["--workload", "set", "--independent"]);
    assert_eq!(code, 1);
    assert!(out.contains("2 times"), "{out}");
    let register = jsonl(&[
        ("invoke", 0, "write", "[1, 3]"),
        ("ok", 0, "write", "[1, 3]"),
        ("invoke", 1, "read", "[1, null]"),
        ("ok", 1, "read", "[1, 3]"),
    ]);
    let (code, out) = verdict(
        "register.jsonl",
        &register,
        &["--workload", "register", "--independent"],
    );
    assert_eq!(code, 0);
    assert!(
        out.contains("linearizable — valid") && out.contains("stats — valid"),
        "{out}"
    );
    let bank = jsonl(&[
        ("invoke", 1, "read", "[0, 1]"),
        ("ok", 1, "read", r#"{"0": 10, "1": 9}"#),
    ]);
    let (code, _) = verdict(
        "bank.jsonl",
        &bank,
        &["--workload", "bank", "--total", "20"],
    );
    assert_eq!(code, 1);
}

#[test]
fn histories_the_workload_cannot_read_are_usage_errors() {
    let bad = jsonl(&[
        ("invoke", 0, "add", "1"),
        ("ok", 0, "add", "1"),
        ("invoke", 1, "read", "null"),
        ("ok", 1, "read", r#""many""#),
    ]);
    let out = check("counter-bad-value.jsonl", &bad, &["--workload", "counter"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(254), "{err}");
    assert!(err.contains("counter-bad-value.jsonl:4: ok read by process 1: read value \"many\" is not an integer"), "{err}");
    let unpaired = jsonl(&[("ok", 0, "add", "1")]);
    let out = check("unpaired.jsonl", &unpaired, &["--workload", "set"]);
    assert_eq!(out.status.code(), Some(254));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unpaired.jsonl:1:"));
    let out = check("unpaired.jsonl", &unpaired, &["--workload", "ledger"]);
    assert_eq!(out.status.code(), Some(254));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown workload \"ledger\""));
}

/// A run folder as `temblor test` leaves it, from `ops` (the history) and
/// the default spec with `workload`: spec.json, history.jsonl, and the
/// run's own analysis (results.json), its Elle checkers testing the
/// consistency `models` its target promises (none: the default). Returns
/// the results folder and the run's verdict as an exit code.
fn stored_run(name: &str, workload: &str, ops: &str, models: &[&str]) -> (PathBuf, i32) {
    use harness::run::{store::RunDir, TestSpec};
    let results = dir().join(name);
    let run = RunDir::create(&results, name).unwrap();
    let spec = TestSpec {
        workload: workload.into(),
        seed: Some(7),
        ..TestSpec::default()
    };
    run.write_json("spec.json", &spec).unwrap();
    std::fs::write(run.file("history.jsonl"), ops).unwrap();
    let models: Vec<checkers::elle::Model> = models.iter().map(|m| m.parse().unwrap()).collect();
    let checkers = harness::run::analysis::promised(
        workloads::by_name(workload)
            .unwrap()
            .checkers(&spec.workload_options),
        &models,
    );
    let analysis = harness::run::conclude(&run, &checkers, 7).unwrap();
    (results, analysis.verdict.exit_code())
}

fn check_folder(folder: &std::path::Path, args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_temblor"))
        .arg("check")
        .arg(folder)
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    eprintln!("{}{stderr}", String::from_utf8_lossy(&out.stdout));
    (out.status.code().unwrap_or(-1), stderr)
}

#[test]
fn a_run_folder_with_no_flags_is_checked_as_the_run_was() {
    // Two keys: valid key by key, not as one register (the read of 3
    // follows the write of 4).
    let keyed = jsonl(&[
        ("invoke", 0, "write", "[1, 3]"),
        ("ok", 0, "write", "[1, 3]"),
        ("invoke", 1, "write", "[2, 4]"),
        ("ok", 1, "write", "[2, 4]"),
        ("invoke", 0, "read", "[1, null]"),
        ("ok", 0, "read", "[1, 3]"),
    ]);
    let (results, ran) = stored_run("register-ok", "register", &keyed, &[]);
    assert_eq!(ran, 0);
    let (code, err) = check_folder(&results.join("latest"), &[]);
    assert_eq!(code, ran, "{err}");
    assert!(err.contains("the register workload's checkers"), "{err}");
    // A flag that chooses the analysis still wins.
    let (code, _) = check_folder(&results.join("latest"), &["--model", "cas-register"]);
    assert_eq!(code, 1);

    // A read of a value never written to its key.
    let stale = jsonl(&[
        ("invoke", 0, "write", "[1, 3]"),
        ("ok", 0, "write", "[1, 3]"),
        ("invoke", 0, "read", "[1, null]"),
        ("ok", 0, "read", "[1, 4]"),
    ]);
    let (results, ran) = stored_run("register-bad", "register", &stale, &[]);
    assert_eq!(ran, 1, "{stale}");
    assert_eq!(check_folder(&results.join("latest"), &[]).0, ran);

    let appends = jsonl(&[
        ("invoke", 0, "txn", r#"[["append", 1, 1]]"#),
        ("ok", 0, "txn", r#"[["append", 1, 1]]"#),
        ("invoke", 1, "txn", r#"[["r", 1, null]]"#),
        ("ok", 1, "txn", r#"[["r", 1, [2]]]"#),
    ]);
    let (results, ran) = stored_run("append-bad", "list-append", &appends, &[]);
    assert_eq!(ran, 1);
    assert_eq!(check_folder(&results.join("latest"), &[]).0, ran);
}

#[test]
fn a_run_folder_is_checked_against_the_models_its_target_promised() {
    // Write skew (G2-item): not serializable, allowed by snapshot isolation.
    let skew = jsonl(&[
        (
            "invoke",
            0,
            "txn",
            r#"[["r", 1, null], ["r", 2, null], ["append", 1, 1]]"#,
        ),
        (
            "invoke",
            1,
            "txn",
            r#"[["r", 1, null], ["r", 2, null], ["append", 2, 1]]"#,
        ),
        (
            "ok",
            0,
            "txn",
            r#"[["r", 1, null], ["r", 2, null], ["append", 1, 1]]"#,
        ),
        (
            "ok",
            1,
            "txn",
            r#"[["r", 1, null], ["r", 2, null], ["append", 2, 1]]"#,
        ),
        ("invoke", 2, "txn", r#"[["r", 1, null], ["r", 2, null]]"#),
        ("ok", 2, "txn", r#"[["r", 1, [1]], ["r", 2, [1]]]"#),
    ]);
    let (strict, ran) = stored_run("skew-strict", "list-append", &skew, &[]);
    assert_eq!(ran, 1);
    assert_eq!(check_folder(&strict.join("latest"), &[]).0, ran);
    let (si, ran) = stored_run("skew-si", "list-append", &skew, &["snapshot-isolation"]);
    assert_eq!(ran, 0);
    assert_eq!(check_folder(&si.join("latest"), &[]).0, ran);
    // Models given on the command line win.
    let code = check_folder(
        &si.join("latest"),
        &["--consistency-models", "serializable"],
    )
    .0;
    assert_eq!(code, 1);
}
