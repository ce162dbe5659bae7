//! A target file's commands for one node, placeholders filled in: exactly
//! what a run sends, and what a dry run prints.

use super::schema::{self, Tmpl};
use super::template::{Dirs, FileError, NodeVars, TargetVars, Vars};
use super::TargetFile;
use crate::node::Daemon;
use checkers::elle::{Model, UnknownModel};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// A script to run on a node, and where the file says it.
#[derive(Clone, Debug, PartialEq)]
pub struct Script {
    /// The step, for messages (`configure`, `primaries`, ...).
    pub step: String,
    /// The script, placeholders filled in.
    pub text: String,
    /// `file.toml:12`.
    pub origin: String,
    /// How long it may run.
    pub timeout: Duration,
}

/// How a node is found ready.
#[derive(Clone, Debug, PartialEq)]
pub enum Ready {
    /// `address:port` accepts TCP connections (from the controller).
    Tcp(String),
    /// The URL answers 2xx (from the controller).
    Http(String),
    /// The script exits 0 on the node.
    Command(Script),
}

/// Everything a target file does on one node.
#[derive(Clone, Debug)]
pub struct NodePlan {
    /// The node's name.
    pub node: String,
    /// The node's folders.
    pub dirs: Dirs,
    /// Debian packages to install.
    pub packages: Vec<String>,
    /// (file on the controller, path on the node, octal mode).
    pub uploads: Vec<(PathBuf, String, String)>,
    /// The install script.
    pub install: Option<Script>,
    /// (path, contents, octal mode) of the configuration files.
    pub files: Vec<(String, String, String)>,
    /// The configure script.
    pub configure: Option<Script>,
    /// The daemons for a first start.
    pub daemons: Vec<Daemon>,
    /// The daemons for a start after a kill.
    pub restarts: Vec<Daemon>,
    /// Users the daemons run as (their folders are theirs).
    pub users: Vec<String>,
    /// The readiness check, and how long it may take.
    pub ready: Option<(Ready, Duration)>,
    /// The one-time script, on the first node only.
    pub init: Option<Script>,
    /// Says whether the node leads.
    pub primaries: Option<Script>,
    /// Wipes data after the daemons stopped.
    pub teardown: Option<Script>,
    /// Files to download.
    pub logs: Vec<String>,
    /// Data files (for file faults).
    pub data: Vec<String>,
    /// Attach mode's kill, start, pause and resume scripts.
    pub attach: [Option<Script>; 4],
    /// The consistency models the store promises (empty: it does not say).
    pub consistency_models: Vec<Model>,
}

impl NodePlan {
    /// The plan as (step, command) lines, in the order a run carries
    /// them out.
    pub fn lines(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut push = |step: &str, cmd: String| out.push((step.to_string(), cmd));
        if !self.packages.is_empty() {
            push(
                "install",
                format!("apt-get install {}", self.packages.join(" ")),
            );
        }
        for (from, to, mode) in &self.uploads {
            push(
                "install",
                format!("upload {} to {to} (mode {mode})", from.display()),
            );
        }
        let scripts = |s: &Option<Script>| s.iter().map(|s| s.text.clone()).collect::<Vec<_>>();
        for s in scripts(&self.install) {
            push("install", s);
        }
        for (path, content, mode) in &self.files {
            push(
                "configure",
                format!("write {path} (mode {mode}):\n{content}"),
            );
        }
        for s in scripts(&self.configure) {
            push("configure", s);
        }
        for d in &self.daemons {
            push("start", d.command().to_string());
        }
        for d in &self.restarts {
            push("restart", d.command().to_string());
        }
        match &self.ready {
            Some((Ready::Tcp(a), t)) => push("ready", format!("tcp {a} (within {t:?})")),
            Some((Ready::Http(u), t)) => push("ready", format!("GET {u} (within {t:?})")),
            Some((Ready::Command(s), t)) => push("ready", format!("{} (within {t:?})", s.text)),
            None => {}
        }
        for (step, s) in [("init", &self.init), ("primaries", &self.primaries)] {
            for text in scripts(s) {
                push(step, text);
            }
        }
        for (step, s) in ["kill", "start", "pause", "resume"]
            .iter()
            .zip(&self.attach)
        {
            for text in scripts(s) {
                push(step, text);
            }
        }
        for s in scripts(&self.teardown) {
            push("teardown", s);
        }
        for l in &self.logs {
            push("logs", l.clone());
        }
        if !self.consistency_models.is_empty() {
            let names: Vec<&str> = self.consistency_models.iter().map(|m| m.name()).collect();
            push("check", format!("consistency models: {}", names.join(", ")));
        }
        for d in &self.data {
            push("data", d.clone());
        }
        out
    }
}

/// The nodes as placeholders see them.
pub(super) fn node_vars(nodes: &[(String, String)]) -> Vec<NodeVars> {
    nodes
        .iter()
        .enumerate()
        .map(|(i, (name, address))| NodeVars {
            name: name.clone(),
            address: address.clone(),
            index: i,
            id: i + 1,
        })
        .collect()
}

const INSTALL_TIMEOUT: Duration = Duration::from_secs(900);
const STEP_TIMEOUT: Duration = Duration::from_secs(120);
const READY_TIMEOUT: Duration = Duration::from_secs(60);
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// Fills in one node's plan.
pub(super) fn for_node(
    file: &TargetFile,
    all: &[NodeVars],
    node: &NodeVars,
    options: &BTreeMap<String, String>,
) -> Result<NodePlan, FileError> {
    let s = &file.schema;
    let r = file.renderer();
    let name = file.name();
    let vars = Vars {
        node: node.clone(),
        nodes: all.to_vec(),
        first: all.first().cloned().unwrap_or_else(|| node.clone()),
        ports: s.ports.clone(),
        dirs: Dirs::new(&node.name, name),
        options: options.clone(),
        target: TargetVars {
            name: name.to_string(),
            dir: file.dir().display().to_string(),
        },
        restart: false,
    };
    let text = |key: &str, t: &Tmpl, vars: &Vars| r.render(key, t, vars);
    let script = |step: &str, key: &str, t: &Tmpl, timeout: Option<schema::Duration>, default| {
        Ok::<_, FileError>(Script {
            step: step.to_string(),
            text: r.render(key, t, &vars)?,
            origin: format!("{}:{}", file.path.display(), r.line(t.span.start)),
            timeout: timeout.map_or(default, |d| d.0),
        })
    };
    let step = |name: &str, st: &Option<schema::Step>, default| {
        st.as_ref()
            .map(|st| {
                script(
                    name,
                    &format!("{name}.command"),
                    &st.command,
                    st.timeout,
                    default,
                )
            })
            .transpose()
    };

    let mut plan = NodePlan {
        node: node.name.clone(),
        dirs: vars.dirs.clone(),
        packages: Vec::new(),
        uploads: Vec::new(),
        install: None,
        files: Vec::new(),
        configure: None,
        daemons: Vec::new(),
        restarts: Vec::new(),
        users: Vec::new(),
        ready: None,
        init: None,
        primaries: step("primaries", &s.primaries, PROBE_TIMEOUT)?,
        teardown: step("teardown", &s.teardown, STEP_TIMEOUT)?,
        logs: Vec::new(),
        data: Vec::new(),
        attach: [None, None, None, None],
        consistency_models: Vec::new(),
    };
    if node.index == 0 {
        plan.init = step("init", &s.init, STEP_TIMEOUT)?;
    }
    if let Some(i) = &s.install {
        plan.packages = i.packages.clone();
        for u in &i.upload {
            let from = file.dir().join(u.from.get_ref());
            if !from.is_file() {
                return Err(r.error_at(
                    &u.from.span(),
                    "install.upload.from",
                    &format!("{}: no such file", from.display()),
                ));
            }
            plan.uploads.push((
                from,
                text("install.upload.to", &u.to, &vars)?,
                u.mode.clone(),
            ));
        }
        plan.install = i
            .command
            .as_ref()
            .map(|c| script("install", "install.command", c, i.timeout, INSTALL_TIMEOUT))
            .transpose()?;
    }
    if let Some(c) = &s.configure {
        for f in &c.files {
            plan.files.push((
                text("configure.files.path", &f.path, &vars)?,
                text("configure.files.content", &f.content, &vars)?,
                f.mode.clone(),
            ));
        }
        plan.configure = c
            .command
            .as_ref()
            .map(|t| script("configure", "configure.command", t, c.timeout, STEP_TIMEOUT))
            .transpose()?;
    }
    for restart in [false, true] {
        let vars = Vars {
            restart,
            ..vars.clone()
        };
        for d in &s.daemons {
            let daemon = daemon(&r, d, &vars)?;
            match restart {
                false => plan.daemons.push(daemon),
                true => plan.restarts.push(daemon),
            }
        }
    }
    plan.users = s.daemons.iter().filter_map(|d| d.user.clone()).collect();
    if let Some(ready) = &s.ready {
        plan.ready = Some((
            readiness(file, &r, ready, &vars)?,
            ready.timeout.map_or(READY_TIMEOUT, |d| d.0),
        ));
    }
    for l in &s.logs.files {
        plan.logs.push(text("logs.files", l, &vars)?);
    }
    for d in &s.data.files {
        plan.data.push(text("data.files", d, &vars)?);
    }
    if let Some(t) = &s.check.consistency_models {
        plan.consistency_models = consistency_models(&r, t, &vars)?;
    }
    if let Some(a) = &s.attach {
        for (slot, (key, t)) in plan.attach.iter_mut().zip([
            ("kill", &a.kill),
            ("start", &a.start),
            ("pause", &a.pause),
            ("resume", &a.resume),
        ]) {
            *slot = t
                .as_ref()
                .map(|t| script(key, &format!("attach.{key}"), t, None, STEP_TIMEOUT))
                .transpose()?;
        }
    }
    Ok(plan)
}

/// A daemon: its command line runs as `bash -c 'exec <line>'`, so the
/// pidfile holds the program's own PID (bash replaces itself with it).
fn daemon(
    r: &super::template::Renderer<'_>,
    d: &schema::DaemonSection,
    vars: &Vars,
) -> Result<Daemon, FileError> {
    let name = d.name.get_ref();
    let key = |k: &str| format!("daemon.{name}.{k}");
    let line = r.render(&key("command"), &d.command, vars)?;
    let dirs = &vars.dirs;
    let mut daemon = Daemon::new(
        "bash",
        &format!("{}/{name}.pid", dirs.run),
        &format!("{}/{name}.log", dirs.log),
    )
    .args(["-c".to_string(), format!("exec {}", line.trim())]);
    let cwd = match &d.cwd {
        Some(t) => r.render(&key("cwd"), t, vars)?,
        None => dirs.data.clone(),
    };
    daemon = daemon.cd(&cwd);
    for (k, v) in &d.env {
        if !(k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && k.chars().next().is_some_and(|c| !c.is_ascii_digit()))
        {
            return Err(r.error_at(
                &v.span,
                &key("env"),
                &format!("{k:?} is not a variable name"),
            ));
        }
        daemon = daemon.env(k, &r.render(&key(&format!("env.{k}")), v, vars)?);
    }
    if let Some(user) = &d.user {
        daemon = daemon.user(user);
    }
    Ok(daemon)
}

/// `[check] consistency_models`, rendered and parsed: an unknown model is
/// an error naming the line, found before any node is touched.
fn consistency_models(
    r: &super::template::Renderer<'_>,
    t: &Tmpl,
    vars: &Vars,
) -> Result<Vec<Model>, FileError> {
    let key = "check.consistency_models";
    let text = r.render(key, t, vars)?;
    text.split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(|name| {
            name.parse()
                .map_err(|e: UnknownModel| r.error_at(&t.span, key, &e.to_string()))
        })
        .collect()
}

fn readiness(
    file: &TargetFile,
    r: &super::template::Renderer<'_>,
    ready: &schema::ReadySection,
    vars: &Vars,
) -> Result<Ready, FileError> {
    let given = [&ready.tcp, &ready.http, &ready.command]
        .iter()
        .filter(|t| t.is_some())
        .count();
    if given != 1 {
        return Err(file.whole("[ready] needs exactly one of tcp, http or command"));
    }
    if let Some(t) = &ready.tcp {
        let port = r.render("ready.tcp", t, vars)?;
        if port.trim().parse::<u16>().is_err() {
            return Err(r.error_at(&t.span, "ready.tcp", &format!("{port:?} is not a port")));
        }
        return Ok(Ready::Tcp(format!("{}:{}", vars.node.address, port.trim())));
    }
    if let Some(t) = &ready.http {
        return Ok(Ready::Http(r.render("ready.http", t, vars)?));
    }
    let t = ready
        .command
        .as_ref()
        .ok_or_else(|| file.whole("[ready] is empty"))?;
    Ok(Ready::Command(Script {
        step: "ready".into(),
        text: r.render("ready.command", t, vars)?,
        origin: format!("{}:{}", file.path.display(), r.line(t.span.start)),
        timeout: PROBE_TIMEOUT,
    }))
}
