//! The bench command for the history readers alone: reads each file with
//! `format::read_path` (the plain path, which builds every op's JSON
//! value: what `temblor check` without `--workload` uses) a few times and
//! prints the best run as MB/s and ops/s, with the load average.
//!
//! Each read runs in a fresh process (this program, started again with
//! `--once`), as `temblor check` reads: a second read in one process
//! would start on a heap full of the first one's freed memory, which
//! glibc's malloc first has to sort (`malloc_consolidate`), and would not
//! pay the page faults a fresh process pays.
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
use std::path::{Path, PathBuf};
use std::process::Command;
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
            "--once" => return once(Path::new(&args.next().ok_or("--once needs a file")?)),
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
            let out = Command::new(std::env::current_exe()?)
                .arg("--once")
                .arg(path)
                .output()?;
            let text = String::from_utf8_lossy(&out.stdout);
            let Some((n, nanos)) = text.trim().split_once(' ') else {
                let err = String::from_utf8_lossy(&out.stderr);
                return Err(format!("{}: {err}", path.display()).into());
            };
            ops = n.parse()?;
            best = best.min(Duration::from_nanos(nanos.parse()?));
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

/// Reads `path` once: prints the number of ops and the nanoseconds the
/// read took.
fn once(path: &Path) -> Result<(), Box<dyn Error>> {
    let start = Instant::now();
    let h = read_path(path, None)?;
    let took = start.elapsed();
    println!("{} {}", h.len(), took.as_nanos());
    Ok(())
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}
