//! One module per subcommand; each exposes `Args` (clap) and
//! `run(Args) -> anyhow::Result<u8>` returning the exit code.

pub mod check;
pub mod cluster;
pub mod heal;
pub mod report;
pub mod serve;
pub mod test;
pub mod test_all;

pub use harness::error::UsageError;
