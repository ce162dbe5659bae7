//! `Ssh`: a [`Remote`] over one ssh2 session per node, reused across calls.
//!
//! Follows Jepsen's `control/sshj.clj` and `control/retry.clj`: key auth,
//! known_hosts checking, a session opened lazily and kept behind a mutex,
//! and one reconnect when a reused session turns out to be dropped (only
//! when the command never reached the server, so nothing runs twice).

use super::channel_io::{self, DrainError};
use super::known_hosts::{self, Target};
use super::{checked, Command, Output, Remote, RemoteError};
use ssh2::{ErrorCode, OpenFlags, OpenType, Session};
use std::io;
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::io::{AsRawFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// libssh2's LIBSSH2_ERROR_TIMEOUT.
const LIBSSH2_ERROR_TIMEOUT: i32 = -9;

/// What to do with a host key that known_hosts does not list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HostKeyPolicy {
    /// Refuse it (OpenSSH's `StrictHostKeyChecking yes`).
    #[default]
    Strict,
    /// Accept it and append it to known_hosts (`accept-new`). A key that
    /// differs from a recorded one is still refused.
    AcceptNew,
}

/// How to reach one node.
#[derive(Debug, Clone)]
pub struct SshConfig {
    /// The node's name, for errors and known_hosts lookups.
    pub host: String,
    /// Address (or DNS name) to dial.
    pub addr: String,
    /// TCP port.
    pub port: u16,
    /// Remote user; commands marked sudo use `sudo -n` unless this is root.
    pub user: String,
    /// Private key file.
    pub key: PathBuf,
    /// OpenSSH known_hosts file.
    pub known_hosts: PathBuf,
    /// Unknown host keys: refuse or accept.
    pub host_keys: HostKeyPolicy,
    /// Limit on the TCP connect and SSH handshake.
    pub connect_timeout: Duration,
    /// Default limit on one command or file transfer.
    pub command_timeout: Duration,
}

impl SshConfig {
    /// Root on `addr`:22 as `host`, with `key`, `~/.ssh/known_hosts`, strict
    /// host key checking, a 5 s connect and a 60 s command timeout.
    pub fn new(host: &str, addr: &str, key: &Path) -> Self {
        let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("/root"), PathBuf::from);
        SshConfig {
            host: host.to_string(),
            addr: addr.to_string(),
            port: 22,
            user: "root".to_string(),
            key: key.to_path_buf(),
            known_hosts: home.join(".ssh/known_hosts"),
            host_keys: HostKeyPolicy::Strict,
            connect_timeout: Duration::from_secs(5),
            command_timeout: Duration::from_secs(60),
        }
    }
}

/// A node reached over SSH. The session opens on first use and runs one
/// call at a time (the mutex); work that must overlap on one node, such as
/// a long-running command and a probe, needs a second `Ssh`.
pub struct Ssh {
    cfg: SshConfig,
    conn: Mutex<Option<Conn>>,
}

/// An authenticated session and its socket (for `poll`).
struct Conn {
    session: Session,
    fd: RawFd,
}

/// How one attempt on a session failed.
enum Fail {
    /// The session could not open a channel: it is dead, retrying is safe.
    Open(ssh2::Error),
    /// A step after the command was sent; the session is dropped.
    Run(&'static str, ssh2::Error),
    /// Reading output failed; the session is dropped.
    Read(io::Error),
    /// The command outlived its timeout; the session is dropped.
    TimedOut,
    /// A remote file could not be opened; the session stays.
    RemoteFile(String, ssh2::Error),
    /// A local file could not be used; the session stays.
    Local(&'static str, PathBuf, io::Error),
}

impl Ssh {
    /// A remote for `cfg`; nothing is dialled until the first call.
    pub fn new(cfg: SshConfig) -> Self {
        Ssh {
            cfg,
            conn: Mutex::new(None),
        }
    }

    /// A remote for `cfg`, connected now so that errors show up here.
    pub fn connect(cfg: SshConfig) -> Result<Self, RemoteError> {
        let ssh = Ssh::new(cfg);
        let conn = ssh.open()?;
        *ssh.conn.lock().unwrap_or_else(PoisonError::into_inner) = Some(conn);
        Ok(ssh)
    }

    /// How this remote is reached.
    pub fn config(&self) -> &SshConfig {
        &self.cfg
    }

    /// Dials, checks the host key and authenticates.
    fn open(&self) -> Result<Conn, RemoteError> {
        let tcp = self.dial()?;
        let fd = tcp.as_raw_fd();
        let ssh_err = |during: &str, source| RemoteError::Ssh {
            host: self.cfg.host.clone(),
            during: during.to_string(),
            source,
        };
        let mut session = Session::new().map_err(|e| ssh_err("session", e))?;
        session.set_tcp_stream(tcp);
        session.set_timeout(millis(self.cfg.connect_timeout));
        session.handshake().map_err(|e| ssh_err("handshake", e))?;
        let target = Target {
            host: &self.cfg.host,
            addr: &self.cfg.addr,
            port: self.cfg.port,
        };
        known_hosts::verify(&session, &target, &self.cfg.known_hosts, self.cfg.host_keys)?;
        self.authenticate(&session)?;
        Ok(Conn { session, fd })
    }

    fn dial(&self) -> Result<TcpStream, RemoteError> {
        let unreachable = |source| RemoteError::Unreachable {
            host: self.cfg.host.clone(),
            addr: format!("{}:{}", self.cfg.addr, self.cfg.port),
            source,
        };
        let sock = (self.cfg.addr.as_str(), self.cfg.port)
            .to_socket_addrs()
            .map_err(unreachable)?
            .next()
            .ok_or_else(|| unreachable(io::Error::new(io::ErrorKind::NotFound, "no address")))?;
        let tcp = TcpStream::connect_timeout(&sock, self.cfg.connect_timeout).map_err(|e| {
            if e.kind() == io::ErrorKind::TimedOut {
                RemoteError::ConnectTimeout {
                    host: self.cfg.host.clone(),
                    addr: sock.to_string(),
                    timeout: self.cfg.connect_timeout,
                }
            } else {
                unreachable(e)
            }
        })?;
        // Without it Nagle holds each small SSH packet: ~45 ms per exec.
        tcp.set_nodelay(true).map_err(unreachable)?;
        Ok(tcp)
    }

    fn authenticate(&self, session: &Session) -> Result<(), RemoteError> {
        let failed = |reason: String| RemoteError::AuthFailed {
            host: self.cfg.host.clone(),
            user: self.cfg.user.clone(),
            key: self.cfg.key.clone(),
            reason,
        };
        if !self.cfg.key.is_file() {
            return Err(failed("the key file does not exist".to_string()));
        }
        session
            .userauth_pubkey_file(&self.cfg.user, None, &self.cfg.key, None)
            .map_err(|e| failed(e.message().to_string()))?;
        if !session.authenticated() {
            return Err(failed("the server did not accept the key".to_string()));
        }
        Ok(())
    }

    /// Runs `f` on the node's session, opening it if needed, and retrying
    /// once on a fresh session if a reused one could not open a channel.
    fn with_session<T>(
        &self,
        what: &str,
        timeout: Duration,
        f: impl Fn(&Conn) -> Result<T, Fail>,
    ) -> Result<T, RemoteError> {
        let mut slot = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        let (conn, reused) = match slot.take() {
            Some(c) => (c, true),
            None => (self.open()?, false),
        };
        conn.session.set_timeout(millis(timeout));
        let (conn, result) = match f(&conn) {
            Err(Fail::Open(_)) if reused => {
                let fresh = self.open()?;
                fresh.session.set_timeout(millis(timeout));
                let result = f(&fresh);
                (fresh, result)
            }
            result => (conn, result),
        };
        match result {
            Ok(v) => {
                *slot = Some(conn);
                Ok(v)
            }
            Err(fail) => {
                let healthy = match &fail {
                    Fail::RemoteFile(_, e) => !is_timeout(e),
                    Fail::Local(..) => true,
                    _ => false,
                };
                if healthy {
                    *slot = Some(conn);
                }
                Err(self.error(fail, what, timeout))
            }
        }
    }

    fn error(&self, fail: Fail, what: &str, timeout: Duration) -> RemoteError {
        let host = self.cfg.host.clone();
        let timed_out = RemoteError::Timeout {
            host: host.clone(),
            cmd: what.to_string(),
            timeout,
        };
        match fail {
            Fail::Open(e) => RemoteError::Ssh {
                host,
                during: "open channel".into(),
                source: e,
            },
            Fail::Run(_, e) | Fail::RemoteFile(_, e) if is_timeout(&e) => timed_out,
            Fail::Run(during, e) => RemoteError::Ssh {
                host,
                during: format!("{during} `{what}`"),
                source: e,
            },
            Fail::RemoteFile(path, e) => RemoteError::Ssh {
                host,
                during: format!("sftp {path}"),
                source: e,
            },
            Fail::TimedOut => timed_out,
            Fail::Read(e) if e.kind() == io::ErrorKind::TimedOut => timed_out,
            Fail::Read(e) => RemoteError::Io {
                host,
                during: format!("read output of `{what}` from"),
                path: PathBuf::from("channel"),
                source: e,
            },
            Fail::Local(during, path, e) => RemoteError::Io {
                host,
                during: during.into(),
                path,
                source: e,
            },
        }
    }
}

impl Remote for Ssh {
    fn host(&self) -> &str {
        &self.cfg.host
    }

    fn exec(&self, cmd: &Command) -> Result<Output, RemoteError> {
        let line = cmd.render(self.cfg.user == "root");
        let timeout = cmd.timeout_override().unwrap_or(self.cfg.command_timeout);
        let out = self.with_session(&cmd.to_string(), timeout, |c| run(c, &line, timeout))?;
        checked(&self.cfg.host, cmd, out)
    }

    fn upload(&self, local: &Path, remote_path: &str) -> Result<(), RemoteError> {
        let what = format!("upload {} to {remote_path}", local.display());
        self.with_session(&what, self.cfg.command_timeout, |c| {
            let local_err = |during, e| Fail::Local(during, local.to_path_buf(), e);
            let mut src = std::fs::File::open(local).map_err(|e| local_err("open", e))?;
            let mode = src
                .metadata()
                .map_err(|e| local_err("stat", e))?
                .permissions()
                .mode();
            let sftp = c.session.sftp().map_err(Fail::Open)?;
            let flags = OpenFlags::WRITE | OpenFlags::CREATE | OpenFlags::TRUNCATE;
            let mut dst = sftp
                .open_mode(
                    Path::new(remote_path),
                    flags,
                    (mode & 0o777) as i32,
                    OpenType::File,
                )
                .map_err(|e| Fail::RemoteFile(remote_path.to_string(), e))?;
            io::copy(&mut src, &mut dst).map_err(Fail::Read)?;
            Ok(())
        })
    }

    fn download(&self, remote_path: &str, local: &Path) -> Result<(), RemoteError> {
        let what = format!("download {remote_path} to {}", local.display());
        self.with_session(&what, self.cfg.command_timeout, |c| {
            let sftp = c.session.sftp().map_err(Fail::Open)?;
            let mut src = sftp
                .open(Path::new(remote_path))
                .map_err(|e| Fail::RemoteFile(remote_path.to_string(), e))?;
            let mut dst = std::fs::File::create(local)
                .map_err(|e| Fail::Local("create", local.to_path_buf(), e))?;
            io::copy(&mut src, &mut dst).map_err(Fail::Read)?;
            Ok(())
        })
    }
}

/// Runs one command on a channel of `conn`, reading its output until it
/// ends or `timeout` passes.
fn run(conn: &Conn, line: &str, timeout: Duration) -> Result<Output, Fail> {
    let deadline = Instant::now() + timeout;
    let mut channel = conn.session.channel_session().map_err(Fail::Open)?;
    channel.exec(line).map_err(|e| Fail::Run("exec", e))?;
    let (stdout, stderr) = channel_io::drain(&conn.session, conn.fd, &mut channel, deadline)
        .map_err(|e| match e {
            DrainError::TimedOut => Fail::TimedOut,
            DrainError::Io(e) => Fail::Read(e),
        })?;
    channel.wait_close().map_err(|e| Fail::Run("close", e))?;
    let mut status = channel
        .exit_status()
        .map_err(|e| Fail::Run("exit status", e))?;
    let mut stderr = String::from_utf8_lossy(&stderr).into_owned();
    if let Ok(signal) = channel.exit_signal() {
        if let Some(name) = signal.exit_signal {
            status = -1;
            stderr.push_str(&format!("\nkilled by SIG{name}"));
        }
    }
    let stdout = String::from_utf8_lossy(&stdout).into_owned();
    Ok(Output {
        status,
        stdout,
        stderr,
    })
}

fn is_timeout(e: &ssh2::Error) -> bool {
    e.code() == ErrorCode::Session(LIBSSH2_ERROR_TIMEOUT)
}

fn millis(d: Duration) -> u32 {
    u32::try_from(d.as_millis()).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_to_a_closed_port_names_the_host() {
        let mut cfg = SshConfig::new("n9", "127.0.0.1", Path::new("/nonexistent"));
        cfg.port = 1; // nothing listens on 127.0.0.1:1
        let err = Ssh::new(cfg).exec(&Command::new("true")).unwrap_err();
        assert!(matches!(err, RemoteError::Unreachable { .. }), "{err}");
        assert!(
            err.to_string()
                .starts_with("n9: cannot connect to 127.0.0.1:1"),
            "{err}"
        );
    }
}
