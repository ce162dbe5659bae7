//! Targets described by a file: a store temblor has no Rust for, given as
//! one TOML file (how it is installed, configured, started, found ready,
//! asked who leads, and wiped) plus a client program that speaks the
//! client protocol ([`crate::protocol`]). docs/target-files.md is the
//! reference; the stores temblor ships live in `targets/stores/<name>/`.
//!
//! [`TargetFile::load`] reads and checks a file: unknown keys, missing
//! sections and bad placeholders are errors naming the file, line and key,
//! found before any node is touched. [`TargetFile::plan`] fills the
//! placeholders in for every node ([`NodePlan`]: exactly the commands a
//! run will send, which a dry run prints), and [`FileTarget`] carries a
//! plan out as a `Db` over the nodes' `Remote`s, its daemons managed by
//! pidfile like every other target's.

mod plan;
pub mod schema;
mod target;
pub mod template;

pub use plan::{NodePlan, Ready, Script};
pub use target::FileTarget;
pub use template::FileError;

use schema::{Mode, TargetFile as Schema};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A target file, read and checked.
#[derive(Debug)]
pub struct TargetFile {
    path: PathBuf,
    source: String,
    schema: Schema,
}

/// Names that become folder and file names on the nodes.
fn is_safe_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

impl TargetFile {
    /// Reads and checks the file at `path`.
    pub fn load(path: &Path) -> Result<TargetFile, FileError> {
        let source = std::fs::read_to_string(path).map_err(|source| FileError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        Self::parse(path, source)
    }

    /// Checks `source`, the text of the file at `path`.
    pub fn parse(path: PathBuf, source: String) -> Result<TargetFile, FileError> {
        let schema: Schema = toml::from_str(&source).map_err(|e| {
            let line = e.span().map_or(1, |s| {
                source.as_bytes()[..s.start.min(source.len())]
                    .iter()
                    .filter(|&&b| b == b'\n')
                    .count()
                    + 1
            });
            FileError::At {
                path: path.clone(),
                line,
                message: e.message().trim().to_string(),
            }
        })?;
        let file = TargetFile {
            path,
            source,
            schema,
        };
        file.check()?;
        Ok(file)
    }

    /// The target's name.
    pub fn name(&self) -> &str {
        self.schema.name.get_ref()
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The folder the file is in (the client runs there).
    pub fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }

    /// The workloads its client implements.
    pub fn workloads(&self) -> &[String] {
        self.schema.client.workloads.get_ref()
    }

    /// Whether it is attached to a running cluster.
    pub fn is_attached(&self) -> bool {
        self.schema.mode == Mode::Attach
    }

    /// Whether temblor may reach its nodes over SSH.
    pub fn has_ssh(&self) -> bool {
        self.schema.attach.as_ref().is_none_or(|a| a.ssh)
    }

    /// The schema, as read.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    fn renderer(&self) -> template::Renderer<'_> {
        template::Renderer {
            path: &self.path,
            source: &self.source,
        }
    }

    fn whole(&self, message: impl Into<String>) -> FileError {
        FileError::Whole {
            path: self.path.clone(),
            message: message.into(),
        }
    }

    /// What a well-formed file must also be: the checks serde cannot make.
    fn check(&self) -> Result<(), FileError> {
        let r = self.renderer();
        let s = &self.schema;
        if !is_safe_name(s.name.get_ref()) {
            return Err(r.error_at(
                &s.name.span(),
                "name",
                "use lower-case letters, digits, - and _ (at most 64): it names folders on the nodes",
            ));
        }
        if s.client.command.get_ref().is_empty() {
            return Err(r.error_at(&s.client.command.span(), "client.command", "is empty"));
        }
        let workloads = s.client.workloads.get_ref();
        if workloads.is_empty() {
            return Err(r.error_at(&s.client.workloads.span(), "client.workloads", "is empty"));
        }
        for w in workloads {
            if !workloads::workload::NAMES.contains(&w.as_str()) {
                let known = workloads::workload::NAMES.join(", ");
                return Err(r.error_at(
                    &s.client.workloads.span(),
                    "client.workloads",
                    &format!("unknown workload {w:?} (known: {known})"),
                ));
            }
        }
        for (name, decl) in &s.options {
            let choices = decl.choices();
            if !choices.is_empty() && !choices.iter().any(|c| c == decl.default_value()) {
                return Err(self.whole(format!(
                    "options.{name}: the default {:?} is not among the choices {choices:?}",
                    decl.default_value()
                )));
            }
        }
        match s.mode {
            Mode::Managed => self.check_managed(),
            Mode::Attach => self.check_attached(),
        }
    }

    fn check_managed(&self) -> Result<(), FileError> {
        let s = &self.schema;
        let r = self.renderer();
        if s.daemons.is_empty() {
            return Err(self.whole(
                "no [[daemon]]: a managed target needs at least one daemon to start \
                 (or set mode = \"attach\" for a cluster that already runs)",
            ));
        }
        let mut seen = std::collections::BTreeSet::new();
        for d in &s.daemons {
            let name = d.name.get_ref();
            if !is_safe_name(name) {
                return Err(r.error_at(
                    &d.name.span(),
                    "daemon.name",
                    "use lower-case letters, digits, - and _: it names the pidfile and log",
                ));
            }
            if !seen.insert(name.clone()) {
                return Err(r.error_at(
                    &d.name.span(),
                    "daemon.name",
                    &format!("two daemons are named {name:?}"),
                ));
            }
        }
        if s.attach.is_some() {
            return Err(self.whole(
                "[attach] is for mode = \"attach\"; a managed target is killed and paused \
                 through its daemons' pidfiles",
            ));
        }
        Ok(())
    }

    fn check_attached(&self) -> Result<(), FileError> {
        let s = &self.schema;
        let managed_only = [
            ("[install]", s.install.is_some()),
            ("[configure]", s.configure.is_some()),
            ("[[daemon]]", !s.daemons.is_empty()),
            ("[teardown]", s.teardown.is_some()),
        ];
        for (section, present) in managed_only {
            if present {
                return Err(self.whole(format!(
                    "{section} is not allowed with mode = \"attach\": an attached cluster \
                     already runs, and temblor never installs, starts or removes it"
                )));
            }
        }
        if let Some(a) = &s.attach {
            for (what, first, second) in [
                ("kill and start", &a.kill, &a.start),
                ("pause and resume", &a.pause, &a.resume),
            ] {
                if first.is_some() != second.is_some() {
                    return Err(self.whole(format!(
                        "[attach] gives only one of {what}: a fault must be undone"
                    )));
                }
            }
            if !a.ssh && [&a.kill, &a.pause].iter().any(|c| c.is_some()) {
                return Err(
                    self.whole("[attach] has ssh = false but gives commands to run on the nodes")
                );
            }
        }
        Ok(())
    }

    /// The options in force: the file's defaults, overridden by `given`.
    /// An option the file does not declare, or a value outside its
    /// choices, is an error listing what is allowed.
    pub fn options(
        &self,
        given: &BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, String>, FileError> {
        let declared = &self.schema.options;
        let mut out: BTreeMap<String, String> = declared
            .iter()
            .map(|(k, d)| (k.clone(), d.default_value().to_string()))
            .collect();
        for (k, v) in given {
            let Some(decl) = declared.get(k) else {
                let known: Vec<&str> = declared.keys().map(String::as_str).collect();
                return Err(self.whole(format!(
                    "unknown option {k:?} for target {} (it has: {})",
                    self.name(),
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                )));
            };
            let choices = decl.choices();
            if !choices.is_empty() && !choices.contains(v) {
                return Err(self.whole(format!(
                    "option {k} = {v:?}: must be one of {}",
                    choices.join(", ")
                )));
            }
            out.insert(k.clone(), v.clone());
        }
        Ok(out)
    }

    /// Every node's plan, placeholders filled in: `nodes` are (name,
    /// address) in order; `options` as given by the user.
    pub fn plan(
        &self,
        nodes: &[(String, String)],
        options: &BTreeMap<String, String>,
    ) -> Result<Vec<NodePlan>, FileError> {
        let options = self.options(options)?;
        let vars = plan::node_vars(nodes);
        vars.iter()
            .map(|node| plan::for_node(self, &vars, node, &options))
            .collect()
    }

    /// Checks the file against `options` with three stand-in nodes: every
    /// placeholder of every command is filled in once.
    pub fn check_with(&self, options: &BTreeMap<String, String>) -> Result<(), FileError> {
        let nodes: Vec<(String, String)> = (1..=3)
            .map(|i| (format!("n{i}"), format!("192.0.2.{i}")))
            .collect();
        self.plan(&nodes, options).map(|_| ())
    }
}

#[cfg(test)]
mod tests;
