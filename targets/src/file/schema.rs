//! The target file's TOML schema (docs/target-files.md is its reference).
//! Every table refuses keys it does not know, and every string that holds
//! a template keeps where it stands in the file, so that an error names
//! the file, the line and the key.

use serde::de::{self, Deserializer};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::ops::Range;
use toml::Spanned;

/// A template string (placeholders in `{{ }}`) and its place in the file.
/// A bare integer is taken as the string of its digits (`tcp = 2181`).
#[derive(Clone, Debug, PartialEq)]
pub struct Tmpl {
    /// The template.
    pub text: String,
    /// Its byte range in the file.
    pub span: Range<usize>,
}

impl<'de> Deserialize<'de> for Tmpl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Number(i64),
        }
        let spanned = Spanned::<Raw>::deserialize(d)?;
        let span = spanned.span();
        let text = match spanned.into_inner() {
            Raw::Text(s) => s,
            Raw::Number(n) => n.to_string(),
        };
        Ok(Tmpl { text, span })
    }
}

/// A duration written as `30s`, `500ms`, `2m` or a number of seconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Duration(pub std::time::Duration);

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Number(f64),
        }
        let secs = match Raw::deserialize(d)? {
            Raw::Number(n) => Some(n),
            Raw::Text(s) => parse_secs(&s),
        };
        match secs {
            Some(s) if s.is_finite() && s > 0.0 && s <= 86_400.0 => {
                Ok(Duration(std::time::Duration::from_secs_f64(s)))
            }
            _ => Err(de::Error::custom(
                "a duration must be like 30s, 500ms or 2m, more than 0 and at most a day",
            )),
        }
    }
}

fn parse_secs(s: &str) -> Option<f64> {
    let s = s.trim();
    let (num, scale) = if let Some(n) = s.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60.0)
    } else if let Some(n) = s.strip_suffix('h') {
        (n, 3600.0)
    } else {
        (s, 1.0)
    };
    num.trim().parse::<f64>().ok().map(|n| n * scale)
}

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetFile {
    /// The target's name: lower-case letters, digits, `-` and `_` (it
    /// names folders on the nodes and the results).
    pub name: Spanned<String>,
    /// A line about what this is.
    #[serde(default)]
    pub about: String,
    /// `managed` (temblor installs, starts and removes it) or `attach`
    /// (it already runs; temblor only connects).
    #[serde(default)]
    pub mode: Mode,
    /// The client program.
    pub client: ClientSection,
    /// Named ports, for placeholders and the client.
    #[serde(default)]
    pub ports: BTreeMap<String, u16>,
    /// The options a user may set, with their defaults.
    #[serde(default)]
    pub options: BTreeMap<String, OptionDecl>,
    /// Once per node, idempotent.
    pub install: Option<InstallSection>,
    /// Before every start from scratch.
    pub configure: Option<ConfigureSection>,
    /// The long-running processes, started in this order.
    #[serde(default, rename = "daemon")]
    pub daemons: Vec<DaemonSection>,
    /// When a started node can take clients.
    pub ready: Option<ReadySection>,
    /// Once, on the first node, after every node is ready.
    pub init: Option<Step>,
    /// Says whether this node leads: exit 0 yes, 1 no.
    pub primaries: Option<Step>,
    /// After the daemons are stopped: wipe data.
    pub teardown: Option<Step>,
    /// `[logs]`: files to download into the results after the run.
    #[serde(default)]
    pub logs: Files,
    /// `[data]`: the store's data files (for file faults).
    #[serde(default)]
    pub data: Files,
    /// How the target's clock can be moved.
    #[serde(default)]
    pub clock: ClockSection,
    /// What the store promises, for the checkers.
    #[serde(default)]
    pub check: CheckSection,
    /// Attach mode's fault commands.
    pub attach: Option<AttachSection>,
}

/// Who runs the target.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// temblor installs, configures, starts and tears it down.
    #[default]
    Managed,
    /// It already runs; no install, start or teardown.
    Attach,
}

/// `[client]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientSection {
    /// The program and its arguments, run in the file's folder.
    pub command: Spanned<Vec<String>>,
    /// The workloads it implements.
    pub workloads: Spanned<Vec<String>>,
    /// Extra environment variables.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// How long it may take to answer `init` (default 30 s).
    pub start_timeout: Option<Duration>,
}

/// An option's declaration: its default, or a table with the default,
/// the allowed values and what it does.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum OptionDecl {
    /// `name = "default"`.
    Default(String),
    /// `name = { default = "...", choices = [...], about = "..." }`.
    Full {
        /// The value when the user gives none.
        default: String,
        /// The values allowed (any when empty).
        #[serde(default)]
        choices: Vec<String>,
        /// What it does.
        #[serde(default)]
        about: String,
    },
}

impl OptionDecl {
    /// The default value.
    pub fn default_value(&self) -> &str {
        match self {
            OptionDecl::Default(d) | OptionDecl::Full { default: d, .. } => d,
        }
    }

    /// The values allowed (empty: any).
    pub fn choices(&self) -> &[String] {
        match self {
            OptionDecl::Default(_) => &[],
            OptionDecl::Full { choices, .. } => choices,
        }
    }
}

/// `[install]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstallSection {
    /// Debian packages, installed with apt-get when missing.
    #[serde(default)]
    pub packages: Vec<String>,
    /// Files from the controller (relative to the target file's folder).
    #[serde(default)]
    pub upload: Vec<Upload>,
    /// A script run after the packages and uploads.
    pub command: Option<Tmpl>,
    /// How long it may take (default 15 min).
    pub timeout: Option<Duration>,
}

/// One `[[install.upload]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Upload {
    /// A file on the controller, relative to the target file's folder.
    pub from: Spanned<String>,
    /// Where it goes on the node.
    pub to: Tmpl,
    /// Octal permissions (default 755).
    #[serde(default = "default_upload_mode")]
    pub mode: String,
}

fn default_upload_mode() -> String {
    "755".into()
}

/// `[configure]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigureSection {
    /// Files written from templates.
    #[serde(default)]
    pub files: Vec<FileSection>,
    /// A script run after the files are written.
    pub command: Option<Tmpl>,
    /// How long it may take (default 2 min).
    pub timeout: Option<Duration>,
}

/// One `[[configure.files]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSection {
    /// Where it goes on the node.
    pub path: Tmpl,
    /// Its contents.
    pub content: Tmpl,
    /// Octal permissions (default 644).
    #[serde(default = "default_file_mode")]
    pub mode: String,
}

fn default_file_mode() -> String {
    "644".into()
}

/// One `[[daemon]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DaemonSection {
    /// Its name: its pidfile and log file are named after it.
    pub name: Spanned<String>,
    /// The command line, run through the shell without `&` (temblor runs
    /// it detached, with a pidfile and a log).
    pub command: Tmpl,
    /// Its working directory (default the node's data folder).
    pub cwd: Option<Tmpl>,
    /// Environment variables.
    #[serde(default)]
    pub env: BTreeMap<String, Tmpl>,
    /// The user it runs as (default root).
    pub user: Option<String>,
}

/// `[ready]`: one of a TCP port, an HTTP URL or a command.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadySection {
    /// A port on the node's address that accepts connections.
    pub tcp: Option<Tmpl>,
    /// A URL that answers 2xx.
    pub http: Option<Tmpl>,
    /// A command on the node that exits 0.
    pub command: Option<Tmpl>,
    /// How long to wait (default 60 s).
    pub timeout: Option<Duration>,
}

/// A command step (`[init]`, `[primaries]`, `[teardown]`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// The script.
    pub command: Tmpl,
    /// How long it may take.
    pub timeout: Option<Duration>,
}

/// `[logs]` and `[data]`: a list of files on each node.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Files {
    /// Paths, placeholders allowed.
    #[serde(default)]
    pub files: Vec<Tmpl>,
}

/// `[clock]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClockSection {
    /// How clock faults reach the target.
    #[serde(default)]
    pub mode: ClockMode,
    /// With `none`: why, shown when a clock fault is refused.
    pub reason: Option<String>,
}

/// How a target's clock moves.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClockMode {
    /// libfaketime in the daemons (libc programs), anywhere.
    Faketime,
    /// The hosts' system clock: real hosts only.
    System,
    /// libfaketime on the local cluster, the system clock on real hosts.
    Auto,
    /// No clock faults.
    #[default]
    None,
}

/// `[check]`: what the store promises, so that a run checks that and not
/// more.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckSection {
    /// The consistency models the store promises, comma-separated
    /// (placeholders allowed: an isolation option may choose them): Elle
    /// checks transactional workloads against these instead of strict
    /// serializability.
    pub consistency_models: Option<Tmpl>,
}

/// `[attach]`: what faults an attached target allows.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttachSection {
    /// Whether temblor can reach the nodes over SSH (network faults, the
    /// commands below); `false` for a hosted service.
    #[serde(default = "yes")]
    pub ssh: bool,
    /// Crashes the store on a node.
    pub kill: Option<Tmpl>,
    /// Starts it again after a kill.
    pub start: Option<Tmpl>,
    /// Pauses it.
    pub pause: Option<Tmpl>,
    /// Resumes it.
    pub resume: Option<Tmpl>,
}

fn yes() -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_write_them() {
        let d = |s: &str| {
            toml::from_str::<Step>(&format!("command = 'x'\ntimeout = {s}")).map(|s| s.timeout)
        };
        assert_eq!(
            d("'90s'").unwrap(),
            Some(Duration(std::time::Duration::from_secs(90)))
        );
        assert_eq!(
            d("'2m'").unwrap(),
            Some(Duration(std::time::Duration::from_secs(120)))
        );
        assert_eq!(
            d("'250ms'").unwrap(),
            Some(Duration(std::time::Duration::from_millis(250)))
        );
        assert_eq!(
            d("5").unwrap(),
            Some(Duration(std::time::Duration::from_secs(5)))
        );
        assert!(d("'soon'").is_err());
        assert!(d("'-1s'").is_err());
        assert!(d("'1e12s'").is_err());
    }

    #[test]
    fn templates_keep_their_place_and_numbers_become_text() {
        let r: ReadySection = toml::from_str("tcp = 2181\nhttp = 'http://x'").unwrap();
        assert_eq!(r.tcp.unwrap().text, "2181");
        assert_eq!(r.http.unwrap().span, 18..28);
    }
}
