//! The results folder (Jepsen's `store.clj`): one directory per run,
//! `results/<test>/<timestamp>/`, with `results/latest` pointing at the
//! newest, and the files a run leaves there (`spec.json`, `history.jsonl`,
//! `history.csv`, `results.json`, `nodes/<node>/...`).

use anyhow::Context as _;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

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
        let stamp = timestamp(SystemTime::now());
        let parent = results.join(test);
        std::fs::create_dir_all(&parent)
            .with_context(|| format!("cannot create results folder {}", parent.display()))?;
        let mut path = parent.join(&stamp);
        for n in 1.. {
            match std::fs::create_dir(&path) {
                Ok(()) => break,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    path = parent.join(format!("{stamp}-{n}"));
                }
                Err(e) => {
                    return Err(e).with_context(|| format!("cannot create {}", path.display()))
                }
            }
        }
        let dir = RunDir { path };
        dir.point_latest(results)?;
        Ok(dir)
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

    /// A file in the run's folder.
    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// The folder for `node`'s downloaded files.
    pub fn node_dir(&self, node: &str) -> anyhow::Result<PathBuf> {
        let dir = self.path.join("nodes").join(node);
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        Ok(dir)
    }

    /// Writes `value` as pretty JSON to `name`.
    pub fn write_json<T: Serialize>(&self, name: &str, value: &T) -> anyhow::Result<()> {
        let path = self.file(name);
        let text = serde_json::to_string_pretty(value)?;
        std::fs::write(&path, text + "\n")
            .with_context(|| format!("cannot write {}", path.display()))
    }

    fn point_latest(&self, results: &Path) -> anyhow::Result<()> {
        let latest = results.join("latest");
        let target = self.path.strip_prefix(results).unwrap_or(&self.path);
        let _ = std::fs::remove_file(&latest);
        std::os::unix::fs::symlink(target, &latest)
            .with_context(|| format!("cannot point {} at {}", latest.display(), target.display()))
    }
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
    fn runs_get_their_own_folder_and_latest_follows() {
        let results = std::env::temp_dir().join(format!("temblor-store-{}", std::process::id()));
        let a = RunDir::create(&results, "t").unwrap();
        let b = RunDir::create(&results, "t").unwrap();
        assert_ne!(a.path, b.path);
        assert!(a.id().starts_with("t/20"), "{}", a.id());
        let latest = std::fs::canonicalize(results.join("latest")).unwrap();
        assert_eq!(latest, std::fs::canonicalize(&b.path).unwrap());
        std::fs::remove_dir_all(&results).unwrap();
    }
}
