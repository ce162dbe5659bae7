//! A target file carried out as a `Db`: its steps run over the nodes'
//! `Remote`s as root (sudo when the user is not), its daemons managed by
//! pidfile ([`Daemons`]), so kill, pause, resume and restart come for free;
//! in attach mode only the fault commands the file gives.

use super::plan::{NodePlan, Ready, Script};
use super::schema::ClockMode;
use super::{FileError, TargetFile};
use crate::daemon::{DaemonSpecs, Daemons};
use crate::db::{Clock, DataFiles, Db, DbError, Kill, LogFiles, NodeCtx, Pause, Primary};
use crate::faketime;
use crate::node::{self, Daemon};
use crate::remote::{escape, Command, Output, RemoteError};
use crate::sysclock::SystemClock;
use base64::Engine as _;
use checkers::elle::Model;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A target described by a file, on a set of nodes.
pub struct FileTarget {
    name: String,
    plans: Arc<Plans>,
    daemons: Daemons,
    attached: bool,
    clock: Result<TargetClock, String>,
}

/// How clock faults move the target's clock.
enum TargetClock {
    /// libfaketime's per-node offset file.
    Fake,
    /// The hosts' system clock.
    System(SystemClock),
}

/// Every node's plan, and whether daemons run under libfaketime.
struct Plans {
    by_node: BTreeMap<String, NodePlan>,
    faketime: bool,
}

fn faketime_file(plan: &NodePlan) -> String {
    format!("{}/faketime", plan.dirs.run)
}

impl Plans {
    fn get(&self, node: &str) -> Result<&NodePlan, DbError> {
        self.by_node
            .get(node)
            .ok_or_else(|| DbError::Unsupported(format!("no node named {node} in this test")))
    }
}

impl DaemonSpecs for Plans {
    fn daemons(&self, node: &str, restart: bool) -> Result<Vec<Daemon>, DbError> {
        let plan = self.get(node)?;
        let daemons = if restart {
            &plan.restarts
        } else {
            &plan.daemons
        };
        Ok(daemons
            .iter()
            .map(|d| match self.faketime {
                true => faketime::wrap(d.clone(), &faketime_file(plan)),
                false => d.clone(),
            })
            .collect())
    }

    fn extra_log_files(&self, node: &str) -> Vec<String> {
        self.get(node).map(|p| p.logs.clone()).unwrap_or_default()
    }
}

impl FileTarget {
    /// `file` on `nodes` (name, address, in order) with the user's
    /// `options`, its placeholders filled in. `real_hosts`: the nodes come
    /// from a nodes file; `clock_faults`: the run moves clocks, so
    /// libfaketime is preloaded where the file says so.
    pub fn new(
        file: &TargetFile,
        nodes: &[(String, String)],
        options: &BTreeMap<String, String>,
        real_hosts: bool,
        clock_faults: bool,
    ) -> Result<FileTarget, FileError> {
        let clock = clock_for(file, real_hosts);
        let faketime = clock_faults && matches!(clock, Ok(TargetClock::Fake));
        let by_node = file
            .plan(nodes, options)?
            .into_iter()
            .map(|p| (p.node.clone(), p))
            .collect();
        let plans = Arc::new(Plans { by_node, faketime });
        Ok(FileTarget {
            name: file.name().to_string(),
            daemons: Daemons::new(Arc::clone(&plans) as Arc<dyn DaemonSpecs>),
            plans,
            attached: file.is_attached(),
            clock,
        })
    }

    /// The node's plan.
    pub fn node_plan(&self, node: &str) -> Result<&NodePlan, DbError> {
        self.plans.get(node)
    }

    /// The consistency models the file says the store promises with the
    /// run's options (empty: it does not say).
    pub fn consistency_models(&self) -> Vec<Model> {
        let any = self.plans.by_node.values().next();
        any.map_or_else(Vec::new, |p| p.consistency_models.clone())
    }

    fn attach_script(&self, node: &str, which: usize) -> Result<&Script, DbError> {
        self.plans.get(node)?.attach[which].as_ref().ok_or_else(|| {
            DbError::Unsupported(format!("{}: no such command in [attach]", self.name))
        })
    }

    fn install(&self, ctx: &NodeCtx<'_>, p: &NodePlan) -> Result<(), DbError> {
        let refs: Vec<&str> = p.packages.iter().map(String::as_str).collect();
        node::install_packages(ctx.remote, &refs)?;
        for (from, to, mode) in &p.uploads {
            node::upload_binary(ctx.remote, from, to)?;
            ctx.remote
                .exec(&Command::new("chmod").args([mode, to]).sudo())?;
        }
        run_opt(ctx, &p.install)
    }

    fn configure(&self, ctx: &NodeCtx<'_>, p: &NodePlan) -> Result<(), DbError> {
        for (path, content, mode) in &p.files {
            let b64 = base64::engine::general_purpose::STANDARD.encode(content);
            let script = format!(
                "mkdir -p \"$(dirname {path})\" && printf %s {b64} | base64 -d > {path} && chmod {mode} {path}",
                path = escape(path),
                mode = escape(mode),
            );
            ctx.remote.exec(&Command::shell(&script).sudo())?;
        }
        run_opt(ctx, &p.configure)?;
        // Daemons that run as another user own their folders.
        if let Some(user) = p.users.first() {
            let d = &p.dirs;
            let script = format!(
                "chown -R {u}:\"$(id -g {u})\" {} {} {}",
                escape(&d.data),
                escape(&d.log),
                escape(&d.run),
                u = escape(user)
            );
            ctx.remote.exec(&Command::shell(&script).sudo())?;
        }
        Ok(())
    }

    /// Waits until the node is ready; fails early, quoting its log, when a
    /// daemon exits meanwhile.
    fn await_ready(&self, ctx: &NodeCtx<'_>, p: &NodePlan) -> Result<(), DbError> {
        let Some((ready, limit)) = &p.ready else {
            return Ok(());
        };
        let started = Instant::now();
        let mut last = String::from("not tried");
        let mut checks = 0u32;
        while started.elapsed() < *limit {
            match probe_ready(ctx, ready) {
                Ok(()) => return Ok(()),
                Err(why) => last = why,
            }
            checks += 1;
            if !self.attached && checks.is_multiple_of(4) {
                self.daemons_alive(ctx)?;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        Err(DbError::Unhealthy {
            node: ctx.node.to_string(),
            what: format!("{} not ready within {limit:?}: {last}", self.name),
        })
    }

    /// An error quoting the log of a daemon that is not running.
    fn daemons_alive(&self, ctx: &NodeCtx<'_>) -> Result<(), DbError> {
        for d in self.plans.daemons(ctx.node, false)? {
            if !node::is_running(ctx.remote, d.pidfile())? {
                let tail = ctx
                    .remote
                    .exec(
                        &Command::new("tail")
                            .args(["-n", "20", d.logfile()])
                            .sudo()
                            .unchecked(),
                    )
                    .map(|o| o.stdout)
                    .unwrap_or_default();
                return Err(DbError::Unhealthy {
                    node: ctx.node.to_string(),
                    what: format!(
                        "{}: a daemon exited while starting; the end of {}:\n{}",
                        self.name,
                        d.logfile(),
                        tail.trim_end()
                    ),
                });
            }
        }
        Ok(())
    }
}

/// How clock faults reach a file target here, or why they cannot.
fn clock_for(file: &TargetFile, real_hosts: bool) -> Result<TargetClock, String> {
    let name = file.name();
    let schema = file.schema();
    match (schema.clock.mode, real_hosts) {
        (ClockMode::None, _) => Err(match &schema.clock.reason {
            Some(why) => format!("{name} does not support clock faults: {why}"),
            None => format!(
                "{name} does not support clock faults: {} sets no [clock] mode (\"faketime\" for \
                 programs that read the clock through libc, \"system\" for real hosts)",
                file.path().display()
            ),
        }),
        (ClockMode::Faketime | ClockMode::Auto, _) if file.is_attached() && !real_hosts => {
            Err(format!(
                "{name} is attached: temblor does not start its processes, so it cannot \
                     preload libfaketime into them, and the local cluster's nodes share this \
                     machine's clock, which temblor never sets"
            ))
        }
        (ClockMode::Faketime | ClockMode::Auto, _) if file.is_attached() => {
            Ok(TargetClock::System(SystemClock::new()))
        }
        (ClockMode::Faketime, _) | (ClockMode::Auto, false) => Ok(TargetClock::Fake),
        (ClockMode::System | ClockMode::Auto, true) => Ok(TargetClock::System(SystemClock::new())),
        (ClockMode::System, false) => Err(format!(
            "{name} takes clock faults through the system clock ([clock] mode = \"system\"), \
             which temblor never moves on the local cluster: its nodes share this machine's \
             clock; run on real hosts (--nodes-file)"
        )),
    }
}

/// Runs a step's script, checked.
fn run(ctx: &NodeCtx<'_>, s: &Script) -> Result<Output, DbError> {
    exec(ctx, s, true)
}

fn run_opt(ctx: &NodeCtx<'_>, s: &Option<Script>) -> Result<(), DbError> {
    match s {
        Some(s) => run(ctx, s).map(|_| ()),
        None => Ok(()),
    }
}

/// Runs `s` as root with `set -e`; a failure names the node, the step,
/// where the file says it, the command, its status and stderr.
fn exec(ctx: &NodeCtx<'_>, s: &Script, checked: bool) -> Result<Output, DbError> {
    let body = format!("set -e\n{}", s.text);
    let mut cmd = Command::new("bash")
        .args(["-c", &body])
        .sudo()
        .timeout(s.timeout);
    if !checked {
        cmd = cmd.unchecked();
    }
    ctx.remote.exec(&cmd).map_err(|e| {
        let reason = match &e {
            RemoteError::NonZero {
                status,
                stderr_tail,
                ..
            } => format!("exit status {status}: {}", stderr_tail.trim()),
            RemoteError::Timeout { timeout, .. } => {
                format!("did not finish within {timeout:?}")
            }
            other => other.to_string(),
        };
        step_error(ctx.node, s, reason)
    })
}

fn step_error(node: &str, s: &Script, reason: String) -> DbError {
    let mut command: String = s.text.trim().chars().take(300).collect();
    if command.len() < s.text.trim().len() {
        command.push_str(" ...");
    }
    DbError::Step {
        node: node.to_string(),
        step: s.step.clone(),
        origin: s.origin.clone(),
        command,
        reason,
    }
}

fn probe_ready(ctx: &NodeCtx<'_>, ready: &Ready) -> Result<(), String> {
    match ready {
        Ready::Tcp(addr) => {
            use std::net::ToSocketAddrs;
            let sock = addr
                .to_socket_addrs()
                .map_err(|e| format!("{addr}: {e}"))?
                .next()
                .ok_or_else(|| format!("{addr}: no address"))?;
            std::net::TcpStream::connect_timeout(&sock, Duration::from_secs(1))
                .map(|_| ())
                .map_err(|e| format!("tcp {addr}: {e}"))
        }
        Ready::Http(url) => match crate::http::get_status(url, Duration::from_secs(2)) {
            Ok(s) if (200..300).contains(&s) => Ok(()),
            Ok(s) => Err(format!("GET {url}: status {s}")),
            Err(e) => Err(format!("GET {url}: {e}")),
        },
        Ready::Command(s) => match exec(ctx, s, false) {
            Ok(out) if out.success() => Ok(()),
            Ok(out) => Err(format!(
                "`{}` exited with status {}: {}",
                s.text.trim(),
                out.status,
                out.stderr.trim()
            )),
            Err(e) => Err(e.to_string()),
        },
    }
}

impl Db for FileTarget {
    fn name(&self) -> &str {
        &self.name
    }

    fn owns_processes(&self) -> bool {
        !self.attached
    }

    fn setup(&self, ctx: &NodeCtx<'_>) -> Result<(), DbError> {
        let p = self.plans.get(ctx.node)?;
        if self.attached {
            return self.await_ready(ctx, p);
        }
        let d = &p.dirs;
        ctx.remote.exec(
            &Command::new("mkdir")
                .args(["-p", &d.data, &d.log, &d.run, &d.opt])
                .sudo(),
        )?;
        self.install(ctx, p)?;
        self.configure(ctx, p)?;
        if self.plans.faketime {
            faketime::prepare(ctx, &faketime_file(p))?;
        }
        self.daemons.start_all(ctx, false)?;
        self.await_ready(ctx, p)
    }

    fn setup_primary(&self, ctx: &NodeCtx<'_>) -> Result<(), DbError> {
        run_opt(ctx, &self.plans.get(ctx.node)?.init)
    }

    fn teardown(&self, ctx: &NodeCtx<'_>) -> Result<(), DbError> {
        if self.attached {
            return Ok(());
        }
        let p = self.plans.get(ctx.node)?;
        // Every step is tried: a daemon that would not stop must not leave
        // the data behind, nor the other way round.
        let stopped = self.daemons.stop_all(ctx);
        let wiped = run_opt(ctx, &p.teardown);
        let removed = ctx
            .remote
            .exec(
                &Command::new("rm")
                    .args(["-rf", p.dirs.root(), &p.dirs.opt])
                    .sudo(),
            )
            .map(|_| ())
            .map_err(DbError::from);
        stopped.and(wiped).and(removed)
    }

    fn plan(&self, node: &str) -> Result<Vec<(String, String)>, DbError> {
        // As started: with libfaketime preloaded when the run has clock
        // faults.
        let plan = NodePlan {
            daemons: self.plans.daemons(node, false)?,
            restarts: self.plans.daemons(node, true)?,
            ..self.plans.get(node)?.clone()
        };
        Ok(plan.lines())
    }

    fn as_kill(&self) -> Option<&dyn Kill> {
        match self.attached {
            false => Some(&self.daemons),
            true => self.attach_has(0).then_some(self as &dyn Kill),
        }
    }

    fn as_pause(&self) -> Option<&dyn Pause> {
        match self.attached {
            false => Some(&self.daemons),
            true => self.attach_has(2).then_some(self as &dyn Pause),
        }
    }

    fn as_primary(&self) -> Option<&dyn Primary> {
        let any = self.plans.by_node.values().next();
        any.is_some_and(|p| p.primaries.is_some())
            .then_some(self as &dyn Primary)
    }

    fn as_log_files(&self) -> Option<&dyn LogFiles> {
        Some(self)
    }

    fn as_data_files(&self) -> Option<&dyn DataFiles> {
        let any = self.plans.by_node.values().next();
        any.is_some_and(|p| !p.data.is_empty())
            .then_some(self as &dyn DataFiles)
    }

    fn clock(&self) -> Result<&dyn Clock, String> {
        match &self.clock {
            Ok(TargetClock::Fake) if !self.plans.faketime => Err(format!(
                "{} runs without libfaketime in this test; the run preloads it when --nemesis \
                 includes clock",
                self.name
            )),
            Ok(_) => Ok(self),
            Err(why) => Err(why.clone()),
        }
    }
}

impl FileTarget {
    fn attach_has(&self, which: usize) -> bool {
        self.plans
            .by_node
            .values()
            .next()
            .is_some_and(|p| p.attach[which].is_some())
    }
}

impl Kill for FileTarget {
    fn kill(&self, ctx: &NodeCtx<'_>) -> Result<(), DbError> {
        run(ctx, self.attach_script(ctx.node, 0)?).map(|_| ())
    }

    fn start(&self, ctx: &NodeCtx<'_>) -> Result<(), DbError> {
        run(ctx, self.attach_script(ctx.node, 1)?).map(|_| ())
    }
}

impl Pause for FileTarget {
    fn pause(&self, ctx: &NodeCtx<'_>) -> Result<(), DbError> {
        run(ctx, self.attach_script(ctx.node, 2)?).map(|_| ())
    }

    fn resume(&self, ctx: &NodeCtx<'_>) -> Result<(), DbError> {
        run(ctx, self.attach_script(ctx.node, 3)?).map(|_| ())
    }
}

impl Primary for FileTarget {
    fn is_primary(&self, ctx: &NodeCtx<'_>) -> Result<bool, DbError> {
        let p = self.plans.get(ctx.node)?;
        let Some(s) = &p.primaries else {
            return Ok(false);
        };
        let out = exec(ctx, s, false)?;
        match out.status {
            0 => Ok(true),
            1 => Ok(false),
            status => Err(step_error(
                ctx.node,
                s,
                format!(
                    "exit status {status} (0 means it leads, 1 that it does not): {}",
                    out.stderr.trim()
                ),
            )),
        }
    }
}

/// `[data] files`, placeholders filled in.
impl DataFiles for FileTarget {
    fn data_files(&self, node: &str) -> Vec<String> {
        self.plans
            .get(node)
            .map(|p| p.data.clone())
            .unwrap_or_default()
    }
}

impl LogFiles for FileTarget {
    fn log_files(&self, ctx: &NodeCtx<'_>) -> Vec<String> {
        match self.attached {
            false => self.daemons.log_files(ctx),
            true => self.plans.extra_log_files(ctx.node),
        }
    }
}

impl Clock for FileTarget {
    fn set_offset_ms(&self, ctx: &NodeCtx<'_>, offset_ms: i64) -> Result<(), DbError> {
        match &self.clock {
            Ok(TargetClock::Fake) => {
                faketime::write_offset(ctx, &faketime_file(self.plans.get(ctx.node)?), offset_ms)
            }
            Ok(TargetClock::System(c)) => c.set_offset_ms(ctx, offset_ms),
            Err(why) => Err(DbError::Unsupported(why.clone())),
        }
    }

    fn measure_offset_ms(&self, ctx: &NodeCtx<'_>) -> Result<f64, DbError> {
        match &self.clock {
            Ok(TargetClock::Fake) => {
                faketime::measure_offset_ms(ctx, &faketime_file(self.plans.get(ctx.node)?))
            }
            Ok(TargetClock::System(c)) => c.measure_offset_ms(ctx),
            Err(why) => Err(DbError::Unsupported(why.clone())),
        }
    }

    fn prepare(&self, ctx: &NodeCtx<'_>) -> Result<(), DbError> {
        match &self.clock {
            Ok(TargetClock::System(c)) => c.prepare(ctx),
            _ => Ok(()),
        }
    }
}
