//! The unique-ids checker, after Jepsen's `checker/unique-ids`: every
//! `generate` that completes `ok` returns an id, and no two may be equal.
//! Reports how many were attempted and acknowledged, the duplicates (the
//! most repeated first) and the range of ids (numbers by value, anything
//! else by its JSON text).

use crate::history::{History, HistoryError, OpType};
use crate::tally::{key_of, KEPT};
use crate::Verdict;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::cmp::Ordering;
use std::collections::HashMap;

/// An id returned more than once.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Duplicate {
    /// The id.
    pub id: Value,
    /// How many `generate`s returned it.
    pub count: usize,
    /// History indices of those completions (the first few).
    pub indices: Vec<u64>,
}

/// The unique-ids checker's answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UniqueIdsResult {
    /// Invalid when an id was returned twice; unknown when none was
    /// returned at all.
    pub verdict: Verdict,
    /// `generate`s invoked.
    pub attempted_count: usize,
    /// `generate`s that returned an id.
    pub acknowledged_count: usize,
    /// Distinct ids returned more than once.
    pub duplicated_count: usize,
    /// The most repeated of them (at most 32).
    pub duplicated: Vec<Duplicate>,
    /// The lowest and highest id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<(Value, Value)>,
}

/// Checks `history`'s `generate` ops.
pub fn check(history: &History) -> Result<UniqueIdsResult, HistoryError> {
    history.operations()?;
    let mut seen: HashMap<String, Duplicate> = HashMap::new();
    let (mut attempted, mut acknowledged) = (0, 0);
    let mut range: Option<(Value, Value)> = None;
    for op in history
        .ops
        .iter()
        .filter(|o| !o.is_nemesis() && o.f == "generate")
    {
        match op.kind {
            OpType::Invoke => attempted += 1,
            OpType::Ok => {
                acknowledged += 1;
                let d = seen.entry(key_of(&op.value)).or_insert_with(|| Duplicate {
                    id: op.value.clone(),
                    count: 0,
                    indices: Vec::new(),
                });
                d.count += 1;
                if d.indices.len() < 8 {
                    d.indices.push(op.index);
                }
                range = Some(match range {
                    None => (op.value.clone(), op.value.clone()),
                    Some((lo, hi)) => (
                        if order(&op.value, &lo).is_lt() {
                            op.value.clone()
                        } else {
                            lo
                        },
                        if order(&op.value, &hi).is_gt() {
                            op.value.clone()
                        } else {
                            hi
                        },
                    ),
                });
            }
            _ => {}
        }
    }
    let mut duplicated: Vec<Duplicate> = seen.into_values().filter(|d| d.count > 1).collect();
    duplicated.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| order(&a.id, &b.id)));
    let duplicated_count = duplicated.len();
    duplicated.truncate(KEPT);
    let verdict = match () {
        _ if duplicated_count > 0 => Verdict::Invalid,
        _ if acknowledged == 0 => Verdict::Unknown,
        _ => Verdict::Valid,
    };
    Ok(UniqueIdsResult {
        verdict,
        attempted_count: attempted,
        acknowledged_count: acknowledged,
        duplicated_count,
        duplicated,
        range,
    })
}

/// Ids compare as numbers when both are, else by their JSON text.
fn order(a: &Value, b: &Value) -> Ordering {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x.total_cmp(&y),
        _ => key_of(a).cmp(&key_of(b)),
    }
}

impl std::fmt::Display for UniqueIdsResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{}: {} ids attempted, {} returned, {} returned more than once",
            self.verdict, self.attempted_count, self.acknowledged_count, self.duplicated_count
        )?;
        if let Some((lo, hi)) = &self.range {
            writeln!(f, "range: {lo} to {hi}")?;
        }
        for d in &self.duplicated {
            let at: Vec<String> = d.indices.iter().map(u64::to_string).collect();
            writeln!(
                f,
                "id {} returned {} times (indices {})",
                d.id,
                d.count,
                at.join(", ")
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::history;
    use serde_json::json;

    #[test]
    fn distinct_ids_are_valid_with_their_range() {
        let h = history(&[
            (0, "invoke", "generate", json!(null)),
            (1, "invoke", "generate", json!(null)),
            (0, "ok", "generate", json!(10)),
            (1, "ok", "generate", json!(9)),
            (2, "invoke", "generate", json!(null)),
            (2, "info", "generate", json!(null)),
        ]);
        let r = check(&h).unwrap();
        assert_eq!(
            (r.verdict, r.attempted_count, r.acknowledged_count),
            (Verdict::Valid, 3, 2)
        );
        assert_eq!(r.range, Some((json!(9), json!(10))));
    }

    #[test]
    fn a_repeated_id_is_invalid_and_named() {
        let h = history(&[
            (0, "invoke", "generate", json!(null)),
            (0, "ok", "generate", json!("a")),
            (1, "invoke", "generate", json!(null)),
            (1, "ok", "generate", json!("a")),
        ]);
        let r = check(&h).unwrap();
        assert_eq!((r.verdict, r.duplicated_count), (Verdict::Invalid, 1));
        assert_eq!(r.duplicated[0].indices, vec![1, 3]);
        assert!(
            r.to_string()
                .contains("id \"a\" returned 2 times (indices 1, 3)"),
            "{r}"
        );
    }

    #[test]
    fn nothing_returned_is_unknown() {
        let h = history(&[
            (0, "invoke", "generate", json!(null)),
            (0, "fail", "generate", json!(null)),
        ]);
        assert_eq!(check(&h).unwrap().verdict, Verdict::Unknown);
    }
}
