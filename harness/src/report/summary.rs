//! The top of a report: the verdict in one line and why, and the test as
//! configured, with the command that repeats it (Jepsen prints the seed;
//! we print the whole `temblor test` line).

use crate::run::store::ResultsFile;
use crate::run::{replay, TestSpec};
use checkers::Verdict;
use serde::Serialize;
use serde_json::Value;

/// The verdict and why.
#[derive(Debug, Serialize)]
pub struct VerdictLine {
    /// valid, invalid, unknown, harness-error, usage-error, or
    /// incomplete (no results.json).
    pub verdict: String,
    /// Why, in one sentence.
    pub why: String,
}

/// The verdict line of a run.
pub fn verdict_line(results: Option<&ResultsFile>, client_ops: usize) -> VerdictLine {
    let Some(r) = results else {
        return VerdictLine {
            verdict: "incomplete".into(),
            why: "the run left no results.json: it was stopped before its history was checked (run `temblor check` on this folder)".into(),
        };
    };
    let mut reasons: Vec<String> = r.error.iter().cloned().collect();
    reasons.extend(
        r.checks
            .iter()
            .filter(|c| c.verdict != Verdict::Valid)
            .map(|c| format!("{} is {}: {}", c.checker, c.verdict, reason(c))),
    );
    let why = if reasons.is_empty() {
        let names: Vec<&str> = r.checks.iter().map(|c| c.checker.as_str()).collect();
        format!(
            "{client_ops} client operations; every checker passed ({}).",
            names.join(", ")
        )
    } else {
        reasons.join("; ")
    };
    VerdictLine {
        verdict: r.outcome().name().into(),
        why,
    }
}

/// The verdict line, saying so when the history's last record was cut
/// short (a run killed mid-write) and skipped.
pub fn with_torn_line(mut line: VerdictLine, torn_line: Option<u32>) -> VerdictLine {
    if let Some(n) = torn_line {
        line.why.push_str(&format!(
            " The history's last record (line {n}) was cut short when the run was killed, and is skipped: 1 record cut."
        ));
    }
    line
}

/// The verdict line, saying which nodes did not come back up after a file
/// fault: a store refusing corrupted data is one of the two correct
/// answers, and the reader must see it beside the verdict.
pub fn with_refusals(mut line: VerdictLine, files: &[super::ops::FileOutcome]) -> VerdictLine {
    let refused: Vec<String> = files
        .iter()
        .filter(|f| f.refused())
        .map(|f| format!("{} ({} of {})", f.node, f.fault, f.file))
        .collect();
    if !refused.is_empty() {
        line.why.push_str(&format!(
            " After file faults, these nodes refused to start: {} (see File faults).",
            refused.join(", ")
        ));
    }
    line
}

/// The checker's own sentence for why, else the first line of its text.
fn reason(c: &crate::run::analysis::CheckOutcome) -> String {
    c.result.reason().unwrap_or_else(|| first_line(&c.text))
}

fn first_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("no explanation")
        .to_string()
}

/// The test as configured.
#[derive(Debug, Serialize)]
pub struct TestView {
    /// (label, value) rows.
    pub rows: Vec<(String, String)>,
    /// The command that repeats the run.
    pub command: String,
}

fn field(spec: &Value, k: &str) -> String {
    match &spec[k] {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(a) => a
            .iter()
            .map(super::ops::compact)
            .collect::<Vec<_>>()
            .join(", "),
        v => v.to_string(),
    }
}

/// The test rows and command from spec.json; `seed` and `duration_s` from
/// the results (the seed a run picked at random is recorded there).
/// `duration_s` is `None` when the history has no times.
pub fn test_view(spec: &Value, seed: Option<u64>, duration_s: Option<f64>) -> TestView {
    let seed = seed.or_else(|| spec["seed"].as_u64());
    let nodes = match field(spec, "nodes_file") {
        f if !f.is_empty() => format!("from {f}"),
        _ => format!("{} (local cluster)", field(spec, "nodes")),
    };
    let faults = match field(spec, "nemesis") {
        f if f.is_empty() => "none".to_string(),
        f => format!("{f} every {}s", field(spec, "nemesis_interval")),
    };
    let rows = [
        ("test", field(spec, "name")),
        ("target", target_row(spec)),
        ("nodes", nodes),
        ("workload", field(spec, "workload")),
        ("faults", faults),
        ("seed", seed.map(|s| s.to_string()).unwrap_or_default()),
        ("concurrency", field(spec, "concurrency")),
        ("time limit", format!("{}s", field(spec, "time_limit"))),
        ("duration", duration(duration_s)),
    ];
    TestView {
        rows: rows
            .into_iter()
            .filter(|(_, v)| !v.is_empty() && v != "s")
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
        command: command(spec, seed),
    }
}

fn duration(d: Option<f64>) -> String {
    match d {
        None => "unknown (the history has no times)".into(),
        Some(d) if d < 10.0 => format!("{d:.3}s (to the last record)"),
        Some(d) => format!("{d:.1}s (to the last record)"),
    }
}

/// The run's target, typed (spec.json holds a table with a `kind`; older
/// runs a bare name, read the same way).
fn target(spec: &Value) -> Option<targets::TargetSpec> {
    targets::registry::deserialize_spec(&spec["target"]).ok()
}

/// The target's name, for the results index.
pub fn target_name(spec: &Value) -> String {
    target(spec).map_or_else(|| field(spec, "target"), |t| t.name())
}

/// The target as a row: its name, kind and settings.
fn target_row(spec: &Value) -> String {
    let Some(t) = target(spec) else {
        return field(spec, "target");
    };
    let args = t.cli_args();
    let opts: Vec<&str> = args
        .chunks(2)
        .skip(1)
        .filter_map(|pair| pair.get(1).map(String::as_str))
        .collect();
    let kind = match t.kind() {
        "store" => " (shipped store)",
        "file" => " (target file)",
        _ => "",
    };
    let mut row = format!("{}{kind}", args.get(1).map_or("", String::as_str));
    if !opts.is_empty() {
        row.push_str(&format!(", {}", opts.join(", ")));
    }
    row
}

/// `temblor test ...` with every setting of the run, generated from the
/// spec's type (`run::replay`), so none is left out; `seed` is the one
/// the run used.
pub fn command(spec: &Value, seed: Option<u64>) -> String {
    match serde_json::from_value::<TestSpec>(spec.clone()) {
        Ok(mut spec) => {
            spec.seed = seed.or(spec.seed);
            replay::command_line(&spec)
        }
        Err(e) => format!("(none: spec.json is not a test this temblor reads: {e})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_command_repeats_the_run_with_every_setting() {
        let spec = json!({"name": "it's", "target": {"kind": "raftkv", "bugs": ["lease-reads"]},
            "workload": "register", "nemesis": ["partition", "kill"], "partition_shapes": ["leader"],
            "fault_targets": ["primaries"], "op_timeout": 0.5, "recovery_time": 2.0,
            "packet_delay": 0.1, "nemesis_interval": 5.0, "time_limit": 30.0, "concurrency": 10,
            "nodes": 3, "workload_options": {"rate": 20.0}});
        assert_eq!(
            command(&spec, Some(42)),
            "temblor test --name 'it'\\''s' --target raftkv --target-opt bug=lease-reads \
             --nemesis partition,kill --partition leader --fault-targets primaries \
             --packet-delay 0.1s --recovery-time 2s --op-timeout 0.5s --nodes 3 --rate 20 --seed 42"
        );
        assert_eq!(target_row(&spec), "raftkv, bug=lease-reads");
        // An older run's spec.json names its target with a bare string.
        let old = json!({"target": "etcd"});
        assert_eq!(target_row(&old), "etcd");
        let odd = command(&json!({"sede": 1}), None);
        assert!(odd.starts_with("(none: spec.json is not a test"), "{odd}");
    }

    #[test]
    fn a_run_without_results_is_incomplete_not_valid() {
        let v = verdict_line(None, 3);
        assert_eq!(v.verdict, "incomplete");
    }
}
