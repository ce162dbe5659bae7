//! Run folders for the report tests and the report bench: a synthetic
//! register run with faults, and runs built around reference histories
//! (read from ../shared/histories, never copied).

#![allow(dead_code)] // each user takes what it needs

use checkers::{History, Op, OpType, Process};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use workloads::CheckerSpec;

/// The reference histories, or `None` (with the reason) when absent.
pub fn shared_histories() -> Result<PathBuf, String> {
    let dir = checkers::testing::reference_histories_dir();
    match dir.is_dir() {
        true => Ok(dir),
        false => Err(format!("no reference histories at {}", dir.display())),
    }
}

/// A fresh, empty folder under the system temp dir.
pub fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("temblor-report-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("create temp dir");
    d
}

/// A spec.json like a run writes.
pub fn spec(name: &str, workload: &str, nemesis: &[&str], time_limit: f64, seed: u64) -> Value {
    json!({
        "name": name, "target": {"kind": "raftkv", "bugs": ["lease-reads"]},
        "workload": workload, "nemesis": nemesis,
        "partition_shapes": ["one", "halves"], "nemesis_interval": 5.0,
        "time_limit": time_limit, "recovery_time": 5.0, "concurrency": 10, "nodes": 5,
        "nodes_file": null, "seed": seed, "op_timeout": 2.0,
        "workload_options": {"rate": null}, "results_dir": "results", "teardown": true
    })
}

/// The checkers of the register workload.
pub fn register_checkers() -> Vec<CheckerSpec> {
    workloads::by_name("register")
        .expect("register is a workload")
        .checkers(&workloads::Options::default())
}

/// Writes a run folder `results/<test>/<stamp>` as `temblor test` does
/// (spec, history, checked results), then its report.
pub fn write_run(
    results: &Path,
    test: &str,
    stamp: &str,
    spec: &Value,
    h: &History,
    checks: &[CheckerSpec],
) -> PathBuf {
    let dir = results.join(test).join(stamp);
    std::fs::create_dir_all(dir.join("nodes/n1")).unwrap();
    std::fs::write(dir.join("nodes/n1/raftkv.log"), "started\n").unwrap();
    std::fs::write(
        dir.join("spec.json"),
        serde_json::to_string_pretty(spec).unwrap(),
    )
    .unwrap();
    let f = std::fs::File::create(dir.join("history.jsonl")).unwrap();
    checkers::format::write_jsonl(h, std::io::BufWriter::new(f)).unwrap();
    // Checked and recorded as a run's phase 5 does it.
    let run = harness::run::store::RunDir::open(&dir).unwrap();
    let seed = spec["seed"].as_u64().unwrap_or(0);
    harness::run::conclude(&run, checks, seed).unwrap();
    dir
}

/// A small deterministic PRNG (xorshift), so fixtures need no seed plumbing.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn nemesis(f: &str, value: Value, t: u64) -> Op {
    Op {
        process: Process::Nemesis,
        ..Op::new(0, OpType::Info, f, value).at(t)
    }
}

/// A linearizable register history of about `ops` client operations by
/// 10 workers, one key each (so it is valid by construction), with a
/// partition and a kill every 5 s that slow some ops down and time some
/// reads out (those workers then continue as new processes).
pub fn register_history(ops: usize, seed: u64) -> History {
    let mut rng = Rng(seed | 1);
    let workers = 10u64;
    let mut events: Vec<Op> = Vec::with_capacity(ops * 2 + 64);
    let mut clock = vec![0u64; workers as usize];
    let mut process: Vec<u64> = (0..workers).collect();
    let mut value = vec![0i64; workers as usize];
    for n in 0..ops {
        let w = n % workers as usize;
        let t0 = clock[w] + rng.below(200_000_000);
        let slow = (t0 / 5_000_000_000) % 2 == 1;
        let lat = 500_000 + rng.below(if slow { 40_000_000 } else { 4_000_000 });
        let p = process[w];
        let key = w as i64;
        // Every key starts absent (a read sees null): write it first.
        let pick = if n < workers as usize {
            5
        } else {
            rng.below(10)
        };
        let (f, inv, done, kind) = match pick {
            0..=3 => (
                "read",
                json!([key, null]),
                json!([key, value[w]]),
                OpType::Ok,
            ),
            4..=6 => {
                value[w] = rng.below(5) as i64;
                (
                    "write",
                    json!([key, value[w]]),
                    json!([key, value[w]]),
                    OpType::Ok,
                )
            }
            7 | 8 => {
                let (old, new) = (value[w], rng.below(5) as i64);
                if rng.below(3) == 0 {
                    (
                        "cas",
                        json!([key, [old + 100, new]]),
                        json!([key, [old + 100, new]]),
                        OpType::Fail,
                    )
                } else {
                    value[w] = new;
                    (
                        "cas",
                        json!([key, [old, new]]),
                        json!([key, [old, new]]),
                        OpType::Ok,
                    )
                }
            }
            _ if slow => ("read", json!([key, null]), json!([key, null]), OpType::Info),
            _ => (
                "read",
                json!([key, null]),
                json!([key, value[w]]),
                OpType::Ok,
            ),
        };
        let lat = if kind == OpType::Info {
            2_000_000_000
        } else {
            lat
        };
        events.push(Op::new(p, OpType::Invoke, f, inv).at(t0));
        events.push(Op::new(p, kind, f, done).at(t0 + lat));
        clock[w] = t0 + lat;
        if kind == OpType::Info {
            process[w] += workers;
        }
    }
    let end = clock.iter().copied().max().unwrap_or(0);
    add_faults(&mut events, end);
    events.sort_by_key(|o| o.time);
    History::from_ops("generated register history", events)
}

fn add_faults(events: &mut Vec<Op>, end: u64) {
    let mut t = 5_000_000_000;
    while t + 5_000_000_000 < end {
        events.push(nemesis("start-partition", Value::Null, t));
        events.push(nemesis(
            "start-partition",
            json!({"shape": "halves", "grudge": {"n1": ["n3"]}}),
            t + 20_000_000,
        ));
        events.push(nemesis("kill", Value::Null, t + 1_500_000_000));
        events.push(nemesis("kill", json!(["n2"]), t + 1_510_000_000));
        events.push(nemesis("stop-partition", Value::Null, t + 4_900_000_000));
        events.push(nemesis(
            "stop-partition",
            json!("healed"),
            t + 4_950_000_000,
        ));
        events.push(nemesis("start", Value::Null, t + 4_960_000_000));
        events.push(nemesis("start", json!(["n2"]), t + 4_990_000_000));
        t += 10_000_000_000;
    }
}

/// A register history whose keys and values are markup and quotes, with
/// a stale read so that the failure section shows them too.
pub fn hostile_history() -> History {
    let key = "<b>k</b>\"'";
    let v1 = "<script>alert(1)</script>";
    let v2 =
        "\"quoted\" </script><img src=x onerror=\"document.body.setAttribute('data-pwned','1')\">";
    let ms = 1_000_000;
    let ops = vec![
        Op::new(0, OpType::Invoke, "write", json!([key, v1])).at(ms),
        Op::new(0, OpType::Ok, "write", json!([key, v1])).at(3 * ms),
        Op::new(1, OpType::Invoke, "read", json!([key, null])).at(5 * ms),
        Op::new(1, OpType::Ok, "read", json!([key, v2])).at(7 * ms),
    ];
    History::from_ops("hostile", ops)
}
