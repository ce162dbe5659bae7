//! A test is a value: [`TestSpec`] is plain serde data, built from
//! defaults, then a TOML file, then command-line flags, and saved with
//! every run (`spec.json`), seed included, so that a run can be repeated
//! (Jepsen's test map; STYLE.md "A test is a value"). Live handles
//! (sessions, clients) never live here.

use crate::nemesis::{
    ClockFault, ClockOptions, FaultKind, FileFault, FileOptions, Shape, Strobe, Targets,
};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use targets::TargetSpec;
use workloads::Options;

/// Everything that defines a test run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TestSpec {
    /// The test's name: the results folder under `results/`.
    pub name: String,
    /// The system under test and its settings: a built-in target
    /// (raftkv, etcd, consul), a store temblor ships, or a target file. A
    /// test file may give a name or path, or a table with a `kind`.
    #[serde(deserialize_with = "targets::registry::deserialize_spec")]
    pub target: TargetSpec,
    /// The workload: `register` or `list-append`.
    pub workload: String,
    /// Fault families in the schedule (empty: no faults).
    pub nemesis: Vec<FaultKind>,
    /// Partition shapes the partition fault chooses among.
    pub partition_shapes: Vec<Shape>,
    /// The node sets kill, pause and clock faults choose among.
    pub fault_targets: Vec<Targets>,
    /// Seconds of delay the packet fault adds between nodes, besides loss
    /// (0: none; needs netem on the nodes).
    pub packet_delay: f64,
    /// Seconds between fault starts and stops.
    pub nemesis_interval: f64,
    /// What clock faults choose among: bump, strobe.
    pub clock_faults: Vec<ClockFault>,
    /// Seconds of the smallest clock bump (each bump's size is drawn
    /// between this and `clock_bump_max`, either sign).
    pub clock_bump_min: f64,
    /// Seconds of the largest clock bump.
    pub clock_bump_max: f64,
    /// Seconds a strobe moves a clock by at each flip.
    pub strobe_delta: f64,
    /// Seconds between a strobe's flips.
    pub strobe_period: f64,
    /// Seconds a strobe lasts.
    pub strobe_duration: f64,
    /// What file faults choose among: bitflip, truncate, snapshot.
    pub file_faults: Vec<FileFault>,
    /// The node sets file faults choose among (default: a minority).
    pub file_fault_targets: Vec<Targets>,
    /// Seconds of workload.
    pub time_limit: f64,
    /// Seconds given to the cluster to recover after healing, before the
    /// final reads.
    pub recovery_time: f64,
    /// Client worker threads.
    pub concurrency: usize,
    /// Nodes of the local cluster (ignored with `nodes_file`).
    pub nodes: usize,
    /// Which local cluster of this machine (0 to 99; each has its own
    /// folder, bridge and subnet, so runs in different ones never collide).
    pub cluster: u8,
    /// Real machines instead of the local cluster: a file with one
    /// `name [address]` per line.
    pub nodes_file: Option<PathBuf>,
    /// SSH settings for real machines.
    pub ssh: SshSpec,
    /// The RNG seed of the generator and the nemesis (random when absent;
    /// the one used is recorded).
    pub seed: Option<u64>,
    /// Client op timeout in seconds (then the op is `info`).
    pub op_timeout: f64,
    /// Workload options.
    pub workload_options: Options,
    /// Where results go.
    pub results_dir: PathBuf,
    /// Remove the target's data from the nodes after the run.
    pub teardown: bool,
}

/// How to reach real machines.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SshSpec {
    /// The user to log in as (sudo is used when not root).
    pub username: String,
    /// The private key.
    pub key: Option<PathBuf>,
    /// The known_hosts file (default `~/.ssh/known_hosts`).
    pub known_hosts: Option<PathBuf>,
    /// Accept and record host keys not yet known (default: refuse them).
    pub accept_new_host_keys: bool,
    /// The SSH port.
    pub port: u16,
}

impl Default for SshSpec {
    fn default() -> Self {
        SshSpec {
            username: "root".into(),
            key: None,
            known_hosts: None,
            accept_new_host_keys: false,
            port: 22,
        }
    }
}

impl Default for TestSpec {
    fn default() -> Self {
        TestSpec {
            name: String::new(),
            target: TargetSpec::default(),
            workload: "register".into(),
            nemesis: vec![FaultKind::Partition, FaultKind::Kill, FaultKind::Pause],
            partition_shapes: Shape::ALL.to_vec(),
            fault_targets: Targets::ALL.to_vec(),
            packet_delay: 0.0,
            nemesis_interval: 5.0,
            clock_faults: ClockFault::ALL.to_vec(),
            clock_bump_min: 0.01,
            clock_bump_max: 30.0,
            strobe_delta: 5.0,
            strobe_period: 0.5,
            strobe_duration: 3.0,
            file_faults: FileFault::ALL.to_vec(),
            file_fault_targets: vec![Targets::Minority],
            time_limit: 30.0,
            recovery_time: 5.0,
            concurrency: 10,
            nodes: 5,
            cluster: 0,
            nodes_file: None,
            ssh: SshSpec::default(),
            seed: None,
            op_timeout: 2.0,
            workload_options: Options::default(),
            results_dir: PathBuf::from("results"),
            teardown: true,
        }
    }
}

/// A spec that makes no sense.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// The TOML file could not be read.
    #[error("cannot read test file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The TOML file does not describe a test (typo, wrong type).
    #[error("test file {}: {message}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message, with line and column.
        message: String,
    },
    /// A value is out of range.
    #[error("{0}")]
    Invalid(String),
}

/// The most client threads a run may have.
pub const MAX_CONCURRENCY: usize = 4096;

const MINUTE: f64 = 60.0;
const HOUR: f64 = 60.0 * MINUTE;
const DAY: f64 = 24.0 * HOUR;

/// Checks that a test or node name is safe as one path component (it
/// names folders under results/ and on the nodes): 1 to 100 letters,
/// digits, `.`, `_` and `-`, not starting with `.` or `-`.
pub fn check_name(what: &str, name: &str) -> Result<(), String> {
    let safe = |c: char| c.is_ascii_alphanumeric() || "._-".contains(c);
    let first_ok = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric());
    if name.len() <= 100 && first_ok && name.chars().all(safe) {
        Ok(())
    } else {
        Err(format!(
            "{what} {name:?}: use 1 to 100 letters, digits, '.', '_' or '-', starting with a letter or digit"
        ))
    }
}

/// Checks that `seconds` is a number of seconds in `min..=max`, naming the
/// option and the range in words.
fn check_seconds(what: &str, seconds: f64, min: f64, max: f64) -> Result<(), String> {
    if seconds.is_finite() && (min..=max).contains(&seconds) {
        return Ok(());
    }
    let words = |s: f64| match s {
        s if s >= DAY => format!("{} days", s / DAY),
        s if s >= HOUR => format!("{} h", s / HOUR),
        s if s > 0.0 && s < 1.0 => format!("{} ms", s * 1000.0),
        s => format!("{s} s"),
    };
    Err(format!(
        "--{what} must be between {} and {}, not {seconds} s",
        words(min),
        words(max)
    ))
}

impl TestSpec {
    /// Reads a TOML test file over the defaults; an unknown key is an error
    /// naming the line, so a typo never silently falls back to a default.
    pub fn from_toml_file(path: &Path) -> Result<TestSpec, SpecError> {
        let text = std::fs::read_to_string(path).map_err(|source| SpecError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        TestSpec::from_toml_str(&text, path)
    }

    /// Reads the TOML text of a test file (`path` names it in errors).
    pub fn from_toml_str(text: &str, path: &Path) -> Result<TestSpec, SpecError> {
        toml::from_str(text).map_err(|e| SpecError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }

    /// The spec with every file path made absolute against `base` (the
    /// folder the run started in), for files read later from elsewhere:
    /// `temblor heal` rebuilds a run from its state file in any folder.
    pub fn absolute(&self, base: &Path) -> TestSpec {
        let abs = |p: &PathBuf| match p.is_absolute() {
            true => p.clone(),
            false => base.join(p),
        };
        let mut spec = self.clone();
        spec.results_dir = abs(&self.results_dir);
        spec.nodes_file = self.nodes_file.as_ref().map(abs);
        match &mut spec.target {
            TargetSpec::Raftkv(r) => r.binary = r.binary.as_ref().map(abs),
            TargetSpec::File(f) => f.path = abs(&f.path),
            _ => {}
        }
        spec.ssh.key = self.ssh.key.as_ref().map(abs);
        spec.ssh.known_hosts = self.ssh.known_hosts.as_ref().map(abs);
        spec
    }

    /// The name, or `<target>-<workload>` when none was given.
    pub fn test_name(&self) -> String {
        if self.name.is_empty() {
            format!("{}-{}", self.target.name(), self.workload)
        } else {
            self.name.clone()
        }
    }

    /// Every duration within a range a run can use (a huge one would
    /// overflow the clock arithmetic; a tiny op timeout turns every op
    /// into `info`).
    fn validate_durations(&self) -> Result<(), String> {
        check_seconds("time-limit", self.time_limit, 0.001, 30.0 * DAY)?;
        check_seconds("nemesis-interval", self.nemesis_interval, 0.001, DAY)?;
        check_seconds("op-timeout", self.op_timeout, 0.001, HOUR)?;
        check_seconds("recovery-time", self.recovery_time, 0.0, DAY)?;
        check_seconds("packet-delay", self.packet_delay, 0.0, MINUTE)?;
        self.validate_clock()
    }

    /// The clock nemesis's settings within ranges it can use.
    fn validate_clock(&self) -> Result<(), String> {
        check_seconds("clock-bump-min", self.clock_bump_min, 0.001, DAY)?;
        check_seconds("clock-bump-max", self.clock_bump_max, 0.001, DAY)?;
        if self.clock_bump_max < self.clock_bump_min {
            return Err(format!(
                "--clock-bump-max ({} s) must not be less than --clock-bump-min ({} s)",
                self.clock_bump_max, self.clock_bump_min
            ));
        }
        check_seconds("strobe-delta", self.strobe_delta, 0.001, DAY)?;
        check_seconds("strobe-period", self.strobe_period, 0.001, MINUTE)?;
        check_seconds("strobe-duration", self.strobe_duration, 0.0, HOUR)
    }

    /// The file nemesis's settings.
    pub fn file_options(&self) -> FileOptions {
        FileOptions {
            faults: self.file_faults.clone(),
            targets: self.file_fault_targets.clone(),
        }
    }

    /// The clock nemesis's settings, in milliseconds.
    pub fn clock_options(&self) -> ClockOptions {
        let ms = |s: f64| (s * 1000.0).round() as i64;
        ClockOptions {
            bump_min_ms: ms(self.clock_bump_min),
            bump_max_ms: ms(self.clock_bump_max),
            strobe: Strobe {
                delta_ms: ms(self.strobe_delta),
                period_ms: ms(self.strobe_period).unsigned_abs(),
                duration_ms: ms(self.strobe_duration).unsigned_abs(),
            },
        }
    }

    /// Checks ranges and names that would otherwise fail mid-run.
    pub fn validate(&self) -> Result<(), SpecError> {
        let bad = |m: String| Err(SpecError::Invalid(m));
        workloads::by_name(&self.workload).map_err(|e| SpecError::Invalid(e.to_string()))?;
        let target = |e: targets::TargetError| SpecError::Invalid(e.to_string());
        self.target.validate().map_err(target)?;
        self.target.check_workload(&self.workload).map_err(target)?;
        self.workload_options
            .validate()
            .map_err(|e| SpecError::Invalid(e.to_string()))?;
        if !self.name.is_empty() {
            check_name("--name", &self.name).map_err(SpecError::Invalid)?;
        }
        self.validate_durations().map_err(SpecError::Invalid)?;
        if !(1..=MAX_CONCURRENCY).contains(&self.concurrency) {
            return bad(format!(
                "--concurrency must be between 1 and {MAX_CONCURRENCY}, not {}",
                self.concurrency
            ));
        }
        if self.nodes_file.is_none() && !(1..=64).contains(&self.nodes) {
            return bad(format!(
                "--nodes must be between 1 and 64, not {}",
                self.nodes
            ));
        }
        if self.cluster > targets::cluster::MAX_SLOT {
            return bad(format!(
                "--cluster must be between 0 and {}, not {}",
                targets::cluster::MAX_SLOT,
                self.cluster
            ));
        }
        if self.ssh.port == 0 {
            return bad("ssh.port must be between 1 and 65535, not 0".into());
        }
        if self.nemesis.contains(&FaultKind::Partition) && self.partition_shapes.is_empty() {
            return bad("the partition nemesis needs at least one shape".into());
        }
        if self.nemesis.contains(&FaultKind::Clock) && self.clock_faults.is_empty() {
            return bad("the clock nemesis needs at least one --clock-faults choice".into());
        }
        if self.nemesis.contains(&FaultKind::File)
            && (self.file_faults.is_empty() || self.file_fault_targets.is_empty())
        {
            return bad(
                "the file nemesis needs at least one --file-faults and one --file-fault-targets \
                 choice"
                    .into(),
            );
        }
        let targeted = [FaultKind::Kill, FaultKind::Pause, FaultKind::Clock];
        if self.nemesis.iter().any(|k| targeted.contains(k)) && self.fault_targets.is_empty() {
            return bad(
                "kill, pause and clock faults need at least one --fault-targets choice".into(),
            );
        }
        Ok(())
    }
}

/// The property the test-file fuzz target checks, for any bytes: as a
/// TOML test file they give a spec or an error naming the file (never a
/// panic); a spec that validates survives what a run does with it (names
/// its results folder, makes its paths absolute, round-trips through
/// spec.json). Panics when the property fails. The fuzz target
/// (`harness/fuzz`) and the replay of its corpus in `cargo test` call it.
pub fn read_any_test_file(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let spec = match TestSpec::from_toml_str(text, Path::new("fuzz.toml")) {
        Ok(spec) => spec,
        Err(e) => {
            assert!(e.to_string().starts_with("test file fuzz.toml: "), "{e}");
            return;
        }
    };
    if spec.validate().is_err() {
        return;
    }
    let _ = spec.test_name();
    let _ = spec.absolute(Path::new("/base"));
    let json = serde_json::to_string(&spec).expect("a valid spec serializes");
    let back: TestSpec = serde_json::from_str(&json).expect("spec.json reads back");
    assert_eq!(back, spec, "spec.json round trip");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fuzz_corpus_still_reads_or_fails_cleanly() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/test_file");
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            read_any_test_file(&std::fs::read(entry.unwrap().path()).unwrap());
            n += 1;
        }
        assert!(n >= 5, "the corpus in {} is missing", dir.display());
    }

    #[test]
    fn a_toml_typo_is_an_error_with_its_line() {
        let dir = std::env::temp_dir().join(format!("temblor-spec-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("test.toml");
        std::fs::write(&file, "workload = \"register\"\ntime_limt = 10\n").unwrap();
        let e = TestSpec::from_toml_file(&file).unwrap_err().to_string();
        assert!(e.contains("time_limt") && e.contains("line 2"), "{e}");
        std::fs::write(
            &file,
            "workload = \"list-append\"\nnemesis = [\"partition\"]\n",
        )
        .unwrap();
        let spec = TestSpec::from_toml_file(&file).unwrap();
        assert_eq!(spec.workload, "list-append");
        assert_eq!(spec.nemesis, vec![FaultKind::Partition]);
        assert_eq!(spec.concurrency, TestSpec::default().concurrency);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn paths_are_made_absolute_against_the_starting_folder() {
        let spec = TestSpec {
            nodes_file: Some("nodes.txt".into()),
            target: TargetSpec::Raftkv(targets::registry::RaftKvSpec {
                binary: Some("/opt/raftkv".into()),
                ..Default::default()
            }),
            ssh: SshSpec {
                key: Some("keys/id".into()),
                ..SshSpec::default()
            },
            ..TestSpec::default()
        };
        let abs = spec.absolute(Path::new("/home/me/tests"));
        assert_eq!(abs.results_dir, Path::new("/home/me/tests/results"));
        assert_eq!(
            abs.nodes_file.unwrap(),
            Path::new("/home/me/tests/nodes.txt")
        );
        let TargetSpec::Raftkv(raftkv) = &abs.target else {
            panic!("{:?}", abs.target)
        };
        assert_eq!(raftkv.binary.as_deref(), Some(Path::new("/opt/raftkv")));
        assert_eq!(abs.ssh.key.unwrap(), Path::new("/home/me/tests/keys/id"));
        assert_eq!(abs.ssh.known_hosts, None);
    }

    #[test]
    fn bad_values_are_refused_by_name() {
        let consul = TestSpec {
            target: TargetSpec::named("consul").unwrap(),
            ..TestSpec::default()
        };
        let e = consul.validate().unwrap_err().to_string();
        assert!(e.contains("--consul-install"), "{e}");
        let spec = TestSpec {
            workload: "ledger".into(),
            ..TestSpec::default()
        };
        assert!(spec
            .validate()
            .unwrap_err()
            .to_string()
            .contains("unknown workload"));
        assert!(TestSpec::default().validate().is_ok());
        let spec = TestSpec {
            time_limit: -1.0,
            ..TestSpec::default()
        };
        assert!(spec.validate().is_err());
    }

    fn refused(spec: TestSpec) -> String {
        spec.validate().unwrap_err().to_string()
    }

    #[test]
    fn durations_and_counts_out_of_range_are_refused_with_the_range() {
        let huge = TestSpec {
            time_limit: 1e30,
            ..TestSpec::default()
        };
        assert_eq!(
            refused(huge),
            "--time-limit must be between 1 ms and 30 days, not 1000000000000000000000000000000 s"
        );
        let nan = TestSpec {
            op_timeout: f64::NAN,
            ..TestSpec::default()
        };
        assert!(refused(nan).starts_with("--op-timeout must be between 1 ms and 1 h"));
        let interval = TestSpec {
            nemesis_interval: 0.0,
            ..TestSpec::default()
        };
        assert!(refused(interval).starts_with("--nemesis-interval must be between"));
        let recovery = TestSpec {
            recovery_time: 2.0 * DAY,
            ..TestSpec::default()
        };
        assert!(refused(recovery).starts_with("--recovery-time must be between 0 s and 1 days"));
        let threads = TestSpec {
            concurrency: 1_000_000,
            ..TestSpec::default()
        };
        assert!(refused(threads).starts_with("--concurrency must be between 1 and 4096"));
        let port = TestSpec {
            ssh: SshSpec {
                port: 0,
                ..SshSpec::default()
            },
            ..TestSpec::default()
        };
        assert!(refused(port).starts_with("ssh.port"));
    }

    #[test]
    fn clock_settings_out_of_range_are_refused_and_the_rest_become_milliseconds() {
        let spec = |f: fn(&mut TestSpec)| {
            let mut s = TestSpec::default();
            f(&mut s);
            s
        };
        assert!(refused(spec(|s| s.clock_bump_min = 0.0))
            .starts_with("--clock-bump-min must be between 1 ms and 1 days"));
        assert_eq!(
            refused(spec(|s| {
                s.clock_bump_min = 2.0;
                s.clock_bump_max = 1.0
            })),
            "--clock-bump-max (1 s) must not be less than --clock-bump-min (2 s)"
        );
        assert!(refused(spec(|s| s.strobe_delta = f64::NAN)).starts_with("--strobe-delta"));
        assert!(refused(spec(|s| s.strobe_period = 0.0))
            .starts_with("--strobe-period must be between 1 ms and 60 s"));
        assert!(refused(spec(|s| s.strobe_duration = -1.0))
            .starts_with("--strobe-duration must be between 0 s and 1 h"));
        assert_eq!(
            refused(spec(|s| {
                s.nemesis = vec![FaultKind::Clock];
                s.clock_faults.clear()
            })),
            "the clock nemesis needs at least one --clock-faults choice"
        );
        let ok = spec(|s| {
            s.clock_bump_min = 0.25;
            s.clock_bump_max = 2.0;
            s.strobe_delta = 0.2;
            s.strobe_period = 0.05;
            s.strobe_duration = 1.5;
        });
        assert!(ok.validate().is_ok());
        assert_eq!(
            ok.clock_options(),
            ClockOptions {
                bump_min_ms: 250,
                bump_max_ms: 2000,
                strobe: Strobe {
                    delta_ms: 200,
                    period_ms: 50,
                    duration_ms: 1500
                }
            }
        );
    }

    #[test]
    fn names_that_are_not_one_safe_path_component_are_refused() {
        for good in ["register", "etcd-3.5_nightly", "a"] {
            assert_eq!(check_name("--name", good), Ok(()));
        }
        for bad in [
            "",
            "../etc",
            "a/b",
            ".hidden",
            "-x",
            "sp ace",
            "ü",
            &"x".repeat(101),
        ] {
            assert!(check_name("--name", bad).is_err(), "{bad:?}");
        }
        let spec = TestSpec {
            name: "../../tmp/x".into(),
            ..TestSpec::default()
        };
        assert!(refused(spec).starts_with("--name \"../../tmp/x\": use 1 to 100 letters"));
    }
}
