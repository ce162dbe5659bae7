//! `status`: what is alive in a cluster, and how fast a command runs over
//! an open SSH session (the figure the harness's per-op overhead rests on).

use super::state::Resource;
use super::Cluster;
use super::ClusterError;
use crate::remote::{Command, Remote};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// One node's health.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeStatus {
    /// Its name.
    pub name: String,
    /// Its address.
    pub addr: Ipv4Addr,
    /// Its init process, if recorded.
    pub pid: Option<u32>,
    /// Whether that process is alive.
    pub alive: bool,
    /// Whether its sshd accepts TCP connections.
    pub sshd: bool,
}

/// The health of every node.
pub fn status(cluster: &Cluster) -> Vec<NodeStatus> {
    cluster
        .nodes()
        .iter()
        .map(|node| {
            let process = cluster.state().resources.iter().find_map(|r| match r {
                Resource::Process {
                    node: n,
                    pid,
                    start_time,
                } if *n == node.name => Some((*pid, *start_time)),
                _ => None,
            });
            let alive =
                process.is_some_and(|(pid, start)| super::down::start_time(pid) == Some(start));
            let sock = SocketAddr::from((node.addr, 22));
            let sshd = TcpStream::connect_timeout(&sock, Duration::from_millis(500)).is_ok();
            NodeStatus {
                name: node.name.clone(),
                addr: node.addr,
                pid: process.map(|p| p.0),
                alive,
                sshd,
            }
        })
        .collect()
}

/// Latency of `true` run over one SSH session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Latency {
    /// Time to connect, check the host key and authenticate.
    pub connect: Duration,
    /// Every sample, sorted.
    pub samples: Vec<Duration>,
}

impl Latency {
    /// The median sample.
    pub fn median(&self) -> Duration {
        self.samples
            .get(self.samples.len() / 2)
            .copied()
            .unwrap_or_default()
    }

    /// The `q` quantile (0.0 to 1.0) of the samples.
    pub fn quantile(&self, q: f64) -> Duration {
        let i = ((self.samples.len() as f64 - 1.0) * q.clamp(0.0, 1.0)).round() as usize;
        self.samples.get(i).copied().unwrap_or_default()
    }
}

/// Runs `true` on `node` `samples` times over one session and times each.
pub fn exec_latency(
    cluster: &Cluster,
    node: &str,
    samples: usize,
) -> Result<Latency, ClusterError> {
    let started = Instant::now();
    let ssh = crate::remote::Ssh::connect(cluster.ssh_config(node)?)?;
    let connect = started.elapsed();
    let cmd = Command::new("true");
    let mut times = Vec::with_capacity(samples);
    for _ in 0..samples {
        let t = Instant::now();
        ssh.exec(&cmd)?;
        times.push(t.elapsed());
    }
    times.sort();
    Ok(Latency {
        connect,
        samples: times,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_quantiles_read_sorted_samples() {
        let ms = Duration::from_millis;
        let lat = Latency {
            connect: ms(1),
            samples: vec![ms(1), ms(2), ms(3), ms(4), ms(9)],
        };
        assert_eq!(lat.median(), ms(3));
        assert_eq!(lat.quantile(1.0), ms(9));
        assert_eq!(lat.quantile(0.0), ms(1));
        assert_eq!(
            Latency {
                connect: ms(1),
                samples: vec![]
            }
            .median(),
            Duration::ZERO
        );
    }
}
