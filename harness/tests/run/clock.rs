//! Clock faults on raftkv under libfaketime: a short run's history holds
//! a reading at the start, then bumps, strobes and resets, each with the offsets every node it touched
//! showed afterwards, and its report draws them.

use crate::support::*;
use serde_json::Value;

/// The completions (non-null values) of nemesis op `f` in `history`.
fn completions(history: &[Value], f: &str) -> Vec<Value> {
    history
        .iter()
        .filter(|op| op["process"] == "nemesis" && op["f"] == f && !op["value"].is_null())
        .map(|op| op["value"].clone())
        .collect()
}

/// Asserts `value` measured every node it asked to move, each offset
/// finite and within `slack_ms` of the one asked for.
fn assert_measured(value: &Value, slack_ms: f64) {
    let asked = value["offsets_ms"].as_object().expect("offsets_ms");
    let measured = value["measured_offsets_ms"].as_object().expect("measured");
    assert!(!asked.is_empty(), "{value}");
    assert!(value.get("measure_errors").is_none(), "{value}");
    for (node, want) in asked {
        let got = measured[node].as_f64().unwrap_or(f64::NAN);
        let want = want.as_f64().unwrap();
        assert!(
            got.is_finite() && (got - want).abs() <= slack_ms,
            "{node}: asked {want} ms, measured {got} ms: {value}"
        );
    }
}

#[test]
fn clock_faults_bump_strobe_and_reset_with_measured_offsets_and_a_plot() {
    let Some(_cluster) = cluster_or_skip("clock faults") else {
        return;
    };
    let results = results_dir("clock");
    let args = [
        "--nemesis",
        "clock",
        "--time-limit",
        "15s",
        "--nemesis-interval",
        "1s",
        "--clock-bump-min",
        "2s",
        "--clock-bump-max",
        "20s",
        "--strobe-delta",
        "3s",
        "--strobe-period",
        "200ms",
        "--strobe-duration",
        "1s",
        "--seed",
        "5",
    ];
    let out = run_test(&results, &args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "raftkv is correct under clock faults"
    );
    let run = latest(&results);
    let history: Vec<Value> = std::fs::read_to_string(run.join("history.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // The first reading is taken as the workload starts, before any fault.
    let opening = completions(&history, "measure-clock");
    assert_eq!(opening.len(), 1, "{opening:?}");
    assert_measured(&opening[0], 1000.0);
    let first = |f: &str| history.iter().position(|op| op["f"] == f);
    assert!(first("measure-clock") < first("bump-clock").or(first("strobe-clock")));
    let (bumps, strobes, resets) = (
        completions(&history, "bump-clock"),
        completions(&history, "strobe-clock"),
        completions(&history, "reset-clock"),
    );
    assert!(
        !bumps.is_empty() && !strobes.is_empty() && !resets.is_empty(),
        "{} bumps, {} strobes, {} resets",
        bumps.len(),
        strobes.len(),
        resets.len()
    );
    // The measurement goes over SSH and a process start: a second of slack
    // says the offset is the one asked for, whatever the machine's load.
    for v in bumps.iter().chain(&strobes).chain(&resets) {
        assert_measured(v, 1000.0);
    }
    for s in &strobes {
        assert_eq!(s["strobe"]["delta_ms"], 3000, "{s}");
        assert!(s["flips"].as_u64().unwrap() >= 1, "{s}");
    }
    let report = std::fs::read_to_string(run.join("report.html")).unwrap();
    assert!(report.contains("clock offsets over time"), "no clock plot");
    assert!(report.contains("clock strobe ±3000 ms"), "no strobe band");
    assert_cluster_gone();
}
