//! Clock faults through the target's `Clock` ability, as Jepsen's
//! `nemesis/time.clj` has them: each clock fault is a bump (jump the
//! clocks of one node, a minority, a majority, all, or the leaders by a
//! random offset) or a strobe (flip those clocks between their offset and
//! that plus a delta every period, for a duration, then leave them where
//! they were, as Jepsen's `strobe-time.c` does), and ends with a reset
//! (offset 0 everywhere). The target's `Clock` decides how a clock moves.
//! On the local cluster nodes share the kernel's clock, so targets that
//! honour libfaketime (raftkv) get a per-node offset file and Go targets
//! (etcd, Consul) refuse; on real hosts Go targets get
//! `targets::sysclock::SystemClock`, which moves each host's system clock
//! and undoes its own offset on reset.
//!
//! After every clock op the nemesis reads each affected node's clock as
//! the target's processes see it (`Clock::measure_offset_ms`, Jepsen's
//! `current-offset`) and records it in the op's value
//! (`measured_offsets_ms`) beside the offsets asked for (`offsets_ms`):
//! what a node showed, not what temblor hoped it would.

use super::{Cluster, Family, FaultKind, FaultOp};
use rand::Rng;
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::time::Duration;
use targets::db::DbError;
use workloads::client::BoxFuture;
use workloads::NemesisError;

/// How clock faults move clocks (the test's `clock_bump_*` and `strobe_*`
/// settings).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClockOptions {
    /// The smallest bump, in milliseconds.
    pub bump_min_ms: i64,
    /// The largest bump, in milliseconds.
    pub bump_max_ms: i64,
    /// What a strobe does.
    pub strobe: Strobe,
}

impl Default for ClockOptions {
    fn default() -> Self {
        ClockOptions {
            bump_min_ms: 10,
            bump_max_ms: 30_000,
            strobe: Strobe::default(),
        }
    }
}

/// A strobe: every `period_ms`, each chosen clock flips between its
/// offset and its offset plus `delta_ms`, for `duration_ms` (Jepsen's
/// `strobe-time delta period duration`). libfaketime targets re-read their
/// offset at most once a second, so they see flips faster than that only
/// now and then; system clocks see every one.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Strobe {
    /// How far a flip moves the clock, in milliseconds.
    pub delta_ms: i64,
    /// Time between flips, in milliseconds.
    pub period_ms: u64,
    /// How long the strobe lasts, in milliseconds.
    pub duration_ms: u64,
}

impl Default for Strobe {
    fn default() -> Self {
        Strobe {
            delta_ms: 5_000,
            period_ms: 500,
            duration_ms: 3_000,
        }
    }
}

impl Strobe {
    /// The offsets of flip number `flip` (0, 1, ...): even flips move
    /// every clock `delta_ms` off its `base`, odd ones put it back.
    pub fn offsets(&self, base: &BTreeMap<String, i64>, flip: u32) -> BTreeMap<String, i64> {
        let delta = if flip.is_multiple_of(2) {
            self.delta_ms
        } else {
            0
        };
        base.iter()
            .map(|(n, o)| (n.clone(), o.saturating_add(delta)))
            .collect()
    }
}

/// A bump's size: log-uniform between `min` and `max` ms (Jepsen draws
/// `1.5^(6..31)` ms, so small and large jumps are as likely), either sign.
pub fn bump_ms(rng: &mut impl Rng, min: i64, max: i64) -> i64 {
    let (lo, hi) = (min.max(1) as f64, max.max(min).max(1) as f64);
    let size = (lo.ln() + rng.gen::<f64>() * (hi.ln() - lo.ln())).exp();
    let size = (size.round() as i64).clamp(min.max(1), max.max(min).max(1));
    if rng.gen_bool(0.5) {
        size
    } else {
        -size
    }
}

/// The nemesis of clock faults.
pub struct Clocks;

impl Family for Clocks {
    fn kinds(&self) -> &'static [FaultKind] {
        &[FaultKind::Clock]
    }

    fn invoke<'a>(
        &'a mut self,
        cluster: &'a mut Cluster,
        op: FaultOp,
    ) -> BoxFuture<'a, Result<Value, NemesisError>> {
        Box::pin(async move {
            match op {
                FaultOp::BumpClock => cluster.bump_clocks().await,
                FaultOp::StrobeClock => cluster.strobe_clocks().await,
                FaultOp::MeasureClock => cluster.measure_clocks().await,
                _ => cluster.reset_clocks().await,
            }
        })
    }

    fn heal<'a>(
        &'a mut self,
        cluster: &'a mut Cluster,
    ) -> BoxFuture<'a, Result<Value, NemesisError>> {
        Box::pin(async move { cluster.reset_clocks().await.map(|_| Value::Null) })
    }
}

impl Cluster {
    /// Bumps the clocks of a random non-empty set of nodes, each by its
    /// own random offset on top of the one it has.
    pub(super) async fn bump_clocks(&mut self) -> Result<Value, NemesisError> {
        let chosen = self.clock_nodes().await?;
        let (min, max) = (self.opts.clock.bump_min_ms, self.opts.clock.bump_max_ms);
        let offsets: BTreeMap<String, i64> = chosen
            .into_iter()
            .map(|(n, now)| {
                let bump = bump_ms(&mut self.rng, min, max);
                (n, now.saturating_add(bump))
            })
            .collect();
        self.set_offsets(&offsets).await?;
        self.measured(json!({ "offsets_ms": offsets })).await
    }

    /// Strobes the clocks of a random non-empty set of nodes (see
    /// [`Strobe`]), then leaves them at the offsets they had.
    pub(super) async fn strobe_clocks(&mut self) -> Result<Value, NemesisError> {
        let base: BTreeMap<String, i64> = self.clock_nodes().await?.into_iter().collect();
        let strobe = self.opts.clock.strobe;
        let start = tokio::time::Instant::now();
        let end = start + Duration::from_millis(strobe.duration_ms);
        let mut flips = 0;
        while tokio::time::Instant::now() < end {
            self.set_offsets(&strobe.offsets(&base, flips)).await?;
            flips += 1;
            let next = start + Duration::from_millis(strobe.period_ms) * flips;
            tokio::time::sleep_until(next.min(end)).await;
        }
        self.set_offsets(&base).await?;
        self.measured(json!({ "strobe": strobe, "flips": flips, "offsets_ms": base }))
            .await
    }

    /// The nodes the next clock fault hits, each with its offset now.
    async fn clock_nodes(&mut self) -> Result<Vec<(String, i64)>, NemesisError> {
        let targets = self.pick_targets();
        let chosen = self.choose(targets).await?;
        Ok(self.offsets_now(chosen))
    }

    /// Each of `nodes` with the offset in force on it.
    fn offsets_now(&self, nodes: Vec<String>) -> Vec<(String, i64)> {
        let active = self.active.lock().unwrap_or_else(|e| e.into_inner());
        nodes
            .into_iter()
            .map(|n| {
                let now = active.skewed.get(&n).copied().unwrap_or(0);
                (n, now)
            })
            .collect()
    }

    /// Readies every node for clock faults (the target's `Clock::prepare`)
    /// when the schedule has them; nothing otherwise.
    pub(super) async fn prepare_clocks(&self) -> Result<(), NemesisError> {
        if !self.opts.kinds.contains(&FaultKind::Clock) {
            return Ok(());
        }
        self.db.clock().map_err(NemesisError)?;
        self.on_nodes(&self.names(), |db, ctx| {
            db.clock().map_err(DbError::Unsupported)?.prepare(ctx)
        })
        .await
    }

    /// Reads every node's clock, moving none: `offsets_ms` are the
    /// offsets in force (zero at the start of the workload).
    pub(super) async fn measure_clocks(&mut self) -> Result<Value, NemesisError> {
        let offsets: BTreeMap<String, i64> = self.offsets_now(self.names()).into_iter().collect();
        self.measured(json!({ "offsets_ms": offsets })).await
    }

    /// Puts every node's clock back to the true time.
    pub(super) async fn reset_clocks(&mut self) -> Result<Value, NemesisError> {
        if self.db.clock().is_err() || !self.opts.network {
            return Ok(Value::Null);
        }
        let zeros: BTreeMap<String, i64> = self.names().into_iter().map(|n| (n, 0)).collect();
        self.set_offsets(&zeros).await?;
        self.measured(json!({ "offsets_ms": zeros })).await
    }

    /// `value` (whose `offsets_ms` names the nodes the op moved) with
    /// each of those nodes' measured offsets added, as
    /// `measured_offsets_ms`; a node whose clock could not be read is
    /// left out of it and named in `measure_errors` instead: the fault
    /// was done, and its op must still say so.
    async fn measured(&self, mut value: Value) -> Result<Value, NemesisError> {
        let nodes: Vec<String> = value["offsets_ms"]
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        let readings = self
            .map_nodes(&nodes, |db, ctx| {
                db.clock()
                    .map_err(DbError::Unsupported)?
                    .measure_offset_ms(ctx)
            })
            .await;
        let (mut measured, mut errors) = (Map::new(), Map::new());
        for (node, reading) in nodes.into_iter().zip(readings) {
            match reading {
                Ok(ms) => measured.insert(node, json!((ms * 1000.0).round() / 1000.0)),
                Err(e) => errors.insert(node, json!(e.to_string())),
            };
        }
        value["measured_offsets_ms"] = Value::Object(measured);
        if !errors.is_empty() {
            value["measure_errors"] = Value::Object(errors);
        }
        Ok(value)
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

    /// A target whose clock records what it is asked, fails to prepare
    /// and to be read on `broken`, and reads as the offset last set.
    #[derive(Default)]
    struct Recorded {
        calls: Mutex<Vec<String>>,
        broken: Option<&'static str>,
        offsets: Mutex<BTreeMap<String, i64>>,
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
            let mut offsets = self.offsets.lock().unwrap();
            offsets.insert(ctx.node.to_string(), offset_ms);
            Ok(())
        }
        fn measure_offset_ms(&self, ctx: &NodeCtx<'_>) -> Result<f64, DbError> {
            match self.broken {
                Some(n) if n == ctx.node => Err(DbError::Unsupported("no date".into())),
                _ => Ok(self.offsets.lock().unwrap()[ctx.node] as f64 + 0.25),
            }
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

    fn faults(db: &Arc<Recorded>, kinds: Vec<FaultKind>) -> Cluster {
        with_clock(db, kinds, ClockOptions::default())
    }

    fn with_clock(db: &Arc<Recorded>, kinds: Vec<FaultKind>, clock: ClockOptions) -> Cluster {
        let nodes = ["n1", "n2", "n3"].map(|n| NodeHandle {
            name: n.into(),
            addr: "127.0.0.1".into(),
            remote: AsyncRemote::new(Local::new()),
        });
        let opts = NemesisOptions {
            kinds,
            targets: vec![crate::nemesis::Targets::All],
            clock,
            ..NemesisOptions::default()
        };
        Cluster::new(nodes.to_vec(), Arc::clone(db) as Arc<dyn Db>, opts, 1)
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
    async fn reset_sets_every_node_to_offset_zero_and_records_what_each_shows() {
        let db = Arc::new(Recorded::default());
        let v = faults(&db, vec![FaultKind::Clock])
            .reset_clocks()
            .await
            .unwrap();
        assert_eq!(calls(&db), ["n1 set 0", "n2 set 0", "n3 set 0"]);
        assert_eq!(
            v,
            json!({
                "offsets_ms": {"n1": 0, "n2": 0, "n3": 0},
                "measured_offsets_ms": {"n1": 0.25, "n2": 0.25, "n3": 0.25}
            })
        );
    }

    /// The offsets set on `node`, in order.
    fn sets_on(db: &Recorded, node: &str) -> Vec<i64> {
        let prefix = format!("{node} set ");
        let calls = db.calls.lock().unwrap();
        calls
            .iter()
            .filter_map(|c| c.strip_prefix(&prefix)?.parse().ok())
            .collect()
    }

    #[test]
    fn bumps_are_sized_within_the_range_either_sign_small_and_large_alike() {
        use rand::SeedableRng;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let sizes: Vec<i64> = (0..2000).map(|_| bump_ms(&mut rng, 10, 100_000)).collect();
        assert!(sizes.iter().all(|s| (10..=100_000).contains(&s.abs())));
        assert!(sizes.iter().any(|s| *s < 0) && sizes.iter().any(|s| *s > 0));
        // Log-uniform: a quarter of the decades (10 ms to 100 ms) gets
        // about a quarter of the draws, where uniform would give 0.09%.
        let small = sizes.iter().filter(|s| s.abs() < 100).count();
        assert!((300..700).contains(&small), "{small} of 2000 under 100 ms");
        let mut one = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        assert_eq!(bump_ms(&mut one, 7, 7).abs(), 7);
    }

    #[tokio::test]
    async fn a_bump_moves_each_chosen_clock_within_the_range_and_measures_it() {
        let db = Arc::new(Recorded::default());
        let clock = ClockOptions {
            bump_min_ms: 1000,
            bump_max_ms: 2000,
            ..ClockOptions::default()
        };
        let mut f = with_clock(&db, vec![FaultKind::Clock], clock);
        let v = f.bump_clocks().await.unwrap();
        for n in ["n1", "n2", "n3"] {
            let set = sets_on(&db, n);
            assert!(
                set.len() == 1 && (1000..=2000).contains(&set[0].abs()),
                "{n}: {set:?}"
            );
            assert_eq!(v["offsets_ms"][n], json!(set[0]));
            assert_eq!(v["measured_offsets_ms"][n], json!(set[0] as f64 + 0.25));
        }
        assert_eq!(f.active.lock().unwrap().skewed.len(), 3);
    }

    #[tokio::test]
    async fn a_strobe_flips_between_offset_and_delta_then_leaves_the_offset() {
        let db = Arc::new(Recorded::default());
        let strobe = Strobe {
            delta_ms: 200,
            period_ms: 1,
            duration_ms: 20,
        };
        let clock = ClockOptions {
            strobe,
            ..ClockOptions::default()
        };
        let mut f = with_clock(&db, vec![FaultKind::Clock], clock);
        let v = f.strobe_clocks().await.unwrap();
        let flips = v["flips"].as_u64().unwrap();
        assert!(flips >= 1, "{v}");
        for n in ["n1", "n2", "n3"] {
            let set = sets_on(&db, n);
            let (last, strobed) = set.split_last().unwrap();
            assert_eq!(*last, 0, "{n} ends where it was: {set:?}");
            assert_eq!(strobed.len() as u64, flips);
            for (i, o) in strobed.iter().enumerate() {
                assert_eq!(*o, if i % 2 == 0 { 200 } else { 0 }, "{n}: {set:?}");
            }
        }
        assert_eq!(
            v["strobe"],
            json!({"delta_ms": 200, "period_ms": 1, "duration_ms": 20})
        );
        assert_eq!(v["offsets_ms"], json!({"n1": 0, "n2": 0, "n3": 0}));
        assert_eq!(v["measured_offsets_ms"]["n2"], json!(0.25));
        assert!(f.active.lock().unwrap().skewed.is_empty());
    }

    #[test]
    fn a_strobe_flips_around_each_clocks_own_offset() {
        let strobe = Strobe {
            delta_ms: -50,
            period_ms: 10,
            duration_ms: 100,
        };
        let base = BTreeMap::from([("n1".to_string(), 1000), ("n2".to_string(), 0)]);
        assert_eq!(
            strobe.offsets(&base, 0),
            BTreeMap::from([("n1".to_string(), 950), ("n2".to_string(), -50)])
        );
        assert_eq!(strobe.offsets(&base, 1), base);
    }

    #[tokio::test]
    async fn a_measure_reads_every_clock_and_moves_none() {
        let db = Arc::new(Recorded::default());
        let mut f = faults(&db, vec![FaultKind::Clock]);
        let offsets = [("n1", 0), ("n2", 700), ("n3", 0)].map(|(n, o)| (n.to_string(), o));
        f.set_offsets(&BTreeMap::from(offsets)).await.unwrap();
        let before = calls(&db);
        let v = f.measure_clocks().await.unwrap();
        assert_eq!(calls(&db), before, "nothing moved");
        assert_eq!(v["offsets_ms"], json!({"n1": 0, "n2": 700, "n3": 0}));
        assert_eq!(v["measured_offsets_ms"]["n2"], json!(700.25));
    }

    #[tokio::test]
    async fn a_clock_that_cannot_be_read_is_named_and_the_fault_still_recorded() {
        let db = Arc::new(Recorded {
            broken: Some("n3"),
            ..Recorded::default()
        });
        let v = faults(&db, vec![FaultKind::Clock])
            .reset_clocks()
            .await
            .unwrap();
        assert_eq!(v["measure_errors"], json!({"n3": "no date"}));
        assert_eq!(v["measured_offsets_ms"], json!({"n1": 0.25, "n2": 0.25}));
    }
}
