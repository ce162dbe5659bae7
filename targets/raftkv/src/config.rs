//! The node's command line (clap derive; doc comments are the `--help`). Flags
//! are chosen so that an adapter can start a node with one command line and no
//! config file: its id, every member's Raft address, its client address, its
//! data directory, timeouts, and the bug switches.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::{Parser, ValueEnum};

use crate::raft::NodeId;

/// A Raft key-value store with an HTTP/JSON API and switches for known
/// consistency bugs (all off by default).
#[derive(Debug, Clone, Parser)]
#[command(name = "raftkv", version)]
pub struct Config {
    /// This node's id; must appear in --peers.
    #[arg(long)]
    pub id: NodeId,
    /// Every member's Raft address, this node included: id=host:port,...
    #[arg(long, value_parser = parse_peers)]
    pub peers: Peers,
    /// Address the HTTP client API listens on (host:port).
    #[arg(long)]
    pub client: String,
    /// Client address other nodes hand out in redirects [default: --client].
    #[arg(long)]
    pub advertise_client: Option<String>,
    /// Address the Raft transport listens on [default: this node's --peers entry].
    #[arg(long)]
    pub listen_raft: Option<String>,
    /// Directory for the write-ahead log, hard state and snapshots.
    #[arg(long)]
    pub data_dir: PathBuf,
    /// Minimum election timeout; each election waits a random time in [T, 2T).
    #[arg(long, default_value_t = 300)]
    pub election_timeout_ms: u64,
    /// Interval between leader heartbeats.
    #[arg(long, default_value_t = 50)]
    pub heartbeat_ms: u64,
    /// Take a snapshot and compact the log every this many applied entries.
    #[arg(long, default_value_t = 10_000)]
    pub snapshot_threshold: u64,
    /// How long a client request may wait before it is answered with a timeout.
    #[arg(long, default_value_t = 5_000)]
    pub request_timeout_ms: u64,
    /// Run a pre-vote round before each election (Raft thesis section 9.6).
    #[arg(long)]
    pub pre_vote: bool,
    /// Skip fsync (UNSAFE: only for experiments; acknowledged data can be lost).
    #[arg(long)]
    pub no_fsync: bool,
    /// Turn on a known consistency bug; repeatable.
    #[arg(long = "bug", value_enum)]
    pub bugs: Vec<Bug>,
}

/// The bug switches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Bug {
    /// Any node answers reads from its own state, which may be stale.
    FollowerReads,
    /// The leader answers reads locally while a lease counted in wall-clock ticks runs: stale under pauses and clock jumps.
    LeaseReads,
    /// A write is acknowledged once appended locally, before commit: it can vanish after a partition.
    EarlyAck,
    /// The vote is not persisted before it is granted: after a crash a node can vote twice in a term.
    VolatileVote,
}

/// Member id -> Raft address.
pub type Peers = BTreeMap<NodeId, String>;

fn parse_peers(s: &str) -> Result<Peers, String> {
    let mut peers = BTreeMap::new();
    for item in s.split(',').filter(|i| !i.trim().is_empty()) {
        let (id, addr) = item
            .split_once('=')
            .ok_or_else(|| format!("peer {item:?}: expected id=host:port"))?;
        let id: NodeId = id
            .trim()
            .parse()
            .map_err(|_| format!("peer {item:?}: id must be a number"))?;
        if !addr.contains(':') {
            return Err(format!("peer {item:?}: address needs a port"));
        }
        if peers.insert(id, addr.trim().to_string()).is_some() {
            return Err(format!("peer id {id} given twice"));
        }
    }
    if peers.is_empty() {
        return Err("no peers given".into());
    }
    Ok(peers)
}

impl Config {
    pub fn has(&self, bug: Bug) -> bool {
        self.bugs.contains(&bug)
    }

    /// Check what clap cannot: that this node is a member.
    pub fn validate(&self) -> Result<(), String> {
        if !self.peers.contains_key(&self.id) {
            return Err(format!("--id {} is not in --peers", self.id));
        }
        if self.heartbeat_ms == 0 || self.election_timeout_ms < 2 * self.heartbeat_ms {
            return Err(
                "--election-timeout-ms must be at least twice --heartbeat-ms (and both > 0)".into(),
            );
        }
        Ok(())
    }
}

impl Config {
    pub fn advertised_client(&self) -> String {
        self.advertise_client
            .clone()
            .unwrap_or_else(|| self.client.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peers_parse_and_reject_garbage() {
        let p = parse_peers("1=127.0.0.1:7001,2=h:7002").unwrap();
        assert_eq!(p[&2], "h:7002");
        assert!(parse_peers("1=127.0.0.1").is_err());
        assert!(parse_peers("x=h:1").is_err());
        assert!(parse_peers("1=h:1,1=h:2").is_err());
    }

    #[test]
    fn bugs_are_repeatable_and_id_must_be_a_member() {
        let args = [
            "raftkv",
            "--id",
            "4",
            "--peers",
            "1=h:1",
            "--client",
            "h:2",
            "--data-dir",
            "d",
        ];
        let cfg = Config::try_parse_from(args.iter().chain(&[
            "--bug",
            "early-ack",
            "--bug",
            "lease-reads",
        ]))
        .unwrap();
        assert!(cfg.has(Bug::EarlyAck) && cfg.has(Bug::LeaseReads) && !cfg.has(Bug::FollowerReads));
        assert!(cfg.validate().unwrap_err().contains("--id 4"));
    }
}
