//! temblor: a Jepsen-style fault-injection test harness.
//!
//! `main` parses the command line and hands each subcommand to its own module
//! under `cmd/` (xsv's layout). Exit codes are an API: 0 valid, 1 invalid,
//! 2 unknown, 254 usage error, 255 harness failure.

mod cmd;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

pub use harness::error::{EXIT_ERROR, EXIT_USAGE};

#[derive(Parser)]
#[command(
    name = "temblor",
    version,
    about = "Jepsen-style fault-injection testing: run workloads against a cluster under faults, record the history, check it."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Say more on the terminal: -v debug, -vv trace (RUST_LOG, an
    /// EnvFilter, overrides both flags). A run's temblor.log always gets
    /// the debug level.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// Say less on the terminal: warnings and errors only, no progress.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    quiet: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Run a test: a workload against a cluster under faults, recorded and checked.
    Test(Box<cmd::test::Args>),
    /// Run a matrix of tests (targets x workloads x nemeses), each cell
    /// --test-count times, K at once on their own local clusters; exit
    /// with the worst exit code.
    TestAll(Box<cmd::test_all::Args>),
    /// Check a recorded history (a history file or a run directory).
    Check(cmd::check::Args),
    /// Undo the faults a run left behind when its controller was killed hard.
    Heal(cmd::heal::Args),
    /// Build, inspect or remove a local cluster of network-namespace hosts.
    Cluster(cmd::cluster::Args),
    /// Render the HTML report and junit.xml of recorded runs, and the index.
    Report(cmd::report::Args),
    /// Serve the results folder over HTTP (loopback by default).
    Serve(cmd::serve::Args),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_USAGE } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let verbosity = match cli.quiet {
        true => -1,
        false => cli.verbose.min(2) as i8,
    };
    harness::run::log::init(verbosity);
    // A panic that escapes a command (a run heals before it gets here) is a
    // harness failure like any other: exit 255 with its message, not 101.
    let result = std::panic::catch_unwind(|| match cli.command {
        Command::Test(args) => cmd::test::run(*args),
        Command::TestAll(args) => cmd::test_all::run(*args),
        Command::Check(args) => cmd::check::run(args),
        Command::Heal(args) => cmd::heal::run(args),
        Command::Cluster(args) => cmd::cluster::run(args),
        Command::Report(args) => cmd::report::run(args),
        Command::Serve(args) => cmd::serve::run(args),
    })
    .unwrap_or_else(|panic| {
        Err(anyhow::anyhow!(
            "panicked: {}",
            harness::error::panic_message(&*panic)
        ))
    });
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("temblor: {e:#}");
            ExitCode::from(harness::error::exit_code_for(&e))
        }
    }
}
