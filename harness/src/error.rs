//! Errors the user can fix by changing what they typed, told apart from
//! failures of the harness so the CLI can exit 254 rather than 255.

/// A mistake in the user's input (a flag, a file they named, a node that
/// cannot be reached): the CLI exits 254.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);
