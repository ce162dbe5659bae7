//! `down`: removes what the state file lists, newest first, and nothing
//! else. Every step checks whether its resource still exists, so `down`
//! after a crash mid-`up`, or a second `down`, succeeds quietly.

use super::net;
use super::state::{self, Resource};
use super::{check_privileges, ClusterError};
use crate::remote::{Command, Local, Remote};
use std::path::Path;
use std::time::{Duration, Instant};

/// How long a killed process may take to disappear.
const DEATH_LIMIT: Duration = Duration::from_secs(5);

/// What `down` removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DownReport {
    /// One line per removed resource, e.g. `netns tmbr0-n1`.
    pub removed: Vec<String>,
    /// Whether a state file was found at all.
    pub found: bool,
}

/// Removes the cluster recorded in `dir`. No state file: nothing to do.
pub fn down(dir: &Path) -> Result<DownReport, ClusterError> {
    check_privileges()?;
    let Some(state) = state::load(dir)? else {
        return Ok(DownReport::default());
    };
    let local = Local::new();
    let mut report = DownReport {
        removed: Vec::new(),
        found: true,
    };
    let mut problems = Vec::new();
    for resource in state.resources.iter().rev() {
        // Keep the state file (in the cluster dir) while anything failed,
        // so that another `down` can finish the job.
        if matches!(resource, Resource::Dir { .. }) && !problems.is_empty() {
            continue;
        }
        match remove(&local, resource) {
            Ok(true) => report.removed.push(describe(resource)),
            Ok(false) => {}
            Err(e) => problems.push(format!("{}: {e}", describe(resource))),
        }
    }
    if problems.is_empty() {
        Ok(report)
    } else {
        Err(ClusterError::Teardown {
            dir: dir.to_path_buf(),
            problems,
        })
    }
}

fn describe(resource: &Resource) -> String {
    match resource {
        Resource::Dir { path, .. } => format!("directory {}", path.display()),
        Resource::Bridge { name } => format!("bridge {name}"),
        Resource::Netns { name } => format!("netns {name}"),
        Resource::Veth { name } => format!("veth {name}"),
        Resource::ForwardRule { bridge } => format!("iptables FORWARD rule for {bridge}"),
        Resource::Process { node, pid, .. } => format!("init of {node} (pid {pid})"),
    }
}

/// Removes one resource; `Ok(false)` when it was already gone.
fn remove(local: &Local, resource: &Resource) -> Result<bool, ClusterError> {
    match resource {
        Resource::Process {
            pid, start_time, ..
        } => kill_ours(local, *pid, *start_time),
        Resource::Netns { name } => remove_netns(local, name),
        Resource::Veth { name } | Resource::Bridge { name } => {
            if !net::link_exists(local, name)? {
                return Ok(false);
            }
            local.exec(&Command::new("ip").args(["link", "del", "dev", name]))?;
            Ok(true)
        }
        Resource::ForwardRule { bridge } => {
            let mut removed = false;
            // Bounded: `up` inserts one rule; a few more are someone's retries.
            for _ in 0..10 {
                if !net::forward_rule_present(local, bridge)? {
                    break;
                }
                local.exec(
                    &Command::new("iptables")
                        .args(["-w", "-D"])
                        .args(net::forward_rule(bridge)),
                )?;
                removed = true;
            }
            Ok(removed)
        }
        Resource::Dir { path, recursive } => remove_dir(path, *recursive),
    }
}

/// Kills every process in the namespace (the nodes' sshd and whatever
/// tests started there), then deletes it.
fn remove_netns(local: &Local, name: &str) -> Result<bool, ClusterError> {
    if !net::netns_list(local)?.iter().any(|n| n == name) {
        return Ok(false);
    }
    let pids = local
        .exec(&Command::new("ip").args(["netns", "pids", name]))?
        .stdout;
    for pid in pids
        .split_whitespace()
        .filter_map(|p| p.parse::<u32>().ok())
    {
        if let Some(start) = start_time(pid) {
            kill_ours(local, pid, start)?;
        }
    }
    local.exec(&Command::new("ip").args(["netns", "del", name]))?;
    Ok(true)
}

/// SIGKILLs `pid` if it is still the process that started at `start`, and
/// waits for it to die. Killing a node's init (`unshare --kill-child`) ends
/// its whole PID namespace.
fn kill_ours(local: &Local, pid: u32, start: u64) -> Result<bool, ClusterError> {
    if !alive(pid, start) {
        return Ok(false);
    }
    local.exec(
        &Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .unchecked(),
    )?;
    let killed = Instant::now();
    while alive(pid, start) {
        if killed.elapsed() > DEATH_LIMIT {
            return Err(ClusterError::Teardown {
                dir: Path::new("/proc").join(pid.to_string()),
                problems: vec![format!("pid {pid} survived SIGKILL for {DEATH_LIMIT:?}")],
            });
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(true)
}

/// Whether `pid` runs, is not a zombie, and started at `start`.
fn alive(pid: u32, start: u64) -> bool {
    match stat_fields(pid) {
        Some((state, started)) => state != "Z" && state != "X" && started == start,
        None => false,
    }
}

/// The start time of `pid` in clock ticks since boot (/proc/<pid>/stat
/// field 22), which tells a reused PID from the original.
pub(crate) fn start_time(pid: u32) -> Option<u64> {
    stat_fields(pid).map(|(_, start)| start)
}

fn stat_fields(pid: u32) -> Option<(String, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: split after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some((fields.first()?.to_string(), fields.get(19)?.parse().ok()?))
}

fn remove_dir(path: &Path, recursive: bool) -> Result<bool, ClusterError> {
    let result = if recursive {
        std::fs::remove_dir_all(path)
    } else {
        std::fs::remove_dir(path)
    };
    match result {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(_) if !recursive => Ok(false), // not empty: someone else uses it now
        Err(e) => Err(ClusterError::io("remove", path, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_time_tells_our_process_from_a_reused_pid() {
        let me = std::process::id();
        let start = start_time(me).unwrap();
        assert!(alive(me, start));
        assert!(!alive(me, start + 1));
        assert!(!alive(u32::MAX - 1, start));
    }

    #[test]
    fn remove_dir_is_quiet_when_gone_and_keeps_non_empty_shared_dirs() {
        let dir = std::env::temp_dir().join(format!("temblor-down-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("inner")).unwrap();
        assert!(!remove_dir(&dir, false).unwrap());
        assert!(remove_dir(&dir, true).unwrap());
        assert!(!remove_dir(&dir, true).unwrap());
    }
}
