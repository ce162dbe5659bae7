//! What turns a network namespace into a host: its files (sshd config and
//! host key, /etc/hosts, a home for root, an init script) and its init
//! process, which enters fresh UTS, PID and mount namespaces, mounts the
//! node's own /root, /dev/shm, /var/lib/temblor, /opt/temblor and
//! /etc/hosts, drops
//! CAP_SYS_TIME, and becomes sshd.
//!
//! The per-node namespaces follow what containers do (unshare(1),
//! Mininet's hosts, `ip netns exec`), without an image: the nodes share the
//! machine's filesystem apart from those mounts, which is why targets scope
//! their paths by node name.

use super::state::NodeRecord;
use super::ClusterError;
use crate::remote::{escape, Command, Local, Remote};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};

/// The files of one node under `<cluster>/nodes/<name>`.
pub struct HostFiles {
    /// `<cluster>/nodes/<name>`.
    pub dir: PathBuf,
}

impl HostFiles {
    /// The files of `node` in cluster directory `cluster`.
    pub fn new(cluster: &Path, node: &str) -> Self {
        HostFiles {
            dir: cluster.join("nodes").join(node),
        }
    }

    /// The host's private key; `.pub` beside it.
    pub fn host_key(&self) -> PathBuf {
        self.dir.join("ssh_host_ed25519_key")
    }

    /// Root's home inside the node.
    pub fn home(&self) -> PathBuf {
        self.dir.join("home")
    }

    /// What the node sees as /var/lib/temblor.
    pub fn var(&self) -> PathBuf {
        self.dir.join("var")
    }

    /// What the node sees as /opt/temblor.
    pub fn opt(&self) -> PathBuf {
        self.dir.join("opt")
    }

    /// sshd's and the init script's log.
    pub fn log(&self) -> PathBuf {
        self.dir.join("init.log")
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Writes every file the node needs; `client_pub` is the cluster's
    /// public client key, `hosts` the whole cluster's /etc/hosts.
    pub fn write(
        &self,
        local: &Local,
        node: &NodeRecord,
        client_pub: &str,
        hosts: &str,
    ) -> Result<(), ClusterError> {
        let ssh_dir = self.home().join(".ssh");
        for dir in [&ssh_dir, &self.var(), &self.opt()] {
            fs::create_dir_all(dir).map_err(|e| ClusterError::io("create", dir, e))?;
        }
        // sshd's StrictModes wants root's home and ~/.ssh private.
        for dir in [self.home(), ssh_dir.clone()] {
            fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))
                .map_err(|e| ClusterError::io("chmod", &dir, e))?;
        }
        write(&ssh_dir.join("authorized_keys"), client_pub)?;
        write(&self.path("hosts"), hosts)?;
        write(&self.path("sshd_config"), &self.sshd_config(node))?;
        write(&self.path("init.sh"), &self.init_script(node))?;
        keygen(local, &self.host_key(), &format!("temblor-{}", node.name))
    }

    fn sshd_config(&self, node: &NodeRecord) -> String {
        format!(
            "# sshd of local-cluster node {name}, written by temblor.\n\
             ListenAddress {addr}\nPort 22\nHostKey {key}\nPidFile {pid}\n\
             PermitRootLogin prohibit-password\nPubkeyAuthentication yes\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\n\
             AuthorizedKeysFile .ssh/authorized_keys\nUsePAM no\nUseDNS no\n\
             PrintMotd no\nMaxSessions 100\nMaxStartups 100:30:200\n\
             Subsystem sftp internal-sftp\n",
            name = node.name,
            addr = node.addr,
            key = self.host_key().display(),
            pid = self.path("sshd.pid").display(),
        )
    }

    /// Runs as PID 1 of the node's namespaces; sshd replaces it and, being
    /// PID 1, reaps the daemons that targets start and orphan.
    fn init_script(&self, node: &NodeRecord) -> String {
        let q = |p: PathBuf| escape(&p.display().to_string());
        format!(
            "set -e\nhostname {name}\nmount --bind {home} /root\n\
             mount -t tmpfs -o mode=1777,size=256m tmpfs /dev/shm\n\
             mount --bind {var} /var/lib/temblor\nmount --bind {opt} /opt/temblor\nmount --bind {hosts} /etc/hosts\n\
             exec /usr/sbin/sshd -D -e -f {config}\n",
            name = node.name,
            home = q(self.home()),
            var = q(self.var()),
            opt = q(self.opt()),
            hosts = q(self.path("hosts")),
            config = q(self.path("sshd_config")),
        )
    }

    /// The node's line in known_hosts: `<name>,<addr> <type> <key>`.
    pub fn known_hosts_line(&self, node: &NodeRecord) -> Result<String, ClusterError> {
        let pub_path = self.host_key().with_extension("pub");
        let text =
            fs::read_to_string(&pub_path).map_err(|e| ClusterError::io("read", &pub_path, e))?;
        let mut words = text.split_whitespace();
        match (words.next(), words.next()) {
            (Some(kind), Some(key)) => Ok(format!("{},{} {kind} {key}\n", node.name, node.addr)),
            _ => Err(ClusterError::State {
                path: pub_path,
                reason: "not an OpenSSH public key".into(),
            }),
        }
    }

    /// Starts the node's init in its network namespace, detached from our
    /// process group so a Ctrl-C on `up` does not reach it. `--kill-child`
    /// makes killing the returned PID end the node's whole PID namespace.
    pub fn spawn_init(&self, node: &NodeRecord) -> Result<Child, ClusterError> {
        let log =
            fs::File::create(self.log()).map_err(|e| ClusterError::io("create", &self.log(), e))?;
        let log2 = log
            .try_clone()
            .map_err(|e| ClusterError::io("reopen", &self.log(), e))?;
        let mut cmd = std::process::Command::new("ip");
        cmd.args(["netns", "exec", &node.netns])
            .args([
                "setpriv",
                "--inh-caps=-sys_time",
                "--bounding-set=-sys_time",
            ])
            .args([
                "unshare",
                "--uts",
                "--pid",
                "--mount",
                "--fork",
                "--kill-child",
                "--mount-proc",
            ])
            .arg("sh")
            .arg(self.path("init.sh"))
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2);
        inherit_no_fds(&mut cmd);
        cmd.spawn()
            .map_err(|e| ClusterError::io("start the init of", &self.dir, e))
    }
}

/// Makes `cmd` inherit only its standard input, output and error: every
/// other descriptor is marked close-on-exec in the child. A node's init
/// lives as long as the cluster, so whatever it inherits stays open that
/// long: the lock of `flock /tmp/lock temblor cluster up` (held by the
/// cluster, so `flock /tmp/lock temblor cluster down` waited for ever) or
/// a test harness's output pipe (whose reader then never saw its end).
fn inherit_no_fds(cmd: &mut std::process::Command) {
    // close_range(2)'s flag: mark close-on-exec instead of closing, so
    // std's own pipe that reports a failed exec keeps working.
    const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
    // SAFETY: between fork and exec the closure makes only
    // async-signal-safe system calls and allocates nothing.
    unsafe {
        cmd.pre_exec(|| {
            let all = libc::syscall(
                libc::SYS_close_range,
                3 as libc::c_uint,
                libc::c_uint::MAX,
                CLOSE_RANGE_CLOEXEC,
            );
            if all != 0 {
                // Kernels before 5.11: one descriptor at a time.
                for fd in 3..4096 {
                    libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
                }
            }
            Ok(())
        });
    }
}

/// The cluster-wide /etc/hosts every node mounts.
pub fn hosts_file(nodes: &[NodeRecord]) -> String {
    let mut text =
        String::from("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n");
    for node in nodes {
        text.push_str(&format!("{}\t{}\n", node.addr, node.name));
    }
    text
}

/// An OpenSSH client config so a person can `ssh -F <dir>/ssh_config n1`.
pub fn ssh_config(dir: &Path, nodes: &[NodeRecord]) -> String {
    let mut text = String::new();
    for node in nodes {
        text.push_str(&format!("Host {}\n  HostName {}\n\n", node.name, node.addr));
    }
    text.push_str(&format!(
        "Host *\n  User root\n  IdentityFile {}\n  IdentitiesOnly yes\n  UserKnownHostsFile {}\n  \
         StrictHostKeyChecking yes\n  LogLevel ERROR\n",
        dir.join("id_ed25519").display(),
        dir.join("known_hosts").display()
    ));
    text
}

/// Generates an ed25519 key pair at `path` (and `path.pub`).
pub fn keygen(local: &Local, path: &Path, comment: &str) -> Result<(), ClusterError> {
    let path = path.display().to_string();
    let cmd = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", &path]);
    local.exec(&cmd)?;
    Ok(())
}

/// Writes `text` to `path`.
pub fn write(path: &Path, text: &str) -> Result<(), ClusterError> {
    fs::write(path, text).map_err(|e| ClusterError::io("write", path, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn nodes() -> Vec<NodeRecord> {
        (1..=2)
            .map(|i| NodeRecord {
                name: format!("n{i}"),
                addr: Ipv4Addr::new(10, 9, 0, 10 + i),
                netns: format!("tb-n{i}"),
            })
            .collect()
    }

    #[test]
    fn a_spawned_init_inherits_no_descriptor_but_stdio() {
        // An inheritable descriptor, as flock(1) hands its lock to its
        // command.
        let file = fs::File::open("/dev/null").unwrap();
        let fd = std::os::fd::AsRawFd::as_raw_fd(&file);
        // SAFETY: clears FD_CLOEXEC on a descriptor this test owns.
        assert_eq!(unsafe { libc::fcntl(fd, libc::F_SETFD, 0) }, 0);
        let probe = format!("test -e /proc/self/fd/{fd}");
        let plain = std::process::Command::new("sh")
            .args(["-c", &probe])
            .status()
            .unwrap();
        assert!(
            plain.success(),
            "the descriptor is inheritable to begin with"
        );
        let mut cmd = std::process::Command::new("sh");
        cmd.args(["-c", &probe]);
        inherit_no_fds(&mut cmd);
        assert!(!cmd.status().unwrap().success(), "fd {fd} was inherited");
    }

    #[test]
    fn hosts_and_ssh_config_name_every_node() {
        let hosts = hosts_file(&nodes());
        assert!(hosts.contains("10.9.0.11\tn1\n") && hosts.contains("10.9.0.12\tn2\n"));
        let cfg = ssh_config(Path::new("/c"), &nodes());
        assert!(cfg.contains("Host n2\n  HostName 10.9.0.12\n"));
        assert!(
            cfg.contains("IdentityFile /c/id_ed25519")
                && cfg.contains("UserKnownHostsFile /c/known_hosts")
        );
    }

    #[test]
    fn sshd_config_is_key_only_and_node_scoped() {
        let files = HostFiles::new(Path::new("/c"), "n1");
        let cfg = files.sshd_config(&nodes()[0]);
        for line in [
            "ListenAddress 10.9.0.11",
            "PasswordAuthentication no",
            "PermitRootLogin prohibit-password",
            "HostKey /c/nodes/n1/ssh_host_ed25519_key",
            "PidFile /c/nodes/n1/sshd.pid",
            "UseDNS no",
        ] {
            assert!(cfg.contains(line), "missing {line}");
        }
        let init = files.init_script(&nodes()[0]);
        assert!(
            init.starts_with("set -e\nhostname n1\n") && init.contains("exec /usr/sbin/sshd -D")
        );
    }
}
