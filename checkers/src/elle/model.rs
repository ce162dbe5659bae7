//! Consistency models and the anomalies they forbid: which anomalies imply
//! which, which models imply which, and so which models a set of observed
//! anomalies rules out. The hierarchy follows Elle's
//! `elle.consistency-model` (after Adya's "Weak Consistency", Adya, Liskov
//! and O'Neil, Bailis et al. "Highly Available Transactions", Cerone et al.,
//! Daudjee and Salem), restricted to the models and anomalies this checker
//! knows.

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

macro_rules! models {
    ($($v:ident = $name:literal),* $(,)?) => {
        /// A consistency model a history can be checked against.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Model { $($v),* }

        impl Model {
            /// Every model.
            pub const ALL: &'static [Model] = &[$(Model::$v),*];

            /// The name the CLI and the results use.
            pub fn name(self) -> &'static str {
                match self { $(Model::$v => $name),* }
            }
        }
    };
}

models! {
    StrictSerializable = "strict-serializable",
    Serializable = "serializable",
    StrongSessionSerializable = "strong-session-serializable",
    StrongSnapshotIsolation = "strong-snapshot-isolation",
    StrongSessionSnapshotIsolation = "strong-session-snapshot-isolation",
    SnapshotIsolation = "snapshot-isolation",
    RepeatableRead = "repeatable-read",
    UpdateSerializable = "update-serializable",
    ForwardConsistentView = "forward-consistent-view",
    ConsistentView = "consistent-view",
    CursorStability = "cursor-stability",
    MonotonicView = "monotonic-view",
    MonotonicSnapshotRead = "monotonic-snapshot-read",
    MonotonicAtomicView = "monotonic-atomic-view",
    ParallelSnapshotIsolation = "parallel-snapshot-isolation",
    Prefix = "prefix",
    CausalCerone = "causal-cerone",
    ReadAtomic = "read-atomic",
    StrongReadCommitted = "strong-read-committed",
    StrongSessionReadCommitted = "strong-session-read-committed",
    ReadCommitted = "read-committed",
    StrongReadUncommitted = "strong-read-uncommitted",
    StrongSessionReadUncommitted = "strong-session-read-uncommitted",
    ReadUncommitted = "read-uncommitted",
}

/// Other names for the same models (Adya's PL names, Elle's synonyms).
const ALIASES: &[(&str, Model)] = &[
    ("strong-serializable", Model::StrictSerializable),
    ("pl-ss", Model::StrictSerializable),
    ("conflict-serializable", Model::Serializable),
    ("pl-3", Model::Serializable),
    ("pl-si", Model::SnapshotIsolation),
    ("pl-2.99", Model::RepeatableRead),
    ("pl-3u", Model::UpdateSerializable),
    ("pl-fcv", Model::ForwardConsistentView),
    ("pl-2+", Model::ConsistentView),
    ("pl-cs", Model::CursorStability),
    ("pl-2l", Model::MonotonicView),
    ("pl-msr", Model::MonotonicSnapshotRead),
    ("pl-2", Model::ReadCommitted),
    ("pl-1", Model::ReadUncommitted),
];

/// Stronger model -> models it implies (Elle's `models` graph).
const IMPLIES: &[(Model, &[Model])] = {
    use Model::*;
    &[
        (
            StrictSerializable,
            &[
                Serializable,
                SnapshotIsolation,
                StrongSnapshotIsolation,
                StrongSessionSerializable,
            ],
        ),
        (
            StrongSessionSerializable,
            &[Serializable, StrongSessionSnapshotIsolation],
        ),
        (
            Serializable,
            &[RepeatableRead, SnapshotIsolation, UpdateSerializable],
        ),
        (
            StrongSnapshotIsolation,
            &[StrongSessionSnapshotIsolation, StrongReadCommitted],
        ),
        (
            StrongSessionSnapshotIsolation,
            &[SnapshotIsolation, StrongSessionReadCommitted],
        ),
        (
            SnapshotIsolation,
            &[
                ForwardConsistentView,
                MonotonicAtomicView,
                MonotonicSnapshotRead,
                ParallelSnapshotIsolation,
                Prefix,
            ],
        ),
        (RepeatableRead, &[CursorStability, MonotonicAtomicView]),
        (UpdateSerializable, &[ForwardConsistentView]),
        (ForwardConsistentView, &[ConsistentView]),
        (ConsistentView, &[CursorStability, MonotonicView]),
        (CursorStability, &[ReadCommitted]),
        (MonotonicView, &[ReadCommitted]),
        (MonotonicSnapshotRead, &[ReadCommitted]),
        (MonotonicAtomicView, &[ReadCommitted]),
        (ParallelSnapshotIsolation, &[CausalCerone]),
        (Prefix, &[CausalCerone]),
        (CausalCerone, &[ReadAtomic]),
        (ReadAtomic, &[MonotonicAtomicView]),
        (
            StrongReadCommitted,
            &[StrongSessionReadCommitted, StrongReadUncommitted],
        ),
        (
            StrongSessionReadCommitted,
            &[ReadCommitted, StrongSessionReadUncommitted],
        ),
        (ReadCommitted, &[ReadUncommitted]),
        (StrongReadUncommitted, &[StrongSessionReadUncommitted]),
        (StrongSessionReadUncommitted, &[ReadUncommitted]),
    ]
};

/// Model -> anomalies it forbids directly (Elle's `direct-proscribed-anomalies`).
const PROSCRIBES: &[(Model, &[&str])] = {
    use Model::*;
    &[
        (StrictSerializable, &["G1", "G1c-realtime", "G2-realtime"]),
        (StrongSessionSerializable, &["G1-process", "G2-process"]),
        (Serializable, &["G1", "G2", "internal"]),
        (
            StrongSnapshotIsolation,
            &["internal", "G1-realtime", "G-nonadjacent-realtime"],
        ),
        (
            StrongSessionSnapshotIsolation,
            &["internal", "G1-process", "G-nonadjacent-process"],
        ),
        (SnapshotIsolation, &["internal", "G1", "G-nonadjacent"]),
        (RepeatableRead, &["G1", "G2-item", "lost-update"]),
        (ForwardConsistentView, &["G1", "GSIb"]),
        (ConsistentView, &["G1", "G-single"]),
        (CursorStability, &["G1", "lost-update"]),
        (MonotonicView, &["G1"]),
        (MonotonicSnapshotRead, &["G1"]),
        (UpdateSerializable, &["G1"]),
        (ParallelSnapshotIsolation, &["internal", "G1a"]),
        (Prefix, &["internal", "G1a"]),
        (CausalCerone, &["internal", "G1a"]),
        (ReadAtomic, &["internal", "G1a", "future-read"]),
        (StrongReadCommitted, &["G1c-realtime"]),
        (StrongSessionReadCommitted, &["G1c-process"]),
        (ReadCommitted, &["G1"]),
        (StrongReadUncommitted, &["G0-realtime"]),
        (StrongSessionReadUncommitted, &["G0-process"]),
        (
            ReadUncommitted,
            &["G0", "duplicate-elements", "cyclic-versions"],
        ),
    ]
};

/// Anomaly -> anomalies it implies (Elle's `implied-anomalies`). Garbage
/// reads are ours: reading a value no transaction wrote is at least as bad
/// as reading an aborted one's, so it implies G1a.
const ANOMALY_IMPLIES: &[(&str, &[&str])] = &[
    ("G0", &["G1c", "G0-process"]),
    ("G0-process", &["G1c-process", "G0-realtime"]),
    ("G0-realtime", &["G1c-realtime"]),
    ("G1a", &["G1"]),
    ("G1b", &["G1"]),
    ("G1c", &["G1", "G1c-process"]),
    ("G1c-process", &["G1c-realtime", "G1-process"]),
    ("G1c-realtime", &["G1-realtime"]),
    ("G1", &["G1-process"]),
    ("G1-process", &["G1-realtime"]),
    (
        "G-single",
        &["G-nonadjacent", "GSIb", "G-single-process", "G2-item"],
    ),
    (
        "G-single-process",
        &[
            "G-nonadjacent-process",
            "G-single-realtime",
            "G2-item-process",
        ],
    ),
    (
        "G-single-realtime",
        &["G-nonadjacent-realtime", "G2-item-realtime"],
    ),
    ("G-nonadjacent", &["G2", "G-nonadjacent-process"]),
    (
        "G-nonadjacent-process",
        &["G2-process", "G-nonadjacent-realtime"],
    ),
    ("G-nonadjacent-realtime", &["G2-realtime"]),
    ("G2-item", &["G2", "G2-item-process"]),
    ("G2-item-process", &["G2-process", "G2-item-realtime"]),
    ("G2-item-realtime", &["G2-realtime"]),
    ("G2", &["G2-process"]),
    ("G2-process", &["G2-realtime"]),
    ("incompatible-order", &["G1a"]),
    ("garbage-read", &["G1a"]),
    ("future-read", &["G1c"]),
    ("lost-update", &["G2-item"]),
];

/// A model name that is not known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown consistency model {0:?} (known: {known})", known = known_names())]
pub struct UnknownModel(pub String);

fn known_names() -> String {
    let names: Vec<&str> = Model::ALL.iter().map(|m| m.name()).collect();
    names.join(", ")
}

impl FromStr for Model {
    type Err = UnknownModel;

    fn from_str(s: &str) -> Result<Model, UnknownModel> {
        let lower = s.trim().trim_start_matches(':').to_ascii_lowercase();
        Model::ALL
            .iter()
            .copied()
            .find(|m| m.name() == lower)
            .or_else(|| ALIASES.iter().find(|(a, _)| *a == lower).map(|&(_, m)| m))
            .ok_or_else(|| UnknownModel(s.to_string()))
    }
}

impl fmt::Display for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for Model {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Model {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Breadth-first closure of `start` under `next`.
fn closure<T: Copy + Ord>(
    start: impl IntoIterator<Item = T>,
    next: impl Fn(T) -> Vec<T>,
) -> BTreeSet<T> {
    let mut seen = BTreeSet::new();
    let mut todo: Vec<T> = start.into_iter().collect();
    while let Some(x) = todo.pop() {
        if seen.insert(x) {
            todo.extend(next(x));
        }
    }
    seen
}

fn weaker(m: Model) -> Vec<Model> {
    IMPLIES
        .iter()
        .filter(|(s, _)| *s == m)
        .flat_map(|(_, w)| w.iter().copied())
        .collect()
}

fn stronger(m: Model) -> Vec<Model> {
    IMPLIES
        .iter()
        .filter(|(_, w)| w.contains(&m))
        .map(|(s, _)| *s)
        .collect()
}

/// Every anomaly implied by `anomalies`, themselves included.
pub fn implied_anomalies<'a>(anomalies: impl IntoIterator<Item = &'a str>) -> BTreeSet<&'a str> {
    closure(anomalies, |a| {
        ANOMALY_IMPLIES
            .iter()
            .filter(|(x, _)| *x == a)
            .flat_map(|(_, ys)| ys.iter().copied())
            .collect()
    })
}

/// Every anomaly that `models` (and the models they imply) forbid,
/// including anomalies that imply a forbidden one.
pub fn prohibited_anomalies(models: &[Model]) -> BTreeSet<&'static str> {
    let all_models = closure(models.iter().copied(), weaker);
    let direct = all_models.iter().flat_map(|m| {
        PROSCRIBES
            .iter()
            .filter(move |(p, _)| p == m)
            .flat_map(|(_, a)| a.iter().copied())
    });
    closure(direct, |a| {
        ANOMALY_IMPLIES
            .iter()
            .filter(|(_, ys)| ys.contains(&a))
            .map(|(x, _)| *x)
            .collect()
    })
}

/// The models the observed anomalies rule out: `not`, the weakest of them,
/// and `also_not`, the rest (Elle's `boundary`).
pub fn boundary<'a>(anomalies: impl IntoIterator<Item = &'a str>) -> (Vec<Model>, Vec<Model>) {
    let implied = implied_anomalies(anomalies);
    let direct = PROSCRIBES
        .iter()
        .filter(|(_, a)| a.iter().any(|x| implied.contains(x)))
        .map(|(m, _)| *m);
    let impossible = closure(direct, stronger);
    let (mut not, mut also) = (Vec::new(), Vec::new());
    for &m in &impossible {
        let covered = closure(weaker(m), weaker)
            .iter()
            .any(|w| impossible.contains(w));
        if covered {
            also.push(m);
        } else {
            not.push(m);
        }
    }
    (not, also)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_aliases_parse() {
        assert_eq!(
            "strict-serializable".parse::<Model>().unwrap(),
            Model::StrictSerializable
        );
        assert_eq!(":PL-3".parse::<Model>().unwrap(), Model::Serializable);
        let e = "sequential-ish".parse::<Model>().unwrap_err().to_string();
        assert!(
            e.starts_with("unknown consistency model \"sequential-ish\""),
            "{e}"
        );
        for m in Model::ALL {
            assert_eq!(m.name().parse::<Model>().unwrap(), *m);
        }
    }

    #[test]
    fn g2_item_rules_out_repeatable_read_but_not_snapshot_isolation() {
        let (not, also) = boundary(["G2-item"]);
        assert_eq!(not, vec![Model::RepeatableRead]);
        assert!(also.contains(&Model::Serializable));
        assert!(also.contains(&Model::StrictSerializable));
        assert!(!also.contains(&Model::SnapshotIsolation));
    }

    #[test]
    fn g_single_rules_out_snapshot_isolation_and_consistent_view() {
        let (not, also) = boundary(["G-single"]);
        assert!(not.contains(&Model::ConsistentView), "{not:?}");
        assert!(also.contains(&Model::SnapshotIsolation));
        assert!(!not.contains(&Model::ReadCommitted) && !also.contains(&Model::ReadCommitted));
    }

    #[test]
    fn g1a_rules_out_read_committed() {
        let (not, _) = boundary(["G1a"]);
        assert!(not.contains(&Model::ReadCommitted), "{not:?}");
        assert!(boundary(["G2-item-realtime"])
            .0
            .contains(&Model::StrictSerializable));
    }

    #[test]
    fn strict_serializable_prohibits_realtime_cycles_but_serializable_does_not() {
        let strict = prohibited_anomalies(&[Model::StrictSerializable]);
        assert!(strict.contains("G2-item-realtime") && strict.contains("G0"));
        let ser = prohibited_anomalies(&[Model::Serializable]);
        assert!(ser.contains("G-single") && !ser.contains("G2-item-realtime"));
        let rc = prohibited_anomalies(&[Model::ReadCommitted]);
        assert!(rc.contains("G1b") && !rc.contains("G-single"));
    }
}
