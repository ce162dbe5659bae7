//! The local cluster: real hosts on one machine without Docker or VMs, so
//! the harness reaches them over SSH exactly as it reaches remote machines.
//!
//! Each node is a network namespace on a private bridge, with its own UTS,
//! PID and mount namespaces (hostname, process table, /root, /dev/shm,
//! /var/lib/temblor, /opt/temblor, /etc/hosts) and its own sshd with
//! key-only root login.
//! [`up`] builds it and records everything in an intent log ([`state`]),
//! [`down`] removes exactly that, and [`Cluster`] is the handle the harness
//! uses: node names, addresses, and an [`Ssh`] remote per node. Mininet
//! builds its hosts the same way; Jepsen's LXC and Docker environments play
//! the same role.

mod down;
mod host;
mod net;
pub mod state;
mod status;
mod up;

pub use down::{down, DownReport};
pub use net::Subnet;
pub use state::{NodeRecord, State};
pub use status::{exec_latency, status, Latency, NodeStatus};
pub use up::{up, UpOptions};

use crate::node::NodeError;
use crate::remote::{RemoteError, Ssh, SshConfig};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

/// Where the cluster lives unless `--dir` says otherwise. Not under
/// /var/lib/temblor or /root: nodes mount their own over those.
pub const DEFAULT_DIR: &str = "/var/lib/temblor-cluster";
/// The bridge's default name.
pub const DEFAULT_BRIDGE: &str = "tmbr0";
/// The bridge's default /24.
pub const DEFAULT_SUBNET: &str = "10.77.0.0/24";

/// The highest local-cluster slot (see [`Slot`]).
pub const MAX_SLOT: u8 = 99;

/// Which of several local clusters on one machine: slot 0 is the default
/// (`/var/lib/temblor-cluster`, bridge `tmbr0`, 10.77.0.0/24); slot k is
/// `/var/lib/temblor-cluster-k`, bridge `tmbrk`, 10.77.k.0/24. Clusters in
/// different slots share nothing, so two runs (or two CI jobs) on one
/// machine do not collide.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Slot(u8);

impl Slot {
    /// Slot `k`, 0 to [`MAX_SLOT`].
    pub fn new(k: u8) -> Result<Slot, ClusterError> {
        match k <= MAX_SLOT {
            true => Ok(Slot(k)),
            false => Err(ClusterError::BadOption(format!(
                "local cluster {k}: choose 0 to {MAX_SLOT}"
            ))),
        }
    }

    /// The slot `TEMBLOR_CLUSTER` names, 0 when unset.
    pub fn from_env() -> Result<Slot, ClusterError> {
        match std::env::var("TEMBLOR_CLUSTER") {
            Err(_) => Ok(Slot(0)),
            Ok(v) => v
                .trim()
                .parse::<u8>()
                .map_err(|_| {
                    ClusterError::BadOption(format!(
                        "TEMBLOR_CLUSTER={v:?}: a local cluster number, 0 to {MAX_SLOT}"
                    ))
                })
                .and_then(Slot::new),
        }
    }

    /// Its number.
    pub fn number(self) -> u8 {
        self.0
    }

    /// Where its keys, configs and state file live.
    pub fn dir(self) -> PathBuf {
        match self.0 {
            0 => PathBuf::from(DEFAULT_DIR),
            k => PathBuf::from(format!("{DEFAULT_DIR}-{k}")),
        }
    }

    /// Its bridge (`tmbr<k>`); nodes' namespaces are `<bridge>-nN`.
    pub fn bridge(self) -> String {
        format!("tmbr{}", self.0)
    }

    /// Its private /24, `10.77.<k>.0/24`.
    pub fn subnet(self) -> Subnet {
        Subnet::new(Ipv4Addr::new(10, 77, self.0, 0))
    }

    /// How `up` builds this slot's cluster of `nodes` nodes.
    pub fn up_options(self, nodes: usize) -> UpOptions {
        UpOptions {
            dir: self.dir(),
            nodes,
            bridge: self.bridge(),
            subnet: self.subnet(),
        }
    }
}

/// Why a local-cluster operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// Namespaces, links and mounts need privileges we lack.
    #[error("the local cluster needs root (or CAP_NET_ADMIN and CAP_SYS_ADMIN) to create namespaces, links and mounts; run it with sudo")]
    NotPrivileged,
    /// An option has a value we cannot use.
    #[error("{0}")]
    BadOption(String),
    /// The chosen /24 is already assigned or routed here.
    #[error(
        "subnet {subnet} is already in use on this machine ({by}); choose another with --subnet"
    )]
    SubnetInUse { subnet: String, by: String },
    /// A link with the bridge's name exists but is not ours.
    #[error("a link named {name} already exists; choose another bridge name with --bridge")]
    LinkExists { name: String },
    /// `up` found a state file: a cluster is up (or half down).
    #[error("a cluster is already up at {} (state.json present); run `temblor cluster down --dir {}` first", dir.display(), dir.display())]
    AlreadyUp { dir: PathBuf },
    /// No state file where one was expected.
    #[error("no cluster at {} (no state.json); start one with `temblor cluster up`", dir.display())]
    NotUp { dir: PathBuf },
    /// A node name the cluster does not have.
    #[error("no node {node} in the cluster at {}", dir.display())]
    UnknownNode { node: String, dir: PathBuf },
    /// A node did not come up.
    #[error("node {node}: {reason}; the end of {}:\n{log_tail}", log.display())]
    NodeFailed {
        node: String,
        reason: String,
        log: PathBuf,
        log_tail: String,
    },
    /// `down` could not remove some resources; the state file is kept.
    #[error("could not remove everything the cluster at {} made ({}); fix that and run down again", dir.display(), problems.join("; "))]
    Teardown { dir: PathBuf, problems: Vec<String> },
    /// The state file is unreadable.
    #[error("state file {}: {reason}", path.display())]
    State { path: PathBuf, reason: String },
    /// A local file operation failed.
    #[error("{during} {}", path.display())]
    Io {
        during: String,
        path: PathBuf,
        source: std::io::Error,
    },
    /// A command on this machine failed.
    #[error(transparent)]
    Host(#[from] RemoteError),
    /// A node chore failed.
    #[error(transparent)]
    Node(#[from] NodeError),
}

impl ClusterError {
    pub(crate) fn io(during: &str, path: &Path, source: std::io::Error) -> Self {
        ClusterError::Io {
            during: during.to_string(),
            path: path.to_path_buf(),
            source,
        }
    }

    /// Whether the user can fix this by changing the command line.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            ClusterError::BadOption(_)
                | ClusterError::SubnetInUse { .. }
                | ClusterError::LinkExists { .. }
                | ClusterError::AlreadyUp { .. }
                | ClusterError::NotUp { .. }
                | ClusterError::UnknownNode { .. }
        )
    }
}

/// A running local cluster, read from its state file.
#[derive(Debug, Clone)]
pub struct Cluster {
    dir: PathBuf,
    state: State,
}

impl Cluster {
    /// The cluster whose state file is in `dir`.
    pub fn open(dir: &Path) -> Result<Self, ClusterError> {
        match state::load(dir)? {
            Some(state) => Ok(Cluster {
                dir: dir.to_path_buf(),
                state,
            }),
            None => Err(ClusterError::NotUp {
                dir: dir.to_path_buf(),
            }),
        }
    }

    /// The cluster directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The recorded state.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// The nodes, in order (`n1`, `n2`, ...).
    pub fn nodes(&self) -> &[NodeRecord] {
        &self.state.nodes
    }

    /// The node names, in order.
    pub fn names(&self) -> Vec<String> {
        self.state.nodes.iter().map(|n| n.name.clone()).collect()
    }

    /// The address of `node` on the bridge.
    pub fn addr(&self, node: &str) -> Result<Ipv4Addr, ClusterError> {
        self.record(node).map(|n| n.addr)
    }

    /// The client's private key (root on every node accepts it).
    pub fn key_path(&self) -> PathBuf {
        self.dir.join("id_ed25519")
    }

    /// known_hosts with every node's host key, by name and by address.
    pub fn known_hosts_path(&self) -> PathBuf {
        self.dir.join("known_hosts")
    }

    /// An OpenSSH client config: `ssh -F <this> n1`.
    pub fn ssh_config_path(&self) -> PathBuf {
        self.dir.join("ssh_config")
    }

    /// How to reach `node`: root at its address with the cluster's key and
    /// known_hosts, strict host key checking.
    pub fn ssh_config(&self, node: &str) -> Result<SshConfig, ClusterError> {
        let record = self.record(node)?;
        let mut cfg = SshConfig::new(&record.name, &record.addr.to_string(), &self.key_path());
        cfg.known_hosts = self.known_hosts_path();
        Ok(cfg)
    }

    /// An [`Ssh`] remote for `node` (connects on first use).
    pub fn ssh(&self, node: &str) -> Result<Ssh, ClusterError> {
        Ok(Ssh::new(self.ssh_config(node)?))
    }

    fn record(&self, node: &str) -> Result<&NodeRecord, ClusterError> {
        self.state
            .nodes
            .iter()
            .find(|n| n.name == node)
            .ok_or_else(|| ClusterError::UnknownNode {
                node: node.to_string(),
                dir: self.dir.clone(),
            })
    }
}

/// Fails unless this process has CAP_NET_ADMIN and CAP_SYS_ADMIN.
pub(crate) fn check_privileges() -> Result<(), ClusterError> {
    let path = Path::new("/proc/self/status");
    let status = std::fs::read_to_string(path).map_err(|e| ClusterError::io("read", path, e))?;
    if has_admin_caps(&status) {
        Ok(())
    } else {
        Err(ClusterError::NotPrivileged)
    }
}

/// Whether a `/proc/<pid>/status` text shows both capabilities effective.
fn has_admin_caps(status: &str) -> bool {
    const CAP_NET_ADMIN: u32 = 12;
    const CAP_SYS_ADMIN: u32 = 21;
    let caps = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .unwrap_or(0);
    caps & (1 << CAP_NET_ADMIN) != 0 && caps & (1 << CAP_SYS_ADMIN) != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn privileges_need_both_capabilities() {
        assert!(has_admin_caps(
            "Name:\ttemblor\nCapEff:\t000001ffffffffff\n"
        ));
        assert!(has_admin_caps("CapEff:\t0000000000201000\n"));
        assert!(
            !has_admin_caps("CapEff:\t0000000000001000\n"),
            "CAP_NET_ADMIN alone"
        );
        assert!(!has_admin_caps("CapEff:\t0000000000000000\n"));
        assert!(!has_admin_caps("no caps line"));
        assert!(ClusterError::NotPrivileged
            .to_string()
            .contains("needs root (or CAP_NET_ADMIN and CAP_SYS_ADMIN)"));
    }
}
