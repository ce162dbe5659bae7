//! The fault families `--nemesis partition,kill,pause,clock,packet` names,
//! and the start/stop op pairs each adds to the fault schedule.

use serde::{Deserialize, Serialize};
use serde_json::json;
use std::fmt;
use std::str::FromStr;
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

impl FaultKind {
    /// Every family, in `--help` order.
    pub const ALL: [FaultKind; 5] = [
        FaultKind::Partition,
        FaultKind::Kill,
        FaultKind::Pause,
        FaultKind::Clock,
        FaultKind::Packet,
    ];

    /// The kebab-case name.
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Partition => "partition",
            FaultKind::Kill => "kill",
            FaultKind::Pause => "pause",
            FaultKind::Clock => "clock",
            FaultKind::Packet => "packet",
        }
    }

    /// The start/stop op pair this family adds to the schedule.
    pub fn fault(self) -> Fault {
        let (start, stop) = match self {
            FaultKind::Partition => ("start-partition", "stop-partition"),
            FaultKind::Kill => ("kill", "start"),
            FaultKind::Pause => ("pause", "resume"),
            FaultKind::Clock => ("bump-clock", "reset-clock"),
            FaultKind::Packet => ("start-loss", "stop-loss"),
        };
        Fault {
            start: Template::new(start, json!(null)),
            stop: Template::new(stop, json!(null)),
        }
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for FaultKind {
    type Err = String;
    fn from_str(s: &str) -> Result<FaultKind, String> {
        FaultKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| {
                let names: Vec<_> = FaultKind::ALL.iter().map(|k| k.name()).collect();
                format!("unknown nemesis {s:?} (one of {})", names.join(", "))
            })
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

impl Targets {
    /// Every choice, for random picks.
    pub const ALL: [Targets; 5] = [
        Targets::One,
        Targets::Minority,
        Targets::Majority,
        Targets::All,
        Targets::Primaries,
    ];

    /// The kebab-case name.
    pub fn name(self) -> &'static str {
        match self {
            Targets::One => "one",
            Targets::Minority => "minority",
            Targets::Majority => "majority",
            Targets::All => "all",
            Targets::Primaries => "primaries",
        }
    }
}

impl fmt::Display for Targets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Targets {
    type Err = String;
    fn from_str(s: &str) -> Result<Targets, String> {
        Targets::ALL
            .into_iter()
            .find(|t| t.name() == s)
            .ok_or_else(|| {
                let names: Vec<_> = Targets::ALL.iter().map(|t| t.name()).collect();
                format!("unknown fault target {s:?} (one of {})", names.join(", "))
            })
    }
}

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
