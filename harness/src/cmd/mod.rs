//! One module per subcommand; each exposes `Args` (clap) and
//! `run(Args) -> anyhow::Result<u8>` returning the exit code.

pub mod check;
pub mod cluster;
pub mod heal;
pub mod report;
pub mod serve;
pub mod test;

pub use harness::error::UsageError;

/// The exit code for an error: 254 when any cause is a [`UsageError`],
/// 255 otherwise.
pub fn exit_code_for(e: &anyhow::Error) -> u8 {
    if e.chain().any(|c| c.is::<UsageError>()) {
        crate::EXIT_USAGE
    } else {
        crate::EXIT_ERROR
    }
}
