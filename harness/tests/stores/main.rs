//! The stores temblor ships as target files with their clients
//! (`targets/stores/<name>/`), each tested for real on a 3-node local
//! cluster: installed by the target's own install step, run under faults,
//! its history checked and its report written. A store that comes out
//! invalid is a finding, not a failure: these tests assert a verdict only
//! where the store's documentation promises it.
//!
//! They need root and the local cluster: outside CI they skip, saying why;
//! with `CI=true` they must run. Runs are serialized (one local cluster).

mod postgres;
mod redis;
#[path = "../run/support.rs"]
#[allow(dead_code)]
mod support;
mod zookeeper;

use std::path::Path;
use std::sync::MutexGuard;
use support::*;

/// The cluster lock, when this machine can run the local cluster and the
/// controller has the client's Python library `module` from Debian (each
/// target installs its store on the nodes itself).
pub fn store_or_skip(module: &str, test: &str) -> Option<MutexGuard<'static, ()>> {
    let guard = cluster_or_skip(test)?;
    if !Path::new("/usr/lib/python3/dist-packages")
        .join(module)
        .is_dir()
    {
        let why =
            format!("{test}: the client needs python3-{module} (apt-get install python3-{module})");
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{why} (CI=true: this test must run)"
        );
        eprintln!("skipping {why}");
        return None;
    }
    Some(guard)
}

/// The run completed (valid or invalid, never unknown or an error), its
/// history was checked for linearizability, and its report states the
/// verdict and, for each checker that did not pass, why.
pub fn assert_checked_and_explained(code: Option<i32>, run: &Path) -> String {
    assert!(
        matches!(code, Some(0 | 1)),
        "the run must complete with a verdict, not exit {code:?}"
    );
    let verdict = results_json(run)["verdict"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(
        code,
        Some(if verdict == "valid" { 0 } else { 1 }),
        "the exit code says the verdict {verdict}"
    );
    let checks = verdicts(run);
    assert!(
        checks.iter().any(|(c, _)| c == "linearizable"),
        "no linearizability check in {checks:?}"
    );
    let report = std::fs::read_to_string(run.join("report.html")).unwrap();
    let badge = format!(r#"id="verdict">{}</span>"#, verdict.to_uppercase());
    assert!(
        report.contains(&badge),
        "report.html does not say {verdict}"
    );
    let why = report
        .split_once(r#"<p id="why">"#)
        .and_then(|(_, rest)| rest.split_once("</p>"))
        .map(|(why, _)| why)
        .expect("report.html has a why line");
    let mut reasons: Vec<String> = checks
        .iter()
        .filter(|(_, v)| v != "valid")
        .map(|(c, v)| format!("{c} is {v}"))
        .collect();
    if reasons.is_empty() {
        reasons.push("every checker passed".into());
    }
    if checks.contains(&("linearizable".into(), "invalid".into())) {
        reasons.push("could not be linearized".into());
    }
    for reason in reasons {
        assert!(
            why.contains(&reason),
            "report.html's why line lacks {reason:?}: {why}"
        );
    }
    verdict
}
