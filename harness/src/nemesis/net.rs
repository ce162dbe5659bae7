//! Network faults with iptables, in a chain of temblor's own on each node
//! (Jepsen's `net.clj` drops on INPUT; we do it in chain `temblor`, jumped
//! to from INPUT, so that healing flushes only our rules and leaves a real
//! host's firewall untouched).
//!
//! Only traffic from other test nodes is dropped: the controller's SSH
//! sessions come from elsewhere and keep working during a partition.
//! Packet delay needs `tc netem`; where a node's kernel lacks it, a run
//! that asks for delay (`--packet-delay`) is refused before it starts,
//! saying so ([`has_netem`]).
//!
//! Every command runs as root: through `sudo -n` when the SSH user is not
//! root, like every other command temblor runs on a node. Healing fails
//! loudly when iptables or tc does: a heal that cannot remove a rule must
//! never look like one that did.

use super::{Cluster, Family, FaultKind, FaultOp, NemesisError, Shape};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use targets::remote::{escape, AsyncRemote, Command};
use workloads::client::BoxFuture;

/// The nemesis of partitions and packet faults: both are rules in our
/// chain, and healing one heals both.
pub struct Network;

impl Family for Network {
    fn kinds(&self) -> &'static [FaultKind] {
        &[FaultKind::Partition, FaultKind::Packet]
    }

    fn invoke<'a>(
        &'a mut self,
        cluster: &'a mut Cluster,
        op: FaultOp,
    ) -> BoxFuture<'a, Result<Value, NemesisError>> {
        Box::pin(async move {
            match op {
                FaultOp::StartPartition => cluster.partition().await,
                FaultOp::StartLoss => cluster.loss().await,
                _ => {
                    cluster.heal_network().await?;
                    Ok(json!("healed"))
                }
            }
        })
    }

    fn heal<'a>(
        &'a mut self,
        cluster: &'a mut Cluster,
    ) -> BoxFuture<'a, Result<Value, NemesisError>> {
        Box::pin(async move { cluster.heal_network().await.map(|_| Value::Null) })
    }
}

impl Cluster {
    pub(super) async fn partition(&mut self) -> Result<Value, NemesisError> {
        use rand::seq::SliceRandom;
        let shape = *self
            .opts
            .shapes
            .choose(&mut self.rng)
            .ok_or_else(|| NemesisError("no partition shapes to choose from".into()))?;
        let leader = if shape == Shape::Leader {
            self.primaries().await?.into_iter().next()
        } else {
            None
        };
        let grudge =
            super::grudge::for_shape(shape, &self.names(), leader.as_deref(), &mut self.rng)
                .map_err(NemesisError)?;
        self.update(|a| a.partition = true);
        let mut tasks = Vec::new();
        for (node, dropped) in &grudge {
            let handle = self.node(node)?.clone();
            let addrs = dropped
                .iter()
                .map(|d| self.node(d).map(|n| n.addr.clone()))
                .collect::<Result<BTreeSet<_>, _>>()?;
            tasks.push(async move { drop_from(&handle.remote, &addrs).await });
        }
        super::join_all(tasks).await?;
        Ok(json!({ "shape": shape, "grudge": grudge }))
    }

    pub(super) async fn loss(&mut self) -> Result<Value, NemesisError> {
        self.update(|a| a.loss = true);
        let (fraction, delay_ms) = (self.opts.loss, self.opts.delay_ms);
        let mut tasks = Vec::new();
        for node in &self.nodes {
            let others: BTreeSet<String> = self
                .nodes
                .iter()
                .filter(|n| n.name != node.name)
                .map(|n| n.addr.clone())
                .collect();
            let remote = node.remote.clone();
            tasks.push(async move {
                lose_from(&remote, &others, fraction).await?;
                match delay_ms {
                    0 => Ok(()),
                    ms => delay_to(&remote, &others, ms).await,
                }
            });
        }
        super::join_all(tasks).await?;
        Ok(json!({ "loss": fraction, "delay_ms": delay_ms }))
    }

    pub(super) async fn check_network(&self) -> Result<(), String> {
        if self.opts.delay_ms == 0 || !self.opts.kinds.contains(&FaultKind::Packet) {
            return Ok(());
        }
        let probes = self.nodes.iter().map(|n| has_netem(&n.remote));
        let answers = futures::future::join_all(probes).await;
        let lacking: Vec<&str> = self
            .nodes
            .iter()
            .zip(answers)
            .filter(|(_, ok)| !ok)
            .map(|(n, _)| n.name.as_str())
            .collect();
        if lacking.is_empty() {
            return Ok(());
        }
        Err(format!(
            "--packet-delay needs tc and the netem qdisc (sch_netem), which {} lack{} \
             (checked with: {}); packet loss works without it: run without --packet-delay",
            lacking.join(", "),
            if lacking.len() == 1 { "s" } else { "" },
            NETEM_PROBE.split_whitespace().collect::<Vec<_>>().join(" ")
        ))
    }

    /// Heals the network on every node; the error names every node that
    /// could not be healed.
    pub(super) async fn heal_network(&self) -> Result<(), NemesisError> {
        if !self.opts.network {
            return Ok(());
        }
        let tasks = self.nodes.iter().map(|n| heal(&n.remote));
        super::every_one(futures::future::join_all(tasks).await)?;
        self.update(|a| {
            a.partition = false;
            a.loss = false;
        });
        Ok(())
    }
}

/// The chain temblor owns on every node.
pub const CHAIN: &str = "temblor";

/// Creates the chain and the jump to it, if missing (idempotent).
fn ensure_chain() -> String {
    format!(
        "iptables -w -N {CHAIN} 2>/dev/null; \
         iptables -w -C INPUT -j {CHAIN} 2>/dev/null || iptables -w -I INPUT -j {CHAIN}"
    )
}

/// Drops every packet from `sources` (addresses) on this node.
pub async fn drop_from(
    remote: &AsyncRemote,
    sources: &BTreeSet<String>,
) -> Result<(), NemesisError> {
    let mut script = ensure_chain();
    for src in sources {
        script.push_str(&format!(
            "; iptables -w -A {CHAIN} -s {} -j DROP",
            escape(src)
        ));
    }
    run(remote, script).await
}

/// Drops a random `fraction` of the packets from `sources` (iptables
/// `statistic` match).
pub async fn lose_from(
    remote: &AsyncRemote,
    sources: &BTreeSet<String>,
    fraction: f64,
) -> Result<(), NemesisError> {
    let mut script = ensure_chain();
    for src in sources {
        script.push_str(&format!(
            "; iptables -w -A {CHAIN} -s {} -m statistic --mode random --probability {fraction:.4} -j DROP",
            escape(src)
        ));
    }
    run(remote, script).await
}

/// The interfaces this node reaches `peers` through (`ip route get`), as a
/// shell word list.
fn peer_devices(peers: &BTreeSet<String>) -> String {
    let probes: Vec<String> = peers
        .iter()
        .map(|p| format!("ip -o route get {} 2>/dev/null", escape(p)))
        .collect();
    format!(
        "$( ( {} ) | sed -n 's/.* dev \\([^ ]*\\).*/\\1/p' | sort -u)",
        probes.join("; ")
    )
}

/// Delays every packet this node sends towards `peers` by `delay_ms`, with
/// a netem root qdisc on the interfaces that lead to them (Jepsen's
/// `net/shape!` does the same on eth0).
pub async fn delay_to(
    remote: &AsyncRemote,
    peers: &BTreeSet<String>,
    delay_ms: u64,
) -> Result<(), NemesisError> {
    let script = format!(
        "for dev in {}; do tc qdisc replace dev \"$dev\" root netem delay {delay_ms}ms || exit 1; done",
        peer_devices(peers)
    );
    run(remote, script).await
}

/// The script that removes every rule temblor added on this node (it
/// flushes our chain only) and a netem root qdisc on any interface (never
/// another kind of qdisc). A node without iptables has no rule of ours; a
/// node with iptables that fails (no privileges) fails the heal.
pub fn heal_script() -> String {
    format!(
        "if command -v iptables >/dev/null; then \
           rules=$(iptables -w -S) || exit 1; \
           if printf '%s\\n' \"$rules\" | grep -qx -- '-N {CHAIN}'; then \
             iptables -w -F {CHAIN} || exit 1; \
           fi; \
         fi; \
         if command -v tc >/dev/null; then \
           for dev in $(ls /sys/class/net); do \
             if tc qdisc show dev \"$dev\" root | grep -q '^qdisc netem'; then \
               tc qdisc del dev \"$dev\" root || exit 1; \
             fi; \
           done; \
         fi"
    )
}

/// Heals the network of this node ([`heal_script`]).
pub async fn heal(remote: &AsyncRemote) -> Result<(), NemesisError> {
    run(remote, heal_script()).await
}

/// The shell test for `tc` with the netem qdisc: as a module, loaded, or
/// built into the kernel.
pub const NETEM_PROBE: &str = "command -v tc >/dev/null && \
     { modprobe -n sch_netem 2>/dev/null || test -e /sys/module/sch_netem || \
       grep -qs 'sch_netem' /lib/modules/$(uname -r)/modules.builtin; }";

/// Whether this node has `tc` and a kernel with netem (for delay faults).
pub async fn has_netem(remote: &AsyncRemote) -> bool {
    let probe = Command::shell(NETEM_PROBE).sudo().unchecked();
    matches!(remote.exec(probe).await, Ok(o) if o.success())
}

async fn run(remote: &AsyncRemote, script: String) -> Result<(), NemesisError> {
    remote
        .exec(Command::shell(&script).sudo())
        .await
        .map(|_| ())
        .map_err(|e| NemesisError(e.to_string()))
}
