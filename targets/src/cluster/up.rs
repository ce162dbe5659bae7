//! `up`: builds the local cluster, journaling each resource before making it.

use super::host::{self, HostFiles};
use super::net::{self, Subnet};
use super::state::{Journal, NodeRecord, Resource, State, STATE_FILE};
use super::{check_privileges, Cluster, ClusterError, DEFAULT_BRIDGE, DEFAULT_DIR};
use crate::node;
use crate::remote::{Command, Local, Remote};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

/// How long a node's sshd may take to listen.
const READY_LIMIT: Duration = Duration::from_secs(10);
/// Directories nodes mount their own copies over: the cluster dir cannot
/// live under them, or sshd would not find its files.
const MASKED: [&str; 5] = [
    "/var/lib/temblor",
    "/opt/temblor",
    "/root",
    "/dev/shm",
    "/etc/hosts",
];

/// Machine-wide directories the nodes need: sshd's privilege-separation
/// directory and the mount points of each node's /var/lib/temblor and
/// /opt/temblor (so nodes of different clusters never share files). `up`
/// creates them when missing and `down` leaves them: another cluster may be
/// using them, and removing a mount point would unmount it in its nodes.
const SHARED_DIRS: [&str; 3] = ["/run/sshd", "/var/lib/temblor", "/opt/temblor"];

/// What to build.
#[derive(Debug, Clone)]
pub struct UpOptions {
    /// Where keys, configs, node files and the state file go.
    pub dir: PathBuf,
    /// How many nodes (1 to 200), named n1..nN.
    pub nodes: usize,
    /// The bridge's name (at most 10 characters: links are `<bridge>-nN`).
    pub bridge: String,
    /// The bridge's private /24.
    pub subnet: Subnet,
}

impl Default for UpOptions {
    fn default() -> Self {
        UpOptions {
            dir: PathBuf::from(DEFAULT_DIR),
            nodes: 5,
            bridge: DEFAULT_BRIDGE.to_string(),
            subnet: Subnet::DEFAULT,
        }
    }
}

impl UpOptions {
    fn validate(&self) -> Result<(), ClusterError> {
        let bad = |m: String| Err(ClusterError::BadOption(m));
        if !(1..=200).contains(&self.nodes) {
            return bad(format!("--nodes {}: choose 1 to 200", self.nodes));
        }
        let name_ok = |c: char| c.is_ascii_alphanumeric() || c == '_';
        if self.bridge.is_empty() || self.bridge.len() > 10 || !self.bridge.chars().all(name_ok) {
            return bad(format!(
                "--bridge {:?}: use 1 to 10 letters, digits or _",
                self.bridge
            ));
        }
        if !self.dir.is_absolute() {
            return bad(format!(
                "--dir {}: give an absolute path",
                self.dir.display()
            ));
        }
        if let Some(m) = MASKED.iter().find(|m| self.dir.starts_with(m)) {
            return bad(format!(
                "--dir {}: nodes mount their own {m}; choose a directory outside it",
                self.dir.display()
            ));
        }
        Ok(())
    }

    fn records(&self) -> Vec<NodeRecord> {
        (1..=self.nodes)
            .map(|i| NodeRecord {
                name: format!("n{i}"),
                addr: self.subnet.node(i),
                netns: format!("{}-n{i}", self.bridge),
            })
            .collect()
    }
}

/// Builds the cluster `opts` describes; on failure removes what it made.
pub fn up(opts: &UpOptions) -> Result<Cluster, ClusterError> {
    let started = Instant::now();
    opts.validate()?;
    check_privileges()?;
    let local = Local::new();
    node::install_packages(&local, &["openssh-server", "iptables"])?;
    preflight(&local, opts)?;
    let mut journal = begin(opts)?;
    if let Err(e) = build(&local, &mut journal, opts) {
        let _ = super::down(&opts.dir);
        return Err(e);
    }
    journal.state.up_millis = Some(started.elapsed().as_millis() as u64);
    journal.save()?;
    Cluster::open(&opts.dir)
}

fn preflight(local: &Local, opts: &UpOptions) -> Result<(), ClusterError> {
    if opts.dir.join(STATE_FILE).exists() {
        return Err(ClusterError::AlreadyUp {
            dir: opts.dir.clone(),
        });
    }
    if let Ok(mut entries) = std::fs::read_dir(&opts.dir) {
        if entries.next().is_some() {
            return Err(ClusterError::BadOption(format!(
                "--dir {}: exists and is not empty; give a new or empty directory",
                opts.dir.display()
            )));
        }
    }
    if net::link_exists(local, &opts.bridge)? {
        return Err(ClusterError::LinkExists {
            name: opts.bridge.clone(),
        });
    }
    let namespaces = net::netns_list(local)?;
    if let Some(ns) = opts
        .records()
        .into_iter()
        .find(|n| namespaces.contains(&n.netns))
    {
        return Err(ClusterError::LinkExists {
            name: format!("network namespace {}", ns.netns),
        });
    }
    net::check_free(local, &opts.subnet)
}

fn begin(opts: &UpOptions) -> Result<Journal, ClusterError> {
    std::fs::create_dir_all(&opts.dir).map_err(|e| ClusterError::io("create", &opts.dir, e))?;
    let state = State {
        bridge: opts.bridge.clone(),
        subnet: opts.subnet.to_string(),
        nodes: opts.records(),
        resources: vec![Resource::Dir {
            path: opts.dir.clone(),
            recursive: true,
        }],
        up_millis: None,
    };
    Journal::create(&opts.dir, state)
}

fn build(local: &Local, journal: &mut Journal, opts: &UpOptions) -> Result<(), ClusterError> {
    for dir in SHARED_DIRS {
        std::fs::create_dir_all(dir).map_err(|e| ClusterError::io("create", Path::new(dir), e))?;
    }
    host::keygen(local, &opts.dir.join("id_ed25519"), "temblor-cluster")?;
    bridge(local, journal, opts)?;
    let nodes = journal.state.nodes.clone();
    let client_pub = read(&opts.dir.join("id_ed25519.pub"))?;
    let hosts = host::hosts_file(&nodes);
    let mut known_hosts = String::new();
    for node in &nodes {
        let files = HostFiles::new(&opts.dir, &node.name);
        files.write(local, node, &client_pub, &hosts)?;
        known_hosts.push_str(&files.known_hosts_line(node)?);
        link(local, journal, opts, node)?;
    }
    host::write(&opts.dir.join("known_hosts"), &known_hosts)?;
    host::write(
        &opts.dir.join("ssh_config"),
        &host::ssh_config(&opts.dir, &nodes),
    )?;
    let listing: String = nodes
        .iter()
        .map(|n| format!("{} {}\n", n.name, n.addr))
        .collect();
    host::write(&opts.dir.join("nodes.list"), &listing)?;
    let mut children = Vec::new();
    for node in &nodes {
        children.push(start_node(journal, &opts.dir, node)?);
    }
    for (node, child) in nodes.iter().zip(&mut children) {
        await_sshd(&opts.dir, node, child)?;
    }
    Ok(())
}

fn bridge(local: &Local, journal: &mut Journal, opts: &UpOptions) -> Result<(), ClusterError> {
    let br = opts.bridge.as_str();
    journal.intend(Resource::Bridge {
        name: br.to_string(),
    })?;
    let cidr = format!("{}/24", opts.subnet.bridge());
    ip(local, &["link", "add", br, "type", "bridge"])?;
    ip(local, &["addr", "add", &cidr, "dev", br])?;
    ip(local, &["link", "set", br, "up"])?;
    journal.intend(Resource::ForwardRule {
        bridge: br.to_string(),
    })?;
    local.exec(
        &Command::new("iptables")
            .args(["-w", "-I"])
            .args(net::forward_rule(br)),
    )?;
    Ok(())
}

/// The node's namespace and its veth pair: `eth0` inside, on the bridge.
fn link(
    local: &Local,
    journal: &mut Journal,
    opts: &UpOptions,
    node: &NodeRecord,
) -> Result<(), ClusterError> {
    let ns = node.netns.as_str();
    journal.intend(Resource::Netns {
        name: ns.to_string(),
    })?;
    ip(local, &["netns", "add", ns])?;
    journal.intend(Resource::Veth {
        name: ns.to_string(),
    })?;
    ip(
        local,
        &[
            "link", "add", ns, "type", "veth", "peer", "name", "eth0", "netns", ns,
        ],
    )?;
    ip(local, &["link", "set", ns, "master", &opts.bridge, "up"])?;
    ip(
        local,
        &[
            "-n",
            ns,
            "addr",
            "add",
            &format!("{}/24", node.addr),
            "dev",
            "eth0",
        ],
    )?;
    ip(local, &["-n", ns, "link", "set", "eth0", "up"])?;
    ip(local, &["-n", ns, "link", "set", "lo", "up"])?;
    // IPv4 only: iptables partitions would not cover IPv6 link-local traffic.
    let sysctl = ["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"];
    local.exec(&Command::new("ip").args(["netns", "exec", ns]).args(sysctl))?;
    Ok(())
}

fn start_node(journal: &mut Journal, dir: &Path, node: &NodeRecord) -> Result<Child, ClusterError> {
    let child = HostFiles::new(dir, &node.name).spawn_init(node)?;
    let pid = child.id();
    let start_time = super::down::start_time(pid).unwrap_or(0);
    journal.intend(Resource::Process {
        node: node.name.clone(),
        pid,
        start_time,
    })?;
    Ok(child)
}

/// Waits until the node's sshd accepts connections, or its init dies.
fn await_sshd(dir: &Path, node: &NodeRecord, child: &mut Child) -> Result<(), ClusterError> {
    let files = HostFiles::new(dir, &node.name);
    let addr = SocketAddr::from((node.addr, 22));
    let started = Instant::now();
    while started.elapsed() < READY_LIMIT {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(failed(
                &files,
                node,
                format!("its init exited ({status}) before sshd listened"),
            ));
        }
        if node::await_port_from_here(addr, Duration::from_millis(50)).is_ok() {
            return Ok(());
        }
    }
    Err(failed(
        &files,
        node,
        format!("sshd did not listen on {addr} within {READY_LIMIT:?}"),
    ))
}

fn failed(files: &HostFiles, node: &NodeRecord, reason: String) -> ClusterError {
    let log = std::fs::read_to_string(files.log()).unwrap_or_default();
    ClusterError::NodeFailed {
        node: node.name.clone(),
        reason,
        log: files.log(),
        log_tail: crate::remote::tail(&log, 800),
    }
}

fn ip(local: &Local, args: &[&str]) -> Result<(), ClusterError> {
    local.exec(&Command::new("ip").args(args))?;
    Ok(())
}

fn read(path: &Path) -> Result<String, ClusterError> {
    std::fs::read_to_string(path).map_err(|e| ClusterError::io("read", path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_validated_before_anything_is_made() {
        let ok = UpOptions::default();
        assert!(ok.validate().is_ok());
        let cases = [
            UpOptions {
                nodes: 0,
                ..ok.clone()
            },
            UpOptions {
                bridge: "much-too-long-name".into(),
                ..ok.clone()
            },
            UpOptions {
                dir: "relative".into(),
                ..ok.clone()
            },
            UpOptions {
                dir: "/var/lib/temblor/cluster".into(),
                ..ok.clone()
            },
        ];
        for opts in cases {
            let err = opts.validate().unwrap_err();
            assert!(err.is_usage(), "{err}");
        }
    }

    #[test]
    fn records_name_nodes_and_scope_namespaces_by_bridge() {
        let opts = UpOptions {
            nodes: 2,
            bridge: "tb7".into(),
            ..UpOptions::default()
        };
        let recs = opts.records();
        assert_eq!(recs[1].name, "n2");
        assert_eq!(recs[1].addr.to_string(), "10.77.0.12");
        assert_eq!(recs[1].netns, "tb7-n2");
    }
}
