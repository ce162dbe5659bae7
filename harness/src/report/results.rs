//! `results.json`, the run's answer for machines (CI, dashboards, `jq`).
//! Schema version 1, stable: fields may be added, none renamed or removed
//! without a new `schema_version`.
//!
//! ```text
//! {
//!   "schema_version": 1,          // added by the report when absent
//!   "verdict": "valid" | "invalid" | "unknown",
//!   "seed": 42,                   // the seed that reproduces the op stream
//!   "ops": 20418,                 // history records (invocations + completions)
//!   "history_bytes": 1893021,     // size of history.jsonl
//!   "client_ops": 10203,          // client operations (invocations)   [report]
//!   "duration_s": 31.7,           // time of the last history record   [report]
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
//! Fields this version does not know are kept when the report rewrites
//! the file.

use crate::run::analysis::CheckOutcome;
use checkers::Verdict;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The schema version this module writes.
pub const SCHEMA_VERSION: u32 = 1;

fn version_one() -> u32 {
    SCHEMA_VERSION
}

/// `results.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ResultsFile {
    /// The schema's version.
    #[serde(default = "version_one")]
    pub schema_version: u32,
    /// The worst verdict of all checks.
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_what_a_run_writes_and_keeps_unknown_fields() {
        let v = json!({"verdict": "invalid", "seed": 7, "ops": 4, "history_bytes": 99,
                       "checks": [{"checker": "stats", "verdict": "valid", "result": {}, "text": "ok"}],
                       "future": [1]});
        let r: ResultsFile = serde_json::from_value(v).unwrap();
        assert_eq!(
            (r.schema_version, r.verdict, r.seed),
            (1, Verdict::Invalid, Some(7))
        );
        let back = serde_json::to_value(&r).unwrap();
        assert_eq!(back["future"], json!([1]));
        assert_eq!(back["checks"][0]["checker"], "stats");
    }
}
