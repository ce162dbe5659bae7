//! Start raftkv processes on loopback ports for tests and the bench. Each
//! child is tracked by its handle (so by PID) and killed when the cluster is
//! dropped; logs go to files in the cluster's own temporary directory.

#![allow(dead_code)]

use std::fs::File;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub struct Node {
    pub id: u64,
    pub client: String,
    child: Option<Child>,
}

pub struct Cluster {
    pub dir: PathBuf,
    pub nodes: Vec<Node>,
    peers: String,
    args: Vec<String>,
    bin: PathBuf,
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free loopback port");
    listener.local_addr().expect("local addr").port()
}

impl Cluster {
    /// Start `n` nodes with extra command-line `args`.
    pub fn start(name: &str, n: u64, args: &[&str]) -> Cluster {
        let dir = std::env::temp_dir().join(format!("raftkv-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create cluster dir");
        let raft_ports: Vec<u16> = (0..n).map(|_| free_port()).collect();
        let peers = (1..=n)
            .map(|id| format!("{id}=127.0.0.1:{}", raft_ports[id as usize - 1]))
            .collect::<Vec<_>>()
            .join(",");
        let nodes = (1..=n)
            .map(|id| Node {
                id,
                client: format!("127.0.0.1:{}", free_port()),
                child: None,
            })
            .collect();
        let bin = PathBuf::from(env!("CARGO_BIN_EXE_raftkv"));
        let args = args.iter().map(|a| a.to_string()).collect();
        let mut cluster = Cluster {
            dir,
            nodes,
            peers,
            args,
            bin,
        };
        for id in 1..=n {
            cluster.restart(id);
        }
        cluster
    }

    pub fn log_path(&self, id: u64) -> PathBuf {
        self.dir.join(format!("n{id}.log"))
    }

    pub fn restart(&mut self, id: u64) {
        let log = File::options()
            .create(true)
            .append(true)
            .open(self.log_path(id))
            .expect("open node log");
        let node = &self.nodes[id as usize - 1];
        let child = Command::new(&self.bin)
            .args([
                "--id",
                &id.to_string(),
                "--peers",
                &self.peers,
                "--client",
                &node.client,
            ])
            .arg("--data-dir")
            .arg(self.dir.join(format!("n{id}")))
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn raftkv");
        self.nodes[id as usize - 1].child = Some(child);
    }

    /// SIGKILL one node, by its PID.
    pub fn kill(&mut self, id: u64) {
        if let Some(mut child) = self.nodes[id as usize - 1].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Whether the node's process is still running.
    pub fn alive(&mut self, id: u64) -> bool {
        let child = self.nodes[id as usize - 1].child.as_mut();
        child.is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    pub fn client(&self, id: u64) -> String {
        format!("http://{}", self.nodes[id as usize - 1].client)
    }

    pub async fn status(&self, http: &reqwest::Client, id: u64) -> Option<Value> {
        let resp = http
            .get(format!("{}/status", self.client(id)))
            .send()
            .await
            .ok()?;
        resp.json().await.ok()
    }

    /// Wait until a live node reports itself leader; returns its id.
    pub async fn leader(&self, http: &reqwest::Client, within: Duration) -> Option<u64> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            for node in self.nodes.iter().filter(|n| n.child.is_some()) {
                if let Some(s) = self.status(http, node.id).await {
                    if s["role"] == "leader" {
                        return Some(node.id);
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        None
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for id in 1..=self.nodes.len() as u64 {
            self.kill(id);
        }
    }
}
