//! What the workload checkers (set, counter, bank, unique ids, queue) share
//! when they summarise a history: samples capped at a size a report can
//! show, latency quantiles (Jepsen's `frequency-distribution`), elements
//! keyed by their JSON text (JSON values are not hashable), and reading
//! Jepsen's independent `[key, value]` tuples.

use crate::history::{History, HistoryError, HistoryErrorKind};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How many examples of each finding a result keeps; the rest are counted.
pub const KEPT: usize = 32;

/// A list capped at [`KEPT`] items, with the count of all that were seen.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sample<T> {
    /// How many there were.
    pub count: usize,
    /// The first [`KEPT`] of them.
    pub items: Vec<T>,
}

impl<T> Default for Sample<T> {
    fn default() -> Self {
        Sample {
            count: 0,
            items: Vec::new(),
        }
    }
}

impl<T> Sample<T> {
    /// Counts `item`, keeping it if there is room.
    pub fn push(&mut self, item: T) {
        self.count += 1;
        if self.items.len() < KEPT {
            self.items.push(item);
        }
    }

    /// True when nothing was seen.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}

impl<T> FromIterator<T> for Sample<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        let mut s = Sample::default();
        iter.into_iter().for_each(|t| s.push(t));
        s
    }
}

/// Quantiles of a distribution: `(quantile, value)` at 0, 0.5, 0.95, 0.99
/// and 1 (Jepsen's points), picked as Jepsen does: the item at
/// `floor(n * q)`, clamped to the last.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Quantiles(pub Vec<(f64, f64)>);

impl Quantiles {
    /// The quantiles of `values`; `None` when there are none.
    pub fn of(mut values: Vec<f64>) -> Option<Quantiles> {
        if values.is_empty() {
            return None;
        }
        values.sort_by(f64::total_cmp);
        let n = values.len();
        let at = |q: f64| values[((n as f64 * q).floor() as usize).min(n - 1)];
        Some(Quantiles(
            [0.0, 0.5, 0.95, 0.99, 1.0]
                .into_iter()
                .map(|q| (q, at(q)))
                .collect(),
        ))
    }

    /// The value at quantile `q`, if it is one of the points.
    pub fn at(&self, q: f64) -> Option<f64> {
        self.0.iter().find(|(p, _)| *p == q).map(|(_, v)| *v)
    }
}

/// Counts of values in buckets with fixed upper bounds: the shape of a
/// latency distribution, small enough to keep whatever the run's size.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Histogram {
    /// Each bucket's exclusive upper bound; the last bucket has none.
    pub bounds: Vec<f64>,
    /// Values per bucket: one more than `bounds`.
    pub counts: Vec<u64>,
}

impl Histogram {
    /// Milliseconds in roughly logarithmic buckets, from "0 ms" to over 10 s.
    pub fn millis(values: impl IntoIterator<Item = f64>) -> Histogram {
        let bounds = vec![
            1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0, 5000.0, 10000.0,
        ];
        let mut counts = vec![0; bounds.len() + 1];
        for v in values {
            let i = bounds.iter().position(|b| v < *b).unwrap_or(bounds.len());
            counts[i] += 1;
        }
        Histogram { bounds, counts }
    }
}

/// A JSON value as a map key: its compact JSON text (object keys keep
/// their order, so equal values written the same way compare equal).
pub fn key_of(v: &Value) -> String {
    v.to_string()
}

/// The `(key, value)` of an op: with `independent`, a `[key, value]`
/// tuple; otherwise the whole value under no key.
pub fn split_key(v: &Value, independent: bool) -> Result<(Option<&Value>, &Value), String> {
    if !independent {
        return Ok((None, v));
    }
    match v.as_array().map(Vec::as_slice) {
        Some([k, v]) => Ok((Some(k), v)),
        _ => Err(format!("value {v} is not a [key, value] tuple")),
    }
}

/// An error about the value of the op at position `pos`, at its line.
pub fn bad_value(history: &History, pos: usize, what: String) -> HistoryError {
    let op = &history.ops[pos];
    history.error_at(
        pos,
        HistoryErrorKind::BadValue(format!(
            "{} {} by process {}: {what}",
            op.kind, op.f, op.process
        )),
    )
}

/// An integer value, or a message saying what it is instead.
pub fn integer(v: &Value, what: &str) -> Result<i64, String> {
    v.as_i64()
        .ok_or_else(|| format!("{what} {v} is not an integer"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn samples_count_everything_and_keep_the_first() {
        let s: Sample<usize> = (0..100).collect();
        assert_eq!((s.count, s.items.len(), s.items[0]), (100, KEPT, 0));
        assert!(Sample::<u8>::default().is_empty());
    }

    #[test]
    fn quantiles_pick_like_jepsen() {
        let q = Quantiles::of((1..=10).map(f64::from).collect()).unwrap();
        assert_eq!(q.at(0.0), Some(1.0));
        assert_eq!(q.at(0.5), Some(6.0));
        assert_eq!(q.at(1.0), Some(10.0));
        assert_eq!(Quantiles::of(vec![]), None);
    }

    #[test]
    fn histograms_bucket_by_upper_bound() {
        let h = Histogram::millis([0.0, 0.5, 1.0, 3.0, 20_000.0]);
        assert_eq!(h.counts[0], 2);
        assert_eq!(h.counts[1], 1);
        assert_eq!(h.counts[2], 1, "3 ms is under the bound of 5");
        assert_eq!(*h.counts.last().unwrap(), 1);
    }

    #[test]
    fn keys_split_only_when_independent() {
        let v = json!([3, [1, 2]]);
        assert_eq!(
            split_key(&v, true).unwrap(),
            (Some(&json!(3)), &json!([1, 2]))
        );
        assert_eq!(split_key(&v, false).unwrap(), (None, &v));
        assert!(split_key(&json!(4), true).is_err());
        assert_eq!(key_of(&json!({"a": [1]})), r#"{"a":[1]}"#);
    }
}
