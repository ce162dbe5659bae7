//! The etcd target: etcd's lifecycle on a node (`Db` with `Kill`, `Pause`,
//! `Primary`, `LogFiles`, and `Clock` on real hosts only, see below) and its
//! clients for the register and list-append workloads ([`client`]).
//!
//! Follows Jepsen's etcd test (`jepsen.etcd`, `jepsen.etcd.db`): the
//! initial cluster is built from the node list
//! (`--initial-cluster n1=http://10.77.0.11:2380,...`), each member listens
//! for clients on its own address, the first start says
//! `--initial-cluster-state new` and a restart after a kill says
//! `existing`; the member runs detached with a pidfile and is killed,
//! paused and resumed only through that pidfile. Data, log and pidfile live
//! under `/var/lib/temblor/<node>/`, so the local cluster's nodes, which
//! share one filesystem, never touch each other's files. Setup waits until
//! `GET /health` says the member is healthy; the leader is read from
//! `POST /v3/maintenance/status`.
//!
//! Clock faults: etcd is a Go program. Go reads the clock through the vDSO
//! and raw syscalls, so libfaketime does not reach it, and the local
//! cluster's nodes share one kernel clock. On the local cluster `Db::clock`
//! therefore refuses, saying so; on real hosts (`system_clock`, set when
//! the run has a nodes file) it moves each host's system clock with
//! [`SystemClock`], as Jepsen's etcd test does with `jepsen.nemesis.time`.

pub mod client;
mod gateway;
mod install;

pub use client::EtcdClient;
pub use install::Install;

use crate::daemon::{DaemonSpecs, Daemons};
use crate::db::{Clock, DataFiles, Db, DbError, Kill, LogFiles, NodeCtx, Pause, Primary};
use crate::http;
use crate::node::{Daemon, NodePaths};
use crate::remote::Command;
use crate::sysclock::{self, SystemClock};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How to run etcd.
#[derive(Clone, Debug)]
pub struct EtcdOptions {
    /// Where the binary comes from.
    pub install: Install,
    /// The client port (2379).
    pub client_port: u16,
    /// The peer port (2380).
    pub peer_port: u16,
    /// How long setup waits for a member to report itself healthy.
    pub start_timeout: Duration,
    /// The nodes are real hosts whose system clock clock faults may move
    /// (never the local cluster, whose nodes share this machine's clock).
    pub system_clock: bool,
}

impl Default for EtcdOptions {
    fn default() -> Self {
        EtcdOptions {
            install: Install::Debian,
            client_port: 2379,
            peer_port: 2380,
            start_timeout: Duration::from_secs(30),
            system_clock: false,
        }
    }
}

/// etcd on a set of nodes.
pub struct Etcd {
    members: Arc<Members>,
    daemons: Daemons,
    clock: SystemClock,
}

/// The members' settings, which every command line is built from.
struct Members {
    opts: EtcdOptions,
    /// Node name -> address.
    addrs: BTreeMap<String, String>,
}

fn paths(node: &str) -> NodePaths {
    NodePaths::new(node)
}

impl Members {
    fn addr(&self, node: &str) -> Result<&str, DbError> {
        self.addrs
            .get(node)
            .map(String::as_str)
            .ok_or_else(|| DbError::Unsupported(format!("etcd: no address for node {node}")))
    }

    /// `n1=http://10.77.0.11:2380,...`, every node in name order.
    fn initial_cluster(&self) -> String {
        let peers: Vec<String> = self
            .addrs
            .iter()
            .map(|(n, a)| format!("{n}=http://{a}:{}", self.opts.peer_port))
            .collect();
        peers.join(",")
    }

    fn probe(&self, node: &str, method: &str, path: &str) -> Result<serde_json::Value, DbError> {
        let body = (method == "POST").then(|| serde_json::json!({}));
        let target = (self.addr(node)?, self.opts.client_port);
        http::request_json(method, target, path, body.as_ref(), Duration::from_secs(1))
            .map(|(_, v)| v)
            .map_err(|what| DbError::Unhealthy {
                node: node.to_string(),
                what,
            })
    }

    /// Waits until `GET /health` says `"health": "true"` (a member with a
    /// leader and a quorum), or fails with the last answer after the limit.
    fn await_healthy(&self, node: &str) -> Result<(), DbError> {
        let deadline = Instant::now() + self.opts.start_timeout;
        loop {
            let last = match self.probe(node, "GET", "/health") {
                Ok(v) if v.get("health").and_then(|h| h.as_str()) == Some("true") => return Ok(()),
                Ok(v) => format!("/health said {v}"),
                Err(e) => e.to_string(),
            };
            if Instant::now() >= deadline {
                return Err(DbError::Unhealthy {
                    node: node.to_string(),
                    what: format!(
                        "etcd not healthy after {:?}: {last}",
                        self.opts.start_timeout
                    ),
                });
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

impl DaemonSpecs for Members {
    /// The member's command line: the first start makes a new cluster, a
    /// restart after a kill rejoins the existing one.
    fn daemons(&self, node: &str, restart: bool) -> Result<Vec<Daemon>, DbError> {
        let p = paths(node);
        let ip = self.addr(node)?;
        let client = format!("http://{ip}:{}", self.opts.client_port);
        let peer = format!("http://{ip}:{}", self.opts.peer_port);
        let state = if restart { "existing" } else { "new" };
        let args = [
            ("--name", node.to_string()),
            ("--data-dir", p.var("etcd.data")),
            ("--listen-client-urls", client.clone()),
            ("--advertise-client-urls", client),
            ("--listen-peer-urls", peer.clone()),
            ("--initial-advertise-peer-urls", peer),
            ("--initial-cluster", self.initial_cluster()),
            ("--initial-cluster-state", state.to_string()),
            ("--initial-cluster-token", "temblor".to_string()),
        ];
        let flat = args.into_iter().flat_map(|(k, v)| [k.to_string(), v]);
        Ok(vec![Daemon::new(
            &self.opts.install.binary_on(node),
            &p.var("etcd.pid"),
            &p.var("etcd.log"),
        )
        .args(flat)])
    }
}

impl Etcd {
    /// etcd on the nodes in `addrs` (name -> address).
    pub fn new(opts: EtcdOptions, addrs: BTreeMap<String, String>) -> Self {
        let members = Arc::new(Members { opts, addrs });
        Etcd {
            daemons: Daemons::new(Arc::clone(&members) as Arc<dyn DaemonSpecs>),
            members,
            clock: SystemClock::new(),
        }
    }
}

impl Db for Etcd {
    fn name(&self) -> &str {
        "etcd"
    }

    fn setup(&self, ctx: &NodeCtx<'_>) -> Result<(), DbError> {
        let p = paths(ctx.node);
        self.members.opts.install.install(ctx.remote, ctx.node)?;
        // A fresh cluster: data left by an earlier run would carry another
        // cluster id.
        ctx.remote.exec(&Command::new("rm").args([
            "-rf",
            &p.var("etcd.data"),
            &p.var("etcd.log"),
        ]))?;
        ctx.remote
            .exec(&Command::new("mkdir").args(["-p", &p.var_dir()]))?;
        self.daemons.start_all(ctx, false)?;
        self.members.await_healthy(ctx.node)
    }

    fn teardown(&self, ctx: &NodeCtx<'_>) -> Result<(), DbError> {
        self.daemons.stop_all(ctx)?;
        ctx.remote
            .exec(&Command::new("rm").args(["-rf", &paths(ctx.node).var("etcd.data")]))?;
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
        if self.members.opts.system_clock {
            Ok(&self.clock)
        } else {
            Err(sysclock::refused_on_local_cluster("etcd"))
        }
    }
}

/// etcd's write-ahead log and snapshot folders (`member/wal`,
/// `member/snap`, where `snap/db` is the bbolt backend).
impl DataFiles for Etcd {
    fn data_files(&self, node: &str) -> Vec<String> {
        let data = paths(node).var("etcd.data");
        vec![format!("{data}/member/wal"), format!("{data}/member/snap")]
    }
}

impl Primary for Etcd {
    fn is_primary(&self, ctx: &NodeCtx<'_>) -> Result<bool, DbError> {
        let status = self
            .members
            .probe(ctx.node, "POST", "/v3/maintenance/status")?;
        gateway::status_is_leader(&status).map_err(|what| DbError::Unhealthy {
            node: ctx.node.to_string(),
            what,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn three_with(opts: EtcdOptions) -> Etcd {
        let addrs = (1..=3)
            .map(|i| (format!("n{i}"), format!("10.77.0.{}", 10 + i)))
            .collect();
        Etcd::new(opts, addrs)
    }

    fn three() -> Etcd {
        three_with(EtcdOptions::default())
    }

    #[test]
    fn the_initial_cluster_names_every_node() {
        assert_eq!(
            three().members.initial_cluster(),
            "n1=http://10.77.0.11:2380,n2=http://10.77.0.12:2380,n3=http://10.77.0.13:2380"
        );
    }

    #[test]
    fn the_daemon_listens_on_its_own_address_with_node_scoped_paths() {
        let d = format!("{:?}", three().members.daemons("n2", true).unwrap());
        for want in [
            "/usr/bin/etcd",
            "--listen-client-urls\", \"http://10.77.0.12:2379",
            "--initial-cluster-state\", \"existing",
            "/var/lib/temblor/n2/etcd.data",
            "/var/lib/temblor/n2/etcd.pid",
            "/var/lib/temblor/n2/etcd.log",
        ] {
            assert!(d.contains(want), "{want} missing from {d}");
        }
        assert!(three().members.daemons("n9", false).is_err());
    }

    #[test]
    fn clock_faults_are_refused_saying_why() {
        let e = three().clock().err().unwrap();
        for want in [
            "etcd does not support clock faults on the local cluster",
            "Go program",
            "libfaketime",
            "share this machine's kernel clock",
            "on real hosts (--nodes-file)",
        ] {
            assert!(e.contains(want), "{want} missing from {e}");
        }
    }

    #[test]
    fn on_real_hosts_clock_faults_move_the_system_clock() {
        let opts = EtcdOptions {
            system_clock: true,
            ..EtcdOptions::default()
        };
        assert!(three_with(opts).clock().is_ok());
    }
}
