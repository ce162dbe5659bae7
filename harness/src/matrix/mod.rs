//! A test matrix for `temblor test-all` (Jepsen's `test-all-cmd`): targets
//! x workloads x nemeses, each cell a [`TestSpec`] run `test_count` times,
//! every cell's seed derived from one base seed so that a night's run is
//! repeated by giving its base seed again, and shards that split the
//! cells between CI machines (the CI system's own matrix is the
//! distributed engine; temblor only splits deterministically).
//!
//! Order: cells are numbered targets outermost, then workloads, then
//! nemeses, each in the order given; shard `I/N` holds the cells whose
//! number `c` (from 0) has `c % N == I - 1`, so every cell is in exactly one
//! shard and neighbouring cells (often alike in length) spread over
//! shards. Repetitions of a cell stay in its shard.

pub mod merge;
pub mod record;

use crate::nemesis::FaultKind;
use crate::run::TestSpec;
use serde::Deserialize;
use std::path::Path;
use targets::TargetSpec;

/// A matrix file (TOML): the axes, the repetitions, and `[test]`, the
/// options of every cell (keys as in a test file).
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MatrixFile {
    /// Targets: names or paths, or tables with a `kind` (as a test file's
    /// `target`), e.g. `{ kind = "raftkv", bugs = ["follower-reads"] }`.
    pub targets: Vec<TargetEntry>,
    /// Workload names.
    pub workloads: Vec<String>,
    /// Fault sets: each a list of families (`[]`: no faults).
    pub nemeses: Vec<Vec<FaultKind>>,
    /// Runs of each cell.
    pub test_count: Option<usize>,
    /// Options for every cell.
    pub test: Option<toml::Table>,
}

/// One target of a matrix file.
#[derive(Debug, Deserialize)]
#[serde(transparent)]
pub struct TargetEntry(
    #[serde(deserialize_with = "targets::registry::deserialize_spec")] pub TargetSpec,
);

impl MatrixFile {
    /// Reads a matrix file; errors name the file.
    pub fn read(path: &Path) -> Result<MatrixFile, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read matrix file {}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| format!("matrix file {}: {e}", path.display()))
    }

    /// The `[test]` table as a spec over the defaults.
    pub fn base_spec(&self, path: &Path) -> Result<TestSpec, String> {
        let table = self.test.clone().unwrap_or_default();
        let text = toml::to_string(&table).map_err(|e| e.to_string())?;
        TestSpec::from_toml_str(&text, path)
            .map_err(|e| format!("[test] of {}: {e}", path.display()))
    }
}

/// The matrix: every cell is `base` with one target, workload and nemesis.
#[derive(Clone, Debug)]
pub struct Matrix {
    /// Settings every cell shares (its seed is the base seed).
    pub base: TestSpec,
    /// The target axis.
    pub targets: Vec<TargetSpec>,
    /// The workload axis.
    pub workloads: Vec<String>,
    /// The fault axis.
    pub nemeses: Vec<Vec<FaultKind>>,
    /// Runs of each cell.
    pub test_count: usize,
}

/// One cell of the matrix.
#[derive(Clone, Debug, PartialEq)]
pub struct Cell {
    /// Its number in matrix order, from 0.
    pub index: usize,
    /// Its name: the test's name and results folder.
    pub name: String,
    /// The cell's test, without its seed.
    pub spec: TestSpec,
}

/// One run of a cell.
#[derive(Clone, Debug, PartialEq)]
pub struct Job {
    /// The cell.
    pub cell: Cell,
    /// Which run of the cell, from 1.
    pub repetition: usize,
    /// The run's seed.
    pub seed: u64,
}

impl Job {
    /// The run's spec: the cell's, with the run's seed.
    pub fn spec(&self) -> TestSpec {
        TestSpec {
            seed: Some(self.seed),
            ..self.cell.spec.clone()
        }
    }
}

impl Matrix {
    /// Every cell, in matrix order; each validated as `temblor test`
    /// would (an error names the cell).
    pub fn cells(&self) -> Result<Vec<Cell>, String> {
        let mut out = Vec::new();
        for target in &self.targets {
            for workload in &self.workloads {
                for nemesis in &self.nemeses {
                    let mut spec = TestSpec {
                        target: target.clone(),
                        workload: workload.clone(),
                        nemesis: nemesis.clone(),
                        seed: None,
                        ..self.base.clone()
                    };
                    let name = if self.base.name.is_empty() {
                        cell_name(&spec)
                    } else {
                        format!("{}-{}", self.base.name, out.len() + 1)
                    };
                    spec.name = name.clone();
                    spec.validate()
                        .map_err(|e| format!("matrix cell {name}: {e}"))?;
                    out.push(Cell {
                        index: out.len(),
                        name,
                        spec,
                    });
                }
            }
        }
        if out.is_empty() {
            return Err("the matrix has no cells: an axis is empty".into());
        }
        Ok(out)
    }

    /// The runs of the cells in `shard`, cell by cell, each repetition
    /// with its own seed derived from `base_seed`.
    pub fn jobs(&self, shard: Shard, base_seed: u64) -> Result<Vec<Job>, String> {
        let mut jobs = Vec::new();
        for cell in self.cells()?.into_iter().filter(|c| shard.holds(c.index)) {
            for repetition in 1..=self.test_count {
                jobs.push(Job {
                    seed: cell_seed(base_seed, &cell.name, repetition),
                    cell: cell.clone(),
                    repetition,
                });
            }
        }
        Ok(jobs)
    }
}

/// A cell's default name: `<target>[.<option values>]-<workload>-<faults>`,
/// e.g. `raftkv.follower-reads-register-partition_kill`, made of the
/// characters a test name may hold.
pub fn cell_name(spec: &TestSpec) -> String {
    let mut target = spec.target.name();
    let args = spec.target.cli_args();
    for kv in args.iter().skip(2).filter(|a| !a.starts_with("--")) {
        let value = kv.split_once('=').map_or(kv.as_str(), |(_, v)| v);
        let base = value.rsplit('/').next().unwrap_or(value);
        target.push('.');
        target.push_str(base);
    }
    let faults = if spec.nemesis.is_empty() {
        "none".to_string()
    } else {
        let names: Vec<String> = spec.nemesis.iter().map(ToString::to_string).collect();
        names.join("_")
    };
    let name = format!("{target}-{}-{faults}", spec.workload);
    name.chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '.' | '_' | '-' => c,
            _ => '_',
        })
        .collect()
}

/// The seed of a cell's run: the base seed mixed with the cell's name and
/// the repetition (FNV-1a, then SplitMix64's finalizer), stable across
/// versions and machines, unlike `std`'s hasher.
pub fn cell_seed(base: u64, cell: &str, repetition: usize) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in cell.bytes().chain(repetition.to_le_bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let mut z = base ^ h;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// One shard of the matrix, `I/N` (1 <= I <= N).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// Which shard, from 1.
    pub index: usize,
    /// How many shards.
    pub count: usize,
}

impl Shard {
    /// The whole matrix.
    pub const ALL: Shard = Shard { index: 1, count: 1 };

    /// Whether cell number `cell` (from 0) is in this shard.
    pub fn holds(self, cell: usize) -> bool {
        cell % self.count == self.index - 1
    }
}

impl std::str::FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Shard, String> {
        let bad = || format!("shard {s:?}: expected I/N with 1 <= I <= N, e.g. 2/4");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count) = (
            i.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if index == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matrix(targets: usize, workloads: usize, nemeses: usize, count: usize) -> Matrix {
        let all_targets = [
            TargetSpec::named("raftkv").unwrap(),
            TargetSpec::named("etcd").unwrap(),
        ];
        let all_workloads = ["register", "set", "counter", "bank"];
        let all_nemeses = [
            vec![],
            vec![FaultKind::Partition],
            vec![FaultKind::Kill, FaultKind::Pause],
        ];
        Matrix {
            base: TestSpec::default(),
            targets: all_targets[..targets].to_vec(),
            workloads: all_workloads[..workloads]
                .iter()
                .map(|w| w.to_string())
                .collect(),
            nemeses: all_nemeses[..nemeses].to_vec(),
            test_count: count,
        }
    }

    #[test]
    fn shards_cover_every_cell_exactly_once() {
        for (t, w, n) in [(1, 1, 1), (2, 4, 3), (1, 3, 2), (2, 1, 3)] {
            let m = matrix(t, w, n, 2);
            let cells = m.cells().unwrap();
            assert_eq!(cells.len(), t * w * n);
            for count in 1..=cells.len() + 2 {
                let mut seen = vec![0; cells.len()];
                for index in 1..=count {
                    let jobs = m.jobs(Shard { index, count }, 7).unwrap();
                    for j in &jobs {
                        seen[j.cell.index] += 1;
                    }
                    let sizes = jobs.len() / 2;
                    assert!(sizes <= cells.len().div_ceil(count), "shards are balanced");
                }
                assert!(seen.iter().all(|&s| s == 2), "{count} shards: {seen:?}");
            }
        }
    }

    #[test]
    fn cells_are_in_matrix_order_with_distinct_names_and_stable_seeds() {
        let m = matrix(2, 2, 3, 2);
        let cells = m.cells().unwrap();
        let names: Vec<&str> = cells.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names[..4],
            [
                "raftkv-register-none",
                "raftkv-register-partition",
                "raftkv-register-kill_pause",
                "raftkv-set-none"
            ]
        );
        assert_eq!(names[6], "etcd-register-none");
        let mut unique = names.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), names.len());
        let jobs = m.jobs(Shard::ALL, 42).unwrap();
        assert_eq!(jobs.len(), 24);
        let again = m.jobs(Shard::ALL, 42).unwrap();
        assert_eq!(jobs, again, "the same base seed gives the same runs");
        let mut seeds: Vec<u64> = jobs.iter().map(|j| j.seed).collect();
        seeds.sort();
        seeds.dedup();
        assert_eq!(seeds.len(), 24, "every run has its own seed");
        assert_ne!(m.jobs(Shard::ALL, 43).unwrap()[0].seed, jobs[0].seed);
        // Pinned: a seed must not change with a new version of temblor.
        assert_eq!(
            cell_seed(0, "raftkv-register-none", 1),
            16_582_304_289_492_729_184
        );
        assert_eq!(jobs[0].spec().seed, Some(jobs[0].seed));
    }

    #[test]
    fn target_options_name_the_cell_and_bad_cells_are_refused() {
        let mut spec = TestSpec::default();
        spec.target.set_option("bug", "follower-reads").unwrap();
        spec.nemesis = vec![FaultKind::Partition, FaultKind::Kill];
        assert_eq!(
            cell_name(&spec),
            "raftkv.follower-reads-register-partition_kill"
        );
        let mut m = matrix(1, 1, 1, 1);
        m.workloads = vec!["ledger".into()];
        let e = m.cells().unwrap_err();
        assert!(e.contains("matrix cell raftkv-ledger-none"), "{e}");
        m.workloads.clear();
        assert!(m.cells().unwrap_err().contains("no cells"));
    }

    #[test]
    fn shards_parse_and_refuse_nonsense() {
        assert_eq!("2/4".parse::<Shard>(), Ok(Shard { index: 2, count: 4 }));
        for bad in ["0/4", "5/4", "2", "a/b", "1/0"] {
            let e = bad.parse::<Shard>().unwrap_err();
            assert!(e.contains("expected I/N"), "{bad}: {e}");
        }
        assert_eq!(Shard { index: 3, count: 5 }.to_string(), "3/5");
    }

    #[test]
    fn the_nightly_matrix_of_the_ci_guide_is_valid() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.ci/nightly.toml");
        let file = MatrixFile::read(&path).unwrap();
        let m = Matrix {
            base: file.base_spec(&path).unwrap(),
            targets: file.targets.iter().map(|t| t.0.clone()).collect(),
            workloads: file.workloads.clone(),
            nemeses: file.nemeses.clone(),
            test_count: file.test_count.unwrap_or(1),
        };
        assert_eq!(m.cells().unwrap().len(), 12);
    }

    #[test]
    fn a_matrix_file_gives_axes_and_shared_options() {
        let dir = std::env::temp_dir().join(format!("temblor-matrix-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("nightly.toml");
        std::fs::write(
            &path,
            r#"
targets = ["raftkv", { kind = "raftkv", bugs = ["follower-reads"] }]
workloads = ["register"]
nemeses = [[], ["partition", "kill"]]
test_count = 3
[test]
time_limit = 5
nodes = 3
"#,
        )
        .unwrap();
        let file = MatrixFile::read(&path).unwrap();
        assert_eq!(file.targets.len(), 2);
        assert_eq!(file.nemeses[1], vec![FaultKind::Partition, FaultKind::Kill]);
        let base = file.base_spec(&path).unwrap();
        assert_eq!((base.time_limit, base.nodes), (5.0, 3));
        std::fs::write(&path, "targets = [\"raftkv\"]\n[test]\ntime_limt = 5\n").unwrap();
        let e = MatrixFile::read(&path)
            .unwrap()
            .base_spec(&path)
            .unwrap_err();
        assert!(e.contains("nightly.toml") && e.contains("time_limt"), "{e}");
        std::fs::write(&path, "target = [\"raftkv\"]\n").unwrap();
        let e = MatrixFile::read(&path).unwrap_err();
        assert!(e.contains("nightly.toml") && e.contains("target"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
