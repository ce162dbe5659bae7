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
//! work with `stat`, `od`, `dd` and `truncate` (coreutils) and finds a
//! file's written extent with perl, as root.

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
/// How many lines of each log file a node that refused to start shows,
/// after as many that look like the reason.
const LOG_TAIL_LINES: usize = 20;
/// Log lines that say why a store stopped (shown first in a log tail).
const LOG_ALARMS: &str = "panic|fatal|corrupt|crc|checksum|mismatch|invalid|error";
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
        Box::pin(heal_corrupted(cluster))
    }
}

impl Files {
    /// Kills the target on the chosen nodes and damages one data file of
    /// each.
    async fn corrupt(&mut self, cluster: &mut Cluster) -> Result<Value, NemesisError> {
        if cluster.db.as_data_files().is_none() {
            return Err(NemesisError(no_data_files(cluster.db.as_ref())));
        }
        let targets = cluster.pick(|o| &o.file.targets, Targets::Minority);
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
            .map_err(|e| NemesisError(crate::error::on_node(node, &e.to_string())))?;
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
        let fault = cluster.pick(|o| &o.file.faults, FileFault::Truncate);
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
        "{} does not declare its data files (a target file lists them under [data] files)",
        db.name()
    )
}

/// Lists every regular file under the declared paths, one a line, sorted;
/// paths that do not exist yet are skipped, and so are `*.tmp` files
/// (etcd's preallocated next WAL segment, a file being replaced), which
/// hold no data yet.
fn list_script(paths: &[String]) -> String {
    let words: Vec<String> = paths.iter().map(|p| escape(p)).collect();
    format!(
        "for p in {}; do [ -e \"$p\" ] && find \"$p\" -type f ! -name '*.tmp'; done | sort; true",
        words.join(" ")
    )
}

/// Where the copy of `file` is kept on its node.
fn copy_of(dir: &str, file: &str) -> String {
    format!("{dir}/{}", file.trim_start_matches('/').replace('/', "%"))
}

/// Where a file's written bytes end: its length without the zero bytes
/// at its end (a preallocated segment's unused space, as etcd's 64 MB WAL
/// segments have: bits flipped there hit nothing a store reads). Read in
/// 1 MiB chunks by perl (every Debian system has perl-base); where perl is
/// missing, the whole length.
const WRITTEN_END: &str = r#"end=$(perl -e 'open(F, "<", $ARGV[0]) or exit 1; binmode F; my ($at, $end) = (0, 0); while (my $n = read(F, my $b, 1 << 20)) { $end = $at + $-[0] + 1 if $b =~ /[^\0]\0*\z/; $at += $n } print $end' "#;

/// Flips [`BITS`] random bits of `file`, at seeded fractions of its
/// written extent ([`WRITTEN_END`]); prints `offset old new` per flip.
fn bitflip(file: &str, rng: &mut impl Rng) -> (String, Value) {
    let f = escape(file);
    let mut script = format!(
        "{WRITTEN_END}{f} 2>/dev/null) && [ -n \"$end\" ] || end=$(stat -c %s {f}); \
         size=$end; [ \"$size\" -gt 0 ] || exit 0"
    );
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
        .map_err(|e| NemesisError(crate::error::on_node(node, &e.to_string())))
}

/// Starts every node left down by a file fault, watches each, and says
/// per node whether it started, refused to start (with its log's tail),
/// or could not be started.
async fn start_corrupted(cluster: &mut Cluster) -> Result<Value, NemesisError> {
    start_nodes(cluster)
        .await
        .map(|started| json!({ "started": started }))
}

/// The heal: what [`start_corrupted`] says, or nothing when no node was
/// left down.
async fn heal_corrupted(cluster: &mut Cluster) -> Result<Value, NemesisError> {
    let started = start_nodes(cluster).await?;
    Ok(match started.is_empty() {
        true => Value::Null,
        false => json!({ "started": started }),
    })
}

/// Starts and watches the nodes left down; each one's outcome.
async fn start_nodes(cluster: &mut Cluster) -> Result<Map<String, Value>, NemesisError> {
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
    Ok(started)
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
        // A Go panic ends in pages of goroutine stacks: the lines that say
        // what went wrong come first, then the very end.
        let f = escape(&file);
        let script = format!(
            "tail -n 2000 {f} | grep -m {LOG_TAIL_LINES} -iE '{LOG_ALARMS}'; \
             echo ...; tail -n {LOG_TAIL_LINES} {f}"
        );
        let cmd = Command::shell(&script).sudo().unchecked();
        if let Ok(out) = ctx.remote.exec(&cmd) {
            if !out.stdout.trim().is_empty() {
                tail.push_str(&format!("== {file}\n{}", out.stdout));
            }
        }
    }
    tail
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nemesis::{NemesisOptions, NodeHandle};
    use std::path::PathBuf;
    use std::sync::{Arc, Mutex};
    use targets::db::{DataFiles, Kill, LogFiles};
    use targets::remote::{AsyncRemote, Local};

    /// A target whose data is a scratch folder per node, whose kills and
    /// starts are recorded, and which does not stay up on `refuses`.
    struct Scratch {
        root: PathBuf,
        refuses: String,
        calls: Mutex<Vec<String>>,
    }

    impl Db for Scratch {
        fn name(&self) -> &str {
            "scratch"
        }
        fn setup(&self, _: &NodeCtx<'_>) -> Result<(), DbError> {
            Ok(())
        }
        fn teardown(&self, _: &NodeCtx<'_>) -> Result<(), DbError> {
            Ok(())
        }
        fn as_kill(&self) -> Option<&dyn Kill> {
            Some(self)
        }
        fn as_log_files(&self) -> Option<&dyn LogFiles> {
            Some(self)
        }
        fn as_data_files(&self) -> Option<&dyn DataFiles> {
            Some(self)
        }
    }

    impl Kill for Scratch {
        fn kill(&self, ctx: &NodeCtx<'_>) -> Result<(), DbError> {
            self.calls
                .lock()
                .unwrap()
                .push(format!("kill {}", ctx.node));
            Ok(())
        }
        fn start(&self, ctx: &NodeCtx<'_>) -> Result<(), DbError> {
            self.calls
                .lock()
                .unwrap()
                .push(format!("start {}", ctx.node));
            Ok(())
        }
        fn running(&self, ctx: &NodeCtx<'_>) -> Result<Option<bool>, DbError> {
            Ok(Some(ctx.node != self.refuses))
        }
    }

    impl LogFiles for Scratch {
        fn log_files(&self, ctx: &NodeCtx<'_>) -> Vec<String> {
            vec![format!("{}/{}.log", self.root.display(), ctx.node)]
        }
    }

    impl DataFiles for Scratch {
        fn data_files(&self, node: &str) -> Vec<String> {
            vec![format!("{}/{node}", self.root.display())]
        }
    }

    /// Three nodes with a 1000-byte `wal` each, a file nemesis over them
    /// doing `fault` to `targets`, and their scratch target.
    fn setup(name: &str, fault: FileFault, targets: Targets) -> (Cluster, Arc<Scratch>) {
        let root =
            std::env::temp_dir().join(format!("temblor-files-{name}-{}", std::process::id()));
        let nodes: Vec<String> = (1..=3)
            .map(|i| format!("{name}{}-n{i}", std::process::id()))
            .collect();
        for n in &nodes {
            std::fs::create_dir_all(root.join(n)).unwrap();
            std::fs::write(root.join(n).join("wal"), vec![b'a'; 1000]).unwrap();
            std::fs::write(root.join(format!("{n}.log")), "panic: wal: crc mismatch\n").unwrap();
        }
        let db = Arc::new(Scratch {
            root,
            refuses: "none".into(),
            calls: Mutex::default(),
        });
        let handles = nodes.iter().map(|n| NodeHandle {
            name: n.clone(),
            addr: "127.0.0.1".into(),
            remote: AsyncRemote::new(Local::new()),
        });
        let opts = NemesisOptions {
            kinds: vec![FaultKind::File],
            file: FileOptions {
                faults: vec![fault],
                targets: vec![targets],
            },
            ..NemesisOptions::default()
        };
        let cluster = Cluster::new(handles.collect(), Arc::clone(&db) as Arc<dyn Db>, opts, 7);
        (cluster, db)
    }

    fn wal(db: &Scratch, node: &str) -> Vec<u8> {
        std::fs::read(db.root.join(node).join("wal")).unwrap()
    }

    fn clean(cluster: &Cluster, db: &Scratch) {
        let _ = std::fs::remove_dir_all(&db.root);
        for n in cluster.names() {
            let _ = std::fs::remove_dir_all(NodePaths::new(&n).var_dir());
        }
    }

    #[tokio::test]
    async fn a_truncate_cuts_the_tail_of_one_file_on_a_minority_while_it_is_down() {
        let (mut cluster, db) = setup("trunc", FileFault::Truncate, Targets::Minority);
        let mut files = Files::default();
        let v = files
            .invoke(&mut cluster, FaultOp::CorruptFiles)
            .await
            .unwrap();
        let hit: Vec<String> = v["nodes"].as_object().unwrap().keys().cloned().collect();
        assert_eq!(hit.len(), 1, "{v}");
        for n in cluster.names() {
            let len = wal(&db, &n).len();
            match hit.contains(&n) {
                true => assert!((400..=900).contains(&len), "{n}: {len}: {v}"),
                false => assert_eq!(len, 1000, "{n}"),
            }
        }
        assert_eq!(*db.calls.lock().unwrap(), [format!("kill {}", hit[0])]);
        assert_eq!(cluster.active.lock().unwrap().corrupted.len(), 1);
        let started = files
            .invoke(&mut cluster, FaultOp::StartCorrupted)
            .await
            .unwrap();
        assert_eq!(
            started["started"][&hit[0]]["outcome"], "started",
            "{started}"
        );
        assert!(cluster.active.lock().unwrap().corrupted.is_empty());
        clean(&cluster, &db);
    }

    #[tokio::test]
    async fn a_bitflip_changes_a_few_bits_and_the_same_seed_the_same_ones() {
        let mut seen = Vec::new();
        for _ in 0..2 {
            let (mut cluster, db) = setup("flip", FileFault::Bitflip, Targets::All);
            let v = Files::default().corrupt(&mut cluster).await.unwrap();
            let mut walls = Vec::new();
            for n in cluster.names() {
                let data = wal(&db, &n);
                let bits: u32 = data.iter().map(|b| (b ^ b'a').count_ones()).sum();
                assert!((1..=BITS as u32).contains(&bits), "{n}: {bits} bits: {v}");
                walls.push(data);
            }
            seen.push(walls);
            clean(&cluster, &db);
        }
        assert_eq!(seen[0], seen[1]);
    }

    #[tokio::test]
    async fn a_bitflip_aims_at_the_written_bytes_not_a_preallocated_tail() {
        let (mut cluster, db) = setup("flipend", FileFault::Bitflip, Targets::All);
        let mut file = vec![b'a'; 100];
        file.resize(3 << 20, 0);
        for n in cluster.names() {
            std::fs::write(db.root.join(&n).join("wal"), &file).unwrap();
        }
        let v = Files::default().corrupt(&mut cluster).await.unwrap();
        for n in cluster.names() {
            let data = wal(&db, &n);
            assert_eq!(data.len(), file.len(), "{n}");
            let bits: u32 = data[..100].iter().map(|b| (b ^ b'a').count_ones()).sum();
            assert!((1..=BITS as u32).contains(&bits), "{n}: {bits} bits: {v}");
            assert!(data[100..].iter().all(|&b| b == 0), "{n}: {v}");
        }
        clean(&cluster, &db);
    }

    #[tokio::test]
    async fn a_snapshot_puts_back_the_copy_taken_at_an_earlier_fault() {
        let (mut cluster, db) = setup("snap", FileFault::Snapshot, Targets::All);
        let mut files = Files::default();
        let first = files.corrupt(&mut cluster).await.unwrap();
        assert!(
            first["nodes"]
                .to_string()
                .contains("no data file has a copy"),
            "{first}"
        );
        for n in cluster.names() {
            std::fs::write(db.root.join(&n).join("wal"), b"newer").unwrap();
        }
        let second = files.corrupt(&mut cluster).await.unwrap();
        for n in cluster.names() {
            assert_eq!(wal(&db, &n), vec![b'a'; 1000], "{n}: {second}");
        }
        clean(&cluster, &db);
    }

    #[tokio::test]
    async fn a_node_that_does_not_stay_up_is_said_to_refuse_with_its_log() {
        let (mut cluster, db) = setup("refuse", FileFault::Truncate, Targets::All);
        let refuses = cluster.names()[1].clone();
        let db = Arc::new(Scratch {
            root: db.root.clone(),
            refuses: refuses.clone(),
            calls: Mutex::default(),
        });
        cluster.db = Arc::clone(&db) as Arc<dyn Db>;
        let mut files = Files::default();
        files.corrupt(&mut cluster).await.unwrap();
        let healed = files.heal(&mut cluster).await.unwrap();
        let outcome = &healed["started"][&refuses];
        assert_eq!(outcome["outcome"], "refused to start", "{healed}");
        assert!(
            outcome["log_tail"]
                .as_str()
                .unwrap()
                .contains("crc mismatch"),
            "{healed}"
        );
        assert_eq!(healed["started"][&cluster.names()[0]]["outcome"], "started");
        clean(&cluster, &db);
    }
}
