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

use super::NemesisError;
use std::collections::BTreeSet;
use targets::remote::{escape, AsyncRemote, Command};

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

/// Removes every rule temblor added on this node (flushes our chain only),
/// and a netem root qdisc on any interface (never another kind of qdisc).
pub async fn heal(remote: &AsyncRemote) -> Result<(), NemesisError> {
    run(
        remote,
        format!(
            "iptables -w -F {CHAIN} 2>/dev/null || true; \
             if command -v tc >/dev/null; then \
               for dev in $(ls /sys/class/net); do \
                 tc qdisc show dev \"$dev\" root 2>/dev/null | grep -q '^qdisc netem' \
                   && tc qdisc del dev \"$dev\" root; \
               done; \
             fi; true"
        ),
    )
    .await
}

/// Removes the chain and its jump (after the test; idempotent).
pub async fn remove_chain(remote: &AsyncRemote) -> Result<(), NemesisError> {
    run(
        remote,
        format!(
            "iptables -w -D INPUT -j {CHAIN} 2>/dev/null; \
             iptables -w -F {CHAIN} 2>/dev/null; iptables -w -X {CHAIN} 2>/dev/null; true"
        ),
    )
    .await
}

/// How many rules our chain holds on this node (0 when it does not exist).
pub async fn rule_count(remote: &AsyncRemote) -> Result<usize, NemesisError> {
    let out = remote
        .exec(Command::shell(&format!(
            "iptables -w -S {CHAIN} 2>/dev/null || true"
        )))
        .await
        .map_err(|e| NemesisError(e.to_string()))?;
    Ok(out.stdout.lines().filter(|l| l.starts_with("-A ")).count())
}

/// The shell test for `tc` with the netem qdisc: as a module, loaded, or
/// built into the kernel.
pub const NETEM_PROBE: &str = "command -v tc >/dev/null && \
     { modprobe -n sch_netem 2>/dev/null || test -e /sys/module/sch_netem || \
       grep -qs 'sch_netem' /lib/modules/$(uname -r)/modules.builtin; }";

/// Whether this node has `tc` and a kernel with netem (for delay faults).
pub async fn has_netem(remote: &AsyncRemote) -> bool {
    matches!(remote.exec(Command::shell(NETEM_PROBE).unchecked()).await, Ok(o) if o.success())
}

async fn run(remote: &AsyncRemote, script: String) -> Result<(), NemesisError> {
    remote
        .exec(Command::shell(&script))
        .await
        .map(|_| ())
        .map_err(|e| NemesisError(e.to_string()))
}
