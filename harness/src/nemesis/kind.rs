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
    /// chosen at random for each fault; a clock fault is one of `clock`
    /// (Jepsen's clock package mixes bumps and strobes).
    pub fn faults(self, clock: &[ClockFault]) -> Vec<Fault> {
        let pair = |start: &str, stop: &str| Fault {
            start: Template::new(start, json!(null)),
            stop: Template::new(stop, json!(null)),
        };
        match self {
            FaultKind::Partition => vec![pair("start-partition", "stop-partition")],
            FaultKind::Kill => vec![pair("kill", "start")],
            FaultKind::Pause => vec![pair("pause", "resume")],
            FaultKind::Clock => clock.iter().map(|c| pair(c.op(), "reset-clock")).collect(),
            FaultKind::Packet => vec![pair("start-loss", "stop-loss")],
        }
    }
}

/// What a clock fault does before its reset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClockFault {
    /// Jump clocks by a random offset, which holds until the reset.
    Bump,
    /// Flip clocks back and forth by a delta for a while.
    Strobe,
}

kebab_choices!(ClockFault, "clock fault", [
    Bump => "bump",
    Strobe => "strobe",
]);

impl ClockFault {
    /// The op that starts it.
    pub fn op(self) -> &'static str {
        match self {
            ClockFault::Bump => "bump-clock",
            ClockFault::Strobe => "strobe-clock",
        }
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
        let e = "jump".parse::<ClockFault>().unwrap_err();
        assert!(
            e.contains("unknown clock fault \"jump\" (one of bump, strobe)"),
            "{e}"
        );
        let e = "leader".parse::<Targets>().unwrap_err();
        assert!(e.contains("one, minority, majority, all, primaries"), "{e}");
    }
}
