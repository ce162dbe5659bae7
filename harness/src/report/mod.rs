//! The HTML report of a run, the results index and the JUnit file
//! (ARCHITECTURE.md "Results and report"; Jepsen's `checker/perf`,
//! `checker/timeline` and `web.clj`, Knossos's and Porcupine's failure
//! drawings, Elle's explanations).
//!
//! [`write_run`] reads a run's folder and writes `report.html` (one
//! self-contained page: inline CSS, SVG and script, no network, works
//! from file://) and `junit.xml` into it; [`write_index`] writes
//! `results/index.html`. Templates are tera, embedded in the binary,
//! with autoescaping on: every value that came from a store or a history
//! is escaped, and data handed to the page's script is JSON with `<`, `>`
//! and `&` escaped so that it cannot close its `<script>` element.

mod elle;
mod findings;
mod index;
mod junit;
mod linear;
mod load;
mod ops;
mod page;
mod plot;
pub mod results;
pub mod serve;
mod summary;
mod svg;
mod timeline;

pub use load::RunFiles;
pub use results::ResultsFile;

use anyhow::Context as _;
use std::path::Path;
use tera::{Context, Tera};

const REPORT: &str = include_str!("../../templates/report.html");
const INDEX: &str = include_str!("../../templates/index.html");
const JUNIT: &str = include_str!("../../templates/junit.xml");
const CSS: &str = include_str!("../../templates/report.css");
const TIMELINE_JS: &str = include_str!("../../templates/timeline.js");

fn engine() -> anyhow::Result<Tera> {
    let mut t = Tera::default();
    t.add_raw_templates([
        ("report.html", REPORT),
        ("index.html", INDEX),
        ("junit.xml", JUNIT),
    ])
    .context("the embedded report templates do not parse")?;
    Ok(t)
}

fn render<T: serde::Serialize>(t: &Tera, name: &str, value: &T) -> anyhow::Result<String> {
    let ctx = Context::from_serialize(value).context("cannot build the template context")?;
    t.render(name, &ctx)
        .with_context(|| format!("cannot render {name}"))
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// Reads the run in `run_dir` and writes its `report.html` and
/// `junit.xml`; adds `client_ops` and `duration_s` to its results.json
/// when they are missing.
pub fn write_run(run_dir: &Path) -> anyhow::Result<()> {
    let run = load::read(run_dir)?;
    let t = engine()?;
    let html = render_report(&t, &run)?;
    write(&run_dir.join("report.html"), &html)?;
    drop(html);
    timeline::write_pages(&run.ops, run_dir)?;
    let ops = &run.ops;
    let duration = ops.end as f64 / 1e9;
    let test = run.spec["name"].as_str().unwrap_or("run");
    let suite = junit::suite(test, run.results.as_ref(), duration);
    write(
        &run_dir.join("junit.xml"),
        &render(&t, "junit.xml", &suite)?,
    )?;
    if let Some(mut r) = run.results {
        if r.client_ops.is_none() || r.duration_s.is_none() {
            r.client_ops = Some(ops.spans.len() as u64);
            r.duration_s = Some((duration * 1000.0).round() / 1000.0);
            let text = serde_json::to_string_pretty(&r)? + "\n";
            write(&run_dir.join("results.json"), &text)?;
        }
    }
    Ok(())
}

/// The report page of `run`, as HTML.
pub fn render_report(t: &Tera, run: &RunFiles) -> anyhow::Result<String> {
    let page = page::build(run, CSS, TIMELINE_JS)?;
    render(t, "report.html", &page)
}

/// Renders the report of the run in `run_dir` without writing anything
/// (for benchmarks and tests).
pub fn render_run(run_dir: &Path) -> anyhow::Result<String> {
    render_report(&engine()?, &load::read(run_dir)?)
}

/// Writes `results_dir/index.html`, listing every run newest first.
pub fn write_index(results_dir: &Path) -> anyhow::Result<()> {
    let rows = index::rows(results_dir)?;
    let html = render(
        &engine()?,
        "index.html",
        &serde_json::json!({ "runs": rows, "css": CSS }),
    )?;
    std::fs::create_dir_all(results_dir)
        .with_context(|| format!("cannot create {}", results_dir.display()))?;
    write(&results_dir.join("index.html"), &html)
}
