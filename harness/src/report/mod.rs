//! The HTML report of a run, the results index and the JUnit file
//! (ARCHITECTURE.md "Results and report"; Jepsen's `checker/perf`,
//! `checker/timeline` and `web.clj`, Knossos's and Porcupine's failure
//! drawings, Elle's explanations).
//!
//! [`write_run`] reads a run's folder and writes `report.html` (one
//! self-contained page: inline CSS, SVG and script, no network, works
//! from file://) into it; [`write_index`] writes `results/index.html`.
//! The report reads and writes run folders through `run::store` (which
//! also writes `junit.xml` and `results.json`); nothing in `run` calls
//! the report, so the dependency goes one way, report to run. Templates are tera, embedded in the binary,
//! with autoescaping on: every value that came from a store or a history
//! is escaped, and data handed to the page's script is JSON with `<`, `>`
//! and `&` escaped so that it cannot close its `<script>` element.

mod elle;
mod findings;
mod index;
mod linear;
mod load;
pub mod merged;
mod ops;
mod page;
mod plot;
pub mod serve;
mod summary;
mod svg;
mod timeline;
mod trends;

pub use load::RunFiles;

use crate::run::store::{self, ResultsDir, RunDir};
use anyhow::Context as _;
use std::path::Path;
use tera::{Context, Tera};

const REPORT: &str = include_str!("../../templates/report.html");
const INDEX: &str = include_str!("../../templates/index.html");
const CSS: &str = include_str!("../../templates/report.css");
const TIMELINE_JS: &str = include_str!("../../templates/timeline.js");

fn engine() -> anyhow::Result<Tera> {
    let mut t = Tera::default();
    t.add_raw_templates([(store::REPORT, REPORT), (store::INDEX, INDEX)])
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

/// Reads the run in `run_dir` and writes its `report.html` (and its
/// `junit.xml` again, from its results, through the store: a run killed
/// before it wrote results gets a junit.xml saying so).
pub fn write_run(run_dir: &Path) -> anyhow::Result<()> {
    let dir = RunDir::open(run_dir)?;
    let run = load::read(&dir)?;
    let html = render_report(&engine()?, &run)?;
    write(&dir.report(), &html)?;
    drop(html);
    timeline::write_pages(&run.ops, &dir)?;
    dir.write_junit(run.results.as_ref())
}

/// The report page of `run`, as HTML.
pub fn render_report(t: &Tera, run: &RunFiles) -> anyhow::Result<String> {
    let page = page::build(run, CSS, TIMELINE_JS)?;
    render(t, store::REPORT, &page)
}

/// Renders the report of the run in `run_dir` without writing anything
/// (for benchmarks and tests).
pub fn render_run(run_dir: &Path) -> anyhow::Result<String> {
    render_report(&engine()?, &load::read(&RunDir::open(run_dir)?)?)
}

/// Writes `results_dir/index.html`: each test's trend, then every run
/// newest first.
pub fn write_index(results_dir: &Path) -> anyhow::Result<()> {
    let results = ResultsDir::new(results_dir);
    let rows = index::rows(&results)?;
    let trends = trends::trends(&rows);
    let html = render(
        &engine()?,
        store::INDEX,
        &serde_json::json!({ "runs": rows, "trends": trends, "css": CSS }),
    )?;
    std::fs::create_dir_all(results_dir)
        .with_context(|| format!("cannot create {}", results_dir.display()))?;
    write(&results.index(), &html)
}
