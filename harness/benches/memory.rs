//! How much memory a long run's verdict and report take (issue 14: a
//! 10,000,000-record register history checked and reported within 4 GB).
//! Generates a linearizable cas-register history on independent keys
//! (three processes per key whose ops overlap, partitions now and then)
//! as a run folder, then runs, each in a child process whose peak
//! resident memory it reads back (`wait4`):
//!
//! - the run's own phase 5 (`run::conclude`: CSV, the register workload's
//!   checkers, results.json, report.html);
//! - `temblor check <run> --independent`;
//! - `temblor report <run>`.
//!
//! `cargo bench -p harness --bench memory` (TEMBLOR_BENCH_RECORDS: the
//! history's records, default 10000000; the run folder is removed after).
//!
//! Measured on the 2-core development machine (load average about 10,
//! shared): 10,000,000 records (1.06 GB) — run phase 5 peak 0.81 GB in
//! 100 s (valid); `temblor check --independent` 0.33 GB in 37 s; `temblor
//! report` 0.78 GB in 17 s. Before (the history read whole, twice in a
//! run): `temblor check` 4.78 GB, and 1,000,000 records took 0.47 GB to
//! check and 0.50 GB to report.

use serde_json::json;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

const CONCLUDE: &str = "--conclude";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == CONCLUDE) {
        return conclude(Path::new(&args[at + 1]));
    }
    let records: u64 = std::env::var("TEMBLOR_BENCH_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000_000);
    let results = std::env::temp_dir().join(format!("temblor-bench-memory-{}", std::process::id()));
    let run = results.join("bench-memory/20260101T000000");
    std::fs::create_dir_all(&run)?;
    let t = Instant::now();
    let bytes = generate(&run, records)?;
    println!(
        "history: {records} records, {:.2} GB of JSON Lines, generated in {:.0} s",
        bytes as f64 / 1e9,
        t.elapsed().as_secs_f64()
    );
    let me = std::env::current_exe()?;
    let temblor = env!("CARGO_BIN_EXE_temblor");
    let run_s = run.to_str().ok_or("temp path")?;
    measure(
        "run phase 5 (check + report)",
        Command::new(&me).args([CONCLUDE, run_s]),
    )?;
    let results_json = std::fs::read_to_string(run.join("results.json"))?;
    let verdict: serde_json::Value = serde_json::from_str(&results_json)?;
    println!("  verdict: {}", verdict["verdict"]);
    measure(
        "temblor check --independent",
        Command::new(temblor).args(["check", run_s, "--independent"]),
    )?;
    measure(
        "temblor report",
        Command::new(temblor).args(["report", run_s]),
    )?;
    std::fs::remove_dir_all(&results)?;
    Ok(())
}

/// The run's phase 5 on `dir`, in this (child) process.
fn conclude(dir: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let checkers = workloads::by_name("register")?.checkers(&workloads::Options::default());
    let dir = harness::run::store::RunDir {
        path: dir.to_path_buf(),
    };
    harness::run::conclude(&dir, &checkers, 1)?;
    Ok(())
}

/// Runs `cmd` and prints its wall time and peak resident memory.
fn measure(what: &str, cmd: &mut Command) -> Result<(), Box<dyn std::error::Error>> {
    let t = Instant::now();
    let child = cmd
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: a zeroed rusage is a valid value for wait4 to fill in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our child, not yet waited for; the pointers are to
    // live locals.
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    if waited != pid {
        return Err(format!("wait4 failed for {what}").into());
    }
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr {
        std::io::Read::read_to_string(&mut e, &mut stderr)?;
    }
    let code = libc::WEXITSTATUS(status);
    println!(
        "{what}: peak RSS {:.2} GB, {:.0} s, exit {code}",
        usage.ru_maxrss as f64 * 1024.0 / 1e9,
        t.elapsed().as_secs_f64()
    );
    if !matches!(code, 0..=2) {
        return Err(format!("{what} failed: {stderr}").into());
    }
    Ok(())
}

/// Writes spec.json and a history of about `records` records into `dir`;
/// returns the history's size.
fn generate(dir: &Path, records: u64) -> Result<u64, Box<dyn std::error::Error>> {
    let spec = json!({
        "name": "bench-memory", "workload": "register", "nemesis": ["partition"],
        "time_limit": 3600.0, "concurrency": 30, "nodes": 5, "seed": 1,
    });
    std::fs::write(dir.join("spec.json"), serde_json::to_string_pretty(&spec)?)?;
    let path: PathBuf = dir.join("history.jsonl");
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(&path)?);
    let mut g = Gen::default();
    while g.index < records {
        g.round(&mut out)?;
    }
    out.flush()?;
    Ok(std::fs::metadata(&path)?.len())
}

/// A register history, round by round: in each round every key gets three
/// concurrent ops (invoked together, then completed in another order),
/// which took effect in the order of a seeded shuffle.
#[derive(Default)]
struct Gen {
    index: u64,
    time: u64,
    round: u64,
    rng: u64,
    values: Vec<u64>,
}

const KEYS: u64 = 1000;

impl Gen {
    fn next(&mut self, n: u64) -> u64 {
        self.rng = self
            .rng
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.rng >> 33) % n
    }

    fn record(
        &mut self,
        out: &mut impl Write,
        process: serde_json::Value,
        kind: &str,
        f: &str,
        value: serde_json::Value,
    ) -> std::io::Result<()> {
        self.time += 10_000;
        let node = format!("n{}", self.index % 5 + 1);
        let line = json!({"index": self.index, "time": self.time, "process": process,
            "type": kind, "f": f, "value": value, "node": node});
        self.index += 1;
        writeln!(out, "{line}")
    }

    fn round(&mut self, out: &mut impl Write) -> std::io::Result<()> {
        if self.values.is_empty() {
            self.values = vec![0; KEYS as usize];
            for k in 0..KEYS {
                let p = k * 3;
                self.record(out, json!(p), "invoke", "write", json!([k, 0]))?;
                self.record(out, json!(p), "ok", "write", json!([k, 0]))?;
            }
        }
        if self.round % 100 == 1 {
            let f = ["start-partition", "stop-partition"][(self.round / 100 % 2) as usize];
            self.record(out, json!("nemesis"), "info", f, json!(null))?;
            self.record(out, json!("nemesis"), "info", f, json!("done"))?;
        }
        for k in 0..KEYS {
            let ops: Vec<(u64, &str, serde_json::Value)> = (0..3)
                .map(|j| {
                    let (f, v) = match self.next(3) {
                        0 => ("read", json!(null)),
                        1 => ("write", json!(self.next(5))),
                        _ => ("cas", json!([self.next(5), self.next(5)])),
                    };
                    (k * 3 + j, f, v)
                })
                .collect();
            for (p, f, v) in &ops {
                self.record(out, json!(p), "invoke", f, json!([k, v]))?;
            }
            // Their effects, in a shuffled order.
            let mut order = [0usize, 1, 2];
            for i in (1..3).rev() {
                order.swap(i, self.next(i as u64 + 1) as usize);
            }
            let mut done = Vec::new();
            for &i in &order {
                let (p, f, v) = &ops[i];
                let state = &mut self.values[k as usize];
                let (kind, result) = match *f {
                    "read" => ("ok", json!(*state)),
                    "write" => {
                        *state = v.as_u64().unwrap_or(0);
                        ("ok", v.clone())
                    }
                    _ => {
                        let (from, to) = (v[0].as_u64(), v[1].as_u64().unwrap_or(0));
                        match from == Some(*state) {
                            true => {
                                *state = to;
                                ("ok", v.clone())
                            }
                            false => ("fail", v.clone()),
                        }
                    }
                };
                done.push((*p, kind, *f, result));
            }
            // Completions come back in yet another order.
            let first = self.next(3) as usize;
            for i in 0..3 {
                let (p, kind, f, result) = &done[(first + i) % 3];
                self.record(out, json!(p), kind, f, json!([k, result]))?;
            }
        }
        self.round += 1;
        Ok(())
    }
}
