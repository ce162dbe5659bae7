//! Seeded histories shaped like the ones issue 17 measured, for the
//! `check_shapes` bench command and the criterion benches:
//!
//! - `register-latency` / `register-latency-bad`: one register, 10
//!   processes, 6,000 reads and writes of distinct values, every op about
//!   300 ms long (request and reply each 50-250 ms, as under added network
//!   latency), so about ten overlap at any time; the bad one has one stale
//!   read late in the run.
//! - `register-crashed`: one register, 10 processes, 100,000 reads and
//!   writes of distinct values, 5% of writes crashed (`info`; half of
//!   them took effect).
//! - `list-append`: 100,000 transactions as Jepsen's default list-append
//!   generator makes them (20 processes, 10 active keys, at most 32
//!   appends per key before it retires, 1-5 micro-ops per txn), against a
//!   serializable store.
//! - `list-append-unretired`: the same with 200 keys never retired, so
//!   reads grow to hundreds of elements.

#![allow(dead_code)]

#[path = "../../tests/elle/gen.rs"]
mod elle_gen;

use checkers::history::{History, Op, OpType};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

/// Every shape, by name.
pub const SHAPES: [&str; 5] = [
    "register-latency",
    "register-latency-bad",
    "register-crashed",
    "list-append",
    "list-append-unretired",
];

/// The history of shape `name`, or `None` for an unknown name.
pub fn generate(name: &str, seed: u64) -> Option<History> {
    Some(match name {
        "register-latency" => register(seed, 6_000, 0.0, false),
        "register-latency-bad" => register(seed, 6_000, 0.0, true),
        "register-crashed" => register(seed, 100_000, 0.05, false),
        "list-append" => list_append(seed, 32, 10),
        "list-append-unretired" => list_append(seed, usize::MAX, 200),
        _ => return None,
    })
}

/// How `temblor check` must be asked to check shape `name`.
pub fn check_args(name: &str) -> &'static [&'static str] {
    if name.starts_with("list-append") {
        &["--workload", "list-append"]
    } else {
        &["--model", "register"]
    }
}

/// The verdict's exit code a correct checker gives shape `name`.
pub fn expected_exit(name: &str) -> i32 {
    i32::from(name.ends_with("-bad"))
}

fn list_append(seed: u64, max_writes_per_key: usize, keys: usize) -> History {
    elle_gen::generate(elle_gen::Config {
        seed,
        txns: 100_000,
        processes: 20,
        keys,
        max_mops: 5,
        max_writes_per_key,
        isolation: elle_gen::Isolation::Serializable,
        fault: None,
    })
}

/// One simulated register op: when it is invoked, takes effect and
/// completes (ms), and what it does.
struct Timed {
    process: u64,
    invoke: u64,
    apply: u64,
    complete: u64,
    write: Option<i64>,
    crashed: bool,
    applied: bool,
}

/// `ops` register ops from 10 processes, each in flight about 300 ms;
/// `crash` of the writes crash; `stale`: one read at 90% of the run
/// returns a value overwritten long before it was invoked.
fn register(seed: u64, ops: usize, crash: f64, stale: bool) -> History {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (procs, mut next_value, mut next_process) = (10u64, 1i64, 10u64);
    let mut clock: Vec<u64> = (0..procs).map(|_| rng.gen_range(0..50)).collect();
    let mut ids: Vec<u64> = (0..procs).collect();
    let mut timed = Vec::with_capacity(ops);
    for i in 0..ops {
        let p = i % procs as usize;
        let invoke = clock[p];
        let apply = invoke + rng.gen_range(50..250);
        let complete = apply + rng.gen_range(50..250);
        let write = rng.gen_bool(0.5).then(|| {
            next_value += 1;
            next_value - 1
        });
        let crashed = write.is_some() && rng.gen_bool(crash);
        timed.push(Timed {
            process: ids[p],
            invoke,
            apply,
            complete,
            write,
            crashed,
            applied: !crashed || rng.gen_bool(0.5),
        });
        if crashed {
            ids[p] = next_process;
            next_process += 1;
        }
        clock[p] = complete + rng.gen_range(0..5);
    }
    let reads = run_register(&timed);
    let stale_at = stale.then(|| stale_read(&timed, ops * 9 / 10));
    let mut events: Vec<(u64, usize, bool)> = Vec::with_capacity(ops * 2);
    for (i, t) in timed.iter().enumerate() {
        events.push((t.invoke, i, true));
        events.push((t.complete, i, false));
    }
    events.sort_unstable();
    let out = events.into_iter().map(|(time, i, invoke)| {
        let t = &timed[i];
        let (f, value) = match (t.write, invoke) {
            (Some(v), _) => ("write", json!(v)),
            (None, true) => ("read", Value::Null),
            (None, false) => match stale_at {
                Some((at, v)) if at == i => ("read", json!(v)),
                _ => ("read", reads[i].map_or(Value::Null, |v| json!(v))),
            },
        };
        let kind = match (invoke, t.crashed) {
            (true, _) => OpType::Invoke,
            (false, true) => OpType::Info,
            (false, false) => OpType::Ok,
        };
        Op::new(t.process, kind, f, value).at(time * 1_000_000)
    });
    History::from_ops("register", out)
}

/// What each read returns when every op takes effect at its `apply` time.
fn run_register(timed: &[Timed]) -> Vec<Option<i64>> {
    let mut order: Vec<usize> = (0..timed.len()).collect();
    order.sort_unstable_by_key(|&i| timed[i].apply);
    let mut reads = vec![None; timed.len()];
    let mut state = None;
    for i in order {
        match timed[i].write {
            Some(v) if timed[i].applied => state = Some(v),
            Some(_) => {}
            None => reads[i] = state,
        }
    }
    reads
}

/// The first read at or after op `from`, and a value written, and
/// overwritten, well before it was invoked.
fn stale_read(timed: &[Timed], from: usize) -> (usize, i64) {
    let r = (from..timed.len())
        .find(|&i| timed[i].write.is_none())
        .unwrap_or(from);
    let old = timed
        .iter()
        .filter(|t| t.applied && t.complete + 2_000 < timed[r].invoke)
        .filter_map(|t| t.write)
        .next_back()
        .unwrap_or(1);
    (r, old)
}

/// Writes `h` to `out`: Jepsen EDN when the name ends in `.edn`, JSON
/// Lines otherwise.
pub fn write(h: &History, out: &Path) -> io::Result<()> {
    let mut w = BufWriter::with_capacity(1 << 20, File::create(out)?);
    if out.extension().is_some_and(|e| e == "edn") {
        for op in &h.ops {
            edn_op(op, &mut w)?;
        }
    } else {
        checkers::format::write_jsonl(h, &mut w)?;
    }
    w.flush()
}

/// One op as a line of Jepsen's `history.edn`: strings become keywords
/// (the shapes hold no other strings).
fn edn_op(op: &Op, w: &mut impl Write) -> io::Result<()> {
    write!(
        w,
        "{{:index {}, :time {}, :type :{}, :process {}, :f :{}, :value ",
        op.index,
        op.time.unwrap_or(0),
        op.kind,
        op.process,
        op.f
    )?;
    edn_value(&op.value, w)?;
    w.write_all(b"}\n")
}

fn edn_value(v: &Value, w: &mut impl Write) -> io::Result<()> {
    match v {
        Value::Null => w.write_all(b"nil"),
        Value::String(s) => write!(w, ":{s}"),
        Value::Array(items) => {
            w.write_all(b"[")?;
            for (i, x) in items.iter().enumerate() {
                if i > 0 {
                    w.write_all(b" ")?;
                }
                edn_value(x, w)?;
            }
            w.write_all(b"]")
        }
        other => write!(w, "{other}"),
    }
}
