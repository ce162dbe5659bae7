//! Checks one history file for linearizability and prints the answer and
//! how long it took: a stand-in for `temblor check` while measuring the
//! checker (run it under `/usr/bin/time -v` for peak memory).
//!
//! `cargo run --release -p checkers --example linear_check -- FILE MODEL
//! [--initial JSON] [--wildcard] [--whole-map] [--independent]
//! [--time-limit-ms N] [--no-shrink] [--all-partitions] [--repeat N]`

use checkers::format::read_path;
use checkers::linear::{check_spec, CheckOptions, ModelSpec, NilReads};
use std::path::Path;
use std::time::{Duration, Instant};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [file, model, rest @ ..] = args.as_slice() else {
        return Err("usage: linear_check FILE MODEL [options]".into());
    };
    let mut spec = ModelSpec::new(model.parse()?);
    let mut opts = CheckOptions::default();
    let mut repeat = 1;
    let mut it = rest.iter();
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--initial" => spec.initial = serde_json::from_str(it.next().ok_or("--initial JSON")?)?,
            "--wildcard" => spec.nil_reads = NilReads::Wildcard,
            "--whole-map" => spec.split_keys = false,
            "--independent" => spec.independent = true,
            "--time-limit-ms" => {
                let ms: u64 = it.next().ok_or("--time-limit-ms N")?.parse()?;
                opts.time_limit = Some(Duration::from_millis(ms));
            }
            "--no-shrink" => opts.shrink_time_limit = Duration::ZERO,
            "--all-partitions" => opts.stop_early = false,
            "--repeat" => repeat = it.next().ok_or("--repeat N")?.parse()?,
            other => return Err(format!("unknown option {other}").into()),
        }
    }
    let history = read_path(Path::new(file), None)?;
    let mut best = f64::MAX;
    let mut last = None;
    for _ in 0..repeat {
        let start = Instant::now();
        let r = check_spec(&history, &spec, &opts)?;
        best = best.min(start.elapsed().as_secs_f64() * 1e3);
        last = Some(r);
    }
    if let Some(r) = last {
        print!("{r}");
        println!("best of {repeat}: {best:.3} ms per check");
    }
    Ok(())
}
