//! Errors the user can fix by changing what they typed, told apart from
//! failures of the harness so the CLI can exit 254 rather than 255.

/// A mistake in the user's input (a flag, a file they named, a node that
/// cannot be reached): the CLI exits 254.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// The message a panic carried (`panic!("...")` gives a `&str` or a
/// `String`), for errors that name what panicked.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_string()
    }
}
