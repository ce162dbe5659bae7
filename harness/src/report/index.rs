//! `results/index.html`: every run in the results folder, newest first,
//! with its verdict, target, workload, faults, duration and op count
//! (Jepsen's `web.clj` home page), read from each run's spec.json and
//! results.json only, so that listing hundreds of runs stays fast; the
//! same rows give each test's trend (`trends`).

use crate::run::store::{ResultsDir, RunDir};
use serde::Serialize;
use serde_json::Value;

/// One run, as the index lists it.
#[derive(Debug, Serialize)]
pub struct Row {
    /// `<test>/<timestamp>`, the link target's folder.
    pub path: String,
    /// The test's name (its folder).
    pub test: String,
    /// The run's timestamp (its folder).
    pub stamp: String,
    /// valid, invalid, unknown, harness-error, usage-error, or
    /// incomplete (no results.json: killed hard).
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
    /// What makes runs the same test: the spec without its name, seed,
    /// results folder and cluster slot (for [`super::trends`]).
    #[serde(skip)]
    pub key: String,
    /// The run's seed (spec.json's, else results.json's).
    #[serde(skip)]
    pub seed: Option<u64>,
}

/// Every run under `results`, newest first. A folder that cannot be read
/// is listed as incomplete rather than hiding the others.
pub fn rows(results: &ResultsDir) -> anyhow::Result<Vec<Row>> {
    let mut out: Vec<Row> = results.runs()?.iter().map(row).collect();
    out.sort_by(|a, b| b.stamp.cmp(&a.stamp).then_with(|| a.test.cmp(&b.test)));
    Ok(out)
}

/// The spec as a test's identity: every setting but the run's name,
/// seed, results folder and cluster slot, as canonical JSON (serde_json
/// keeps object keys sorted).
fn test_key(spec: &Value) -> String {
    let mut s = spec.clone();
    if let Some(m) = s.as_object_mut() {
        for k in ["name", "seed", "results_dir", "cluster"] {
            m.remove(k);
        }
    }
    s.to_string()
}

fn row(dir: &RunDir) -> Row {
    let spec = dir.read_spec().ok().flatten().unwrap_or(Value::Null);
    let results = dir.read_results().ok().flatten();
    let (test, stamp) = (dir.test(), dir.stamp());
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
    let seed = spec["seed"]
        .as_u64()
        .or_else(|| results.as_ref().and_then(|r| r.seed));
    Row {
        key: test_key(&spec),
        seed,
        path: dir.id(),
        test,
        stamp,
        verdict: results
            .as_ref()
            .map_or("incomplete", |r| r.outcome().name())
            .into(),
        target: super::summary::target_name(&spec),
        workload: s("workload"),
        faults: if faults.is_empty() {
            "none".into()
        } else {
            faults.join(",")
        },
        duration: duration.map(|d| format!("{d:.1}s")).unwrap_or_default(),
        ops: ops.map(|o| o.to_string()).unwrap_or_default(),
        has_report: dir.report().exists(),
    }
}
