//! With a non-root SSH user, network faults go through sudo like every
//! other command: a partition is put in place, healed, and the check
//! after the heal (also under sudo) finds nothing left.
//!
//! The local cluster's nodes share this machine's /etc and /home, so the
//! user this test makes (with passwordless sudo) exists on this machine
//! too; it is removed, with its sudoers file and home, when the test ends,
//! pass or fail.

use crate::support::*;
use harness::nemesis::{FaultKind, Faults, NemesisOptions, NodeHandle, Shape};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use targets::cluster::Cluster;
use targets::db::{Db, DbError, NodeCtx};
use targets::remote::{AsyncRemote, Ssh};
use workloads::Nemesis as _;

/// A user with passwordless sudo and the cluster's key, removed on drop.
struct SudoUser {
    name: String,
}

fn sh(script: &str) {
    let out = Command::new("sh").args(["-c", script]).output().unwrap();
    assert!(out.status.success(), "{script}: {out:?}");
}

impl SudoUser {
    fn create(public_key: &Path) -> SudoUser {
        let name = format!("tmblr{}", std::process::id());
        let user = SudoUser { name: name.clone() };
        sh(&format!(
            "useradd -m -d /home/{name} -s /bin/sh {name} && usermod -p '*' {name} && \
             install -d -m 700 -o {name} -g {name} /home/{name}/.ssh && \
             install -m 600 -o {name} -g {name} {key} /home/{name}/.ssh/authorized_keys && \
             printf '%s ALL=(root) NOPASSWD: ALL\\n' {name} > /etc/sudoers.d/{name} && \
             chmod 440 /etc/sudoers.d/{name}",
            key = public_key.display()
        ));
        user
    }
}

impl Drop for SudoUser {
    fn drop(&mut self) {
        let name = &self.name;
        let _ = Command::new("sh")
            .args([
                "-c",
                &format!("rm -f /etc/sudoers.d/{name}; userdel -r {name} 2>/dev/null; true"),
            ])
            .status();
    }
}

/// A target with no abilities: healing it touches the network alone.
struct Bare;

impl Db for Bare {
    fn name(&self) -> &str {
        "bare"
    }
    fn setup(&self, _: &NodeCtx<'_>) -> Result<(), DbError> {
        Ok(())
    }
    fn teardown(&self, _: &NodeCtx<'_>) -> Result<(), DbError> {
        Ok(())
    }
}

fn sudo_or_skip() -> bool {
    let found = Path::new("/usr/bin/sudo").exists();
    if !found {
        let why = "sudo as a non-root user: needs sudo installed (apt-get install sudo)";
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{why} (CI=true: this test must run)");
        }
        eprintln!("skipping {why}");
    }
    found
}

#[test]
fn a_non_root_user_partitions_and_heals_through_sudo() {
    let Some(_lock) = cluster_or_skip("network faults as a non-root user") else {
        return;
    };
    if !sudo_or_skip() {
        return;
    }
    let cluster = cluster_up();
    let local = Cluster::open(&slot().dir()).unwrap();
    let user = SudoUser::create(&local.key_path().with_extension("pub"));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(partition_and_heal(&local, &user.name));
    drop(user);
    cluster.down();
}

async fn partition_and_heal(local: &Cluster, user: &str) {
    let nodes: Vec<NodeHandle> = local
        .nodes()
        .iter()
        .map(|n| {
            let mut cfg = local.ssh_config(&n.name).unwrap();
            cfg.user = user.to_string();
            NodeHandle {
                name: n.name.clone(),
                addr: n.addr.to_string(),
                remote: AsyncRemote::new(Ssh::new(cfg)),
            }
        })
        .collect();
    let whoami = nodes[0]
        .remote
        .exec(targets::remote::Command::shell("id -u"))
        .await
        .unwrap();
    assert_ne!(whoami.stdout.trim(), "0", "the test user must not be root");

    let opts = NemesisOptions {
        kinds: vec![FaultKind::Partition],
        shapes: vec![Shape::One],
        ..NemesisOptions::default()
    };
    let mut faults = Faults::new(nodes, Arc::new(Bare), opts, 1);
    let start = checkers::Op {
        process: checkers::Process::Nemesis,
        ..checkers::Op::new(
            0,
            checkers::OpType::Info,
            "start-partition",
            serde_json::Value::Null,
        )
    };
    let done = faults
        .invoke(&start)
        .await
        .expect("a partition as a non-root user");
    assert!(done.value["grudge"].is_object(), "{:?}", done.value);
    let rules: u32 = ["n1", "n2", "n3"]
        .iter()
        .map(|n| node_faults(n).rules)
        .sum();
    assert!(rules > 0, "no DROP rule in place");

    let problems = faults.heal_and_verify().await;
    assert!(problems.is_empty(), "{problems:?}");
    assert_nodes_clean("after the heal as a non-root user");
}
