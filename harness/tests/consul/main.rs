//! `temblor test --target consul`. Consul cannot be installed on the
//! development machine, so the end-to-end run needs a consul binary named
//! by `TEMBLOR_CONSUL_BIN`; without one it prints that it did not run and
//! why. The usage checks run everywhere.

#[allow(dead_code)]
#[path = "../run/support.rs"]
mod support;

use support::*;

#[test]
fn consul_without_an_install_source_is_a_usage_error() {
    let out = temblor(&["test", "--target", "consul", "--nodes", "3"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(254));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--consul-install"), "{stderr}");
    let bad_mode = [
        "test",
        "--target",
        "consul",
        "--consul-install",
        "/x",
        "--consul-reads",
        "linear",
    ];
    let out = temblor(&bad_mode).output().unwrap();
    assert_eq!(out.status.code(), Some(254));
    assert!(String::from_utf8_lossy(&out.stderr).contains("default, consistent or stale"));
}

#[test]
fn consul_register_under_partitions_kills_and_pauses_is_valid() {
    let Some(bin) = std::env::var_os("TEMBLOR_CONSUL_BIN") else {
        eprintln!(
            "consul end-to-end run DID NOT RUN: TEMBLOR_CONSUL_BIN is not set \
             (Consul cannot be installed on this machine; point it at a consul binary to run it)"
        );
        return;
    };
    let Some(_cluster) = cluster_or_skip("consul register valid run") else {
        return;
    };
    let bin = bin.to_string_lossy().into_owned();
    let results = results_dir("consul-register");
    let args = [
        "--target",
        "consul",
        "--consul-install",
        &bin,
        "--consul-reads",
        "consistent",
        "--workload",
        "register",
        "--nemesis",
        "partition,kill,pause",
        "--time-limit",
        "30s",
        "--nemesis-interval",
        "4s",
    ];
    let out = run_test(&results, &args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "consistent Consul reads must come out valid"
    );
    let run = latest(&results);
    let v = verdicts(&run);
    assert!(
        v.contains(&("linearizable".into(), "valid".into())),
        "{v:?}"
    );
    assert!(
        run.join("nodes/n1/consul.log").is_file(),
        "n1's consul log missing"
    );
    assert_cluster_gone();
}
