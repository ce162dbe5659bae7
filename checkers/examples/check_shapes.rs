//! The bench command for issue 17's shapes: writes each seeded history
//! (see `benches/shapes`) as JSON Lines and, for list-append, as EDN too,
//! then times the whole `temblor check` process on each file, printing
//! the best wall time of a few runs, that run's peak RSS (from `wait4`)
//! and the load average. A verdict other than the expected one fails.
//!
//! ```text
//! cargo build --release -p harness
//! cargo run --release -p checkers --example check_shapes -- \
//!     --temblor target/release/temblor [--dir DIR] [--runs N] [SHAPE...]
//! cargo run --release -p checkers --example check_shapes -- --write DIR [SHAPE...]
//! ```
//!
//! Files are kept in DIR (default: the system's temp folder) and reused
//! when present, as generating the 235 MB EDN file takes a while.

#[path = "../benches/shapes/mod.rs"]
mod shapes;

use std::error::Error;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const SEED: u64 = 17;

struct Args {
    temblor: Option<PathBuf>,
    dir: PathBuf,
    runs: usize,
    shapes: Vec<String>,
}

fn main() -> Result<(), Box<dyn Error>> {
    let args = parse()?;
    std::fs::create_dir_all(&args.dir)?;
    println!("load average: {}", load_average());
    for name in &args.shapes {
        for path in files(&args.dir, name)? {
            let Some(temblor) = &args.temblor else {
                println!("{}", path.display());
                continue;
            };
            let (wall, rss, code) = best_of(temblor, &path, name, args.runs)?;
            let want = shapes::expected_exit(name);
            println!(
                "{:<40} {:>9.1} ms  peak RSS {:>7.1} MiB  exit {code}{}",
                path.file_name().unwrap_or_default().to_string_lossy(),
                wall.as_secs_f64() * 1e3,
                rss as f64 / 1024.0,
                if code == want { "" } else { "  UNEXPECTED" }
            );
            if code != want {
                return Err(format!("{}: exit {code}, expected {want}", path.display()).into());
            }
        }
    }
    println!("load average: {}", load_average());
    Ok(())
}

fn parse() -> Result<Args, Box<dyn Error>> {
    let mut args = Args {
        temblor: None,
        dir: std::env::temp_dir().join("temblor-shapes"),
        runs: 3,
        shapes: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--temblor" => args.temblor = Some(value()?.into()),
            "--dir" | "--write" => args.dir = value()?.into(),
            "--runs" => args.runs = value()?.parse()?,
            name if shapes::SHAPES.contains(&name) => args.shapes.push(name.into()),
            other => {
                return Err(format!(
                    "unknown argument {other:?} (shapes: {})",
                    shapes::SHAPES.join(", ")
                )
                .into())
            }
        }
    }
    if args.shapes.is_empty() {
        args.shapes = shapes::SHAPES.iter().map(|s| s.to_string()).collect();
    }
    Ok(args)
}

/// The files of shape `name`, written unless already there.
fn files(dir: &Path, name: &str) -> Result<Vec<PathBuf>, Box<dyn Error>> {
    let mut exts = vec!["jsonl"];
    if name.starts_with("list-append") {
        exts.push("edn");
    }
    let paths: Vec<PathBuf> = exts
        .iter()
        .map(|e| dir.join(format!("{name}-seed{SEED}.{e}")))
        .collect();
    if paths.iter().all(|p| p.is_file()) {
        return Ok(paths);
    }
    let h = shapes::generate(name, SEED).ok_or("unknown shape")?;
    for p in &paths {
        shapes::write(&h, p)?;
    }
    Ok(paths)
}

/// The fastest of `runs` runs: wall time, its peak RSS in KiB, its exit code.
fn best_of(
    temblor: &Path,
    path: &Path,
    name: &str,
    runs: usize,
) -> Result<(Duration, i64, i32), Box<dyn Error>> {
    let mut best: Option<(Duration, i64, i32)> = None;
    for _ in 0..runs.max(1) {
        let start = Instant::now();
        let child = Command::new(temblor)
            .arg("check")
            .arg(path)
            .args(shapes::check_args(name))
            .stdout(std::process::Stdio::null())
            .spawn()?;
        let (code, rss) = wait(child.id() as i32)?;
        let wall = start.elapsed();
        if best.is_none_or(|b| wall < b.0) {
            best = Some((wall, rss, code));
        }
    }
    best.ok_or_else(|| "no run".into())
}

/// Waits for `pid`: its exit code and peak RSS in KiB.
fn wait(pid: i32) -> Result<(i32, i64), Box<dyn Error>> {
    let mut status = 0;
    // SAFETY: both out-pointers are to live locals of the right types.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    if r != pid {
        return Err(std::io::Error::last_os_error().into());
    }
    Ok((libc::WEXITSTATUS(status), usage.ru_maxrss))
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}
