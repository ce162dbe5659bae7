//! `temblor report --merge`: the results folders of several shards (CI
//! artifacts, downloaded side by side) made one: every run folder a
//! shard's test-all records name is copied into the merged results
//! folder, as `temblor test` wrote it, and the records are joined into
//! one, from which the caller writes one junit.xml, one summary and the
//! index.

use super::record::{worst_exit, TestAll};
use anyhow::Context as _;
use std::path::Path;

/// Joins the test-all records found in each of `shards` (results folders)
/// into one, copying the runs they name into `out`. A shard without a
/// record is an error naming it; so are two shards of different base
/// seeds or matrices (they are not parts of one test-all).
pub fn merge(shards: &[impl AsRef<Path>], out: &Path) -> anyhow::Result<TestAll> {
    let mut merged: Option<TestAll> = None;
    let mut shard_names = Vec::new();
    for shard in shards {
        let shard = shard.as_ref();
        let records = TestAll::find(shard)?;
        anyhow::ensure!(
            !records.is_empty(),
            "{} holds no test-all record (test-all/*/test-all.json): is it a results folder of temblor test-all?",
            shard.display()
        );
        for path in records {
            let part = TestAll::read(&path)?;
            for run in part.runs.iter().filter_map(|r| r.run.as_ref()) {
                copy_run(&shard.join(run), &out.join(run))?;
            }
            shard_names.push(part.shard.clone());
            merged = Some(match merged {
                None => part,
                Some(mut m) => {
                    anyhow::ensure!(
                        m.base_seed == part.base_seed && m.matrix_cells == part.matrix_cells,
                        "{} is from another test-all (base seed {}, {} cells) than the first shard (base seed {}, {} cells)",
                        path.display(),
                        part.base_seed,
                        part.matrix_cells,
                        m.base_seed,
                        m.matrix_cells
                    );
                    m.runs.extend(part.runs);
                    m.not_run += part.not_run;
                    m
                }
            });
        }
    }
    let mut m = merged.context("no shards to merge")?;
    m.runs.sort_by_key(|r| (r.cell_index, r.repetition));
    let stopped = (m.not_run > 0).then_some(255);
    m.exit_code = worst_exit(m.runs.iter().map(|r| r.exit_code).chain(stopped));
    m.shard = format!("merged from {}", shard_names.join(", "));
    Ok(m)
}

/// Copies a run folder (files and sub-folders) unless `to` is `from`.
fn copy_run(from: &Path, to: &Path) -> anyhow::Result<()> {
    if !from.is_dir() {
        return Ok(()); // listed but not uploaded: its record still counts
    }
    if let (Ok(a), Ok(b)) = (from.canonicalize(), to.canonicalize()) {
        if a == b {
            return Ok(());
        }
    }
    copy_dir(from, to)
        .with_context(|| format!("cannot copy {} to {}", from.display(), to.display()))
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let target = to.join(entry.file_name());
        if kind.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else if kind.is_file() {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matrix::record::RunRecord;

    fn shard(root: &Path, name: &str, shard: &str, cells: &[(usize, u8)]) -> std::path::PathBuf {
        let results = root.join(name);
        let mut all = TestAll {
            schema_version: 1,
            base_seed: 5,
            shard: shard.into(),
            matrix_cells: 4,
            ..TestAll::default()
        };
        for &(cell, exit_code) in cells {
            let run = format!("c{cell}/20260101T00000{cell}");
            std::fs::create_dir_all(results.join(&run).join("nodes/n1")).unwrap();
            std::fs::write(results.join(&run).join("nodes/n1/log"), "x").unwrap();
            std::fs::write(
                results.join(&run).join("results.json"),
                "{\"verdict\":\"valid\"}",
            )
            .unwrap();
            all.runs.push(RunRecord {
                cell: format!("c{cell}"),
                cell_index: cell,
                repetition: 1,
                seed: cell as u64,
                cluster: 0,
                exit_code,
                run: Some(run),
                seconds: 1.0,
                command: String::new(),
                stderr_tail: String::new(),
            });
        }
        all.exit_code = worst_exit(all.runs.iter().map(|r| r.exit_code));
        let dir = results.join("test-all/20260101T000000");
        std::fs::create_dir_all(&dir).unwrap();
        all.write(&dir).unwrap();
        results
    }

    #[test]
    fn shards_merge_into_one_record_with_their_runs_copied() {
        let root = std::env::temp_dir().join(format!("temblor-merge-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let a = shard(&root, "a", "1/2", &[(0, 0), (2, 1)]);
        let b = shard(&root, "b", "2/2", &[(1, 0), (3, 2)]);
        let out = root.join("merged");
        let m = merge(&[&a, &b], &out).unwrap();
        let cells: Vec<usize> = m.runs.iter().map(|r| r.cell_index).collect();
        assert_eq!(cells, [0, 1, 2, 3]);
        assert_eq!(m.exit_code, 2);
        assert_eq!(m.shard, "merged from 1/2, 2/2");
        assert!(out.join("c3/20260101T000003/nodes/n1/log").is_file());
        let e = merge(&[&a, &root.join("nothing")], &out).unwrap_err();
        assert!(
            format!("{e:#}").contains("holds no test-all record"),
            "{e:#}"
        );
        // Merging a shard into itself copies nothing and keeps its runs.
        let again = merge(&[&a], &a).unwrap();
        assert_eq!(again.runs.len(), 2);
        std::fs::remove_dir_all(&root).unwrap();
    }
}
