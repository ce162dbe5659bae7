//! The bench command for the history readers alone: reads each file with
//! `format::read_path` (the plain path, which builds every op's JSON
//! value: what `temblor check` without `--workload` uses) a few times and
//! prints the best run as MB/s and ops/s, with the load average.
//!
//! ```text
//! cargo run --release -p checkers --example check_shapes -- --write DIR list-append
//! cargo run --release -p checkers --example read_speed -- [--runs N] FILE...
//! cargo run --release -p checkers --features mimalloc --example read_speed -- FILE...
//! ```
//!
//! Without features it reads under the system's (glibc's) malloc, as the
//! `temblor` binary does; `--features mimalloc` shows what allocation
//! costs the reader (mimalloc is faster here, but raised `temblor check`'s
//! peak memory, so the binary does not use it: see README).
//!
//! It uses nothing newer than the reader's public API, so the same file
//! builds against an older checkout to compare readers on one machine.

use checkers::format::read_path;
use std::error::Error;
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The allocator this build reads under.
const ALLOCATOR: &str = if cfg!(feature = "mimalloc") {
    "mimalloc"
} else {
    "system"
};

fn main() -> Result<(), Box<dyn Error>> {
    let mut runs = 5usize;
    let mut files: Vec<PathBuf> = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--runs" => runs = args.next().ok_or("--runs needs a value")?.parse()?,
            _ => files.push(a.into()),
        }
    }
    if files.is_empty() {
        return Err("usage: read_speed [--runs N] FILE...".into());
    }
    println!("allocator: {ALLOCATOR}; load average: {}", load_average());
    for path in &files {
        let bytes = std::fs::metadata(path)?.len() as f64;
        let mut best = Duration::MAX;
        let mut ops = 0;
        for _ in 0..runs.max(1) {
            let start = Instant::now();
            let h = read_path(path, None)?;
            let took = start.elapsed();
            ops = h.len();
            drop(h);
            best = best.min(took);
        }
        let secs = best.as_secs_f64();
        println!(
            "{:<40} {:>8.1} MB {:>9} ops {:>8.1} ms {:>7.1} MB/s {:>6.2} M ops/s",
            path.file_name().unwrap_or_default().to_string_lossy(),
            bytes / 1e6,
            ops,
            secs * 1e3,
            bytes / 1e6 / secs,
            ops as f64 / 1e6 / secs
        );
    }
    println!("load average: {}", load_average());
    Ok(())
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}
