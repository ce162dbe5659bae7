//! The history recorder: one task that receives every invocation and
//! completion over a channel, gives each its dense `index` (and a `time`
//! if it has none), and appends it to `history.jsonl` as it happens
//! (Jepsen's `jepsen.store` history writer, streamed).
//!
//! Lines are buffered and flushed whenever the channel runs dry, and at
//! least every 100 ms under load, so a controller that dies loses at most
//! the last moments and `temblor check` can read a partial run. They are
//! synced to disk (`fdatasync`) at least once a second under load and
//! before the recorder waits for more, so a machine that goes down loses
//! at most a second. The recorder also keeps counts per `f` and type for
//! the progress line.

use checkers::format::JsonlWriter;
use checkers::{Op, OpType, Process};
use std::collections::BTreeMap;
use std::fmt;
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// How long buffered lines may wait under load before they are flushed.
pub const FLUSH_EVERY: Duration = Duration::from_millis(100);

/// How long flushed lines may wait under load before they are synced.
pub const SYNC_EVERY: Duration = Duration::from_secs(1);

/// Records in flight between the run and the recorder.
const CHANNEL: usize = 8192;

/// When the channel runs dry, the recorder polls this often for a while
/// before it parks: under load, senders then rarely pay for waking it.
const IDLE_POLL: Duration = Duration::from_micros(200);
const IDLE_POLLS: u32 = 50;

/// The run's monotonic clock: nanoseconds since the test started.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    start: Instant,
}

impl Clock {
    /// A clock that reads 0 now.
    pub fn start() -> Self {
        Clock {
            start: Instant::now(),
        }
    }

    /// Nanoseconds since the start.
    pub fn now(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
}

/// The history could not be written.
#[derive(Debug, thiserror::Error)]
pub enum RecorderError {
    /// Creating or writing the file failed.
    #[error("write {path}: {source}")]
    Write {
        /// The history file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// The recorder task died (a panic).
    #[error("history recorder stopped: {0}")]
    Stopped(String),
}

/// Counts of what has been recorded so far.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Progress {
    /// Nanoseconds since the start, when these counts were taken.
    pub elapsed: u64,
    /// Records written (invocations and completions).
    pub records: u64,
    /// Records synced to disk (they survive a crash of the machine).
    pub synced: u64,
    /// Client completions by type.
    pub ok: u64,
    /// Client completions by type.
    pub fail: u64,
    /// Client completions by type.
    pub info: u64,
    /// Records by `f`, the nemesis's included.
    pub by_f: BTreeMap<String, Counts>,
}

/// Records of one `f`, by type.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Invocations.
    pub invoke: u64,
    /// `ok` completions.
    pub ok: u64,
    /// `fail` completions.
    pub fail: u64,
    /// `info` records (completions, and the nemesis's invocations).
    pub info: u64,
}

impl Counts {
    fn add(&mut self, kind: OpType) {
        match kind {
            OpType::Invoke => self.invoke += 1,
            OpType::Ok => self.ok += 1,
            OpType::Fail => self.fail += 1,
            OpType::Info => self.info += 1,
        }
    }
}

impl Progress {
    fn count(&mut self, op: &Op) {
        self.records += 1;
        if let Process::Client(_) = op.process {
            match op.kind {
                OpType::Ok => self.ok += 1,
                OpType::Fail => self.fail += 1,
                OpType::Info => self.info += 1,
                OpType::Invoke => {}
            }
        }
        match self.by_f.get_mut(op.f.as_str()) {
            Some(c) => c.add(op.kind),
            None => self.by_f.entry(op.f.clone()).or_default().add(op.kind),
        }
    }

    /// Client ops completed per second so far.
    pub fn ops_per_sec(&self) -> f64 {
        let done = (self.ok + self.fail + self.info) as f64;
        match self.elapsed {
            0 => 0.0,
            ns => done * 1e9 / ns as f64,
        }
    }
}

impl fmt::Display for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:.1}s  {:.0} ops/s  ok {}  fail {}  info {}",
            self.elapsed as f64 / 1e9,
            self.ops_per_sec(),
            self.ok,
            self.fail,
            self.info
        )
    }
}

/// What the recorder wrote.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// The final counts.
    pub progress: Progress,
    /// Bytes written to the file.
    pub bytes: u64,
    /// Times the file was synced to disk.
    pub syncs: u64,
}

/// A file that counts the bytes written through it, and knows whether
/// they are all on disk.
struct Counted {
    file: File,
    bytes: Arc<AtomicU64>,
    unsynced: bool,
    synced_at: Instant,
    syncs: u64,
}

impl Counted {
    /// Syncs what was written since the last sync, if anything.
    fn sync(&mut self) -> io::Result<()> {
        if self.unsynced {
            self.file.sync_data()?;
            self.unsynced = false;
            self.syncs += 1;
        }
        self.synced_at = Instant::now();
        Ok(())
    }
}

impl Write for Counted {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.bytes.fetch_add(n as u64, Ordering::Relaxed);
        self.unsynced |= n > 0;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// The recorder task and its channel.
pub struct Recorder {
    tx: mpsc::Sender<Op>,
    progress: Arc<Mutex<Progress>>,
    task: JoinHandle<Result<Summary, RecorderError>>,
}

impl Recorder {
    /// Creates (truncates) `path` and starts recording into it, with times
    /// from `clock`. Call inside a tokio runtime.
    pub fn create(path: &Path, clock: Clock) -> Result<Recorder, RecorderError> {
        let file = File::create(path).map_err(|source| RecorderError::Write {
            path: path.to_path_buf(),
            source,
        })?;
        let (tx, rx) = mpsc::channel(CHANNEL);
        let progress = Arc::new(Mutex::new(Progress::default()));
        let bytes = Arc::new(AtomicU64::new(0));
        let mut task = Task {
            path: path.to_path_buf(),
            out: JsonlWriter::new(Counted {
                file,
                bytes: bytes.clone(),
                unsynced: false,
                synced_at: Instant::now(),
                syncs: 0,
            }),
            bytes,
            clock,
            counts: Progress::default(),
            shared: progress.clone(),
            error: None,
        };
        let task = tokio::task::spawn_blocking(move || task.run(rx));
        Ok(Recorder { tx, progress, task })
    }

    /// A sender for records; the recorder ends once every sender is gone
    /// and [`finish`](Recorder::finish) is called.
    pub fn sender(&self) -> mpsc::Sender<Op> {
        self.tx.clone()
    }

    /// A shared view of the counts, for a progress task that outlives the
    /// borrow of the recorder.
    pub fn progress_handle(&self) -> Arc<Mutex<Progress>> {
        Arc::clone(&self.progress)
    }

    /// The counts as of the last flush (at most [`FLUSH_EVERY`] old).
    pub fn progress(&self) -> Progress {
        match self.progress.lock() {
            Ok(p) => p.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Waits for every record sent so far to be written and flushed.
    pub async fn finish(self) -> Result<Summary, RecorderError> {
        drop(self.tx);
        match self.task.await {
            Ok(result) => result,
            Err(e) => Err(RecorderError::Stopped(e.to_string())),
        }
    }
}

/// The recorder's state, owned by its blocking task.
struct Task {
    path: PathBuf,
    out: JsonlWriter<Counted>,
    bytes: Arc<AtomicU64>,
    clock: Clock,
    counts: Progress,
    shared: Arc<Mutex<Progress>>,
    error: Option<io::Error>,
}

impl Task {
    fn run(&mut self, mut rx: mpsc::Receiver<Op>) -> Result<Summary, RecorderError> {
        let mut last_flush = Instant::now();
        loop {
            let op = match rx.try_recv() {
                Ok(op) => op,
                Err(mpsc::error::TryRecvError::Empty) => {
                    self.flush();
                    last_flush = Instant::now();
                    match self.next_after_idle(&mut rx) {
                        Some(op) => op,
                        None => break,
                    }
                }
                Err(mpsc::error::TryRecvError::Disconnected) => break,
            };
            self.record(op);
            if last_flush.elapsed() >= FLUSH_EVERY {
                self.flush();
                last_flush = Instant::now();
            }
        }
        self.flush();
        self.sync();
        self.summary()
    }

    /// The next record once the channel has run dry: poll briefly, then
    /// sync what is written and park.
    fn next_after_idle(&mut self, rx: &mut mpsc::Receiver<Op>) -> Option<Op> {
        for _ in 0..IDLE_POLLS {
            std::thread::sleep(IDLE_POLL);
            match rx.try_recv() {
                Ok(op) => return Some(op),
                Err(mpsc::error::TryRecvError::Disconnected) => return None,
                Err(mpsc::error::TryRecvError::Empty) => {}
            }
        }
        self.sync();
        rx.blocking_recv()
    }

    /// Syncs the file; every record is flushed by then.
    fn sync(&mut self) {
        if self.error.is_none() {
            self.error = self.out.get_mut().sync().err();
        }
        if self.error.is_none() && self.counts.synced != self.counts.records {
            self.counts.synced = self.counts.records;
            if let Ok(mut shared) = self.shared.lock() {
                shared.synced = self.counts.synced;
            }
        }
    }

    fn record(&mut self, mut op: Op) {
        op.index = self.counts.records;
        if op.time.is_none() {
            op.time = Some(self.clock.now());
        }
        self.counts.count(&op);
        if self.error.is_none() {
            self.error = self.out.write(&op).err();
        }
    }

    fn flush(&mut self) {
        if self.error.is_none() {
            self.error = self.out.flush().err();
        }
        if self.out.get_mut().synced_at.elapsed() >= SYNC_EVERY {
            self.sync();
        }
        self.counts.elapsed = self.clock.now();
        if let Ok(mut shared) = self.shared.lock() {
            shared.clone_from(&self.counts);
        }
    }

    fn summary(&mut self) -> Result<Summary, RecorderError> {
        match self.error.take() {
            Some(source) => Err(RecorderError::Write {
                path: self.path.clone(),
                source,
            }),
            None => Ok(Summary {
                progress: self.counts.clone(),
                bytes: self.bytes.load(Ordering::Relaxed),
                syncs: self.out.get_mut().syncs,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tmp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("temblor-recorder-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join(name)
    }

    #[tokio::test]
    async fn records_get_dense_indices_and_reach_the_file() {
        let path = tmp("dense.jsonl");
        let rec = Recorder::create(&path, Clock::start()).unwrap();
        let tx = rec.sender();
        tx.send(Op::new(0, OpType::Invoke, "read", json!(null)).at(5))
            .await
            .unwrap();
        tx.send(Op::new(0, OpType::Ok, "read", json!(3)))
            .await
            .unwrap();
        drop(tx);
        let summary = rec.finish().await.unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let ops: Vec<Op> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(ops.iter().map(|o| o.index).collect::<Vec<_>>(), vec![0, 1]);
        assert_eq!(ops[0].time, Some(5));
        assert!(ops[1].time.is_some(), "a record without time gets one");
        assert_eq!(summary.bytes, text.len() as u64);
        assert_eq!((summary.progress.ok, summary.progress.records), (1, 2));
        let read = summary.progress.by_f["read"];
        assert_eq!((read.invoke, read.ok, read.fail), (1, 1, 0));
    }

    #[tokio::test]
    async fn records_are_flushed_while_the_run_goes_on() {
        let path = tmp("live.jsonl");
        let rec = Recorder::create(&path, Clock::start()).unwrap();
        let tx = rec.sender();
        tx.send(Op::new(1, OpType::Invoke, "write", json!(1)))
            .await
            .unwrap();
        // The channel runs dry, so the line is flushed without finishing.
        let mut text = String::new();
        for _ in 0..200 {
            text = std::fs::read_to_string(&path).unwrap();
            if !text.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert!(text.contains(r#""f":"write""#), "not flushed: {text:?}");
        assert_eq!(rec.progress().records, 1);
        drop(tx);
        rec.finish().await.unwrap();
    }

    #[tokio::test]
    async fn records_reach_the_disk_before_the_recorder_waits() {
        let path = tmp("synced.jsonl");
        let rec = Recorder::create(&path, Clock::start()).unwrap();
        let tx = rec.sender();
        tx.send(Op::new(1, OpType::Invoke, "write", json!(1)))
            .await
            .unwrap();
        // The channel stays open: the record is synced while the run goes
        // on, not only when it ends.
        for _ in 0..2000 {
            if rec.progress().synced == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(rec.progress().synced, 1, "not synced while idle");
        drop(tx);
        let summary = rec.finish().await.unwrap();
        assert_eq!(summary.syncs, 1, "nothing new to sync at the end");
    }

    #[tokio::test]
    async fn an_unwritable_path_is_an_error_naming_it() {
        let e = Recorder::create(Path::new("/nonexistent/dir/h.jsonl"), Clock::start())
            .err()
            .unwrap();
        assert!(
            e.to_string()
                .starts_with("write /nonexistent/dir/h.jsonl: "),
            "{e}"
        );
    }
}
