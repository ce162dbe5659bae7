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
use targets::db::{Db, DbError, NodeCtx};
use targets::protocol::LogFn;
use targets::{OpenContext, Opened};

/// The run's target opened on `nodes`: its `Db` and client template.
/// `run` is the run's id (`<test>/<time>`) as clients see it; their
/// stderr, and notes about them, go to `log`.
pub fn open(
    spec: &TestSpec,
    nodes: &[NodeHandle],
    run: &str,
    log: LogFn,
) -> anyhow::Result<Opened> {
    let list: Vec<(String, String)> = nodes
        .iter()
        .map(|n| (n.name.clone(), n.addr.clone()))
        .collect();
    let ctx = OpenContext {
        nodes: &list,
        real_hosts: on_real_hosts(spec),
        clock_faults: spec.nemesis.contains(&FaultKind::Clock),
        run,
        workload: &spec.workload,
        op_timeout: Duration::from_secs_f64(spec.op_timeout),
        log,
    };
    targets::open(&spec.target, &ctx).map_err(|e| UsageError(e.to_string()).into())
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
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || {
            let _in_run = span.enter();
            let ctx = NodeCtx {
                node: &name,
                nodes: &names,
                remote: remote.as_ref(),
            };
            action(db.as_ref(), &ctx)
                .map_err(|e| anyhow::anyhow!(crate::error::on_node(&name, &e.to_string())))
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
                tracing::warn!("{e:#}");
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
                tracing::warn!("cannot download {file} from {}: {e}", node.name);
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

/// Writes `state.json` with `running: true`, its paths absolute so that
/// `temblor heal` works from any folder.
pub fn write_state(dir: &RunDir, spec: &TestSpec, nodes: &Nodes) -> anyhow::Result<()> {
    let cwd = std::env::current_dir()
        .map_err(|e| anyhow::anyhow!("cannot tell the current folder: {e}"))?;
    let state = RunState {
        running: true,
        spec: spec.absolute(&cwd),
        nodes: addrs(&nodes.handles),
    };
    dir.write_json(super::store::STATE, &state)
}

/// Marks the run's state file as healed and finished.
pub fn mark_state_done(dir: &RunDir) {
    let path = dir.state();
    let Ok(text) = std::fs::read_to_string(&path) else {
        return;
    };
    if let Ok(mut state) = serde_json::from_str::<RunState>(&text) {
        state.running = false;
        let _ = dir.write_json(super::store::STATE, &state);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use targets::remote::{AsyncRemote, Local};

    fn three() -> Vec<NodeHandle> {
        (1..=3)
            .map(|i| NodeHandle {
                name: format!("n{i}"),
                addr: format!("10.77.0.{}", 10 + i),
                remote: AsyncRemote::new(Local::new()),
            })
            .collect()
    }

    #[test]
    fn only_real_hosts_get_the_system_clock() {
        let local = TestSpec {
            target: targets::TargetSpec::named("etcd").unwrap(),
            ..TestSpec::default()
        };
        let log: LogFn = Arc::new(|_: &str| {});
        let opened = open(&local, &three(), "t/1", Arc::clone(&log)).unwrap();
        let e = opened.db.clock().err().unwrap();
        assert!(e.contains("local cluster"), "{e}");
        let real = TestSpec {
            nodes_file: Some(PathBuf::from("nodes.txt")),
            ..local
        };
        assert!(open(&real, &three(), "t/1", log)
            .unwrap()
            .db
            .clock()
            .is_ok());
    }
}
