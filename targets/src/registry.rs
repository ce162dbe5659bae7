//! The targets' registry: one typed [`TargetSpec`] for every target,
//! built in (raftkv, etcd, Consul) or described by a file (a store temblor
//! ships, or any file a user wrote), and one [`open`] that turns a spec and
//! the run's nodes into the target's `Db` and `Client`. The harness never
//! matches a target's name.
//!
//! On the command line a target is a name or a path (`--target etcd`,
//! `--target zookeeper`, `--target ./mystore/target.toml`) with options
//! (`--target-opt key=value`); in a test file, the same string or a table
//! with a `kind` (the form `spec.json` records).

use crate::consul::{Consul, ConsulClient, ConsulInstall, ConsulOptions, Mode};
use crate::db::Db;
use crate::etcd::{Etcd, EtcdClient, EtcdOptions, Install};
use crate::file::{FileError, FileTarget, TargetFile};
use crate::protocol::{LogFn, Program, ProtocolClient, Settings};
use crate::raftkv::{Binary, RaftKv, RaftKvClient, RaftKvOptions};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use workloads::client::Timeout;
use workloads::Client;

/// The targets built into temblor.
pub const BUILT_IN: &[&str] = &["raftkv", "etcd", "consul"];

/// raftkv's bug switches (`--bug`).
pub const RAFTKV_BUGS: &[&str] = &[
    "follower-reads",
    "lease-reads",
    "early-ack",
    "volatile-vote",
];

/// A system under test, and its settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum TargetSpec {
    /// raftkv, the project's own Raft store.
    Raftkv(RaftKvSpec),
    /// etcd.
    Etcd(EtcdSpec),
    /// Consul.
    Consul(ConsulSpec),
    /// A store temblor ships (`targets/stores/<name>/target.toml`).
    Store(StoreSpec),
    /// A target file anywhere.
    File(FileSpec),
}

/// raftkv's settings.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RaftKvSpec {
    /// Bug switches to turn on.
    pub bugs: Vec<String>,
    /// The binary to install (default: next to temblor, built if missing).
    pub binary: Option<PathBuf>,
}

/// etcd's settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EtcdSpec {
    /// `debian`, a release tarball URL or a binary path.
    pub install: String,
    /// Serializable (stale-allowed) reads instead of linearizable ones.
    pub serializable_reads: bool,
}

impl Default for EtcdSpec {
    fn default() -> Self {
        EtcdSpec {
            install: "debian".into(),
            serializable_reads: false,
        }
    }
}

/// Consul's settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConsulSpec {
    /// A release zip URL or a binary path (required).
    pub install: Option<String>,
    /// `default`, `consistent` or `stale`.
    pub reads: String,
}

impl Default for ConsulSpec {
    fn default() -> Self {
        ConsulSpec {
            install: None,
            reads: "default".into(),
        }
    }
}

/// A shipped store and its options.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSpec {
    /// Its folder's name under the stores folder.
    pub name: String,
    /// Its options (`--target-opt`).
    #[serde(default)]
    pub options: BTreeMap<String, String>,
}

/// A target file and its options.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSpec {
    /// The file.
    pub path: PathBuf,
    /// Its options (`--target-opt`).
    #[serde(default)]
    pub options: BTreeMap<String, String>,
}

/// Why a target cannot be used as asked.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// No target by that name.
    #[error("unknown target {name:?}: built in are {}; shipped stores are {}; or give the path of a target file", BUILT_IN.join(", "), shipped())]
    Unknown {
        /// The name asked for.
        name: String,
    },
    /// An option the target does not have, or a bad value.
    #[error("{0}")]
    Option(String),
    /// A target file that cannot be used.
    #[error(transparent)]
    File(#[from] FileError),
    /// A workload the target's client does not implement.
    #[error("target {target} cannot run the {workload} workload: its client implements {}", implemented.join(", "))]
    Workload {
        /// The target.
        target: String,
        /// The workload asked for.
        workload: String,
        /// What it implements.
        implemented: Vec<String>,
    },
    /// The client could not be built.
    #[error("{0}")]
    Client(String),
}

/// The folder of the stores temblor ships: `$TEMBLOR_STORES`, else
/// `targets/stores` of the source tree temblor was built from.
pub fn stores_dir() -> PathBuf {
    std::env::var_os("TEMBLOR_STORES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("stores"))
}

/// The shipped stores' names, comma-separated (for messages).
fn shipped() -> String {
    let mut names: Vec<String> = std::fs::read_dir(stores_dir())
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().join("target.toml").is_file())
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .collect();
    names.sort();
    match names.is_empty() {
        true => "none".into(),
        false => names.join(", "),
    }
}

impl Default for TargetSpec {
    fn default() -> Self {
        TargetSpec::Raftkv(RaftKvSpec::default())
    }
}

impl TargetSpec {
    /// The target a name or path stands for, with default settings: a
    /// built-in name, a path (with a `/` or ending in `.toml`), or the
    /// name of a shipped store.
    pub fn named(name: &str) -> Result<TargetSpec, TargetError> {
        match name {
            "raftkv" => return Ok(TargetSpec::Raftkv(RaftKvSpec::default())),
            "etcd" => return Ok(TargetSpec::Etcd(EtcdSpec::default())),
            "consul" => return Ok(TargetSpec::Consul(ConsulSpec::default())),
            _ => {}
        }
        if name.contains('/') || name.ends_with(".toml") {
            let path = Path::new(name);
            // Recorded absolute, so a replay from another folder finds it.
            let path = std::fs::canonicalize(path)
                .map_err(|e| TargetError::Option(format!("target file {name}: {e}")))?;
            return Ok(TargetSpec::File(FileSpec {
                path,
                options: BTreeMap::new(),
            }));
        }
        if stores_dir().join(name).join("target.toml").is_file() {
            return Ok(TargetSpec::Store(StoreSpec {
                name: name.to_string(),
                options: BTreeMap::new(),
            }));
        }
        Err(TargetError::Unknown {
            name: name.to_string(),
        })
    }

    /// Sets one option (`--target-opt key=value`): for a file target any
    /// option its file declares (checked by [`TargetSpec::validate`]); for
    /// a built-in one, its settings by name.
    pub fn set_option(&mut self, key: &str, value: &str) -> Result<(), TargetError> {
        let kind = self.kind_name();
        let bad = |known: &str| {
            Err(TargetError::Option(format!(
                "unknown option {key:?} for target {kind}; it has: {known}"
            )))
        };
        let flag = |v: &str| match v {
            "true" | "yes" | "1" => Ok(true),
            "false" | "no" | "0" => Ok(false),
            _ => Err(TargetError::Option(format!(
                "option {key}: {v:?} is not true or false"
            ))),
        };
        let key_ = key.replace('-', "_");
        match self {
            TargetSpec::Raftkv(s) => match key_.as_str() {
                "bug" | "bugs" => s
                    .bugs
                    .extend(value.split(',').map(|b| b.trim().to_string())),
                "binary" => s.binary = Some(PathBuf::from(value)),
                _ => return bad("bugs, binary"),
            },
            TargetSpec::Etcd(s) => match key_.as_str() {
                "install" => s.install = value.to_string(),
                "serializable_reads" => s.serializable_reads = flag(value)?,
                _ => return bad("install, serializable-reads"),
            },
            TargetSpec::Consul(s) => match key_.as_str() {
                "install" => s.install = Some(value.to_string()),
                "reads" => s.reads = value.to_string(),
                _ => return bad("install, reads"),
            },
            TargetSpec::Store(StoreSpec { options, .. })
            | TargetSpec::File(FileSpec { options, .. }) => {
                options.insert(key.to_string(), value.to_string());
            }
        }
        Ok(())
    }

    /// The kind, as `spec.json` writes it: `raftkv`, `etcd`, `consul`,
    /// `store` or `file`.
    pub fn kind(&self) -> &'static str {
        match self {
            TargetSpec::Raftkv(_) => "raftkv",
            TargetSpec::Etcd(_) => "etcd",
            TargetSpec::Consul(_) => "consul",
            TargetSpec::Store(_) => "store",
            TargetSpec::File(_) => "file",
        }
    }

    /// The target by name or path, for messages.
    fn kind_name(&self) -> String {
        match self {
            TargetSpec::Raftkv(_) => "raftkv".into(),
            TargetSpec::Etcd(_) => "etcd".into(),
            TargetSpec::Consul(_) => "consul".into(),
            TargetSpec::Store(s) => s.name.clone(),
            TargetSpec::File(f) => f.path.display().to_string(),
        }
    }

    /// The target file of a file target (a shipped store's or a user's).
    pub fn file_path(&self) -> Option<PathBuf> {
        match self {
            TargetSpec::Store(s) => Some(stores_dir().join(&s.name).join("target.toml")),
            TargetSpec::File(f) => Some(f.path.clone()),
            _ => None,
        }
    }

    fn file_options(&self) -> BTreeMap<String, String> {
        match self {
            TargetSpec::Store(StoreSpec { options, .. })
            | TargetSpec::File(FileSpec { options, .. }) => options.clone(),
            _ => BTreeMap::new(),
        }
    }

    /// Reads and checks the target file, if the target has one.
    pub fn load(&self) -> Result<Option<TargetFile>, TargetError> {
        self.file_path()
            .map(|p| TargetFile::load(&p).map_err(TargetError::from))
            .transpose()
    }

    /// The target's name (the file's `name` for a file target).
    pub fn name(&self) -> String {
        match self.load() {
            Ok(Some(file)) => file.name().to_string(),
            _ => match self {
                TargetSpec::File(f) => f
                    .path
                    .file_stem()
                    .map_or("file".into(), |s| s.to_string_lossy().into_owned()),
                other => other.kind_name(),
            },
        }
    }

    /// The workloads the target's client implements.
    pub fn workloads(&self) -> Result<Vec<String>, TargetError> {
        let consts: &[&str] = match self {
            TargetSpec::Raftkv(_) => RaftKvClient::WORKLOADS,
            TargetSpec::Etcd(_) => EtcdClient::WORKLOADS,
            TargetSpec::Consul(_) => ConsulClient::WORKLOADS,
            _ => {
                let file = self
                    .load()?
                    .ok_or_else(|| TargetError::Client("no file".into()))?;
                return Ok(file.workloads().to_vec());
            }
        };
        Ok(consts.iter().map(|w| w.to_string()).collect())
    }

    /// Checks everything that can be checked before a node is touched:
    /// option values, and a target file with every placeholder filled in.
    pub fn validate(&self) -> Result<(), TargetError> {
        match self {
            TargetSpec::Raftkv(s) => {
                if let Some(b) = s.bugs.iter().find(|b| !RAFTKV_BUGS.contains(&b.as_str())) {
                    return Err(TargetError::Option(format!(
                        "raftkv has no bug {b:?} (it has: {})",
                        RAFTKV_BUGS.join(", ")
                    )));
                }
            }
            TargetSpec::Etcd(_) => {}
            TargetSpec::Consul(s) => {
                if s.install.is_none() {
                    return Err(TargetError::Option(
                        "--target consul needs --consul-install URL|FILE (or --target-opt install=...)"
                            .into(),
                    ));
                }
                if Mode::parse(&s.reads).is_none() {
                    return Err(TargetError::Option(format!(
                        "consul reads must be default, consistent or stale, not {:?}",
                        s.reads
                    )));
                }
            }
            TargetSpec::Store(_) | TargetSpec::File(_) => {
                if let Some(file) = self.load()? {
                    file.check_with(&self.file_options())?;
                }
            }
        }
        Ok(())
    }

    /// Refuses a workload the target's client does not implement.
    pub fn check_workload(&self, workload: &str) -> Result<(), TargetError> {
        let implemented = self.workloads()?;
        match implemented.iter().any(|w| w == workload) {
            true => Ok(()),
            false => Err(TargetError::Workload {
                target: self.name(),
                workload: workload.to_string(),
                implemented,
            }),
        }
    }

    /// The command-line flags that give this target (`--target X
    /// --target-opt k=v ...`), for a run's "repeat it" line.
    pub fn cli_args(&self) -> Vec<String> {
        let mut args = vec!["--target".to_string()];
        let mut opts: Vec<(String, String)> = Vec::new();
        match self {
            TargetSpec::Raftkv(s) => {
                args.push("raftkv".into());
                opts.extend(s.bugs.iter().map(|b| ("bug".into(), b.clone())));
                opts.extend(
                    s.binary
                        .iter()
                        .map(|b| ("binary".into(), b.display().to_string())),
                );
            }
            TargetSpec::Etcd(s) => {
                args.push("etcd".into());
                if s.install != EtcdSpec::default().install {
                    opts.push(("install".into(), s.install.clone()));
                }
                if s.serializable_reads {
                    opts.push(("serializable-reads".into(), "true".into()));
                }
            }
            TargetSpec::Consul(s) => {
                args.push("consul".into());
                opts.extend(s.install.iter().map(|i| ("install".into(), i.clone())));
                if s.reads != ConsulSpec::default().reads {
                    opts.push(("reads".into(), s.reads.clone()));
                }
            }
            TargetSpec::Store(s) => args.push(s.name.clone()),
            TargetSpec::File(f) => args.push(f.path.display().to_string()),
        }
        opts.extend(self.file_options());
        for (k, v) in opts {
            args.push("--target-opt".into());
            args.push(format!("{k}={v}"));
        }
        args
    }
}

/// A spec read from a string (a name or path) or a table with a `kind`:
/// `deserialize_with` for fields that hold a [`TargetSpec`].
pub fn deserialize_spec<'de, D: serde::Deserializer<'de>>(d: D) -> Result<TargetSpec, D::Error> {
    struct Either;
    impl<'de> serde::de::Visitor<'de> for Either {
        type Value = TargetSpec;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a target name or path, or a table with a kind")
        }
        fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<TargetSpec, E> {
            TargetSpec::named(s).map_err(E::custom)
        }
        fn visit_map<M: serde::de::MapAccess<'de>>(self, map: M) -> Result<TargetSpec, M::Error> {
            TargetSpec::deserialize(serde::de::value::MapAccessDeserializer::new(map))
        }
    }
    d.deserialize_any(Either)
}

/// What [`open`] needs to know about the run.
pub struct OpenContext<'a> {
    /// Every node (name, address), in order.
    pub nodes: &'a [(String, String)],
    /// The nodes are real hosts (a nodes file), not the local cluster.
    pub real_hosts: bool,
    /// The run has clock faults.
    pub clock_faults: bool,
    /// The run's id (`<test>/<time>`), which clients may put in keys.
    pub run: &'a str,
    /// The run's workload (it decides a protocol client's requests).
    pub workload: &'a str,
    /// How long an op may take before it is `info`.
    pub op_timeout: Duration,
    /// Where clients' stderr and notes about them go.
    pub log: LogFn,
}

/// An opened target: its lifecycle, and its client template.
pub struct Opened {
    /// Installs, starts, faults and removes the system.
    pub db: Arc<dyn Db>,
    /// Performs the workload's ops.
    pub client: Arc<dyn Client>,
    /// Whether temblor reaches the nodes over SSH (an attached hosted
    /// service says no: no network faults, no commands on the nodes).
    pub ssh: bool,
    /// The consistency models the target promises, which transactional
    /// checks test instead of their default (empty: it does not say).
    pub consistency_models: Vec<checkers::elle::Model>,
}

/// Opens `spec` on the nodes of `ctx`.
pub fn open(spec: &TargetSpec, ctx: &OpenContext<'_>) -> Result<Opened, TargetError> {
    let addrs: BTreeMap<String, String> = ctx.nodes.iter().cloned().collect();
    // The HTTP clients' own timeout makes a slow op `info`; the wrapper is
    // the backstop for anything that still hangs.
    let backstop = ctx.op_timeout + Duration::from_secs(1);
    let client_err = |e: workloads::ClientError| TargetError::Client(e.to_string());
    let (db, client): (Arc<dyn Db>, Arc<dyn Client>) = match spec {
        TargetSpec::Raftkv(s) => {
            let mut opts = RaftKvOptions::new(Binary::new(s.binary.clone()));
            opts.bugs = s.bugs.clone();
            opts.faketime = ctx.clock_faults;
            let port = opts.client_port;
            let client = RaftKvClient::new(&addrs, port, ctx.op_timeout).map_err(client_err)?;
            (
                Arc::new(RaftKv::new(opts, addrs)),
                Arc::new(Timeout::new(client, backstop)),
            )
        }
        TargetSpec::Etcd(s) => {
            let opts = EtcdOptions {
                install: Install::parse(&s.install),
                system_clock: ctx.real_hosts,
                ..EtcdOptions::default()
            };
            let client = EtcdClient::new(
                &addrs,
                opts.client_port,
                ctx.op_timeout,
                s.serializable_reads,
            )
            .map_err(client_err)?;
            (
                Arc::new(Etcd::new(opts, addrs)),
                Arc::new(Timeout::new(client, backstop)),
            )
        }
        TargetSpec::Consul(s) => {
            let install = s
                .install
                .as_deref()
                .ok_or_else(|| TargetError::Option("consul needs an install source".into()))?;
            let opts = ConsulOptions {
                system_clock: ctx.real_hosts,
                ..ConsulOptions::new(ConsulInstall::parse(install))
            };
            let mode = Mode::parse(&s.reads).unwrap_or_default();
            let client = ConsulClient::new(&addrs, opts.http_port, ctx.op_timeout, mode)
                .map_err(client_err)?;
            (
                Arc::new(Consul::new(opts, addrs)),
                Arc::new(Timeout::new(client, backstop)),
            )
        }
        TargetSpec::Store(_) | TargetSpec::File(_) => {
            let file = spec
                .load()?
                .ok_or_else(|| TargetError::Client("no file".into()))?;
            return open_file(&file, &spec.file_options(), ctx);
        }
    };
    Ok(Opened {
        db,
        client,
        ssh: true,
        consistency_models: Vec::new(),
    })
}

fn open_file(
    file: &TargetFile,
    options: &BTreeMap<String, String>,
    ctx: &OpenContext<'_>,
) -> Result<Opened, TargetError> {
    // Secret options (a password) are masked in every log line and
    // error temblor writes from here on.
    for (name, value) in file.options(options)? {
        if crate::remote::secrets::is_secret_name(&name) {
            crate::remote::secrets::register(&value);
        }
    }
    let db = FileTarget::new(file, ctx.nodes, options, ctx.real_hosts, ctx.clock_faults)?;
    let c = &file.schema().client;
    let client = ProtocolClient::new(Settings {
        program: Program {
            argv: c.command.get_ref().clone(),
            cwd: file.dir().to_path_buf(),
            env: c.env.clone(),
            start_timeout: c.start_timeout.map_or(Duration::from_secs(30), |d| d.0),
        },
        run: ctx.run.to_string(),
        workload: ctx.workload.to_string(),
        nodes: ctx.nodes.to_vec(),
        ports: file.schema().ports.clone(),
        options: file.options(options)?,
        op_timeout: ctx.op_timeout,
        log: Arc::clone(&ctx.log),
    });
    Ok(Opened {
        consistency_models: db.consistency_models(),
        db: Arc::new(db),
        client: Arc::new(client),
        ssh: file.has_ssh(),
    })
}

#[cfg(test)]
mod tests;
