use super::*;

/// A scratch folder with a target file named `kv`.
fn file_target(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("temblor-registry-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("target.toml");
    std::fs::write(
        &path,
        r#"
name = "kv"
[client]
command = ["python3", "client.py"]
workloads = ["register"]
[ports]
client = 9000
[options]
level = { default = "high", choices = ["high", "low"] }
[[daemon]]
name = "kvd"
command = "kvd --port {{ ports.client }} --level {{ options.level }}"
[clock]
mode = "faketime"
"#,
    )
    .unwrap();
    path
}

#[derive(Debug, Deserialize)]
struct Holder {
    #[serde(deserialize_with = "deserialize_spec")]
    target: TargetSpec,
}

#[test]
fn names_and_paths_resolve_and_unknown_names_say_what_exists() {
    assert_eq!(
        TargetSpec::named("etcd").unwrap(),
        TargetSpec::Etcd(EtcdSpec::default())
    );
    assert_eq!(TargetSpec::default(), TargetSpec::named("raftkv").unwrap());
    let path = file_target("named");
    let spec = TargetSpec::named(path.to_str().unwrap()).unwrap();
    assert_eq!(spec.name(), "kv");
    assert_eq!(spec.workloads().unwrap(), ["register"]);
    let e = TargetSpec::named("mongo").unwrap_err().to_string();
    assert!(
        e.contains("unknown target \"mongo\": built in are raftkv, etcd, consul"),
        "{e}"
    );
    let e = TargetSpec::named("./nowhere/target.toml")
        .unwrap_err()
        .to_string();
    assert!(e.contains("target file ./nowhere/target.toml"), "{e}");
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

#[test]
fn a_test_file_gives_a_target_as_a_name_or_a_table() {
    let h: Holder = toml::from_str("target = \"etcd\"").unwrap();
    assert_eq!(h.target, TargetSpec::Etcd(EtcdSpec::default()));
    let h: Holder =
        toml::from_str("[target]\nkind = \"etcd\"\nserializable_reads = true\n").unwrap();
    assert_eq!(
        h.target,
        TargetSpec::Etcd(EtcdSpec {
            serializable_reads: true,
            ..EtcdSpec::default()
        })
    );
    let e = toml::from_str::<Holder>("[target]\nkind = \"etcd\"\nserialisable = true\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("serialisable"), "{e}");
    let h: Holder = toml::from_str(
        "[target]\nkind = \"store\"\nname = \"zk\"\noptions = { level = \"low\" }\n",
    )
    .unwrap();
    assert_eq!(
        h.target,
        TargetSpec::Store(StoreSpec {
            name: "zk".into(),
            options: BTreeMap::from([("level".to_string(), "low".to_string())]),
        })
    );
    // spec.json's form reads back as it was written.
    let json = serde_json::to_value(&h.target).unwrap();
    assert_eq!(json["kind"], "store");
    assert_eq!(
        serde_json::from_value::<TargetSpec>(json).unwrap(),
        h.target
    );
}

#[test]
fn options_of_built_in_targets_are_typed_and_checked() {
    let mut spec = TargetSpec::named("raftkv").unwrap();
    spec.set_option("bug", "lease-reads,early-ack").unwrap();
    assert_eq!(
        spec,
        TargetSpec::Raftkv(RaftKvSpec {
            bugs: vec!["lease-reads".into(), "early-ack".into()],
            binary: None,
        })
    );
    spec.validate().unwrap();
    spec.set_option("bugs", "slow-reads").unwrap();
    let e = spec.validate().unwrap_err().to_string();
    assert!(e.contains("raftkv has no bug \"slow-reads\""), "{e}");
    let e = spec.set_option("speed", "1").unwrap_err().to_string();
    assert!(
        e.contains("unknown option \"speed\" for target raftkv; it has: bugs, binary"),
        "{e}"
    );
    let mut etcd = TargetSpec::named("etcd").unwrap();
    etcd.set_option("serializable-reads", "true").unwrap();
    assert!(etcd.set_option("serializable-reads", "maybe").is_err());
    let consul = TargetSpec::named("consul").unwrap();
    assert!(consul
        .validate()
        .unwrap_err()
        .to_string()
        .contains("--consul-install"));
}

#[test]
fn the_repeat_line_gives_back_the_same_spec() {
    let mut spec = TargetSpec::named("etcd").unwrap();
    spec.set_option("serializable-reads", "true").unwrap();
    let args = spec.cli_args();
    assert_eq!(
        args,
        [
            "--target",
            "etcd",
            "--target-opt",
            "serializable-reads=true"
        ]
    );
    let mut again = TargetSpec::named(&args[1]).unwrap();
    let (k, v) = args[3].split_once('=').unwrap();
    again.set_option(k, v).unwrap();
    assert_eq!(again, spec);
}

#[test]
fn a_file_targets_options_and_workloads_are_checked_before_any_node() {
    let path = file_target("checks");
    let mut spec = TargetSpec::named(path.to_str().unwrap()).unwrap();
    spec.validate().unwrap();
    spec.check_workload("register").unwrap();
    let e = spec.check_workload("list-append").unwrap_err().to_string();
    assert_eq!(
        e,
        "target kv cannot run the list-append workload: its client implements register"
    );
    spec.set_option("level", "medium").unwrap();
    let e = spec.validate().unwrap_err().to_string();
    assert!(e.contains("must be one of high, low"), "{e}");
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

#[test]
fn an_opened_file_target_plans_commands_for_its_nodes() {
    let path = file_target("open");
    let mut spec = TargetSpec::named(path.to_str().unwrap()).unwrap();
    spec.set_option("level", "low").unwrap();
    let nodes = vec![
        ("n1".to_string(), "10.0.0.1".to_string()),
        ("n2".to_string(), "10.0.0.2".to_string()),
    ];
    let ctx = OpenContext {
        nodes: &nodes,
        real_hosts: false,
        clock_faults: true,
        run: "t/1",
        workload: "register",
        op_timeout: Duration::from_secs(1),
        log: Arc::new(|_: &str| {}),
    };
    let opened = open(&spec, &ctx).unwrap();
    assert!(opened.ssh);
    let plan = opened.db.plan("n2").unwrap();
    let start = &plan.iter().find(|(s, _)| s == "start").unwrap().1;
    assert!(start.contains("kvd --port 9000 --level low"), "{start}");
    assert!(
        start.contains("LD_PRELOAD"),
        "clock faults preload libfaketime: {start}"
    );
    assert!(opened.db.clock().is_ok());
    assert!(opened.db.as_kill().is_some() && opened.db.as_pause().is_some());
    assert!(opened.db.as_primary().is_none());
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

#[test]
fn the_shipped_postgres_store_promises_what_its_isolation_level_does() {
    use checkers::elle::Model;
    let nodes: Vec<(String, String)> = (1..=3)
        .map(|i| (format!("n{i}"), format!("10.0.0.{i}")))
        .collect();
    let ctx = OpenContext {
        nodes: &nodes,
        real_hosts: false,
        clock_faults: false,
        run: "t/1",
        workload: "list-append",
        op_timeout: Duration::from_secs(1),
        log: Arc::new(|_: &str| {}),
    };
    let promised = |isolation: Option<&str>| {
        let mut spec = TargetSpec::named("postgres").unwrap();
        if let Some(level) = isolation {
            spec.set_option("isolation", level).unwrap();
        }
        spec.validate().unwrap();
        open(&spec, &ctx).unwrap().consistency_models
    };
    assert_eq!(promised(None), [Model::Serializable]);
    assert_eq!(
        promised(Some("repeatable-read")),
        [Model::SnapshotIsolation]
    );
    assert_eq!(promised(Some("read-committed")), [Model::ReadCommitted]);
    let built_in = open(&TargetSpec::named("etcd").unwrap(), &ctx).unwrap();
    assert!(built_in.consistency_models.is_empty());
}

#[test]
fn every_shipped_store_and_built_in_target_declares_its_data_files() {
    let nodes: Vec<(String, String)> = (1..=3)
        .map(|i| (format!("n{i}"), format!("10.0.0.{i}")))
        .collect();
    let ctx = OpenContext {
        nodes: &nodes,
        real_hosts: false,
        clock_faults: false,
        run: "t/1",
        workload: "register",
        op_timeout: Duration::from_secs(1),
        log: Arc::new(|_: &str| {}),
    };
    let expected = [
        ("raftkv", "/var/lib/temblor/n2/data/wal.log"),
        ("etcd", "/var/lib/temblor/n2/etcd.data/member/wal"),
        ("zookeeper", "/zk/version-2"),
        ("redis", "/appendonlydir"),
        ("postgres", "/pgdata/pg_wal"),
    ];
    for (name, file) in expected {
        let spec = TargetSpec::named(name).unwrap();
        let opened = open(&spec, &ctx).unwrap();
        let data = opened.db.as_data_files().expect(name).data_files("n2");
        assert!(data.iter().any(|d| d.ends_with(file)), "{name}: {data:?}");
        assert!(data.iter().all(|d| d.contains("/n2/")), "{name}: {data:?}");
    }
}
