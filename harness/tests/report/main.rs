//! The report end to end: run folders are rendered, then opened in
//! headless Chromium, which must show the verdict and the failing op
//! without a console error; markup in a history stays text; `temblor
//! serve` answers on loopback. Screenshots are kept under
//! `$CARGO_TARGET_DIR/report-screenshots/` for a person to look at.

mod browser;
mod fixtures;

use browser::Browser;
use checkers::elle::{ElleOptions, Workload};
use checkers::linear::{ModelKind, ModelSpec};
use checkers::{History, Op, OpType};
use fixtures::*;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use workloads::CheckerSpec;

fn results_json(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("results.json")).unwrap()).unwrap()
}

/// Opens `dir/report.html`; asserts no console error and that `texts`
/// are in the rendered page; returns the DOM (None: no browser here).
fn open_report(
    browser: &Option<Browser>,
    dir: &Path,
    shot: &str,
    texts: &[String],
) -> Option<String> {
    let b = browser.as_ref()?;
    let page = dir.join("report.html");
    let (dom, console) = b.dump_dom(&page);
    assert!(
        console.is_empty(),
        "{shot}: console errors:\n{}",
        console.join("\n")
    );
    for t in texts {
        assert!(
            dom.contains(t.as_str()),
            "{shot}: {t:?} is not in the rendered page"
        );
    }
    assert!(
        dom.contains("ops shown"),
        "{shot}: the timeline script did not draw"
    );
    b.screenshot(&page, shot);
    Some(dom)
}

#[test]
fn a_valid_run_renders_with_its_plots_timeline_and_junit() {
    let browser = Browser::find();
    let results = temp_dir("valid");
    let h = register_history(3000, 7);
    let spec = spec("register-ok", "register", &["partition", "kill"], 30.0, 7);
    let dir = write_run(
        &results,
        "register-ok",
        "20260101T000000",
        &spec,
        &h,
        &register_checkers(),
    );
    harness::report::write_run(&dir).unwrap();
    harness::report::write_index(&results).unwrap();
    assert_eq!(results_json(&dir)["verdict"], "valid");
    assert_eq!(results_json(&dir)["client_ops"], 3000);
    let junit = std::fs::read_to_string(dir.join("junit.xml")).unwrap();
    assert!(junit.contains(r#"<testcase name="linearizable""#) && !junit.contains("<failure"));
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.contains("partition halves") && html.contains("--seed 7"));
    open_report(
        &browser,
        &dir,
        "valid",
        &[
            "VALID".into(),
            "every checker passed".into(),
            "temblor test --name register-ok".into(),
        ],
    );
}

#[test]
fn a_linearizability_failure_shows_the_op_that_could_not_be_linearized() {
    let histories = match shared_histories() {
        Ok(d) => d,
        Err(why) if std::env::var("CI").as_deref() != Ok("true") => {
            return eprintln!("skipped: {why}")
        }
        Err(why) => panic!("{why}"),
    };
    let browser = Browser::find();
    let h = checkers::format::read_path(
        &histories.join("knossos/cas-register/bad/cas-failure.edn"),
        None,
    )
    .unwrap();
    let checks = vec![
        CheckerSpec::Linearizable(ModelSpec::new(ModelKind::CasRegister)),
        CheckerSpec::Stats,
    ];
    let results = temp_dir("linear");
    let dir = write_run(
        &results,
        "cas-failure",
        "20260102T000000",
        &spec("cas-failure", "register", &[], 10.0, 3),
        &h,
        &checks,
    );
    harness::report::write_run(&dir).unwrap();
    let r = results_json(&dir);
    assert_eq!(r["verdict"], "invalid");
    let op = &r["checks"][0]["result"]["partitions"][0]["failure"]["op"];
    let failing = format!(
        "“{}” by process {} (index {})",
        op["describe"].as_str().unwrap(),
        op["process"],
        op["index"]
    );
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.contains(&failing), "{failing} is not in the report");
    assert!(
        html.contains("class=\"op failing\""),
        "the failing op is not drawn"
    );
    let junit = std::fs::read_to_string(dir.join("junit.xml")).unwrap();
    assert!(junit.contains("<failure message="), "{junit}");
    open_report(
        &browser,
        &dir,
        "linear-failure",
        &["INVALID".into(), failing, "could not be linearized".into()],
    );
}

#[test]
fn an_elle_anomaly_is_explained_step_by_step_and_drawn() {
    let histories = match shared_histories() {
        Ok(d) => d,
        Err(why) if std::env::var("CI").as_deref() != Ok("true") => {
            return eprintln!("skipped: {why}")
        }
        Err(why) => panic!("{why}"),
    };
    let browser = Browser::find();
    let h =
        checkers::format::read_path(&histories.join("elle/si-without-g-single.edn"), None).unwrap();
    let results = temp_dir("elle");
    let spec = spec("list-append", "list-append", &["partition"], 10.0, 5);
    let dir = write_run(
        &results,
        "list-append",
        "20260103T000000",
        &spec,
        &h,
        &[CheckerSpec::Elle(ElleOptions::new(Workload::ListAppend))],
    );
    harness::report::write_run(&dir).unwrap();
    let r = results_json(&dir);
    assert_eq!(r["verdict"], "invalid");
    let kind = r["checks"][0]["result"]["anomaly_types"][0]
        .as_str()
        .unwrap()
        .to_string();
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.contains("class=\"cycle\""), "no cycle drawn");
    assert!(
        html.contains("which no serial order allows"),
        "the cycle is not told in words"
    );
    open_report(
        &browser,
        &dir,
        "elle-anomaly",
        &["INVALID".into(), kind, "(rw):".into()],
    );
}

#[test]
fn markup_in_keys_and_values_shows_as_text_and_never_runs() {
    let browser = Browser::find();
    let results = temp_dir("hostile");
    let spec = spec(
        "<script>alert(1)</script>",
        "register",
        &["partition"],
        1.0,
        1,
    );
    let dir = write_run(
        &results,
        "hostile",
        "20260104T000000",
        &spec,
        &hostile_history(),
        &register_checkers(),
    );
    harness::report::write_run(&dir).unwrap();
    harness::report::write_index(&results).unwrap();
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert_eq!(
        html.matches("<script").count(),
        2,
        "only the page's own two scripts"
    );
    assert!(
        !html.contains("<img"),
        "markup from the history was not escaped"
    );
    let index = std::fs::read_to_string(results.join("index.html")).unwrap();
    assert_eq!(index.matches("<script").count(), 1);
    let Some(dom) = open_report(&browser, &dir, "hostile", &["INVALID".into()]) else {
        return;
    };
    assert!(!dom.contains("data-pwned=\"1\""), "an injected handler ran");
    assert!(
        dom.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "the value is not shown as text"
    );
    assert!(
        dom.contains("onerror=\"document.body"),
        "the quoted value is not shown as text"
    );
}

/// A bank whose second read lost money, a set that lost an element whose
/// value is markup, and a lock held twice at once: each checker's section
/// shows its findings as tables and plots, values escaped.
#[test]
fn workload_checkers_show_their_findings_as_tables_and_plots() {
    let results = temp_dir("workloads");
    let mut ops = Vec::new();
    let mut at = |p: u64, kind: OpType, f: &str, v: Value| {
        let t = ops.len() as u64 * 10_000_000;
        ops.push(Op::new(p, kind, f, v).at(t));
    };
    let evil = json!("<img src=x onerror=alert(1)>");
    at(0, OpType::Invoke, "add", json!([0, evil]));
    at(0, OpType::Ok, "add", json!([0, evil]));
    at(1, OpType::Invoke, "read", json!([0, null]));
    at(1, OpType::Ok, "read", json!([0, []]));
    let set = History::from_ops("set", ops.clone());
    let set_spec = workloads::by_name("set")
        .unwrap()
        .checkers(&workloads::Options::default());
    let dir = write_run(
        &results,
        "set",
        "20260105T000000",
        &spec("set", "set", &[], 1.0, 1),
        &set,
        &set_spec,
    );
    harness::report::write_run(&dir).unwrap();
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(
        html.contains("Lost elements") && html.contains("Time from an add to stable visibility")
    );
    assert!(
        !html.contains("<img"),
        "the element is markup: it must be escaped"
    );
    assert!(
        html.contains("1 lost, e.g. key 0, element"),
        "the verdict line names the lost element"
    );

    ops.clear();
    let mut at = |p: u64, kind: OpType, f: &str, v: Value| {
        let t = ops.len() as u64 * 10_000_000;
        ops.push(Op::new(p, kind, f, v).at(t));
    };
    at(
        0,
        OpType::Invoke,
        "transfer",
        json!({"from": 0, "to": 1, "amount": 3}),
    );
    at(
        0,
        OpType::Ok,
        "transfer",
        json!({"from": 0, "to": 1, "amount": 3}),
    );
    at(1, OpType::Invoke, "read", json!([0, 1]));
    at(1, OpType::Ok, "read", json!({"0": 7, "1": 13}));
    at(1, OpType::Invoke, "read", json!([0, 1]));
    at(1, OpType::Ok, "read", json!({"0": 7, "1": 10}));
    let bank = History::from_ops("bank", ops.clone());
    let opts = workloads::Options {
        accounts: 2,
        ..workloads::Options::default()
    };
    let bank_spec = workloads::by_name("bank").unwrap().checkers(&opts);
    let dir = write_run(
        &results,
        "bank",
        "20260105T000001",
        &spec("bank", "bank", &[], 1.0, 1),
        &bank,
        &bank_spec,
    );
    harness::report::write_run(&dir).unwrap();
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(
        html.contains("Total of all accounts, read by read") && html.contains("Bad reads by kind")
    );
    assert!(
        html.contains("wrong-total"),
        "the kind of bad read is named"
    );
    let plot = html
        .split("aria-label=\"bank totals over time\"")
        .nth(1)
        .unwrap();
    let plot = plot.split("</svg>").next().unwrap();
    assert_eq!(plot.matches("<circle").count(), 2, "one dot per read");

    ops.clear();
    let mut at = |p: u64, kind: OpType, f: &str, v: Value| {
        let t = ops.len() as u64 * 10_000_000;
        ops.push(Op::new(p, kind, f, v).at(t));
    };
    at(0, OpType::Invoke, "acquire", json!(0));
    at(0, OpType::Ok, "acquire", json!(0));
    at(1, OpType::Invoke, "acquire", json!(1));
    at(1, OpType::Ok, "acquire", json!(1));
    let lock = History::from_ops("lock", ops);
    let lock_spec = workloads::by_name("lock")
        .unwrap()
        .checkers(&workloads::Options::default());
    let dir = write_run(
        &results,
        "lock",
        "20260105T000002",
        &spec("lock", "lock", &[], 1.0, 1),
        &lock,
        &lock_spec,
    );
    harness::report::write_run(&dir).unwrap();
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.contains("Who held the lock when") && html.contains("owner 1"));
    assert!(
        html.contains("mutual exclusion broken"),
        "the verdict line says why"
    );
    assert!(
        html.contains("class=\"op failing\""),
        "the acquire that broke it is drawn"
    );
}

fn http_get(port: u16, path: &str) -> (String, String) {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    (
        head.lines().next().unwrap_or("").to_string(),
        body.to_string(),
    )
}

#[test]
fn temblor_report_and_serve_answer_on_loopback() {
    let results = temp_dir("serve");
    let h = register_history(200, 3);
    let spec = spec("served", "register", &["kill"], 5.0, 3);
    let dir = write_run(
        &results,
        "served",
        "20260105T000000",
        &spec,
        &h,
        &register_checkers(),
    );
    let bin = env!("CARGO_BIN_EXE_temblor");
    let status = std::process::Command::new(bin)
        .arg("report")
        .arg(&dir)
        .status()
        .unwrap();
    assert!(status.success());
    assert!(dir.join("report.html").is_file() && results.join("index.html").is_file());
    let mut child = std::process::Command::new(bin)
        .args(["serve", "--port", "0", "--results"])
        .arg(&results)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port: u16 = line
        .trim()
        .trim_end_matches('/')
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(line.contains("http://127.0.0.1:"), "{line}");
    let (status, body) = http_get(port, "/");
    let (run_status, run_body) = http_get(port, "/served/20260105T000000/report.html");
    let (up, _) = http_get(port, "/../../etc/passwd");
    let (dotted, _) = http_get(port, "/served/%2e%2e/%2e%2e/%2e%2e/etc/passwd");
    child.kill().unwrap();
    let _ = child.wait();
    assert!(status.contains("200") && body.contains("temblor runs") && body.contains("served"));
    assert!(
        run_status.contains("200") && run_body.contains("VALID"),
        "{run_status}"
    );
    assert!(
        up.contains("404") && dotted.contains("404"),
        "{up} / {dotted}"
    );
}

/// A run killed hard: no results.json, and a history whose last line was
/// cut short mid-write. `temblor check` and `temblor report` still work on
/// it and say that one record was cut.
#[test]
fn a_hard_killed_run_is_checked_and_reported_without_its_torn_last_record() {
    let results = temp_dir("torn");
    let h = register_history(200, 3);
    let spec = spec("register-killed", "register", &["partition"], 30.0, 3);
    let dir = write_run(
        &results,
        "register-killed",
        "20260101T000000",
        &spec,
        &h,
        &register_checkers(),
    );
    std::fs::remove_file(dir.join("results.json")).unwrap();
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.join("history.jsonl"))
        .unwrap();
    file.write_all(br#"{"index":400,"time":9,"process":3,"type":"ok","f":"wr"#)
        .unwrap();
    drop(file);
    let lines = h.ops.len() + 1;

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_temblor"))
        .args(["check", dir.to_str().unwrap(), "--independent"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains(&format!(
            "history.jsonl:{lines}: the last record was cut short"
        )) && err.contains("1 record cut"),
        "{err}"
    );

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_temblor"))
        .args(["report", dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(
        html.contains(&format!("last record (line {lines}) was cut short")),
        "the report does not say a record was cut"
    );
}

/// A long run's timeline is paged: report.html embeds the first page and
/// the index, the others are files beside it; jumping to a failure on the
/// last page loads that page and selects the failing op, from file://.
#[test]
fn a_long_timeline_is_paged_and_a_late_failure_loads_its_page() {
    use checkers::{Op, OpType};
    let browser = Browser::find();
    let mut h = register_history(120_000, 5);
    let last = h.ops.iter().filter_map(|o| o.time).max().unwrap_or(0);
    // A read of a value no one wrote, at the very end: not linearizable.
    let read = Op::new(9_999, OpType::Invoke, "read", serde_json::json!([0, null])).at(last + 1);
    h.ops.push(read.clone());
    h.ops.push(Op {
        kind: OpType::Ok,
        value: serde_json::json!([0, 987_654]),
        time: Some(last + 2),
        ..read
    });
    h.reindex();
    let failing_index = h.ops.len() as u64 - 2;
    let results = temp_dir("paged");
    let dir = write_run(
        &results,
        "paged",
        "20260103T000000",
        &spec("paged", "register", &["partition"], 30.0, 5),
        &h,
        &register_checkers(),
    );
    harness::report::write_run(&dir).unwrap();
    assert_eq!(results_json(&dir)["verdict"], "invalid");
    let pages: Vec<_> = std::fs::read_dir(dir.join("timeline")).unwrap().collect();
    assert_eq!(
        pages.len(),
        2,
        "120,001 ops: the first page embedded, two as files"
    );
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(
        html.len() < 12_000_000,
        "report.html is {} bytes",
        html.len()
    );
    let Some(dom) = open_report(&browser, &dir, "paged", &["INVALID".into()]) else {
        return;
    };
    assert!(
        dom.contains(&format!("index {failing_index}   process 9999")),
        "the failing op on the last page is not selected"
    );
}
