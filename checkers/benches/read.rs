//! Reading speed of the history readers on generated files: 1,000,000
//! list-append ops as JSON Lines and as Jepsen EDN. Criterion prints ops/s
//! (throughput in elements); the bench prints the process's peak RSS last.

mod gen;

use checkers::format::{read_path, Format};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::path::Path;

const OPS: usize = 1_000_000;

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn read(path: &Path, format: Format) -> usize {
    let h = read_path(path, Some(format)).unwrap();
    assert_eq!(h.len(), OPS);
    h.len()
}

fn bench_read(c: &mut Criterion) {
    let base = std::env::temp_dir().join(format!("temblor-bench-{}", std::process::id()));
    let (jsonl, edn) = (base.with_extension("jsonl"), base.with_extension("edn"));
    gen::write(OPS, &jsonl).unwrap();
    gen::write(OPS, &edn).unwrap();
    let mut g = c.benchmark_group("read_1m_ops");
    g.sample_size(10)
        .throughput(Throughput::Elements(OPS as u64));
    for (name, path, format) in [("jsonl", &jsonl, Format::Jsonl), ("edn", &edn, Format::Edn)] {
        g.bench_function(name, |b| b.iter(|| read(path, format)));
    }
    g.finish();
    for p in [&jsonl, &edn] {
        let size = std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        println!("{}: {size} bytes", p.display());
        let _ = std::fs::remove_file(p);
    }
    println!("peak RSS of the bench process: {:?} KiB", peak_rss_kib());
}

criterion_group!(benches, bench_read);
criterion_main!(benches);
