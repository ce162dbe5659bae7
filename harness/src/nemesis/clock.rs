//! Clock faults through the target's `Clock` ability: bump (jump one node,
//! a minority, a majority, all, or the leaders by random offsets), strobe
//! (flip an offset on and off quickly), reset (offset 0 everywhere).
//! Jepsen's `nemesis/time.clj` sets the system clock; the target's `Clock`
//! decides how here. On the local cluster nodes share the kernel's clock,
//! so targets that honour libfaketime (raftkv) get a per-node offset file
//! and Go targets (etcd, Consul) refuse; on real hosts Go targets get
//! `targets::sysclock::SystemClock`, which moves each host's system clock
//! and undoes its own offset on reset. Offsets set are recorded in the
//! op's value.

use super::{FaultKind, Faults};
use rand::Rng;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;
use targets::db::DbError;
use workloads::NemesisError;

/// How many times a strobe flips, and how long between flips.
const STROBE_FLIPS: u32 = 20;
const STROBE_PERIOD: Duration = Duration::from_millis(50);

impl Faults {
    /// Jumps (or strobes) the clocks of a random non-empty subset of nodes.
    pub(super) async fn skew_clocks(&mut self, f: &str) -> Result<Value, NemesisError> {
        let max = self.opts.max_clock_skew_ms.max(1);
        let targets = self.pick_targets();
        let mut offsets = BTreeMap::new();
        for name in self.choose(targets).await? {
            let magnitude = self.rng.gen_range(max / 10 + 1..=max);
            let sign = if self.rng.gen_bool(0.5) { 1 } else { -1 };
            offsets.insert(name, sign * magnitude);
        }
        if f == "strobe-clock" {
            for flip in 0..STROBE_FLIPS {
                let on = flip % 2 == 0;
                let now: BTreeMap<String, i64> = offsets
                    .iter()
                    .map(|(n, o)| (n.clone(), if on { *o } else { 0 }))
                    .collect();
                self.set_offsets(&now).await?;
                tokio::time::sleep(STROBE_PERIOD).await;
            }
        }
        self.set_offsets(&offsets).await?;
        Ok(json!({ "offsets_ms": offsets }))
    }

    /// Readies every node for clock faults (the target's `Clock::prepare`)
    /// when the schedule has them; nothing otherwise.
    pub async fn prepare_clocks(&self) -> Result<(), NemesisError> {
        if !self.opts.kinds.contains(&FaultKind::Clock) {
            return Ok(());
        }
        self.db.clock().map_err(NemesisError)?;
        self.on_nodes(&self.names(), |db, ctx| {
            db.clock().map_err(DbError::Unsupported)?.prepare(ctx)
        })
        .await
    }

    /// Puts every node's clock back to the true time.
    pub(super) async fn reset_clocks(&mut self) -> Result<Value, NemesisError> {
        if self.db.clock().is_err() || !self.opts.network {
            return Ok(Value::Null);
        }
        let zeros: BTreeMap<String, i64> = self.names().into_iter().map(|n| (n, 0)).collect();
        self.set_offsets(&zeros).await?;
        Ok(json!("reset"))
    }

    async fn set_offsets(&mut self, offsets: &BTreeMap<String, i64>) -> Result<(), NemesisError> {
        self.db.clock().map_err(NemesisError)?;
        let nodes: Vec<String> = offsets.keys().cloned().collect();
        let shared = std::sync::Arc::new(offsets.clone());
        self.on_nodes(&nodes, move |db, ctx| {
            let clock = db.clock().map_err(DbError::Unsupported)?;
            clock.set_offset_ms(ctx, shared.get(ctx.node).copied().unwrap_or(0))
        })
        .await?;
        self.update(|a| {
            for (node, offset) in offsets {
                if *offset == 0 {
                    a.skewed.remove(node);
                } else {
                    a.skewed.insert(node.clone(), *offset);
                }
            }
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nemesis::{NemesisOptions, NodeHandle};
    use std::sync::{Arc, Mutex};
    use targets::db::{Clock, Db, NodeCtx};
    use targets::remote::{AsyncRemote, Local};

    /// A target whose clock records what it is asked, and fails to prepare
    /// on `broken`.
    #[derive(Default)]
    struct Recorded {
        calls: Mutex<Vec<String>>,
        broken: Option<&'static str>,
    }

    impl Db for Recorded {
        fn name(&self) -> &str {
            "recorded"
        }
        fn setup(&self, _: &NodeCtx<'_>) -> Result<(), DbError> {
            Ok(())
        }
        fn teardown(&self, _: &NodeCtx<'_>) -> Result<(), DbError> {
            Ok(())
        }
        fn clock(&self) -> Result<&dyn Clock, String> {
            Ok(self)
        }
    }

    impl Clock for Recorded {
        fn set_offset_ms(&self, ctx: &NodeCtx<'_>, offset_ms: i64) -> Result<(), DbError> {
            let mut calls = self.calls.lock().unwrap();
            calls.push(format!("{} set {offset_ms}", ctx.node));
            Ok(())
        }
        fn prepare(&self, ctx: &NodeCtx<'_>) -> Result<(), DbError> {
            self.calls
                .lock()
                .unwrap()
                .push(format!("{} prepare", ctx.node));
            match self.broken {
                Some(n) if n == ctx.node => Err(DbError::Unsupported("no compiler".into())),
                _ => Ok(()),
            }
        }
    }

    fn faults(db: &Arc<Recorded>, kinds: Vec<FaultKind>) -> Faults {
        let nodes = ["n1", "n2", "n3"].map(|n| NodeHandle {
            name: n.into(),
            addr: "127.0.0.1".into(),
            remote: AsyncRemote::new(Local::new()),
        });
        let opts = NemesisOptions {
            kinds,
            ..NemesisOptions::default()
        };
        Faults::new(nodes.to_vec(), Arc::clone(db) as Arc<dyn Db>, opts, 1)
    }

    fn calls(db: &Recorded) -> Vec<String> {
        let mut c = db.calls.lock().unwrap().clone();
        c.sort();
        c
    }

    #[tokio::test]
    async fn clocks_are_prepared_on_every_node_only_when_the_schedule_has_them() {
        let db = Arc::new(Recorded::default());
        faults(&db, vec![FaultKind::Partition])
            .prepare_clocks()
            .await
            .unwrap();
        assert!(calls(&db).is_empty());
        faults(&db, vec![FaultKind::Clock])
            .prepare_clocks()
            .await
            .unwrap();
        assert_eq!(calls(&db), ["n1 prepare", "n2 prepare", "n3 prepare"]);
    }

    #[tokio::test]
    async fn a_node_that_cannot_prepare_fails_naming_itself() {
        let db = Arc::new(Recorded {
            broken: Some("n2"),
            ..Recorded::default()
        });
        let e = faults(&db, vec![FaultKind::Clock])
            .prepare_clocks()
            .await
            .unwrap_err();
        assert_eq!(e.0, "n2: no compiler");
    }

    #[tokio::test]
    async fn reset_sets_every_node_to_offset_zero() {
        let db = Arc::new(Recorded::default());
        faults(&db, vec![FaultKind::Clock])
            .reset_clocks()
            .await
            .unwrap();
        assert_eq!(calls(&db), ["n1 set 0", "n2 set 0", "n3 set 0"]);
    }
}
