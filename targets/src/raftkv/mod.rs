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

mod binary;
pub mod client;

pub use binary::Binary;
pub use client::RaftKvClient;

use crate::daemon::{DaemonSpecs, Daemons};
use crate::db::{Clock, DataFiles, Db, DbError, Kill, LogFiles, NodeCtx, Pause, Primary};
use crate::faketime::{self, FakeClock};
use crate::http;
use crate::node::{self, Daemon, NodePaths};
use crate::remote::Command;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// How to run raftkv.
#[derive(Debug)]
pub struct RaftKvOptions {
    /// The raftkv binary on this machine, uploaded to every node.
    pub binary: Binary,
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
    pub fn new(binary: Binary) -> Self {
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
    members: Arc<Members>,
    daemons: Daemons,
    clock: FakeClock<fn(&str) -> String>,
}

/// The members' settings, which every daemon command line is built from.
struct Members {
    opts: RaftKvOptions,
    /// Node name -> address, as peers and clients dial it.
    addrs: BTreeMap<String, String>,
}

fn paths(node: &str) -> NodePaths {
    NodePaths::new(node)
}

fn faketime_file(node: &str) -> String {
    paths(node).var("faketime")
}

impl Members {
    fn addr(&self, node: &str) -> Result<&str, DbError> {
        self.addrs
            .get(node)
            .map(String::as_str)
            .ok_or_else(|| DbError::Unsupported(format!("raftkv: no address for node {node}")))
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
}

impl DaemonSpecs for Members {
    fn daemons(&self, node: &str, _restart: bool) -> Result<Vec<Daemon>, DbError> {
        let p = paths(node);
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
        let daemon =
            Daemon::new(&p.opt("raftkv"), &p.var("raftkv.pid"), &p.var("raftkv.log")).args(args);
        Ok(vec![match self.opts.faketime {
            true => faketime::wrap(daemon, &faketime_file(node)),
            false => daemon,
        }])
    }
}

impl RaftKv {
    /// raftkv on the nodes in `addrs` (name -> address).
    pub fn new(opts: RaftKvOptions, addrs: BTreeMap<String, String>) -> Self {
        let members = Arc::new(Members { opts, addrs });
        RaftKv {
            daemons: Daemons::new(Arc::clone(&members) as Arc<dyn DaemonSpecs>),
            members,
            clock: FakeClock::new(faketime_file),
        }
    }
}

impl Db for RaftKv {
    fn name(&self) -> &str {
        "raftkv"
    }

    fn setup(&self, ctx: &NodeCtx<'_>) -> Result<(), DbError> {
        let p = paths(ctx.node);
        let opts = &self.members.opts;
        let binary = opts.binary.path().map_err(DbError::Unsupported)?;
        ctx.remote
            .exec(&Command::new("mkdir").args(["-p", &p.opt_dir(), &p.var("data")]))?;
        node::upload_binary(ctx.remote, &binary, &p.opt("raftkv"))?;
        if opts.faketime {
            faketime::prepare(ctx, &faketime_file(ctx.node))?;
        }
        self.daemons.start_all(ctx, false)?;
        let addr = format!("{}:{}", self.members.addr(ctx.node)?, opts.client_port);
        let addr = addr
            .parse()
            .map_err(|e| DbError::Unsupported(format!("raftkv: bad client address {addr}: {e}")))?;
        node::await_port_from_here(addr, opts.start_timeout)?;
        Ok(())
    }

    fn teardown(&self, ctx: &NodeCtx<'_>) -> Result<(), DbError> {
        let p = paths(ctx.node);
        self.daemons.stop_all(ctx)?;
        ctx.remote.exec(&Command::new("rm").args([
            "-rf",
            &p.var("data"),
            &faketime_file(ctx.node),
        ]))?;
        Ok(())
    }

    fn plan(&self, node: &str) -> Result<Vec<(String, String)>, DbError> {
        self.daemons.plan(node)
    }

    fn as_kill(&self) -> Option<&dyn Kill> {
        Some(&self.daemons)
    }

    fn as_pause(&self) -> Option<&dyn Pause> {
        Some(&self.daemons)
    }

    fn as_primary(&self) -> Option<&dyn Primary> {
        Some(self)
    }

    fn as_log_files(&self) -> Option<&dyn LogFiles> {
        Some(&self.daemons)
    }

    fn as_data_files(&self) -> Option<&dyn DataFiles> {
        Some(self)
    }

    fn clock(&self) -> Result<&dyn Clock, String> {
        if self.members.opts.faketime {
            Ok(&self.clock)
        } else {
            Err("raftkv runs without libfaketime in this test; clock faults need it (the run turns it on when --nemesis includes clock)".into())
        }
    }
}

/// raftkv's write-ahead log, hard state (term and vote) and snapshot
/// (`raftkv::storage`).
impl DataFiles for RaftKv {
    fn data_files(&self, node: &str) -> Vec<String> {
        let p = paths(node);
        ["wal.log", "hardstate.json", "snapshot.json"]
            .map(|f| p.var(&format!("data/{f}")))
            .to_vec()
    }
}

impl Primary for RaftKv {
    fn is_primary(&self, ctx: &NodeCtx<'_>) -> Result<bool, DbError> {
        let host = self.members.addr(ctx.node)?;
        let target = (host, self.members.opts.client_port);
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
