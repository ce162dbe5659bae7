//! `results.json`, the run's answer for machines (CI, dashboards, `jq`).
//! Schema version 1, stable: fields may be added, none renamed or removed
//! without a new `schema_version`.
//!
//! ```text
//! {
//!   "schema_version": 1,
//!   "outcome": "valid" | "invalid" | "unknown"      // the checkers' verdict
//!            | "harness-error" | "usage-error",     // the run itself failed
//!   "exit_code": 0 | 1 | 2 | 255 | 254,           // what `temblor test` exits with
//!   "error": "...",               // what failed, when the outcome is an error
//!   "verdict": "valid" | "invalid" | "unknown",   // "unknown" when nothing was checked
//!   "seed": 42,                   // the seed that reproduces the op stream
//!   "ops": 20418,                 // history records (invocations + completions)
//!   "history_bytes": 1893021,     // size of history.jsonl
//!   "client_ops": 10203,          // client operations (invocations)
//!   "duration_s": 31.7,           // time of the last history record
//!   "checks": [                   // one per checker, in the order run
//!     { "checker": "linearizable" | "elle-list-append" | "elle-rw-register"
//!                  | "set" | "counter" | "bank" | "unique-ids" | "queue"
//!                  | "lock" | "stats",
//!       "verdict": "valid" | "invalid" | "unknown",
//!       "result": { ... },        // the checker's own result (checkers crate:
//!                                 // checker::CheckResult's payload, e.g.
//!                                 // linear::LinearResult, set::SetResult),
//!                                 // or an error string
//!       "text": "..." }           // the same for people, plain text
//!   ]
//! }
//! ```
//!
//! Files written before `outcome` existed read as the outcome of their
//! verdict. Fields this version does not know are kept when a file is
//! read and written again.

use crate::run::analysis::{Analysis, CheckOutcome};
use checkers::Verdict;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The schema version this module writes.
pub const SCHEMA_VERSION: u32 = 1;

fn version_one() -> u32 {
    SCHEMA_VERSION
}

/// How a run ended: a verdict, or a failure of the run itself (Jepsen's
/// exit codes, which this mirrors).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Every checker found the history valid.
    Valid,
    /// A checker found an anomaly.
    Invalid,
    /// A checker could not decide.
    Unknown,
    /// The harness failed (a node unreachable, a setup command failing,
    /// a fault it could not heal): the history, if any, was not checked,
    /// or its verdict does not stand alone.
    HarnessError,
    /// The run was refused for something the user can fix (a client that
    /// cannot start, a fault the target cannot take).
    UsageError,
}

impl Outcome {
    /// The outcome a verdict gives.
    pub fn of(verdict: Verdict) -> Outcome {
        match verdict {
            Verdict::Valid => Outcome::Valid,
            Verdict::Invalid => Outcome::Invalid,
            Verdict::Unknown => Outcome::Unknown,
        }
    }

    /// `temblor test`'s exit code for it: 0, 1, 2, 255, 254.
    pub fn exit_code(self) -> u8 {
        match self {
            Outcome::Valid => 0,
            Outcome::Invalid => 1,
            Outcome::Unknown => 2,
            Outcome::HarnessError => crate::error::EXIT_ERROR,
            Outcome::UsageError => crate::error::EXIT_USAGE,
        }
    }

    /// Its name in results.json.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Valid => "valid",
            Outcome::Invalid => "invalid",
            Outcome::Unknown => "unknown",
            Outcome::HarnessError => "harness-error",
            Outcome::UsageError => "usage-error",
        }
    }

    /// True for a failure of the run rather than a verdict.
    pub fn is_error(self) -> bool {
        matches!(self, Outcome::HarnessError | Outcome::UsageError)
    }
}

/// `results.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ResultsFile {
    /// The schema's version.
    #[serde(default = "version_one")]
    pub schema_version: u32,
    /// How the run ended (absent in files older than the field: see
    /// [`ResultsFile::outcome`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    outcome: Option<Outcome>,
    /// The exit code the outcome gives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<u8>,
    /// What failed, for an error outcome.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The worst verdict of all checks (`unknown` when none ran).
    pub verdict: Verdict,
    /// The run's seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// History records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ops: Option<u64>,
    /// Bytes of history.jsonl.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history_bytes: Option<u64>,
    /// Client operations (invocations).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_ops: Option<u64>,
    /// Seconds from the start to the last history record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_s: Option<f64>,
    /// Each checker's answer.
    #[serde(default)]
    pub checks: Vec<CheckOutcome>,
    /// Fields added by later versions, kept as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// What a run's history held, as results.json counts it.
#[derive(Clone, Copy, Debug, Default)]
pub struct HistoryFacts {
    /// History records.
    pub records: u64,
    /// Client invocations.
    pub client_ops: u64,
    /// Bytes of history.jsonl.
    pub bytes: u64,
    /// Seconds to the last record.
    pub duration_s: f64,
}

impl ResultsFile {
    /// A run whose history was checked.
    pub fn checked(analysis: &Analysis, seed: u64, history: HistoryFacts) -> ResultsFile {
        let mut r = ResultsFile::empty(Outcome::of(analysis.verdict), Some(seed));
        r.verdict = analysis.verdict;
        r.checks = analysis.checks.clone();
        r.ops = Some(history.records);
        r.client_ops = Some(history.client_ops);
        r.history_bytes = Some(history.bytes);
        r.duration_s = Some((history.duration_s * 1000.0).round() / 1000.0);
        r
    }

    /// A run that failed with `error` (`{:#}`, every cause, secrets
    /// masked) before its history was checked.
    pub fn failed(error: &anyhow::Error, seed: Option<u64>) -> ResultsFile {
        let outcome = match crate::error::is_usage(error) {
            true => Outcome::UsageError,
            false => Outcome::HarnessError,
        };
        let mut r = ResultsFile::empty(outcome, seed);
        r.error = Some(targets::remote::secrets::mask(&format!("{error:#}")));
        r
    }

    /// This result, turned into a harness error saying `error` (a checked
    /// run whose faults were left in force): the checks stay.
    pub fn with_harness_error(mut self, error: String) -> ResultsFile {
        self.outcome = Some(Outcome::HarnessError);
        self.exit_code = Some(Outcome::HarnessError.exit_code());
        self.error = Some(error);
        self
    }

    fn empty(outcome: Outcome, seed: Option<u64>) -> ResultsFile {
        ResultsFile {
            schema_version: SCHEMA_VERSION,
            outcome: Some(outcome),
            exit_code: Some(outcome.exit_code()),
            error: None,
            verdict: Verdict::Unknown,
            seed,
            ops: None,
            history_bytes: None,
            client_ops: None,
            duration_s: None,
            checks: Vec::new(),
            extra: Map::new(),
        }
    }

    /// How the run ended; for a file older than the field, its verdict.
    pub fn outcome(&self) -> Outcome {
        self.outcome.unwrap_or(Outcome::of(self.verdict))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_what_an_older_run_wrote_and_keeps_unknown_fields() {
        let v = json!({"verdict": "invalid", "seed": 7, "ops": 4, "history_bytes": 99,
                       "checks": [{"checker": "stats", "verdict": "valid", "result": {}, "text": "ok"}],
                       "future": [1]});
        let r: ResultsFile = serde_json::from_value(v).unwrap();
        assert_eq!(
            (r.schema_version, r.verdict, r.seed, r.outcome()),
            (1, Verdict::Invalid, Some(7), Outcome::Invalid)
        );
        let back = serde_json::to_value(&r).unwrap();
        assert_eq!(back["future"], json!([1]));
        assert_eq!(back["checks"][0]["checker"], "stats");
    }

    #[test]
    fn a_failed_run_says_so_with_its_error_and_exit_code() {
        let e = anyhow::anyhow!("exit status 3").context("cannot set up the target on n1");
        let v = serde_json::to_value(ResultsFile::failed(&e, Some(5))).unwrap();
        assert_eq!(v["outcome"], "harness-error");
        assert_eq!(Outcome::HarnessError.name(), "harness-error");
        assert_eq!(v["exit_code"], 255);
        assert_eq!(v["verdict"], "unknown");
        assert_eq!(v["seed"], 5);
        assert_eq!(
            v["error"], "cannot set up the target on n1: exit status 3",
            "every cause is kept"
        );
        let usage = anyhow::Error::new(crate::error::UsageError("no client".into()));
        let r = ResultsFile::failed(&usage.context("run stopped"), None);
        assert_eq!((r.outcome(), r.exit_code), (Outcome::UsageError, Some(254)));
        let back: ResultsFile = serde_json::from_value(v).unwrap();
        assert_eq!(back.outcome(), Outcome::HarnessError);
    }

    #[test]
    fn a_checked_run_takes_its_verdict_as_outcome_unless_the_heal_failed() {
        let analysis = Analysis {
            verdict: Verdict::Invalid,
            checks: Vec::new(),
        };
        let facts = HistoryFacts {
            records: 10,
            client_ops: 4,
            bytes: 700,
            duration_s: 1.23456,
        };
        let r = ResultsFile::checked(&analysis, 1, facts);
        assert_eq!((r.outcome(), r.exit_code), (Outcome::Invalid, Some(1)));
        assert_eq!(r.duration_s, Some(1.235));
        let r = r.with_harness_error("n2: a DROP rule is left".into());
        assert_eq!(
            (r.outcome(), r.verdict),
            (Outcome::HarnessError, Verdict::Invalid)
        );
        assert_eq!(r.exit_code, Some(255));
    }
}
