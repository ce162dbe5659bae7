//! `temblor test --dry-run`: everything a run checks before it touches a
//! node (the spec, the target file with every placeholder filled in, the
//! workload against the target's client, the faults against the target),
//! then the commands the target would run on each node, printed instead
//! of run. No node is reached and no local cluster is brought up.

use super::db;
use super::nodes;
use super::spec::TestSpec;
use crate::nemesis::{describe_availability, Faults, NodeHandle};
use std::fmt::Write as _;
use std::sync::Arc;
use targets::cluster::Cluster;
use targets::remote::{AsyncRemote, NoSsh};

/// The report of a dry run of `spec`, or the error the run would stop at.
pub fn dry_run(spec: &TestSpec) -> anyhow::Result<String> {
    spec.validate()
        .map_err(|e| crate::error::UsageError(e.to_string()))?;
    let handles: Vec<NodeHandle> = planned_nodes(spec)?
        .into_iter()
        .map(|(name, addr)| NodeHandle {
            remote: AsyncRemote::new(NoSsh::new(&name)),
            name,
            addr,
        })
        .collect();
    let opened = db::open(spec, &handles, "dry-run", Arc::new(|_: &str| {}))?;
    let db = Arc::clone(&opened.db);
    let opts = super::nemesis_options(spec, db.as_ref(), opened.ssh)?;
    Faults::new(handles.clone(), Arc::clone(&db), opts, 0)
        .validate()
        .map_err(crate::error::UsageError)?;

    let mut out = String::new();
    let faults: Vec<String> = spec.nemesis.iter().map(|k| k.to_string()).collect();
    let _ = writeln!(
        out,
        "target {} ({}), workload {}, faults {}",
        db.name(),
        spec.target.kind(),
        spec.workload,
        if faults.is_empty() {
            "none".to_string()
        } else {
            faults.join(", ")
        }
    );
    let _ = writeln!(out, "{}", describe_availability(db.as_ref(), opened.ssh));
    if let Some(file) = spec.target.load()? {
        let c = &file.schema().client;
        let _ = writeln!(
            out,
            "client: {} (in {})",
            c.command.get_ref().join(" "),
            file.dir().display()
        );
    }
    for node in &handles {
        let _ = writeln!(out, "\n== {} ({})", node.name, node.addr);
        for (step, command) in db.plan(&node.name)? {
            let mut lines = command.lines();
            let _ = writeln!(out, "[{step}] {}", lines.next().unwrap_or_default());
            for line in lines {
                let _ = writeln!(out, "    {line}");
            }
        }
    }
    Ok(out)
}

/// The nodes a run of `spec` would use: the nodes file's, the local
/// cluster's if one is up, else those `temblor cluster up` would make.
fn planned_nodes(spec: &TestSpec) -> anyhow::Result<Vec<(String, String)>> {
    if let Some(file) = &spec.nodes_file {
        return nodes::read_nodes_file(file);
    }
    let slot = nodes::slot(spec)?;
    if let Ok(c) = Cluster::open(&slot.dir()) {
        if c.nodes().len() == spec.nodes {
            return Ok(c
                .nodes()
                .iter()
                .map(|n| (n.name.clone(), n.addr.to_string()))
                .collect());
        }
    }
    Ok((1..=spec.nodes)
        .map(|i| (format!("n{i}"), slot.subnet().node(i).to_string()))
        .collect())
}
