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

/// `message` prefixed with `node: ` unless it already names the node (a
/// target's own errors often do), so no error reads `n1: n1: ...`.
pub fn on_node(node: &str, message: &str) -> String {
    match message
        .strip_prefix(node)
        .is_some_and(|r| r.starts_with(':'))
    {
        true => message.to_string(),
        false => format!("{node}: {message}"),
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

#[cfg(test)]
mod tests {
    use super::on_node;

    #[test]
    fn a_message_names_its_node_once() {
        assert_eq!(on_node("n1", "exit 3"), "n1: exit 3");
        assert_eq!(
            on_node("n1", "n1: configure failed"),
            "n1: configure failed"
        );
        assert_eq!(on_node("n1", "n10: x"), "n1: n10: x");
    }
}
