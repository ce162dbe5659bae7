//! `results/index.html`: every run in the results folder, newest first,
//! with its verdict, target, workload, faults, duration and op count
//! (Jepsen's `web.clj` home page), read from each run's spec.json and
//! results.json only, so that listing hundreds of runs stays fast.

use super::load::read_json;
use super::results::ResultsFile;
use serde::Serialize;
use serde_json::Value;
use std::path::Path;

/// One run, as the index lists it.
#[derive(Debug, Serialize)]
pub struct Row {
    /// `<test>/<timestamp>`, the link target's folder.
    pub path: String,
    /// The test's name (its folder).
    pub test: String,
    /// The run's timestamp (its folder).
    pub stamp: String,
    /// valid, invalid, unknown or incomplete.
    pub verdict: String,
    /// The system under test.
    pub target: String,
    /// The workload.
    pub workload: String,
    /// Fault families, comma-separated.
    pub faults: String,
    /// Seconds (to the last record, or the time limit).
    pub duration: String,
    /// Client operations (or history records).
    pub ops: String,
    /// True when report.html exists.
    pub has_report: bool,
}

/// Every run under `results`, newest first. A folder that cannot be read
/// is listed as incomplete rather than hiding the others.
pub fn rows(results: &Path) -> anyhow::Result<Vec<Row>> {
    let mut out = Vec::new();
    for test in sorted_dirs(results)? {
        for stamp in sorted_dirs(&results.join(&test))? {
            let dir = results.join(&test).join(&stamp);
            if dir.join("spec.json").exists() || dir.join("results.json").exists() {
                out.push(row(&dir, &test, &stamp));
            }
        }
    }
    out.sort_by(|a, b| b.stamp.cmp(&a.stamp).then_with(|| a.test.cmp(&b.test)));
    Ok(out)
}

/// Sub-folders of `dir` (not symlinks, so `latest` is not listed twice).
fn sorted_dirs(dir: &Path) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => {
            return Err(anyhow::Error::new(e).context(format!("cannot list {}", dir.display())))
        }
    };
    for e in entries.flatten() {
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            out.push(e.file_name().to_string_lossy().into_owned());
        }
    }
    out.sort();
    Ok(out)
}

fn row(dir: &Path, test: &str, stamp: &str) -> Row {
    let spec = read_json(&dir.join("spec.json"))
        .ok()
        .flatten()
        .unwrap_or(Value::Null);
    let results: Option<ResultsFile> = read_json(&dir.join("results.json"))
        .ok()
        .flatten()
        .and_then(|v| serde_json::from_value(v).ok());
    let s = |k: &str| spec[k].as_str().unwrap_or("").to_string();
    let faults: Vec<String> = spec["nemesis"]
        .as_array()
        .into_iter()
        .flatten()
        .map(super::ops::compact)
        .collect();
    let duration = results
        .as_ref()
        .and_then(|r| r.duration_s)
        .or_else(|| spec["time_limit"].as_f64());
    let ops = results.as_ref().and_then(|r| r.client_ops.or(r.ops));
    Row {
        path: format!("{test}/{stamp}"),
        test: test.to_string(),
        stamp: stamp.to_string(),
        verdict: results
            .as_ref()
            .map_or("incomplete".into(), |r| r.verdict.to_string()),
        target: super::summary::target_name(&spec),
        workload: s("workload"),
        faults: if faults.is_empty() {
            "none".into()
        } else {
            faults.join(",")
        },
        duration: duration.map(|d| format!("{d:.1}s")).unwrap_or_default(),
        ops: ops.map(|o| o.to_string()).unwrap_or_default(),
        has_report: dir.join("report.html").exists(),
    }
}
