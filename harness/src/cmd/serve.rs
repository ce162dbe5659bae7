//! `temblor serve`: browse the results folder over HTTP. Loopback only
//! unless `--bind` says otherwise: reports hold whatever the store
//! returned, and a results folder is not meant for the network.

use super::UsageError;
use anyhow::Context as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

/// Serve the results folder (index.html at /) over HTTP.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The port to listen on (0: any free port, printed at start).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// The results folder.
    #[arg(long, value_name = "DIR", default_value = "results")]
    pub results: PathBuf,
    /// The address to listen on; anything but loopback exposes the
    /// results to the network.
    #[arg(long, value_name = "ADDR", default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    pub bind: IpAddr,
}

/// Refreshes index.html, then serves until killed.
pub fn run(args: Args) -> anyhow::Result<u8> {
    if !args.results.is_dir() {
        return Err(UsageError(format!("{} is not a folder", args.results.display())).into());
    }
    if let Err(e) = harness::report::write_index(&args.results) {
        eprintln!("temblor: cannot refresh the index: {e:#}");
    }
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let addr = SocketAddr::new(args.bind, args.port);
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        let local = listener.local_addr()?;
        println!(
            "temblor: serving {} at http://{local}/",
            args.results.display()
        );
        let limits = harness::report::serve::Limits::default();
        harness::report::serve::serve(listener, &args.results, limits).await?;
        Ok(0)
    })
}
