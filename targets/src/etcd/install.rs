//! How etcd gets onto a node, chosen by option (Jepsen's `jepsen.etcd.db`
//! installs a release tarball with `install-archive!`; Debian ships
//! `etcd-server`; a locally built binary can be uploaded):
//!
//! - `debian`: the `etcd-server` package (`/usr/bin/etcd`). On the local
//!   cluster the nodes share this machine's filesystem, so it is installed
//!   once. The package's own systemd unit is stopped when we install it,
//!   so only the daemons temblor starts run.
//! - a release tarball URL (`https://...etcd-v3.5.x-linux-amd64.tar.gz`):
//!   downloaded and extracted on the node into `/opt/temblor/<node>/etcd/`.
//! - a path to a local `etcd` binary: uploaded to `/opt/temblor/<node>/etcd/etcd`.

use crate::db::DbError;
use crate::node::{self, NodePaths};
use crate::remote::{escape, Command, Remote};
use std::path::PathBuf;

/// Where etcd comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Install {
    /// Debian's `etcd-server` package.
    Debian,
    /// A release tarball, fetched by each node.
    Tarball(String),
    /// A binary on this machine, uploaded to each node.
    Binary(PathBuf),
}

impl Install {
    /// `debian`, an `http(s)://` tarball URL, or a path to a binary.
    pub fn parse(s: &str) -> Install {
        if s == "debian" {
            Install::Debian
        } else if s.starts_with("http://") || s.starts_with("https://") {
            Install::Tarball(s.to_string())
        } else {
            Install::Binary(PathBuf::from(s))
        }
    }

    /// The etcd executable on `node` once installed.
    pub fn binary_on(&self, node: &str) -> String {
        match self {
            Install::Debian => "/usr/bin/etcd".to_string(),
            _ => NodePaths::new(node).opt("etcd/etcd"),
        }
    }

    /// Installs etcd on `node` (idempotent: an existing install is kept).
    pub fn install(&self, remote: &dyn Remote, node: &str) -> Result<(), DbError> {
        match self {
            Install::Debian => {
                let installed = node::install_packages(remote, &["etcd-server"])?;
                if !installed.is_empty() {
                    // The package starts its own etcd on 127.0.0.1; ours
                    // must be the only members.
                    remote.exec(&Command::shell("systemctl disable --now etcd").unchecked())?;
                }
            }
            Install::Tarball(url) => {
                let dir = NodePaths::new(node).opt("etcd");
                remote.exec(&Command::shell(&tarball_script(url, &dir)).sudo())?;
            }
            Install::Binary(path) => {
                if !path.is_file() {
                    return Err(DbError::Unsupported(format!(
                        "etcd binary {} does not exist",
                        path.display()
                    )));
                }
                node::upload_binary(remote, path, &self.binary_on(node))?;
            }
        }
        Ok(())
    }
}

/// The shell script that fetches and unpacks `url` into `dir` unless
/// `dir/etcd` is already there: curl or wget, whichever the node has, and
/// `--strip-components=1` because release tarballs hold one top folder.
pub fn tarball_script(url: &str, dir: &str) -> String {
    let (url, dir) = (escape(url), escape(dir));
    format!(
        "test -x {dir}/etcd && exit 0; mkdir -p {dir} && cd {dir} && \
         {{ if command -v curl >/dev/null; then curl -fsSL --retry 3 -o etcd.tar.gz {url}; \
         else wget -q -O etcd.tar.gz {url}; fi; }} && \
         tar -xzf etcd.tar.gz --strip-components=1 && rm -f etcd.tar.gz && test -x {dir}/etcd"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_strategies() {
        assert_eq!(Install::parse("debian"), Install::Debian);
        assert_eq!(
            Install::parse("https://x/etcd.tar.gz"),
            Install::Tarball("https://x/etcd.tar.gz".into())
        );
        assert_eq!(
            Install::parse("/tmp/etcd"),
            Install::Binary("/tmp/etcd".into())
        );
        assert_eq!(Install::Debian.binary_on("n1"), "/usr/bin/etcd");
        assert_eq!(
            Install::parse("/tmp/etcd").binary_on("n2"),
            "/opt/temblor/n2/etcd/etcd"
        );
    }

    #[test]
    fn tarball_script_downloads_once_and_unpacks_into_the_node_folder() {
        let url = "https://github.com/etcd-io/etcd/releases/download/v3.5.9/etcd-v3.5.9-linux-amd64.tar.gz";
        let s = tarball_script(url, "/opt/temblor/n1/etcd");
        assert!(
            s.starts_with("test -x /opt/temblor/n1/etcd/etcd && exit 0;"),
            "{s}"
        );
        assert!(
            s.contains(&format!("curl -fsSL --retry 3 -o etcd.tar.gz {url}")),
            "{s}"
        );
        assert!(s.contains(&format!("wget -q -O etcd.tar.gz {url}")), "{s}");
        assert!(
            s.contains("tar -xzf etcd.tar.gz --strip-components=1"),
            "{s}"
        );
        // A URL with shell metacharacters stays one argument.
        assert!(tarball_script("https://x/a b;rm", "/d").contains("'https://x/a b;rm'"));
    }

    #[test]
    fn the_tarball_script_unpacks_a_real_archive() {
        let tmp = std::env::temp_dir().join(format!("temblor-etcd-tar-{}", std::process::id()));
        let src = tmp.join("src/etcd-v0-linux-amd64");
        std::fs::create_dir_all(&src).unwrap();
        std::fs::write(src.join("etcd"), "#!/bin/sh\n").unwrap();
        let ok = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!(
                "chmod +x {0}/etcd && tar -czf {1}/e.tar.gz -C {0}/.. etcd-v0-linux-amd64",
                src.display(),
                tmp.display()
            ))
            .status()
            .unwrap();
        assert!(ok.success());
        // file:// through curl stands in for the release URL.
        let url = format!("file://{}/e.tar.gz", tmp.display());
        let dest = tmp.join("dest");
        let script = tarball_script(&url, dest.to_str().unwrap());
        let st = std::process::Command::new("bash")
            .arg("-c")
            .arg(&script)
            .status()
            .unwrap();
        assert!(st.success(), "{script}");
        assert!(dest.join("etcd").is_file());
        let _ = std::fs::remove_dir_all(&tmp);
    }
}
