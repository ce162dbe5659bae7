//! `temblor test`: one Jepsen-style run, end to end. With no flags it
//! brings up a 5-node local cluster, runs raftkv on it under partitions,
//! kills and pauses, checks the history and takes the cluster down again.

use super::check::parse_duration;
use super::UsageError;
use harness::interpreter::Shutdown;
use harness::nemesis::{ClockFault, FaultKind, FileFault, Shape, Targets};
use harness::run::{self, TestSpec};
use std::path::PathBuf;
use std::time::Duration;
use targets::TargetSpec;

/// Run a test: a workload against a cluster under faults, recorded and
/// checked. Flags override the TOML test file, which overrides defaults.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct Args {
    /// A TOML test file (keys as in spec.json: target, workload, nemesis,
    /// time_limit, concurrency, nodes, bugs, ...). Flags override it.
    #[arg(long, value_name = "FILE", conflicts_with = "replay")]
    pub test_file: Option<PathBuf>,
    /// Run again the test a run ran: a run folder (e.g. results/latest) or
    /// its spec.json. Every setting and the seed come from it, so the op
    /// stream and the fault choices are the same; flags override it.
    #[arg(long, value_name = "RUN")]
    pub replay: Option<PathBuf>,
    /// The test's name, the results folder (default: <target>-<workload>).
    #[arg(long)]
    pub name: Option<String>,
    /// The system under test: raftkv, etcd or consul (built in), a store
    /// temblor ships (zookeeper, redis, postgres: see targets/stores), or
    /// the path of a target file (docs/target-files.md).
    #[arg(long, value_name = "NAME|FILE")]
    pub target: Option<String>,
    /// A target option (repeatable): for a target file, any option its
    /// [options] declares; for raftkv bug=NAME, binary=FILE; for etcd
    /// install=..., serializable-reads=true; for consul install=...,
    /// reads=MODE.
    #[arg(long = "target-opt", value_name = "KEY=VALUE")]
    pub target_opts: Vec<String>,
    /// Check everything and print, node by node, the commands the target
    /// would run, then stop: no node is touched, no cluster brought up.
    #[arg(long)]
    pub dry_run: bool,
    /// The workload: register (linearizable cas registers, by key),
    /// list-append or rw-register (transactions, checked with Elle), set,
    /// counter, bank, unique-ids, lock, or queue. Their options are
    /// `[workload_options]` in a --test-file.
    #[arg(long, value_name = "NAME")]
    pub workload: Option<String>,
    /// Faults, comma-separated: partition, kill, pause, clock, packet, file; or
    /// `none`. Default: partition,kill,pause.
    #[arg(long, value_delimiter = ',', value_name = "FAULTS")]
    pub nemesis: Option<Vec<String>>,
    /// Time between a fault's start and stop, and between faults (e.g. 10s).
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub nemesis_interval: Option<Duration>,
    /// Partition shapes to choose among: one, halves, random-halves,
    /// majorities-ring, bridge, leader (default: all).
    #[arg(long, value_delimiter = ',', value_name = "SHAPES")]
    pub partition: Option<Vec<Shape>>,
    /// Which nodes kill, pause and clock faults hit, chosen at random for
    /// each fault among: one, minority, majority, all, primaries (the nodes
    /// that say they lead) (default: all five).
    #[arg(long, value_delimiter = ',', value_name = "TARGETS")]
    pub fault_targets: Option<Vec<Targets>>,
    /// With `--nemesis packet`: also delay every packet between nodes by
    /// this much (tc netem; refused before the run where a node's kernel
    /// lacks netem). Default: loss only.
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub packet_delay: Option<Duration>,
    /// With `--nemesis clock`: what each clock fault does before its
    /// reset, chosen at random among: bump (jump clocks by a random
    /// offset), strobe (flip them back and forth) (default: both).
    #[arg(long, value_delimiter = ',', value_name = "CLOCK_FAULTS")]
    pub clock_faults: Option<Vec<ClockFault>>,
    /// With `--nemesis file`: what each file fault does to one data file
    /// of each node it hits (the node's target is killed first and started
    /// after), chosen at random among: bitflip (flip random bits),
    /// truncate (cut off the file's tail), snapshot (put back a copy taken
    /// at an earlier file fault) (default: all three).
    #[arg(long, value_delimiter = ',', value_name = "FILE_FAULTS")]
    pub file_faults: Option<Vec<FileFault>>,
    /// With `--nemesis file`: which nodes a file fault hits, chosen at
    /// random for each fault among: one, minority, majority, all,
    /// primaries (default: minority).
    #[arg(long, value_delimiter = ',', value_name = "TARGETS")]
    pub file_fault_targets: Option<Vec<Targets>>,
    /// With `--nemesis clock`: the smallest clock bump (each bump's size is
    /// drawn between this and --clock-bump-max, either sign). Default 10ms.
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub clock_bump_min: Option<Duration>,
    /// The largest clock bump. Default 30s.
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub clock_bump_max: Option<Duration>,
    /// How far a clock strobe moves a clock at each flip. Default 5s.
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub strobe_delta: Option<Duration>,
    /// Time between a strobe's flips (libfaketime targets see an offset
    /// change at most once a second). Default 500ms.
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub strobe_period: Option<Duration>,
    /// How long a strobe lasts. Default 3s.
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub strobe_duration: Option<Duration>,
    /// How long the workload runs (e.g. 60, 60s, 2m).
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub time_limit: Option<Duration>,
    /// How long the healed cluster gets to recover before the final reads.
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub recovery_time: Option<Duration>,
    /// Client worker threads.
    #[arg(long)]
    pub concurrency: Option<usize>,
    /// Nodes of the local cluster (brought up and down by the run unless
    /// one is already up).
    #[arg(long)]
    pub nodes: Option<usize>,
    /// Which local cluster of this machine to use (0 to 99): each has its
    /// own folder, bridge and /24, so runs in different ones can go on at
    /// once.
    #[arg(long, env = "TEMBLOR_CLUSTER", value_name = "N")]
    pub cluster: Option<u8>,
    /// Real machines instead of the local cluster: one `name [address]` a line.
    #[arg(long, value_name = "FILE")]
    pub nodes_file: Option<PathBuf>,
    /// SSH private key for real machines.
    #[arg(long, value_name = "FILE")]
    pub ssh_key: Option<PathBuf>,
    /// SSH user for real machines (sudo is used when not root).
    #[arg(long)]
    pub username: Option<String>,
    /// The known_hosts file for real machines (default ~/.ssh/known_hosts).
    #[arg(long, value_name = "FILE")]
    pub known_hosts: Option<PathBuf>,
    /// Accept and remember SSH host keys not yet in known_hosts.
    #[arg(long)]
    pub accept_new_host_keys: bool,
    /// The SSH port of real machines.
    #[arg(long, value_name = "PORT")]
    pub ssh_port: Option<u16>,
    /// raftkv: turn on one of its bugs (repeatable): follower-reads,
    /// lease-reads, early-ack, volatile-vote (= --target-opt bug=NAME).
    #[arg(long = "bug", value_name = "NAME")]
    pub bugs: Vec<String>,
    /// The seed of every random choice (recorded in spec.json; the same seed
    /// gives the same op stream).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Ops per second over all clients (default: as fast as they answer).
    #[arg(long)]
    pub rate: Option<f64>,
    /// A workload option (repeatable), as in a test file's
    /// `[workload_options]`: key-count=10, read-fraction=0.2, accounts=5,
    /// decrements=true, ...
    #[arg(long = "workload-opt", value_name = "KEY=VALUE")]
    pub workload_opts: Vec<String>,
    /// A client op taking longer than this is recorded as `info`.
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub op_timeout: Option<Duration>,
    /// raftkv: the binary to install (default: next to temblor, built if
    /// missing) (= --target-opt binary=FILE).
    #[arg(long, value_name = "FILE")]
    pub raftkv_bin: Option<PathBuf>,
    /// etcd: `debian` (the etcd-server package, default), a release
    /// tarball URL, or a local etcd binary to upload (= --target-opt
    /// install=...).
    #[arg(long, value_name = "debian|URL|FILE")]
    pub etcd_install: Option<String>,
    /// etcd: serializable (stale-allowed) reads instead of linearizable
    /// (= --target-opt serializable-reads=true).
    #[arg(long)]
    pub etcd_serializable_reads: bool,
    /// Consul (required with --target consul): a release zip URL or a
    /// local consul binary to upload (= --target-opt install=...).
    #[arg(long, value_name = "URL|FILE")]
    pub consul_install: Option<String>,
    /// Consul reads: default, consistent or stale (= --target-opt reads=MODE).
    #[arg(long, value_name = "MODE")]
    pub consul_reads: Option<String>,
    /// Where results go.
    #[arg(long, value_name = "DIR")]
    pub results_dir: Option<PathBuf>,
    /// Leave the target's data on the nodes after the run.
    #[arg(long)]
    pub no_teardown: bool,
}

/// Runs the test; returns the verdict's exit code, or 255 when the final
/// heal left a fault in force.
pub fn run(args: Args) -> anyhow::Result<u8> {
    let dry = args.dry_run;
    let spec = spec_from(args)?;
    if dry {
        print!("{}", harness::run::dry_run::dry_run(&spec)?);
        return Ok(0);
    }
    let results_dir = spec.results_dir.clone();
    let runtime = tokio::runtime::Runtime::new()?;
    let result = runtime.block_on(async move {
        let shutdown = Shutdown::new();
        on_signals(&shutdown)?;
        let report = run::run(spec, shutdown).await?;
        // The report is for people; a failure to render it never costs the
        // verdict or the results already written.
        if let Err(e) = harness::report::write_run(&report.dir.path) {
            tracing::warn!("cannot write the report: {e:#}");
        }
        for check in &report.analysis.checks {
            println!("== {}: {}", check.checker, check.verdict);
            println!("{}", check.text.trim_end());
        }
        println!(
            "verdict: {}   results: {}",
            report.verdict(),
            report.dir.path.display()
        );
        if !report.unhealed.is_empty() {
            eprintln!(
                "temblor: the heal left faults in force (see above); undo them with `temblor heal {}`",
                report.dir.path.display()
            );
            return Ok(crate::EXIT_ERROR);
        }
        Ok(report.verdict().exit_code() as u8)
    });
    // A command stuck on a node (an SSH call that never returns) must not
    // keep temblor from exiting once the run has said what it had to.
    runtime.shutdown_timeout(Duration::from_secs(5));
    // The index lists this run whatever its outcome.
    if let Err(e) = harness::report::write_index(&results_dir) {
        tracing::warn!("cannot write the results index: {e:#}");
    }
    result
}

/// Defaults, then the test file (or the replayed run's spec), then the
/// flags.
pub fn spec_from(args: Args) -> anyhow::Result<TestSpec> {
    let usage = |e: run::spec::SpecError| UsageError(e.to_string());
    let s = match (&args.test_file, &args.replay) {
        (Some(file), _) => TestSpec::from_toml_file(file).map_err(usage)?,
        (None, Some(run)) => run::replay::read(run).map_err(usage)?,
        (None, None) => TestSpec::default(),
    };
    spec_over(s, args)
}

/// `s` with the flags of `args` over it (not its test file or replay).
pub fn spec_over(mut s: TestSpec, args: Args) -> anyhow::Result<TestSpec> {
    if let Some(t) = &args.target {
        s.target = TargetSpec::named(t).map_err(|e| UsageError(e.to_string()))?;
    }
    target_options(&mut s.target, &args)?;
    set(&mut s.name, args.name);
    set(&mut s.workload, args.workload);
    if let Some(list) = args.nemesis {
        s.nemesis = parse_faults(&list)?;
    }
    set(&mut s.partition_shapes, args.partition);
    set(&mut s.fault_targets, args.fault_targets);
    set(
        &mut s.packet_delay,
        args.packet_delay.map(|d| d.as_secs_f64()),
    );
    set(
        &mut s.nemesis_interval,
        args.nemesis_interval.map(|d| d.as_secs_f64()),
    );
    let secs = |d: Option<Duration>| d.map(|d| d.as_secs_f64());
    set(&mut s.clock_faults, args.clock_faults);
    set(&mut s.file_faults, args.file_faults);
    set(&mut s.file_fault_targets, args.file_fault_targets);
    set(&mut s.clock_bump_min, secs(args.clock_bump_min));
    set(&mut s.clock_bump_max, secs(args.clock_bump_max));
    set(&mut s.strobe_delta, secs(args.strobe_delta));
    set(&mut s.strobe_period, secs(args.strobe_period));
    set(&mut s.strobe_duration, secs(args.strobe_duration));
    set(&mut s.time_limit, args.time_limit.map(|d| d.as_secs_f64()));
    set(
        &mut s.recovery_time,
        args.recovery_time.map(|d| d.as_secs_f64()),
    );
    set(&mut s.op_timeout, args.op_timeout.map(|d| d.as_secs_f64()));
    set(&mut s.concurrency, args.concurrency);
    set(&mut s.nodes, args.nodes);
    set(&mut s.cluster, args.cluster);
    s.nodes_file = args.nodes_file.or(s.nodes_file);
    s.ssh.key = args.ssh_key.or(s.ssh.key);
    s.ssh.known_hosts = args.known_hosts.or(s.ssh.known_hosts);
    set(&mut s.ssh.username, args.username);
    set(&mut s.ssh.port, args.ssh_port);
    s.ssh.accept_new_host_keys |= args.accept_new_host_keys;
    s.seed = args.seed.or(s.seed);
    for kv in &args.workload_opts {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| UsageError(format!("--workload-opt {kv:?}: expected KEY=VALUE")))?;
        s.workload_options
            .set(k.trim(), v.trim())
            .map_err(|e| UsageError(e.to_string()))?;
    }
    s.workload_options.rate = args.rate.or(s.workload_options.rate);
    set(&mut s.results_dir, args.results_dir);
    s.teardown &= !args.no_teardown;
    s.validate().map_err(|e| UsageError(e.to_string()))?;
    Ok(s)
}

/// `--target-opt`s, and the per-target flags kept for users (`--bug`,
/// `--etcd-install`, ...), each refused on a target it does not belong to.
fn target_options(target: &mut TargetSpec, args: &Args) -> anyhow::Result<()> {
    let mut opts: Vec<(&str, &str, String)> = Vec::new();
    for b in &args.bugs {
        opts.push(("--bug", "raftkv", format!("bug={b}")));
    }
    if let Some(bin) = &args.raftkv_bin {
        opts.push((
            "--raftkv-bin",
            "raftkv",
            format!("binary={}", bin.display()),
        ));
    }
    if let Some(i) = &args.etcd_install {
        opts.push(("--etcd-install", "etcd", format!("install={i}")));
    }
    if args.etcd_serializable_reads {
        opts.push((
            "--etcd-serializable-reads",
            "etcd",
            "serializable-reads=true".into(),
        ));
    }
    if let Some(i) = &args.consul_install {
        opts.push(("--consul-install", "consul", format!("install={i}")));
    }
    if let Some(r) = &args.consul_reads {
        opts.push(("--consul-reads", "consul", format!("reads={r}")));
    }
    for (flag, owner, kv) in opts {
        if target.kind() != owner {
            return Err(UsageError(format!(
                "{flag} is an option of the {owner} target, not of {}",
                target.name()
            ))
            .into());
        }
        set_target_opt(target, &kv)?;
    }
    for kv in &args.target_opts {
        set_target_opt(target, kv)?;
    }
    Ok(())
}

fn set_target_opt(target: &mut TargetSpec, kv: &str) -> anyhow::Result<()> {
    let (k, v) = kv
        .split_once('=')
        .ok_or_else(|| UsageError(format!("--target-opt {kv:?}: expected KEY=VALUE")))?;
    target
        .set_option(k.trim(), v.trim())
        .map_err(|e| UsageError(e.to_string()).into())
}

fn set<T>(slot: &mut T, value: Option<T>) {
    if let Some(v) = value {
        *slot = v;
    }
}

fn parse_faults(list: &[String]) -> anyhow::Result<Vec<FaultKind>> {
    if list.len() == 1 && list[0] == "none" {
        return Ok(Vec::new());
    }
    list.iter()
        .map(|s| s.parse::<FaultKind>().map_err(|e| UsageError(e).into()))
        .collect()
}

/// SIGINT (Ctrl-C), SIGTERM and SIGHUP (a lost terminal or SSH session)
/// stop the run; it then heals and writes what it has. Each further
/// signal says what the run is still waiting for.
fn on_signals(shutdown: &Shutdown) -> anyhow::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let kinds = [
        (SignalKind::interrupt(), "SIGINT"),
        (SignalKind::terminate(), "SIGTERM"),
        (SignalKind::hangup(), "SIGHUP"),
    ];
    for (kind, name) in kinds {
        let mut stream = signal(kind).map_err(|e| anyhow::anyhow!("cannot handle {name}: {e}"))?;
        let me = shutdown.clone();
        tokio::spawn(async move {
            while stream.recv().await.is_some() {
                // After a SIGHUP the terminal may be gone: say it anyway,
                // a write to a closed stderr is harmless.
                eprintln!("\n{}", signal_note(&me, name));
                me.trigger();
            }
        });
    }
    Ok(())
}

/// What to say on a signal: the first stops the run, later ones say what
/// it still waits for.
fn signal_note(shutdown: &Shutdown, name: &str) -> String {
    if !shutdown.is_triggered() {
        return format!(
            "temblor: {name}: stopping; healing every fault, then writing the results \
             (send it again to see what the run waits for)"
        );
    }
    let stage = shutdown.stage();
    let stage = if stage.is_empty() {
        "stopping the workload"
    } else {
        &stage
    };
    format!(
        "temblor: {name}: still stopping: {stage}. To abandon it, kill -9 {} and run \
         `temblor heal` on the run's folder, which undoes every fault",
        std::process::id()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_signal_says_what_the_run_waits_for() {
        let shutdown = Shutdown::new();
        let first = signal_note(&shutdown, "SIGINT");
        assert!(first.starts_with("temblor: SIGINT: stopping;"), "{first}");
        shutdown.trigger();
        shutdown.set_stage("healing every fault on n1, n2");
        let second = signal_note(&shutdown, "SIGHUP");
        assert!(
            second.starts_with("temblor: SIGHUP: still stopping: healing every fault on n1, n2."),
            "{second}"
        );
        assert!(second.contains("temblor heal"), "{second}");
    }

    #[test]
    fn flags_override_defaults_and_typos_are_usage_errors() {
        let args = Args {
            nemesis: Some(vec!["partition".into(), "clock".into()]),
            bugs: vec!["lease-reads".into()],
            time_limit: Some(Duration::from_secs(12)),
            ..Args::default()
        };
        let s = spec_from(args).unwrap();
        assert_eq!(s.nemesis, vec![FaultKind::Partition, FaultKind::Clock]);
        assert_eq!(s.time_limit, 12.0);
        assert_eq!(
            s.target.cli_args()[2..],
            ["--target-opt", "bug=lease-reads"]
        );
        let wrong = Args {
            target: Some("etcd".into()),
            bugs: vec!["lease-reads".into()],
            ..Args::default()
        };
        let e = spec_from(wrong).unwrap_err().to_string();
        assert!(
            e.contains("--bug is an option of the raftkv target, not of etcd"),
            "{e}"
        );
        let opt = Args {
            target: Some("etcd".into()),
            target_opts: vec!["serializable-reads=true".into()],
            ..Args::default()
        };
        let s = spec_from(opt).unwrap();
        assert_eq!(s.test_name(), "etcd-register");
        assert!(s
            .target
            .cli_args()
            .contains(&"serializable-reads=true".to_string()));
        let e = spec_from(Args {
            target_opts: vec!["bug".into()],
            ..Args::default()
        })
        .unwrap_err()
        .to_string();
        assert!(e.contains("expected KEY=VALUE"), "{e}");
        let typo = Args {
            nemesis: Some(vec!["partiton".into()]),
            ..Args::default()
        };
        let e = spec_from(typo).unwrap_err();
        assert!(e.chain().any(|c| c.is::<UsageError>()), "{e:#}");
        let none = Args {
            nemesis: Some(vec!["none".into()]),
            ..Args::default()
        };
        assert!(spec_from(none).unwrap().nemesis.is_empty());
        let bad = Args {
            workload: Some("ledger".into()),
            ..Args::default()
        };
        assert!(spec_from(bad)
            .unwrap_err()
            .to_string()
            .contains("unknown workload"));
    }

    use clap::Parser as _;
    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    /// `temblor test WORDS...` parsed into a spec.
    /// The spec `temblor test WORDS` runs. An absent `--cluster` is
    /// filled in from `TEMBLOR_CLUSTER` when the environment has it (as
    /// when the suite itself runs on a numbered cluster); a command line
    /// without it means the default slot, so the parse here says so.
    fn parsed(words: &[String]) -> TestSpec {
        let mut words = words.to_vec();
        if !words.iter().any(|w| w == "--cluster" || w == "--replay") {
            words.extend(["--cluster".to_string(), "0".to_string()]);
        }
        let cli = Cli::try_parse_from(std::iter::once("test".to_string()).chain(words.clone()))
            .unwrap_or_else(|e| panic!("{words:?}: {e}"));
        spec_from(cli.args).unwrap_or_else(|e| panic!("{words:?}: {e:#}"))
    }

    /// A spec with every setting away from its default (the destructuring
    /// has no `..`: a new field must be added here, and so to the
    /// command line, or this does not compile).
    fn every_field_set() -> TestSpec {
        let mut workload_options = workloads::Options {
            rate: Some(12.5),
            read_fraction: Some(0.3),
            decrements: true,
            ..workloads::Options::default()
        };
        workload_options.set("key-count", "7").unwrap();
        let spec = TestSpec {
            name: "nightly-1".into(),
            target: TargetSpec::Raftkv(targets::registry::RaftKvSpec {
                bugs: vec!["lease-reads".into(), "early-ack".into()],
                binary: Some("/opt/raft kv".into()),
            }),
            workload: "set".into(),
            nemesis: vec![FaultKind::Pause, FaultKind::Partition, FaultKind::Packet],
            partition_shapes: vec![Shape::Leader, Shape::Bridge],
            fault_targets: vec![Targets::Primaries, Targets::One],
            packet_delay: 0.125,
            nemesis_interval: 7.5,
            time_limit: 12.0,
            recovery_time: 3.25,
            concurrency: 6,
            nodes: 3,
            cluster: 31,
            nodes_file: Some("my nodes.txt".into()),
            ssh: harness::run::spec::SshSpec {
                username: "admin".into(),
                key: Some("keys/id".into()),
                known_hosts: Some("keys/known".into()),
                accept_new_host_keys: true,
                port: 2222,
            },
            seed: Some(u64::MAX - 3),
            op_timeout: 0.75,
            workload_options,
            results_dir: "/tmp/out".into(),
            teardown: false,
            clock_faults: vec![harness::nemesis::ClockFault::Strobe],
            clock_bump_min: 0.25,
            clock_bump_max: 12.5,
            strobe_delta: 2.0,
            strobe_period: 0.125,
            strobe_duration: 1.5,
            file_faults: vec![FileFault::Truncate],
            file_fault_targets: vec![Targets::All],
        };
        let d = TestSpec::default();
        let TestSpec {
            name,
            target,
            workload,
            nemesis,
            partition_shapes,
            fault_targets,
            packet_delay,
            nemesis_interval,
            time_limit,
            recovery_time,
            concurrency,
            nodes,
            cluster,
            nodes_file,
            ssh,
            seed,
            op_timeout,
            workload_options,
            results_dir,
            teardown,
            clock_faults,
            clock_bump_min,
            clock_bump_max,
            strobe_delta,
            strobe_period,
            strobe_duration,
            file_faults,
            file_fault_targets,
        } = &spec;
        assert!(name != &d.name && target != &d.target && workload != &d.workload);
        assert!(nemesis != &d.nemesis && partition_shapes != &d.partition_shapes);
        assert!(fault_targets != &d.fault_targets && packet_delay != &d.packet_delay);
        assert!(nemesis_interval != &d.nemesis_interval && time_limit != &d.time_limit);
        assert!(recovery_time != &d.recovery_time && concurrency != &d.concurrency);
        assert!(nodes != &d.nodes && cluster != &d.cluster && nodes_file != &d.nodes_file);
        assert!(seed != &d.seed && op_timeout != &d.op_timeout && teardown != &d.teardown);
        assert!(results_dir != &d.results_dir && workload_options != &d.workload_options);
        assert!(clock_faults != &d.clock_faults && clock_bump_min != &d.clock_bump_min);
        assert!(clock_bump_max != &d.clock_bump_max && strobe_delta != &d.strobe_delta);
        assert!(strobe_period != &d.strobe_period && strobe_duration != &d.strobe_duration);
        assert!(file_faults != &d.file_faults && file_fault_targets != &d.file_fault_targets);
        let harness::run::spec::SshSpec {
            username,
            key,
            known_hosts,
            accept_new_host_keys,
            port,
        } = ssh;
        assert!(username != &d.ssh.username && key != &d.ssh.key);
        assert!(known_hosts != &d.ssh.known_hosts && port != &d.ssh.port);
        assert!(accept_new_host_keys != &d.ssh.accept_new_host_keys);
        spec
    }

    #[test]
    fn a_spec_survives_its_command_line() {
        let spec = every_field_set();
        let words = harness::run::replay::test_args(&spec);
        assert_eq!(parsed(&words), spec, "{words:?}");
        let mut etcd = TestSpec {
            target: TargetSpec::named("etcd").unwrap(),
            nemesis: Vec::new(),
            seed: Some(3),
            ..TestSpec::default()
        };
        etcd.target
            .set_option("serializable-reads", "true")
            .unwrap();
        etcd.target.set_option("install", "/opt/etcd").unwrap();
        assert_eq!(parsed(&harness::run::replay::test_args(&etcd)), etcd);
    }

    #[test]
    fn a_replay_takes_every_setting_from_the_run_and_flags_still_win() {
        let spec = every_field_set();
        let dir = std::env::temp_dir().join(format!("temblor-replay-cmd-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join(harness::run::store::SPEC),
            serde_json::to_vec(&spec).unwrap(),
        )
        .unwrap();
        let run = dir.to_str().unwrap().to_string();
        // A slot given by the environment wins over the run's, as a flag would.
        let mut expected = spec.clone();
        if let Some(slot) = std::env::var("TEMBLOR_CLUSTER")
            .ok()
            .filter(|s| !s.is_empty())
        {
            expected.cluster = slot.parse().unwrap();
        }
        assert_eq!(parsed(&["--replay".into(), run.clone()]), expected);
        let shorter = parsed(&[
            "--replay".into(),
            run.clone(),
            "--time-limit".into(),
            "5s".into(),
        ]);
        assert_eq!((shorter.time_limit, shorter.seed), (5.0, spec.seed));
        let both = Cli::try_parse_from(["test", "--replay", &run, "--test-file", "t.toml"]);
        assert!(both.is_err());
        std::fs::remove_dir_all(&dir).unwrap();
        let e = spec_from(Args {
            replay: Some(dir.clone()),
            ..Args::default()
        })
        .unwrap_err();
        assert!(e.chain().any(|c| c.is::<UsageError>()), "{e:#}");
        assert!(e.to_string().contains(&run), "{e:#}");
    }

    #[test]
    fn fault_targets_come_from_the_flag_and_must_not_be_empty() {
        let cli = Cli::try_parse_from(["t", "--fault-targets", "primaries,one"]).unwrap();
        let s = spec_from(cli.args).unwrap();
        assert_eq!(s.fault_targets, vec![Targets::Primaries, Targets::One]);
        let e = Cli::try_parse_from(["t", "--fault-targets", "leader"])
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("unknown fault target \"leader\""), "{e}");
        let empty = Args {
            nemesis: Some(vec!["pause".into()]),
            fault_targets: Some(Vec::new()),
            ..Args::default()
        };
        let e = spec_from(empty).unwrap_err();
        assert!(e.to_string().contains("--fault-targets"), "{e:#}");
        let long = Args {
            packet_delay: Some(Duration::from_secs(120)),
            ..Args::default()
        };
        let e = spec_from(long).unwrap_err();
        assert!(
            e.to_string()
                .contains("--packet-delay must be between 0 s and 60 s"),
            "{e:#}"
        );
        let slow = Args {
            strobe_period: Some(Duration::from_secs(120)),
            ..Args::default()
        };
        let e = spec_from(slow).unwrap_err();
        assert!(
            e.to_string()
                .contains("--strobe-period must be between 1 ms and 60 s"),
            "{e:#}"
        );
    }
}
