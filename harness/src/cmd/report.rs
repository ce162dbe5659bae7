//! `temblor report`: (re)render the report of runs already recorded, and
//! the results index, e.g. after upgrading temblor or for a run whose
//! controller was killed before it wrote its report.

use super::UsageError;
use harness::run::store::{ResultsDir, RunDir};
use std::path::{Path, PathBuf};

/// Render report.html and junit.xml of runs, then the results index.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Run folders (results/<test>/<timestamp>, or results/latest).
    #[arg(value_name = "RUN_DIR")]
    pub runs: Vec<PathBuf>,
    /// The results folder whose index.html to rewrite (default: the run
    /// folder's grandparent, else ./results).
    #[arg(long, value_name = "DIR")]
    pub results: Option<PathBuf>,
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
    harness::report::write_index(&results)?;
    println!("{}", ResultsDir::new(results).index().display());
    Ok(0)
}
