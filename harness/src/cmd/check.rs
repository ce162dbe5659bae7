//! `temblor check`: re-analyse a history file or a stored run, from the
//! terminal, with a verdict as the exit code (0 valid, 1 invalid, 2
//! unknown). A run folder given with no flag that chooses the analysis is
//! checked as the run was, with its workload's checkers and options from
//! its spec.json (Jepsen's `analyze`). Otherwise linearizability
//! (Knossos/Porcupine style) by default; Elle's
//! transactional checker with `--workload list-append|rw-register`
//! (reading the file straight into micro-ops); with any other `--workload
//! NAME`, every checker that workload's runs use, through `checkers`'
//! registry as `temblor test` does (a stored run keeps its own workload
//! options).

use super::UsageError;
use anyhow::Context as _;
use checkers::checker::{self as registry, CheckResult, CheckerSpec, Limits};
use checkers::elle::{self, ElleOptions};
use checkers::format::{self, Format};
use checkers::linear::{self, CheckOptions, Decider, ModelKind, ModelSpec, NilReads};
use checkers::{History, Verdict};
use harness::run::{large, store};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Check a history: linearizability against a model, or transactional
/// anomalies (Elle) for list-append and rw-register histories.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// A history file (temblor JSON Lines, Jepsen/Knossos/Elle EDN,
    /// Porcupine kv), or a run directory holding history.jsonl (e.g.
    /// results/latest), checked as the run was unless --workload, --model,
    /// --checker, --independent or --no-split say otherwise.
    pub path: PathBuf,

    /// The file's format; detected from its first bytes when absent.
    #[arg(long, value_name = "jsonl|edn|porcupine-kv")]
    pub format: Option<Format>,

    /// The sequential model the history must be linearizable against
    /// (default: cas-register).
    #[arg(long, value_name = "MODEL")]
    pub model: Option<ModelKind>,

    /// The registers' initial value, as JSON (e.g. 0, "x", null; default:
    /// null).
    #[arg(long, value_name = "JSON")]
    pub initial: Option<String>,

    /// How a read of nil is judged: `absent` (legal only while nothing has
    /// been written, the default) or `wildcard` (Knossos: always legal, an
    /// unknown read).
    #[arg(long, value_name = "absent|wildcard")]
    pub nil_reads: Option<NilReads>,

    /// Values are Jepsen's independent `[key, value]` tuples: check every
    /// key on its own (the register workload writes these).
    #[arg(long)]
    pub independent: bool,

    /// kv only: check the whole map as one state instead of key by key
    /// (slower; P-compositionality makes both agree).
    #[arg(long)]
    pub no_split: bool,

    /// How to check a history for linearizability: `auto` (a register
    /// whose written values are distinct is decided by Gibbons and
    /// Korach's zones in O(n log n), anything else by the search), `search`
    /// (Wing-Gong-Lowe only, any history) or `graph` (through Elle's
    /// dependency graph, registers with unique written values; says unknown
    /// when its inference cannot decide). Default: auto.
    #[arg(long, value_name = "auto|search|graph")]
    pub checker: Option<CheckerKind>,

    /// Check with every checker of this workload instead of one
    /// linearizability model: register, list-append, rw-register, set,
    /// counter, bank, unique-ids, lock, queue. A run folder is checked
    /// with the options it ran with (and, without this flag, with the
    /// workload it ran); for a file, `--independent` says whether values
    /// are `[key, value]` tuples (register, set).
    #[arg(long, value_name = "NAME")]
    pub workload: Option<String>,

    /// bank: the accounts there are, `0` to `N-1` (default: a run's; for
    /// a file, any account a read names).
    #[arg(long, value_name = "N")]
    pub accounts: Option<usize>,

    /// bank: what every read must add up to (default: a run's; for a
    /// file, Jepsen's 100).
    #[arg(long, value_name = "AMOUNT")]
    pub total: Option<i64>,

    /// bank: balances may go below zero.
    #[arg(long)]
    pub negative_balances: bool,

    /// Elle: the consistency models to check, comma-separated (e.g.
    /// strict-serializable, serializable, snapshot-isolation,
    /// repeatable-read, read-committed).
    #[arg(long, value_delimiter = ',', value_name = "MODELS")]
    pub consistency_models: Vec<elle::Model>,

    /// Give up with "unknown" after this long (e.g. 500ms, 30s, 5m).
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub time_limit: Option<Duration>,

    /// Give up with "unknown" when the search holds more than this much
    /// memory (e.g. 512MiB, 4GiB).
    #[arg(long, value_parser = parse_bytes, value_name = "SIZE")]
    pub memory_limit: Option<usize>,

    /// Print the result as JSON (the data the report renders) instead of text.
    #[arg(long)]
    pub json: bool,

    /// Also write the history as CSV to this file.
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
}

/// The linearizability checkers `--checker` chooses between.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum CheckerKind {
    /// The quickest decision that applies.
    Auto,
    /// Wing-Gong-Lowe search (Knossos, Porcupine): any history.
    Search,
    /// Elle's dependency graph with real-time edges: registers with unique
    /// written values.
    Graph,
}

impl Args {
    /// Whether a flag chooses what to check, rather than adjusting the
    /// checkers a stored run chose.
    fn chooses_analysis(&self) -> bool {
        self.workload.is_some()
            || self.model.is_some()
            || self.checker.is_some()
            || self.independent
            || self.no_split
    }

    fn model(&self) -> ModelKind {
        self.model.unwrap_or(ModelKind::CasRegister)
    }
}

/// Runs the check; returns the verdict's exit code.
pub fn run(mut args: Args) -> anyhow::Result<u8> {
    let path = history_path(&args.path)?;
    if !args.chooses_analysis() {
        if let Some(workload) = stored_workload(&args.path)? {
            eprintln!(
                "temblor: checking as the run did: the {workload} workload's checkers and options \
                 from {} (--workload or --model choose otherwise)",
                args.path.join(store::SPEC).display()
            );
            let checked = match args.csv.is_none() && large::is_large(&path) {
                true => check_workload_split(&path, &workload, &args)?,
                false => {
                    args.workload = Some(workload);
                    check_history(&path, &args, None, CheckerKind::Auto)?
                }
            };
            return finish(checked, &args);
        }
    }
    let checker_kind = args.checker.unwrap_or(CheckerKind::Auto);
    let elle_workload = match args.workload.as_deref() {
        Some("list-append") => Some(elle::Workload::ListAppend),
        Some("rw-register") => Some(elle::Workload::RwRegister),
        _ => None,
    };
    let checked = match (elle_workload, checker_kind, &args.csv) {
        // Elle reads the file itself, keeping micro-ops, not JSON values.
        (Some(workload), _, None) => check_elle(Elle::File(&path), workload, &args)?,
        // A large history checked key by key is split on disk first.
        (None, CheckerKind::Auto | CheckerKind::Search, None)
            if args.independent
                && matches!(args.format, None | Some(Format::Jsonl))
                && large::is_large(&path) =>
        {
            let decider = match checker_kind {
                CheckerKind::Auto => Decider::Auto,
                _ => Decider::Search,
            };
            check_linear_split(&path, &args, decider)?
        }
        (elle_workload, checker, _) => check_history(&path, &args, elle_workload, checker)?,
    };
    finish(checked, &args)
}

/// Reads the history at `path` into memory and checks it as `args` say.
fn check_history(
    path: &Path,
    args: &Args,
    elle_workload: Option<elle::Workload>,
    checker: CheckerKind,
) -> anyhow::Result<(Verdict, String, Value)> {
    let history = format::read_path(path, args.format).map_err(|e| UsageError(e.to_string()))?;
    if let Some(line) = history.torn_line {
        eprintln!("{}", torn_note(path, line));
    }
    if let Some(out) = &args.csv {
        write_csv(&history, out)?;
    }
    match (elle_workload, &args.workload, checker) {
        (Some(workload), _, _) => check_elle(Elle::History(&history), workload, args),
        (None, Some(name), _) => check_workload(&history, name, args),
        (None, None, CheckerKind::Graph) => check_graph(&history, args),
        (None, None, CheckerKind::Auto) => check_linear(&history, args, Decider::Auto),
        (None, None, CheckerKind::Search) => check_linear(&history, args, Decider::Search),
    }
}

/// Prints the result as text or JSON; returns the verdict's exit code.
fn finish((verdict, text, json): (Verdict, String, Value), args: &Args) -> anyhow::Result<u8> {
    let mut out = if args.json {
        serde_json::to_string_pretty(&json)?
    } else {
        text
    };
    if !out.ends_with('\n') {
        out.push('\n');
    }
    print_quietly(&out)?;
    Ok(verdict.exit_code() as u8)
}

/// Prints `text`; a reader that went away (`temblor check ... | head`) is
/// no error (ripgrep's habit), anything else is.
fn print_quietly(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => r.context("cannot write to standard output"),
    }
}

/// What `check` says about a history whose last record was cut short.
fn torn_note(path: &Path, line: u32) -> String {
    format!(
        "temblor: {}:{line}: the last record was cut short (its writer was killed \
         mid-line) and is skipped: 1 record cut; checking the {} before it",
        path.display(),
        match line {
            1 => "nothing".to_string(),
            n => format!("{} line(s)", n - 1),
        }
    )
}

/// A history file as given, or `history.jsonl` inside a run directory.
fn history_path(path: &Path) -> anyhow::Result<PathBuf> {
    if path.is_dir() {
        let file = path.join(store::HISTORY);
        if !file.is_file() {
            return Err(UsageError(format!(
                "{}: a directory without {}",
                path.display(),
                store::HISTORY
            ))
            .into());
        }
        return Ok(file);
    }
    if !path.exists() {
        return Err(UsageError(format!("{}: no such file or directory", path.display())).into());
    }
    Ok(path.to_path_buf())
}

/// `check_linear` on a history too large to hold, one group of keys at a
/// time (`--time-limit` applies to each group).
fn check_linear_split(
    path: &Path,
    args: &Args,
    decider: Decider,
) -> anyhow::Result<(Verdict, String, Value)> {
    let spill = large::split_by_key(path).map_err(|e| UsageError(format!("{e:#}")))?;
    let mut parts = Vec::new();
    for history in spill.histories() {
        let (_, _, json) = check_linear(&history?, args, decider)?;
        parts.push(serde_json::from_value(json)?);
    }
    let result = spill.merge_linear(parts);
    Ok((
        result.verdict,
        result.to_string(),
        serde_json::to_value(&result)?,
    ))
}

fn check_linear(
    history: &History,
    args: &Args,
    decider: Decider,
) -> anyhow::Result<(Verdict, String, Value)> {
    let initial = parse_initial(args.initial.as_deref().unwrap_or("null"))?;
    let spec = ModelSpec {
        kind: args.model(),
        initial,
        nil_reads: args.nil_reads.unwrap_or_default(),
        independent: args.independent,
        split_keys: !args.no_split,
    };
    let opts = CheckOptions {
        time_limit: args.time_limit,
        memory_budget: args.memory_limit,
        decider,
        ..CheckOptions::default()
    };
    let result =
        linear::check_spec(history, &spec, &opts).map_err(|e| UsageError(e.to_string()))?;
    Ok((
        result.verdict,
        result.to_string(),
        serde_json::to_value(&result)?,
    ))
}

fn check_graph(history: &History, args: &Args) -> anyhow::Result<(Verdict, String, Value)> {
    if !matches!(args.model(), ModelKind::CasRegister | ModelKind::Register) {
        return Err(UsageError(format!(
            "--checker graph checks registers; --model {} needs --checker search",
            args.model()
        ))
        .into());
    }
    let opts = elle::GraphLinearOptions {
        independent: args.independent,
        initial: parse_initial(args.initial.as_deref().unwrap_or("null"))?,
    };
    let result =
        elle::check_register_graph(history, &opts).map_err(|e| UsageError(e.to_string()))?;
    Ok((
        result.verdict,
        result.render(),
        serde_json::to_value(&result)?,
    ))
}

fn parse_initial(text: &str) -> anyhow::Result<Value> {
    serde_json::from_str(text)
        .map_err(|e| UsageError(format!("--initial {text:?} is not JSON: {e}")).into())
}

/// What Elle checks: a file it reads itself, or a history already read.
enum Elle<'a> {
    File(&'a Path),
    History(&'a History),
}

fn check_elle(
    input: Elle<'_>,
    workload: elle::Workload,
    args: &Args,
) -> anyhow::Result<(Verdict, String, Value)> {
    let mut opts = ElleOptions::new(workload);
    if !args.consistency_models.is_empty() {
        opts = opts.with_models(&args.consistency_models);
    }
    if let Some(limit) = args.time_limit {
        opts.cycle_search_timeout = limit;
    }
    let result = match input {
        Elle::File(path) => elle::check_file(path, args.format, &opts).map_err(|e| e.to_string()),
        Elle::History(h) => elle::check(h, &opts).map_err(|e| e.to_string()),
    }
    .map_err(UsageError)?;
    Ok((
        result.verdict,
        result.render(),
        serde_json::to_value(&result)?,
    ))
}

/// Every checker of workload `name`, adjusted by the flags, composed.
fn check_workload(
    history: &History,
    name: &str,
    args: &Args,
) -> anyhow::Result<(Verdict, String, Value)> {
    let specs = workload_checkers(name, args)?;
    let limits = Limits {
        time_limit: args.time_limit,
        memory_budget: args.memory_limit,
    };
    render_composed(registry::compose(history, &specs, &limits), name)
}

/// A stored run's history too large to hold, checked as the run checked
/// it: in groups of keys split on disk, within `--time-limit` (the run's
/// 300 s when absent).
fn check_workload_split(
    path: &Path,
    name: &str,
    args: &Args,
) -> anyhow::Result<(Verdict, String, Value)> {
    let specs = workload_checkers(name, args)?;
    let limit = args.time_limit.unwrap_or(large::RUN_TIME_LIMIT);
    render_composed(large::analyze_path(path, &specs, limit)?, name)
}

/// Every checker of workload `name`, as a run folder's run used them
/// (its options and promised models) or, for a file, with defaults,
/// adjusted by the flags.
fn workload_checkers(name: &str, args: &Args) -> anyhow::Result<Vec<CheckerSpec>> {
    let workload = workloads::by_name(name).map_err(|e| UsageError(e.to_string()))?;
    let run_opts = run_options(&args.path, name)?;
    let from_run = run_opts.is_some();
    let opts = run_opts.unwrap_or_default();
    let mut specs = workload.checkers(&opts);
    if from_run {
        specs = harness::run::analysis::promised(specs, &recorded_models(&args.path)?);
    }
    specs
        .into_iter()
        .map(|spec| adjust(spec, args, from_run))
        .collect()
}

/// The composed answer as text and JSON; a checker that could not read the
/// history is a usage error.
fn render_composed(
    composed: registry::Composed,
    name: &str,
) -> anyhow::Result<(Verdict, String, Value)> {
    // A history this workload's checkers cannot read is bad input here,
    // not an unknown verdict: the user named the file and the workload.
    if let Some(e) = composed.checks.iter().find_map(|c| match &c.result {
        CheckResult::Error(e) => Some(format!("{} checker: {e}", c.checker)),
        _ => None,
    }) {
        return Err(UsageError(e).into());
    }
    let names: Vec<&str> = composed.checks.iter().map(|c| c.checker.as_str()).collect();
    let mut text = format!(
        "{} ({name} workload: {})\n",
        composed.verdict,
        names.join(", ")
    );
    for c in &composed.checks {
        text.push_str(&format!("\n{} — {}\n{}", c.checker, c.verdict, c.text));
        if !c.text.ends_with('\n') {
            text.push('\n');
        }
    }
    Ok((composed.verdict, text, serde_json::to_value(&composed)?))
}

/// The spec.json of a run folder at `path`, if it is one.
fn stored_spec(path: &Path) -> anyhow::Result<Option<(PathBuf, Value)>> {
    let spec_file = path.join(store::SPEC);
    if !path.is_dir() || !spec_file.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&spec_file)
        .with_context(|| format!("cannot read {}", spec_file.display()))?;
    let spec: Value = serde_json::from_str(&text)
        .map_err(|e| UsageError(format!("{}: not JSON: {e}", spec_file.display())))?;
    Ok(Some((spec_file, spec)))
}

/// The workload a run folder at `path` ran, if it is one.
fn stored_workload(path: &Path) -> anyhow::Result<Option<String>> {
    let Some((spec_file, spec)) = stored_spec(path)? else {
        return Ok(None);
    };
    match spec["workload"].as_str() {
        Some(name) => Ok(Some(name.to_string())),
        None => Err(UsageError(format!("{}: no workload", spec_file.display())).into()),
    }
}

/// The workload options a run folder at `path` ran `name` with, if it is
/// one (its spec.json); a run of another workload is a usage error.
fn run_options(path: &Path, name: &str) -> anyhow::Result<Option<workloads::Options>> {
    let Some((spec_file, spec)) = stored_spec(path)? else {
        return Ok(None);
    };
    let ran = spec["workload"].as_str().unwrap_or_default();
    if ran != name {
        return Err(UsageError(format!(
            "{} is a run of the {ran:?} workload, not {name:?}",
            path.display()
        ))
        .into());
    }
    // A spec.json written by hand may leave the options out: defaults.
    let opts = match &spec["workload_options"] {
        Value::Null => Ok(workloads::Options::default()),
        given => serde_json::from_value(given.clone()),
    }
    .map_err(|e| UsageError(format!("{}: workload_options: {e}", spec_file.display())))?;
    Ok(Some(opts))
}

/// The consistency models a run folder's Elle checkers tested (those its
/// target promises, which may be fewer than the workload's default), as
/// its results.json records them; none for a run that wrote no results.
fn recorded_models(path: &Path) -> anyhow::Result<Vec<elle::Model>> {
    let Ok(dir) = store::RunDir::open(path) else {
        return Ok(Vec::new());
    };
    let Some(results) = dir
        .read_results()
        .map_err(|e| UsageError(format!("{e:#}")))?
    else {
        return Ok(Vec::new());
    };
    Ok(results
        .checks
        .into_iter()
        .find_map(|c| match c.result {
            CheckResult::Elle(r) => Some(r.models),
            _ => None,
        })
        .unwrap_or_default())
}

/// A workload's checker with the command line's say: models and limits,
/// and for a file (not a run folder) the shape of its values.
fn adjust(spec: CheckerSpec, args: &Args, from_run: bool) -> anyhow::Result<CheckerSpec> {
    Ok(match spec {
        CheckerSpec::Linearizable(mut m) => {
            if let Some(initial) = &args.initial {
                m.initial = parse_initial(initial)?;
            }
            m.nil_reads = args.nil_reads.unwrap_or(m.nil_reads);
            m.independent = if from_run {
                m.independent
            } else {
                args.independent
            };
            CheckerSpec::Linearizable(m)
        }
        CheckerSpec::Elle(mut o) => {
            if !args.consistency_models.is_empty() {
                o = o.with_models(&args.consistency_models);
            }
            if let Some(limit) = args.time_limit {
                o.cycle_search_timeout = limit;
            }
            CheckerSpec::Elle(o)
        }
        CheckerSpec::Set(mut o) => {
            o.independent = if from_run {
                o.independent
            } else {
                args.independent
            };
            CheckerSpec::Set(o)
        }
        CheckerSpec::Bank(mut o) => {
            if !from_run {
                o = checkers::bank::BankOptions::default();
            }
            if let Some(n) = args.accounts {
                o.accounts = Some((0..n).map(|a| a.to_string()).collect());
            }
            o.total = args.total.unwrap_or(o.total);
            o.negative_balances |= args.negative_balances;
            CheckerSpec::Bank(o)
        }
        other => other,
    })
}

fn write_csv(history: &History, out: &Path) -> anyhow::Result<()> {
    let file =
        std::fs::File::create(out).with_context(|| format!("cannot create {}", out.display()))?;
    format::write_csv(history, std::io::BufWriter::new(file))
        .with_context(|| format!("cannot write {}", out.display()))
}

/// Splits `12.5ms` into `12.5` and `ms`; `example` shows the user the form.
fn number_and_unit<'a>(s: &'a str, example: &str) -> Result<(f64, &'a str), String> {
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n = num
        .parse()
        .map_err(|_| format!("{s:?} is not a {example}"))?;
    Ok((n, unit.trim()))
}

/// Parses `500ms`, `30s`, `5m`, `1h` (a bare number is seconds).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (n, unit) = number_and_unit(s, "duration like 500ms, 30s or 5m")?;
    let secs = match unit {
        "ms" => n / 1e3,
        "" | "s" => n,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        other => {
            return Err(format!(
                "unknown unit {other:?} in {s:?} (use ms, s, m or h)"
            ))
        }
    };
    Duration::try_from_secs_f64(secs).map_err(|e| format!("{s:?}: {e}"))
}

/// Parses `512MiB`, `4GiB`, `100MB`, `1000` (bytes).
pub fn parse_bytes(s: &str) -> Result<usize, String> {
    let s = s.trim();
    let (n, unit) = number_and_unit(s, "size like 512MiB or 4GiB")?;
    let scale: f64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "kib" => 1024.0,
        "m" | "mb" => 1e6,
        "mib" => 1024.0 * 1024.0,
        "g" | "gb" => 1e9,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        other => {
            return Err(format!(
                "unknown unit {other:?} in {s:?} (use KiB, MiB or GiB)"
            ))
        }
    };
    Ok((n * scale) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_sizes_parse_with_units() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("7"), Ok(Duration::from_secs(7)));
        assert!(parse_duration("fast").is_err());
        assert!(parse_duration("3 days").is_err());
        assert_eq!(parse_bytes("2KiB"), Ok(2048));
        assert_eq!(parse_bytes("1GB"), Ok(1_000_000_000));
        assert!(parse_bytes("lots").is_err());
    }
}
