//! From a history to the search's input: pair invocations with
//! completions, drop what cannot matter (failed ops, the nemesis, ops a
//! model says constrain nothing), parse each op once with the model, and
//! split into independent partitions (P-compositionality, Herlihy & Wing
//! 1990; Horn & Kroening 2015).

use super::model::{Model, OpView};
use crate::history::{History, HistoryError, HistoryErrorKind, Operation, Outcome};
use std::collections::HashMap;

/// One op as the search sees it.
#[derive(Clone, Debug)]
pub(crate) struct Prepared<I> {
    /// The model's parse of it.
    pub input: I,
    /// Its position in the list of paired [`Operation`]s.
    pub op: usize,
    /// History position of its invocation.
    pub call: usize,
    /// History position of its `ok` completion; `None`: crashed, so it may
    /// linearize at any point after `call`, or never.
    pub ret: Option<usize>,
}

/// The ops of one partition (key), in invocation order.
#[derive(Clone, Debug)]
pub(crate) struct Part<I> {
    /// The model's partition key; `None` when the model does not split.
    pub key: Option<String>,
    /// Its ops.
    pub ops: Vec<Prepared<I>>,
}

/// The paired operations of a history, and its partitions.
pub(crate) type Split<I> = (Vec<Operation>, Vec<Part<I>>);

/// Pairs, filters, parses and splits `history` for `model`.
pub(crate) fn prepare<M: Model>(
    history: &History,
    model: &M,
) -> Result<Split<M::Input>, HistoryError> {
    let operations = history.operations()?;
    let mut parts: Vec<Part<M::Input>> = Vec::new();
    let mut by_key: HashMap<Option<String>, usize> = HashMap::new();
    for (i, o) in operations.iter().enumerate() {
        if o.outcome == Outcome::Fail {
            continue;
        }
        let invoke = &history.ops[o.invoke];
        let view = OpView {
            f: &invoke.f,
            invoke: &invoke.value,
            complete: o.complete.map(|c| &history.ops[c].value),
            outcome: o.outcome,
        };
        let at = o
            .complete
            .filter(|_| o.outcome == Outcome::Ok)
            .unwrap_or(o.invoke);
        let input = model
            .prepare(&view)
            .map_err(|e| history.error_at(at, HistoryErrorKind::BadValue(e)))?;
        let Some(input) = input else { continue };
        let key = model.partition(&input);
        let next = parts.len();
        let slot = *by_key.entry(key.clone()).or_insert(next);
        if slot == next {
            parts.push(Part {
                key,
                ops: Vec::new(),
            });
        }
        let ret = o.complete.filter(|_| o.outcome == Outcome::Ok);
        parts[slot].ops.push(Prepared {
            input,
            op: i,
            call: o.invoke,
            ret,
        });
    }
    Ok((operations, parts))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{Op, OpType};
    use crate::linear::model::Kv;
    use serde_json::json;

    #[test]
    fn failed_ops_are_dropped_and_crashed_ones_have_no_return() {
        let h = History::from_ops(
            "t",
            [
                Op::new(0, OpType::Invoke, "put", json!(["a", "1"])),
                Op::new(1, OpType::Invoke, "put", json!(["b", "2"])),
                Op::new(0, OpType::Fail, "put", json!(["a", "1"])),
                Op::new(1, OpType::Info, "put", json!(["b", "2"])),
                Op::new(2, OpType::Invoke, "get", json!(["a", null])),
                Op::new(2, OpType::Ok, "get", json!(["a", ""])),
            ],
        );
        let (operations, parts) = prepare(&h, &Kv::default()).unwrap();
        assert_eq!(operations.len(), 3);
        let keys: Vec<_> = parts.iter().map(|p| p.key.clone().unwrap()).collect();
        assert_eq!(keys, ["b", "a"]);
        assert_eq!((parts[0].ops[0].call, parts[0].ops[0].ret), (1, None));
        assert_eq!((parts[1].ops[0].call, parts[1].ops[0].ret), (4, Some(5)));
    }

    #[test]
    fn a_bad_value_names_its_line() {
        let mut h = History::new("h.jsonl");
        h.push(Op::new(0, OpType::Invoke, "get", json!("a")), 7);
        h.push(Op::new(0, OpType::Ok, "get", json!("a")), 8);
        let e = prepare(&h, &Kv::default()).unwrap_err();
        assert_eq!(e.line, Some(8));
        assert!(
            e.to_string()
                .starts_with("h.jsonl:8: get needs a [a, b] pair"),
            "{e}"
        );
    }
}
