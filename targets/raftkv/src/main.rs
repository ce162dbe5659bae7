//! The raftkv binary: parse the command line and run one node.

use anyhow::Context;
use clap::Parser;
use raftkv::config::Config;

fn main() -> std::process::ExitCode {
    let cfg = Config::parse();
    if let Err(e) = cfg.validate() {
        eprintln!("raftkv: {e}");
        return std::process::ExitCode::from(2);
    }
    match run(cfg) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("raftkv: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cfg: Config) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new().context("starting the tokio runtime")?;
    let id = cfg.id;
    runtime
        .block_on(raftkv::server::run(cfg))
        .with_context(|| format!("node {id}"))
}
