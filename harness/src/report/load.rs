//! Reading one run's folder (the layout of `run::store`): the spec, the
//! results, the history and the node logs. Every file but the folder
//! itself may be missing (a run killed hard has no results.json); the
//! report then shows what is there and says what is not.

use super::ops::{Ops, OpsBuilder};
use crate::run::store::{ResultsFile, RunDir};
use anyhow::Context as _;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// What a run left behind.
pub struct RunFiles {
    /// The folder.
    pub dir: PathBuf,
    /// spec.json, loosely (older or newer specs still render).
    pub spec: Value,
    /// results.json, if the run got that far.
    pub results: Option<ResultsFile>,
    /// The history's operations and faults, as the report draws them
    /// (none when history.jsonl is missing).
    pub ops: Ops,
    /// The line of a last record cut short (a run killed mid-write).
    pub torn_line: Option<u32>,
    /// Files under `nodes/`, relative to the folder, with their sizes.
    pub logs: Vec<(String, u64)>,
}

/// Reads `dir`. Unreadable or malformed files are errors naming the file;
/// missing ones are not.
pub fn read(dir: &RunDir) -> anyhow::Result<RunFiles> {
    let spec = dir.read_spec()?.unwrap_or(Value::Null);
    let results = dir.read_results()?;
    let path = dir.history();
    let (ops, torn_line) = match path.exists() {
        true => read_ops(&path).with_context(|| format!("cannot read {}", path.display()))?,
        false => (OpsBuilder::default().finish(), None),
    };
    Ok(RunFiles {
        dir: dir.path.clone(),
        spec,
        results,
        ops,
        torn_line,
        logs: logs(dir),
    })
}

/// The history in `path`, read as a stream (JSON Lines; other formats are
/// read whole first), as the report draws it.
fn read_ops(path: &Path) -> Result<(Ops, Option<u32>), checkers::format::ReadError> {
    let mut b = OpsBuilder::default();
    match checkers::format::stream_path(path, None)? {
        Some(mut stream) => {
            for item in stream.by_ref() {
                b.push(&item?.0);
            }
            Ok((b.finish(), stream.torn_line()))
        }
        None => {
            let h = checkers::format::read_path(path, None)?;
            h.ops.iter().for_each(|op| b.push(op));
            Ok((b.finish(), h.torn_line))
        }
    }
}

/// `nodes/<node>/<file>` paths, sorted.
fn logs(dir: &RunDir) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    let Ok(nodes) = std::fs::read_dir(dir.nodes()) else {
        return out;
    };
    for node in nodes.flatten() {
        let Ok(files) = std::fs::read_dir(node.path()) else {
            continue;
        };
        for f in files.flatten() {
            let size = f.metadata().map(|m| m.len()).unwrap_or(0);
            if let Ok(rel) = f.path().strip_prefix(&dir.path) {
                out.push((rel.to_string_lossy().into_owned(), size));
            }
        }
    }
    out.sort();
    out
}
