//! The first phase of a run: where the nodes are and how to reach them.
//! Either the local cluster (reused when one is already up, otherwise
//! brought up for this run and taken down after it) or real machines named
//! in a nodes file. Either way the rest of the run sees the same thing: a
//! name, an address and an SSH session per node (Jepsen's `with-sessions`).

use super::spec::TestSpec;
use crate::error::UsageError;
use crate::nemesis::NodeHandle;
use anyhow::Context as _;
use std::path::{Path, PathBuf};
use targets::cluster::{self, Cluster, Slot};
use targets::remote::{AsyncRemote, HostKeyPolicy, NoSsh, Ssh, SshConfig};

/// The nodes of a run, and whether the run owns the local cluster.
pub struct Nodes {
    /// One handle per node, in order.
    pub handles: Vec<NodeHandle>,
    /// The local cluster's folder when this run brought it up (and must
    /// take it down).
    pub owned_cluster: Option<PathBuf>,
}

impl Nodes {
    /// The node names, in order.
    pub fn names(&self) -> Vec<String> {
        self.handles.iter().map(|h| h.name.clone()).collect()
    }
}

/// Opens sessions to the nodes `spec` names, bringing up a local cluster
/// when it names no nodes file and none is up. Without `ssh` (a hosted
/// service attached with `ssh = false`) the nodes file only names them.
pub fn open(spec: &TestSpec, ssh: bool) -> anyhow::Result<Nodes> {
    match (&spec.nodes_file, ssh) {
        (Some(file), true) => open_real(spec, file, Connect::Now),
        (None, true) => open_local(spec),
        (Some(file), false) => {
            let handles = read_nodes_file(file)?
                .into_iter()
                .map(|(name, addr)| NodeHandle {
                    remote: AsyncRemote::new(NoSsh::new(&name)),
                    addr: resolve(&addr),
                    name,
                })
                .collect();
            Ok(Nodes {
                handles,
                owned_cluster: None,
            })
        }
        (None, false) => Err(UsageError(
            "a target attached with ssh = false needs --nodes-file naming its nodes".into(),
        )
        .into()),
    }
}

/// When to connect to a real machine.
#[derive(Clone, Copy, PartialEq)]
enum Connect {
    /// At once: a run needs every node, so one that cannot be reached is
    /// an error before anything starts.
    Now,
    /// On first use: healing carries on past a node it cannot reach, and
    /// that node's own calls say so.
    Lazily,
}

/// The nodes a nodes file names: `name [address]` a line, `#` comments.
pub fn read_nodes_file(file: &Path) -> anyhow::Result<Vec<(String, String)>> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| UsageError(format!("cannot read nodes file {}: {e}", file.display())))?;
    parse_nodes_file(&text, file)
}

/// The `(name, address)` of each node in the text of a nodes file. Names
/// become folders (under results/ and on the nodes), so each must be one
/// safe path component, and unique.
fn parse_nodes_file(text: &str, file: &Path) -> anyhow::Result<Vec<(String, String)>> {
    let mut nodes: Vec<(String, String)> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let at = format!("{}:{}", file.display(), i + 1);
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let mut words = line.split_whitespace();
        let name = words.next().unwrap_or_default();
        let addr = words.next().unwrap_or(name);
        if words.next().is_some() {
            return Err(
                UsageError(format!("{at}: expected `name [address]`, got {line:?}")).into(),
            );
        }
        super::spec::check_name("node name", name).map_err(|e| UsageError(format!("{at}: {e}")))?;
        if nodes.iter().any(|(n, _)| n == name) {
            return Err(UsageError(format!("{at}: node {name} is named twice")).into());
        }
        nodes.push((name.to_string(), addr.to_string()));
    }
    if nodes.is_empty() {
        return Err(UsageError(format!("nodes file {} names no nodes", file.display())).into());
    }
    Ok(nodes)
}

/// Handles to the nodes of an earlier run without bringing anything up or
/// connecting yet (a node that cannot be reached fails its own calls, not
/// the others'): `None` when its local cluster is gone (nothing to heal).
pub fn reopen(spec: &TestSpec) -> anyhow::Result<Option<Nodes>> {
    match &spec.nodes_file {
        Some(file) => open_real(spec, file, Connect::Lazily).map(Some),
        None => match Cluster::open(&slot(spec)?.dir()) {
            Ok(c) => Ok(Some(Nodes {
                handles: local_handles(&c)?,
                owned_cluster: None,
            })),
            Err(_) => Ok(None),
        },
    }
}

fn local_handles(cluster: &Cluster) -> anyhow::Result<Vec<NodeHandle>> {
    let mut handles = Vec::new();
    for node in cluster.nodes() {
        let ssh = cluster
            .ssh(&node.name)
            .with_context(|| format!("{}: cannot open a session", node.name))?;
        handles.push(NodeHandle {
            name: node.name.clone(),
            addr: node.addr.to_string(),
            remote: AsyncRemote::new(ssh),
        });
    }
    Ok(handles)
}

/// The local cluster slot `spec` names.
pub fn slot(spec: &TestSpec) -> anyhow::Result<Slot> {
    Slot::new(spec.cluster).map_err(|e| UsageError(e.to_string()).into())
}

fn open_local(spec: &TestSpec) -> anyhow::Result<Nodes> {
    let slot = slot(spec)?;
    let dir = slot.dir();
    let (cluster, owned) = match Cluster::open(&dir) {
        Ok(c) if c.nodes().len() == spec.nodes => (c, None),
        Ok(c) => {
            return Err(UsageError(format!(
                "a local cluster of {} nodes is already up in {} and this test wants {}: \
                 run `temblor cluster down` first, or pass --nodes {}",
                c.nodes().len(),
                dir.display(),
                spec.nodes,
                c.nodes().len()
            ))
            .into())
        }
        Err(_) => {
            tracing::info!("bringing up a local cluster of {} nodes", spec.nodes);
            let opts = slot.up_options(spec.nodes);
            let c = cluster::up(&opts).map_err(|e| {
                if e.is_usage() {
                    anyhow::Error::new(UsageError(e.to_string()))
                } else {
                    anyhow::Error::new(e).context("cannot bring up the local cluster")
                }
            })?;
            (c, Some(dir))
        }
    };
    Ok(Nodes {
        handles: local_handles(&cluster)?,
        owned_cluster: owned,
    })
}

/// Reads the nodes file and connects to each node (now, or on first use).
fn open_real(spec: &TestSpec, file: &Path, connect: Connect) -> anyhow::Result<Nodes> {
    let nodes = read_nodes_file(file)?;
    let key = spec.ssh.key.clone().ok_or_else(|| {
        UsageError(
            "real machines need an SSH key: pass --ssh-key (or ssh.key in the test file)".into(),
        )
    })?;
    let known_hosts = spec
        .ssh
        .known_hosts
        .clone()
        .unwrap_or_else(default_known_hosts);
    let mut handles = Vec::new();
    for (name, addr) in &nodes {
        let (name, addr) = (name.as_str(), addr.as_str());
        let cfg = SshConfig {
            port: spec.ssh.port,
            user: spec.ssh.username.clone(),
            known_hosts: known_hosts.clone(),
            host_keys: if spec.ssh.accept_new_host_keys {
                HostKeyPolicy::AcceptNew
            } else {
                HostKeyPolicy::Strict
            },
            ..SshConfig::new(name, addr, &key)
        };
        let ssh = match connect {
            Connect::Now => Ssh::connect(cfg)
                .map_err(|e| UsageError(format!("cannot reach node {name}: {e}")))?,
            Connect::Lazily => Ssh::new(cfg),
        };
        handles.push(NodeHandle {
            name: name.to_string(),
            addr: resolve(addr),
            remote: AsyncRemote::new(ssh),
        });
    }
    Ok(Nodes {
        handles,
        owned_cluster: None,
    })
}

/// The IP address of `host` as other nodes will see its packets (iptables
/// rules need addresses); the name itself when it does not resolve here.
fn resolve(host: &str) -> String {
    use std::net::ToSocketAddrs;
    (host, 22)
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .map_or_else(|| host.to_string(), |a| a.ip().to_string())
}

fn default_known_hosts() -> PathBuf {
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("/root"), PathBuf::from);
    home.join(".ssh/known_hosts")
}

/// Takes down the local cluster if this run brought it up.
pub fn close(nodes: &Nodes) -> anyhow::Result<()> {
    if let Some(dir) = &nodes.owned_cluster {
        cluster::down(dir)
            .with_context(|| format!("cannot take down the local cluster in {}", dir.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nodes_file_names_each_node_once_and_safely() {
        let file = Path::new("nodes.txt");
        let nodes =
            parse_nodes_file("# db hosts\nn1 10.0.0.1\n\nn2  # no address\n", file).unwrap();
        assert_eq!(
            nodes,
            vec![
                ("n1".to_string(), "10.0.0.1".to_string()),
                ("n2".to_string(), "n2".to_string())
            ]
        );
        let e = parse_nodes_file("n1\n../../etc 10.0.0.2\n", file).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("nodes.txt:2: node name \"../../etc\": use 1 to 100"),
            "{e}"
        );
        let e = parse_nodes_file("n1\nn1 10.0.0.2\n", file).unwrap_err();
        assert_eq!(e.to_string(), "nodes.txt:2: node n1 is named twice");
        let e = parse_nodes_file("n1 a b\n", file).unwrap_err();
        assert!(e.to_string().contains("expected `name [address]`"), "{e}");
        let e = parse_nodes_file("# nothing\n", file).unwrap_err();
        assert!(e.to_string().contains("names no nodes"), "{e}");
    }
}
