//! `temblor cluster up|down|status`: the local cluster of network-namespace
//! hosts (see `targets::cluster`), reached over SSH like real machines.

use super::UsageError;
use anyhow::Context;
use std::path::PathBuf;
use targets::cluster::{self, Cluster, ClusterError, Slot, UpOptions};

/// Manage the local cluster.
#[derive(clap::Args)]
pub struct Args {
    /// Which local cluster of this machine (0 to 99; slot k lives in
    /// /var/lib/temblor-cluster-k on bridge tmbrk with 10.77.k.0/24, 0 in
    /// /var/lib/temblor-cluster): the defaults of --dir, --bridge and
    /// --subnet.
    #[arg(
        long,
        global = true,
        env = "TEMBLOR_CLUSTER",
        default_value_t = 0,
        value_name = "N"
    )]
    cluster: u8,
    #[command(subcommand)]
    command: Sub,
}

#[derive(clap::Subcommand)]
enum Sub {
    /// Build N nodes (n1..nN): namespaces on a private bridge, one sshd each.
    Up {
        /// How many nodes.
        #[arg(long, default_value_t = 5)]
        nodes: usize,
        /// The private /24 that exists only on the bridge (default: the
        /// slot's, 10.77.0.0/24 for --cluster 0).
        #[arg(long)]
        subnet: Option<String>,
        /// The bridge's name (nodes' namespaces are <bridge>-nN) (default:
        /// the slot's, tmbr0 for --cluster 0).
        #[arg(long)]
        bridge: Option<String>,
        /// Where keys, configs and the state file go (default: the slot's).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Remove everything `up` made, as recorded in the state file.
    Down {
        /// The cluster's directory (default: the slot's).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Show nodes, addresses, init PIDs and whether sshd answers.
    Status {
        /// The cluster's directory (default: the slot's).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Also print bring-up time and the latency of a command over an
        /// open SSH session.
        #[arg(long)]
        timings: bool,
        /// How many commands to time with --timings.
        #[arg(long, default_value_t = 200)]
        samples: usize,
    },
}

/// Runs the subcommand; returns the exit code.
pub fn run(args: Args) -> anyhow::Result<u8> {
    let slot = Slot::new(args.cluster).map_err(classify)?;
    match args.command {
        Sub::Up {
            nodes,
            subnet,
            bridge,
            dir,
        } => {
            let subnet = subnet.unwrap_or_else(|| slot.subnet().to_string());
            up(
                nodes,
                &subnet,
                bridge.unwrap_or_else(|| slot.bridge()),
                dir.unwrap_or_else(|| slot.dir()),
            )
        }
        Sub::Down { dir } => down(dir.unwrap_or_else(|| slot.dir())),
        Sub::Status {
            dir,
            timings,
            samples,
        } => status(dir.unwrap_or_else(|| slot.dir()), timings, samples),
    }
}

/// Prints a line to stdout. Output cut short by a closed pipe (`| head`)
/// is not an error: the cluster work still finishes (ripgrep's rule).
macro_rules! say {
    ($($arg:tt)*) => {
        say(format_args!($($arg)*))
    };
}

fn say(line: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

/// Makes errors the user can fix on the command line exit 254.
fn classify(e: ClusterError) -> anyhow::Error {
    if e.is_usage() {
        anyhow::Error::new(UsageError(e.to_string()))
    } else {
        anyhow::Error::new(e)
    }
}

fn up(nodes: usize, subnet: &str, bridge: String, dir: PathBuf) -> anyhow::Result<u8> {
    let subnet = subnet
        .parse()
        .map_err(|e| UsageError(format!("--subnet {e}")))?;
    let opts = UpOptions {
        dir,
        nodes,
        bridge,
        subnet,
    };
    let cluster = cluster::up(&opts).map_err(classify).context("cluster up")?;
    let millis = cluster.state().up_millis.unwrap_or(0);
    say!(
        "{} nodes up in {millis} ms on {} ({})",
        nodes,
        opts.bridge,
        opts.subnet
    );
    for node in cluster.nodes() {
        say!("  {}\t{}", node.name, node.addr);
    }
    say!("ssh: ssh -F {} n1", cluster.ssh_config_path().display());
    Ok(0)
}

fn down(dir: PathBuf) -> anyhow::Result<u8> {
    let report = cluster::down(&dir)
        .map_err(classify)
        .context("cluster down")?;
    if !report.found {
        say!("no cluster at {}: nothing to remove", dir.display());
    }
    for line in &report.removed {
        say!("removed {line}");
    }
    Ok(0)
}

fn status(dir: PathBuf, timings: bool, samples: usize) -> anyhow::Result<u8> {
    if !(1..=10_000).contains(&samples) {
        return Err(UsageError(format!(
            "--samples must be between 1 and 10000, not {samples}"
        ))
        .into());
    }
    let cluster = Cluster::open(&dir)
        .map_err(classify)
        .context("cluster status")?;
    let state = cluster.state();
    say!(
        "cluster at {}: bridge {}, subnet {}",
        dir.display(),
        state.bridge,
        state.subnet
    );
    say!("node\taddress\tinit pid\talive\tsshd");
    let nodes = cluster::status(&cluster);
    for n in &nodes {
        let pid = n.pid.map_or("-".to_string(), |p| p.to_string());
        say!(
            "{}\t{}\t{pid}\t{}\t{}",
            n.name,
            n.addr,
            yes(n.alive),
            yes(n.sshd)
        );
    }
    if timings {
        print_timings(&cluster, samples.max(1))?;
    }
    let healthy = nodes.iter().all(|n| n.alive && n.sshd);
    Ok(if healthy { 0 } else { crate::EXIT_ERROR })
}

fn print_timings(cluster: &Cluster, samples: usize) -> anyhow::Result<()> {
    match cluster.state().up_millis {
        Some(ms) => say!("bring-up of {} nodes: {ms} ms", cluster.nodes().len()),
        None => say!("bring-up: not finished"),
    }
    let first = cluster
        .names()
        .into_iter()
        .next()
        .context("the cluster has no nodes")?;
    let lat = cluster::exec_latency(cluster, &first, samples).context("timing commands")?;
    say!(
        "ssh to {first}: connect {:.1} ms; `true` x{samples} over one session: min {:.2} ms, median {:.2} ms, p90 {:.2} ms, max {:.2} ms",
        ms(lat.connect),
        ms(lat.quantile(0.0)),
        ms(lat.median()),
        ms(lat.quantile(0.9)),
        ms(lat.quantile(1.0)),
    );
    Ok(())
}

fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn yes(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}
