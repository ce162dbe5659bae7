//! `temblor report`: (re)render the report of runs already recorded, and
//! the results index, e.g. after upgrading temblor or for a run whose
//! controller was killed before it wrote its report; with `--merge`, join
//! the results folders of `temblor test-all` shards (CI artifacts) into
//! one, with one junit.xml, one summary and one index.

use super::UsageError;
use harness::run::store::{self, ResultsDir, RunDir};
use std::path::{Path, PathBuf};

/// Render report.html and junit.xml of runs, then the results index.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Run folders (results/<test>/<timestamp>, or results/latest).
    #[arg(value_name = "RUN_DIR")]
    pub runs: Vec<PathBuf>,
    /// The results folder whose index.html to rewrite (default: the run
    /// folder's grandparent, else ./results); with --merge, the folder the
    /// shards are merged into.
    #[arg(long, value_name = "DIR")]
    pub results: Option<PathBuf>,
    /// Results folders of `temblor test-all` shards to merge (`--merge
    /// shards/*`): their runs are copied into --results, and one test-all
    /// record, junit.xml and summary are written for all.
    #[arg(long, num_args = 1.., value_name = "DIR")]
    pub merge: Vec<PathBuf>,
    /// With --merge: also append the Markdown summary to this file (e.g.
    /// "$GITHUB_STEP_SUMMARY").
    #[arg(long, value_name = "FILE", requires = "merge")]
    pub summary: Option<PathBuf>,
}

/// Renders each run, then the index; prints where each report went.
pub fn run(args: Args) -> anyhow::Result<u8> {
    let mut results = args.results.clone();
    for dir in &args.runs {
        let dir = std::fs::canonicalize(dir)
            .map_err(|e| UsageError(format!("cannot open run folder {}: {e}", dir.display())))?;
        harness::report::write_run(&dir)?;
        println!("{}", RunDir::open(&dir)?.report().display());
        results = results.or_else(|| dir.parent().and_then(Path::parent).map(Path::to_path_buf));
    }
    let results = results.unwrap_or_else(|| PathBuf::from("results"));
    if !args.merge.is_empty() {
        for shard in &args.merge {
            if !shard.is_dir() {
                return Err(
                    UsageError(format!("--merge {}: no such folder", shard.display())).into(),
                );
            }
        }
        let merged = harness::matrix::merge::merge(&args.merge, &results)
            .map_err(|e| UsageError(format!("{e:#}")))?;
        let dir = store::create_stamped(&results.join(store::TEST_ALL_DIR))?;
        super::test_all::finish(&results, &dir, &merged, args.summary.as_deref())?;
        return Ok(0);
    }
    harness::report::write_index(&results)?;
    println!("{}", ResultsDir::new(results).index().display());
    Ok(0)
}
