//! The progress line: elapsed / limit, ops/s, ok/fail/info counts and the
//! faults in force. On a terminal it is redrawn in place on stderr once a
//! second; anywhere else (a CI log, a file) it is a plain line every few
//! seconds, with no carriage returns or escape codes to litter the log.
//! `-q` turns it off; the run's log gets the plain line every few seconds
//! whatever the terminal shows.

use crate::nemesis::Active;
use crate::recorder::{Progress, Recorder};
use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinHandle;
use tracing::Instrument as _;

/// How often a plain (not a terminal) progress line is printed.
const PLAIN_EVERY: Duration = Duration::from_secs(5);

/// How the progress line is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Style {
    /// Redrawn in place (`\r`, erase to the end of the line).
    Terminal,
    /// A line of its own each time.
    Plain,
    /// Nothing on the terminal (`-q`).
    Off,
}

impl Style {
    fn of_stderr() -> Style {
        match (super::log::quiet(), std::io::stderr().is_terminal()) {
            (true, _) => Style::Off,
            (false, true) => Style::Terminal,
            (false, false) => Style::Plain,
        }
    }

    fn every(self) -> Duration {
        match self {
            Style::Terminal => Duration::from_secs(1),
            Style::Plain | Style::Off => PLAIN_EVERY,
        }
    }

    /// What to write to show `line`.
    fn frame(self, line: &str) -> String {
        match self {
            Style::Terminal => format!("\r\x1b[K{line}"),
            Style::Plain => format!("temblor: {line}\n"),
            Style::Off => String::new(),
        }
    }

    /// What ends the progress output: the line drawn in place is left
    /// without its newline.
    fn end(self) -> &'static str {
        match self {
            Style::Terminal => "\n",
            Style::Plain | Style::Off => "",
        }
    }
}

/// The progress line, printed until [`ProgressLine::stop`].
pub struct ProgressLine {
    task: JoinHandle<()>,
    style: Style,
}

impl ProgressLine {
    /// Stops printing and ends the line.
    pub fn stop(self) {
        self.task.abort();
        eprint!("{}", self.style.end());
    }
}

/// Starts printing the progress line on stderr.
pub fn spawn(recorder: &Recorder, active: Arc<Mutex<Active>>, limit_secs: f64) -> ProgressLine {
    let counts = recorder.progress_handle();
    let style = Style::of_stderr();
    let task = tokio::spawn(
        async move {
            let mut tick = tokio::time::interval(style.every());
            // The first tick is at once: nothing has happened yet.
            tick.tick().await;
            let mut last_logged = std::time::Instant::now();
            loop {
                tick.tick().await;
                let shown = line(&counts, &active, limit_secs);
                if last_logged.elapsed() >= PLAIN_EVERY - Duration::from_millis(100) {
                    last_logged = std::time::Instant::now();
                    tracing::debug!(target: "temblor::progress", "{shown}");
                }
                let text = style.frame(&shown);
                if !text.is_empty() {
                    let mut err = std::io::stderr().lock();
                    let _ = err.write_all(text.as_bytes());
                    let _ = err.flush();
                }
            }
        }
        .in_current_span(),
    );
    ProgressLine { task, style }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_terminal_gets_carriage_returns_and_escape_codes() {
        let line = "  12.0/30s      40 ops/s  ok 400  fail 0  info 2  faults: none";
        let plain = Style::Plain.frame(line);
        assert_eq!(plain, format!("temblor: {line}\n"));
        assert!(!plain.contains(['\r', '\x1b']) && Style::Plain.end().is_empty());
        assert!(Style::Plain.every() >= Duration::from_secs(2));
        let drawn = Style::Terminal.frame(line);
        assert!(
            drawn.starts_with("\r\x1b[K") && drawn.ends_with(line),
            "{drawn:?}"
        );
        assert_eq!(Style::Terminal.end(), "\n");
        assert_eq!(Style::Off.frame(line) + Style::Off.end(), "");
    }
}
