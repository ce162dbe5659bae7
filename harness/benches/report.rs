//! How fast a run's report renders, and how big it gets: a generated
//! register history (10 workers, partitions and kills every 10 s) is
//! written as a run folder, then `report::write_run` reads it and writes
//! report.html and junit.xml. Prints the time (best and median of 3)
//! and the size of report.html. Target (issue 6): 100,000 ops in under
//! 3 s and under 10 MB.
//!
//! `cargo bench -p harness --bench report` (TEMBLOR_BENCH_REPORT_OPS:
//! comma-separated op counts, default 100000,1000000).

#[path = "../tests/report/fixtures.rs"]
mod fixtures;

use std::time::{Duration, Instant};
use workloads::CheckerSpec;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let counts =
        std::env::var("TEMBLOR_BENCH_REPORT_OPS").unwrap_or_else(|_| "100000,1000000".into());
    for n in counts.split(',') {
        bench(n.trim().parse()?)?;
    }
    Ok(())
}

fn bench(ops: usize) -> Result<(), Box<dyn std::error::Error>> {
    let results = fixtures::temp_dir(&format!("bench-{ops}"));
    let history = fixtures::register_history(ops, 11);
    let spec = fixtures::spec("bench", "register", &["partition", "kill"], 1000.0, 11);
    // The linearizability check is not what is measured: stats only.
    let dir = fixtures::write_run(
        &results,
        "bench",
        "20260101T000000",
        &spec,
        &history,
        &[CheckerSpec::Stats],
    );
    let history_bytes = std::fs::metadata(dir.join("history.jsonl"))?.len();
    let mut times: Vec<Duration> = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        harness::report::write_run(&dir)?;
        times.push(t.elapsed());
    }
    times.sort();
    let html = std::fs::metadata(dir.join("report.html"))?.len();
    println!(
        "report of {ops} ops (history.jsonl {:.1} MB): write_run best {:.2} s, median {:.2} s; report.html {:.2} MB",
        history_bytes as f64 / 1e6,
        times[0].as_secs_f64(),
        times[1].as_secs_f64(),
        html as f64 / 1e6
    );
    std::fs::remove_dir_all(&results)?;
    Ok(())
}
