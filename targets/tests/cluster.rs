//! The local cluster end to end: `up`, then over `Ssh` each node is its own
//! host (hostname, process table, files), a DROP rule partitions one pair,
//! bad keys and addresses fail clearly, and `down` leaves nothing behind.
//!
//! Needs root and `ip netns`. Without them the tests say why and pass,
//! except under `CI=true`, where they fail. Each test uses its own bridge,
//! /24 and directory, derived from its own tag and the local-cluster slot
//! `TEMBLOR_CLUSTER` names (bridge `tmbt<slot>t<tag>`, 10.<78+tag>.<slot>.0/24),
//! so jobs on different slots of one machine never share one; a guard runs
//! `down` even when an assertion fails.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use targets::cluster::{self, Cluster, State, UpOptions};
use targets::node::{self, Daemon, NodePaths, Probe, Started, Stopped};
use targets::remote::{AsyncRemote, Command, HostKeyPolicy, Local, Remote, RemoteError, Ssh};

/// Why the tests cannot run here, if they cannot.
fn missing_prerequisite() -> Option<String> {
    if targets::remote::effective_uid() != Some(0) {
        return Some("not root".to_string());
    }
    match Local::new().exec(&Command::shell("ip netns list")) {
        Ok(_) => None,
        Err(e) => Some(format!("`ip netns` is unavailable: {e}")),
    }
}

fn can_run() -> bool {
    match missing_prerequisite() {
        None => true,
        Some(why) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("CI=true but the local-cluster tests cannot run: {why}")
        }
        Some(why) => {
            eprintln!("skipping local-cluster test: {why}");
            false
        }
    }
}

/// Runs `down` when dropped, so a failed assertion leaves nothing behind.
struct Guard(PathBuf);

impl Drop for Guard {
    fn drop(&mut self) {
        if let Err(e) = cluster::down(&self.0) {
            eprintln!("teardown of {}: {e}", self.0.display());
        }
    }
}

/// Test `tag`'s cluster (tags 1 to 9) in this job's slot.
fn options(tag: u8, nodes: usize) -> UpOptions {
    let slot = cluster::Slot::from_env()
        .expect("TEMBLOR_CLUSTER is a cluster number")
        .number();
    UpOptions {
        dir: std::env::temp_dir().join(format!("temblor-cluster-test{tag}-{}", std::process::id())),
        nodes,
        bridge: format!("tmbt{slot}t{tag}"),
        subnet: format!("10.{}.{slot}.0/24", 78 + tag).parse().unwrap(),
    }
}

/// Brings a cluster up, runs `body`, brings it down and checks that
/// nothing of it remains, and that a second `down` is a quiet no-op.
fn with_cluster(tag: u8, nodes: usize, body: impl FnOnce(&Cluster, &UpOptions)) {
    let opts = options(tag, nodes);
    let guard = Guard(opts.dir.clone());
    let cluster = cluster::up(&opts).unwrap_or_else(|e| panic!("up: {}", chain(&e)));
    body(&cluster, &opts);
    let state = cluster.state().clone();
    let report = cluster::down(&opts.dir).unwrap_or_else(|e| panic!("down: {}", chain(&e)));
    assert!(report.found && !report.removed.is_empty());
    assert_nothing_left(&opts, &state);
    let again = cluster::down(&opts.dir).unwrap();
    assert!(!again.found && again.removed.is_empty());
    drop(guard);
}

fn assert_nothing_left(opts: &UpOptions, state: &State) {
    let sh = |line: &str| Local::new().exec(&Command::shell(line)).unwrap().stdout;
    assert!(
        !sh("ip netns list").contains(&opts.bridge),
        "a namespace remains"
    );
    assert!(
        !sh("ip -o link").contains(&opts.bridge),
        "a link or the bridge remains"
    );
    assert!(
        !sh("iptables -w -S FORWARD").contains(&opts.bridge),
        "the FORWARD rule remains"
    );
    assert!(
        !opts.dir.exists(),
        "the cluster directory (and state file) remains"
    );
    let dir = opts.dir.display().to_string();
    let sshd_left = sh("cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\\0' ' '")
        .contains(&format!("sshd -D -e -f {dir}"));
    assert!(!sshd_left, "a node's sshd still runs");
    for resource in &state.resources {
        if let cluster::state::Resource::Process {
            pid, start_time, ..
        } = resource
        {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            assert!(
                !stat.contains(&format!(" {start_time} ")) || stat.contains(") Z "),
                "init {pid} remains"
            );
        }
    }
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    text
}

fn run(remote: &dyn Remote, line: &str) -> String {
    remote
        .exec(&Command::shell(line))
        .unwrap_or_else(|e| panic!("{line}: {}", chain(&e)))
        .stdout
}

#[test]
fn nodes_behave_like_separate_hosts() {
    if !can_run() {
        return;
    }
    with_cluster(1, 3, |cluster, opts| {
        let net = opts.subnet.to_string();
        let net = net.trim_end_matches(".0/24");
        let ssh: Vec<Ssh> = cluster
            .names()
            .iter()
            .map(|n| cluster.ssh(n).unwrap())
            .collect();
        for (remote, name) in ssh.iter().zip(cluster.names()) {
            assert_eq!(run(remote, "hostname").trim(), name);
            let cap_eff = run(remote, "grep CapEff /proc/self/status");
            let bits = u64::from_str_radix(cap_eff.split_whitespace().nth(1).unwrap(), 16).unwrap();
            assert_eq!(bits & (1 << 25), 0, "{name} keeps CAP_SYS_TIME");
        }
        assert_eq!(
            run(&ssh[0], "getent hosts n3").split_whitespace().next(),
            Some(format!("{net}.13").as_str())
        );
        let routes = run(&ssh[0], "ip -4 route; ip -6 addr");
        assert_eq!(
            routes.trim(),
            format!("{net}.0/24 dev eth0 proto kernel scope link src {net}.11")
        );
        files_round_trip(&ssh[0], &cluster.dir().join("scratch"));
        daemon_lives_only_on_its_node(&ssh);
        binaries_are_per_node(&ssh);
        a_slow_command_times_out_and_the_next_one_runs(&ssh[2]);
        large_stderr_does_not_block_stdout(&ssh[2]);
        reused_session_survives_a_dropped_connection(&ssh[0], cluster);
        async_remotes_run_concurrently(cluster);
    });
}

fn files_round_trip(n1: &Ssh, scratch: &Path) {
    std::fs::create_dir_all(scratch).unwrap();
    let (sent, back) = (scratch.join("sent"), scratch.join("back"));
    let payload: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&sent, &payload).unwrap();
    let remote_path = NodePaths::new("n1").var("payload.bin");
    run(n1, &format!("mkdir -p {}", NodePaths::new("n1").var_dir()));
    n1.upload(&sent, &remote_path).unwrap();
    n1.download(&remote_path, &back).unwrap();
    assert_eq!(std::fs::read(&back).unwrap(), payload);
    let err = n1.download("/nonexistent/file", &back).unwrap_err();
    assert!(
        err.to_string().contains("n1") && err.to_string().contains("/nonexistent/file"),
        "{err}"
    );
}

fn daemon_lives_only_on_its_node(ssh: &[Ssh]) {
    let paths = NodePaths::new("n2");
    let pidfile = paths.var("sleeper.pid");
    let daemon = Daemon::new("sleep", &pidfile, &paths.var("sleeper.log")).args(["4321"]);
    let Started::New(pid) = node::start(&ssh[1], &daemon).unwrap() else {
        panic!("already running")
    };
    assert!(node::is_running(&ssh[1], &pidfile).unwrap());
    let shows = |r: &Ssh| {
        run(r, "ps -eo pid,args")
            .lines()
            .any(|l| l.contains("sleep 4321"))
    };
    assert!(shows(&ssh[1]), "n2's process table lacks pid {pid}");
    assert!(
        !shows(&ssh[0]) && !shows(&ssh[2]),
        "another node sees n2's daemon"
    );
    assert_eq!(
        node::stop(&ssh[1], &pidfile, Duration::from_secs(3)).unwrap(),
        Stopped::Terminated
    );
    assert!(!node::is_running(&ssh[1], &pidfile).unwrap());
    assert!(!shows(&ssh[1]), "the daemon outlived stop");
}

/// A binary uploaded to n1's /opt/temblor exists on n1 only: not on n2,
/// not on the machine itself.
fn binaries_are_per_node(ssh: &[Ssh]) {
    let target = NodePaths::new("n1").opt("bin/echo-copy");
    node::upload_binary(&ssh[0], Path::new("/bin/echo"), &target).unwrap();
    assert_eq!(run(&ssh[0], &format!("{target} uploaded")), "uploaded\n");
    let probe = format!("test -e {target}");
    assert!(
        !ssh[1]
            .exec(&Command::shell(&probe).unchecked())
            .unwrap()
            .success(),
        "n2 sees n1's binary"
    );
    assert!(!Path::new(&target).exists(), "the machine sees n1's binary");
}

fn a_slow_command_times_out_and_the_next_one_runs(n3: &Ssh) {
    let started = Instant::now();
    let err = n3
        .exec(
            &Command::new("sleep")
                .arg("5")
                .timeout(Duration::from_millis(300)),
        )
        .unwrap_err();
    assert!(matches!(err, RemoteError::Timeout { .. }), "{err}");
    assert!(
        err.to_string().starts_with("n3: `sleep 5` did not finish"),
        "{err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(run(n3, "hostname").trim(), "n3");
}

/// Stdout is read before stderr; more stderr than the SSH window (2 MiB)
/// must not stall the command.
fn large_stderr_does_not_block_stdout(n3: &Ssh) {
    let cmd = Command::shell("head -c 3000000 /dev/zero | tr '\\0' e >&2; echo done")
        .timeout(Duration::from_secs(20));
    let out = n3.exec(&cmd).unwrap();
    assert_eq!(
        (out.stdout.as_str(), out.stderr.len()),
        ("done\n", 3_000_000)
    );
}

/// Kills the sshd process serving one session from another session; the
/// next exec on the first must reconnect once and succeed.
fn reused_session_survives_a_dropped_connection(n1: &Ssh, cluster: &Cluster) {
    let server = run(n1, "echo $PPID").trim().to_string();
    let other = cluster.ssh("n1").unwrap();
    run(&other, &format!("kill -9 {server}"));
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(run(n1, "hostname").trim(), "n1");
    assert_ne!(
        run(n1, "echo $PPID").trim(),
        server,
        "the old connection was reused"
    );
}

fn async_remotes_run_concurrently(cluster: &Cluster) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let remotes: Vec<AsyncRemote> = cluster
        .names()
        .iter()
        .map(|n| AsyncRemote::new(cluster.ssh(n).unwrap()))
        .collect();
    let names = rt.block_on(async {
        let tasks: Vec<_> = remotes
            .into_iter()
            .map(|r| tokio::spawn(async move { r.exec(Command::new("hostname")).await }))
            .collect();
        let mut names = Vec::new();
        for t in tasks {
            names.push(t.await.unwrap().unwrap().stdout.trim().to_string());
        }
        names
    });
    assert_eq!(names, cluster.names());
}

#[test]
fn a_drop_rule_partitions_one_pair() {
    if !can_run() {
        return;
    }
    with_cluster(2, 3, |cluster, _| {
        let n1 = cluster.ssh("n1").unwrap();
        let limit = Duration::from_secs(1);
        let probe = |to: &str| node::probe_port(&n1, to, 22, limit).unwrap();
        assert_eq!(probe("n2"), Probe::Open);
        let n2 = cluster.addr("n2").unwrap();
        run(&n1, &format!("iptables -w -A INPUT -s {n2} -j DROP"));
        assert_eq!(probe("n2"), Probe::TimedOut);
        assert_eq!(probe("n3"), Probe::Open);
        run(&n1, "iptables -w -F INPUT");
        assert_eq!(probe("n2"), Probe::Open);
    });
}

#[test]
fn bad_addresses_keys_and_host_keys_fail_clearly() {
    if !can_run() {
        return;
    }
    with_cluster(3, 2, |cluster, opts| {
        unreachable_address_fails_within_the_connect_timeout(cluster, opts);
        a_wrong_key_names_the_key(cluster);
        unknown_and_changed_host_keys_are_refused(cluster);
        let clash = UpOptions {
            dir: opts.dir.with_extension("clash"),
            bridge: options(9, 2).bridge,
            ..opts.clone()
        };
        let err = cluster::up(&clash).unwrap_err();
        assert!(
            matches!(err, cluster::ClusterError::SubnetInUse { .. }),
            "{err}"
        );
        assert!(!clash.dir.exists());
    });
}

fn unreachable_address_fails_within_the_connect_timeout(cluster: &Cluster, opts: &UpOptions) {
    let mut cfg = cluster.ssh_config("n1").unwrap();
    cfg.host = "ghost".into();
    let ghost = opts.subnet.to_string().replace(".0/24", ".250");
    cfg.addr = ghost.clone();
    cfg.connect_timeout = Duration::from_secs(1);
    let started = Instant::now();
    let err = Ssh::new(cfg).exec(&Command::new("true")).unwrap_err();
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "took {:?}",
        started.elapsed()
    );
    assert!(
        matches!(
            err,
            RemoteError::ConnectTimeout { .. } | RemoteError::Unreachable { .. }
        ),
        "{err}"
    );
    assert!(
        err.to_string().starts_with("ghost: ") && err.to_string().contains(&format!("{ghost}:22")),
        "{err}"
    );
}

fn a_wrong_key_names_the_key(cluster: &Cluster) {
    let key = cluster.dir().join("stranger_key");
    let path = key.display().to_string();
    Local::new()
        .exec(&Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-f", &path]))
        .unwrap();
    let mut cfg = cluster.ssh_config("n1").unwrap();
    cfg.key = key;
    let err = Ssh::connect(cfg)
        .err()
        .expect("a stranger's key was accepted");
    let msg = err.to_string();
    assert!(matches!(err, RemoteError::AuthFailed { .. }), "{msg}");
    assert!(
        msg.contains("authentication failed") && msg.contains(&path) && msg.starts_with("n1: "),
        "{msg}"
    );
}

fn unknown_and_changed_host_keys_are_refused(cluster: &Cluster) {
    let known = cluster.dir().join("test_known_hosts");
    std::fs::write(&known, "").unwrap();
    let mut cfg = cluster.ssh_config("n1").unwrap();
    cfg.known_hosts = known.clone();
    let err = Ssh::connect(cfg.clone())
        .err()
        .expect("an unknown host key was accepted");
    let msg = err.to_string();
    assert!(matches!(err, RemoteError::HostKeyUnknown { .. }), "{msg}");
    assert!(
        msg.contains("SHA256:") && msg.contains("accept") && msg.contains("ssh-keyscan"),
        "{msg}"
    );

    // n2's key recorded under n1's address: a changed key.
    let n2_line = std::fs::read_to_string(cluster.known_hosts_path()).unwrap();
    let n2_key = n2_line
        .lines()
        .find(|l| l.starts_with("n2,"))
        .unwrap()
        .split_once(' ')
        .unwrap()
        .1
        .to_string();
    std::fs::write(
        &known,
        format!("{} {n2_key}\n", cluster.addr("n1").unwrap()),
    )
    .unwrap();
    let err = Ssh::connect(cfg.clone())
        .err()
        .expect("a changed host key was accepted");
    assert!(
        matches!(err, RemoteError::HostKeyMismatch { .. }) && err.to_string().contains("SHA256:"),
        "{err}"
    );

    // accept-new records an unknown key; strict checking then passes.
    std::fs::write(&known, "").unwrap();
    let accepting = targets::remote::SshConfig {
        host_keys: HostKeyPolicy::AcceptNew,
        ..cfg.clone()
    };
    assert_eq!(
        run(&Ssh::connect(accepting).unwrap(), "hostname").trim(),
        "n1"
    );
    assert!(std::fs::read_to_string(&known)
        .unwrap()
        .contains(&cluster.addr("n1").unwrap().to_string()));
    assert_eq!(run(&Ssh::connect(cfg).unwrap(), "hostname").trim(), "n1");
}

/// A controller that died mid-`up` leaves a journal whose last intents were
/// never carried out; `down` removes what exists (killing what runs in the
/// namespaces) and skips the rest.
#[test]
fn down_after_a_crash_mid_up_removes_what_exists() {
    use cluster::state::{Journal, Resource};
    if !can_run() {
        return;
    }
    let opts = options(4, 2);
    let _guard = Guard(opts.dir.clone());
    std::fs::create_dir_all(&opts.dir).unwrap();
    let (br, ns1) = (opts.bridge.clone(), format!("{}-n1", opts.bridge));
    let state = State {
        bridge: br.clone(),
        subnet: opts.subnet.to_string(),
        nodes: Vec::new(),
        resources: vec![Resource::Dir {
            path: opts.dir.clone(),
            recursive: true,
        }],
        up_millis: None,
    };
    let mut journal = Journal::create(&opts.dir, state).unwrap();
    let sh = |line: &str| run(&Local::new(), line);
    journal
        .intend(Resource::Bridge { name: br.clone() })
        .unwrap();
    sh(&format!("ip link add {br} type bridge"));
    journal
        .intend(Resource::ForwardRule { bridge: br.clone() })
        .unwrap();
    sh(&format!("iptables -w -I FORWARD -i {br} -o {br} -j ACCEPT"));
    journal
        .intend(Resource::Netns { name: ns1.clone() })
        .unwrap();
    sh(&format!("ip netns add {ns1}"));
    let mut stray = std::process::Command::new("ip")
        .args(["netns", "exec", &ns1, "sleep", "60"])
        .spawn()
        .unwrap();
    // The crash: these were journaled but never made.
    journal
        .intend(Resource::Veth { name: ns1.clone() })
        .unwrap();
    journal
        .intend(Resource::Netns {
            name: format!("{br}-n2"),
        })
        .unwrap();

    let report = cluster::down(&opts.dir).unwrap_or_else(|e| panic!("down: {}", chain(&e)));
    let expected = [
        format!("netns {ns1}"),
        format!("iptables FORWARD rule for {br}"),
        format!("bridge {br}"),
    ];
    for line in &expected {
        assert!(
            report.removed.contains(line),
            "{line} not removed: {:?}",
            report.removed
        );
    }
    assert_eq!(
        report.removed.len(),
        expected.len() + 1,
        "{:?}",
        report.removed
    );
    let waited = Instant::now();
    while stray.try_wait().unwrap().is_none() {
        assert!(
            waited.elapsed() < Duration::from_secs(5),
            "the process in {ns1} survived down"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_nothing_left(&opts, &journal.state);
    assert!(!cluster::down(&opts.dir).unwrap().found);
}
