//! Checking a history too large to hold in memory. A history in memory
//! costs about 420 bytes a record (a 10,000,000-record history, 4 GB), so
//! beyond [`WHOLE_BYTES`] of JSON Lines the history is read once, as a
//! stream, and split on disk into groups of keys (P-compositionality, as
//! Knossos's `independent` checker and Porcupine's partitions use it):
//! checkers whose answers compose over keys (per-key linearizability, the
//! stats) run group by group and their answers are merged; a checker that
//! needs the whole history gets it only when it fits [`MEMORY_BUDGET`],
//! and answers `unknown`, saying why, otherwise. Small histories take the
//! plain path ([`analysis::analyze`]), so their answers are unchanged.

use super::analysis::{self, Analysis, CheckOutcome, CheckResult};
use anyhow::Context as _;
use checkers::checker::CheckerSpec;
use checkers::format::{self, Format};
use checkers::linear::LinearResult;
use checkers::{History, Op, Process, Verdict};
use serde_json::Value;
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How much memory the checkers of one run may use: a checker that would
/// need more answers `unknown` instead of being killed.
pub const MEMORY_BUDGET: usize = 3 << 30;

/// Histories up to this size (bytes of JSON Lines) are checked whole.
pub const WHOLE_BYTES: u64 = 64 << 20;

/// What a record of a history costs in memory, estimated from a register
/// history (`harness/benches/memory.rs`); a checker's own structures come
/// on top.
const BYTES_PER_RECORD: u64 = 420;

/// A group of keys is meant to fit in this much memory as a history.
const GROUP_BYTES: u64 = 256 << 20;

/// Where the plain path ends and how big a key group is.
#[derive(Clone, Copy, Debug)]
struct Limits {
    whole_bytes: u64,
    group_bytes: u64,
    budget: u64,
}

const LIMITS: Limits = Limits {
    whole_bytes: WHOLE_BYTES,
    group_bytes: GROUP_BYTES,
    budget: MEMORY_BUDGET as u64,
};

/// How long a run's analysis may take before a checker says unknown.
pub const RUN_TIME_LIMIT: Duration = Duration::from_secs(300);

/// Checks the history in `path` with `specs`, within `time_limit`.
pub fn analyze_path(
    path: &Path,
    specs: &[CheckerSpec],
    time_limit: Duration,
) -> anyhow::Result<Analysis> {
    analyze_within(path, specs, time_limit, LIMITS)
}

fn analyze_within(
    path: &Path,
    specs: &[CheckerSpec],
    time_limit: Duration,
    limits: Limits,
) -> anyhow::Result<Analysis> {
    let size = std::fs::metadata(path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .len();
    if size <= limits.whole_bytes {
        let history = format::read_path(path, None)
            .with_context(|| format!("cannot read {}", path.display()))?;
        return Ok(analysis::analyze(&history, specs, time_limit));
    }
    let deadline = Instant::now() + time_limit;
    let (split, whole): (Vec<&CheckerSpec>, Vec<&CheckerSpec>) =
        specs.iter().partition(|s| composes(s));
    let groups = (size * BYTES_PER_RECORD / 100 / limits.group_bytes + 1).min(1024) as usize;
    let spilled = Spill::write(path, groups, split.iter().any(|s| per_key(s)))?;
    let mut checks: Vec<Option<CheckOutcome>> = vec![None; specs.len()];
    let split_specs: Vec<CheckerSpec> = split.iter().map(|s| (*s).clone()).collect();
    for outcome in spilled.check(&split_specs, deadline)? {
        let at = specs
            .iter()
            .position(|s| s.name() == outcome.checker && composes(s));
        if let Some(i) = at.filter(|i| checks[*i].is_none()) {
            checks[i] = Some(outcome);
        }
    }
    let whole_specs: Vec<CheckerSpec> = whole.iter().map(|s| (*s).clone()).collect();
    let needed = spilled.records * BYTES_PER_RECORD;
    let whole_checks = match (whole_specs.is_empty(), needed <= limits.budget) {
        (true, _) => Vec::new(),
        (false, true) => {
            let history = format::read_path(path, None)
                .with_context(|| format!("cannot read {}", path.display()))?;
            analysis::analyze(&history, &whole_specs, remaining(deadline)).checks
        }
        (false, false) => whole_specs
            .iter()
            .map(|s| too_large(s, spilled.records, needed, limits.budget))
            .collect(),
    };
    let mut whole_checks = whole_checks.into_iter();
    let checks: Vec<CheckOutcome> = checks
        .into_iter()
        .map(|c| c.or_else(|| whole_checks.next()))
        .collect::<Option<_>>()
        .context("a checker gave no answer")?;
    Ok(Analysis {
        verdict: Verdict::all(checks.iter().map(|c| c.verdict)),
        checks,
    })
}

/// Whether a checker's answers over groups of keys merge into its answer
/// over the whole history.
fn composes(spec: &CheckerSpec) -> bool {
    per_key(spec) || matches!(spec, CheckerSpec::Stats)
}

/// Whether a checker is per-key linearizability.
fn per_key(spec: &CheckerSpec) -> bool {
    matches!(spec, CheckerSpec::Linearizable(m) if m.independent)
}

fn remaining(deadline: Instant) -> Duration {
    deadline
        .saturating_duration_since(Instant::now())
        .max(Duration::from_millis(1))
}

/// The answer of a checker that needs the whole history when it does not
/// fit the budget.
fn too_large(spec: &CheckerSpec, records: u64, needed: u64, budget: u64) -> CheckOutcome {
    let why = format!(
        "the history has {records} records, about {:.1} GiB in memory, more than the \
         checkers' memory budget of {:.1} GiB, and {} needs all of it at once",
        needed as f64 / (1u64 << 30) as f64,
        budget as f64 / (1u64 << 30) as f64,
        spec.name()
    );
    CheckOutcome::new(spec, CheckResult::Error(why))
}

/// Whether the history in `path` is JSON Lines too large to check whole.
pub fn is_large(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.len() > WHOLE_BYTES)
        && matches!(format::stream_path(path, None), Ok(Some(_)))
}

/// The history in `path` split into groups of keys (values `[key,
/// value]`) on disk, for a per-key checker to run group by group
/// ([`Spill::histories`]) and its answers to merge
/// ([`Spill::merge_linear`]): `temblor check --independent` on a large
/// history.
pub fn split_by_key(path: &Path) -> anyhow::Result<Spill> {
    let size = std::fs::metadata(path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .len();
    let groups = (size * BYTES_PER_RECORD / 100 / GROUP_BYTES + 1).min(1024) as usize;
    Spill::write(path, groups, true)
}

/// A history split on disk into groups of keys: each group a JSON Lines
/// file with, beside it, the original line of each record.
pub struct Spill {
    dir: PathBuf,
    source: String,
    groups: usize,
    records: u64,
    /// Each key's rank of first appearance, to order partitions as the
    /// whole history would.
    first_seen: HashMap<String, usize>,
}

impl Spill {
    /// Reads `path` once and writes its records to `groups` files: by key
    /// (the first element of `[key, value]` values) when `by_key`, else by
    /// process; a completion always goes with its invocation, and nemesis
    /// records go to group 0.
    fn write(path: &Path, groups: usize, by_key: bool) -> anyhow::Result<Spill> {
        let source = path.display().to_string();
        let stream = format::stream_path(path, None)?
            .with_context(|| format!("{source}: large histories are checked as JSON Lines"))?;
        let dir = std::env::temp_dir().join(format!(
            "temblor-spill-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ));
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let mut spill = Spill {
            dir,
            source,
            groups,
            records: 0,
            first_seen: HashMap::new(),
        };
        let mut files = (0..groups)
            .map(|g| spill.open_group(g))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let mut open: HashMap<Process, usize> = HashMap::new();
        for item in stream {
            let (op, line) = item?;
            let group = spill.group_of(&op, by_key, &mut open);
            let (ops, lines) = &mut files[group];
            serde_json::to_writer(&mut *ops, &op)?;
            ops.write_all(b"\n")?;
            lines.write_all(&line.to_le_bytes())?;
            spill.records += 1;
        }
        for (ops, lines) in &mut files {
            ops.flush()?;
            lines.flush()?;
        }
        Ok(spill)
    }

    fn open_group(&self, g: usize) -> anyhow::Result<(BufWriter<File>, BufWriter<File>)> {
        let create = |name: String| -> anyhow::Result<BufWriter<File>> {
            let p = self.dir.join(name);
            Ok(BufWriter::new(File::create(&p).with_context(|| {
                format!("cannot create {}", p.display())
            })?))
        };
        Ok((create(format!("{g}.jsonl"))?, create(format!("{g}.lines"))?))
    }

    fn group_of(&mut self, op: &Op, by_key: bool, open: &mut HashMap<Process, usize>) -> usize {
        if op.is_nemesis() {
            return 0;
        }
        if op.kind != checkers::OpType::Invoke {
            if let Some(g) = open.remove(&op.process) {
                return g;
            }
        }
        let key = match (&op.value, by_key) {
            (Value::Array(kv), true) if !kv.is_empty() => Some(match &kv[0] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            }),
            _ => None,
        };
        let group = match &key {
            Some(k) => {
                let next = self.first_seen.len();
                self.first_seen.entry(k.clone()).or_insert(next);
                hash(k.as_bytes()) % self.groups
            }
            None => hash(op.process.to_string().as_bytes()) % self.groups,
        };
        if op.kind == checkers::OpType::Invoke {
            open.insert(op.process, group);
        }
        group
    }

    /// Group `g` as a history, its records' lines those of the original.
    fn read_group(&self, g: usize) -> anyhow::Result<History> {
        let ops = self.dir.join(format!("{g}.jsonl"));
        let file = File::open(&ops).with_context(|| format!("cannot open {}", ops.display()))?;
        let mut h = format::read(BufReader::new(file), &self.source, Format::Jsonl)?;
        let mut raw = Vec::new();
        File::open(self.dir.join(format!("{g}.lines")))?.read_to_end(&mut raw)?;
        h.lines = raw
            .chunks_exact(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        Ok(h)
    }

    /// Each group as a history, one at a time.
    pub fn histories(&self) -> impl Iterator<Item = anyhow::Result<History>> + '_ {
        (0..self.groups).map(|g| self.read_group(g))
    }

    /// Runs `specs` on every group and merges each checker's answers.
    fn check(&self, specs: &[CheckerSpec], deadline: Instant) -> anyhow::Result<Vec<CheckOutcome>> {
        let mut parts: Vec<Vec<CheckOutcome>> = vec![Vec::new(); specs.len()];
        for history in self.histories() {
            let history = history?;
            let a = analysis::analyze(&history, specs, remaining(deadline));
            for (i, c) in a.checks.into_iter().enumerate() {
                parts[i].push(c);
            }
        }
        Ok(specs
            .iter()
            .zip(parts)
            .map(|(spec, parts)| self.merge(spec, parts))
            .collect())
    }

    /// One checker's answers over the groups, as its answer over all.
    fn merge(&self, spec: &CheckerSpec, parts: Vec<CheckOutcome>) -> CheckOutcome {
        let merged = match spec {
            CheckerSpec::Linearizable(_) => {
                let linear = |c: &CheckOutcome| match &c.result {
                    CheckResult::Linearizable(r) => Some(r.clone()),
                    _ => None,
                };
                let rs: Option<Vec<_>> = parts.iter().map(linear).collect();
                rs.map(|rs| CheckResult::Linearizable(self.merge_linear(rs)))
            }
            _ => {
                let stats = |c: &CheckOutcome| match &c.result {
                    CheckResult::Stats(r) => Some(r.clone()),
                    _ => None,
                };
                let rs: Option<Vec<_>> = parts.iter().map(stats).collect();
                rs.map(|rs| CheckResult::Stats(checkers::stats::merge(rs)))
            }
        };
        match merged {
            Some(result) => CheckOutcome::new(spec, result),
            // A group that could not be checked decides: its reason stands.
            _ => match parts.into_iter().find(|c| c.verdict == Verdict::Unknown) {
                Some(unknown) => unknown,
                None => CheckOutcome::new(
                    spec,
                    CheckResult::Error("its answers over key groups do not merge".into()),
                ),
            },
        }
    }

    /// Per-key linearizability answers over the groups, as the answer
    /// over the whole history (partitions in first-appearance order).
    pub fn merge_linear(&self, parts: Vec<LinearResult>) -> LinearResult {
        let mut partitions: Vec<_> = parts.iter().flat_map(|r| r.partitions.clone()).collect();
        let rank = |k: &Option<String>| {
            k.as_ref()
                .and_then(|k| self.first_seen.get(k))
                .copied()
                .unwrap_or(usize::MAX)
        };
        partitions.sort_by_key(|p| rank(&p.key));
        LinearResult {
            verdict: Verdict::all(parts.iter().map(|r| r.verdict)),
            ops: parts.iter().map(|r| r.ops).sum(),
            partitions,
            elapsed_ms: parts.iter().map(|r| r.elapsed_ms).sum(),
        }
    }
}

impl Drop for Spill {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// FNV-1a: a stable hash, so the same history always splits the same way.
fn hash(bytes: &[u8]) -> usize {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    }) as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use checkers::OpType;
    use serde_json::json;

    /// Register ops on `keys` keys by 3 processes per key, one key's reads
    /// stale when `stale` names it; with nemesis records between.
    fn history(keys: u64, rounds: u64, stale: Option<u64>) -> Vec<Op> {
        let mut ops = Vec::new();
        for r in 0..rounds {
            for k in 0..keys {
                let p = k * 3 + r % 3;
                let write = Op::new(p, OpType::Invoke, "write", json!([k, r]));
                ops.push(write.clone());
                ops.push(Op {
                    kind: OpType::Ok,
                    ..write
                });
                let seen = match stale == Some(k) && r > 1 {
                    true => r - 1,
                    false => r,
                };
                let q = k * 3 + (r + 1) % 3;
                ops.push(Op::new(q, OpType::Invoke, "read", json!([k, null])));
                ops.push(Op::new(q, OpType::Ok, "read", json!([k, seen])));
            }
            let mut kill = Op::new(0, OpType::Info, "kill", json!(null));
            kill.process = Process::Nemesis;
            ops.push(kill);
        }
        ops
    }

    fn write(name: &str, ops: Vec<Op>) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("temblor-large-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        let h = History::from_ops("t", ops);
        format::write_jsonl(&h, File::create(&path).unwrap()).unwrap();
        path
    }

    fn register_specs() -> Vec<CheckerSpec> {
        workloads::by_name("register")
            .unwrap()
            .checkers(&workloads::Options::default())
    }

    /// Small limits: every history here is "large", split in several groups.
    const TINY: Limits = Limits {
        whole_bytes: 0,
        group_bytes: 2_000,
        budget: MEMORY_BUDGET as u64,
    };

    #[test]
    fn key_groups_give_the_answers_of_the_whole_history() {
        for stale in [None, Some(7)] {
            let path = write("h.jsonl", history(12, 40, stale));
            let limit = Duration::from_secs(30);
            let whole = analysis::analyze(
                &format::read_path(&path, None).unwrap(),
                &register_specs(),
                limit,
            );
            let split = analyze_within(&path, &register_specs(), limit, TINY).unwrap();
            assert_eq!(split.verdict, whole.verdict, "{stale:?}");
            for (s, w) in split.checks.iter().zip(&whole.checks) {
                assert_eq!((&s.checker, s.verdict), (&w.checker, w.verdict));
            }
            let lin = |a: &Analysis| -> LinearResult {
                match &a.checks[0].result {
                    CheckResult::Linearizable(r) => r.clone(),
                    other => panic!("not a linearizability result: {other:?}"),
                }
            };
            let (s, w) = (lin(&split), lin(&whole));
            let keys = |r: &LinearResult| -> Vec<(Option<String>, usize)> {
                r.partitions
                    .iter()
                    .map(|p| (p.key.clone(), p.ops))
                    .collect()
            };
            assert_eq!(keys(&s), keys(&w), "partitions and their order");
            // Once a partition is invalid, the search stops the others
            // (unknown) wherever it has got to: compare the invalid ones.
            let invalid = |r: &LinearResult| -> Vec<Option<String>> {
                let bad = r
                    .partitions
                    .iter()
                    .filter(|p| p.verdict == Verdict::Invalid);
                bad.map(|p| p.key.clone()).collect()
            };
            assert_eq!(invalid(&s), invalid(&w));
            assert_eq!(s.ops, w.ops);
            let failing: Vec<_> = s
                .partitions
                .iter()
                .filter_map(|p| p.failure.as_ref())
                .collect();
            let failing_w: Vec<_> = w
                .partitions
                .iter()
                .filter_map(|p| p.failure.as_ref())
                .collect();
            assert_eq!(failing.len(), failing_w.len());
            for (a, b) in failing.iter().zip(&failing_w) {
                assert_eq!(a.op.index, b.op.index, "the same op, by its history index");
                assert_eq!(a.op.line, b.op.line, "the same line of the original file");
            }
            assert_eq!(
                split.checks[1].result, whole.checks[1].result,
                "stats add up"
            );
            std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
        }
    }

    #[test]
    fn a_checker_that_needs_the_whole_history_says_unknown_when_it_does_not_fit() {
        let path = write("big.jsonl", history(4, 20, None));
        let specs = vec![
            CheckerSpec::Elle(checkers::elle::ElleOptions::new(
                checkers::elle::Workload::ListAppend,
            )),
            CheckerSpec::Stats,
        ];
        let tight = Limits {
            budget: 1_000,
            ..TINY
        };
        let a = analyze_within(&path, &specs, Duration::from_secs(5), tight).unwrap();
        assert_eq!(a.checks[0].checker, "elle-list-append");
        assert_eq!(a.checks[0].verdict, Verdict::Unknown);
        assert!(
            a.checks[0]
                .text
                .contains("more than the checkers' memory budget"),
            "{}",
            a.checks[0].text
        );
        assert_eq!(a.checks[1].verdict, Verdict::Valid, "stats still checked");
        assert_eq!(a.verdict, Verdict::Unknown);
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }
}
