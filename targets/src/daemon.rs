//! The one pidfile-daemon implementation of the process abilities (`Kill`,
//! `Pause`, `LogFiles`) that every target running daemons shares: raftkv,
//! etcd, Consul and the targets described by a file (Jepsen's
//! `control/util.clj` `start-daemon!`/`stop-daemon!`, and `db.clj`'s
//! `Process` and `Pause` built on them).
//!
//! A target says which daemons run on a node ([`DaemonSpecs`]); [`Daemons`]
//! starts, stops, kills, pauses and resumes exactly those processes, through
//! their pidfiles and never by name, so the local cluster's nodes, which
//! share one filesystem, never touch each other's processes. A node running
//! several daemons (a store and its sentinel) is crashed or paused as a
//! whole, like a machine.

use crate::db::{DbError, Kill, LogFiles, NodeCtx, Pause};
use crate::node::{self, Daemon};
use std::sync::Arc;
use std::time::Duration;

/// How many times, 100 ms apart, a kill looks for its processes to be gone.
const KILL_POLLS: u32 = 100;

/// Which daemons a target runs on a node.
pub trait DaemonSpecs: Send + Sync {
    /// The daemons on `node`, in start order. `restart` is true when they
    /// are started again after a kill (with their data, e.g. etcd's
    /// `--initial-cluster-state existing`).
    fn daemons(&self, node: &str, restart: bool) -> Result<Vec<Daemon>, DbError>;

    /// Files to download besides the daemons' own logs.
    fn extra_log_files(&self, _node: &str) -> Vec<String> {
        Vec::new()
    }
}

/// The daemons of a target, managed by pidfile.
#[derive(Clone)]
pub struct Daemons {
    specs: Arc<dyn DaemonSpecs>,
    /// How long a daemon gets to exit after SIGTERM before SIGKILL.
    grace: Duration,
}

impl Daemons {
    /// The daemons `specs` describes; teardown gives each 5 s to exit.
    pub fn new(specs: Arc<dyn DaemonSpecs>) -> Self {
        Daemons {
            specs,
            grace: Duration::from_secs(5),
        }
    }

    /// Starts every daemon of the node that is not running; `restart` as
    /// in [`DaemonSpecs::daemons`].
    pub fn start_all(&self, ctx: &NodeCtx<'_>, restart: bool) -> Result<(), DbError> {
        for daemon in self.specs.daemons(ctx.node, restart)? {
            node::start(ctx.remote, &daemon)?;
        }
        Ok(())
    }

    /// Stops every daemon of the node: SIGTERM, the grace period, SIGKILL.
    /// Goes on past a failure so that no daemon is left running because
    /// another could not be stopped; returns the first error.
    pub fn stop_all(&self, ctx: &NodeCtx<'_>) -> Result<(), DbError> {
        let mut first = Ok(());
        // Stop in reverse start order: a sidecar before what it watches.
        for daemon in self.specs.daemons(ctx.node, false)?.iter().rev() {
            if let Err(e) = node::stop(ctx.remote, daemon.pidfile(), self.grace) {
                if first.is_ok() {
                    first = Err(e.into());
                }
            }
        }
        first
    }

    /// How each daemon of `node` is started (a dry run's lines).
    pub fn plan(&self, node: &str) -> Result<Vec<(String, String)>, DbError> {
        let daemons = self.specs.daemons(node, false)?;
        Ok(daemons
            .iter()
            .map(|d| ("start".to_string(), d.command().to_string()))
            .collect())
    }

    /// Sends `signal` to every running daemon of the node.
    fn signal_all(&self, ctx: &NodeCtx<'_>, signal: &str) -> Result<(), DbError> {
        for daemon in self.specs.daemons(ctx.node, false)? {
            node::signal_if_running(ctx.remote, daemon.pidfile(), signal)?;
        }
        Ok(())
    }
}

impl Kill for Daemons {
    fn kill(&self, ctx: &NodeCtx<'_>) -> Result<(), DbError> {
        // A paused process dies of SIGKILL too; nothing else to undo.
        self.signal_all(ctx, "KILL")?;
        // SIGKILL is delivered asynchronously: the kill is done when every
        // process is gone (as Jepsen's stop-daemon! waits), so that a
        // restart never finds the old one holding its ports or files.
        for daemon in self.specs.daemons(ctx.node, false)? {
            let mut polls = 0;
            while node::is_running(ctx.remote, daemon.pidfile())? {
                if polls == KILL_POLLS {
                    return Err(DbError::Unhealthy {
                        node: ctx.node.to_string(),
                        what: format!(
                            "the process of {} outlived SIGKILL by {} s",
                            daemon.pidfile(),
                            KILL_POLLS / 10
                        ),
                    });
                }
                polls += 1;
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        Ok(())
    }

    fn start(&self, ctx: &NodeCtx<'_>) -> Result<(), DbError> {
        // Those still running are left alone; a restarted member must not
        // wait for health, which needs a quorum that may be down too.
        self.start_all(ctx, true)
    }

    fn running(&self, ctx: &NodeCtx<'_>) -> Result<Option<bool>, DbError> {
        for daemon in self.specs.daemons(ctx.node, false)? {
            if !node::is_running(ctx.remote, daemon.pidfile())? {
                return Ok(Some(false));
            }
        }
        Ok(Some(true))
    }
}

impl Pause for Daemons {
    fn pause(&self, ctx: &NodeCtx<'_>) -> Result<(), DbError> {
        self.signal_all(ctx, "STOP")
    }

    fn resume(&self, ctx: &NodeCtx<'_>) -> Result<(), DbError> {
        // Healing resumes every node; one killed meanwhile has nothing to
        // resume.
        self.signal_all(ctx, "CONT")
    }
}

impl LogFiles for Daemons {
    fn log_files(&self, ctx: &NodeCtx<'_>) -> Vec<String> {
        let mut files: Vec<String> = match self.specs.daemons(ctx.node, false) {
            Ok(daemons) => daemons.iter().map(|d| d.logfile().to_string()).collect(),
            Err(_) => Vec::new(),
        };
        files.extend(self.specs.extra_log_files(ctx.node));
        files
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote::Local;

    /// Two `sleep` daemons in a scratch folder, standing in for a store
    /// and its sidecar.
    struct Sleepers {
        dir: String,
    }

    impl DaemonSpecs for Sleepers {
        fn daemons(&self, _node: &str, _restart: bool) -> Result<Vec<Daemon>, DbError> {
            Ok(["a", "b"]
                .iter()
                .map(|n| {
                    let (pid, log) = (
                        format!("{}/{n}.pid", self.dir),
                        format!("{}/{n}.log", self.dir),
                    );
                    Daemon::new("sleep", &pid, &log).args(["30"])
                })
                .collect())
        }
    }

    fn state(pidfile: &str) -> Option<char> {
        let pid = std::fs::read_to_string(pidfile).ok()?;
        let status = std::fs::read_to_string(format!("/proc/{}/status", pid.trim())).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("State:"))
            .and_then(|s| s.trim().chars().next())
    }

    /// Whether both processes reach `want` (signals are delivered
    /// asynchronously: poll, for at most 10 s).
    fn both_reach(a: &str, b: &str, want: char) -> bool {
        (0..1000).any(|_| {
            let done = state(a) == Some(want) && state(b) == Some(want);
            if !done {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            done
        })
    }

    #[test]
    fn every_daemon_of_a_node_is_killed_paused_resumed_and_restarted() {
        let dir = std::env::temp_dir().join(format!("temblor-daemons-{}", std::process::id()));
        let dir = dir.display().to_string();
        let daemons = Daemons::new(Arc::new(Sleepers { dir: dir.clone() }));
        let local = Local::new();
        let names = vec!["n1".to_string()];
        let ctx = NodeCtx {
            node: "n1",
            nodes: &names,
            remote: &local,
        };
        let (a, b) = (format!("{dir}/a.pid"), format!("{dir}/b.pid"));
        daemons.start_all(&ctx, false).unwrap();
        assert!(node::is_running(&local, &a).unwrap() && node::is_running(&local, &b).unwrap());
        daemons.pause(&ctx).unwrap();
        assert!(both_reach(&a, &b, 'T'), "not stopped");
        daemons.resume(&ctx).unwrap();
        assert!(both_reach(&a, &b, 'S'), "not resumed");
        daemons.kill(&ctx).unwrap();
        assert!(!node::is_running(&local, &a).unwrap() && !node::is_running(&local, &b).unwrap());
        // Resuming a killed node is not an error: healing resumes everyone.
        daemons.resume(&ctx).unwrap();
        Kill::start(&daemons, &ctx).unwrap();
        assert!(node::is_running(&local, &a).unwrap() && node::is_running(&local, &b).unwrap());
        assert_eq!(
            daemons.log_files(&ctx),
            vec![format!("{dir}/a.log"), format!("{dir}/b.log")]
        );
        daemons.stop_all(&ctx).unwrap();
        assert!(!node::is_running(&local, &a).unwrap() && !node::is_running(&local, &b).unwrap());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
