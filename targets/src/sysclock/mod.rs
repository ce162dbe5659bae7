//! Clock faults on real hosts: `SystemClock` moves a node's system clock
//! with a small C helper ([`helper`], `bump-time.c`) and undoes exactly
//! what it did.
//!
//! Follows Jepsen's `jepsen.nemesis.time`: upload `bump-time.c`, compile it
//! with the node's C compiler (installing gcc when there is none), and bump
//! `CLOCK_REALTIME` by a delta in milliseconds with `clock_settime`, which
//! is precise to the nanosecond where `date -s` is not. Jepsen resets clocks
//! with `ntpdate`; temblor cannot count on an NTP server being reachable,
//! so it keeps the offset it has applied in a state file on the node
//! (`/var/lib/temblor/sysclock/offset-ms`) and resets by bumping back by
//! that much. The file is what makes `temblor heal` work after a controller
//! died: a fresh process reads it and undoes the offset. It is per host, not
//! per node name: the clock belongs to the machine.
//!
//! Two things this cannot see: a time daemon (chrony, ntpd,
//! systemd-timesyncd) that steps the clock back on its own makes the reset
//! overshoot by what it corrected, so stop it on hosts used for clock
//! faults, as Jepsen does; and a host whose clock was moved by hand or by a
//! run whose state file was removed is not put right.
//!
//! Never used on the local cluster: its nodes share this machine's kernel
//! clock, and their sshd runs without `CAP_SYS_TIME` so the helper would be
//! refused there anyway. Targets that libfaketime cannot reach (Go
//! programs: etcd, Consul) refuse clock faults on the local cluster with
//! [`refused_on_local_cluster`].

pub mod helper;
#[cfg(test)]
mod unprivileged;

pub use helper::Report;

use crate::db::{Clock, DbError, NodeCtx};
use crate::node::NodeError;
use crate::remote::{escape, Command, Remote, RemoteError};
use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::Duration;

/// Why a clock could not be moved on a node.
#[derive(Debug, thiserror::Error)]
pub enum ClockError {
    /// A command on the node failed (the helper's own message included,
    /// e.g. a host that does not grant `CAP_SYS_TIME`).
    #[error(transparent)]
    Remote(#[from] RemoteError),
    /// A node chore failed.
    #[error(transparent)]
    Node(#[from] NodeError),
    /// The helper could not be put on the node.
    #[error("{host}: cannot build the clock helper: {reason}")]
    Build {
        /// The node.
        host: String,
        /// What failed, with the command.
        reason: String,
    },
    /// The state file holds something that is not an offset.
    #[error(
        "{host}: clock state file {path} holds {content:?}, not a whole number of \
         milliseconds; the clock may be off by an unknown amount: set it right by hand \
         (e.g. `ntpdate -b <server>`) and remove the file"
    )]
    BadState {
        /// The node.
        host: String,
        /// The file.
        path: String,
        /// What it holds.
        content: String,
    },
    /// The step from the applied offset to the wanted one overflows.
    #[error("{host}: cannot move the clock from offset {current} ms to {wanted} ms: out of range")]
    OutOfRange {
        /// The node.
        host: String,
        /// The offset in force.
        current: i64,
        /// The offset asked for.
        wanted: i64,
    },
    /// The helper ran but printed something else than its report.
    #[error("{host}: the clock helper printed {stdout:?}, not its `current`/`target` report")]
    BadReport {
        /// The node.
        host: String,
        /// What it printed.
        stdout: String,
    },
}

/// Why a Go target refuses clock faults on the local cluster (printed when
/// a run asks for one).
pub fn refused_on_local_cluster(target: &str) -> String {
    format!(
        "{target} does not support clock faults on the local cluster: it is a Go program, so \
         libfaketime does not reach its clock, and the local cluster's nodes share this \
         machine's kernel clock, which temblor never sets; on real hosts (--nodes-file) \
         temblor moves each host's system clock with its clock helper instead"
    )
}

/// How long one bump may take (the helper is quick; SSH may not be).
const BUMP_TIMEOUT: Duration = Duration::from_secs(30);

/// A node's system clock, moved by the helper (see the module docs).
pub struct SystemClock {
    /// Prefix of every path on the node: empty on real hosts, a scratch
    /// folder in tests.
    root: String,
    /// Pass `--dry-run` to the helper: it reports and sets nothing.
    dry_run: bool,
    /// Hosts where the helper is known to be built, so a strobe does not
    /// check again on every flip.
    built: Mutex<BTreeSet<String>>,
}

impl Default for SystemClock {
    fn default() -> Self {
        SystemClock::new()
    }
}

impl SystemClock {
    /// The real thing: files under `/opt/temblor` and `/var/lib/temblor`.
    pub fn new() -> Self {
        SystemClock {
            root: String::new(),
            dry_run: false,
            built: Mutex::default(),
        }
    }

    /// Files under `root` and the helper in dry-run mode: everything but
    /// the clock itself, for tests.
    #[cfg(test)]
    fn rehearsal(root: &std::path::Path) -> Self {
        SystemClock {
            root: root.display().to_string(),
            dry_run: true,
            built: Mutex::default(),
        }
    }

    /// Where the helper's source and binary live.
    fn helper_dir(&self) -> String {
        format!("{}/opt/temblor/sysclock", self.root)
    }

    /// The file that holds the offset applied, in ms.
    pub fn state_file(&self) -> String {
        format!("{}/var/lib/temblor/sysclock/offset-ms", self.root)
    }

    /// The offset this helper has applied to the node's clock (0 when the
    /// state file is absent: nothing applied).
    pub fn offset_ms(&self, remote: &dyn Remote) -> Result<i64, ClockError> {
        let path = self.state_file();
        let f = escape(&path);
        let script = format!("if [ -e {f} ]; then cat {f}; else echo 0; fi");
        let out = remote.exec(&Command::shell(&script).sudo())?;
        parse_offset(&out.stdout).ok_or_else(|| ClockError::BadState {
            host: remote.host().to_string(),
            path,
            content: out.stdout.trim_end().to_string(),
        })
    }

    /// Moves the node's clock so it is `wanted` ms off the true time,
    /// bumping by the difference from the offset applied now; `None` when
    /// it is already there (nothing built, nothing run).
    pub fn apply(&self, remote: &dyn Remote, wanted: i64) -> Result<Option<Report>, ClockError> {
        let current = self.offset_ms(remote)?;
        let delta = step_ms(current, wanted).ok_or_else(|| ClockError::OutOfRange {
            host: remote.host().to_string(),
            current,
            wanted,
        })?;
        if delta == 0 {
            return Ok(None);
        }
        let helper = self.ensure_helper(remote)?;
        // Bump and record in one command: a controller that dies between
        // the two cannot leave the clock moved and the file stale.
        let script = format!(
            "{} && {}",
            self.bump_line(&helper, delta),
            self.record_line(wanted)
        );
        let out = remote.exec(&Command::shell(&script).sudo().timeout(BUMP_TIMEOUT))?;
        Report::parse(&out.stdout)
            .map(Some)
            .ok_or_else(|| ClockError::BadReport {
                host: remote.host().to_string(),
                stdout: out.stdout,
            })
    }

    fn bump_line(&self, helper: &str, delta: i64) -> String {
        let dry = if self.dry_run { " --dry-run" } else { "" };
        format!("{}{dry} {delta}", escape(helper))
    }

    /// Writes the offset through a temporary file, so the state file is
    /// never seen half written.
    fn record_line(&self, offset: i64) -> String {
        let path = self.state_file();
        let dir = path.rsplit_once('/').map_or("/", |(d, _)| d).to_string();
        let (d, f) = (escape(&dir), escape(&path));
        format!("mkdir -p {d} && printf '%s\\n' {offset} > {f}.tmp && mv -f {f}.tmp {f}")
    }

    /// The helper's path on the node, built there first if it is not.
    fn ensure_helper(&self, remote: &dyn Remote) -> Result<String, ClockError> {
        let dir = self.helper_dir();
        let bin = format!("{dir}/{}", helper::binary_name());
        let host = remote.host().to_string();
        if self.lock_built().contains(&host) {
            return Ok(bin);
        }
        let test = Command::new("test").args(["-x", &bin]).sudo().unchecked();
        if !remote.exec(&test)?.success() {
            helper::build(remote, &dir)?;
        }
        self.lock_built().insert(host);
        Ok(bin)
    }

    fn lock_built(&self) -> std::sync::MutexGuard<'_, BTreeSet<String>> {
        self.built.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Clock for SystemClock {
    fn set_offset_ms(&self, ctx: &NodeCtx<'_>, offset_ms: i64) -> Result<(), DbError> {
        self.apply(ctx.remote, offset_ms)?;
        Ok(())
    }

    /// Builds the helper (installing a compiler if need be) and puts back
    /// an offset an earlier run left, before the workload starts.
    fn prepare(&self, ctx: &NodeCtx<'_>) -> Result<(), DbError> {
        self.ensure_helper(ctx.remote)?;
        self.apply(ctx.remote, 0)?;
        Ok(())
    }
}

/// How far to bump a clock that is `current` ms off to make it `wanted` ms
/// off; `None` on overflow.
pub fn step_ms(current: i64, wanted: i64) -> Option<i64> {
    wanted.checked_sub(current)
}

/// The state file's content: one whole number of ms and a newline.
fn parse_offset(text: &str) -> Option<i64> {
    text.strip_suffix('\n').unwrap_or(text).parse().ok()
}

#[cfg(test)]
mod tests;
