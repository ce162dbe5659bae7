//! `temblor cluster up|down|status`: the local cluster.

/// Manage the local cluster.
#[derive(clap::Args)]
pub struct Args {}

/// Runs the subcommand; returns the exit code.
pub fn run(_args: Args) -> anyhow::Result<u8> {
    anyhow::bail!("the local cluster is being built")
}
