//! Process faults through the target's abilities: kill and restart, pause
//! and resume, on one node, a minority, a majority, all, or the primaries
//! (Jepsen's `nemesis/combined.clj` `db-nemesis` and its node specs).
//! `Db` calls block, so each runs on tokio's blocking pool.

use super::{Cluster, Family, FaultKind, FaultOp, NodeHandle, Targets};
use rand::seq::SliceRandom;
use serde_json::{json, Value};
use std::sync::Arc;
use targets::db::{Db, DbError, NodeCtx};
use workloads::client::BoxFuture;
use workloads::NemesisError;

/// The nemesis of kills and pauses.
pub struct Processes;

impl Family for Processes {
    fn kinds(&self) -> &'static [FaultKind] {
        &[FaultKind::Kill, FaultKind::Pause]
    }

    fn invoke<'a>(
        &'a mut self,
        cluster: &'a mut Cluster,
        op: FaultOp,
    ) -> BoxFuture<'a, Result<Value, NemesisError>> {
        Box::pin(async move {
            match op {
                FaultOp::Start => cluster.restart_killed().await,
                FaultOp::Resume => cluster.resume_paused().await,
                _ => cluster.process_fault(op == FaultOp::Pause).await,
            }
        })
    }

    /// Resumes every node, then starts the target wherever it is not
    /// running.
    fn heal<'a>(
        &'a mut self,
        cluster: &'a mut Cluster,
    ) -> BoxFuture<'a, Result<Value, NemesisError>> {
        Box::pin(async move {
            let resumed = cluster.resume_all().await;
            let started = cluster.restart_all().await;
            super::every_one(vec![resumed.map(|_| ()), started.map(|_| ())])?;
            Ok(Value::Null)
        })
    }
}

impl Cluster {
    /// Kills (or pauses) the nodes of a randomly chosen target set.
    pub(super) async fn process_fault(&mut self, pause: bool) -> Result<Value, NemesisError> {
        let targets = self.pick_targets();
        let chosen = self.choose(targets).await?;
        for node in &chosen {
            if pause {
                self.update(|a| {
                    a.paused.insert(node.clone());
                });
            } else {
                self.update(|a| {
                    a.killed.insert(node.clone());
                });
            }
        }
        self.on_nodes(&chosen, move |db, ctx| match pause {
            true => ability(db.as_pause(), db, "paused")?.pause(ctx),
            false => ability(db.as_kill(), db, "killed")?.kill(ctx),
        })
        .await?;
        Ok(json!({ "targets": targets, "nodes": chosen }))
    }

    /// Starts every node the nemesis killed.
    pub(super) async fn restart_killed(&mut self) -> Result<Value, NemesisError> {
        let killed: Vec<String> = self.lock_active().killed.iter().cloned().collect();
        self.start_nodes(&killed).await?;
        Ok(json!({ "started": killed }))
    }

    /// Resumes every node the nemesis paused.
    pub(super) async fn resume_paused(&mut self) -> Result<Value, NemesisError> {
        let paused: Vec<String> = self.lock_active().paused.iter().cloned().collect();
        self.resume_nodes(&paused).await?;
        Ok(json!({ "resumed": paused }))
    }

    /// Resumes the target on every node (healing: whatever is recorded).
    pub(super) async fn resume_all(&mut self) -> Result<Value, NemesisError> {
        if self.db.as_pause().is_none() {
            return Ok(Value::Null);
        }
        let all = self.names();
        self.resume_nodes(&all).await?;
        Ok(json!({ "resumed": all }))
    }

    /// Starts the target on every node where it is not running (healing).
    pub(super) async fn restart_all(&mut self) -> Result<Value, NemesisError> {
        if self.db.as_kill().is_none() {
            return Ok(Value::Null);
        }
        let all = self.names();
        self.start_nodes(&all).await?;
        Ok(json!({ "started": all }))
    }

    pub(super) async fn start_nodes(&mut self, nodes: &[String]) -> Result<(), NemesisError> {
        self.on_nodes(nodes, |db, ctx| {
            ability(db.as_kill(), db, "restarted")?.start(ctx)
        })
        .await?;
        self.update(|a| a.killed.retain(|n| !nodes.contains(n)));
        Ok(())
    }

    async fn resume_nodes(&mut self, nodes: &[String]) -> Result<(), NemesisError> {
        self.on_nodes(nodes, |db, ctx| {
            ability(db.as_pause(), db, "resumed")?.resume(ctx)
        })
        .await?;
        self.update(|a| a.paused.retain(|n| !nodes.contains(n)));
        Ok(())
    }

    /// The nodes that say they lead (any number, during a partition).
    pub(super) async fn primaries(&self) -> Result<Vec<String>, NemesisError> {
        let all = self.names();
        let answers = self
            .map_nodes(&all, |db, ctx| match db.as_primary() {
                Some(p) => p.is_primary(ctx),
                None => Err(DbError::Unsupported(format!(
                    "{} cannot tell which node leads",
                    db.name()
                ))),
            })
            .await;
        let mut leaders = Vec::new();
        for (node, answer) in all.into_iter().zip(answers) {
            match answer {
                Ok(true) => leaders.push(node),
                Ok(false) => {}
                Err(e @ DbError::Unsupported(_)) => return Err(NemesisError(e.to_string())),
                Err(_) => {} // an unreachable or crashed node does not lead
            }
        }
        Ok(leaders)
    }

    /// The nodes a process fault hits.
    pub(super) async fn choose(&mut self, targets: Targets) -> Result<Vec<String>, NemesisError> {
        let mut names = self.names();
        names.shuffle(&mut self.rng);
        let n = names.len();
        let count = match targets {
            Targets::One => 1,
            Targets::Minority => (n.saturating_sub(1) / 2).max(1),
            Targets::Majority => n / 2 + 1,
            Targets::All => n,
            Targets::Primaries => {
                let primaries = self.primaries().await?;
                if !primaries.is_empty() {
                    return Ok(primaries);
                }
                1 // no leader right now: hit one node instead
            }
        };
        names.truncate(count.min(n));
        names.sort();
        Ok(names)
    }

    /// Runs `action` on each named node, concurrently; the error names
    /// every node where it failed.
    pub(super) async fn on_nodes<F>(&self, nodes: &[String], action: F) -> Result<(), NemesisError>
    where
        F: Fn(&dyn Db, &NodeCtx<'_>) -> Result<(), DbError> + Send + Sync + Clone + 'static,
    {
        let answers = self.map_nodes(nodes, action).await;
        let results = nodes.iter().zip(answers).map(|(node, r)| {
            r.map_err(|e| NemesisError(crate::error::on_node(node, &e.to_string())))
        });
        super::every_one(results.collect())
    }

    /// Runs `action` on each named node on the blocking pool, returning
    /// every answer in order.
    pub(super) async fn map_nodes<T, F>(
        &self,
        nodes: &[String],
        action: F,
    ) -> Vec<Result<T, DbError>>
    where
        T: Send + 'static,
        F: Fn(&dyn Db, &NodeCtx<'_>) -> Result<T, DbError> + Send + Sync + Clone + 'static,
    {
        let all = self.names();
        let tasks = nodes.iter().map(|name| {
            let handle: Option<NodeHandle> = self.nodes.iter().find(|n| &n.name == name).cloned();
            let (db, all, action, name) = (
                Arc::clone(&self.db),
                all.clone(),
                action.clone(),
                name.clone(),
            );
            async move {
                let handle =
                    handle.ok_or_else(|| DbError::Unsupported(format!("no node named {name}")))?;
                let remote = handle.remote.blocking();
                let joined = tokio::task::spawn_blocking(move || {
                    let ctx = NodeCtx {
                        node: &handle.name,
                        nodes: &all,
                        remote: remote.as_ref(),
                    };
                    action(db.as_ref(), &ctx)
                })
                .await;
                joined.unwrap_or_else(|e| {
                    Err(DbError::Unsupported(format!("{name}: task failed: {e}")))
                })
            }
        });
        futures::future::join_all(tasks).await
    }

    fn lock_active(&self) -> std::sync::MutexGuard<'_, super::Active> {
        self.active.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The ability, or an error naming what the target cannot do.
fn ability<'a, T: ?Sized>(a: Option<&'a T>, db: &dyn Db, verb: &str) -> Result<&'a T, DbError> {
    a.ok_or_else(|| DbError::Unsupported(format!("{} cannot be {verb}", db.name())))
}
