//! Reads a history file and prints how many ops it holds and how fast it
//! read, or writes a generated one: a harness for measuring the readers'
//! speed and peak memory with `/usr/bin/time -v`.
//!
//! ```text
//! cargo run --release -p checkers --example read_history -- FILE [FORMAT]
//! cargo run --release -p checkers --example read_history -- --generate N FILE.jsonl|FILE.edn
//! ```

#[path = "../benches/gen/mod.rs"]
mod gen;

use checkers::format::{read_path, Format};
use std::error::Error;
use std::path::Path;
use std::time::Instant;

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [flag, n, out] if flag == "--generate" => Ok(gen::write(n.parse()?, Path::new(out))?),
        [path] => measure(Path::new(path), None),
        [path, format] => measure(Path::new(path), Some(format.parse()?)),
        _ => Err("usage: read_history FILE [FORMAT] | --generate N FILE.jsonl|FILE.edn".into()),
    }
}

fn measure(path: &Path, format: Option<Format>) -> Result<(), Box<dyn Error>> {
    let start = Instant::now();
    let h = read_path(path, format)?;
    let secs = start.elapsed().as_secs_f64();
    let pairs = h.operations()?.len();
    println!(
        "{}: {} ops ({pairs} operations) in {secs:.3} s: {:.0} ops/s",
        path.display(),
        h.len(),
        h.len() as f64 / secs
    );
    Ok(())
}
