//! Chores on one node, built on [`Remote`]: paths scoped by node, daemons
//! managed through their pidfiles (never by process name), TCP port waits,
//! Debian packages and binaries.
//!
//! Follows Jepsen's `control/util.clj` (`start-daemon!`, `stop-daemon!`,
//! `await-tcp-port`) and `os/debian.clj` (`install`): every daemon is started
//! detached with `setsid nohup` and its PID written to a pidfile, so stop,
//! signal and is-running touch exactly that process. On the local cluster
//! nodes share one filesystem, so every path a target writes carries the
//! node's name.
//!
//! A target's `Db::setup` on a local-cluster node looks like this:
//!
//! ```no_run
//! use std::time::Duration;
//! use targets::cluster::Cluster;
//! use targets::node::{self, Daemon, NodePaths};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let cluster = Cluster::open("/var/lib/temblor-cluster".as_ref())?;
//! let n1 = cluster.ssh("n1")?;
//! let paths = NodePaths::new("n1");
//! node::upload_binary(&n1, "target/release/raftkv".as_ref(), &paths.opt("raftkv"))?;
//! let daemon = Daemon::new(&paths.opt("raftkv"), &paths.var("raftkv.pid"), &paths.var("raftkv.log"))
//!     .args(["--id", "n1", "--data", &paths.var("data")]);
//! node::start(&n1, &daemon)?;
//! node::await_port(&n1, "n1", 8080, Duration::from_secs(10))?;
//! node::stop(&n1, daemon.pidfile(), Duration::from_secs(5))?;
//! # Ok(())
//! # }
//! ```

use crate::remote::{escape, Command, Remote, RemoteError};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

/// Why a node chore failed.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The remote operation underneath failed.
    #[error(transparent)]
    Remote(#[from] RemoteError),
    /// The port never accepted a connection.
    #[error("{host}: port {target}:{port} did not accept connections within {waited:?}")]
    PortClosed {
        host: String,
        target: String,
        port: u16,
        waited: Duration,
    },
    /// A pidfile held something other than a PID.
    #[error("{host}: pidfile {pidfile} holds {content:?}, not a PID")]
    BadPidfile {
        host: String,
        pidfile: String,
        content: String,
    },
    /// A signal name that is not a plain word.
    #[error("bad signal name {0:?}: use a name like TERM or a number")]
    BadSignal(String),
}

/// Where a target keeps its files on `node`: `/opt/temblor/<node>/...` for
/// binaries, `/var/lib/temblor/<node>/...` for data, logs and pidfiles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodePaths {
    node: String,
}

impl NodePaths {
    /// Paths for the node named `node`.
    pub fn new(node: &str) -> Self {
        NodePaths {
            node: node.to_string(),
        }
    }

    /// `/opt/temblor/<node>`.
    pub fn opt_dir(&self) -> String {
        format!("/opt/temblor/{}", self.node)
    }

    /// `/var/lib/temblor/<node>`.
    pub fn var_dir(&self) -> String {
        format!("/var/lib/temblor/{}", self.node)
    }

    /// `/opt/temblor/<node>/<rel>`.
    pub fn opt(&self, rel: &str) -> String {
        format!("{}/{rel}", self.opt_dir())
    }

    /// `/var/lib/temblor/<node>/<rel>`.
    pub fn var(&self, rel: &str) -> String {
        format!("{}/{rel}", self.var_dir())
    }
}

/// A long-running process to start detached on a node.
#[derive(Debug, Clone)]
pub struct Daemon {
    program: String,
    args: Vec<String>,
    env: Vec<(String, String)>,
    dir: Option<String>,
    user: Option<String>,
    pidfile: String,
    logfile: String,
}

impl Daemon {
    /// Runs `program`, writing its PID to `pidfile` and its output to `logfile`.
    pub fn new(program: &str, pidfile: &str, logfile: &str) -> Self {
        Daemon {
            program: program.to_string(),
            args: Vec::new(),
            env: Vec::new(),
            dir: None,
            user: None,
            pidfile: pidfile.to_string(),
            logfile: logfile.to_string(),
        }
    }

    /// Appends arguments.
    pub fn args<I: IntoIterator<Item = S>, S: AsRef<str>>(mut self, args: I) -> Self {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_string()));
        self
    }

    /// Sets an environment variable for the daemon.
    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.to_string(), value.to_string()));
        self
    }

    /// Starts the daemon in `dir`.
    pub fn cd(mut self, dir: &str) -> Self {
        self.dir = Some(dir.to_string());
        self
    }

    /// Runs the daemon as `user` (and that user's groups) instead of root,
    /// through `setpriv`, which executes it in place: the PID in the
    /// pidfile stays the daemon's own, so signals reach it.
    pub fn user(mut self, user: &str) -> Self {
        self.user = Some(user.to_string());
        self
    }

    /// The pidfile.
    pub fn pidfile(&self) -> &str {
        &self.pidfile
    }

    /// The file its standard output and error go to.
    pub fn logfile(&self) -> &str {
        &self.logfile
    }

    /// The shell command that launches it. Prep steps end with `;`: an `&&`
    /// before the `&` would keep the SSH channel open as long as the daemon.
    /// Its environment is given by `env(1)` after the switch to its user,
    /// so it reaches the daemon alone: with `LD_PRELOAD` exported to the
    /// whole line, libfaketime also ran in `setsid`, `nohup` and `setpriv`
    /// as root, and its semaphore (named after the PID, which `exec` keeps)
    /// was root's, so a daemon running as another user could not open it
    /// and died at start.
    pub fn command(&self) -> Command {
        let env = self.env.iter().map(|(k, v)| escape(&format!("{k}={v}")));
        let env: Vec<String> = match self.env.is_empty() {
            true => Vec::new(),
            false => std::iter::once("env".to_string()).chain(env).collect(),
        };
        let argv: Vec<String> = env
            .into_iter()
            .chain(
                std::iter::once(&self.program)
                    .chain(&self.args)
                    .map(|a| escape(a)),
            )
            .collect();
        let (pid, log) = (escape(&self.pidfile), escape(&self.logfile));
        let setpriv = self.user.as_deref().map_or(String::new(), |u| {
            let u = escape(u);
            format!("setpriv --reuid={u} --regid=\"$(id -g {u})\" --init-groups -- ")
        });
        let script = format!(
            "mkdir -p \"$(dirname {pid})\" \"$(dirname {log})\"; \
             setsid nohup {setpriv}{} >>{log} 2>&1 </dev/null & echo $! > {pid}; cat {pid}",
            argv.join(" ")
        );
        let cmd = Command::shell(&script).sudo();
        match &self.dir {
            Some(dir) => cmd.cd(dir),
            None => cmd,
        }
    }
}

/// What [`start`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Started {
    /// Launched now with this PID (in the node's PID namespace).
    New(u32),
    /// Its pidfile already named a live process; nothing was launched.
    AlreadyRunning(u32),
}

/// Starts `daemon` unless its pidfile names a live process.
pub fn start(remote: &dyn Remote, daemon: &Daemon) -> Result<Started, NodeError> {
    if let Some(pid) = running_pid(remote, &daemon.pidfile)? {
        return Ok(Started::AlreadyRunning(pid));
    }
    let out = remote.exec(&daemon.command())?;
    parse_pid(remote, &daemon.pidfile, &out.stdout).map(Started::New)
}

/// The PID in `pidfile` if that process is alive (zombies count as dead).
pub fn running_pid(remote: &dyn Remote, pidfile: &str) -> Result<Option<u32>, NodeError> {
    let script = format!(
        "p=$(cat {} 2>/dev/null) || exit 1; kill -0 \"$p\" 2>/dev/null || exit 1; \
         grep -q '^State:.Z' /proc/\"$p\"/status 2>/dev/null && exit 1; echo \"$p\"",
        escape(pidfile)
    );
    let out = remote.exec(&Command::shell(&script).sudo().unchecked())?;
    match out.status {
        0 => parse_pid(remote, pidfile, &out.stdout).map(Some),
        _ => Ok(None),
    }
}

/// Whether the process in `pidfile` is alive.
pub fn is_running(remote: &dyn Remote, pidfile: &str) -> Result<bool, NodeError> {
    Ok(running_pid(remote, pidfile)?.is_some())
}

/// Sends `signal` to the daemon of `pidfile` if it is running, and says
/// whether it was. Healing resumes and kills every node; one whose process
/// is already gone has nothing to signal, and that is not an error.
pub fn signal_if_running(
    remote: &dyn Remote,
    pidfile: &str,
    signal: &str,
) -> Result<bool, NodeError> {
    if !is_running(remote, pidfile)? {
        return Ok(false);
    }
    self::signal(remote, pidfile, signal)?;
    Ok(true)
}

/// How [`stop`] ended the daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// No pidfile, or its process was already gone.
    NotRunning,
    /// It exited after SIGTERM.
    Terminated,
    /// It outlived `grace` and got SIGKILL.
    Killed,
}

/// Stops the process in `pidfile`: TERM, up to `grace` to exit, then KILL
/// for it and every process under it (see [`signal`]); removes the
/// pidfile.
pub fn stop(remote: &dyn Remote, pidfile: &str, grace: Duration) -> Result<Stopped, NodeError> {
    let tenths = (grace.as_millis() / 100).max(1);
    let pf = escape(pidfile);
    let script = format!(
        "p=$(cat {pf} 2>/dev/null) || {{ echo none; exit 0; }}; \
         alive() {{ kill -0 \"$p\" 2>/dev/null && ! grep -q '^State:.Z' /proc/\"$p\"/status 2>/dev/null; }}; \
         alive || {{ rm -f {pf}; echo none; exit 0; }}; kill -TERM \"$p\"; i=0; \
         while alive && [ $i -lt {tenths} ]; do sleep 0.1; i=$((i+1)); done; \
         if alive; then sig=STOP; {BELOW} kill -s STOP \"$p\"; tree \"$p\"; \
         kill -s KILL \"$p\" $below 2>/dev/null; echo killed; else echo terminated; fi; rm -f {pf}"
    );
    let timeout = grace + Duration::from_secs(10);
    let out = remote.exec(&Command::shell(&script).sudo().timeout(timeout))?;
    Ok(match out.stdout.trim() {
        "terminated" => Stopped::Terminated,
        "killed" => Stopped::Killed,
        _ => Stopped::NotRunning,
    })
}

/// A shell function that sends `$sig` to every descendant of the process
/// `$1`, parents before children, found by parent PID (`pgrep -P`), and
/// lists them in `$below`. With `sig=STOP` no process can fork a child
/// unseen: each is stopped before its children are looked for.
const BELOW: &str = "below=''; \
    tree() { for c in $(pgrep -P \"$1\"); do kill -s \"$sig\" \"$c\" 2>/dev/null; below=\"$below $c\"; tree \"$c\"; done; };";

/// Sends `signal` (a name like `STOP` or a number) to the process in
/// `pidfile` and to every process under it, as a crash or a stall of the
/// machine would: a store of many processes (PostgreSQL's postmaster and
/// its backends, each in a session of its own) is not stopped by stopping
/// its first one, and a restart fails while the old backends still hold
/// its shared memory. A kill freezes the whole tree first, so nothing
/// forks or restarts a child meanwhile.
pub fn signal(remote: &dyn Remote, pidfile: &str, signal: &str) -> Result<(), NodeError> {
    if signal.is_empty() || !signal.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(NodeError::BadSignal(signal.to_string()));
    }
    let kill = matches!(signal, "KILL" | "SIGKILL" | "9");
    let first = if kill { "STOP" } else { signal };
    let mut script = format!(
        "p=$(cat {}); sig={first}; {BELOW} kill -s \"$sig\" \"$p\"; tree \"$p\"",
        escape(pidfile)
    );
    if kill {
        // Those that exited meanwhile are not an error.
        script.push_str("; kill -s KILL \"$p\" $below 2>/dev/null; true");
    }
    remote.exec(&Command::shell(&script).sudo())?;
    Ok(())
}

/// What one connection attempt to a port found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    /// The connection opened.
    Open,
    /// Refused or unreachable: an answer came back.
    Refused,
    /// No answer within the limit (e.g. packets dropped).
    TimedOut,
}

/// Tries once, from the node, to open a TCP connection to `target:port`
/// (bash's `/dev/tcp`, so it needs bash and coreutils `timeout`).
pub fn probe_port(
    remote: &dyn Remote,
    target: &str,
    port: u16,
    limit: Duration,
) -> Result<Probe, NodeError> {
    let secs = format!("{:.1}", limit.as_secs_f64().max(0.1));
    let inner = format!("exec 3<>/dev/tcp/{target}/{port}");
    let script = format!("timeout {secs} bash -c {} 2>/dev/null", escape(&inner));
    let out = remote.exec(
        &Command::shell(&script)
            .unchecked()
            .timeout(limit + Duration::from_secs(10)),
    )?;
    Ok(match out.status {
        0 => Probe::Open,
        124 => Probe::TimedOut,
        _ => Probe::Refused,
    })
}

/// Waits, probing from the node, until `target:port` accepts connections.
pub fn await_port(
    remote: &dyn Remote,
    target: &str,
    port: u16,
    limit: Duration,
) -> Result<(), NodeError> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if probe_port(remote, target, port, Duration::from_secs(1))? == Probe::Open {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(NodeError::PortClosed {
        host: remote.host().to_string(),
        target: target.to_string(),
        port,
        waited: started.elapsed(),
    })
}

/// Waits, from this machine, until `addr` accepts TCP connections.
pub fn await_port_from_here(addr: SocketAddr, limit: Duration) -> Result<(), NodeError> {
    let started = Instant::now();
    loop {
        let left = limit.saturating_sub(started.elapsed());
        if TcpStream::connect_timeout(
            &addr,
            left.clamp(Duration::from_millis(10), Duration::from_secs(1)),
        )
        .is_ok()
        {
            return Ok(());
        }
        if started.elapsed() >= limit {
            return Err(NodeError::PortClosed {
                host: "controller".to_string(),
                target: addr.ip().to_string(),
                port: addr.port(),
                waited: started.elapsed(),
            });
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Installs the Debian `packages` that `dpkg -s` says are missing; returns
/// those it installed. Runs `apt-get update` and retries once on failure.
pub fn install_packages(remote: &dyn Remote, packages: &[&str]) -> Result<Vec<String>, NodeError> {
    let check = packages
        .iter()
        .map(|p| format!("dpkg -s {0} >/dev/null 2>&1 || echo {0}", escape(p)))
        .collect::<Vec<_>>()
        .join("; ");
    let missing: Vec<String> = remote
        .exec(&Command::shell(&check))?
        .stdout
        .split_whitespace()
        .map(str::to_string)
        .collect();
    if missing.is_empty() {
        return Ok(missing);
    }
    // The local cluster's nodes share one dpkg database: they take turns
    // on its lock instead of failing at once.
    let install = Command::new("apt-get")
        .args(["-o", "DPkg::Lock::Timeout=600"])
        .args(["install", "-y", "--no-install-recommends"])
        .args(&missing)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .sudo()
        .timeout(Duration::from_secs(900));
    if remote.exec(&install).is_err() {
        let update = Command::new("apt-get")
            .args(["-o", "DPkg::Lock::Timeout=600", "update"])
            .sudo()
            .timeout(Duration::from_secs(300));
        remote.exec(&update)?;
        remote.exec(&install)?;
    }
    Ok(missing)
}

/// Uploads the executable `local` to `remote_path` (creating its directory)
/// and makes it executable.
pub fn upload_binary(
    remote: &dyn Remote,
    local: &Path,
    remote_path: &str,
) -> Result<(), NodeError> {
    let dir = Path::new(remote_path)
        .parent()
        .map_or("/".into(), |p| p.display().to_string());
    remote.exec(&Command::new("mkdir").arg("-p").arg(&dir).sudo())?;
    remote.upload(local, remote_path)?;
    remote.exec(&Command::new("chmod").arg("755").arg(remote_path).sudo())?;
    Ok(())
}

fn parse_pid(remote: &dyn Remote, pidfile: &str, text: &str) -> Result<u32, NodeError> {
    text.trim().parse().map_err(|_| NodeError::BadPidfile {
        host: remote.host().to_string(),
        pidfile: pidfile.to_string(),
        content: text.trim().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote::Local;

    fn scratch(name: &str) -> String {
        let dir = std::env::temp_dir().join(format!("temblor-node-{name}-{}", std::process::id()));
        dir.display().to_string()
    }

    #[test]
    fn paths_are_scoped_by_node() {
        let p = NodePaths::new("n3");
        assert_eq!(p.opt("bin/raftkv"), "/opt/temblor/n3/bin/raftkv");
        assert_eq!(p.var("raftkv.log"), "/var/lib/temblor/n3/raftkv.log");
    }

    #[test]
    fn daemon_starts_stops_and_is_tracked_by_pidfile() {
        let dir = scratch("daemon");
        let local = Local::new();
        let pidfile = format!("{dir}/sleep.pid");
        let d = Daemon::new("sleep", &pidfile, &format!("{dir}/sleep.log"))
            .args(["30"])
            .cd("/");
        let Started::New(pid) = start(&local, &d).unwrap() else {
            panic!("not started")
        };
        assert_eq!(running_pid(&local, &pidfile).unwrap(), Some(pid));
        assert_eq!(start(&local, &d).unwrap(), Started::AlreadyRunning(pid));
        assert_eq!(
            stop(&local, &pidfile, Duration::from_secs(2)).unwrap(),
            Stopped::Terminated
        );
        assert!(!is_running(&local, &pidfile).unwrap());
        assert_eq!(
            stop(&local, &pidfile, Duration::from_secs(1)).unwrap(),
            Stopped::NotRunning
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_daemons_environment_reaches_it_alone_after_the_user_switch() {
        let d = Daemon::new("java", "/r/zk.pid", "/l/zk.log")
            .args(["-cp", "a b"])
            .env("LD_PRELOAD", "/lib/f.so")
            .env("X", "it's")
            .user("zookeeper");
        let line = d.command().to_string();
        assert!(!line.contains("export"), "{line}");
        let tail = line.split("--init-groups -- ").nth(1).unwrap();
        assert!(
            tail.starts_with(r#"env LD_PRELOAD=/lib/f.so 'X=it'\''s' java -cp 'a b' >>"#),
            "{line}"
        );
        let dir = scratch("env");
        let local = Local::new();
        let pidfile = format!("{dir}/sh.pid");
        let out = format!("{dir}/sh.log");
        let d = Daemon::new("sh", &pidfile, &out)
            .args(["-c", "echo \"$GREETING\"; exec sleep 30"])
            .env("GREETING", "hello there");
        start(&local, &d).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while std::fs::read_to_string(&out).unwrap_or_default().is_empty()
            && std::time::Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "hello there\n");
        stop(&local, &pidfile, Duration::from_secs(2)).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn stop_kills_a_daemon_that_ignores_term() {
        let dir = scratch("stubborn");
        let local = Local::new();
        let pidfile = format!("{dir}/trap.pid");
        let d = Daemon::new("sh", &pidfile, &format!("{dir}/trap.log"))
            .args(["-c", "trap '' TERM; exec sleep 30"]);
        start(&local, &d).unwrap();
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(
            stop(&local, &pidfile, Duration::from_millis(300)).unwrap(),
            Stopped::Killed
        );
        assert!(!is_running(&local, &pidfile).unwrap());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// The state letter of `pid` (`S`, `T`, `Z`), `None` once it is gone.
    fn proc_state(pid: u32) -> Option<char> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("State:"))
            .and_then(|s| s.trim().chars().next())
    }

    /// Polls (at most 10 s) until `f` holds: signals arrive asynchronously.
    fn eventually(mut f: impl FnMut() -> bool) -> bool {
        (0..1000).any(|_| {
            let done = f();
            if !done {
                std::thread::sleep(Duration::from_millis(10));
            }
            done
        })
    }

    /// A daemon with a child in a session of its own, as PostgreSQL's
    /// postmaster has its backends; `script` runs before it waits.
    fn parent_and_child(dir: &str, script: &str) -> (String, u32, u32) {
        let pidfile = format!("{dir}/tree.pid");
        let d = Daemon::new("sh", &pidfile, &format!("{dir}/tree.log"))
            .args(["-c", &format!("{script}setsid sleep 30 & wait")]);
        let Started::New(parent) = start(&Local::new(), &d).unwrap() else {
            panic!("not started")
        };
        let mut child = None;
        assert!(eventually(|| {
            let out = std::process::Command::new("pgrep")
                .args(["-P", &parent.to_string()])
                .output()
                .unwrap();
            child = String::from_utf8_lossy(&out.stdout).trim().parse().ok();
            child.is_some()
        }));
        (pidfile, parent, child.unwrap())
    }

    fn gone(pid: u32) -> bool {
        matches!(proc_state(pid), None | Some('Z'))
    }

    #[test]
    fn signals_reach_every_process_under_the_daemon() {
        let dir = scratch("tree");
        let local = Local::new();
        let (pidfile, parent, child) = parent_and_child(&dir, "");
        signal(&local, &pidfile, "STOP").unwrap();
        assert!(eventually(
            || proc_state(parent) == Some('T') && proc_state(child) == Some('T')
        ));
        signal(&local, &pidfile, "CONT").unwrap();
        assert!(eventually(
            || proc_state(parent) == Some('S') && proc_state(child) == Some('S')
        ));
        signal(&local, &pidfile, "KILL").unwrap();
        assert!(eventually(|| gone(parent) && gone(child)), "left running");
        // A stop that must kill takes the children too.
        let (pidfile, parent, child) = parent_and_child(&dir, "trap '' TERM; ");
        assert_eq!(
            stop(&local, &pidfile, Duration::from_millis(300)).unwrap(),
            Stopped::Killed
        );
        assert!(eventually(|| gone(parent) && gone(child)), "left running");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn signal_refuses_odd_names() {
        let err = signal(&Local::new(), "/nonexistent.pid", "TERM; rm").unwrap_err();
        assert!(matches!(err, NodeError::BadSignal(_)));
    }

    #[test]
    fn port_probes_and_waits_see_a_listener() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let local = Local::new();
        assert_eq!(
            probe_port(&local, "127.0.0.1", port, Duration::from_secs(1)).unwrap(),
            Probe::Open
        );
        await_port_from_here(listener.local_addr().unwrap(), Duration::from_secs(1)).unwrap();
        drop(listener);
        assert_eq!(
            probe_port(&local, "127.0.0.1", port, Duration::from_secs(1)).unwrap(),
            Probe::Refused
        );
        let err = await_port(&local, "127.0.0.1", port, Duration::from_millis(300)).unwrap_err();
        assert!(
            err.to_string().contains(&format!("127.0.0.1:{port}")),
            "{err}"
        );
    }

    #[test]
    fn install_packages_skips_installed_ones() {
        assert!(install_packages(&Local::new(), &["coreutils"])
            .unwrap()
            .is_empty());
    }
}
