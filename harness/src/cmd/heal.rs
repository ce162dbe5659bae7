//! `temblor heal`: undo the faults a run left behind when its controller
//! was killed hard (SIGKILL, a crash, a lost machine): heal partitions and
//! packet loss, resume paused and restart killed processes, reset clocks.
//! It reads the run's `state.json`, reaches the same nodes, and heals
//! everything, whatever was in force: healing is idempotent.

use super::UsageError;
use anyhow::Context as _;
use harness::nemesis::{Faults, NemesisOptions};
use harness::run::db::{self, RunState};
use harness::run::nodes;
use harness::run::store::RunDir;
use std::path::PathBuf;
use std::sync::Arc;

/// Undo every fault a run may have left behind.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The run's folder (default: results/latest).
    #[arg(default_value = "results/latest")]
    pub run: PathBuf,
}

/// Heals; exits 0 when nothing is left in force.
pub fn run(args: Args) -> anyhow::Result<u8> {
    let file = args.run.join("state.json");
    let text = std::fs::read_to_string(&file).map_err(|e| {
        UsageError(format!(
            "cannot read {}: {e} (is it a run folder?)",
            file.display()
        ))
    })?;
    let state: RunState = serde_json::from_str(&text)
        .map_err(|e| UsageError(format!("{}: not a run state file: {e}", file.display())))?;
    let runtime = tokio::runtime::Runtime::new()?;
    let problems = runtime.block_on(async {
        let spec = state.spec.clone();
        let Some(nodes) = tokio::task::spawn_blocking(move || nodes::reopen(&spec)).await?? else {
            println!("the run's local cluster is gone: nothing left to heal");
            return anyhow::Ok(Vec::new());
        };
        // Opening a target builds nothing and touches no node.
        let opened = db::open(&state.spec, &nodes.handles, "heal", Arc::new(|_: &str| {}))?;
        let mut faults = Faults::new(
            nodes.handles.clone(),
            Arc::clone(&opened.db),
            NemesisOptions {
                network: opened.ssh,
                ..NemesisOptions::default()
            },
            0,
        );
        Ok(faults.heal_all().await)
    })?;
    for p in &problems {
        eprintln!("temblor: heal: {p}");
    }
    if !problems.is_empty() {
        anyhow::bail!("{} problem(s) while healing; see above", problems.len());
    }
    db::mark_state_done(&RunDir {
        path: args.run.clone(),
    });
    println!(
        "healed: {}",
        args.run.canonicalize().context("run folder")?.display()
    );
    Ok(0)
}
