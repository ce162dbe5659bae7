//! The raftkv target: raftkv's lifecycle on a node (`Db` with `Kill`,
//! `Pause`, `Primary`, `LogFiles` and, under libfaketime, `Clock`) and its
//! clients for the register and list-append workloads ([`client`]).
//!
//! raftkv is reached like any third-party store: its binary is uploaded to
//! `/opt/temblor/<node>/raftkv`, its data, log and pidfile live under
//! `/var/lib/temblor/<node>/`, it is started detached with a pidfile and
//! managed only through that pidfile, and clients speak HTTP to its client
//! port. With clock faults asked for, it runs under libfaketime with a
//! per-node offset file the nemesis rewrites (raftkv is a libc program, so
//! libfaketime reaches its wall clock, and so its lease).

pub mod client;

pub use client::RaftKvClient;

use crate::db::{Clock, Db, DbError, Kill, LogFiles, NodeCtx, Pause, Primary};
use crate::http;
use crate::node::{self, Daemon, NodePaths};
use crate::remote::{escape, Command};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// Where Debian's libfaketime puts the preload library.
pub const LIBFAKETIME: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";

/// How to run raftkv.
#[derive(Clone, Debug)]
pub struct RaftKvOptions {
    /// The raftkv binary on this machine, uploaded to every node.
    pub binary: PathBuf,
    /// Bug switches to turn on (`follower-reads`, `lease-reads`, ...).
    pub bugs: Vec<String>,
    /// Run under libfaketime with a per-node clock offset file.
    pub faketime: bool,
    /// The HTTP client port.
    pub client_port: u16,
    /// The Raft peer port.
    pub peer_port: u16,
    /// Take a snapshot every this many applied entries.
    pub snapshot_threshold: u64,
    /// How long to wait for a node's client port after starting it.
    pub start_timeout: Duration,
}

impl RaftKvOptions {
    /// Defaults for `binary`: ports 7000/7001, no bugs, no faketime.
    pub fn new(binary: PathBuf) -> Self {
        RaftKvOptions {
            binary,
            bugs: Vec::new(),
            faketime: false,
            client_port: 7000,
            peer_port: 7001,
            snapshot_threshold: 10_000,
            start_timeout: Duration::from_secs(20),
        }
    }
}

/// raftkv on a set of nodes.
pub struct RaftKv {
    opts: RaftKvOptions,
    /// Node name -> address, as peers and clients dial it.
    addrs: BTreeMap<String, String>,
}

impl RaftKv {
    /// raftkv on the nodes in `addrs` (name -> address).
    pub fn new(opts: RaftKvOptions, addrs: BTreeMap<String, String>) -> Self {
        RaftKv { opts, addrs }
    }

    fn addr(&self, node: &str) -> Result<&str, DbError> {
        self.addrs
            .get(node)
            .map(String::as_str)
            .ok_or_else(|| DbError::Unsupported(format!("raftkv: no address for node {node}")))
    }

    fn paths(node: &str) -> NodePaths {
        NodePaths::new(node)
    }

    /// raftkv's numeric member id for `node`: its position among the
    /// nodes (in name order, the same on every node), from 1.
    fn id(&self, node: &str) -> Result<usize, DbError> {
        self.addrs
            .keys()
            .position(|n| n == node)
            .map(|i| i + 1)
            .ok_or_else(|| DbError::Unsupported(format!("raftkv: no address for node {node}")))
    }

    /// The daemon, with its flags, as started on `node`.
    fn daemon(&self, node: &str) -> Result<Daemon, DbError> {
        let p = Self::paths(node);
        let peers: Vec<String> = self
            .addrs
            .values()
            .enumerate()
            .map(|(i, a)| format!("{}={a}:{}", i + 1, self.opts.peer_port))
            .collect();
        let mut args = vec![
            "--id".to_string(),
            self.id(node)?.to_string(),
            "--peers".to_string(),
            peers.join(","),
            "--client".to_string(),
            format!("{}:{}", self.addr(node)?, self.opts.client_port),
            "--data-dir".to_string(),
            p.var("data"),
            "--snapshot-threshold".to_string(),
            self.opts.snapshot_threshold.to_string(),
        ];
        for bug in &self.opts.bugs {
            args.push("--bug".to_string());
            args.push(bug.clone());
        }
        let mut daemon =
            Daemon::new(&p.opt("raftkv"), &p.var("raftkv.pid"), &p.var("raftkv.log")).args(args);
        if self.opts.faketime {
            daemon = daemon
                .env("LD_PRELOAD", LIBFAKETIME)
                .env("FAKETIME_TIMESTAMP_FILE", &p.var("faketime"))
                .env("FAKETIME_CACHE_DURATION", "1")
                .env("FAKETIME_DONT_FAKE_MONOTONIC", "1");
        }
        Ok(daemon)
    }

    fn start_daemon(&self, ctx: &NodeCtx<'_>) -> Result<(), DbError> {
        node::start(ctx.remote, &self.daemon(ctx.node)?)?;
        Ok(())
    }

    fn write_offset(&self, ctx: &NodeCtx<'_>, offset_ms: i64) -> Result<(), DbError> {
        let file = Self::paths(ctx.node).var("faketime");
        let spec = format!("{:+.3}", offset_ms as f64 / 1000.0);
        ctx.remote.exec(&Command::shell(&format!(
            "printf '%s\\n' {} > {}",
            escape(&spec),
            escape(&file)
        )))?;
        Ok(())
    }
}

impl Db for RaftKv {
    fn name(&self) -> &str {
        "raftkv"
    }

    fn setup(&self, ctx: &NodeCtx<'_>) -> Result<(), DbError> {
        let p = Self::paths(ctx.node);
        if !self.opts.binary.is_file() {
            return Err(DbError::Unsupported(format!(
                "raftkv binary {} does not exist (build it with `cargo build --release -p raftkv`)",
                self.opts.binary.display()
            )));
        }
        ctx.remote
            .exec(&Command::new("mkdir").args(["-p", &p.opt_dir(), &p.var("data")]))?;
        node::upload_binary(ctx.remote, &self.opts.binary, &p.opt("raftkv"))?;
        if self.opts.faketime {
            if !std::path::Path::new(LIBFAKETIME).exists() {
                node::install_packages(ctx.remote, &["libfaketime"])?;
            }
            self.write_offset(ctx, 0)?;
        }
        self.start_daemon(ctx)?;
        let addr = format!("{}:{}", self.addr(ctx.node)?, self.opts.client_port);
        let addr = addr
            .parse()
            .map_err(|e| DbError::Unsupported(format!("raftkv: bad client address {addr}: {e}")))?;
        node::await_port_from_here(addr, self.opts.start_timeout)?;
        Ok(())
    }

    fn teardown(&self, ctx: &NodeCtx<'_>) -> Result<(), DbError> {
        let p = Self::paths(ctx.node);
        node::stop(ctx.remote, &p.var("raftkv.pid"), Duration::from_secs(5))?;
        ctx.remote
            .exec(&Command::new("rm").args(["-rf", &p.var("data"), &p.var("faketime")]))?;
        Ok(())
    }

    fn as_kill(&self) -> Option<&dyn Kill> {
        Some(self)
    }

    fn as_pause(&self) -> Option<&dyn Pause> {
        Some(self)
    }

    fn as_primary(&self) -> Option<&dyn Primary> {
        Some(self)
    }

    fn as_log_files(&self) -> Option<&dyn LogFiles> {
        Some(self)
    }

    fn clock(&self) -> Result<&dyn Clock, String> {
        if self.opts.faketime {
            Ok(self)
        } else {
            Err("raftkv runs without libfaketime in this test; clock faults need it (the run turns it on when --nemesis includes clock)".into())
        }
    }
}

impl Kill for RaftKv {
    fn kill(&self, ctx: &NodeCtx<'_>) -> Result<(), DbError> {
        let pidfile = Self::paths(ctx.node).var("raftkv.pid");
        // A paused process dies of SIGKILL too; nothing else to undo.
        node::signal_if_running(ctx.remote, &pidfile, "KILL")?;
        Ok(())
    }

    fn start(&self, ctx: &NodeCtx<'_>) -> Result<(), DbError> {
        let pidfile = Self::paths(ctx.node).var("raftkv.pid");
        if node::is_running(ctx.remote, &pidfile)? {
            return Ok(());
        }
        self.start_daemon(ctx)
    }
}

impl Pause for RaftKv {
    fn pause(&self, ctx: &NodeCtx<'_>) -> Result<(), DbError> {
        node::signal(ctx.remote, &Self::paths(ctx.node).var("raftkv.pid"), "STOP")?;
        Ok(())
    }

    fn resume(&self, ctx: &NodeCtx<'_>) -> Result<(), DbError> {
        // Healing resumes every node; one that was killed meanwhile has
        // nothing to resume.
        let pidfile = Self::paths(ctx.node).var("raftkv.pid");
        node::signal_if_running(ctx.remote, &pidfile, "CONT")?;
        Ok(())
    }
}

impl Primary for RaftKv {
    fn is_primary(&self, ctx: &NodeCtx<'_>) -> Result<bool, DbError> {
        let host = self.addr(ctx.node)?;
        let target = (host, self.opts.client_port);
        let (_, status) =
            http::request_json("GET", target, "/status", None, Duration::from_secs(1)).map_err(
                |what| DbError::Unhealthy {
                    node: ctx.node.to_string(),
                    what,
                },
            )?;
        Ok(status.get("role").and_then(|r| r.as_str()) == Some("leader"))
    }
}

impl LogFiles for RaftKv {
    fn log_files(&self, ctx: &NodeCtx<'_>) -> Vec<String> {
        vec![Self::paths(ctx.node).var("raftkv.log")]
    }
}

impl Clock for RaftKv {
    fn set_offset_ms(&self, ctx: &NodeCtx<'_>, offset_ms: i64) -> Result<(), DbError> {
        self.write_offset(ctx, offset_ms)
    }
}
