//! Errors the user can fix by changing what they typed, told apart from
//! failures of the harness so the CLI can exit 254 rather than 255.

/// Exit code for a usage error (bad flags, unreadable input the user named).
pub const EXIT_USAGE: u8 = 254;
/// Exit code for a failure of the harness itself.
pub const EXIT_ERROR: u8 = 255;

/// A mistake in the user's input (a flag, a file they named, a node that
/// cannot be reached): the CLI exits 254.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// True when any cause of `e` is a [`UsageError`].
pub fn is_usage(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.is::<UsageError>())
}

/// The exit code for an error: 254 when any cause is a [`UsageError`],
/// 255 otherwise.
pub fn exit_code_for(e: &anyhow::Error) -> u8 {
    match is_usage(e) {
        true => EXIT_USAGE,
        false => EXIT_ERROR,
    }
}

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
