//! File faults, as Jepsen's `nemesis/file.clj` and the file-corruption
//! package of `nemesis/combined.clj` have them: a `corrupt-files` op kills
//! the target on a few nodes (a minority by default) and, while it is
//! down, damages one of each node's data files (the target's `DataFiles`):
//! flips random bits, cuts off the file's tail (a write-ahead log that
//! lost its last writes), or puts back a copy of the file taken at an
//! earlier file fault (a disk that went back in time). The matching
//! `start-corrupted` op (and the heal) starts those nodes again and
//! watches each for a few seconds: a correct store either refuses to
//! start, saying why in its log, or starts and recovers without losing
//! acknowledged writes (which the checkers judge). The op records which,
//! per node, with the log's tail when the process exited.
//!
//! Every choice (nodes, file, which fault, where the bits flip, how much
//! is cut) comes from the nemesis's seeded RNG; the node does the byte
//! work with `stat`, `od`, `dd` and `truncate` (coreutils), as root.

use super::{Cluster, Family, FaultKind, FaultOp, FileFault, Targets};
use rand::seq::SliceRandom;
use rand::Rng;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use targets::db::{Db, DbError, NodeCtx};
use targets::node::NodePaths;
use targets::remote::{escape, Command};
use workloads::client::BoxFuture;
use workloads::NemesisError;

/// How long a started node is watched for an exit.
const WATCH: Duration = Duration::from_secs(3);
/// Time between two looks at a watched node.
const WATCH_POLL: Duration = Duration::from_millis(250);
/// How many lines of each log file a node that refused to start shows.
const LOG_TAIL_LINES: usize = 20;
/// How many bits a bitflip fault flips.
const BITS: usize = 3;

/// What file faults do, and to how many nodes (the test's `file_faults`
/// and `file_fault_targets`).
#[derive(Clone, Debug, PartialEq)]
pub struct FileOptions {
    /// The faults to choose among, one per node per `corrupt-files` op.
    pub faults: Vec<FileFault>,
    /// The node sets to choose among (default: a minority).
    pub targets: Vec<Targets>,
}

impl Default for FileOptions {
    fn default() -> Self {
        FileOptions {
            faults: FileFault::ALL.to_vec(),
            targets: vec![Targets::Minority],
        }
    }
}

/// The nemesis of file faults: which data files it holds an older copy
/// of, per node (taken at an earlier fault, while the node was down).
#[derive(Default)]
pub struct Files {
    copies: BTreeMap<String, BTreeSet<String>>,
}

impl Family for Files {
    fn kinds(&self) -> &'static [FaultKind] {
        &[FaultKind::File]
    }

    fn invoke<'a>(
        &'a mut self,
        cluster: &'a mut Cluster,
        op: FaultOp,
    ) -> BoxFuture<'a, Result<Value, NemesisError>> {
        Box::pin(async move {
            match op {
                FaultOp::CorruptFiles => self.corrupt(cluster).await,
                _ => start_corrupted(cluster).await,
            }
        })
    }

    /// Starts every node left down with corrupted files, and says how each
    /// took it; a node that refuses to start is an outcome, not a failed
    /// heal.
    fn heal<'a>(
        &'a mut self,
        cluster: &'a mut Cluster,
    ) -> BoxFuture<'a, Result<Value, NemesisError>> {
        Box::pin(start_corrupted(cluster))
    }
}

impl Files {
    /// Kills the target on the chosen nodes and damages one data file of
    /// each.
    async fn corrupt(&mut self, cluster: &mut Cluster) -> Result<Value, NemesisError> {
        if cluster.db.as_data_files().is_none() {
            return Err(NemesisError(no_data_files(cluster.db.as_ref())));
        }
        let targets = *cluster
            .opts
            .file
            .targets
            .choose(&mut cluster.rng)
            .unwrap_or(&Targets::Minority);
        let chosen = cluster.choose(targets).await?;
        cluster.update(|a| a.corrupted.extend(chosen.iter().cloned()));
        cluster
            .on_nodes(&chosen, |db, ctx| match db.as_kill() {
                Some(k) => k.kill(ctx),
                None => Err(DbError::Unsupported(format!(
                    "{} cannot be killed",
                    db.name()
                ))),
            })
            .await?;
        let mut done = Map::new();
        for node in &chosen {
            let what = self.corrupt_one(cluster, node).await?;
            done.insert(node.clone(), what);
        }
        Ok(json!({ "targets": targets, "nodes": done }))
    }

    /// Damages one data file of `node` (down), after copying the files it
    /// has no copy of yet; says what it did.
    async fn corrupt_one(
        &mut self,
        cluster: &mut Cluster,
        node: &str,
    ) -> Result<Value, NemesisError> {
        let remote = cluster.node(node)?.remote.clone();
        let declared = cluster
            .db
            .as_data_files()
            .map(|d| d.data_files(node))
            .unwrap_or_default();
        let out = remote
            .exec(Command::shell(&list_script(&declared)).sudo())
            .await
            .map_err(|e| NemesisError(super::named(node, &e.to_string())))?;
        let files: Vec<String> = out.stdout.lines().map(str::to_string).collect();
        let copied = self.copies.entry(node.to_string()).or_default();
        let older: Vec<String> = files
            .iter()
            .filter(|f| copied.contains(*f))
            .cloned()
            .collect();
        let fresh: Vec<&String> = files.iter().filter(|f| !copied.contains(*f)).collect();
        let copies = NodePaths::new(node).var("file-fault-copies");
        let mut script = format!("mkdir -p {}", escape(&copies));
        for f in &fresh {
            script.push_str(&format!(
                " && cp -p {} {}",
                escape(f),
                escape(&copy_of(&copies, f))
            ));
        }
        run(&remote, node, &script).await?;
        copied.extend(fresh.into_iter().cloned());
        let fault = *cluster
            .opts
            .file
            .faults
            .choose(&mut cluster.rng)
            .unwrap_or(&FileFault::Truncate);
        let pool = match fault {
            FileFault::Snapshot => &older,
            _ => &files,
        };
        let Some(file) = pool.choose(&mut cluster.rng).cloned() else {
            let why = match fault {
                FileFault::Snapshot => "no data file has a copy from an earlier fault yet",
                _ => "no data file exists yet",
            };
            return Ok(json!({ "fault": fault, "skipped": why, "declared": declared }));
        };
        let (script, detail) = match fault {
            FileFault::Bitflip => bitflip(&file, &mut cluster.rng),
            FileFault::Truncate => truncate(&file, &mut cluster.rng),
            FileFault::Snapshot => (
                format!(
                    "cp -p {} {}",
                    escape(&copy_of(&copies, &file)),
                    escape(&file)
                ),
                json!("restored the copy taken at an earlier file fault"),
            ),
        };
        let out = run(&remote, node, &script).await?;
        Ok(json!({
            "fault": fault,
            "file": file,
            "detail": detail,
            "result": out.trim(),
        }))
    }
}

/// Why a target cannot take file faults.
pub fn no_data_files(db: &dyn Db) -> String {
    format!(
        "{} does not declare its data files (a target file lists them under [files] data)",
        db.name()
    )
}

/// Lists every regular file under the declared paths, one a line, sorted;
/// paths that do not exist yet are skipped.
fn list_script(paths: &[String]) -> String {
    let words: Vec<String> = paths.iter().map(|p| escape(p)).collect();
    format!(
        "for p in {}; do [ -e \"$p\" ] && find \"$p\" -type f; done | sort; true",
        words.join(" ")
    )
}

/// Where the copy of `file` is kept on its node.
fn copy_of(dir: &str, file: &str) -> String {
    format!("{dir}/{}", file.trim_start_matches('/').replace('/', "%"))
}

/// Flips [`BITS`] random bits of `file`, at seeded fractions of its
/// length; prints `offset old new` per flip.
fn bitflip(file: &str, rng: &mut impl Rng) -> (String, Value) {
    let f = escape(file);
    let mut script = format!("size=$(stat -c %s {f}) && [ \"$size\" -gt 0 ] || exit 0");
    let mut flips = Vec::new();
    for _ in 0..BITS {
        let ppm: u64 = rng.gen_range(0..1_000_000);
        let bit: u32 = rng.gen_range(0..8);
        flips.push(json!({ "at_fraction": ppm as f64 / 1e6, "bit": bit }));
        script.push_str(&format!(
            " && off=$(( size * {ppm} / 1000000 )) \
             && old=$(od -An -tu1 -j \"$off\" -N1 {f} | tr -d ' ') \
             && new=$(( old ^ {mask} )) \
             && printf \"$(printf '\\\\%03o' \"$new\")\" | dd of={f} bs=1 seek=\"$off\" count=1 conv=notrunc status=none \
             && echo \"$off $old $new\"",
            mask = 1u32 << bit
        ));
    }
    (script, json!({ "flips": flips }))
}

/// Cuts off the last 10% to 60% of `file` (seeded); prints the sizes
/// before and after.
fn truncate(file: &str, rng: &mut impl Rng) -> (String, Value) {
    let f = escape(file);
    let drop_ppm: u64 = rng.gen_range(100_000..=600_000);
    let script = format!(
        "size=$(stat -c %s {f}) && keep=$(( size - size * {drop_ppm} / 1000000 )) \
         && truncate -s \"$keep\" {f} && echo \"$size $keep\""
    );
    (script, json!({ "dropped_fraction": drop_ppm as f64 / 1e6 }))
}

async fn run(
    remote: &targets::remote::AsyncRemote,
    node: &str,
    script: &str,
) -> Result<String, NemesisError> {
    remote
        .exec(Command::shell(script).sudo())
        .await
        .map(|o| o.stdout)
        .map_err(|e| NemesisError(super::named(node, &e.to_string())))
}

/// Starts every node left down by a file fault, watches each, and says
/// per node whether it started, refused to start (with its log's tail),
/// or could not be started.
async fn start_corrupted(cluster: &mut Cluster) -> Result<Value, NemesisError> {
    let nodes: Vec<String> = cluster
        .active
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .corrupted
        .iter()
        .cloned()
        .collect();
    let outcomes = cluster.map_nodes(&nodes, start_and_watch).await;
    cluster.update(|a| a.corrupted.retain(|n| !nodes.contains(n)));
    let mut started = Map::new();
    for (node, outcome) in nodes.into_iter().zip(outcomes) {
        let outcome = outcome
            .unwrap_or_else(|e| json!({ "outcome": "start failed", "error": e.to_string() }));
        started.insert(node, outcome);
    }
    Ok(json!({ "started": started }))
}

/// Starts the target on a node and watches it for [`WATCH`].
fn start_and_watch(db: &dyn Db, ctx: &NodeCtx<'_>) -> Result<Value, DbError> {
    let kill = db
        .as_kill()
        .ok_or_else(|| DbError::Unsupported(format!("{} cannot be restarted", db.name())))?;
    if let Err(e) = kill.start(ctx) {
        return Ok(json!({
            "outcome": "refused to start",
            "error": e.to_string(),
            "log_tail": log_tail(db, ctx),
        }));
    }
    let polls = (WATCH.as_millis() / WATCH_POLL.as_millis()) as u32;
    for _ in 0..polls {
        std::thread::sleep(WATCH_POLL);
        match kill.running(ctx)? {
            Some(true) => {}
            Some(false) => {
                return Ok(json!({ "outcome": "refused to start", "log_tail": log_tail(db, ctx) }))
            }
            None => return Ok(json!({ "outcome": "started (whether it stayed up is unknown)" })),
        }
    }
    Ok(json!({ "outcome": "started" }))
}

/// The last lines of each of the node's log files.
fn log_tail(db: &dyn Db, ctx: &NodeCtx<'_>) -> String {
    let files = db
        .as_log_files()
        .map(|l| l.log_files(ctx))
        .unwrap_or_default();
    let mut tail = String::new();
    for file in files {
        let cmd = Command::shell(&format!("tail -n {LOG_TAIL_LINES} {}", escape(&file)))
            .sudo()
            .unchecked();
        if let Ok(out) = ctx.remote.exec(&cmd) {
            if !out.stdout.trim().is_empty() {
                tail.push_str(&format!("== {file}\n{}", out.stdout));
            }
        }
    }
    tail
}
