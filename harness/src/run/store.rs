//! The results folder (Jepsen's `store.clj`): one directory per run,
//! `results/<test>/<timestamp>/`, with `results/latest` pointing at the
//! newest, and the files a run leaves there. This module is the one place
//! that knows their names and the schema of what a run reports
//! (`results.json` and `junit.xml`, written together by
//! [`RunDir::write_results`] on every outcome, a harness failure
//! included); the report and the CLI read a run folder through it.
//!
//! ```text
//! results/
//!   index.html                the results index (the report's)
//!   latest -> <test>/<stamp>  the newest run
//!   <test>/<stamp>/
//!     spec.json               the TestSpec, seed included
//!     history.jsonl           every op as it happened
//!     history.csv             the same, for spreadsheets
//!     results.json            the outcome, for machines ([`results`])
//!     junit.xml               the outcome, for CI ([`junit`])
//!     temblor.log             what happened besides the ops
//!     state.json              what `temblor heal` needs
//!     report.html, timeline/  the report
//!     nodes/<node>/...        the nodes' log files
//! ```

pub mod junit;
pub mod results;

pub use results::{Outcome, ResultsFile};

use anyhow::Context as _;
use serde::Serialize;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// The test as it ran (`TestSpec`).
pub const SPEC: &str = "spec.json";
/// The history, JSON Lines.
pub const HISTORY: &str = "history.jsonl";
/// The history as CSV.
pub const HISTORY_CSV: &str = "history.csv";
/// The outcome for machines.
pub const RESULTS: &str = "results.json";
/// The outcome for CI test reporters.
pub const JUNIT: &str = "junit.xml";
/// The run's log.
pub const LOG: &str = "temblor.log";
/// The state `temblor heal` reads.
pub const STATE: &str = "state.json";
/// The report page.
pub const REPORT: &str = "report.html";
/// The report's timeline pages (a folder).
pub const TIMELINE: &str = "timeline";
/// The nodes' downloaded files (a folder of one folder per node).
pub const NODES: &str = "nodes";
/// The link to the newest run, in the results folder.
pub const LATEST: &str = "latest";
/// The results index, in the results folder.
pub const INDEX: &str = "index.html";

/// The results folder, holding every run.
#[derive(Clone, Debug)]
pub struct ResultsDir {
    /// Its path.
    pub path: PathBuf,
}

impl ResultsDir {
    /// The results folder at `path` (which may not exist yet).
    pub fn new(path: impl Into<PathBuf>) -> ResultsDir {
        ResultsDir { path: path.into() }
    }

    /// `latest`, the link to the newest run.
    pub fn latest(&self) -> PathBuf {
        self.path.join(LATEST)
    }

    /// `index.html`.
    pub fn index(&self) -> PathBuf {
        self.path.join(INDEX)
    }

    /// Every run folder (`<test>/<stamp>` holding a spec or results),
    /// sorted by test then stamp; `latest` is not followed. A missing
    /// results folder holds no runs.
    pub fn runs(&self) -> anyhow::Result<Vec<RunDir>> {
        let mut out = Vec::new();
        for test in sub_dirs(&self.path)? {
            for stamp in sub_dirs(&self.path.join(&test))? {
                let dir = RunDir {
                    path: self.path.join(&test).join(&stamp),
                };
                if dir.spec().exists() || dir.results().exists() {
                    out.push(dir);
                }
            }
        }
        Ok(out)
    }
}

/// Sub-folder names of `dir`, sorted (not symlinks, so `latest` is not
/// listed twice); none when `dir` does not exist.
fn sub_dirs(dir: &Path) -> anyhow::Result<Vec<String>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("cannot list {}", dir.display())),
    };
    let mut out: Vec<String> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    out.sort();
    Ok(out)
}

/// One run's folder.
#[derive(Clone, Debug)]
pub struct RunDir {
    /// `results/<test>/<timestamp>`.
    pub path: PathBuf,
}

impl RunDir {
    /// Creates `<results>/<test>/<timestamp>` (UTC, `20261122T140501`),
    /// adding a suffix if a run in the same second already has it, and
    /// points `<results>/latest` at it.
    pub fn create(results: &Path, test: &str) -> anyhow::Result<RunDir> {
        let path = create_stamped(&results.join(test))?;
        let dir = RunDir { path };
        dir.point_latest(results)?;
        Ok(dir)
    }

    /// An existing run folder at `path` (e.g. `results/latest`), for
    /// reading.
    pub fn open(path: &Path) -> anyhow::Result<RunDir> {
        anyhow::ensure!(path.is_dir(), "{} is not a run folder", path.display());
        Ok(RunDir {
            path: path.to_path_buf(),
        })
    }

    /// The run's id, `<test>/<timestamp>` (its folder under the results).
    pub fn id(&self) -> String {
        let mut parts = self.path.iter().rev().take(2).collect::<Vec<_>>();
        parts.reverse();
        parts
            .iter()
            .map(|p| p.to_string_lossy())
            .collect::<Vec<_>>()
            .join("/")
    }

    /// The run's timestamp (its folder's name).
    pub fn stamp(&self) -> String {
        let name = self.path.file_name().unwrap_or_default();
        name.to_string_lossy().into_owned()
    }

    /// The test's name (the folder above the run's).
    pub fn test(&self) -> String {
        let parent = self.path.parent().and_then(Path::file_name);
        parent.map_or_else(|| "run".into(), |n| n.to_string_lossy().into_owned())
    }

    /// A file in the run's folder (one of this module's names).
    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// `spec.json`.
    pub fn spec(&self) -> PathBuf {
        self.file(SPEC)
    }

    /// `history.jsonl`.
    pub fn history(&self) -> PathBuf {
        self.file(HISTORY)
    }

    /// `history.csv`.
    pub fn history_csv(&self) -> PathBuf {
        self.file(HISTORY_CSV)
    }

    /// `results.json`.
    pub fn results(&self) -> PathBuf {
        self.file(RESULTS)
    }

    /// `junit.xml`.
    pub fn junit(&self) -> PathBuf {
        self.file(JUNIT)
    }

    /// `temblor.log`.
    pub fn log(&self) -> PathBuf {
        self.file(LOG)
    }

    /// `state.json`.
    pub fn state(&self) -> PathBuf {
        self.file(STATE)
    }

    /// `report.html`.
    pub fn report(&self) -> PathBuf {
        self.file(REPORT)
    }

    /// `timeline/`, the report's pages.
    pub fn timeline(&self) -> PathBuf {
        self.file(TIMELINE)
    }

    /// `nodes/`.
    pub fn nodes(&self) -> PathBuf {
        self.file(NODES)
    }

    /// The folder for `node`'s downloaded files.
    pub fn node_dir(&self, node: &str) -> anyhow::Result<PathBuf> {
        let dir = self.nodes().join(node);
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        Ok(dir)
    }

    /// Writes `value` as pretty JSON to `name`, atomically: a reader (or
    /// a controller killed mid-write) sees the old file or the new one,
    /// never half of one.
    pub fn write_json<T: Serialize>(&self, name: &str, value: &T) -> anyhow::Result<()> {
        let path = self.file(name);
        let text = serde_json::to_string_pretty(value)?;
        write_atomically(&path, (text + "\n").as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))
    }

    /// spec.json, loosely (older or newer specs still read); `None` when
    /// the run has none.
    pub fn read_spec(&self) -> anyhow::Result<Option<Value>> {
        read_json(&self.spec())
    }

    /// results.json; `None` when the run stopped before writing it.
    pub fn read_results(&self) -> anyhow::Result<Option<ResultsFile>> {
        let path = self.results();
        match read_json(&path)? {
            Some(v) => serde_json::from_value(v)
                .map(Some)
                .with_context(|| format!("{} does not follow the results schema", path.display())),
            None => Ok(None),
        }
    }

    /// Writes `results.json` and `junit.xml`, the two forms of a run's
    /// outcome, from one value (so they never disagree).
    pub fn write_results(&self, results: &ResultsFile) -> anyhow::Result<()> {
        self.write_json(RESULTS, results)?;
        self.write_junit(Some(results))
    }

    /// Writes `junit.xml` from `results`, or, for a run that left none
    /// (killed hard), an error case saying so.
    pub fn write_junit(&self, results: Option<&ResultsFile>) -> anyhow::Result<()> {
        let xml = junit::suite(&self.test(), results).to_xml();
        let path = self.junit();
        write_atomically(&path, xml.as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))
    }

    /// Points `latest` at this run by renaming a new link over it, so
    /// runs started at once in one results folder (test-all cells) never
    /// find it half replaced: the last rename wins.
    fn point_latest(&self, results: &Path) -> anyhow::Result<()> {
        let latest = ResultsDir::new(results).latest();
        let target = self.path.strip_prefix(results).unwrap_or(&self.path);
        // Made in the run's own (new) folder: no other run uses that name.
        let tmp = self.path.join(format!(".{LATEST}.tmp"));
        std::os::unix::fs::symlink(target, &tmp)
            .and_then(|()| std::fs::rename(&tmp, &latest))
            .inspect_err(|_| {
                let _ = std::fs::remove_file(&tmp);
            })
            .with_context(|| format!("cannot point {} at {}", latest.display(), target.display()))
    }
}

/// Reads a JSON file; `None` when it does not exist.
pub fn read_json(path: &Path) -> anyhow::Result<Option<Value>> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .with_context(|| format!("{} is not JSON", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Writes `bytes` to `path` through a temporary file in the same folder,
/// synced, then renamed over `path`, and syncs the folder so the rename
/// itself survives a crash.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let written = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written?;
    std::fs::File::open(dir)?.sync_all()
}

/// The folder under the results where `temblor test-all` and `temblor
/// report --merge` keep their records, one `<timestamp>` folder each.
pub const TEST_ALL_DIR: &str = "test-all";
/// A test-all's record of its runs.
pub const TEST_ALL_JSON: &str = "test-all.json";
/// A test-all's JUnit file: one testsuite per run.
pub const MERGED_JUNIT: &str = "junit.xml";
/// A test-all's Markdown summary (for `$GITHUB_STEP_SUMMARY`).
pub const SUMMARY_MD: &str = "summary.md";
/// A test-all folder's logs of each run's stdout and stderr.
pub const CELL_LOGS: &str = "logs";

/// Creates `<parent>/<timestamp>` (UTC, `20261122T140501`), adding a
/// suffix if a folder of the same second already has it.
pub fn create_stamped(parent: &Path) -> anyhow::Result<PathBuf> {
    let stamp = timestamp(SystemTime::now());
    std::fs::create_dir_all(parent)
        .with_context(|| format!("cannot create results folder {}", parent.display()))?;
    let mut path = parent.join(&stamp);
    for n in 1.. {
        match std::fs::create_dir(&path) {
            Ok(()) => break,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                path = parent.join(format!("{stamp}-{n}"));
            }
            Err(e) => return Err(e).with_context(|| format!("cannot create {}", path.display())),
        }
    }
    Ok(path)
}

/// `t` in UTC as `YYYYMMDDTHHMMSS`.
pub fn timestamp(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamps_are_utc_calendar_dates() {
        let t = UNIX_EPOCH + Duration::from_secs(1_795_356_301);
        assert_eq!(timestamp(t), "20261122T140501");
        assert_eq!(timestamp(UNIX_EPOCH), "19700101T000000");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(timestamp(leap), "20000229T000000");
    }

    #[test]
    fn json_files_are_replaced_whole() {
        let results = std::env::temp_dir().join(format!("temblor-atomic-{}", std::process::id()));
        let dir = RunDir::create(&results, "t").unwrap();
        dir.write_json("state.json", &serde_json::json!({"running": true}))
            .unwrap();
        // A second name for the old file: written in place it would change
        // too; replaced by a rename, it keeps the old text.
        let alias = results.join("alias.json");
        std::fs::hard_link(dir.file("state.json"), &alias).unwrap();
        dir.write_json("state.json", &serde_json::json!({"running": false}))
            .unwrap();
        let text = std::fs::read_to_string(dir.file("state.json")).unwrap();
        assert_eq!(text, "{\n  \"running\": false\n}\n");
        let old = std::fs::read_to_string(&alias).unwrap();
        assert_eq!(old, "{\n  \"running\": true\n}\n", "written in place");
        let names: Vec<String> = std::fs::read_dir(&dir.path)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["state.json"], "no temporary file is left");
        let e = write_atomically(Path::new("/nonexistent/dir/x.json"), b"{}").unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
        std::fs::remove_dir_all(&results).unwrap();
    }

    #[test]
    fn runs_get_their_own_folder_and_latest_follows() {
        let results = std::env::temp_dir().join(format!("temblor-store-{}", std::process::id()));
        let a = RunDir::create(&results, "t").unwrap();
        let b = RunDir::create(&results, "t").unwrap();
        assert_ne!(a.path, b.path);
        assert!(a.id().starts_with("t/20"), "{}", a.id());
        let latest = std::fs::canonicalize(results.join("latest")).unwrap();
        assert_eq!(latest, std::fs::canonicalize(&b.path).unwrap());
        // Many runs at once: each gets its folder, `latest` stays a link
        // to one of them, and no temporary link is left.
        let made: Vec<_> = std::thread::scope(|s| {
            let runs: Vec<_> = (0..8)
                .map(|_| s.spawn(|| RunDir::create(&results, "u").map(|d| d.path)))
                .collect();
            runs.into_iter()
                .map(|r| r.join().unwrap().unwrap())
                .collect()
        });
        let latest = std::fs::canonicalize(results.join("latest")).unwrap();
        assert!(made
            .iter()
            .any(|p| std::fs::canonicalize(p).unwrap() == latest));
        for run in &made {
            assert_eq!(std::fs::read_dir(run).unwrap().count(), 0, "a link is left");
        }
        std::fs::remove_dir_all(&results).unwrap();
    }
}
