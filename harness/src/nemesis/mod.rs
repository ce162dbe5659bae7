//! The nemesis: real faults on real nodes, behind the `Nemesis` trait the
//! generator interpreter drives (Jepsen's `nemesis.clj` and
//! `nemesis/combined.clj`).
//!
//! Partitions and packet loss are iptables rules in a chain of our own on
//! each node ([`net`]); kills, pauses and clocks go through the target's
//! optional abilities (`Kill`, `Pause`, `Clock`, `Primary` in
//! `targets::db`), and a fault the target cannot honour is refused with
//! its reason rather than skipped. Every choice (which shape, which nodes,
//! how far to move a clock) comes from the nemesis's own seeded RNG.
//!
//! The nemesis is a composition (Jepsen's `nemesis/compose`): one small
//! nemesis per fault family ([`net::Network`], [`process::Processes`],
//! [`clock::Clocks`], [`file::Files`]), each saying which families' ops
//! it performs ([`Family`]); [`Faults`] routes each op to the one that
//! handles its family (the vocabulary is [`FaultOp`], defined once in
//! [`kind`]) and heals them all. They share the nodes, the target, the
//! options, one seeded RNG and the record of faults in force
//! ([`Cluster`]).
//!
//! [`Faults::heal_all`] undoes everything, whatever is recorded as active,
//! on every node it can reach, and [`Faults::heal_and_verify`] then looks
//! at each node ([`leftovers`]) to prove nothing is left: the run calls it
//! at the end, on error, on a signal and on a panic, and `temblor heal`
//! calls it after a controller was killed hard.

/// The choices of a command-line list (`--nemesis`, `--partition`,
/// `--fault-targets`): `ALL` in `--help` order, each one's kebab-case
/// `name`, `Display`, and `FromStr` whose error names what was not
/// understood and lists every choice.
macro_rules! kebab_choices {
    ($ty:ident, $what:literal, [$($variant:ident => $name:literal),+ $(,)?]) => {
        impl $ty {
            /// Every choice, in the order `--help` lists them.
            pub const ALL: [$ty; [$($name),+].len()] = [$($ty::$variant),+];

            /// The kebab-case name.
            pub fn name(self) -> &'static str {
                match self {
                    $($ty::$variant => $name),+
                }
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }

        impl std::str::FromStr for $ty {
            type Err = String;
            fn from_str(s: &str) -> Result<$ty, String> {
                $ty::ALL.into_iter().find(|c| c.name() == s).ok_or_else(|| {
                    let names: Vec<_> = $ty::ALL.iter().map(|c| c.name()).collect();
                    format!("unknown {} {s:?} (one of {})", $what, names.join(", "))
                })
            }
        }
    };
}

mod clock;
mod file;
pub mod grudge;
mod kind;
pub mod leftovers;
pub mod net;
mod process;

pub use clock::{ClockOptions, Strobe};
pub use file::FileOptions;
pub use grudge::Shape;
pub use kind::{ClockFault, FaultKind, FaultOp, FileFault, Role, Targets};

use checkers::{Op, OpType};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use targets::db::Db;
use targets::remote::AsyncRemote;
use workloads::client::BoxFuture;
use workloads::{Nemesis, NemesisError};

/// The nodes a nemesis works on: name, address, and how to reach it.
#[derive(Clone)]
pub struct NodeHandle {
    /// `n1`, ...
    pub name: String,
    /// The address other nodes see its packets come from.
    pub addr: String,
    /// A session to it.
    pub remote: AsyncRemote,
}

/// What the nemesis may do, from the test spec.
#[derive(Clone, Debug)]
pub struct NemesisOptions {
    /// The families of faults in the schedule.
    pub kinds: Vec<FaultKind>,
    /// Partition shapes to choose among.
    pub shapes: Vec<Shape>,
    /// The node sets kill, pause and clock faults choose among.
    pub targets: Vec<Targets>,
    /// Fraction of packets dropped by a packet fault.
    pub loss: f64,
    /// Delay a packet fault adds to every packet between nodes, in
    /// milliseconds (0: none; needs netem).
    pub delay_ms: u64,
    /// How clock faults bump and strobe clocks.
    pub clock: ClockOptions,
    /// What file faults do, and to how many nodes.
    pub file: FileOptions,
    /// Whether temblor reaches the nodes over SSH: without it (a hosted
    /// service attached with `ssh = false`) there are no network or clock
    /// faults, and nothing to heal on the nodes.
    pub network: bool,
}

impl Default for NemesisOptions {
    fn default() -> Self {
        NemesisOptions {
            kinds: Vec::new(),
            shapes: Shape::ALL.to_vec(),
            targets: Targets::ALL.to_vec(),
            loss: 0.3,
            delay_ms: 0,
            clock: ClockOptions::default(),
            file: FileOptions::default(),
            network: true,
        }
    }
}

/// Faults currently in force, for healing and the progress line.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Active {
    /// A partition is in force.
    pub partition: bool,
    /// Packet loss is in force.
    pub loss: bool,
    /// Nodes killed and not yet restarted.
    pub killed: BTreeSet<String>,
    /// Nodes paused and not yet resumed.
    pub paused: BTreeSet<String>,
    /// Nodes whose clock offset is not zero.
    pub skewed: BTreeMap<String, i64>,
    /// Nodes down with corrupted data files, not yet started again.
    pub corrupted: BTreeSet<String>,
}

impl Active {
    /// A short description, e.g. `partition, killed n1 n2`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if self.partition {
            parts.push("partition".to_string());
        }
        if self.loss {
            parts.push("packet loss".to_string());
        }
        let list = |s: &BTreeSet<String>| s.iter().cloned().collect::<Vec<_>>().join(" ");
        if !self.killed.is_empty() {
            parts.push(format!("killed {}", list(&self.killed)));
        }
        if !self.paused.is_empty() {
            parts.push(format!("paused {}", list(&self.paused)));
        }
        if !self.skewed.is_empty() {
            parts.push(format!("clock skew on {}", self.skewed.len()));
        }
        if !self.corrupted.is_empty() {
            parts.push(format!("corrupted files on {}", list(&self.corrupted)));
        }
        parts.join(", ")
    }
}

/// What every family's nemesis works with: the nodes, the target, the
/// options, the one seeded RNG every choice comes from, and the faults in
/// force.
pub struct Cluster {
    nodes: Vec<NodeHandle>,
    db: Arc<dyn Db>,
    opts: NemesisOptions,
    rng: ChaCha8Rng,
    active: Arc<std::sync::Mutex<Active>>,
}

/// One fault family's nemesis (Jepsen's `Reflection` `fs`): the families
/// whose ops it performs, how it performs one, and how it undoes all of
/// its faults.
pub trait Family: Send + Sync {
    /// The families whose ops ([`FaultOp::kind`]) it performs.
    fn kinds(&self) -> &'static [FaultKind];
    /// Performs `op`, one of its families'; the value says what was done.
    fn invoke<'a>(
        &'a mut self,
        cluster: &'a mut Cluster,
        op: FaultOp,
    ) -> BoxFuture<'a, Result<Value, NemesisError>>;
    /// Undoes every fault of its families, whatever is recorded as active.
    fn heal<'a>(
        &'a mut self,
        cluster: &'a mut Cluster,
    ) -> BoxFuture<'a, Result<Value, NemesisError>>;
}

/// The nemesis of a run: every family's nemesis, composed by the ops they
/// handle (Jepsen's `nemesis/compose`).
pub struct Faults {
    cluster: Cluster,
    families: Vec<Box<dyn Family>>,
}

impl Faults {
    /// A nemesis over `nodes` for target `db`, its choices seeded by `seed`.
    pub fn new(nodes: Vec<NodeHandle>, db: Arc<dyn Db>, opts: NemesisOptions, seed: u64) -> Self {
        Faults {
            cluster: Cluster::new(nodes, db, opts, seed),
            // Heal order: the network first (a healed node can be
            // reached), then data files (their nodes started and watched),
            // processes (resumed, every node started), clocks.
            families: vec![
                Box::new(net::Network),
                Box::new(file::Files::default()),
                Box::new(process::Processes),
                Box::new(clock::Clocks),
            ],
        }
    }

    /// Refuses fault families the target or the nodes cannot take here,
    /// saying why for each (before the run starts, never as a silent
    /// no-op).
    pub fn validate(&self) -> Result<(), String> {
        self.cluster.validate()
    }

    /// A shared view of the faults in force (for the progress line).
    pub fn active(&self) -> Arc<std::sync::Mutex<Active>> {
        Arc::clone(&self.cluster.active)
    }

    /// Readies every node for clock faults when the schedule has them.
    pub async fn prepare_clocks(&self) -> Result<(), NemesisError> {
        self.cluster.prepare_clocks().await
    }

    /// Refuses, before the run, a packet delay that some node's kernel
    /// cannot apply (no netem), naming the nodes.
    pub async fn check_network(&self) -> Result<(), String> {
        self.cluster.check_network().await
    }

    /// Performs one fault op, by the family nemesis that handles it; the
    /// value says what was done.
    async fn perform(&mut self, f: &str) -> Result<Value, NemesisError> {
        let op: FaultOp = f.parse().map_err(NemesisError)?;
        let Some(kind) = op.kind() else {
            let (problems, said) = self.heal_each().await;
            return match (problems.is_empty(), said.is_empty()) {
                (false, _) => Err(NemesisError(problems.join("; "))),
                (true, true) => Ok(json!("healed")),
                (true, false) => Ok(Value::Object(said)),
            };
        };
        let cluster = &mut self.cluster;
        match self.families.iter_mut().find(|n| n.kinds().contains(&kind)) {
            Some(family) => family.invoke(cluster, op).await,
            None => Err(NemesisError(format!("no nemesis performs {f}"))),
        }
    }

    /// Heals every fault ([`heal_all`](Faults::heal_all)), then checks
    /// every node for faults still in force ([`leftovers::verify`]);
    /// nodes temblor does not reach over SSH have nothing to check.
    /// Returns every problem, each naming its node; empty: all healed.
    pub async fn heal_and_verify(&mut self) -> Vec<String> {
        let mut problems = self.heal_all().await;
        if self.cluster.opts.network {
            problems.extend(leftovers::verify(&self.cluster.nodes).await);
        }
        problems
    }

    /// Undoes every fault on every node, whatever is recorded as active:
    /// each family nemesis heals its own (the network, data files,
    /// processes, clocks). Returns the problems met; it carries on past
    /// each one, and past each node that cannot be reached.
    pub async fn heal_all(&mut self) -> Vec<String> {
        let problems = self.heal_each().await.0;
        match problems.is_empty() {
            true => tracing::debug!(target: "temblor::nemesis", "healed every fault"),
            false => tracing::warn!(target: "temblor::nemesis", "heal: {}", problems.join("; ")),
        }
        problems
    }

    /// [`heal_all`](Faults::heal_all), also returning what the families
    /// had to say (a file nemesis: how each node it started took it), merged
    /// into one object.
    async fn heal_each(&mut self) -> (Vec<String>, serde_json::Map<String, Value>) {
        let (mut problems, mut said) = (Vec::new(), serde_json::Map::new());
        for family in &mut self.families {
            match family.heal(&mut self.cluster).await {
                Ok(Value::Object(m)) => said.extend(m),
                Ok(_) => {}
                Err(e) => problems.push(e.0),
            }
        }
        (problems, said)
    }
}

impl Cluster {
    /// The shared state of the family nemeses over `nodes` for target
    /// `db`, its choices seeded by `seed`.
    pub fn new(nodes: Vec<NodeHandle>, db: Arc<dyn Db>, opts: NemesisOptions, seed: u64) -> Self {
        Cluster {
            nodes,
            db,
            opts,
            rng: ChaCha8Rng::seed_from_u64(seed ^ 0x006e_656d_6573_6973),
            active: Arc::default(),
        }
    }

    /// Picks which nodes the next kill, pause or clock fault hits.
    fn pick_targets(&mut self) -> Targets {
        self.pick(|o| &o.targets, Targets::One)
    }

    /// One of the choices `among` gives from the options, at random
    /// (seeded); `fallback` when there are none.
    fn pick<T: Copy>(&mut self, among: impl Fn(&NemesisOptions) -> &[T], fallback: T) -> T {
        use rand::seq::SliceRandom;
        *among(&self.opts).choose(&mut self.rng).unwrap_or(&fallback)
    }

    fn validate(&self) -> Result<(), String> {
        let refused: Vec<String> = self
            .opts
            .kinds
            .iter()
            .filter_map(|k| {
                availability(*k, self.db.as_ref(), self.opts.network)
                    .err()
                    .map(|why| format!("{k}: {why}"))
            })
            .collect();
        match refused.as_slice() {
            [] => Ok(()),
            [one] => Err(format!("this run cannot have {one}")),
            many => Err(format!(
                "this run cannot have these faults:\n  {}",
                many.join("\n  ")
            )),
        }
    }

    fn names(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.name.clone()).collect()
    }

    fn node(&self, name: &str) -> Result<&NodeHandle, NemesisError> {
        self.nodes
            .iter()
            .find(|n| n.name == name)
            .ok_or_else(|| NemesisError(format!("no node named {name}")))
    }

    fn update(&self, f: impl FnOnce(&mut Active)) {
        f(&mut self.active.lock().unwrap_or_else(|e| e.into_inner()));
    }
}

/// A fault op's value in one short line for the log.
fn compact(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(300) {
        Some((i, _)) => format!("{}...", &text[..i]),
        None => text,
    }
}

impl Nemesis for Faults {
    fn invoke<'a>(&'a mut self, op: &'a Op) -> BoxFuture<'a, Result<Op, NemesisError>> {
        Box::pin(async move {
            tracing::debug!(target: "temblor::nemesis", "{}: starting", op.f);
            let value = match self.perform(&op.f).await {
                Ok(v) => v,
                Err(e) => {
                    tracing::warn!(target: "temblor::nemesis", "{}: {e}", op.f);
                    return Err(e);
                }
            };
            tracing::info!(target: "temblor::nemesis", "{}: {}", op.f, compact(&value));
            let mut done = op.clone();
            done.kind = OpType::Info;
            done.value = value;
            Ok(done)
        })
    }
}

/// Whether a fault family can run against `db` here, or why not.
pub fn availability(kind: FaultKind, db: &dyn Db, network: bool) -> Result<(), String> {
    let no_ssh = || {
        Err(format!(
            "{} is reached without SSH (attached with ssh = false), so temblor cannot change \
             its nodes",
            db.name()
        ))
    };
    match kind {
        FaultKind::Partition | FaultKind::Packet | FaultKind::Clock | FaultKind::File
            if !network =>
        {
            no_ssh()
        }
        FaultKind::Kill | FaultKind::File if db.as_kill().is_none() => Err(format!(
            "{} cannot be killed and restarted (an attached target needs [attach] kill and start \
             commands)",
            db.name()
        )),
        FaultKind::Pause if db.as_pause().is_none() => Err(format!(
            "{} cannot be paused (an attached target needs [attach] pause and resume commands)",
            db.name()
        )),
        FaultKind::Clock => db.clock().map(|_| ()),
        FaultKind::File if db.as_data_files().is_none() => Err(file::no_data_files(db)),
        _ => Ok(()),
    }
}

/// One line saying which fault families `db` can take here and which it
/// cannot, and why.
pub fn describe_availability(db: &dyn Db, network: bool) -> String {
    let (mut yes, mut no) = (Vec::new(), Vec::new());
    for kind in FaultKind::ALL {
        match availability(kind, db, network) {
            Ok(()) => yes.push(kind.to_string()),
            Err(why) => no.push(format!("{kind} ({why})")),
        }
    }
    let mut line = format!("{} can take {}", db.name(), yes.join(", "));
    if !no.is_empty() {
        line.push_str(&format!("; not {}", no.join("; ")));
    }
    if db.as_primary().is_none() {
        line.push_str(&format!(
            "; {} cannot say which node leads, so faults never aim at the primaries or the leader",
            db.name()
        ));
    }
    line
}

/// Runs fault actions on several nodes at once; the first error wins, but
/// every action is awaited so none is left half done.
async fn join_all<F>(tasks: impl IntoIterator<Item = F>) -> Result<(), NemesisError>
where
    F: std::future::Future<Output = Result<(), NemesisError>>,
{
    futures::future::join_all(tasks)
        .await
        .into_iter()
        .collect::<Result<Vec<()>, _>>()
        .map(|_| ())
}

/// Ok when every result is; otherwise every error, joined.
fn every_one(results: Vec<Result<(), NemesisError>>) -> Result<(), NemesisError> {
    let errors: Vec<String> = results
        .into_iter()
        .filter_map(|r| r.err().map(|e| e.0))
        .collect();
    match errors.is_empty() {
        true => Ok(()),
        false => Err(NemesisError(errors.join("; "))),
    }
}
