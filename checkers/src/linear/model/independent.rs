//! Jepsen's independent keys (`jepsen.independent`): every value is a
//! `[key, v]` tuple, each key is its own object, and the history splits by
//! key with the inner model checking `v`.

use super::{pair, Model, OpView};
use serde_json::Value;

/// Wraps a model so that each key of `[key, v]` values is checked apart.
#[derive(Debug)]
pub struct Independent<M> {
    inner: M,
}

impl<M> Independent<M> {
    /// Splits by key, checking each key with `inner`.
    pub fn new(inner: M) -> Self {
        Independent { inner }
    }
}

/// An inner op on one key.
#[derive(Clone, Debug)]
pub struct Keyed<I> {
    /// The key, as text.
    pub key: String,
    /// The inner model's op.
    pub input: I,
}

fn split<'a>(v: &'a Value, f: &str) -> Result<(String, &'a Value), String> {
    let (k, v) = pair(v, &format!("independent {f}"))?;
    let key = match k {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    Ok((key, v))
}

impl<M: Model> Model for Independent<M> {
    type State = M::State;
    type Input = Keyed<M::Input>;

    fn init(&self) -> M::State {
        self.inner.init()
    }

    fn prepare(&self, op: &OpView<'_>) -> Result<Option<Keyed<M::Input>>, String> {
        let (key, invoke) = split(op.invoke, op.f)?;
        // A completion may carry `[key, v]` or, for some clients, nothing.
        let complete = match op.complete {
            Some(c) if !c.is_null() => Some(split(c, op.f)?.1),
            _ => None,
        };
        let inner = op.with_values(invoke, complete);
        Ok(self
            .inner
            .prepare(&inner)?
            .map(|input| Keyed { key, input }))
    }

    fn step(&self, state: &M::State, input: &Keyed<M::Input>) -> Option<M::State> {
        self.inner.step(state, &input.input)
    }

    fn partition(&self, input: &Keyed<M::Input>) -> Option<String> {
        Some(input.key.clone())
    }

    fn describe_state(&self, state: &M::State) -> String {
        self.inner.describe_state(state)
    }

    fn describe_op(&self, input: &Keyed<M::Input>) -> String {
        self.inner.describe_op(&input.input)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::ok;
    use super::super::{NilReads, Register};
    use super::*;
    use serde_json::json;

    #[test]
    fn values_split_by_key_and_the_inner_model_sees_v() {
        let m = Independent::new(Register::new(&json!(null), NilReads::Absent, false));
        let (w, r) = (json!([7, 3]), json!([7, null]));
        let write = m.prepare(&ok("write", &w, &w)).unwrap().unwrap();
        assert_eq!(m.partition(&write).as_deref(), Some("7"));
        assert_eq!(m.describe_op(&write), "write 3");
        let read = m.prepare(&ok("read", &r, &json!([7, 3]))).unwrap().unwrap();
        let s = m.step(&m.init(), &write).unwrap();
        assert!(m.step(&s, &read).is_some());
        assert!(m.prepare(&ok("read", &json!(3), &json!(3))).is_err());
    }
}
