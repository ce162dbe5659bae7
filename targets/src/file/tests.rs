//! Reading, checking and planning target files: what a user's mistakes
//! look like, and what a good file turns into on each node.

use super::*;

const GOOD: &str = r#"
name = "kv"
about = "a store for the tests"

[client]
command = ["python3", "client.py"]
workloads = ["register"]

[ports]
client = 9000
peer = 9001

[options]
mode = { default = "safe", choices = ["safe", "fast"] }
note = "hello"

[install]
packages = ["coreutils"]
command = "echo installing {{ node.name }}"

[[configure.files]]
path = "{{ dirs.data }}/peers.conf"
content = """{% for n in nodes %}{{ n.id }}={{ n.address }}:{{ ports.peer }}
{% endfor %}"""

[[daemon]]
name = "kv"
command = "kvd --id {{ node.id }} --mode {{ options.mode }}{% if restart %} --rejoin{% endif %}"
env = { KV_NOTE = "{{ options.note }}" }

[ready]
tcp = "{{ ports.client }}"
timeout = "5s"

[init]
command = "kvctl init {{ first.address }}"

[primaries]
command = "kvctl is-leader {{ node.address }}"

[teardown]
command = "rm -rf {{ dirs.data }}"

[logs]
files = ["{{ dirs.log }}/extra.log"]

[data]
files = ["{{ dirs.data }}/wal"]

[clock]
mode = "faketime"
"#;

fn parse(text: &str) -> Result<TargetFile, FileError> {
    TargetFile::parse(PathBuf::from("/stores/kv/target.toml"), text.to_string())
}

fn nodes() -> Vec<(String, String)> {
    (1..=3)
        .map(|i| (format!("n{i}"), format!("10.0.0.{}", 10 + i)))
        .collect()
}

/// The line (from 1) where `needle` first stands in `text`.
fn line_of(text: &str, needle: &str) -> usize {
    let at = text.find(needle).expect("needle in text");
    text[..at].matches('\n').count() + 1
}

fn err(text: &str) -> String {
    parse(text).unwrap_err().to_string()
}

#[test]
fn a_good_file_plans_every_step_for_every_node() {
    let file = parse(GOOD).unwrap();
    assert_eq!(file.name(), "kv");
    assert_eq!(file.workloads(), ["register"]);
    let given = BTreeMap::from([("mode".to_string(), "fast".to_string())]);
    let plans = file.plan(&nodes(), &given).unwrap();
    assert_eq!(plans.len(), 3);
    let n2 = &plans[1];
    assert_eq!(n2.dirs.data, "/var/lib/temblor/n2/kv/data");
    assert_eq!(
        n2.files[0],
        (
            "/var/lib/temblor/n2/kv/data/peers.conf".to_string(),
            "1=10.0.0.11:9001\n2=10.0.0.12:9001\n3=10.0.0.13:9001\n".to_string(),
            "644".to_string()
        )
    );
    let start = n2.daemons[0].command().to_string();
    assert!(start.contains("exec kvd --id 2 --mode fast'"), "{start}");
    assert!(start.contains("KV_NOTE=hello"), "{start}");
    assert!(
        start.contains("/var/lib/temblor/n2/kv/run/kv.pid"),
        "{start}"
    );
    let restart = n2.restarts[0].command().to_string();
    assert!(restart.contains("--mode fast --rejoin"), "{restart}");
    assert_eq!(
        n2.ready.as_ref().unwrap().0,
        Ready::Tcp("10.0.0.12:9000".into())
    );
    assert!(n2.init.is_none(), "init runs on the first node only");
    assert_eq!(plans[0].init.as_ref().unwrap().text, "kvctl init 10.0.0.11");
    let p = n2.primaries.as_ref().unwrap();
    assert_eq!(p.text, "kvctl is-leader 10.0.0.12");
    assert_eq!(
        p.origin,
        format!(
            "/stores/kv/target.toml:{}",
            line_of(GOOD, "kvctl is-leader")
        )
    );
    assert_eq!(n2.logs, ["/var/lib/temblor/n2/kv/log/extra.log"]);
    assert_eq!(n2.data, ["/var/lib/temblor/n2/kv/data/wal"]);
    let lines = n2.lines();
    let steps: Vec<&str> = lines.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(
        steps,
        [
            "install",
            "install",
            "configure",
            "start",
            "restart",
            "ready",
            "primaries",
            "teardown",
            "logs",
            "data"
        ]
    );
}

#[test]
fn an_unknown_key_names_the_file_line_and_key() {
    let e = err(&GOOD.replace("[ready]\n", "[ready]\nport = 1\n"));
    let line = line_of(GOOD, "[ready]") + 1;
    let want = format!("/stores/kv/target.toml:{line}: unknown field `port`");
    assert!(e.starts_with(&want), "{e}");
    let e = err(&GOOD.replace("name = \"kv\"", "name = \"kv\"\ninstal = 1"));
    assert!(
        e.starts_with("/stores/kv/target.toml:3: unknown field `instal`"),
        "{e}"
    );
}

#[test]
fn a_missing_command_or_section_is_named() {
    let e = err(&GOOD.replace("command = \"kvctl is-leader {{ node.address }}\"", ""));
    let line = line_of(GOOD, "[primaries]");
    let want = format!("/stores/kv/target.toml:{line}: missing field `command`");
    assert!(e.starts_with(&want), "{e}");
    let no_daemon = GOOD.replace(
        "[[daemon]]\nname = \"kv\"\ncommand = \"kvd --id {{ node.id }} --mode {{ options.mode }}{% if restart %} --rejoin{% endif %}\"\nenv = { KV_NOTE = \"{{ options.note }}\" }\n",
        "",
    );
    let e = err(&no_daemon);
    assert!(e.contains("no [[daemon]]"), "{e}");
    let e = err(&GOOD.replace("[client]\n", "[clint]\n"));
    assert!(e.contains("unknown field `clint`"), "{e}");
}

#[test]
fn a_bad_placeholder_names_the_line_and_key_before_any_node_is_touched() {
    let file = parse(&GOOD.replace("{{ first.address }}", "{{ frist.address }}")).unwrap();
    let e = file.check_with(&BTreeMap::new()).unwrap_err().to_string();
    let line = line_of(GOOD, "kvctl init");
    let want = format!("/stores/kv/target.toml:{line}: init.command: ");
    assert!(e.starts_with(&want), "{e}");
    assert!(e.contains("frist.address"), "{e}");
    let file = parse(&GOOD.replace("{{ ports.client }}", "{{ ports.clinet }}")).unwrap();
    let e = file.check_with(&BTreeMap::new()).unwrap_err().to_string();
    let want = format!(":{}: ready.tcp:", line_of(GOOD, "tcp = "));
    assert!(e.contains(&want) && e.contains("ports.clinet"), "{e}");
}

#[test]
fn options_are_checked_against_the_declarations() {
    let file = parse(GOOD).unwrap();
    let opts = |k: &str, v: &str| BTreeMap::from([(k.to_string(), v.to_string())]);
    let e = file.options(&opts("speed", "1")).unwrap_err().to_string();
    assert!(
        e.contains("unknown option \"speed\" for target kv (it has: mode, note)"),
        "{e}"
    );
    let e = file
        .options(&opts("mode", "reckless"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("must be one of safe, fast"), "{e}");
    let all = file.options(&opts("note", "x")).unwrap();
    assert_eq!(all["mode"], "safe");
    assert_eq!(all["note"], "x");
}

#[test]
fn the_consistency_models_a_store_promises_follow_its_options() {
    let with_check = format!(
        "{GOOD}\n[check]\nconsistency_models = \"{{% if options.mode == 'fast' %}}read-committed{{% else %}}serializable, snapshot-isolation{{% endif %}}\"\n"
    );
    let file = parse(&with_check).unwrap();
    let models = |mode: &str| {
        let given = BTreeMap::from([("mode".to_string(), mode.to_string())]);
        file.plan(&nodes(), &given).unwrap()[2]
            .consistency_models
            .clone()
    };
    use checkers::elle::Model;
    assert_eq!(
        models("safe"),
        [Model::Serializable, Model::SnapshotIsolation]
    );
    assert_eq!(models("fast"), [Model::ReadCommitted]);
    assert!(parse(GOOD)
        .unwrap()
        .plan(&nodes(), &BTreeMap::new())
        .unwrap()[0]
        .consistency_models
        .is_empty());
    let bad = parse(&with_check.replace("read-committed", "read-comitted")).unwrap();
    let given = BTreeMap::from([("mode".to_string(), "fast".to_string())]);
    let e = bad.check_with(&given).unwrap_err().to_string();
    let want = format!(
        "/stores/kv/target.toml:{}: check.consistency_models: unknown consistency model \"read-comitted\"",
        line_of(&with_check, "consistency_models =")
    );
    assert!(e.starts_with(&want), "{e}");
}

#[test]
fn attach_mode_refuses_lifecycle_steps_and_half_a_fault() {
    let attach = r#"
name = "hosted"
mode = "attach"
[client]
command = ["./client"]
workloads = ["register"]
[attach]
kill = "systemctl kill -s KILL kv"
"#;
    let e = err(attach);
    assert!(e.contains("only one of kill and start"), "{e}");
    let e = err(&format!(
        "{attach}start = 'systemctl start kv'\n[install]\npackages = []\n"
    ));
    assert!(
        e.contains("[install] is not allowed with mode = \"attach\""),
        "{e}"
    );
    let ok = parse(&format!("{attach}start = 'systemctl start kv'\n")).unwrap();
    assert!(ok.is_attached() && ok.has_ssh());
    let e = err("name = \"Bad Name\"\n[client]\ncommand = ['x']\nworkloads = ['register']\n");
    assert!(e.contains(":1: name: use lower-case"), "{e}");
    let e = err("name = \"x\"\n[client]\ncommand = ['x']\nworkloads = ['regster']\n");
    assert!(e.contains("unknown workload \"regster\""), "{e}");
}

#[test]
fn an_upload_from_a_missing_file_is_named() {
    let text = GOOD.replace(
        "packages = [\"coreutils\"]",
        "packages = []\nupload = [{ from = \"bin/kvd\", to = \"{{ dirs.opt }}/kvd\" }]",
    );
    let e = parse(&text)
        .unwrap()
        .plan(&nodes(), &BTreeMap::new())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("install.upload.from: /stores/kv/bin/kvd: no such file"),
        "{e}"
    );
}

/// The TOML blocks of docs/target-files.md, which must stay true.
fn documented_examples() -> Vec<String> {
    let doc = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/target-files.md");
    let text = std::fs::read_to_string(&doc).unwrap();
    text.split("```toml\n")
        .skip(1)
        .filter_map(|block| block.split("```").next())
        .map(str::to_string)
        .collect()
}

#[test]
fn the_documented_examples_are_valid_target_files() {
    let examples = documented_examples();
    assert_eq!(examples.len(), 2, "the whole file and the attach example");
    let dir = std::env::temp_dir().join(format!("temblor-doc-examples-{}", std::process::id()));
    // The whole file uploads bin/mystore from its own folder.
    std::fs::create_dir_all(dir.join("bin")).unwrap();
    std::fs::write(dir.join("bin/mystore"), "").unwrap();
    for text in examples {
        let path = dir.join("target.toml");
        std::fs::write(&path, &text).unwrap();
        let file = TargetFile::load(&path).unwrap_or_else(|e| panic!("{e}\n{text}"));
        let plans = file
            .plan(&nodes(), &BTreeMap::new())
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(!plans[0].lines().is_empty());
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
