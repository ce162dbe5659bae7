//! The progress line: elapsed / limit, ops/s, ok/fail/info counts and the
//! faults in force, rewritten in place on stderr once a second.

use crate::nemesis::Active;
use crate::recorder::{Progress, Recorder};
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinHandle;

/// Prints the progress line every second until aborted.
pub fn spawn(recorder: &Recorder, active: Arc<Mutex<Active>>, limit_secs: f64) -> JoinHandle<()> {
    let counts = recorder.progress_handle();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            let line = line(&counts, &active, limit_secs);
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[K{line}");
            let _ = err.flush();
        }
    })
}

fn line(counts: &Mutex<Progress>, active: &Mutex<Active>, limit_secs: f64) -> String {
    let p = counts.lock().map(|p| p.clone()).unwrap_or_default();
    let faults = active.lock().map(|a| a.describe()).unwrap_or_default();
    format!(
        "{:>6.1}/{limit_secs:.0}s  {:>7.0} ops/s  ok {}  fail {}  info {}  faults: {}",
        p.elapsed as f64 / 1e9,
        p.ops_per_sec(),
        p.ok,
        p.fail,
        p.info,
        if faults.is_empty() { "none" } else { &faults }
    )
}
