//! The system under test's lifecycle on a node: the small core trait `Db`
//! (setup, teardown) and optional abilities as separate traits, asked for at
//! run time (Jepsen's `db.clj`: `DB`, `Kill`, `Pause`, `Primary`,
//! `LogFiles`). The nemesis asks a target whether it can kill, pause, find
//! the leader, skew clocks or corrupt data files (`DataFiles`), and refuses a fault it cannot carry out with a
//! clear message instead of silently doing nothing.
//!
//! Calls are blocking (like [`Remote`]); the harness runs them on tokio's
//! blocking pool, one node at a time per call.

use crate::node::NodeError;
use crate::remote::{Command, Remote, RemoteError};
use crate::sysclock::ClockError;

/// Everything a `Db` call needs to know about the node it works on.
pub struct NodeCtx<'a> {
    /// This node's name (`n1`, ...).
    pub node: &'a str,
    /// Every node of the test, in order, with this one among them.
    pub nodes: &'a [String],
    /// How to reach this node.
    pub remote: &'a dyn Remote,
}

/// Why a lifecycle step failed on a node.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// A node chore (daemon, port, package) failed.
    #[error(transparent)]
    Node(#[from] NodeError),
    /// A command on the node failed.
    #[error(transparent)]
    Remote(#[from] RemoteError),
    /// The node's system clock could not be moved.
    #[error(transparent)]
    Clock(#[from] ClockError),
    /// The target is not usable as configured (a missing binary, a fault it
    /// cannot honour here); the message says what to change.
    #[error("{0}")]
    Unsupported(String),
    /// A step of a target described by a file failed on a node.
    #[error("{node}: {step} ({origin}) failed: {reason}\n  the command: {command}")]
    Step {
        /// The node.
        node: String,
        /// The step (`install`, `configure`, `daemon zk`, ...).
        step: String,
        /// Where the file says it (`zk.toml:12`).
        origin: String,
        /// The command, placeholders filled in (its start, when long).
        command: String,
        /// Exit status and stderr, or why it did not finish.
        reason: String,
    },
    /// The target answered, but not as expected.
    #[error("{node}: {what}")]
    Unhealthy {
        /// The node.
        node: String,
        /// What was wrong.
        what: String,
    },
}

/// A system under test: installs, starts and removes itself on a node.
pub trait Db: Send + Sync {
    /// The target's name (`raftkv`, `etcd`, ...).
    fn name(&self) -> &str;

    /// Whether temblor starts and stops this system's processes: false for
    /// a cluster it attaches to, whose processes a run must never stop
    /// (not even ones an earlier run left paused: those it only resumes).
    fn owns_processes(&self) -> bool {
        true
    }

    /// Installs, configures and starts the system on `ctx.node`, returning
    /// when it is ready for clients. Called on every node, concurrently.
    fn setup(&self, ctx: &NodeCtx<'_>) -> Result<(), DbError>;

    /// Stops the system and removes its data on `ctx.node`.
    fn teardown(&self, ctx: &NodeCtx<'_>) -> Result<(), DbError>;

    /// One-time setup on the first node, after every node's `setup` is
    /// done (Jepsen's `setup-primary!`): creating tables, initiating a
    /// replica set.
    fn setup_primary(&self, _ctx: &NodeCtx<'_>) -> Result<(), DbError> {
        Ok(())
    }

    /// What `setup` would run on `node`, step by step (a dry run): pairs
    /// of the step and its command, nothing run.
    fn plan(&self, _node: &str) -> Result<Vec<(String, String)>, DbError> {
        Ok(vec![(
            "setup".to_string(),
            format!("{} is built in: it installs and starts itself", self.name()),
        )])
    }

    /// The ability to crash and restart the process, if the target has it.
    fn as_kill(&self) -> Option<&dyn Kill> {
        None
    }

    /// The ability to pause and resume the process, if the target has it.
    fn as_pause(&self) -> Option<&dyn Pause> {
        None
    }

    /// The ability to say which nodes lead, if the target has it.
    fn as_primary(&self) -> Option<&dyn Primary> {
        None
    }

    /// The log files to download after the test, if the target has any.
    fn as_log_files(&self) -> Option<&dyn LogFiles> {
        None
    }

    /// The files the target keeps its data in, for file faults, if it
    /// declares them.
    fn as_data_files(&self) -> Option<&dyn DataFiles> {
        None
    }

    /// How the target's clock can be skewed on these nodes (libfaketime
    /// for a libc program, the hosts' system clock on real hosts), or why it
    /// cannot (e.g. a Go binary on the local cluster, which libfaketime does
    /// not reach and whose shared kernel clock temblor never sets): `Err`
    /// carries the message the run prints when it refuses a clock fault.
    fn clock(&self) -> Result<&dyn Clock, String> {
        Err(format!(
            "{} does not support clock faults on these nodes",
            self.name()
        ))
    }
}

/// Crash (SIGKILL) and restart the process.
pub trait Kill: Send + Sync {
    /// Kills the process on the node, at once, without a chance to clean up.
    fn kill(&self, ctx: &NodeCtx<'_>) -> Result<(), DbError>;
    /// Starts the process again on the node (with its existing data).
    fn start(&self, ctx: &NodeCtx<'_>) -> Result<(), DbError>;
    /// Whether the target's processes run on the node (`None`: this
    /// target cannot tell), e.g. to see whether a start held or the
    /// process exited at once, refusing its data.
    fn running(&self, _ctx: &NodeCtx<'_>) -> Result<Option<bool>, DbError> {
        Ok(None)
    }
}

/// Pause (SIGSTOP) and resume (SIGCONT) the process.
pub trait Pause: Send + Sync {
    /// Stops the process from running.
    fn pause(&self, ctx: &NodeCtx<'_>) -> Result<(), DbError>;
    /// Lets it run again.
    fn resume(&self, ctx: &NodeCtx<'_>) -> Result<(), DbError>;
}

/// Which nodes currently lead.
pub trait Primary: Send + Sync {
    /// The nodes that believe they lead, as seen from `ctx.node` (callers
    /// ask every node and take the union; several can answer during a
    /// partition).
    fn is_primary(&self, ctx: &NodeCtx<'_>) -> Result<bool, DbError>;
}

/// Files worth downloading into the run's folder after a test.
pub trait LogFiles: Send + Sync {
    /// Absolute paths on the node.
    fn log_files(&self, ctx: &NodeCtx<'_>) -> Vec<String>;
}

/// Where a target keeps its data on a node: what file faults corrupt while
/// the target is down (Jepsen's `nemesis/file.clj` works on the files a
/// test names).
pub trait DataFiles: Send + Sync {
    /// Absolute paths on the node: files, or folders whose every file
    /// (recursively) is data (etcd's `member/wal`). A path that does not
    /// exist yet is skipped when a fault picks a file.
    fn data_files(&self, node: &str) -> Vec<String>;
}

/// Skews the wall clock the target sees on a node.
pub trait Clock: Send + Sync {
    /// Sets the node's clock offset (relative to the true time) in
    /// milliseconds: an absolute offset, not a step; 0 resets it.
    fn set_offset_ms(&self, ctx: &NodeCtx<'_>, offset_ms: i64) -> Result<(), DbError>;

    /// Readies the node for clock faults before the workload starts, so a
    /// node that cannot take them fails the run up front (Jepsen's clock
    /// nemesis `setup!`, which compiles its helpers and resets clocks).
    fn prepare(&self, _ctx: &NodeCtx<'_>) -> Result<(), DbError> {
        Ok(())
    }

    /// How far, in milliseconds, the node's clock as the target's
    /// processes see it is off the controller's clock, measured (Jepsen's
    /// `current-offset`). By default the node's system clock, read with
    /// `date`; a clock that moves only what the target sees (libfaketime)
    /// reads it the way the target does.
    fn measure_offset_ms(&self, ctx: &NodeCtx<'_>) -> Result<f64, DbError> {
        measure_offset_ms(ctx, &Command::new("date").arg(CLOCK_FORMAT))
    }
}

/// `date`'s format for the time in seconds with nanoseconds.
pub const CLOCK_FORMAT: &str = "+%s.%N";

/// Runs `read` on the node, which prints its clock as seconds since the
/// epoch (`date +%s.%N`), and returns how far that is off the controller's
/// clock in milliseconds. The reading is compared with the midpoint of the
/// controller's clock before and after the command, as NTP does, so the
/// error is at most half the round trip, not the whole of it.
pub fn measure_offset_ms(ctx: &NodeCtx<'_>, read: &Command) -> Result<f64, DbError> {
    let before = unix_seconds();
    let out = ctx.remote.exec(read)?;
    let after = unix_seconds();
    let node_s: f64 = out
        .stdout
        .trim()
        .parse()
        .ok()
        .filter(|s: &f64| s.is_finite())
        .ok_or_else(|| DbError::Unhealthy {
            node: ctx.node.to_string(),
            what: format!(
                "reading the clock with `{}` printed {:?}, not seconds since the epoch",
                read.render(true),
                out.stdout.trim_end()
            ),
        })?;
    Ok((node_s - (before + after) / 2.0) * 1000.0)
}

/// The controller's clock, in seconds since the epoch.
fn unix_seconds() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}
