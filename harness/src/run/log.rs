//! The run's log, `temblor.log` in its results folder: what happened
//! besides the ops (client programs' stderr, a client restarted and why,
//! steps of the target), one line each, stamped with the seconds since the
//! run began, so that a failed or surprising run can be read afterwards.
//! The line "the workload starts" gives the stamp of the history's time 0.

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use targets::protocol::LogFn;

/// An append-only log file shared by every task of a run.
#[derive(Clone)]
pub struct RunLog {
    file: Arc<Mutex<std::fs::File>>,
    start: Instant,
}

impl RunLog {
    /// Creates (or appends to) `path`.
    pub fn create(path: &Path) -> anyhow::Result<RunLog> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| anyhow::anyhow!("cannot open the run's log {}: {e}", path.display()))?;
        Ok(RunLog {
            file: Arc::new(Mutex::new(file)),
            start: Instant::now(),
        })
    }

    /// Appends `line`. A log that cannot be written never stops a run.
    pub fn line(&self, line: &str) {
        let stamp = self.start.elapsed().as_secs_f64();
        let mut f = self.file.lock().unwrap_or_else(|e| e.into_inner());
        let _ = writeln!(f, "{stamp:9.3} {line}");
    }

    /// The log as the callback targets write to.
    pub fn sink(&self) -> LogFn {
        let me = self.clone();
        Arc::new(move |line: &str| me.line(line))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_stamped_and_appended() {
        let dir = std::env::temp_dir().join(format!("temblor-runlog-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("temblor.log");
        let log = RunLog::create(&path).unwrap();
        (log.sink())("client n1 [pid 7]: hello");
        log.line("second");
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].ends_with(" client n1 [pid 7]: hello"), "{text}");
        assert!(lines[0].trim_start().starts_with("0."), "{text}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
