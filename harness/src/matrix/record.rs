//! What a `temblor test-all` leaves besides each run's own folder:
//! `results/test-all/<timestamp>/test-all.json`, one record per run of a
//! cell (its seed, cluster slot, exit code, run folder, and the tail of
//! its stderr when it crashed), from which the merged junit.xml, the
//! Markdown summary and `temblor report --merge` are built.
//!
//! Schema version 1, stable as results.json is: fields may be added,
//! none renamed or removed without a new `schema_version`.

use crate::error::EXIT_USAGE;
use crate::run::store;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The schema version this module writes.
pub const SCHEMA_VERSION: u32 = 1;

/// `test-all.json`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TestAll {
    /// The schema's version.
    pub schema_version: u32,
    /// The base seed every run's seed was derived from.
    pub base_seed: u64,
    /// Which shards: `1/1` for the whole matrix, `merged` for a report
    /// over several.
    pub shard: String,
    /// Cells in the whole matrix.
    pub matrix_cells: usize,
    /// The worst exit code of the runs (Jepsen's `test-all-exit!`).
    pub exit_code: u8,
    /// Every run, in the order the cells were numbered.
    pub runs: Vec<RunRecord>,
    /// Runs a signal kept from starting (the test-all then exits 255).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub not_run: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// One run of a cell.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// The cell's name (its test's name).
    pub cell: String,
    /// The cell's number in matrix order, from 0.
    pub cell_index: usize,
    /// Which run of the cell, from 1.
    pub repetition: usize,
    /// The run's seed.
    pub seed: u64,
    /// The local cluster slot it ran on.
    pub cluster: u8,
    /// `temblor test`'s exit code (255 when it died by a signal).
    pub exit_code: u8,
    /// Its run folder, relative to the results folder (`<test>/<time>`),
    /// when it made one.
    pub run: Option<String>,
    /// Seconds the run took, start to exit.
    pub seconds: f64,
    /// The command that repeats it.
    pub command: String,
    /// The end of its stderr, when it exited with neither a verdict nor
    /// success (254, 255).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub stderr_tail: String,
}

impl RunRecord {
    /// valid, invalid, unknown, usage-error or crashed, from the exit code.
    pub fn outcome(&self) -> &'static str {
        outcome_of(self.exit_code)
    }
}

/// What `temblor test`'s exit code says: valid, invalid, unknown,
/// usage-error, or crashed (255, or death by a signal).
pub fn outcome_of(exit_code: u8) -> &'static str {
    match exit_code {
        0 => "valid",
        1 => "invalid",
        2 => "unknown",
        EXIT_USAGE => "usage-error",
        _ => "crashed",
    }
}

/// How bad an exit code is, for [`worst_exit`]: 255 > 254 > 2 > 1 > 0,
/// as Jepsen's `test-all-exit!` ranks a crash over unknown over invalid.
fn badness(code: u8) -> u8 {
    match code {
        0 => 0,
        1 => 1,
        2 => 2,
        EXIT_USAGE => 3,
        _ => 4,
    }
}

/// The exit code of many runs: the worst one (0 for none).
pub fn worst_exit(codes: impl IntoIterator<Item = u8>) -> u8 {
    codes.into_iter().max_by_key(|&c| badness(c)).unwrap_or(0)
}

impl TestAll {
    /// Reads a `test-all.json`.
    pub fn read(path: &Path) -> anyhow::Result<TestAll> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
        serde_json::from_str(&text)
            .map_err(|e| anyhow::anyhow!("{} is not a test-all record: {e}", path.display()))
    }

    /// Writes it into `dir`, atomically.
    pub fn write(&self, dir: &Path) -> anyhow::Result<()> {
        let path = dir.join(store::TEST_ALL_JSON);
        let text = serde_json::to_string_pretty(self)? + "\n";
        store::write_atomically(&path, text.as_bytes())
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))
    }

    /// Every `test-all.json` under `results/test-all/`, oldest first.
    pub fn find(results: &Path) -> anyhow::Result<Vec<PathBuf>> {
        let dir = results.join(store::TEST_ALL_DIR);
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => anyhow::bail!("cannot list {}: {e}", dir.display()),
        };
        let mut out: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path().join(store::TEST_ALL_JSON))
            .filter(|p| p.is_file())
            .collect();
        out.sort();
        Ok(out)
    }
}

/// The last `max` bytes of `text`, cut at a line start when one is near.
pub fn tail(text: &str, max: usize) -> String {
    let mut start = text.len().saturating_sub(max);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    let cut = &text[start..];
    match (start > 0, cut.find('\n')) {
        (true, Some(i)) if i + 1 < cut.len() => cut[i + 1..].to_string(),
        _ => cut.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worst_exit_code_wins() {
        assert_eq!(worst_exit([]), 0);
        assert_eq!(worst_exit([0, 1, 0]), 1);
        assert_eq!(worst_exit([1, 2, 0]), 2);
        assert_eq!(worst_exit([2, 255, 1]), 255);
        assert_eq!(worst_exit([254, 2]), 254);
        assert_eq!(worst_exit([254, 255]), 255);
        assert_eq!(
            worst_exit([101, 2]),
            101,
            "any other failure ranks with crashes"
        );
    }

    #[test]
    fn tails_start_at_a_line_and_keep_whole_characters() {
        assert_eq!(tail("short", 100), "short");
        assert_eq!(tail("one\ntwo\nthree\n", 9), "three\n");
        let t = tail("ééé\nabc", 6);
        assert_eq!(t, "abc");
    }
}
