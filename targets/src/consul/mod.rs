//! The Consul target: server agents on every node (`Db` with `Kill`,
//! `Pause`, `Primary`, `LogFiles`, and `Clock` on real hosts) and clients over the KV and txn HTTP API
//! ([`client`], [`api`]). Built to Consul's documented install steps and
//! HTTP API and Jepsen's Consul test (`jepsen.consul`); this machine cannot
//! install Consul, so see the README for what was verified live.
//!
//! Install: a release archive URL (`consul_<v>_linux_amd64.zip`, fetched
//! and unzipped on each node) or a local binary uploaded to each node, both
//! at `/opt/temblor/<node>/consul`. Each node runs
//! `consul agent -server -bootstrap-expect N -retry-join <peer>...` bound to
//! its own address, with data dir, log and pidfile under
//! `/var/lib/temblor/<node>/`. Setup waits until `/v1/status/leader` names
//! a leader; the leader is the node whose address it names.
//!
//! Consul is a Go program: like etcd, libfaketime does not reach its clock,
//! so clock faults are refused on the local cluster (whose nodes share one
//! kernel clock) and move each host's system clock with [`SystemClock`] on
//! real hosts (`system_clock`, set when the run has a nodes file).

pub mod api;
pub mod client;

pub use api::Mode;
pub use client::ConsulClient;

use crate::daemon::{DaemonSpecs, Daemons};
use crate::db::{Clock, Db, DbError, Kill, LogFiles, NodeCtx, Pause, Primary};
use crate::http;
use crate::node::{self, Daemon, NodePaths};
use crate::remote::{escape, Command};
use crate::sysclock::{self, SystemClock};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Where Consul comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConsulInstall {
    /// A release archive (zip) URL, fetched by each node.
    Archive(String),
    /// A binary on this machine, uploaded to each node.
    Binary(PathBuf),
}

impl ConsulInstall {
    /// An `http(s)://` URL or a path.
    pub fn parse(s: &str) -> ConsulInstall {
        if s.starts_with("http://") || s.starts_with("https://") {
            ConsulInstall::Archive(s.to_string())
        } else {
            ConsulInstall::Binary(PathBuf::from(s))
        }
    }
}

/// How to run Consul.
#[derive(Clone, Debug)]
pub struct ConsulOptions {
    /// Where the binary comes from.
    pub install: ConsulInstall,
    /// The HTTP API port (8500).
    pub http_port: u16,
    /// How long setup waits for a leader.
    pub start_timeout: Duration,
    /// The nodes are real hosts whose system clock clock faults may move
    /// (never the local cluster, whose nodes share this machine's clock).
    pub system_clock: bool,
}

impl ConsulOptions {
    /// Defaults for `install`: port 8500, 60 s to elect a leader, no
    /// system clock.
    pub fn new(install: ConsulInstall) -> Self {
        ConsulOptions {
            install,
            http_port: 8500,
            start_timeout: Duration::from_secs(60),
            system_clock: false,
        }
    }
}

/// Consul server agents on a set of nodes.
pub struct Consul {
    agents: Arc<Agents>,
    daemons: Daemons,
    clock: SystemClock,
}

/// The agents' settings, which every command line is built from.
struct Agents {
    opts: ConsulOptions,
    addrs: BTreeMap<String, String>,
}

/// The script that fetches and unzips `url` into `dir` unless `dir/consul`
/// is already there.
pub fn archive_script(url: &str, dir: &str) -> String {
    let (url, dir) = (escape(url), escape(dir));
    format!(
        "test -x {dir}/consul && exit 0; mkdir -p {dir} && cd {dir} && \
         {{ if command -v curl >/dev/null; then curl -fsSL --retry 3 -o consul.zip {url}; \
         else wget -q -O consul.zip {url}; fi; }} && \
         unzip -o -q consul.zip consul && rm -f consul.zip && chmod +x consul"
    )
}

impl Consul {
    /// Consul on the nodes in `addrs` (name -> address).
    pub fn new(opts: ConsulOptions, addrs: BTreeMap<String, String>) -> Self {
        let agents = Arc::new(Agents { opts, addrs });
        Consul {
            daemons: Daemons::new(Arc::clone(&agents) as Arc<dyn DaemonSpecs>),
            agents,
            clock: SystemClock::new(),
        }
    }
}

impl DaemonSpecs for Agents {
    fn daemons(&self, node: &str, _restart: bool) -> Result<Vec<Daemon>, DbError> {
        Ok(vec![self.daemon(node)?])
    }
}

impl Agents {
    fn addr(&self, node: &str) -> Result<&str, DbError> {
        self.addrs
            .get(node)
            .map(String::as_str)
            .ok_or_else(|| DbError::Unsupported(format!("consul: no address for node {node}")))
    }

    fn daemon(&self, node: &str) -> Result<Daemon, DbError> {
        let p = NodePaths::new(node);
        let ip = self.addr(node)?;
        let mut args = vec![
            "agent".to_string(),
            "-server".into(),
            format!("-bootstrap-expect={}", self.addrs.len()),
            format!("-node={node}"),
            format!("-bind={ip}"),
            format!("-client={ip}"),
            format!("-http-port={}", self.opts.http_port),
            format!("-data-dir={}", p.var("consul.data")),
            // Nodes of the local cluster share one machine id.
            "-disable-host-node-id".into(),
        ];
        let peers = self.addrs.iter().filter(|(n, _)| *n != node);
        args.extend(peers.map(|(_, a)| format!("-retry-join={a}")));
        Ok(Daemon::new(&p.opt("consul"), &p.var("consul.pid"), &p.var("consul.log")).args(args))
    }

    fn install(&self, ctx: &NodeCtx<'_>) -> Result<(), DbError> {
        let p = NodePaths::new(ctx.node);
        match &self.opts.install {
            ConsulInstall::Archive(url) => {
                let script = archive_script(url, &p.opt_dir());
                ctx.remote.exec(&Command::shell(&script).sudo())?;
            }
            ConsulInstall::Binary(path) if path.is_file() => {
                node::upload_binary(ctx.remote, path, &p.opt("consul"))?;
            }
            ConsulInstall::Binary(path) => {
                return Err(DbError::Unsupported(format!(
                    "consul binary {} does not exist",
                    path.display()
                )))
            }
        }
        Ok(())
    }

    fn leader(&self, node: &str) -> Result<serde_json::Value, DbError> {
        let target = (self.addr(node)?, self.opts.http_port);
        let timeout = Duration::from_secs(1);
        http::request_json("GET", target, "/v1/status/leader", None, timeout)
            .map(|(_, v)| v)
            .map_err(|what| DbError::Unhealthy {
                node: node.to_string(),
                what,
            })
    }

    fn await_leader(&self, node: &str) -> Result<(), DbError> {
        let deadline = Instant::now() + self.opts.start_timeout;
        loop {
            let last = match self.leader(node) {
                Ok(v) if v.as_str().is_some_and(|l| !l.is_empty()) => return Ok(()),
                Ok(v) => format!("no leader yet ({v})"),
                Err(e) => e.to_string(),
            };
            if Instant::now() >= deadline {
                let what = format!(
                    "consul has no leader after {:?}: {last}",
                    self.opts.start_timeout
                );
                return Err(DbError::Unhealthy {
                    node: node.to_string(),
                    what,
                });
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

impl Db for Consul {
    fn name(&self) -> &str {
        "consul"
    }

    fn setup(&self, ctx: &NodeCtx<'_>) -> Result<(), DbError> {
        let p = NodePaths::new(ctx.node);
        self.agents.install(ctx)?;
        ctx.remote.exec(&Command::new("rm").args([
            "-rf",
            &p.var("consul.data"),
            &p.var("consul.log"),
        ]))?;
        self.daemons.start_all(ctx, false)?;
        self.agents.await_leader(ctx.node)
    }

    fn teardown(&self, ctx: &NodeCtx<'_>) -> Result<(), DbError> {
        self.daemons.stop_all(ctx)?;
        let data = NodePaths::new(ctx.node).var("consul.data");
        ctx.remote.exec(&Command::new("rm").args(["-rf", &data]))?;
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

    fn clock(&self) -> Result<&dyn Clock, String> {
        if self.agents.opts.system_clock {
            Ok(&self.clock)
        } else {
            Err(sysclock::refused_on_local_cluster("consul"))
        }
    }
}

impl Primary for Consul {
    fn is_primary(&self, ctx: &NodeCtx<'_>) -> Result<bool, DbError> {
        Ok(api::leader_is(
            &self.agents.leader(ctx.node)?,
            self.agents.addr(ctx.node)?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn three_with(system_clock: bool) -> Consul {
        let addrs = (1..=3)
            .map(|i| (format!("n{i}"), format!("10.77.0.{}", 10 + i)))
            .collect();
        let opts = ConsulOptions {
            system_clock,
            ..ConsulOptions::new(ConsulInstall::parse("/tmp/consul"))
        };
        Consul::new(opts, addrs)
    }

    fn three() -> Consul {
        three_with(false)
    }

    #[test]
    fn servers_bootstrap_from_the_node_list_with_node_scoped_paths() {
        let d = format!("{:?}", three().agents.daemon("n1").unwrap());
        for want in [
            "/opt/temblor/n1/consul",
            "\"-server\"",
            "-bootstrap-expect=3",
            "-bind=10.77.0.11",
            "-retry-join=10.77.0.12",
            "-retry-join=10.77.0.13",
            "-data-dir=/var/lib/temblor/n1/consul.data",
            "/var/lib/temblor/n1/consul.pid",
        ] {
            assert!(d.contains(want), "{want} missing from {d}");
        }
        assert!(!d.contains("-retry-join=10.77.0.11"), "{d}");
    }

    #[test]
    fn installs_from_an_archive_or_a_binary() {
        let url = "https://releases.hashicorp.com/consul/1.16.1/consul_1.16.1_linux_amd64.zip";
        assert_eq!(
            ConsulInstall::parse(url),
            ConsulInstall::Archive(url.into())
        );
        let s = archive_script(url, "/opt/temblor/n1");
        assert!(
            s.starts_with("test -x /opt/temblor/n1/consul && exit 0;"),
            "{s}"
        );
        assert!(
            s.contains(&format!("curl -fsSL --retry 3 -o consul.zip {url}")),
            "{s}"
        );
        assert!(s.contains("unzip -o -q consul.zip consul"), "{s}");
    }

    #[test]
    fn clock_faults_are_refused_on_the_local_cluster_and_taken_on_real_hosts() {
        let e = three().clock().err().unwrap();
        for want in ["consul does not support", "Go program", "--nodes-file"] {
            assert!(e.contains(want), "{want} missing from {e}");
        }
        assert!(three_with(true).clock().is_ok());
    }
}
