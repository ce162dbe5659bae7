//! What the HTTP clients of every target share: reading Jepsen's
//! independent `[key, value]` tuples, refusing values of the wrong shape,
//! and telling a request that was never sent (`fail`) from one that got no
//! answer (`info`), after Jepsen's client contract.

use checkers::Op;
use serde_json::Value;
use workloads::ClientError;

/// The `[k, v]` of a register op.
pub(crate) fn keyed(op: &Op) -> Result<(&Value, &Value), ClientError> {
    match op.value.as_array().map(Vec::as_slice) {
        Some([k, v]) => Ok((k, v)),
        _ => Err(bad(op, "[key, value]")),
    }
}

/// A value of the wrong shape: the op was never sent, so it failed.
pub(crate) fn bad(op: &Op, want: &str) -> ClientError {
    ClientError::Fail(format!("{}: value {} is not {want}", op.f, op.value))
}

/// A request that never got an answer: `fail` only when the connection was
/// refused (nothing was sent), `info` otherwise.
pub(crate) fn send_error(e: reqwest::Error) -> ClientError {
    if e.is_connect() && !e.is_timeout() {
        ClientError::Fail(format!("connection refused: {e}"))
    } else {
        ClientError::Unknown(format!("no answer: {e}"))
    }
}
