//! Choosing a model by name, for the CLI: `--model register|cas-register|
//! kv|multi-register|mutex|set|queue` with its options, checked by one
//! function, [`check_spec`].

use super::model::{
    Independent, Kv, KvMap, Model, MultiRegister, Mutex, NilReads, Queue, Register, Set,
};
use super::{check, check_register, CheckOptions, LinearResult};
use crate::history::{History, HistoryError};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;
use std::str::FromStr;

/// The models `temblor check --model` offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModelKind {
    /// `read`, `write v`.
    Register,
    /// `read`, `write v`, `cas [old new]`.
    CasRegister,
    /// Porcupine's kv: `get`/`put`/`append` on `[key, string]`.
    Kv,
    /// Knossos's multi-register: `txn` of `[read k v]`/`[write k v]`.
    MultiRegister,
    /// `acquire`, `release`.
    Mutex,
    /// `add v`, `read` returning the whole set.
    Set,
    /// FIFO: `enqueue v`, `dequeue` returning the head.
    Queue,
}

impl ModelKind {
    /// Every kind, in the order `--help` lists them.
    pub const ALL: [ModelKind; 7] = [
        ModelKind::Register,
        ModelKind::CasRegister,
        ModelKind::Kv,
        ModelKind::MultiRegister,
        ModelKind::Mutex,
        ModelKind::Set,
        ModelKind::Queue,
    ];

    /// The name `FromStr` accepts.
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Register => "register",
            ModelKind::CasRegister => "cas-register",
            ModelKind::Kv => "kv",
            ModelKind::MultiRegister => "multi-register",
            ModelKind::Mutex => "mutex",
            ModelKind::Set => "set",
            ModelKind::Queue => "queue",
        }
    }
}

impl fmt::Display for ModelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ModelKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let names: Vec<&str> = ModelKind::ALL.iter().map(|k| k.name()).collect();
        ModelKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| format!("unknown model {s:?} (one of {})", names.join(", ")))
    }
}

/// A model and its options, as the CLI gathers them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelSpec {
    /// Which model.
    pub kind: ModelKind,
    /// The initial value of a register (each register of a multi-register);
    /// `null` when absent. Ignored by the other models.
    pub initial: Value,
    /// How a nil read is judged (registers and multi-register).
    pub nil_reads: NilReads,
    /// Values are Jepsen's independent `[key, v]` tuples: check each key
    /// apart. `kv` is always keyed and ignores this.
    pub independent: bool,
    /// `kv` only: split by key (true, the default) or check the whole map
    /// as one state.
    pub split_keys: bool,
}

impl ModelSpec {
    /// `kind` with default options.
    pub fn new(kind: ModelKind) -> ModelSpec {
        ModelSpec {
            kind,
            initial: Value::Null,
            nil_reads: NilReads::Absent,
            independent: false,
            split_keys: true,
        }
    }
}

/// Checks `history` against the model `spec` names.
pub fn check_spec(
    history: &History,
    spec: &ModelSpec,
    opts: &CheckOptions,
) -> Result<LinearResult, HistoryError> {
    let keyed = spec.independent;
    match spec.kind {
        ModelKind::Register | ModelKind::CasRegister => {
            let model = Register::new(
                &spec.initial,
                spec.nil_reads,
                spec.kind == ModelKind::CasRegister,
            );
            if keyed {
                check_register(history, &Independent::new(model), opts)
            } else {
                check_register(history, &model, opts)
            }
        }
        ModelKind::Kv if spec.split_keys => check(history, &Kv::default(), opts),
        ModelKind::Kv => check(history, &KvMap::default(), opts),
        ModelKind::MultiRegister => with_keys(
            history,
            MultiRegister::new(&spec.initial, spec.nil_reads),
            keyed,
            opts,
        ),
        ModelKind::Mutex => with_keys(history, Mutex, keyed, opts),
        ModelKind::Set => with_keys(history, Set::default(), keyed, opts),
        ModelKind::Queue => with_keys(history, Queue::default(), keyed, opts),
    }
}

fn with_keys<M: Model>(
    history: &History,
    model: M,
    independent: bool,
    opts: &CheckOptions,
) -> Result<LinearResult, HistoryError> {
    if independent {
        check(history, &Independent::new(model), opts)
    } else {
        check(history, &model, opts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_parse_from_their_names() {
        for k in ModelKind::ALL {
            assert_eq!(k.name().parse::<ModelKind>(), Ok(k));
        }
        let e = "regsiter".parse::<ModelKind>().unwrap_err();
        assert!(
            e.starts_with("unknown model \"regsiter\" (one of register, cas-register"),
            "{e}"
        );
        assert_eq!(
            serde_json::to_string(&ModelKind::CasRegister).unwrap(),
            "\"cas-register\""
        );
    }
}
