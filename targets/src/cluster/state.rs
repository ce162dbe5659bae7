//! The cluster's state file: an intent log of everything `up` makes.
//!
//! Each resource is appended and the file rewritten (write, then rename)
//! BEFORE the resource is created, so after a crash at any point `down`
//! knows of everything that may exist, and removes it in reverse order.
//! The same idea as a write-ahead log, and as Jepsen's `db/teardown!` being
//! safe to run on a half-set-up cluster.

use super::ClusterError;
use serde::{Deserialize, Serialize};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

/// The state file's name inside the cluster directory.
pub const STATE_FILE: &str = "state.json";

/// One node of the local cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeRecord {
    /// Name and hostname: `n1`, `n2`, ...
    pub name: String,
    /// Its address on the bridge.
    pub addr: Ipv4Addr,
    /// Its network namespace (as `ip netns` names it).
    pub netns: String,
}

/// Something `up` made that `down` must remove.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Resource {
    /// A directory; `recursive` ones are removed with their contents, the
    /// others only when empty (mount points shared with other tools).
    Dir { path: PathBuf, recursive: bool },
    /// The bridge link.
    Bridge { name: String },
    /// A network namespace; every process still inside is killed first.
    Netns { name: String },
    /// The root-namespace end of a veth pair.
    Veth { name: String },
    /// `iptables -I FORWARD -i <bridge> -o <bridge> -j ACCEPT`.
    ForwardRule { bridge: String },
    /// A node's init process (unshare; sshd runs under it), with its start
    /// time in clock ticks so a reused PID is never killed.
    Process {
        node: String,
        pid: u32,
        start_time: u64,
    },
}

/// Everything known about one local cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// The bridge's name.
    pub bridge: String,
    /// The bridge's /24, e.g. `10.77.0.0/24`.
    pub subnet: String,
    /// The nodes, in order.
    pub nodes: Vec<NodeRecord>,
    /// What was made, in the order it was made.
    pub resources: Vec<Resource>,
    /// How long `up` took, once it finished.
    pub up_millis: Option<u64>,
}

/// The state file of one cluster directory, saved on every change.
pub struct Journal {
    path: PathBuf,
    /// The state as last saved.
    pub state: State,
}

impl Journal {
    /// Starts a journal for `state` at `dir`/state.json and saves it.
    pub fn create(dir: &Path, state: State) -> Result<Self, ClusterError> {
        let journal = Journal {
            path: dir.join(STATE_FILE),
            state,
        };
        journal.save()?;
        Ok(journal)
    }

    /// Records that `resource` is about to be made.
    pub fn intend(&mut self, resource: Resource) -> Result<(), ClusterError> {
        self.state.resources.push(resource);
        self.save()
    }

    /// Writes the state next to the file, then renames it over the file.
    pub fn save(&self) -> Result<(), ClusterError> {
        let tmp = self.path.with_extension("json.tmp");
        let text = serde_json::to_string_pretty(&self.state).map_err(|e| ClusterError::State {
            path: self.path.clone(),
            reason: e.to_string(),
        })?;
        std::fs::write(&tmp, text).map_err(|e| ClusterError::io("write", &tmp, e))?;
        std::fs::rename(&tmp, &self.path).map_err(|e| ClusterError::io("rename", &tmp, e))
    }
}

/// Reads `dir`/state.json; `None` when there is none.
pub fn load(dir: &Path) -> Result<Option<State>, ClusterError> {
    let path = dir.join(STATE_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(ClusterError::io("read", &path, e)),
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| ClusterError::State {
            path,
            reason: e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_saves_each_intent_and_loads_it_back() {
        let dir = std::env::temp_dir().join(format!("temblor-state-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let state = State {
            bridge: "tb0".into(),
            subnet: "10.9.9.0/24".into(),
            nodes: vec![NodeRecord {
                name: "n1".into(),
                addr: Ipv4Addr::new(10, 9, 9, 11),
                netns: "tb0-n1".into(),
            }],
            resources: Vec::new(),
            up_millis: None,
        };
        let mut journal = Journal::create(&dir, state).unwrap();
        journal
            .intend(Resource::Bridge { name: "tb0".into() })
            .unwrap();
        journal
            .intend(Resource::Process {
                node: "n1".into(),
                pid: 7,
                start_time: 9,
            })
            .unwrap();
        let loaded = load(&dir).unwrap().unwrap();
        assert_eq!(loaded, journal.state);
        assert_eq!(loaded.resources.len(), 2);
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(load(&dir).unwrap(), None);
    }

    #[test]
    fn a_corrupt_state_file_is_an_error_naming_it() {
        let dir = std::env::temp_dir().join(format!("temblor-state-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(STATE_FILE), "{not json").unwrap();
        let err = load(&dir).unwrap_err().to_string();
        assert!(err.contains("state.json"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
