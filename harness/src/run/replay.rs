//! Repeating a run: the [`TestSpec`] a run saved (its `spec.json`, seed
//! included) read back for `temblor test --replay`, and the `temblor test`
//! command line that rebuilds a spec, generated from the type so that no
//! setting is left out (Jepsen prints the seed; a seed alone repeats
//! nothing when the other settings differ). The command line's parser is
//! the binary's `test` command; a round-trip test there keeps the two in
//! step.

use super::spec::{SpecError, TestSpec};
use std::path::{Path, PathBuf};

/// The spec of the run at `path`: a run folder (its `spec.json`) or a
/// spec.json itself. A spec without a seed takes the one the run recorded
/// in results.json.
pub fn read(path: &Path) -> Result<TestSpec, SpecError> {
    let (file, folder) = if path.is_dir() {
        (path.join(super::store::SPEC), Some(path))
    } else {
        (path.to_path_buf(), path.parent())
    };
    let text = std::fs::read_to_string(&file).map_err(|source| SpecError::Read {
        path: file.clone(),
        source,
    })?;
    let mut spec: TestSpec = serde_json::from_str(&text).map_err(|e| SpecError::Parse {
        path: file.clone(),
        message: e.to_string(),
    })?;
    if spec.seed.is_none() {
        spec.seed = folder.and_then(recorded_seed);
    }
    Ok(spec)
}

/// The seed a run folder's results.json records.
fn recorded_seed(folder: &Path) -> Option<u64> {
    let results = super::store::read_json(&folder.join(super::store::RESULTS));
    results.ok()??["seed"].as_u64()
}

/// The arguments after `temblor test` that rebuild `spec` over the
/// defaults: every setting that differs from its default, each once.
pub fn test_args(spec: &TestSpec) -> Vec<String> {
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
    } = spec;
    let d = TestSpec::default();
    let mut args = Args::default();
    args.value("name", name, &d.name);
    args.words.extend(target.cli_args());
    args.value("workload", workload, &d.workload);
    if nemesis != &d.nemesis {
        match nemesis.is_empty() {
            true => args.flag_with("nemesis", "none".into()),
            false => args.flag_with("nemesis", joined(nemesis)),
        }
    }
    if partition_shapes != &d.partition_shapes {
        args.flag_with("partition", joined(partition_shapes));
    }
    if fault_targets != &d.fault_targets {
        args.flag_with("fault-targets", joined(fault_targets));
    }
    if clock_faults != &d.clock_faults {
        args.flag_with("clock-faults", joined(clock_faults));
    }
    if file_faults != &d.file_faults {
        args.flag_with("file-faults", joined(file_faults));
    }
    if file_fault_targets != &d.file_fault_targets {
        args.flag_with("file-fault-targets", joined(file_fault_targets));
    }
    args.seconds("clock-bump-min", *clock_bump_min, d.clock_bump_min);
    args.seconds("clock-bump-max", *clock_bump_max, d.clock_bump_max);
    args.seconds("strobe-delta", *strobe_delta, d.strobe_delta);
    args.seconds("strobe-period", *strobe_period, d.strobe_period);
    args.seconds("strobe-duration", *strobe_duration, d.strobe_duration);
    args.seconds("packet-delay", *packet_delay, d.packet_delay);
    args.seconds("nemesis-interval", *nemesis_interval, d.nemesis_interval);
    args.seconds("time-limit", *time_limit, d.time_limit);
    args.seconds("recovery-time", *recovery_time, d.recovery_time);
    args.seconds("op-timeout", *op_timeout, d.op_timeout);
    args.value("concurrency", concurrency, &d.concurrency);
    args.value("nodes", nodes, &d.nodes);
    args.value("cluster", cluster, &d.cluster);
    args.path("nodes-file", nodes_file.as_ref());
    args.ssh(ssh);
    if let Some(rate) = workload_options.rate {
        args.flag_with("rate", rate.to_string());
    }
    for kv in workload_options.changed() {
        if !kv.starts_with("rate=") {
            args.flag_with("workload-opt", kv);
        }
    }
    if results_dir != &d.results_dir {
        args.path("results-dir", Some(results_dir));
    }
    if !teardown {
        args.words.push("--no-teardown".into());
    }
    if let Some(seed) = seed {
        args.flag_with("seed", seed.to_string());
    }
    args.words
}

/// `temblor test ...` that repeats `spec`, quoted for a POSIX shell.
pub fn command_line(spec: &TestSpec) -> String {
    ["temblor".to_string(), "test".to_string()]
        .into_iter()
        .chain(test_args(spec))
        .map(|a| targets::remote::escape(&a))
        .collect::<Vec<_>>()
        .join(" ")
}

fn joined<T: std::fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// The command line being built.
#[derive(Default)]
struct Args {
    words: Vec<String>,
}

impl Args {
    fn flag_with(&mut self, flag: &str, value: String) {
        self.words.push(format!("--{flag}"));
        self.words.push(value);
    }

    fn value<T: PartialEq + std::fmt::Display>(&mut self, flag: &str, v: &T, default: &T) {
        if v != default {
            self.flag_with(flag, v.to_string());
        }
    }

    /// Seconds as `--flag 2.5s` (`Display` of an f64 reads back exactly).
    fn seconds(&mut self, flag: &str, v: f64, default: f64) {
        if v != default {
            self.flag_with(flag, format!("{v}s"));
        }
    }

    fn path(&mut self, flag: &str, p: Option<&PathBuf>) {
        if let Some(p) = p {
            self.flag_with(flag, p.display().to_string());
        }
    }

    fn ssh(&mut self, ssh: &super::spec::SshSpec) {
        let super::spec::SshSpec {
            username,
            key,
            known_hosts,
            accept_new_host_keys,
            port,
        } = ssh;
        let d = super::spec::SshSpec::default();
        self.value("username", username, &d.username);
        self.path("ssh-key", key.as_ref());
        self.path("known-hosts", known_hosts.as_ref());
        if *accept_new_host_keys {
            self.words.push("--accept-new-host-keys".into());
        }
        self.value("ssh-port", port, &d.port);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nemesis::FaultKind;
    use crate::run::phases;
    use checkers::Op;
    use workloads::generator::sim;

    fn temp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("temblor-replay-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// The op stream, faults included, that `spec` gives on a fake clock.
    fn schedule(spec: &TestSpec) -> Vec<Op> {
        let workload = workloads::by_name(&spec.workload).unwrap();
        let gens = workload.generators(&spec.workload_options).unwrap();
        let gen = phases::for_spec(spec, gens);
        sim::invocations(gen, spec.concurrency, spec.seed.unwrap())
    }

    #[test]
    fn a_replayed_run_has_the_same_op_stream_and_fault_schedule() {
        let mut spec = TestSpec {
            workload: "list-append".into(),
            nemesis: vec![FaultKind::Partition, FaultKind::Kill, FaultKind::Clock],
            time_limit: 3.0,
            nemesis_interval: 0.5,
            concurrency: 4,
            seed: Some(11),
            ..TestSpec::default()
        };
        spec.workload_options.key_count = 3;
        let run = temp("run");
        std::fs::write(run.join("spec.json"), serde_json::to_vec(&spec).unwrap()).unwrap();
        let replayed = read(&run).unwrap();
        assert_eq!(replayed, spec);
        assert_eq!(read(&run.join("spec.json")).unwrap(), spec);
        let original = schedule(&spec);
        assert!(original.iter().any(|o| o.f == "kill") && original.len() > 100);
        assert_eq!(schedule(&replayed), original);
        // The seed is what makes it the same.
        let other = TestSpec {
            seed: Some(12),
            ..spec.clone()
        };
        assert_ne!(schedule(&other), original);
        std::fs::remove_dir_all(&run).unwrap();
    }

    #[test]
    fn a_spec_without_a_seed_takes_the_one_the_run_recorded() {
        let run = temp("seedless");
        std::fs::write(run.join("spec.json"), r#"{"workload": "set"}"#).unwrap();
        std::fs::write(run.join("results.json"), r#"{"seed": 99}"#).unwrap();
        let spec = read(&run).unwrap();
        assert_eq!((spec.workload.as_str(), spec.seed), ("set", Some(99)));
        std::fs::write(run.join("spec.json"), r#"{"workload": "set", "sede": 1}"#).unwrap();
        let e = read(&run).unwrap_err().to_string();
        assert!(e.contains("spec.json") && e.contains("sede"), "{e}");
        std::fs::remove_dir_all(&run).unwrap();
        let e = read(&run).unwrap_err().to_string();
        assert!(e.starts_with("cannot read test file"), "{e}");
    }

    #[test]
    fn the_command_line_quotes_odd_words_and_leaves_defaults_out() {
        let spec = TestSpec {
            results_dir: "my results".into(),
            seed: Some(42),
            ..TestSpec::default()
        };
        assert_eq!(
            command_line(&spec),
            "temblor test --target raftkv --results-dir 'my results' --seed 42"
        );
    }
}
