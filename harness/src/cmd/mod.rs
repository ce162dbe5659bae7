//! One module per subcommand; each exposes `Args` (clap) and
//! `run(Args) -> anyhow::Result<u8>` returning the exit code.

pub mod check;
pub mod cluster;

/// An error the user can fix by changing what they typed (a missing file,
/// bad flag values, malformed input): exit 254 rather than 255.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// The exit code for an error: 254 when any cause is a [`UsageError`],
/// 255 otherwise.
pub fn exit_code_for(e: &anyhow::Error) -> u8 {
    if e.chain().any(|c| c.is::<UsageError>()) {
        crate::EXIT_USAGE
    } else {
        crate::EXIT_ERROR
    }
}
