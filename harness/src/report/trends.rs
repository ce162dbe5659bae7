//! Trends for `results/index.html`: each test's runs over time. Runs are
//! the same test when their specs agree on everything but name, seed,
//! results folder and cluster slot (so a nightly cell is one test from
//! night to night). Per test: its recent runs as a strip (valid, invalid,
//! unknown, crashed), its first failing run, and a flaky mark when two
//! runs with the same seed reached different verdicts (a crashed run has
//! no verdict and never makes a test flaky; a run that ended in a harness
//! or usage error, or left no results.json, counts as crashed). Built from the index's rows,
//! which read only spec.json and results.json.

use super::index::Row;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Runs shown in a test's strip, the newest.
pub const STRIP: usize = 30;

/// One run in a strip.
#[derive(Debug, Serialize)]
pub struct Mark {
    /// `<test>/<timestamp>`.
    pub path: String,
    /// The run's timestamp.
    pub stamp: String,
    /// valid, invalid, unknown, or crashed (no results.json).
    pub verdict: String,
    /// The run's seed, when known.
    pub seed: Option<u64>,
    /// True when report.html exists.
    pub has_report: bool,
}

/// One test's runs over time.
#[derive(Debug, Serialize)]
pub struct Trend {
    /// The newest run's test name.
    pub test: String,
    /// Target, workload and faults.
    pub what: String,
    /// Runs of this test.
    pub runs: usize,
    /// The newest [`STRIP`] runs, oldest first.
    pub strip: Vec<Mark>,
    /// The oldest run that was not valid.
    pub first_failing: Option<Mark>,
    /// Seeds whose runs reached different verdicts.
    pub flaky_seeds: Vec<u64>,
}

/// Whether the run reached a verdict (rather than a harness or usage
/// error, or no results.json at all).
fn has_verdict(r: &Row) -> bool {
    matches!(r.verdict.as_str(), "valid" | "invalid" | "unknown")
}

fn mark(r: &Row) -> Mark {
    Mark {
        path: r.path.clone(),
        stamp: r.stamp.clone(),
        verdict: if has_verdict(r) {
            r.verdict.clone()
        } else {
            "crashed".into()
        },
        seed: r.seed,
        has_report: r.has_report,
    }
}

/// Trends of the tests among `rows`, the test with the newest run first.
pub fn trends(rows: &[Row]) -> Vec<Trend> {
    let mut groups: BTreeMap<&str, Vec<&Row>> = BTreeMap::new();
    for r in rows {
        groups.entry(r.key.as_str()).or_default().push(r);
    }
    let mut out: Vec<Trend> = groups.into_values().map(trend).collect();
    out.sort_by(|a, b| {
        let newest = |t: &Trend| t.strip.last().map(|m| m.stamp.clone());
        newest(b).cmp(&newest(a)).then_with(|| a.test.cmp(&b.test))
    });
    out
}

fn trend(mut runs: Vec<&Row>) -> Trend {
    runs.sort_by(|a, b| a.stamp.cmp(&b.stamp).then_with(|| a.path.cmp(&b.path)));
    let newest = runs[runs.len() - 1];
    let mut by_seed: BTreeMap<u64, BTreeSet<&str>> = BTreeMap::new();
    for r in &runs {
        if let (Some(seed), true) = (r.seed, has_verdict(r)) {
            by_seed.entry(seed).or_default().insert(&r.verdict);
        }
    }
    Trend {
        test: newest.test.clone(),
        what: format!("{} {} {}", newest.target, newest.workload, newest.faults),
        runs: runs.len(),
        strip: runs[runs.len().saturating_sub(STRIP)..]
            .iter()
            .map(|r| mark(r))
            .collect(),
        first_failing: runs.iter().find(|r| r.verdict != "valid").map(|r| mark(r)),
        flaky_seeds: by_seed
            .into_iter()
            .filter(|(_, v)| v.len() > 1)
            .map(|(s, _)| s)
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// A run folder as `temblor test` leaves it (results.json absent:
    /// a crashed run).
    fn run(results: &Path, test: &str, stamp: &str, spec: &str, verdict: Option<&str>) {
        let dir = results.join(test).join(stamp);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("spec.json"), spec).unwrap();
        if let Some(v) = verdict {
            let r = format!(r#"{{"verdict":"{v}","checks":[]}}"#);
            std::fs::write(dir.join("results.json"), r).unwrap();
        }
    }

    #[test]
    fn runs_of_one_test_form_a_strip_with_first_failure_and_flaky_seeds() {
        let results = std::env::temp_dir().join(format!("temblor-trends-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&results);
        let reg = |seed: u64| {
            format!(
                r#"{{"name":"night","target":{{"kind":"raftkv"}},"workload":"register","nemesis":["partition"],"seed":{seed},"cluster":{seed}}}"#
            )
        };
        let set =
            r#"{"name":"s","target":{"kind":"raftkv"},"workload":"set","nemesis":[],"seed":1}"#;
        run(&results, "night", "20260101T020000", &reg(1), Some("valid"));
        run(
            &results,
            "night",
            "20260102T020000",
            &reg(2),
            Some("invalid"),
        );
        run(
            &results,
            "night-2",
            "20260103T020000",
            &reg(1),
            Some("invalid"),
        );
        run(&results, "night", "20260104T020000", &reg(3), None);
        run(&results, "night", "20260105T020000", &reg(3), Some("valid"));
        run(&results, "s", "20260101T000000", set, Some("valid"));
        run(&results, "s", "20260102T000000", set, None);
        let rows =
            super::super::index::rows(&crate::run::store::ResultsDir::new(&results)).unwrap();
        let t = trends(&rows);
        assert_eq!(
            t.len(),
            2,
            "the name does not split a test; the workload does"
        );
        let night = &t[0];
        assert_eq!(night.runs, 5);
        let strip: Vec<&str> = night.strip.iter().map(|m| m.verdict.as_str()).collect();
        assert_eq!(strip, ["valid", "invalid", "invalid", "crashed", "valid"]);
        assert_eq!(
            night.first_failing.as_ref().unwrap().path,
            "night/20260102T020000"
        );
        assert_eq!(
            night.flaky_seeds,
            [1],
            "seed 1 was valid, then invalid; a crash is no verdict"
        );
        let s = &t[1];
        assert!(s.flaky_seeds.is_empty());
        assert_eq!(s.first_failing.as_ref().unwrap().verdict, "crashed");
        super::super::write_index(&results).unwrap();
        let html = std::fs::read_to_string(results.join("index.html")).unwrap();
        assert!(html.contains("flaky"), "{html}");
        assert!(
            html.contains(">20260102T020000</a> <span class=\"badge invalid\">"),
            "{html}"
        );
        std::fs::remove_dir_all(&results).unwrap();
    }

    #[test]
    fn a_strip_holds_the_newest_runs() {
        let rows: Vec<Row> = (0..40)
            .map(|i| Row {
                path: format!("t/{i:03}"),
                test: "t".into(),
                stamp: format!("{i:03}"),
                verdict: "valid".into(),
                target: String::new(),
                workload: String::new(),
                faults: String::new(),
                duration: String::new(),
                ops: String::new(),
                has_report: false,
                key: "k".into(),
                seed: Some(i),
            })
            .collect();
        let t = trends(&rows);
        assert_eq!(t[0].strip.len(), STRIP);
        assert_eq!(t[0].strip[0].stamp, "010");
        assert!(t[0].first_failing.is_none());
    }
}
