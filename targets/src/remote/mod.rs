//! Reaching nodes: the `Remote` trait (run a command, move files) and its
//! implementations, `Ssh` (real hosts and the local cluster) and `Local`
//! (this machine, for unit tests).
//!
//! Follows Jepsen's `control.clj`: one session per node, commands built from
//! escaped arguments with `cd`, env and sudo, and a non-zero exit surfaced as
//! an error that carries the host, command, status and stderr. The trait is
//! blocking like ssh2 itself; [`AsyncRemote`] runs it on tokio's blocking
//! pool so controller tasks never stall the runtime.

mod channel_io;
mod command;
mod known_hosts;
mod local;
pub mod secrets;
mod ssh;
mod traced;

pub use command::{escape, Command};
pub use local::{effective_uid, Local};
pub use ssh::{HostKeyPolicy, Ssh, SshConfig};
pub use traced::Traced;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// What a finished command printed and how it exited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// Exit status (0 is success).
    pub status: i32,
    /// Standard output, lossily decoded as UTF-8.
    pub stdout: String,
    /// Standard error, lossily decoded as UTF-8.
    pub stderr: String,
}

impl Output {
    /// Whether the command exited 0.
    pub fn success(&self) -> bool {
        self.status == 0
    }
}

/// Why a remote operation failed. Every variant names the host.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    /// The command ran and exited non-zero.
    #[error("{host}: `{cmd}` exited with status {status}: {stderr_tail}")]
    NonZero {
        host: String,
        cmd: String,
        status: i32,
        stderr_tail: String,
    },
    /// The command did not finish in time (it may still be running).
    #[error("{host}: `{cmd}` did not finish within {timeout:?}")]
    Timeout {
        host: String,
        cmd: String,
        timeout: Duration,
    },
    /// No TCP connection could be made.
    #[error("{host}: cannot connect to {addr}")]
    Unreachable {
        host: String,
        addr: String,
        source: std::io::Error,
    },
    /// The TCP connection did not open within the connect timeout.
    #[error("{host}: no answer from {addr} within {timeout:?} (connect timeout)")]
    ConnectTimeout {
        host: String,
        addr: String,
        timeout: Duration,
    },
    /// The server refused our key.
    #[error("{host}: authentication failed for user {user} with key {}: {reason}", key.display())]
    AuthFailed {
        host: String,
        user: String,
        key: PathBuf,
        reason: String,
    },
    /// The host's key is not in known_hosts (strict checking).
    #[error("{host}: unknown host key {fingerprint} (not in {}); if that fingerprint is the host's, accept it with HostKeyPolicy::AcceptNew or append it with `ssh-keyscan -p {port} {addr} >> {}`", known_hosts.display(), known_hosts.display())]
    HostKeyUnknown {
        host: String,
        addr: String,
        port: u16,
        fingerprint: String,
        known_hosts: PathBuf,
    },
    /// The host's key differs from the one known_hosts records.
    #[error("{host}: host key {fingerprint} does not match the key recorded in {} (host reinstalled, or someone in the middle); if the change is expected remove the old entry with `ssh-keygen -R {addr} -f {}`", known_hosts.display(), known_hosts.display())]
    HostKeyMismatch {
        host: String,
        addr: String,
        fingerprint: String,
        known_hosts: PathBuf,
    },
    /// The known_hosts file could not be read or written.
    #[error("{host}: known_hosts {}: {reason}", path.display())]
    KnownHosts {
        host: String,
        path: PathBuf,
        reason: String,
    },
    /// An SSH protocol step failed.
    #[error("{host}: ssh {during}")]
    Ssh {
        host: String,
        during: String,
        source: ssh2::Error,
    },
    /// A local file or local process could not be used.
    #[error("{host}: {during} {}", path.display())]
    Io {
        host: String,
        during: String,
        path: PathBuf,
        source: std::io::Error,
    },
    /// The blocking task running the operation panicked or was cancelled.
    #[error("{host}: remote task failed: {reason}")]
    Task { host: String, reason: String },
    /// temblor may not reach this node (a hosted service).
    #[error(
        "{host}: temblor has no SSH access to this node (its target is attached with ssh = false)"
    )]
    NoAccess { host: String },
}

/// A node we can run commands on and move files to and from.
///
/// Implementations are blocking and thread-safe; wrap one in
/// [`AsyncRemote`] to call it from tokio tasks.
pub trait Remote: Send + Sync {
    /// The node's name, as errors show it.
    fn host(&self) -> &str;

    /// Runs `cmd`; a non-zero exit is [`RemoteError::NonZero`] unless the
    /// command is [`Command::unchecked`].
    fn exec(&self, cmd: &Command) -> Result<Output, RemoteError>;

    /// Copies the local file `local` to `remote_path`, keeping its mode.
    fn upload(&self, local: &Path, remote_path: &str) -> Result<(), RemoteError>;

    /// Copies `remote_path` to the local file `local`.
    fn download(&self, remote_path: &str, local: &Path) -> Result<(), RemoteError>;
}

/// A node temblor may not reach over SSH (a hosted service attached with
/// `ssh = false`): every operation is refused, saying so.
pub struct NoSsh {
    host: String,
}

impl NoSsh {
    /// The node named `host`.
    pub fn new(host: &str) -> Self {
        NoSsh {
            host: host.to_string(),
        }
    }

    fn refuse<T>(&self) -> Result<T, RemoteError> {
        Err(RemoteError::NoAccess {
            host: self.host.clone(),
        })
    }
}

impl Remote for NoSsh {
    fn host(&self) -> &str {
        &self.host
    }

    fn exec(&self, _cmd: &Command) -> Result<Output, RemoteError> {
        self.refuse()
    }

    fn upload(&self, _local: &Path, _remote_path: &str) -> Result<(), RemoteError> {
        self.refuse()
    }

    fn download(&self, _remote_path: &str, _local: &Path) -> Result<(), RemoteError> {
        self.refuse()
    }
}

/// The last `max` characters of `s`, cut at a char boundary.
pub(crate) fn tail(s: &str, max: usize) -> String {
    let s = s.trim_end();
    match s.char_indices().rev().nth(max.saturating_sub(1)) {
        Some((i, _)) if i > 0 => format!("...{}", &s[i..]),
        _ => s.to_string(),
    }
}

/// Turns an [`Output`] into the caller's result by `cmd`'s check setting.
pub(crate) fn checked(host: &str, cmd: &Command, out: Output) -> Result<Output, RemoteError> {
    if out.status != 0 && cmd.is_checked() {
        return Err(RemoteError::NonZero {
            host: host.to_string(),
            cmd: cmd.to_string(),
            status: out.status,
            stderr_tail: tail(&out.stderr, 400),
        });
    }
    Ok(out)
}

/// A [`Remote`] for async code: each call runs on tokio's blocking pool.
#[derive(Clone)]
pub struct AsyncRemote {
    inner: Arc<dyn Remote>,
}

impl AsyncRemote {
    /// Wraps a blocking remote, each call logged ([`Traced`]).
    pub fn new(remote: impl Remote + 'static) -> Self {
        AsyncRemote {
            inner: Arc::new(Traced::new(remote)),
        }
    }

    /// The wrapped remote, for code already off the runtime.
    pub fn blocking(&self) -> Arc<dyn Remote> {
        Arc::clone(&self.inner)
    }

    /// The node's name.
    pub fn host(&self) -> &str {
        self.inner.host()
    }

    /// [`Remote::exec`] on the blocking pool.
    pub async fn exec(&self, cmd: Command) -> Result<Output, RemoteError> {
        self.run(move |r| r.exec(&cmd)).await
    }

    /// [`Remote::upload`] on the blocking pool.
    pub async fn upload(&self, local: PathBuf, remote_path: String) -> Result<(), RemoteError> {
        self.run(move |r| r.upload(&local, &remote_path)).await
    }

    /// [`Remote::download`] on the blocking pool.
    pub async fn download(&self, remote_path: String, local: PathBuf) -> Result<(), RemoteError> {
        self.run(move |r| r.download(&remote_path, &local)).await
    }

    async fn run<T, F>(&self, f: F) -> Result<T, RemoteError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Remote) -> Result<T, RemoteError> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        // The caller's span (the run's) follows the call onto the pool, so
        // its events land in that run's log.
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || span.in_scope(|| f(inner.as_ref())))
            .await
            .map_err(|e| RemoteError::Task {
                host: self.host().to_string(),
                reason: e.to_string(),
            })?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_the_end() {
        assert_eq!(tail("short\n", 10), "short");
        assert_eq!(tail("0123456789", 4), "...6789");
    }

    #[tokio::test]
    async fn async_remote_runs_on_the_blocking_pool() {
        let remote = AsyncRemote::new(Local::new());
        let out = remote
            .exec(Command::new("echo").arg("hi there"))
            .await
            .unwrap();
        assert_eq!(out.stdout, "hi there\n");
        let err = remote
            .exec(Command::shell("echo oops >&2; exit 3"))
            .await
            .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("status 3") && msg.contains("oops"), "{msg}");
    }
}
