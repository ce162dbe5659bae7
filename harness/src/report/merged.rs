//! What a `temblor test-all` (or `temblor report --merge` over its
//! shards) reports for all its runs at once: one junit.xml with a
//! testsuite per run (a crashed run is a suite with an `<error>` holding
//! the end of its stderr), and a Markdown summary for a CI job's page
//! (`$GITHUB_STEP_SUMMARY`, a GitLab artifact).

use crate::matrix::record::{self, RunRecord, TestAll};
use crate::run::store::junit::{self, Case, Suite};
use crate::run::store::{ResultsFile, RunDir};
use std::fmt::Write as _;
use std::path::Path;

/// A run's results.json, when it has one that reads.
fn results_of(results_dir: &Path, r: &RunRecord) -> Option<ResultsFile> {
    let dir = RunDir {
        path: results_dir.join(r.run.as_ref()?),
    };
    dir.read_results().ok().flatten()
}

/// A run's testsuite: its checkers' cases and the run's own error, from
/// its results.json; for a run that exited with neither a verdict nor
/// success and recorded no error there, an error case with its stderr.
fn run_suite(results_dir: &Path, r: &RunRecord) -> Suite {
    let results = results_of(results_dir, r);
    let name = format!("{}#{}", r.cell, r.repetition);
    let mut suite = junit::suite(&name, results.as_ref());
    if results.is_none() {
        suite.cases.clear();
    }
    let error_recorded = results.as_ref().is_some_and(|r| r.error.is_some());
    if !matches!(r.exit_code, 0..=2) && !r.stderr_tail.is_empty() && !error_recorded {
        suite.cases.push(Case {
            name: "harness".into(),
            problem: "error",
            text: format!(
                "temblor test exited {} ({}); the end of its stderr:\n{}",
                r.exit_code,
                r.outcome(),
                r.stderr_tail
            ),
        });
    }
    if suite.cases.is_empty() {
        suite.cases.push(Case {
            name: "run".into(),
            problem: "error",
            text: format!(
                "temblor test exited {} and left no results.json",
                r.exit_code
            ),
        });
    }
    suite.time = r.seconds;
    suite.properties = vec![
        ("seed".into(), r.seed.to_string()),
        ("exit_code".into(), r.exit_code.to_string()),
        ("cluster".into(), r.cluster.to_string()),
        ("run".into(), r.run.clone().unwrap_or_default()),
        ("command".into(), r.command.clone()),
    ];
    suite
}

/// The merged junit.xml of every run in `all` (run folders under
/// `results_dir`): one testsuite per run.
pub fn junit_xml(results_dir: &Path, all: &TestAll) -> String {
    let suites: Vec<Suite> = all.runs.iter().map(|r| run_suite(results_dir, r)).collect();
    junit::document(&suites)
}

/// The Markdown summary of `all`: the verdict, counts, a row per run and,
/// for each run that was not valid, why and how to repeat it.
pub fn summary_md(results_dir: &Path, all: &TestAll) -> String {
    let mut md = String::new();
    let count = |o: &str| all.runs.iter().filter(|r| r.outcome() == o).count();
    let cells = {
        let mut c: Vec<usize> = all.runs.iter().map(|r| r.cell_index).collect();
        c.dedup();
        c.len()
    };
    let _ = writeln!(
        md,
        "## temblor test-all: {} (exit {})\n",
        record::outcome_of(all.exit_code),
        all.exit_code
    );
    let _ = writeln!(
        md,
        "{} runs of {cells} of the matrix's {} cells (shard {}, base seed {}): \
         {} valid, {} invalid, {} unknown, {} crashed, {} usage errors.\n",
        all.runs.len(),
        all.matrix_cells,
        all.shard,
        all.base_seed,
        count("valid"),
        count("invalid"),
        count("unknown"),
        count("crashed"),
        count("usage-error"),
    );
    if all.not_run > 0 {
        let _ = writeln!(
            md,
            "**Stopped by a signal: {} runs did not start.**\n",
            all.not_run
        );
    }
    md.push_str("| cell | run | seed | outcome | exit | seconds | results |\n");
    md.push_str("|---|---:|---:|---|---:|---:|---|\n");
    for r in &all.runs {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} {} | {} | {:.1} | {} |",
            r.cell,
            r.repetition,
            r.seed,
            icon(r.outcome()),
            r.outcome(),
            r.exit_code,
            r.seconds,
            r.run.as_deref().map_or("-".into(), |p| format!("`{p}`")),
        );
    }
    let bad: Vec<&RunRecord> = all.runs.iter().filter(|r| r.exit_code != 0).collect();
    if !bad.is_empty() {
        md.push_str("\n### Not valid\n");
    }
    for r in bad {
        let _ = writeln!(
            md,
            "\n**{} #{}** (seed {}): {}",
            r.cell,
            r.repetition,
            r.seed,
            r.outcome()
        );
        if let Some(results) = results_of(results_dir, r) {
            for c in results
                .checks
                .iter()
                .filter(|c| c.verdict != checkers::Verdict::Valid)
            {
                let first = c.text.lines().next().unwrap_or("");
                let _ = writeln!(md, "- {} {}: {}", c.checker, c.verdict, first);
            }
        }
        if !r.stderr_tail.is_empty() {
            let _ = writeln!(md, "\n```text\n{}\n```", r.stderr_tail.trim_end());
        }
        let _ = writeln!(md, "\nRepeat it: `{}`", r.command);
    }
    md
}

fn icon(outcome: &str) -> &'static str {
    match outcome {
        "valid" => "✅",
        "invalid" => "❌",
        "unknown" => "❔",
        _ => "💥",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(cell: &str, exit_code: u8, run: Option<&str>) -> RunRecord {
        RunRecord {
            cell: cell.into(),
            cell_index: 0,
            repetition: 1,
            seed: 9,
            cluster: 0,
            exit_code,
            run: run.map(str::to_string),
            seconds: 1.5,
            command: format!("temblor test --name {cell} --seed 9"),
            stderr_tail: if exit_code == 255 {
                "temblor: cannot <bring up> \u{1b}[1mthe cluster\n".into()
            } else {
                String::new()
            },
        }
    }

    #[test]
    fn a_crashed_run_is_an_error_suite_with_its_stderr_escaped() {
        let dir = std::env::temp_dir().join(format!("temblor-merged-{}", std::process::id()));
        let run = dir.join("ok/20260101T000000");
        std::fs::create_dir_all(&run).unwrap();
        std::fs::write(
            run.join("results.json"),
            r#"{"verdict":"invalid","checks":[{"checker":"linearizable","verdict":"invalid","result":{},"text":"a & b"},{"checker":"stats","verdict":"valid","result":{},"text":"fine"}]}"#,
        )
        .unwrap();
        let all = TestAll {
            schema_version: 1,
            shard: "1/1".into(),
            matrix_cells: 2,
            exit_code: 255,
            runs: vec![
                record("ok", 1, Some("ok/20260101T000000")),
                record("boom", 255, None),
            ],
            ..TestAll::default()
        };
        let xml = junit_xml(&dir, &all);
        assert!(
            xml.contains(r#"tests="3" failures="1" errors="1""#),
            "{xml}"
        );
        assert!(xml.contains("a &amp; b"), "{xml}");
        assert!(
            xml.contains("cannot &lt;bring up&gt; \\u{1b}[1mthe cluster"),
            "{xml}"
        );
        assert!(!xml.contains('\u{1b}'), "control characters are escaped");
        assert!(
            xml.contains(r#"<property name="seed" value="9"/>"#),
            "{xml}"
        );
        let md = summary_md(&dir, &all);
        assert!(
            md.starts_with("## temblor test-all: crashed (exit 255)"),
            "{md}"
        );
        assert!(
            md.contains("| ok | 1 | 9 | ❌ invalid | 1 | 1.5 | `ok/20260101T000000` |"),
            "{md}"
        );
        assert!(md.contains("- linearizable invalid: a & b"), "{md}");
        assert!(
            md.contains("Repeat it: `temblor test --name boom --seed 9`"),
            "{md}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
