//! `temblor test-all`: a matrix of tests (targets x workloads x nemeses,
//! from a matrix file or flags), each cell run `--test-count` times, the
//! worst exit code winning (Jepsen's `test-all-cmd` and `test-all-exit!`).
//!
//! Each run is a child `temblor test` process with its own local cluster
//! slot (`--parallel K`: slots base..base+K-1), its own exit code and its
//! own results folder, so a crash in one cannot take the others down; a
//! child that dies without a verdict is recorded as exit 255 with the end
//! of its stderr. The records, a merged junit.xml and a Markdown summary
//! go to `results/test-all/<time>/`.

use super::UsageError;
use harness::matrix::record::{self, RunRecord, TestAll};
use harness::matrix::{Job, Matrix, MatrixFile, Shard};
use harness::nemesis::FaultKind;
use harness::run::{replay, store, TestSpec};
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use targets::TargetSpec;

/// `println!` that never panics: a reader that went away (`test-all ... |
/// head`) must not stop the runs or kill the controller mid-matrix.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// Run a matrix of tests; exit with the worst exit code of its runs.
#[derive(clap::Args, Debug)]
#[group(id = "test_all_args")]
pub struct Args {
    /// A matrix file (TOML): `targets`, `workloads`, `nemeses` (lists of
    /// fault lists), `test_count`, and `[test]` with every cell's options
    /// (keys as in a test file). Flags override it.
    #[arg(long, value_name = "FILE")]
    pub matrix: Option<PathBuf>,
    /// The target axis: target names, comma-separated (targets with
    /// options go in a matrix file).
    #[arg(long, value_delimiter = ',', value_name = "NAMES")]
    pub targets: Option<Vec<String>>,
    /// The workload axis, comma-separated.
    #[arg(long, value_delimiter = ',', value_name = "NAMES")]
    pub workloads: Option<Vec<String>>,
    /// One value of the fault axis (repeatable): faults comma-separated,
    /// or `none`, e.g. `--nemeses partition --nemeses kill,pause`.
    #[arg(long, value_name = "FAULTS")]
    pub nemeses: Vec<String>,
    /// Runs of each cell (default 1).
    #[arg(long, value_name = "N")]
    pub test_count: Option<usize>,
    /// Run only shard I of N: the cells numbered c (from 0, targets
    /// outermost, then workloads, then nemeses) with c % N == I - 1.
    #[arg(long, value_name = "I/N", default_value = "1/1")]
    pub shard: Shard,
    /// Runs at once, each on its own local cluster: slots base (--cluster
    /// or TEMBLOR_CLUSTER) to base+K-1.
    #[arg(long, value_name = "K", default_value_t = 1)]
    pub parallel: usize,
    /// Also append the Markdown summary to this file (e.g.
    /// "$GITHUB_STEP_SUMMARY").
    #[arg(long, value_name = "FILE")]
    pub summary: Option<PathBuf>,
    /// Options for every cell, as `temblor test` takes them; `--seed` is
    /// the base seed each run's seed is derived from (random when absent,
    /// and printed); `--dry-run` prints the runs instead.
    #[command(flatten)]
    pub test: super::test::Args,
}

/// Runs the shard's cells; returns the worst exit code.
pub fn run(args: Args) -> anyhow::Result<u8> {
    let (matrix, parallel) = matrix_from(&args)?;
    let base_seed = matrix.base.seed.unwrap_or_else(rand::random);
    let jobs = matrix.jobs(args.shard, base_seed).map_err(UsageError)?;
    let cells = matrix.cells().map_err(UsageError)?.len();
    say!(
        "test-all: {} runs of shard {} of {cells} cells, base seed {base_seed} (repeat with --seed {base_seed})",
        jobs.len(),
        args.shard
    );
    if args.test.dry_run {
        for j in &jobs {
            let spec = j.spec();
            say!(
                "{} #{}: {}",
                j.cell.name,
                j.repetition,
                replay::command_line(&spec)
            );
        }
        return Ok(0);
    }
    let results = matrix.base.results_dir.clone();
    let dir = store::create_stamped(&results.join(store::TEST_ALL_DIR))?;
    let record = TestAll {
        schema_version: record::SCHEMA_VERSION,
        base_seed,
        shard: args.shard.to_string(),
        matrix_cells: cells,
        exit_code: 0,
        runs: Vec::new(),
        not_run: 0,
    };
    let runner = Runner::new(&results, &dir, record)?;
    let planned = jobs.len();
    runner.run(jobs, matrix.base.cluster, parallel);
    let mut all = runner.finish()?;
    all.not_run = planned - all.runs.len();
    if all.not_run > 0 {
        // Stopped by a signal: whatever the runs said, the matrix was not run.
        all.exit_code = record::worst_exit([all.exit_code, crate::EXIT_ERROR]);
        eprintln!(
            "temblor test-all: stopped; {} runs did not start",
            all.not_run
        );
    }
    finish(&results, &dir, &all, args.summary.as_deref())?;
    Ok(all.exit_code)
}

/// Writes the merged junit.xml, the summary (also to `summary`) and the
/// index; prints where they are.
pub fn finish(
    results: &Path,
    dir: &Path,
    all: &TestAll,
    summary: Option<&Path>,
) -> anyhow::Result<()> {
    use anyhow::Context as _;
    all.write(dir)?;
    let junit = dir.join(store::MERGED_JUNIT);
    std::fs::write(&junit, harness::report::merged::junit_xml(results, all))
        .with_context(|| format!("cannot write {}", junit.display()))?;
    let md = harness::report::merged::summary_md(results, all);
    let md_path = dir.join(store::SUMMARY_MD);
    std::fs::write(&md_path, &md).with_context(|| format!("cannot write {}", md_path.display()))?;
    if let Some(path) = summary {
        use std::io::Write as _;
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .and_then(|mut f| f.write_all(md.as_bytes()))
            .with_context(|| format!("cannot append the summary to {}", path.display()))?;
    }
    harness::report::write_index(results)?;
    say!(
        "test-all: exit {}; {}, {}, {}",
        all.exit_code,
        junit.display(),
        md_path.display(),
        results.join("index.html").display()
    );
    Ok(())
}

/// The matrix the flags and the matrix file describe, and the runs to
/// keep going at once (checked against the cluster slots).
fn matrix_from(args: &Args) -> anyhow::Result<(Matrix, usize)> {
    let usage = |m: String| anyhow::Error::from(UsageError(m));
    let file = match &args.matrix {
        Some(path) => Some((MatrixFile::read(path).map_err(usage)?, path.clone())),
        None => None,
    };
    if args.test.replay.is_some() {
        return Err(usage(
            "test-all takes no --replay: replay one run with temblor test".into(),
        ));
    }
    let mut test = super::test::Args {
        dry_run: false,
        ..args.test.clone()
    };
    let base = match (&file, test.test_file.take()) {
        (Some((f, path)), None) => f.base_spec(path).map_err(usage)?,
        (Some((f, path)), Some(_)) if f.test.is_some() => {
            return Err(usage(format!(
                "--test-file with a matrix file that has a [test] table ({}): give the options in one place",
                path.display()
            )))
        }
        (_, Some(p)) => TestSpec::from_toml_file(&p).map_err(|e| usage(e.to_string()))?,
        (None, None) => TestSpec::default(),
    };
    let plural = args.targets.is_some();
    if plural && (test.target.is_some() || !test.target_opts.is_empty() || !test.bugs.is_empty()) {
        return Err(usage(
            "--targets with --target, --target-opt or --bug: give targets with options in a matrix file".into(),
        ));
    }
    if args.workloads.is_some() && test.workload.is_some() {
        return Err(usage("give --workloads or --workload, not both".into()));
    }
    if !args.nemeses.is_empty() && test.nemesis.is_some() {
        return Err(usage("give --nemeses or --nemesis, not both".into()));
    }
    let base = super::test::spec_over(base, test)?;
    let targets = match (&args.targets, &file) {
        (Some(names), _) => names
            .iter()
            .map(|n| TargetSpec::named(n).map_err(|e| usage(e.to_string())))
            .collect::<anyhow::Result<_>>()?,
        (None, Some((f, _))) if !f.targets.is_empty() && args.test.target.is_none() => {
            f.targets.iter().map(|t| t.0.clone()).collect()
        }
        _ => vec![base.target.clone()],
    };
    let workloads = match (&args.workloads, &file) {
        (Some(w), _) => w.clone(),
        (None, Some((f, _))) if !f.workloads.is_empty() && args.test.workload.is_none() => {
            f.workloads.clone()
        }
        _ => vec![base.workload.clone()],
    };
    let nemeses = match (&args.nemeses[..], &file) {
        ([], Some((f, _))) if !f.nemeses.is_empty() && args.test.nemesis.is_none() => {
            f.nemeses.clone()
        }
        ([], _) => vec![base.nemesis.clone()],
        (list, _) => list
            .iter()
            .map(|n| parse_faults(n))
            .collect::<anyhow::Result<_>>()?,
    };
    let test_count = args
        .test_count
        .or(file.as_ref().and_then(|(f, _)| f.test_count))
        .unwrap_or(1);
    if test_count == 0 || test_count > 10_000 {
        return Err(usage(format!(
            "--test-count {test_count}: must be between 1 and 10000"
        )));
    }
    if args.parallel == 0 || usize::from(base.cluster) + args.parallel > 100 {
        return Err(usage(format!(
            "--parallel {} from cluster slot {}: slots run from 0 to 99",
            args.parallel, base.cluster
        )));
    }
    if args.parallel > 1 && base.nodes_file.is_some() {
        return Err(usage(
            "--parallel with --nodes-file: the runs would share the same machines".into(),
        ));
    }
    let matrix = Matrix {
        base,
        targets,
        workloads,
        nemeses,
        test_count,
    };
    Ok((matrix, args.parallel))
}

fn parse_faults(list: &str) -> anyhow::Result<Vec<FaultKind>> {
    if list.trim() == "none" {
        return Ok(Vec::new());
    }
    list.split(',')
        .map(|s| {
            s.trim()
                .parse::<FaultKind>()
                .map_err(|e| UsageError(format!("--nemeses {list:?}: {e}")).into())
        })
        .collect()
}

/// Runs jobs as child processes, K at once, recording each as it ends.
struct Runner {
    exe: PathBuf,
    results: PathBuf,
    dir: PathBuf,
    record: Mutex<TestAll>,
    children: Arc<Mutex<Vec<u32>>>,
    stop: Arc<AtomicBool>,
    total: Mutex<(usize, usize)>,
}

impl Runner {
    fn new(results: &Path, dir: &Path, record: TestAll) -> anyhow::Result<Runner> {
        let exe = std::env::current_exe().map_err(|e| {
            anyhow::anyhow!("cannot find temblor's own binary to run each test: {e}")
        })?;
        std::fs::create_dir_all(dir.join(store::CELL_LOGS))?;
        Ok(Runner {
            exe,
            results: results.to_path_buf(),
            dir: dir.to_path_buf(),
            record: Mutex::new(record),
            children: Arc::new(Mutex::new(Vec::new())),
            stop: Arc::new(AtomicBool::new(false)),
            total: Mutex::new((0, 0)),
        })
    }

    /// Runs `jobs` on slots `base..base+parallel`; a signal stops new
    /// runs and is passed on to the running ones, which heal and stop.
    fn run(&self, jobs: Vec<Job>, base: u8, parallel: usize) {
        *lock(&self.total) = (0, jobs.len());
        let queue = Mutex::new(jobs.into_iter().collect::<VecDeque<_>>());
        let _signals = self.watch_signals();
        std::thread::scope(|s| {
            for w in 0..parallel {
                let slot = base + w as u8;
                let queue = &queue;
                s.spawn(move || loop {
                    if self.stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Some(job) = lock(queue).pop_front() else {
                        break;
                    };
                    let rec = self.run_one(&job, slot);
                    self.record(rec);
                });
            }
        });
    }

    fn run_one(&self, job: &Job, slot: u8) -> RunRecord {
        let spec = TestSpec {
            cluster: slot,
            ..job.spec()
        };
        let stem = format!("{:03}-{}-{}", job.cell.index, job.cell.name, job.repetition);
        let logs = self.dir.join(store::CELL_LOGS);
        let (out_path, err_path) = (
            logs.join(format!("{stem}.out")),
            logs.join(format!("{stem}.err")),
        );
        let started = Instant::now();
        let status = self.spawn(&spec, &out_path, &err_path);
        let seconds = (started.elapsed().as_secs_f64() * 10.0).round() / 10.0;
        let stdout = std::fs::read_to_string(&out_path).unwrap_or_default();
        let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
        let exit_code = match &status {
            Ok(s) => s
                .code()
                .and_then(|c| u8::try_from(c).ok())
                .unwrap_or(crate::EXIT_ERROR),
            Err(_) => crate::EXIT_ERROR,
        };
        let mut stderr_tail = String::new();
        if !matches!(exit_code, 0..=2) {
            stderr_tail = match &status {
                Err(e) => format!("cannot run {}: {e}", self.exe.display()),
                Ok(_) => record::tail(&stderr, 2000),
            };
        }
        RunRecord {
            cell: job.cell.name.clone(),
            cell_index: job.cell.index,
            repetition: job.repetition,
            seed: job.seed,
            cluster: slot,
            exit_code,
            run: run_folder(&stdout, &stderr, &self.results),
            seconds,
            command: replay::command_line(&TestSpec {
                cluster: job.cell.spec.cluster,
                ..spec
            }),
            stderr_tail,
        }
    }

    fn spawn(
        &self,
        spec: &TestSpec,
        out: &Path,
        err: &Path,
    ) -> std::io::Result<std::process::ExitStatus> {
        let mut child = Command::new(&self.exe)
            .arg("test")
            .args(replay::test_args(spec))
            .env("TEMBLOR_CLUSTER", spec.cluster.to_string())
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(out)?)
            .stderr(std::fs::File::create(err)?)
            .spawn()?;
        let pid = child.id();
        lock(&self.children).push(pid);
        let status = child.wait();
        lock(&self.children).retain(|&p| p != pid);
        status
    }

    fn record(&self, rec: RunRecord) {
        let done = {
            let mut t = lock(&self.total);
            t.0 += 1;
            *t
        };
        say!(
            "[{}/{}] {} #{} seed {} on cluster {}: {} (exit {}) in {:.1} s{}",
            done.0,
            done.1,
            rec.cell,
            rec.repetition,
            rec.seed,
            rec.cluster,
            rec.outcome(),
            rec.exit_code,
            rec.seconds,
            rec.run.as_deref().map_or(String::new(), |r| format!(
                ": {}",
                self.results.join(r).display()
            )),
        );
        if !rec.stderr_tail.is_empty() {
            for line in rec
                .stderr_tail
                .lines()
                .rev()
                .take(10)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
            {
                say!("    {line}");
            }
        }
        let mut all = lock(&self.record);
        all.runs.push(rec);
        all.runs.sort_by_key(|r| (r.cell_index, r.repetition));
        all.exit_code = record::worst_exit(all.runs.iter().map(|r| r.exit_code));
        // Written after every run: a test-all killed hard keeps what ran.
        if let Err(e) = all.write(&self.dir) {
            eprintln!("temblor: {e:#}");
        }
    }

    fn finish(self) -> anyhow::Result<TestAll> {
        Ok(self.record.into_inner().unwrap_or_else(|e| e.into_inner()))
    }

    /// SIGINT, SIGTERM, SIGHUP: no new runs start; each running child gets
    /// SIGTERM (it heals, then writes its results). Signals are watched
    /// while the returned runtime lives.
    fn watch_signals(&self) -> Option<tokio::runtime::Runtime> {
        use tokio::signal::unix::{signal, SignalKind};
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .ok()?;
        let _guard = rt.enter();
        for kind in [
            SignalKind::interrupt(),
            SignalKind::terminate(),
            SignalKind::hangup(),
        ] {
            let Ok(mut stream) = signal(kind) else {
                continue;
            };
            let stop = Arc::clone(&self.stop);
            let children = Arc::clone(&self.children);
            rt.spawn(async move {
                while stream.recv().await.is_some() {
                    stop.store(true, Ordering::SeqCst);
                    eprintln!(
                        "temblor test-all: stopping: no new runs; the running ones heal and stop"
                    );
                    for &pid in lock(&children).iter() {
                        // SAFETY: kill(2) with a PID of our own child, which
                        // `spawn` removes from the list once reaped.
                        unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
                    }
                }
            });
        }
        Some(rt)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The run folder a `temblor test` printed, relative to the results
/// folder: its last stdout line (`verdict: ...   results: PATH`), else,
/// for a run that stopped before its verdict, the stderr line that opened
/// it (`temblor: run PATH (seed N)`).
fn run_folder(stdout: &str, stderr: &str, results: &Path) -> Option<String> {
    let printed = stdout
        .lines()
        .rev()
        .find_map(|l| {
            l.strip_prefix("verdict: ")?
                .split_once("   results: ")
                .map(|(_, p)| p)
        })
        .or_else(|| {
            stderr.lines().find_map(|l| {
                l.strip_prefix("temblor: run ")?
                    .rsplit_once(" (seed ")
                    .map(|(p, _)| p)
            })
        })?;
    let full = std::fs::canonicalize(printed.trim()).ok()?;
    let base = std::fs::canonicalize(results).ok()?;
    Some(
        full.strip_prefix(&base)
            .ok()?
            .to_string_lossy()
            .into_owned(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser as _;

    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    fn matrix(words: &[&str]) -> anyhow::Result<(Matrix, usize)> {
        let cli = Cli::try_parse_from(std::iter::once("test-all").chain(words.iter().copied()))?;
        matrix_from(&cli.args)
    }

    #[test]
    fn flags_make_the_axes_and_apply_to_every_cell() {
        let (m, k) = matrix(&[
            "--workloads",
            "register,set",
            "--nemeses",
            "none",
            "--nemeses",
            "kill,pause",
            "--time-limit",
            "4s",
            "--nodes",
            "3",
            "--test-count",
            "2",
            "--parallel",
            "2",
            "--cluster",
            "21",
        ])
        .unwrap();
        assert_eq!(k, 2);
        let cells = m.cells().unwrap();
        assert_eq!(cells.len(), 4);
        assert_eq!(
            cells[1].spec.nemesis,
            vec![FaultKind::Kill, FaultKind::Pause]
        );
        assert!(cells
            .iter()
            .all(|c| c.spec.time_limit == 4.0 && c.spec.nodes == 3));
        assert_eq!((m.test_count, m.base.cluster), (2, 21));
        let one = matrix(&["--workload", "set"]).unwrap().0;
        assert_eq!(
            one.cells().unwrap()[0].name,
            "raftkv-set-partition_kill_pause"
        );
    }

    #[test]
    fn contradictions_and_out_of_range_values_are_usage_errors() {
        for (words, says) in [
            (
                &["--workloads", "set", "--workload", "register"][..],
                "not both",
            ),
            (&["--nemeses", "kill", "--nemesis", "pause"], "not both"),
            (
                &["--targets", "raftkv", "--bug", "early-ack"],
                "matrix file",
            ),
            (
                &["--parallel", "3", "--cluster", "98"],
                "slots run from 0 to 99",
            ),
            (&["--parallel", "0"], "slots run from 0 to 99"),
            (&["--test-count", "0"], "between 1 and 10000"),
            (&["--nemeses", "partiton"], "partiton"),
            (&["--targets", "nosuch-store"], "nosuch-store"),
            (&["--replay", "results/latest"], "no --replay"),
        ] {
            let e = matrix(words).unwrap_err();
            assert!(e.chain().any(|c| c.is::<UsageError>()), "{words:?}: {e:#}");
            assert!(format!("{e:#}").contains(says), "{words:?}: {e:#}");
        }
    }

    #[test]
    fn a_run_folder_is_found_in_what_temblor_test_printed() {
        let results = std::env::temp_dir().join(format!("temblor-ta-{}", std::process::id()));
        let run = results.join("t/20260101T000000");
        std::fs::create_dir_all(&run).unwrap();
        let out = format!(
            "== stats: valid\nverdict: valid   results: {}\n",
            run.display()
        );
        let found = run_folder(&out, "", &results);
        assert_eq!(found.as_deref(), Some("t/20260101T000000"));
        let err = format!(
            "temblor: run {} (seed 3)\ntemblor: cannot reach n1\n",
            run.display()
        );
        let found = run_folder("", &err, &results);
        assert_eq!(found.as_deref(), Some("t/20260101T000000"));
        let none = run_folder("", "temblor: cannot bring up the cluster\n", &results);
        assert_eq!(none, None);
        std::fs::remove_dir_all(&results).unwrap();
    }
}
