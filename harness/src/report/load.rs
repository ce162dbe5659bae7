//! Reading one run's folder (the layout of `run::store`): the spec, the
//! results, the history and the node logs. Every file but the folder
//! itself may be missing (a run killed hard has no results.json); the
//! report then shows what is there and says what is not.

use super::ops::{Ops, OpsBuilder};
use super::results::ResultsFile;
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
pub fn read(dir: &Path) -> anyhow::Result<RunFiles> {
    anyhow::ensure!(dir.is_dir(), "{} is not a run folder", dir.display());
    let spec = read_json(&dir.join("spec.json"))?.unwrap_or(Value::Null);
    let results = match read_json(&dir.join("results.json"))? {
        Some(v) => Some(serde_json::from_value(v).with_context(|| {
            format!(
                "{} does not follow the results schema",
                dir.join("results.json").display()
            )
        })?),
        None => None,
    };
    let path = dir.join("history.jsonl");
    let (ops, torn_line) = match path.exists() {
        true => read_ops(&path).with_context(|| format!("cannot read {}", path.display()))?,
        false => (OpsBuilder::default().finish(), None),
    };
    Ok(RunFiles {
        dir: dir.to_path_buf(),
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

/// Reads a JSON file; `None` when it does not exist.
pub fn read_json(path: &Path) -> anyhow::Result<Option<Value>> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .with_context(|| format!("{} is not JSON", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// `nodes/<node>/<file>` paths, sorted.
fn logs(dir: &Path) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    let Ok(nodes) = std::fs::read_dir(dir.join("nodes")) else {
        return out;
    };
    for node in nodes.flatten() {
        let Ok(files) = std::fs::read_dir(node.path()) else {
            continue;
        };
        for f in files.flatten() {
            let size = f.metadata().map(|m| m.len()).unwrap_or(0);
            if let Ok(rel) = f.path().strip_prefix(dir) {
                out.push((rel.to_string_lossy().into_owned(), size));
            }
        }
    }
    out.sort();
    out
}
