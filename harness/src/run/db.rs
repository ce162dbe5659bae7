//! Phase 2 of a run: the target on every node. Builds the target's `Db`
//! and client from the spec, runs lifecycle calls on all nodes at once (on
//! tokio's blocking pool: `Db` calls block like SSH), downloads log files,
//! and keeps the run's state file, which `temblor heal` reads to undo what
//! a controller killed hard left behind.

use super::nodes::Nodes;
use super::spec::TestSpec;
use super::store::RunDir;
use crate::error::UsageError;
use crate::nemesis::{FaultKind, NodeHandle};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use targets::consul::{Consul, ConsulClient, ConsulInstall, ConsulOptions, Mode};
use targets::db::{Db, DbError, NodeCtx};
use targets::etcd::{Etcd, EtcdClient, EtcdOptions, Install};
use targets::raftkv::{Binary, RaftKv, RaftKvClient, RaftKvOptions};
use workloads::client::Timeout;
use workloads::Client;

/// The target of `spec` on `nodes`.
pub fn for_spec(spec: &TestSpec, nodes: &Nodes) -> anyhow::Result<Arc<dyn Db>> {
    let addrs = addrs(&nodes.handles);
    match spec.target.as_str() {
        "raftkv" => Ok(Arc::new(RaftKv::new(raftkv_options(spec)?, addrs))),
        "etcd" => Ok(Arc::new(Etcd::new(etcd_options(spec), addrs))),
        "consul" => Ok(Arc::new(Consul::new(consul_options(spec), addrs))),
        other => Err(UsageError(format!(
            "unknown target {other:?} (available: raftkv, etcd)"
        ))
        .into()),
    }
}

/// The workload client for `spec`'s target, with the op timeout applied.
pub fn client(spec: &TestSpec, nodes: &[NodeHandle]) -> anyhow::Result<Arc<dyn Client>> {
    let timeout = Duration::from_secs_f64(spec.op_timeout);
    // The HTTP timeout turns a slow op into `info`; the wrapper is the
    // backstop for anything that still hangs.
    let backstop = timeout + Duration::from_secs(1);
    if spec.target == "etcd" {
        let port = etcd_options(spec).client_port;
        let inner = EtcdClient::new(&addrs(nodes), port, timeout, spec.etcd_serializable_reads)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        return Ok(Arc::new(Timeout::new(inner, backstop)));
    }
    if spec.target == "consul" {
        let port = consul_options(spec).http_port;
        let mode = Mode::parse(&spec.consul_reads).unwrap_or_default();
        let inner = ConsulClient::new(&addrs(nodes), port, timeout, mode)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        return Ok(Arc::new(Timeout::new(inner, backstop)));
    }
    let opts = raftkv_options(spec)?;
    let inner = RaftKvClient::new(&addrs(nodes), opts.client_port, timeout)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(Arc::new(Timeout::new(inner, backstop)))
}

/// Validation makes sure `consul_install` is there for a consul run.
fn consul_options(spec: &TestSpec) -> ConsulOptions {
    let install = spec.consul_install.as_deref().unwrap_or_default();
    ConsulOptions {
        system_clock: on_real_hosts(spec),
        ..ConsulOptions::new(ConsulInstall::parse(install))
    }
}

fn etcd_options(spec: &TestSpec) -> EtcdOptions {
    EtcdOptions {
        install: Install::parse(&spec.etcd_install),
        system_clock: on_real_hosts(spec),
        ..EtcdOptions::default()
    }
}

/// Whether the nodes are real hosts (a nodes file), whose system clocks a
/// clock fault may move; the local cluster's nodes share this machine's
/// clock, which must never be moved.
fn on_real_hosts(spec: &TestSpec) -> bool {
    spec.nodes_file.is_some()
}

fn addrs(nodes: &[NodeHandle]) -> BTreeMap<String, String> {
    nodes
        .iter()
        .map(|n| (n.name.clone(), n.addr.clone()))
        .collect()
}

fn raftkv_options(spec: &TestSpec) -> anyhow::Result<RaftKvOptions> {
    let mut opts = RaftKvOptions::new(Binary::new(spec.raftkv_bin.clone()));
    opts.bugs = spec.bugs.clone();
    opts.faketime = spec.nemesis.contains(&FaultKind::Clock);
    Ok(opts)
}

/// Runs `action` on every node at once; the first error (naming its node)
/// wins, but every call is awaited.
pub async fn on_all<F>(nodes: &[NodeHandle], db: &Arc<dyn Db>, action: F) -> anyhow::Result<()>
where
    F: Fn(&dyn Db, &NodeCtx<'_>) -> Result<(), DbError> + Send + Sync + Clone + 'static,
{
    let names: Vec<String> = nodes.iter().map(|n| n.name.clone()).collect();
    let tasks = nodes.iter().map(|node| {
        let (db, names, action) = (Arc::clone(db), names.clone(), action.clone());
        let (name, remote) = (node.name.clone(), node.remote.blocking());
        tokio::task::spawn_blocking(move || {
            let ctx = NodeCtx {
                node: &name,
                nodes: &names,
                remote: remote.as_ref(),
            };
            action(db.as_ref(), &ctx).map_err(|e| anyhow::anyhow!("{name}: {e}"))
        })
    });
    let mut first = Ok(());
    for joined in futures::future::join_all(tasks).await {
        let r = joined
            .map_err(|e| anyhow::anyhow!("node task failed: {e}"))
            .and_then(|r| r);
        if first.is_ok() {
            first = r;
        }
    }
    first
}

/// Downloads every node's log files into `nodes/<node>/`; problems are
/// reported and skipped (logs help, but never cost the results).
pub async fn download_logs(nodes: &[NodeHandle], db: &Arc<dyn Db>, dir: &RunDir) {
    for node in nodes {
        let files = match db.as_log_files() {
            Some(l) => {
                let remote = node.remote.blocking();
                let names = vec![node.name.clone()];
                l.log_files(&NodeCtx {
                    node: &node.name,
                    nodes: &names,
                    remote: remote.as_ref(),
                })
            }
            None => return,
        };
        let local_dir = match dir.node_dir(&node.name) {
            Ok(d) => d,
            Err(e) => {
                eprintln!("temblor: {e:#}");
                continue;
            }
        };
        for file in files {
            let name = file.rsplit('/').next().unwrap_or("log").to_string();
            if let Err(e) = node
                .remote
                .download(file.clone(), local_dir.join(name))
                .await
            {
                eprintln!("temblor: cannot download {file} from {}: {e}", node.name);
            }
        }
    }
}

/// What `temblor heal` needs to find and heal a run's nodes.
#[derive(Debug, Serialize, Deserialize)]
pub struct RunState {
    /// True while the run may have faults in force.
    pub running: bool,
    /// The spec, to rebuild the target and reach the nodes.
    pub spec: TestSpec,
    /// Node name -> address.
    pub nodes: BTreeMap<String, String>,
}

/// Writes `state.json` with `running: true`.
pub fn write_state(dir: &RunDir, spec: &TestSpec, nodes: &Nodes) -> anyhow::Result<()> {
    let state = RunState {
        running: true,
        spec: spec.clone(),
        nodes: addrs(&nodes.handles),
    };
    dir.write_json("state.json", &state)
}

/// Marks the run's state file as healed and finished.
pub fn mark_state_done(dir: &RunDir) {
    let path = dir.file("state.json");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return;
    };
    if let Ok(mut state) = serde_json::from_str::<RunState>(&text) {
        state.running = false;
        let _ = dir.write_json("state.json", &state);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn only_real_hosts_get_the_system_clock() {
        let local = TestSpec {
            consul_install: Some("/tmp/consul".into()),
            ..TestSpec::default()
        };
        assert!(!etcd_options(&local).system_clock);
        assert!(!consul_options(&local).system_clock);
        let real = TestSpec {
            nodes_file: Some(PathBuf::from("nodes.txt")),
            ..local
        };
        assert!(etcd_options(&real).system_clock);
        assert!(consul_options(&real).system_clock);
    }
}
