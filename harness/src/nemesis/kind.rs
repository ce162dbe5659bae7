//! The fault families `--nemesis partition,kill,pause,clock,packet` names,
//! and the start/stop op pairs each adds to the fault schedule.

use serde::{Deserialize, Serialize};
use serde_json::json;
use workloads::generator::Template;
use workloads::nemesis::Fault;

/// A family of faults.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultKind {
    /// Network partitions (iptables DROP in chain `temblor`).
    Partition,
    /// SIGKILL the target's process, later restart it.
    Kill,
    /// SIGSTOP the target's process, later SIGCONT it.
    Pause,
    /// Jump or strobe the target's wall clock, later reset it.
    Clock,
    /// Random packet loss between nodes (iptables `statistic`).
    Packet,
}

kebab_choices!(FaultKind, "nemesis", [
    Partition => "partition",
    Kill => "kill",
    Pause => "pause",
    Clock => "clock",
    Packet => "packet",
]);

impl FaultKind {
    /// The start/stop op pairs this family adds to the schedule, one
    /// chosen at random for each fault: a clock fault is a bump or a
    /// strobe (Jepsen's clock package), and ends with a reset.
    pub fn faults(self) -> Vec<Fault> {
        let pairs: &[(&str, &str)] = match self {
            FaultKind::Partition => &[("start-partition", "stop-partition")],
            FaultKind::Kill => &[("kill", "start")],
            FaultKind::Pause => &[("pause", "resume")],
            FaultKind::Clock => &[
                ("bump-clock", "reset-clock"),
                ("strobe-clock", "reset-clock"),
            ],
            FaultKind::Packet => &[("start-loss", "stop-loss")],
        };
        pairs
            .iter()
            .map(|(start, stop)| Fault {
                start: Template::new(*start, json!(null)),
                stop: Template::new(*stop, json!(null)),
            })
            .collect()
    }
}

/// Which nodes a process fault hits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Targets {
    /// One random node.
    One,
    /// A random minority.
    Minority,
    /// A random majority.
    Majority,
    /// Every node.
    All,
    /// The nodes that say they lead.
    Primaries,
}

kebab_choices!(Targets, "fault target", [
    One => "one",
    Minority => "minority",
    Majority => "majority",
    All => "all",
    Primaries => "primaries",
]);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back() {
        for k in FaultKind::ALL {
            assert_eq!(k.name().parse::<FaultKind>(), Ok(k));
        }
        let e = "flood".parse::<FaultKind>().unwrap_err();
        assert!(e.contains("partition, kill, pause, clock, packet"), "{e}");
        for t in Targets::ALL {
            assert_eq!(t.name().parse::<Targets>(), Ok(t));
        }
        let e = "leader".parse::<Targets>().unwrap_err();
        assert!(e.contains("one, minority, majority, all, primaries"), "{e}");
    }
}
