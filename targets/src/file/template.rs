//! Placeholders in a target file's commands and files, filled per node
//! with tera (`{{ node.address }}`, `{% for n in nodes %}...{% endfor %}`).
//! An unknown placeholder is an error naming the file, line and key, found
//! when the file is checked, before any node is touched.

use super::schema::Tmpl;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Why a target file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The file could not be read.
    #[error("cannot read target file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Something at a place in the file.
    #[error("{}:{line}: {message}", path.display())]
    At {
        /// The file.
        path: PathBuf,
        /// The line, from 1.
        line: usize,
        /// What is wrong, naming the key.
        message: String,
    },
    /// Something about the file as a whole (a section missing).
    #[error("{}: {message}", path.display())]
    Whole {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// One node, as placeholders see it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NodeVars {
    /// `n1`.
    pub name: String,
    /// Its address.
    pub address: String,
    /// Its position among the nodes, from 0.
    pub index: usize,
    /// Its position among the nodes, from 1 (ZooKeeper's myid, ...).
    pub id: usize,
}

/// A node's folders for the target.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Dirs {
    /// `/var/lib/temblor/<node>/<target>/data`.
    pub data: String,
    /// `/var/lib/temblor/<node>/<target>/log`: daemon logs.
    pub log: String,
    /// `/var/lib/temblor/<node>/<target>/run`: pidfiles.
    pub run: String,
    /// `/opt/temblor/<node>/<target>`: uploaded programs.
    pub opt: String,
}

impl Dirs {
    /// The folders of target `target` on `node`.
    pub fn new(node: &str, target: &str) -> Self {
        let paths = crate::node::NodePaths::new(node);
        Dirs {
            data: paths.var(&format!("{target}/data")),
            log: paths.var(&format!("{target}/log")),
            run: paths.var(&format!("{target}/run")),
            opt: paths.opt(target),
        }
    }

    /// The folder holding data, log and run.
    pub fn root(&self) -> &str {
        self.data.trim_end_matches("/data")
    }
}

/// Everything a template on one node may use.
#[derive(Clone, Debug, Serialize)]
pub struct Vars {
    /// This node.
    pub node: NodeVars,
    /// Every node, in order.
    pub nodes: Vec<NodeVars>,
    /// The first node.
    pub first: NodeVars,
    /// The target's named ports.
    pub ports: BTreeMap<String, u16>,
    /// This node's folders.
    pub dirs: Dirs,
    /// The target options, defaults filled in.
    pub options: BTreeMap<String, String>,
    /// The target's name and the folder of its file on the controller.
    pub target: TargetVars,
    /// In a daemon's command: true when it starts again after a kill.
    pub restart: bool,
}

/// `target.name`, `target.dir`.
#[derive(Clone, Debug, Serialize)]
pub struct TargetVars {
    /// The target's name.
    pub name: String,
    /// The folder of its file, on the controller.
    pub dir: String,
}

/// Renders a file's templates, turning errors into ones that name where.
pub struct Renderer<'a> {
    /// The file, for messages.
    pub path: &'a Path,
    /// Its text, to turn byte offsets into lines.
    pub source: &'a str,
}

impl Renderer<'_> {
    /// The line (from 1) of byte `offset`.
    pub fn line(&self, offset: usize) -> usize {
        let end = offset.min(self.source.len());
        self.source.as_bytes()[..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    }

    /// An error at `span` about `key`.
    pub fn error_at(&self, span: &std::ops::Range<usize>, key: &str, message: &str) -> FileError {
        FileError::At {
            path: self.path.to_path_buf(),
            line: self.line(span.start),
            message: format!("{key}: {message}"),
        }
    }

    /// `t` with `vars` filled in; `key` names it in errors.
    pub fn render(&self, key: &str, t: &Tmpl, vars: &Vars) -> Result<String, FileError> {
        let ctx = tera::Context::from_serialize(vars)
            .map_err(|e| self.error_at(&t.span, key, &format!("placeholders: {e}")))?;
        let mut tera = tera::Tera::default();
        tera.register_filter("sh", shell_filter);
        tera.render_str(&t.text, &ctx)
            .map_err(|e| self.error_at(&t.span, key, &describe(&e)))
    }
}

/// tera's error chain as one line, without its internal template name.
fn describe(e: &tera::Error) -> String {
    let mut parts = Vec::new();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        let text = err
            .to_string()
            .replace(" while rendering '__tera_one_off'", "")
            .replace("Failed to render '__tera_one_off'", "")
            .replace("Failed to parse '__tera_one_off'", "bad placeholder syntax");
        if !text.trim().is_empty() {
            parts.push(text.trim().to_string());
        }
        cur = err.source();
    }
    let text = parts.join(": ");
    if text.contains("not found in context") {
        format!(
            "{text} (placeholders: node.name, node.address, node.index, node.id, nodes, first, \
             ports.NAME, dirs.data, dirs.log, dirs.run, dirs.opt, options.NAME, target.name, \
             target.dir, restart)"
        )
    } else {
        text
    }
}

/// `{{ value | sh }}`: the value quoted for a POSIX shell.
fn shell_filter(
    value: &tera::Value,
    _: &std::collections::HashMap<String, tera::Value>,
) -> tera::Result<tera::Value> {
    let text = match value {
        tera::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    Ok(tera::Value::String(crate::remote::escape(&text)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Vars {
        let nodes: Vec<NodeVars> = (0..3)
            .map(|i| NodeVars {
                name: format!("n{}", i + 1),
                address: format!("10.0.0.{}", i + 11),
                index: i,
                id: i + 1,
            })
            .collect();
        Vars {
            node: nodes[1].clone(),
            first: nodes[0].clone(),
            nodes,
            ports: BTreeMap::from([("client".to_string(), 2181)]),
            dirs: Dirs::new("n2", "zk"),
            options: BTreeMap::from([("motto".to_string(), "it's fine".to_string())]),
            target: TargetVars {
                name: "zk".into(),
                dir: "/t".into(),
            },
            restart: false,
        }
    }

    fn tmpl(text: &str, at: usize) -> Tmpl {
        Tmpl {
            text: text.into(),
            span: at..at + text.len(),
        }
    }

    #[test]
    fn placeholders_fill_in_per_node_with_loops_and_quoting() {
        let source = "a\nb\nc\n";
        let r = Renderer {
            path: Path::new("zk.toml"),
            source,
        };
        let t = tmpl(
            "{{ node.id }} {{ dirs.data }} {% for n in nodes %}{{ n.address }}:{{ ports.client }},{% endfor %} {{ options.motto | sh }}",
            0,
        );
        assert_eq!(
            r.render("k", &t, &vars()).unwrap(),
            "2 /var/lib/temblor/n2/zk/data 10.0.0.11:2181,10.0.0.12:2181,10.0.0.13:2181, 'it'\\''s fine'"
        );
    }

    #[test]
    fn an_unknown_placeholder_names_the_file_line_and_key() {
        let source = "a = 1\nb = 2\ncommand = '{{ dirs.dta }}'\n";
        let r = Renderer {
            path: Path::new("zk.toml"),
            source,
        };
        let e = r
            .render("daemon.zk.command", &tmpl("{{ dirs.dta }}", 24), &vars())
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("zk.toml:3: daemon.zk.command: "), "{e}");
        assert!(e.contains("dirs.dta"), "{e}");
        assert!(e.contains("placeholders: node.name"), "{e}");
        let e = r
            .render("k", &tmpl("{{ node.name ", 0), &vars())
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("zk.toml:1: k: bad placeholder syntax"), "{e}");
    }
}
