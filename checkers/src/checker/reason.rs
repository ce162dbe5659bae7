//! Why a checker's answer is not `valid`, in one sentence: the line a
//! report's verdict and a CI summary show. Written here, beside the
//! results, so that every front end words a finding the same way.

use super::CheckResult;
use crate::elle::ElleResult;
use crate::linear::LinearResult;
use crate::Verdict;

impl CheckResult {
    /// Why the verdict is not `valid`, in one sentence; `None` when it is.
    pub fn reason(&self) -> Option<String> {
        if self.verdict() == Verdict::Valid {
            return None;
        }
        let why = match self {
            CheckResult::Linearizable(r) => linear(r),
            CheckResult::Lock(r) => {
                linear(&r.linear).map(|w| format!("mutual exclusion broken: {w}"))
            }
            CheckResult::Elle(r) => elle(r),
            CheckResult::Set(r) => set(r),
            CheckResult::Counter(r) => r.worst.as_ref().map(|w| {
                format!(
                    "{} reads out of bounds, the worst {}",
                    r.errors.count,
                    crate::counter::describe(w)
                )
            }),
            CheckResult::Bank(r) => r.bad_reads.items.first().map(|b| {
                let kinds: Vec<String> = r
                    .errors
                    .iter()
                    .map(|(k, s)| format!("{k} ×{}", s.count))
                    .collect();
                format!(
                    "{} bad reads ({}); first, {}",
                    r.bad_reads.count,
                    kinds.join(", "),
                    crate::bank::describe(b)
                )
            }),
            CheckResult::UniqueIds(r) => r.duplicated.first().map(|d| {
                format!(
                    "{} ids returned more than once, e.g. {} returned {} times",
                    r.duplicated_count, d.id, d.count
                )
            }),
            CheckResult::Queue(r) => queue(r),
            CheckResult::Stats(r) => {
                let starved: Vec<&str> = r
                    .by_f
                    .iter()
                    .filter(|(_, c)| c.ok == 0)
                    .map(|(f, _)| f.as_str())
                    .collect();
                (!starved.is_empty()).then(|| format!("no {} ever succeeded", starved.join(" or ")))
            }
            CheckResult::Error(e) => Some(format!("could not check: {e}")),
        };
        Some(why.unwrap_or_else(|| match self.verdict() {
            Verdict::Unknown => "nothing could be concluded (see its output)".into(),
            _ => "see its output".into(),
        }))
    }
}

fn linear(r: &LinearResult) -> Option<String> {
    let failing: Vec<_> = r
        .partitions
        .iter()
        .filter(|p| p.failure.is_some())
        .collect();
    let Some(p) = failing.first() else {
        let stop = r.partitions.iter().find_map(|p| p.unknown.as_ref())?;
        return Some(format!("the search stopped: {stop}"));
    };
    let f = p.failure.as_ref()?;
    let key = p
        .key
        .as_ref()
        .map(|k| format!("on key {k}, "))
        .unwrap_or_default();
    let more = match failing.len() {
        1 => String::new(),
        n => format!(" (and {} more keys)", n - 1),
    };
    Some(format!(
        "{key}“{}” by process {} (history index {}) could not be linearized{more}",
        f.op.describe, f.op.process, f.op.index
    ))
}

fn elle(r: &ElleResult) -> Option<String> {
    if r.anomaly_types.is_empty() {
        let u = r.unknown.first()?;
        return Some(format!(
            "{} in a component of {} transactions while searching for {}",
            u.reason,
            u.scc_size,
            u.anomaly_types.join(", ")
        ));
    }
    let found: Vec<String> = r
        .anomaly_types
        .iter()
        .map(|t| format!("{t} ×{}", r.anomaly_counts.get(t).copied().unwrap_or(1)))
        .collect();
    let not: Vec<&str> = r.not.iter().map(|m| m.name()).collect();
    Some(format!(
        "found {}; rules out {}",
        found.join(", "),
        not.join(", ")
    ))
}

fn set(r: &crate::set::SetResult) -> Option<String> {
    let mut parts = Vec::new();
    if let Some(e) = r.lost.items.first() {
        parts.push(format!(
            "{} lost, e.g. {}",
            r.lost.count,
            crate::set::describe(e)
        ));
    }
    for (what, s) in [("unexpected", &r.unexpected), ("duplicated", &r.duplicated)] {
        if let Some(b) = s.items.first() {
            parts.push(format!(
                "{} {what}, e.g. {} in the read at index {} ({})",
                s.count, b.element, b.read_index, b.detail
            ));
        }
    }
    if parts.is_empty() && !r.stale.is_empty() {
        parts.push(format!(
            "{} stale elements in a set that promised linearizable reads",
            r.stale.count
        ));
    }
    if parts.is_empty() && r.stable_count == 0 {
        parts.push(format!(
            "no element became stable ({} never read)",
            r.never_read.count
        ));
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

fn queue(r: &crate::queue::QueueResult) -> Option<String> {
    if let Some(why) = &r.unknown {
        return Some(why.clone());
    }
    let mut parts = Vec::new();
    for (what, s) in [
        ("lost", &r.lost),
        ("unexpected", &r.unexpected),
        ("duplicated", &r.duplicated),
    ] {
        if let Some(c) = s.items.first() {
            parts.push(format!("{} {what}, e.g. {}", s.count, c.element));
        }
    }
    if r.lost.count > 0 {
        parts.push(format!("{} dequeues crashed", r.crashed_dequeues));
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

#[cfg(test)]
mod tests {
    use super::super::{compose, CheckerSpec, Limits};
    use crate::set::SetOptions;
    use crate::testing::history;
    use serde_json::json;

    #[test]
    fn a_finding_is_one_sentence_and_valid_needs_none() {
        let h = history(&[
            (0, "invoke", "add", json!(1)),
            (0, "ok", "add", json!(1)),
            (1, "invoke", "read", json!(null)),
            (1, "ok", "read", json!([])),
        ]);
        let specs = [CheckerSpec::Set(SetOptions::default()), CheckerSpec::Stats];
        let c = compose(&h, &specs, &Limits::default());
        let why = c.checks[0].result.reason().unwrap();
        assert_eq!(why, "1 lost, e.g. element 1 (known at index 1, missed by the read invoked at index 2, 0 ms)");
        assert_eq!(c.checks[1].result.reason(), None);
        let counter = compose(&h, &[CheckerSpec::Counter], &Limits::default());
        assert!(counter.checks[0]
            .result
            .reason()
            .unwrap()
            .starts_with("could not check: "));
    }
}
