//! raftkv with every bug switch off is valid under partitions, kills and
//! pauses: the harness does not cry wolf.

use crate::support::*;

#[test]
fn raftkv_register_under_partitions_kills_and_pauses_is_valid() {
    let Some(_cluster) = cluster_or_skip("register valid run") else {
        return;
    };
    let results = results_dir("register-valid");
    let out = run_test(
        &results,
        &[
            "--workload",
            "register",
            "--nemesis",
            "partition,kill,pause",
            "--time-limit",
            "30s",
            "--nemesis-interval",
            "4s",
            "--seed",
            "1",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "a correct raftkv must come out valid"
    );
    let run = latest(&results);
    for file in [
        "spec.json",
        "history.jsonl",
        "history.csv",
        "results.json",
        "state.json",
    ] {
        assert!(
            run.join(file).is_file(),
            "{file} missing from {}",
            run.display()
        );
    }
    for node in ["n1", "n2", "n3"] {
        assert!(
            run.join("nodes").join(node).join("raftkv.log").is_file(),
            "{node}'s log missing"
        );
    }
    let spec: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("spec.json")).unwrap()).unwrap();
    assert_eq!(spec["seed"], 1);
    let history = std::fs::read_to_string(run.join("history.jsonl")).unwrap();
    for f in ["start-partition", "kill", "pause", "heal"] {
        assert!(
            history.contains(&format!("\"f\":\"{f}\"")),
            "no {f} in the history"
        );
    }
    let v = verdicts(&run);
    assert!(
        v.contains(&("linearizable".into(), "valid".into())),
        "{v:?}"
    );
    // temblor check agrees with the run's own analysis.
    let check = temblor(&["check", run.to_str().unwrap(), "--independent"])
        .output()
        .unwrap();
    assert_eq!(
        check.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
    assert_cluster_gone();
}

#[test]
fn raftkv_list_append_under_partitions_kills_and_pauses_is_valid() {
    let Some(_cluster) = cluster_or_skip("list-append valid run") else {
        return;
    };
    let results = results_dir("append-valid");
    let out = run_test(
        &results,
        &[
            "--workload",
            "list-append",
            "--nemesis",
            "partition,kill,pause",
            "--time-limit",
            "30s",
            "--nemesis-interval",
            "4s",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "a correct raftkv must come out valid"
    );
    let v = verdicts(&latest(&results));
    assert!(
        v.contains(&("elle-list-append".into(), "valid".into())),
        "{v:?}"
    );
    assert_cluster_gone();
}
