//! `temblor heal`: undo the faults a run left behind when its controller
//! was killed hard (SIGKILL, a crash, a lost machine): heal partitions and
//! packet loss, resume paused and restart killed processes, reset clocks,
//! then look at every node to check that nothing is left in force.
//!
//! It reads the run's `state.json` (whose paths are absolute, so it works
//! from any folder), reaches the same nodes, and heals everything, whatever
//! was in force: healing is idempotent. It is best effort per node: a node
//! it cannot reach or heal does not stop it healing the others, and is
//! named at the end (exit 255).

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

/// Heals; exits 0 when every node is reached and clean.
pub fn run(args: Args) -> anyhow::Result<u8> {
    let file = args.run.join(harness::run::store::STATE);
    let text = std::fs::read_to_string(&file).map_err(|e| {
        UsageError(format!(
            "cannot read {}: {e} (is it a run folder?)",
            file.display()
        ))
    })?;
    let state: RunState = serde_json::from_str(&text)
        .map_err(|e| UsageError(format!("{}: not a run state file: {e}", file.display())))?;
    let runtime = tokio::runtime::Runtime::new()?;
    let healed = runtime.block_on(heal(&state));
    runtime.shutdown_timeout(std::time::Duration::from_secs(5));
    let Some(problems) = healed? else {
        println!("the run's local cluster is gone: nothing left to heal");
        return Ok(0);
    };
    for p in &problems {
        eprintln!("temblor: heal: {p}");
    }
    let names: Vec<&String> = state.nodes.keys().collect();
    let failed = failed_nodes(&names, &problems);
    if !problems.is_empty() {
        anyhow::bail!(
            "could not heal {} (see above); the other nodes are healed",
            match failed.is_empty() {
                true => "every node".to_string(),
                false => failed.join(", "),
            }
        );
    }
    db::mark_state_done(&RunDir {
        path: args.run.clone(),
    });
    println!(
        "healed {}: {}",
        names
            .iter()
            .map(|n| n.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        args.run.canonicalize().context("run folder")?.display()
    );
    Ok(0)
}

/// Heals every node of the run and checks it; `None` when the run's local
/// cluster is gone.
async fn heal(state: &RunState) -> anyhow::Result<Option<Vec<String>>> {
    let spec = state.spec.clone();
    let Some(nodes) = tokio::task::spawn_blocking(move || nodes::reopen(&spec)).await?? else {
        return Ok(None);
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
    Ok(Some(faults.heal_and_verify().await))
}

/// The nodes some problem names (each problem starts with `node:`).
fn failed_nodes(names: &[&String], problems: &[String]) -> Vec<String> {
    names
        .iter()
        .filter(|n| problems.iter().any(|p| p.starts_with(&format!("{n}:"))))
        .map(|n| n.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nodes_that_failed_are_the_ones_named() {
        let (n1, n2, n10) = ("n1".to_string(), "n2".to_string(), "n10".to_string());
        let problems = vec![
            "n10: cannot connect to 10.0.0.10".to_string(),
            "n2: still in force after the heal: 2 rule(s)".to_string(),
        ];
        assert_eq!(
            failed_nodes(&[&n1, &n2, &n10], &problems),
            vec!["n2".to_string(), "n10".to_string()]
        );
    }
}
