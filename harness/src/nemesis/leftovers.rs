//! What temblor's faults may leave on a node, found by looking at the
//! node rather than at what the controller remembers: after every heal
//! (the end of a run, a signal, an error, `temblor heal`) to prove that
//! nothing is left in force, and before a run to clean what an earlier run
//! left behind when its controller died.
//!
//! One probe script per node, run as root, reports: rules in our iptables
//! chain, netem root qdiscs, the processes named by pidfiles under the
//! node's `/var/lib/temblor/<node>/` (every target keeps its daemons'
//! pidfiles there, a few folders deep at most) that are stopped (SIGSTOP)
//! or still running, and clock offsets (the `faketime` offset files of
//! targets started under libfaketime, the system-clock offset
//! `targets::sysclock` recorded on a real host).

use super::{net, NodeHandle};
use std::fmt;
use std::time::Duration;
use targets::node::{self, NodePaths};
use targets::remote::{escape, Command, Remote};
use targets::sysclock::SystemClock;

/// The name of the offset file of a daemon run under libfaketime (its
/// `FAKETIME_TIMESTAMP_FILE`), somewhere under `/var/lib/temblor/<node>`.
pub const FAKETIME_FILE: &str = "faketime";

/// How deep under `/var/lib/temblor/<node>` pidfiles and offset files are
/// looked for (a file target keeps them in `<node>/<target>/run/`).
const DEPTH: u32 = 4;

/// How long a leftover daemon gets to exit on SIGTERM before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// One thing a node still holds.
#[derive(Clone, Debug, PartialEq)]
pub enum Leftover {
    /// Rules in temblor's iptables chain.
    Rules(usize),
    /// A netem root qdisc on an interface.
    Netem {
        /// The interface.
        dev: String,
    },
    /// A process stopped with SIGSTOP (a pause never resumed).
    Stopped {
        /// Its pidfile.
        pidfile: String,
        /// Its PID on the node.
        pid: u32,
    },
    /// A daemon still running: a leftover only before a run (healing
    /// restarts daemons on purpose).
    Running {
        /// Its pidfile.
        pidfile: String,
        /// Its PID on the node.
        pid: u32,
    },
    /// A libfaketime offset that is not zero.
    Faketime {
        /// The offset file.
        file: String,
        /// What it holds (`+1.500`: seconds).
        offset: String,
    },
    /// A system clock moved by this many ms (real hosts).
    SystemClock {
        /// The offset recorded.
        offset_ms: i64,
    },
}

impl Leftover {
    /// Whether this is a fault in force (everything but a running daemon).
    pub fn is_fault(&self) -> bool {
        !matches!(self, Leftover::Running { .. })
    }
}

impl fmt::Display for Leftover {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Leftover::Rules(n) => write!(f, "{n} rule(s) in iptables chain {}", net::CHAIN),
            Leftover::Netem { dev } => write!(f, "a netem qdisc on {dev}"),
            Leftover::Stopped { pidfile, pid } => {
                write!(f, "process {pid} ({pidfile}) stopped by SIGSTOP")
            }
            Leftover::Running { pidfile, pid } => write!(f, "process {pid} ({pidfile}) running"),
            Leftover::Faketime { file, offset } => write!(f, "clock offset {offset} s in {file}"),
            Leftover::SystemClock { offset_ms } => {
                write!(f, "system clock moved by {offset_ms} ms")
            }
        }
    }
}

/// The probe, as the script run on `node`: one line per finding.
fn probe_script(node: &str) -> String {
    let dir = escape(&NodePaths::new(node).var_dir());
    let sysclock = escape(&SystemClock::new().state_file());
    format!(
        "if command -v iptables >/dev/null; then \
           rules=$(iptables -w -S) || exit 1; \
           echo \"rules $(printf '%s\\n' \"$rules\" | grep -c -- '^-A {chain} ')\"; \
         fi; \
         if command -v tc >/dev/null; then \
           for dev in $(ls /sys/class/net); do \
             tc qdisc show dev \"$dev\" root | grep -q '^qdisc netem' && echo \"netem $dev\"; \
           done; \
         fi; \
         [ -d {dir} ] && find {dir} -maxdepth {DEPTH} -type f -name '*.pid' | while read -r f; do \
           p=$(head -c 32 \"$f\"); \
           kill -0 \"$p\" 2>/dev/null || continue; \
           s=$(sed -n 's/^State:[[:space:]]*\\(.\\).*/\\1/p' /proc/\"$p\"/status 2>/dev/null); \
           case \"$s\" in T|t) echo \"stopped $p $f\";; Z|'') ;; *) echo \"running $p $f\";; esac; \
         done; \
         [ -d {dir} ] && find {dir} -maxdepth {DEPTH} -type f -name {FAKETIME_FILE} | while read -r f; do \
           echo \"faketime $f $(head -c 64 \"$f\")\"; \
         done; \
         [ -f {sysclock} ] && echo \"sysclock $(head -c 64 {sysclock})\"; \
         true",
        chain = net::CHAIN,
    )
}

/// Reads the probe's lines; a line it does not understand is an error.
fn parse(node: &str, stdout: &str) -> Result<Vec<Leftover>, String> {
    let mut found = Vec::new();
    for line in stdout.lines().filter(|l| !l.trim().is_empty()) {
        let (what, rest) = line.split_once(' ').unwrap_or((line, ""));
        let bad = || format!("{node}: the leftovers probe printed {line:?}");
        let pid_and_file = || -> Result<(u32, String), String> {
            let (pid, file) = rest.split_once(' ').ok_or_else(bad)?;
            Ok((pid.parse().map_err(|_| bad())?, file.to_string()))
        };
        match what {
            "rules" => match rest.trim().parse().map_err(|_| bad())? {
                0 => {}
                n => found.push(Leftover::Rules(n)),
            },
            "netem" => found.push(Leftover::Netem {
                dev: rest.to_string(),
            }),
            "stopped" => {
                let (pid, pidfile) = pid_and_file()?;
                found.push(Leftover::Stopped { pidfile, pid });
            }
            "running" => {
                let (pid, pidfile) = pid_and_file()?;
                found.push(Leftover::Running { pidfile, pid });
            }
            // Offsets are written `+1.500`; an empty file or `+0.000` is
            // no offset.
            "faketime" => {
                let (file, offset) = rest.split_once(' ').unwrap_or((rest, ""));
                match offset.trim().parse::<f64>() {
                    Ok(0.0) => {}
                    _ if offset.trim().is_empty() => {}
                    _ => found.push(Leftover::Faketime {
                        file: file.to_string(),
                        offset: offset.trim().to_string(),
                    }),
                }
            }
            "sysclock" => match rest.trim().parse::<i64>().map_err(|_| bad())? {
                0 => {}
                offset_ms => found.push(Leftover::SystemClock { offset_ms }),
            },
            _ => return Err(bad()),
        }
    }
    Ok(found)
}

/// What `node` holds now.
pub async fn probe(node: &NodeHandle) -> Result<Vec<Leftover>, String> {
    let cmd = Command::shell(&probe_script(&node.name)).sudo();
    let out = node
        .remote
        .exec(cmd)
        .await
        .map_err(|e| format!("{}: cannot look for leftover faults: {e}", node.name))?;
    parse(&node.name, &out.stdout)
}

/// Checks every node after a heal: one line per node that still holds a
/// fault (or could not be checked), naming the node. Empty: all clean.
pub async fn verify(nodes: &[NodeHandle]) -> Vec<String> {
    let probes = futures::future::join_all(nodes.iter().map(probe)).await;
    let mut problems = Vec::new();
    for (node, found) in nodes.iter().zip(probes) {
        match found {
            Err(e) => problems.push(e),
            Ok(found) => {
                let faults: Vec<String> = found
                    .iter()
                    .filter(|l| l.is_fault())
                    .map(ToString::to_string)
                    .collect();
                if !faults.is_empty() {
                    problems.push(format!(
                        "{}: still in force after the heal: {}",
                        node.name,
                        faults.join(", ")
                    ));
                }
            }
        }
    }
    problems
}

/// What [`clean`] did on one node.
#[derive(Debug, Default)]
pub struct Cleaned {
    /// What it found and undid.
    pub undone: Vec<Leftover>,
    /// What it could not undo, or why it could not look.
    pub problems: Vec<String>,
}

/// Before a run: finds what an earlier run left on `node` and undoes it:
/// flushes our rules and netem qdiscs, stops daemons left running (paused
/// ones too; the run starts its own), puts clock offsets back to zero.
/// When the run does not own the target's processes (`owned` false: an
/// attached cluster), running ones are left alone and paused ones only
/// resumed.
pub async fn clean(node: &NodeHandle, owned: bool) -> Cleaned {
    let found = match probe(node).await {
        Ok(found) if !owned => found
            .into_iter()
            .filter(|l| !matches!(l, Leftover::Running { .. }))
            .collect(),
        Ok(found) => found,
        Err(e) => {
            return Cleaned {
                undone: Vec::new(),
                problems: vec![e],
            }
        }
    };
    let mut cleaned = Cleaned::default();
    if found
        .iter()
        .any(|l| matches!(l, Leftover::Rules(_) | Leftover::Netem { .. }))
    {
        if let Err(e) = net::heal(&node.remote).await {
            cleaned.problems.push(format!("{}: {e}", node.name));
        }
    }
    let remote = node.remote.blocking();
    let name = node.name.clone();
    let undo = found.clone();
    let joined =
        tokio::task::spawn_blocking(move || undo_on_node(remote.as_ref(), &name, &undo, owned));
    match joined.await {
        Ok(problems) => cleaned.problems.extend(problems),
        Err(e) => cleaned
            .problems
            .push(format!("{}: cleaning failed: {e}", node.name)),
    }
    cleaned.undone = found;
    cleaned
}

/// Undoes, on the node, what the probe found besides the network.
fn undo_on_node(remote: &dyn Remote, node: &str, found: &[Leftover], owned: bool) -> Vec<String> {
    let mut problems = Vec::new();
    for leftover in found {
        let done = match leftover {
            Leftover::Stopped { pidfile, .. } if !owned => {
                node::signal(remote, pidfile, "CONT").map_err(|e| e.to_string())
            }
            Leftover::Stopped { pidfile, .. } => node::signal(remote, pidfile, "CONT")
                .and_then(|()| node::stop(remote, pidfile, STOP_GRACE).map(drop))
                .map_err(|e| e.to_string()),
            Leftover::Running { pidfile, .. } => node::stop(remote, pidfile, STOP_GRACE)
                .map(drop)
                .map_err(|e| e.to_string()),
            Leftover::Faketime { file, .. } => {
                let reset = format!("printf '%s\\n' +0.000 > {}", escape(file));
                remote
                    .exec(&Command::shell(&reset).sudo())
                    .map(drop)
                    .map_err(|e| e.to_string())
            }
            Leftover::SystemClock { .. } => SystemClock::new()
                .apply(remote, 0)
                .map(drop)
                .map_err(|e| e.to_string()),
            Leftover::Rules(_) | Leftover::Netem { .. } => Ok(()),
        };
        if let Err(e) = done {
            problems.push(format!("{node}: cannot undo {leftover}: {e}"));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_probe_output_reads_as_leftovers() {
        let out = "rules 3\nnetem eth1\nstopped 42 /var/lib/temblor/n1/raftkv.pid\n\
                   running 7 /var/lib/temblor/n1/etcd.pid\n\
                   faketime /var/lib/temblor/n1/faketime -2.500\nsysclock 1500\n";
        let found = parse("n1", out).unwrap();
        assert_eq!(
            found,
            vec![
                Leftover::Rules(3),
                Leftover::Netem { dev: "eth1".into() },
                Leftover::Stopped {
                    pidfile: "/var/lib/temblor/n1/raftkv.pid".into(),
                    pid: 42
                },
                Leftover::Running {
                    pidfile: "/var/lib/temblor/n1/etcd.pid".into(),
                    pid: 7
                },
                Leftover::Faketime {
                    file: "/var/lib/temblor/n1/faketime".into(),
                    offset: "-2.500".into()
                },
                Leftover::SystemClock { offset_ms: 1500 },
            ]
        );
        assert_eq!(found.iter().filter(|l| l.is_fault()).count(), 5);
        assert_eq!(
            found[2].to_string(),
            "process 42 (/var/lib/temblor/n1/raftkv.pid) stopped by SIGSTOP"
        );
    }

    #[test]
    fn zero_offsets_and_empty_chains_are_clean() {
        let found = parse(
            "n1",
            "rules 0\nfaketime /v/n1/faketime +0.000\nfaketime /v/n1/kv/run/faketime \nsysclock 0\n",
        )
        .unwrap();
        assert!(found.is_empty(), "{found:?}");
        let e = parse("n1", "rules many\n").unwrap_err();
        assert!(e.starts_with("n1: the leftovers probe printed"), "{e}");
    }

    #[tokio::test]
    async fn the_probe_runs_in_a_shell_and_finds_a_stopped_process() {
        // A node whose var dir is a scratch folder: probe it on this
        // machine by pointing the script's paths there.
        let dir = std::env::temp_dir().join(format!("temblor-leftovers-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pid = child.id();
        std::fs::create_dir_all(dir.join("kv/run")).unwrap();
        std::fs::write(dir.join("kv/run/x.pid"), format!("{pid}\n")).unwrap();
        std::fs::write(dir.join("kv/run/faketime"), "+1.250\n").unwrap();
        let script = probe_script("n1").replace("/var/lib/temblor/n1", dir.to_str().unwrap());
        let run = |script: &str| {
            let out = std::process::Command::new("sh")
                .args(["-c", script])
                .output()
                .unwrap();
            assert!(out.status.success(), "{out:?}");
            parse("n1", &String::from_utf8_lossy(&out.stdout)).unwrap()
        };
        let running = run(&script);
        assert!(running.contains(&Leftover::Running {
            pidfile: format!("{}/kv/run/x.pid", dir.display()),
            pid
        }));
        assert!(running.contains(&Leftover::Faketime {
            file: format!("{}/kv/run/faketime", dir.display()),
            offset: "+1.250".into()
        }));
        stop_and_wait(pid, "STOP");
        let stopped = run(&script);
        assert!(
            stopped.contains(&Leftover::Stopped {
                pidfile: format!("{}/kv/run/x.pid", dir.display()),
                pid
            }),
            "{stopped:?}"
        );
        child.kill().unwrap();
        child.wait().unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn stop_and_wait(pid: u32, signal: &str) {
        let status = std::process::Command::new("kill")
            .args(["-s", signal, &pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        // The state shows in /proc once the signal is delivered.
        for _ in 0..200 {
            let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
            if status.contains("State:\tT") {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        panic!("process {pid} never showed as stopped");
    }
}
