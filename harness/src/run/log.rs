//! Logging, with `tracing`: the terminal and the run's `temblor.log`.
//!
//! - The terminal (stderr) shows what a person running temblor wants:
//!   info and up by default, warnings and errors with `-q`, debug with
//!   `-v`, trace with `-vv`; `RUST_LOG` (an `EnvFilter`) overrides all of
//!   that.
//! - `temblor.log`, in each run's results folder, always gets the
//!   harness's events at debug level whatever the terminal shows: every
//!   command sent to a node with its node, exit status and duration
//!   (`temblor::ssh`, logged by `targets::remote::Traced`), each fault
//!   applied and healed, setup and teardown steps, client programs'
//!   stderr and errors. Each line is stamped with the seconds since the
//!   run began; the line "the workload starts" gives the stamp of the
//!   history's time 0. Client ops themselves are the history's, not the
//!   log's: nothing is logged per op, so the log stays small.
//!
//! A run's events are routed to its file by the `run` span the run
//! executes in ([`RunLog::span`]); an event outside any run span (a
//! blocking thread the span did not follow) goes to the one run log open,
//! when exactly one is.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use targets::protocol::LogFn;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::{EnvFilter, LevelFilter, Targets};
use tracing_subscriber::layer::{Context, SubscriberExt as _};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::Layer;

/// The crates (and event targets) whose events are temblor's own.
const OURS: [&str; 5] = ["harness", "targets", "workloads", "checkers", "temblor"];

/// The target of the event that records why a run failed: for the run's
/// log only (the CLI prints the error itself).
pub const END: &str = "temblor::run::end";

/// Run logs open in this process, by run id.
static OPEN: Mutex<Vec<(String, Arc<Sink>)>> = Mutex::new(Vec::new());

struct Sink {
    file: Mutex<std::fs::File>,
    start: Instant,
}

impl Sink {
    fn write(&self, line: &str) {
        let stamp = self.start.elapsed().as_secs_f64();
        let mut f = self.file.lock().unwrap_or_else(|e| e.into_inner());
        // A log that cannot be written never stops a run.
        let _ = writeln!(f, "{stamp:9.3} {line}");
    }
}

/// A run's log file, open while the run goes on.
#[derive(Clone)]
pub struct RunLog {
    inner: Arc<Open>,
}

struct Open {
    id: String,
    span: tracing::Span,
}

impl Drop for Open {
    fn drop(&mut self) {
        let mut open = OPEN.lock().unwrap_or_else(|e| e.into_inner());
        open.retain(|(id, _)| *id != self.id);
    }
}

impl RunLog {
    /// Creates (or appends to) `path` as the log of the run `id`.
    pub fn create(path: &Path, id: &str) -> anyhow::Result<RunLog> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| anyhow::anyhow!("cannot open the run's log {}: {e}", path.display()))?;
        let sink = Arc::new(Sink {
            file: Mutex::new(file),
            start: Instant::now(),
        });
        OPEN.lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((id.to_string(), sink));
        let span = tracing::info_span!(target: "temblor::run", "run", run = id);
        Ok(RunLog {
            inner: Arc::new(Open {
                id: id.to_string(),
                span,
            }),
        })
    }

    /// The span the run executes in: its events go to this log.
    pub fn span(&self) -> tracing::Span {
        self.inner.span.clone()
    }

    /// Logs `line` at debug level (the run's log, and the terminal with
    /// `-v`), in the run's span.
    pub fn line(&self, line: &str) {
        self.inner
            .span
            .in_scope(|| tracing::debug!(target: "temblor::run", "{line}"));
    }

    /// The callback targets write to (client programs' stderr, notes about
    /// clients): debug level, so the terminal shows it only with `-v`.
    pub fn sink(&self) -> LogFn {
        let span = self.inner.span.clone();
        Arc::new(move |line: &str| {
            span.in_scope(|| tracing::debug!(target: "temblor::client", "{line}"))
        })
    }
}

static QUIET: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// True after `init` with `-q`: nothing but warnings and errors on the
/// terminal (no progress line).
pub fn quiet() -> bool {
    QUIET.load(std::sync::atomic::Ordering::Relaxed)
}

/// Installs the terminal and run-log layers as the process's subscriber.
/// How much the terminal shows: `-q` (-1), default (0), `-v` (1), `-vv`.
pub fn init(verbosity: i8) {
    QUIET.store(verbosity < 0, std::sync::atomic::Ordering::Relaxed);
    let terminal = match std::env::var("RUST_LOG") {
        Ok(v) if !v.trim().is_empty() => EnvFilter::try_new(&v).unwrap_or_else(|e| {
            eprintln!("temblor: RUST_LOG={v:?} is not a filter ({e}); using the default");
            terminal_filter(verbosity)
        }),
        _ => terminal_filter(verbosity),
    };
    let file = OURS
        .iter()
        .fold(Targets::new(), |t, c| t.with_target(*c, Level::DEBUG))
        .with_default(LevelFilter::WARN);
    let _ = tracing_subscriber::registry()
        .with(Terminal.with_filter(terminal))
        .with(FileLayer.with_filter(file))
        .try_init();
}

fn terminal_filter(verbosity: i8) -> EnvFilter {
    let ours = match verbosity {
        i8::MIN..=-1 => "warn",
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    let spec: Vec<String> = OURS.iter().map(|c| format!("{c}={ours}")).collect();
    // The error that ends a run is printed once, by the CLI, as it exits.
    EnvFilter::new(format!("warn,{},{END}=off", spec.join(",")))
}

/// An event's message and fields, as one line.
#[derive(Default)]
struct Line {
    message: String,
    fields: String,
}

impl Visit for Line {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "message" => self.message.push_str(value),
            name => {
                let _ = write!(self.fields, " {name}={value:?}");
            }
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "message" => {
                let _ = write!(self.message, "{value:?}");
            }
            name => {
                let _ = write!(self.fields, " {name}={value:?}");
            }
        }
    }
}

fn line_of(event: &Event<'_>) -> Line {
    let mut line = Line::default();
    event.record(&mut line);
    line
}

/// The terminal's layer: `temblor: message` (with the level for warnings
/// and errors, and the target below info).
struct Terminal;

impl<S: Subscriber> Layer<S> for Terminal {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let meta = event.metadata();
        let Line { message, fields } = line_of(event);
        let prefix = match *meta.level() {
            Level::ERROR => "error: ".to_string(),
            Level::WARN => "warning: ".to_string(),
            Level::INFO => String::new(),
            _ => format!("[{} {}] ", meta.level(), meta.target()),
        };
        eprintln!("temblor: {prefix}{message}{fields}");
    }
}

/// The run log's layer: each event to its run's `temblor.log`.
struct FileLayer;

/// The run id a `run` span carries, kept in the span's extensions.
struct RunId(String);

#[derive(Default)]
struct RunField(Option<String>);

impl Visit for RunField {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "run" {
            self.0 = Some(value.to_string());
        }
    }

    fn record_debug(&mut self, _: &Field, _: &dyn std::fmt::Debug) {}
}

impl<S> Layer<S> for FileLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: Context<'_, S>,
    ) {
        let mut run = RunField::default();
        attrs.record(&mut run);
        if let (Some(run), Some(span)) = (run.0, ctx.span(id)) {
            span.extensions_mut().insert(RunId(run));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let run = ctx.event_scope(event).and_then(|scope| {
            scope
                .into_iter()
                .find_map(|span| span.extensions().get::<RunId>().map(|r| r.0.clone()))
        });
        let Some(sink) = sink_for(run.as_deref()) else {
            return;
        };
        let meta = event.metadata();
        let Line { message, fields } = line_of(event);
        let text = format!("{:5} {}: {message}{fields}", meta.level(), meta.target());
        // One event, one line: a multi-line command or error keeps its
        // line breaks as `\n`, so the log greps and sorts by line.
        let text = targets::remote::secrets::mask(&text).replace('\n', "\\n");
        sink.write(&text);
    }
}

/// The log of run `id`, or the only one open when the event is outside
/// any run's span.
fn sink_for(id: Option<&str>) -> Option<Arc<Sink>> {
    let open = OPEN.lock().unwrap_or_else(|e| e.into_inner());
    match id {
        Some(id) => open.iter().find(|(i, _)| i == id).map(|(_, s)| s.clone()),
        None if open.len() == 1 => Some(open[0].1.clone()),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(path: &Path) -> String {
        std::fs::read_to_string(path).unwrap()
    }

    #[test]
    fn events_go_to_their_runs_log_stamped_and_masked() {
        let dir = std::env::temp_dir().join(format!("temblor-runlog-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (pa, pb) = (dir.join("a.log"), dir.join("b.log"));
        let subscriber = tracing_subscriber::registry().with(FileLayer);
        tracing::subscriber::with_default(subscriber, || {
            let a = RunLog::create(&pa, "t/a").unwrap();
            let b = RunLog::create(&pb, "t/b").unwrap();
            (a.sink())("client n1 [pid 7]: hello");
            b.line("second");
            targets::remote::secrets::register("s3cret-pw");
            a.span().in_scope(|| {
                tracing::debug!(target: "temblor::ssh", node = "n2", status = 3, "exec echo s3cret-pw\nexit 3")
            });
            // Two runs open: an event outside both spans goes to neither.
            tracing::info!("nobody's");
            drop(b);
            tracing::info!("the only run's");
        });
        let a = read(&pa);
        let lines: Vec<&str> = a.lines().collect();
        assert_eq!(lines.len(), 3, "{a}");
        assert!(
            lines[0].ends_with("DEBUG temblor::client: client n1 [pid 7]: hello"),
            "{a}"
        );
        assert!(lines[0].trim_start().starts_with("0."), "{a}");
        assert!(
            lines[1].ends_with("temblor::ssh: exec echo ***\\nexit 3 node=\"n2\" status=3"),
            "{a}"
        );
        assert!(lines[2].ends_with("the only run's"), "{a}");
        assert!(read(&pb).ends_with("DEBUG temblor::run: second\n"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
