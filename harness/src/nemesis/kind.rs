//! The fault-op vocabulary, defined once: the fault families
//! `--nemesis partition,kill,pause,clock,packet,file` names, every op the
//! nemesis performs ([`FaultOp`]: its name in histories, its family,
//! whether it ends a fault), and the start/stop op pairs each family adds
//! to the fault schedule. The nemesis routes ops by it, the report reads
//! histories by it; adding a fault adds a row here, not an arm to a
//! string `match`.

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
    /// Corrupt a node's data files while its target is down, then start it.
    File,
}

kebab_choices!(FaultKind, "nemesis", [
    Partition => "partition",
    Kill => "kill",
    Pause => "pause",
    Clock => "clock",
    Packet => "packet",
    File => "file",
]);

/// Every op the nemesis performs, as histories spell it (`f`). `heal`
/// ends every fault at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FaultOp {
    StartPartition,
    StopPartition,
    StartLoss,
    StopLoss,
    Kill,
    Start,
    Pause,
    Resume,
    BumpClock,
    StrobeClock,
    ResetClock,
    CorruptFiles,
    StartCorrupted,
    MeasureClock,
    Heal,
}

kebab_choices!(FaultOp, "fault op", [
    StartPartition => "start-partition",
    StopPartition => "stop-partition",
    StartLoss => "start-loss",
    StopLoss => "stop-loss",
    Kill => "kill",
    Start => "start",
    Pause => "pause",
    Resume => "resume",
    BumpClock => "bump-clock",
    StrobeClock => "strobe-clock",
    ResetClock => "reset-clock",
    CorruptFiles => "corrupt-files",
    StartCorrupted => "start-corrupted",
    MeasureClock => "measure-clock",
    Heal => "heal",
]);

/// What an op does to its family's fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// It starts a fault of this family.
    Starts(FaultKind),
    /// It ends the fault of this family in force.
    Stops(FaultKind),
    /// It looks at its family's state and changes nothing (a clock
    /// reading at the start of the workload).
    Observes(FaultKind),
    /// It ends every fault (`heal`).
    HealsAll,
}

impl FaultOp {
    /// What the op does, and to which family.
    pub fn role(self) -> Role {
        use FaultKind as K;
        use Role::{Starts, Stops};
        match self {
            FaultOp::StartPartition => Starts(K::Partition),
            FaultOp::StopPartition => Stops(K::Partition),
            FaultOp::StartLoss => Starts(K::Packet),
            FaultOp::StopLoss => Stops(K::Packet),
            FaultOp::Kill => Starts(K::Kill),
            FaultOp::Start => Stops(K::Kill),
            FaultOp::Pause => Starts(K::Pause),
            FaultOp::Resume => Stops(K::Pause),
            FaultOp::BumpClock | FaultOp::StrobeClock => Starts(K::Clock),
            FaultOp::ResetClock => Stops(K::Clock),
            FaultOp::CorruptFiles => Starts(K::File),
            FaultOp::StartCorrupted => Stops(K::File),
            FaultOp::MeasureClock => Role::Observes(K::Clock),
            FaultOp::Heal => Role::HealsAll,
        }
    }

    /// The family the op belongs to (`None` for `heal`).
    pub fn kind(self) -> Option<FaultKind> {
        match self.role() {
            Role::Starts(k) | Role::Stops(k) | Role::Observes(k) => Some(k),
            Role::HealsAll => None,
        }
    }
}

impl FaultKind {
    /// The op this family's schedule opens with, before its first fault:
    /// a clock reading on every node, so that the clock plot starts from
    /// a measured point.
    pub fn opening(self) -> Option<FaultOp> {
        FaultOp::ALL
            .into_iter()
            .find(|op| op.role() == Role::Observes(self))
    }

    /// The start/stop op pairs this family adds to the schedule, one
    /// chosen at random for each fault; a clock fault is one of `clock`
    /// (Jepsen's clock package mixes bumps and strobes).
    pub fn faults(self, clock: &[ClockFault]) -> Vec<Fault> {
        let pair = |start: FaultOp, stop: FaultOp| Fault {
            start: Template::new(start.name(), json!(null)),
            stop: Template::new(stop.name(), json!(null)),
        };
        let starts = |op: &FaultOp| op.role() == Role::Starts(self);
        let stop = FaultOp::ALL
            .into_iter()
            .find(|op| op.role() == Role::Stops(self));
        let Some(stop) = stop else {
            return Vec::new();
        };
        match self {
            FaultKind::Clock => clock.iter().map(|c| pair(c.op(), stop)).collect(),
            _ => FaultOp::ALL
                .iter()
                .filter(|op| starts(op))
                .map(|op| pair(*op, stop))
                .collect(),
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
    pub fn op(self) -> FaultOp {
        match self {
            ClockFault::Bump => FaultOp::BumpClock,
            ClockFault::Strobe => FaultOp::StrobeClock,
        }
    }
}

/// What a file fault does to a data file while its node's target is down
/// (Jepsen's `nemesis/file.clj`: `bitflip`, `truncate`, snapshot and
/// restore).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileFault {
    /// Flip a few random bits of the file.
    Bitflip,
    /// Cut off the end of the file (a write-ahead log's tail).
    Truncate,
    /// Put back the copy of the file taken at an earlier file fault.
    Snapshot,
}

kebab_choices!(FileFault, "file fault", [
    Bitflip => "bitflip",
    Truncate => "truncate",
    Snapshot => "snapshot",
]);

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
    fn every_family_has_one_stop_and_its_starts_pair_with_it() {
        for kind in FaultKind::ALL {
            let faults = kind.faults(&ClockFault::ALL);
            assert!(!faults.is_empty(), "{kind}");
            for fault in faults {
                let start: FaultOp = fault.start.f.parse().unwrap();
                let stop: FaultOp = fault.stop.f.parse().unwrap();
                assert_eq!(start.role(), Role::Starts(kind));
                assert_eq!(stop.role(), Role::Stops(kind));
            }
        }
        let clock: Vec<String> = FaultKind::Clock
            .faults(&[ClockFault::Strobe])
            .into_iter()
            .map(|f| f.start.f.to_string())
            .collect();
        assert_eq!(clock, ["strobe-clock"]);
        assert_eq!(FaultOp::Heal.kind(), None);
    }

    #[test]
    fn names_parse_back() {
        for k in FaultKind::ALL {
            assert_eq!(k.name().parse::<FaultKind>(), Ok(k));
        }
        let e = "flood".parse::<FaultKind>().unwrap_err();
        assert!(
            e.contains("partition, kill, pause, clock, packet, file"),
            "{e}"
        );
        for t in Targets::ALL {
            assert_eq!(t.name().parse::<Targets>(), Ok(t));
        }
        let e = "jump".parse::<ClockFault>().unwrap_err();
        assert!(
            e.contains("unknown clock fault \"jump\" (one of bump, strobe)"),
            "{e}"
        );
        for op in FaultOp::ALL {
            assert_eq!(op.name().parse::<FaultOp>(), Ok(op));
        }
        let e = "leader".parse::<Targets>().unwrap_err();
        assert!(e.contains("one, minority, majority, all, primaries"), "{e}");
    }
}
