//! One Jepsen-style test, end to end (Jepsen's `core.clj` `run!`). Phases
//! nest like guards, and the ones that undo something run on every path:
//!
//! 1. nodes: open sessions (bring up the local cluster if needed);
//! 2. db: install and start the target on every node;
//! 3. the generator ([`phases`]): clients and the nemesis, for the time
//!    limit, then a heal, a recovery window, and the workload's final
//!    reads (skipped when the run is stopped early);
//! 4. always, whatever happened in 3 (error, a signal, a panic): heal
//!    every fault and check on every node that none is left, download
//!    node logs, tear the target down, take down a cluster this run
//!    brought up;
//! 5. check the history and write the results (`results.json` and
//!    `junit.xml`, through [`store`]; also when a phase failed, then with
//!    the error).
//!
//! Before 2, whatever an earlier run left on the nodes (rules, qdiscs,
//! stopped or running daemons, clock offsets) is undone and reported. A
//! fault the final heal could not undo is reported in [`RunReport`] (the
//! CLI then exits 255 whatever the verdict).
//!
//! The history is streamed to `history.jsonl` as it happens, so even a run
//! killed hard leaves a history `temblor check` can read, and a state file
//! that `temblor heal` uses to undo the faults it left behind.

pub mod analysis;
pub mod db;
pub mod dry_run;
pub mod inject;
pub mod large;
pub mod log;
pub mod nodes;
pub mod phases;
mod progress;
pub mod replay;
pub mod spec;
pub mod store;

pub use analysis::Analysis;
pub use spec::TestSpec;

use crate::interpreter::{Interpreter, Shutdown};
use crate::nemesis::{leftovers, FaultKind, Faults, NemesisOptions, NodeHandle, Shape, Targets};
use crate::recorder::{Clock, Recorder};
use anyhow::Context as _;
use checkers::Verdict;
use std::sync::Arc;
use std::time::Duration;
use store::{results::HistoryFacts, ResultsFile, RunDir};
use tracing::Instrument as _;

/// What a finished run reports.
pub struct RunReport {
    /// Its results folder.
    pub dir: RunDir,
    /// The checkers' answers.
    pub analysis: Analysis,
    /// What the final heal could not undo or prove undone, each naming
    /// its node; empty when every node is clean.
    pub unhealed: Vec<String>,
}

impl RunReport {
    /// The run's verdict.
    pub fn verdict(&self) -> Verdict {
        self.analysis.verdict
    }
}

/// Runs the test `spec` describes; `shutdown` stops it early (Ctrl-C).
/// Once its results folder exists, every outcome leaves `results.json`
/// and `junit.xml` there: the verdict, or the error that stopped the run.
pub async fn run(mut spec: TestSpec, shutdown: Shutdown) -> anyhow::Result<RunReport> {
    spec.validate()
        .map_err(|e| crate::error::UsageError(e.to_string()))?;
    let injected = inject::from_env().map_err(crate::error::UsageError)?;
    let seed = *spec.seed.get_or_insert_with(rand::random);
    let workload =
        workloads::by_name(&spec.workload).map_err(|e| crate::error::UsageError(e.to_string()))?;
    let dir = RunDir::create(&spec.results_dir, &spec.test_name())?;
    let started = dir
        .write_json(store::SPEC, &spec)
        .and_then(|()| log::RunLog::create(&dir.log(), &dir.id()));
    let log = match started {
        Ok(log) => log,
        Err(e) => {
            record_failure(&dir, &e, seed);
            return Err(e);
        }
    };
    let span = log.span();
    span.in_scope(|| tracing::info!("run {} (seed {seed})", dir.path.display()));
    let ran = run_in(&spec, &dir, workload.as_ref(), (shutdown, injected), &log)
        .instrument(span.clone())
        .await;
    span.in_scope(|| match ran {
        Ok(report) => {
            let outcome = store::Outcome::of(report.verdict()).name();
            tracing::debug!(outcome, "the run ends");
            Ok(report)
        }
        Err(e) => {
            record_failure(&dir, &e, seed);
            Err(e)
        }
    })
}

/// Writes results.json and junit.xml for a run that failed with `e`, and
/// logs why (in the run's log only: the CLI prints the error).
fn record_failure(dir: &RunDir, e: &anyhow::Error, seed: u64) {
    let results = ResultsFile::failed(e, Some(seed));
    let outcome = results.outcome().name();
    tracing::error!(target: log::END, outcome, "the run failed: {e:#}");
    if let Err(w) = dir.write_results(&results) {
        tracing::error!("cannot record the failure: {w:#}");
    }
}

/// The run in `dir`, from opening the nodes to the results.
async fn run_in(
    spec: &TestSpec,
    dir: &RunDir,
    workload: &dyn workloads::Workload,
    (shutdown, injected): (Shutdown, Option<inject::Panic>),
    log: &log::RunLog,
) -> anyhow::Result<RunReport> {
    let seed = spec.seed.unwrap_or_default();
    let ssh = spec
        .target
        .load()
        .map_err(|e| crate::error::UsageError(e.to_string()))?
        .is_none_or(|f| f.has_ssh());
    let nodes = {
        let spec = spec.clone();
        tokio::task::spawn_blocking(move || nodes::open(&spec, ssh)).await??
    };
    let opened = match db::open(spec, &nodes.handles, &dir.id(), log.sink()) {
        Ok(o) => o,
        Err(e) => {
            let _ = tokio::task::spawn_blocking(move || nodes::close(&nodes)).await;
            return Err(e);
        }
    };
    db::write_state(dir, spec, &nodes)?;
    let checkers = analysis::promised(
        workload.checkers(&spec.workload_options),
        &opened.consistency_models,
    );
    let (result, unhealed) = with_db(
        spec,
        dir,
        &nodes.handles,
        opened,
        workload,
        (shutdown.clone(), injected),
        log,
    )
    .await;
    if nodes.owned_cluster.is_some() {
        shutdown.set_stage("taking down the local cluster");
    }
    let closed = tokio::task::spawn_blocking(move || nodes::close(&nodes)).await;
    result
        .map_err(|e| with_unhealed(e, &unhealed))
        .with_context(|| {
            format!(
                "run {} stopped; the history so far is in its {}",
                dir.path.display(),
                store::HISTORY
            )
        })?;
    closed??;
    shutdown.set_stage("checking the history");
    let analysis = conclude_with(dir, &checkers, seed, &unhealed)?;
    Ok(RunReport {
        dir: dir.clone(),
        analysis,
        unhealed,
    })
}

/// Phase 5, on the history a run left in `dir`: exports it as CSV, checks
/// it with `checkers`, writes results.json and junit.xml. The history is
/// read as a stream (and checked in key groups when large, see
/// [`large`]), never held twice, so a long run's verdict fits in memory.
/// The report is the caller's to write (`report::write_run`).
pub fn conclude(
    dir: &RunDir,
    checkers: &[checkers::checker::CheckerSpec],
    seed: u64,
) -> anyhow::Result<Analysis> {
    conclude_with(dir, checkers, seed, &[])
}

/// [`conclude`], for a run whose final heal left `unhealed` in force (a
/// harness error whatever the verdict).
fn conclude_with(
    dir: &RunDir,
    checkers: &[checkers::checker::CheckerSpec],
    seed: u64,
    unhealed: &[String],
) -> anyhow::Result<Analysis> {
    let history = dir.history();
    let mut facts = write_csv(&history, &dir.history_csv())?;
    let analysis = large::analyze_path(&history, checkers, large::RUN_TIME_LIMIT)?;
    facts.bytes = std::fs::metadata(&history).map_or(0, |m| m.len());
    let mut results = ResultsFile::checked(&analysis, seed, facts);
    if !unhealed.is_empty() {
        results = results.with_harness_error(format!(
            "the heal left faults in force ({}): run `temblor heal {}`",
            unhealed.join("; "),
            dir.path.display()
        ));
    }
    dir.write_results(&results)?;
    Ok(analysis)
}

/// Writes the JSON Lines history in `from` as CSV to `to`, one record at a
/// time; returns what it counted on the way.
fn write_csv(from: &std::path::Path, to: &std::path::Path) -> anyhow::Result<HistoryFacts> {
    let stream = checkers::format::stream_path(from, Some(checkers::format::Format::Jsonl))?
        .context("the recorded history is JSON Lines")?;
    let file =
        std::fs::File::create(to).with_context(|| format!("cannot create {}", to.display()))?;
    let mut csv = checkers::format::CsvWriter::new(std::io::BufWriter::new(file))?;
    let mut facts = HistoryFacts::default();
    let mut last_ns = 0;
    for item in stream {
        let (op, _) = item.context("cannot read back the recorded history")?;
        csv.write(&op)?;
        facts.records += 1;
        if op.kind == checkers::OpType::Invoke && op.process != checkers::Process::Nemesis {
            facts.client_ops += 1;
        }
        last_ns = last_ns.max(op.time.unwrap_or(0));
    }
    csv.flush()?;
    facts.duration_s = last_ns as f64 / 1e9;
    Ok(facts)
}

/// `e`, with the faults left in force when there are any.
fn with_unhealed(e: anyhow::Error, unhealed: &[String]) -> anyhow::Error {
    match unhealed.is_empty() {
        true => e,
        false => e.context(format!(
            "and the heal left faults in force ({}): run `temblor heal` on this run",
            unhealed.join("; ")
        )),
    }
}

/// Phase 2 to 4: the target is up for the workload, and down afterwards on
/// every path; also what the final heal could not undo.
async fn with_db(
    spec: &TestSpec,
    dir: &RunDir,
    nodes: &[NodeHandle],
    opened: targets::Opened,
    workload: &dyn workloads::Workload,
    (shutdown, injected): (Shutdown, Option<inject::Panic>),
    log: &log::RunLog,
) -> (anyhow::Result<crate::recorder::Summary>, Vec<String>) {
    let names: Vec<String> = nodes.iter().map(|n| n.name.clone()).collect();
    let db = Arc::clone(&opened.db);
    let network = opened.ssh;
    if let Err(e) = before_setup(spec, nodes, &db, network, &shutdown).await {
        return (Err(e), Vec::new());
    }
    // A setup that fails half way, or a client that cannot start, is
    // torn down even with --no-teardown: nothing is left running.
    let mut torn_down_anyway = true;
    shutdown.set_stage(format!("setting up {} on {}", db.name(), names.join(", ")));
    let outcome = match set_up(nodes, &db).await {
        Err(e) => Err(e.context("cannot set up the target")),
        Ok(()) => match preflight(&opened, nodes).await {
            Err(e) => Err(e),
            Ok(()) => {
                torn_down_anyway = false;
                // The generator runs in its own task so that a panic in it
                // is caught here and the cleanup below still runs.
                match workload.generators(&spec.workload_options) {
                    Err(e) => Err(e.into()),
                    Ok(gens) => {
                        let task = tokio::spawn(
                            run_generator(
                                spec.clone(),
                                dir.clone(),
                                nodes.to_vec(),
                                opened,
                                gens,
                                (shutdown.clone(), injected),
                                log.clone(),
                            )
                            .in_current_span(),
                        );
                        match task.await {
                            Ok(r) => r,
                            Err(e) => Err(task_failed(e)),
                        }
                    }
                }
            }
        },
    };
    // Heal and check, unless no workload (and so no fault) ever ran: a
    // heal starts the target's processes again, which a setup that failed
    // half way must not have. Then always: collect logs, tear down.
    let mut unhealed = Vec::new();
    if torn_down_anyway {
        tracing::debug!("no fault ran: nothing to heal");
    } else {
        shutdown.set_stage(format!(
            "healing every fault on {} and checking that none is left",
            names.join(", ")
        ));
        let mut healer = Faults::new(
            nodes.to_vec(),
            Arc::clone(&db),
            NemesisOptions {
                network,
                ..NemesisOptions::default()
            },
            0,
        );
        unhealed = healer.heal_and_verify().await;
        for problem in &unhealed {
            tracing::error!("heal: {problem}");
        }
    }
    shutdown.set_stage("downloading the nodes' log files");
    db::download_logs(nodes, &db, dir).await;
    if spec.teardown || torn_down_anyway {
        shutdown.set_stage(format!(
            "tearing down {} on {}",
            db.name(),
            names.join(", ")
        ));
        if let Err(e) = db::on_all(nodes, &db, |db, ctx| db.teardown(ctx)).await {
            tracing::warn!("while tearing down {}: {e:#}", names.join(", "));
        }
    }
    if unhealed.is_empty() {
        db::mark_state_done(dir);
    }
    (outcome, unhealed)
}

/// Before anything is set up: refuses the faults the target or the nodes
/// cannot take (all of them at once), then undoes what an earlier run
/// left on the nodes.
async fn before_setup(
    spec: &TestSpec,
    nodes: &[NodeHandle],
    db: &Arc<dyn targets::db::Db>,
    network: bool,
    shutdown: &Shutdown,
) -> anyhow::Result<()> {
    let faults = nemesis_options(spec, db.as_ref(), network)?;
    Faults::new(nodes.to_vec(), Arc::clone(db), faults, 0)
        .validate()
        .map_err(crate::error::UsageError)?;
    tracing::info!(
        "faults: {}",
        crate::nemesis::describe_availability(db.as_ref(), network)
    );
    if network {
        shutdown.set_stage("cleaning what an earlier run left on the nodes");
        clean_leftovers(nodes, db.owns_processes()).await?;
    }
    Ok(())
}

/// The run's task ended without an answer: it panicked (or was cancelled).
fn task_failed(e: tokio::task::JoinError) -> anyhow::Error {
    match e.try_into_panic() {
        Ok(panic) => anyhow::anyhow!("the run panicked: {}", crate::error::panic_message(&*panic)),
        Err(e) => anyhow::anyhow!("the run's task failed: {e}"),
    }
}

/// Undoes what an earlier run left on the nodes, saying what; fails (and
/// the run does not start) when something cannot be undone.
/// `owned` as in [`targets::db::Db::owns_processes`].
async fn clean_leftovers(nodes: &[NodeHandle], owned: bool) -> anyhow::Result<()> {
    let cleaned = futures::future::join_all(nodes.iter().map(|n| leftovers::clean(n, owned))).await;
    let mut problems = Vec::new();
    for (node, c) in nodes.iter().zip(cleaned) {
        if !c.undone.is_empty() {
            let what: Vec<String> = c.undone.iter().map(ToString::to_string).collect();
            tracing::warn!(
                "{}: cleaned what an earlier run left: {}",
                node.name,
                what.join(", ")
            );
        }
        problems.extend(c.problems);
    }
    match problems.is_empty() {
        true => Ok(()),
        false => Err(anyhow::anyhow!(
            "cannot clean what an earlier run left on the nodes: {}",
            problems.join("; ")
        )),
    }
}

/// Sets the target up on every node, then once on the first
/// (`setup_primary`).
async fn set_up(nodes: &[NodeHandle], db: &Arc<dyn targets::db::Db>) -> anyhow::Result<()> {
    db::on_all(nodes, db, |db, ctx| db.setup(ctx)).await?;
    let first = nodes.first().map(std::slice::from_ref).unwrap_or_default();
    db::on_all(first, db, |db, ctx| db.setup_primary(ctx)).await
}

/// Starts one client on the first node and closes it again, so that a
/// client that cannot start at all stops the run before any fault (a
/// usage error naming its command and stderr).
async fn preflight(opened: &targets::Opened, nodes: &[NodeHandle]) -> anyhow::Result<()> {
    let Some(first) = nodes.first() else {
        return Ok(());
    };
    match opened.client.open(&first.name).await {
        Ok(mut c) => {
            let _ = c.close().await;
            Ok(())
        }
        Err(e) => Err(crate::error::UsageError(format!("cannot start the client: {e}")).into()),
    }
}

/// The nemesis settings of `spec` for `db`. A target that cannot say
/// which node leads leaves `primaries` out of the fault targets and
/// `leader` out of the partition shapes (said once, at the start); only a
/// choice left empty by that is an error.
pub(crate) fn nemesis_options(
    spec: &TestSpec,
    db: &dyn targets::db::Db,
    network: bool,
) -> Result<NemesisOptions, crate::error::UsageError> {
    let mut opts = NemesisOptions {
        kinds: spec.nemesis.clone(),
        shapes: spec.partition_shapes.clone(),
        targets: spec.fault_targets.clone(),
        delay_ms: (spec.packet_delay * 1000.0).round() as u64,
        clock: spec.clock_options(),
        file: spec.file_options(),
        network,
        ..NemesisOptions::default()
    };
    if db.as_primary().is_some() {
        return Ok(opts);
    }
    opts.targets.retain(|t| *t != Targets::Primaries);
    opts.file.targets.retain(|t| *t != Targets::Primaries);
    opts.shapes.retain(|s| *s != Shape::Leader);
    let why = format!("{} cannot say which node leads", db.name());
    let targeted = [FaultKind::Kill, FaultKind::Pause, FaultKind::Clock];
    if opts.targets.is_empty() && opts.kinds.iter().any(|k| targeted.contains(k)) {
        return Err(crate::error::UsageError(format!(
            "--fault-targets primaries: {why}; choose one, minority, majority or all"
        )));
    }
    if opts.file.targets.is_empty() && opts.kinds.contains(&FaultKind::File) {
        return Err(crate::error::UsageError(format!(
            "--file-fault-targets primaries: {why}; choose one, minority, majority or all"
        )));
    }
    if opts.shapes.is_empty() && opts.kinds.contains(&FaultKind::Partition) {
        return Err(crate::error::UsageError(format!(
            "--partition leader: {why}; choose another shape"
        )));
    }
    Ok(opts)
}

/// Phase 3: clients and nemesis driven by the generator, with the history
/// recorded as it happens.
async fn run_generator(
    spec: TestSpec,
    dir: RunDir,
    nodes: Vec<NodeHandle>,
    opened: targets::Opened,
    gens: workloads::Generators,
    (shutdown, injected): (Shutdown, Option<inject::Panic>),
    log: log::RunLog,
) -> anyhow::Result<crate::recorder::Summary> {
    let db = Arc::clone(&opened.db);
    let seed = spec.seed.unwrap_or_default();
    let names: Vec<String> = nodes.iter().map(|n| n.name.clone()).collect();
    let op_timeout = Duration::from_secs_f64(spec.op_timeout);
    let times = phases::Durations::new(
        Duration::from_secs_f64(spec.time_limit),
        Duration::from_secs_f64(spec.recovery_time),
        op_timeout,
    );
    let faults = Faults::new(
        nodes.clone(),
        Arc::clone(&db),
        nemesis_options(&spec, db.as_ref(), opened.ssh)?,
        seed,
    );
    faults
        .check_network()
        .await
        .map_err(crate::error::UsageError)?;
    faults
        .prepare_clocks()
        .await
        .context("cannot prepare the nodes for clock faults")?;
    let active = faults.active();
    let gen = phases::for_spec(&spec, gens);
    let clock = Clock::start();
    // The log counts from the run's start, the history from here: this
    // line lines the two up (client stderr beside the ops it concerns).
    log.line("the workload starts: history times count from here");
    let recorder = Recorder::create(&dir.history(), clock)?;
    let mut client = serving(Arc::clone(&opened.client), &spec)?;
    let mut nemesis: Box<dyn workloads::Nemesis> = Box::new(faults);
    match injected {
        Some(inject::Panic::Client(n)) => client = inject::client(client, n),
        Some(inject::Panic::Nemesis(n)) => nemesis = inject::nemesis(nemesis, n),
        None => {}
    }
    let interpreter = Interpreter::new(
        spec.concurrency,
        names,
        seed,
        client,
        recorder.sender(),
        clock,
    )
    .nemesis(nemesis)
    .deadline(times.worst_case(op_timeout, Duration::from_secs(120)))
    .shutdown(shutdown.clone());
    let progress = progress::spawn(&recorder, active, spec.time_limit);
    let outcome = interpreter.run(gen).await;
    progress.stop();
    if !matches!(&outcome, Ok(o) if !o.interrupted) {
        // Stopped early (Ctrl-C, deadline, error): the generator's own heal
        // never ran. Heal now and record it, so the history shows every
        // fault ended.
        let healer_opts = NemesisOptions {
            network: opened.ssh,
            ..NemesisOptions::default()
        };
        let mut healer = Faults::new(nodes.clone(), Arc::clone(&db), healer_opts, 0);
        record_heal(&recorder, &mut healer).await;
    }
    let summary = recorder.finish().await?;
    let outcome = outcome?;
    if outcome.interrupted && shutdown.is_triggered() {
        tracing::warn!("interrupted; {} ops recorded", summary.progress.records);
    }
    Ok(summary)
}

/// The target's client template made for the spec's workload (the spec's
/// validation has already refused a workload the client does not do).
fn serving(
    client: Arc<dyn workloads::Client>,
    spec: &TestSpec,
) -> anyhow::Result<Arc<dyn workloads::Client>> {
    match client.for_workload(&spec.workload, &spec.workload_options) {
        Ok(Some(made)) => Ok(Arc::from(made)),
        Ok(None) => Ok(client),
        Err(e) => Err(crate::error::UsageError(e.to_string()).into()),
    }
}

/// Heals every fault and records it as a nemesis `heal` op.
async fn record_heal(recorder: &Recorder, healer: &mut Faults) {
    let invoke = checkers::Op {
        process: checkers::Process::Nemesis,
        ..checkers::Op::new(0, checkers::OpType::Info, "heal", serde_json::Value::Null)
    };
    let tx = recorder.sender();
    let _ = tx.send(invoke.clone()).await;
    let problems = healer.heal_all().await;
    let value = if problems.is_empty() {
        serde_json::json!("healed")
    } else {
        serde_json::json!({ "problems": problems })
    };
    let _ = tx.send(checkers::Op { value, ..invoke }).await;
}
