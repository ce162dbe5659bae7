//! Elle's reference histories (../shared/histories/elle) come out as its
//! README says.

use checkers::elle::{check, Anomaly, ElleOptions, Model, Rel, Workload};
use checkers::format::read_path;
use checkers::Verdict;

fn read(name: &str) -> Option<checkers::History> {
    let path = crate::shared_histories()?.join("elle").join(name);
    Some(read_path(&path, None).unwrap())
}

#[test]
fn si_without_g_single_is_g2_item_and_rules_out_repeatable_read_only() {
    let Some(h) = read("si-without-g-single.edn") else {
        return;
    };
    let opts = ElleOptions::new(Workload::ListAppend)
        .with_models(&[Model::SnapshotIsolation, Model::RepeatableRead]);
    let r = check(&h, &opts).unwrap();
    println!("{}", r.render());
    assert_eq!(r.verdict, Verdict::Invalid);
    assert_eq!(r.anomaly_types, vec!["G2-item".to_string()]);
    assert_eq!(r.not, vec![Model::RepeatableRead]);
    assert!(!r.also_not.contains(&Model::SnapshotIsolation));
    assert!(!r.anomaly_types.iter().any(|a| a.starts_with("G-single")));
    // Snapshot isolation alone holds.
    let si = check(
        &h,
        &ElleOptions::new(Workload::ListAppend).with_models(&[Model::SnapshotIsolation]),
    )
    .unwrap();
    assert_eq!(si.verdict, Verdict::Valid, "{}", si.render());
}

#[test]
fn paper_example_is_the_figure_2_g_single() {
    let Some(h) = read("paper-example.edn") else {
        return;
    };
    let r = check(
        &h,
        &ElleOptions::new(Workload::ListAppend).with_models(&[Model::Serializable]),
    )
    .unwrap();
    println!("{}", r.render());
    // The figure's ww edge is inferable: T3 appended 3 to key 256 and no
    // read saw it, while T2 read [1 2 4]; every read is a prefix of the
    // version order, so 3 comes after 4.
    assert_eq!(r.verdict, Verdict::Invalid);
    assert_eq!(r.anomaly_types, vec!["G-single".to_string()]);
    let Anomaly::Cycle { steps } = &r.anomalies["G-single"][0] else {
        panic!("not a cycle")
    };
    let mut rels: Vec<Rel> = steps.iter().map(|s| s.rel).collect();
    rels.sort();
    assert_eq!(rels, vec![Rel::Ww, Rel::Wr, Rel::Rw]);
    assert!(r
        .render()
        .contains("T7 < T3 (rw): T7 read key 255 = [2,3,4,5], which misses T3's write of 8"));
}

#[test]
fn huge_scc_is_g2_item_realtime_and_not_strong_snapshot_isolation() {
    let Some(h) = read("huge-scc.edn") else {
        return;
    };
    let start = std::time::Instant::now();
    let r = check(&h, &ElleOptions::new(Workload::ListAppend)).unwrap();
    eprintln!(
        "huge-scc: {:?}, {:?}, types {:?}, not {:?}, also {:?}, unknown {:?}",
        start.elapsed(),
        r.stats,
        r.anomaly_types,
        r.not,
        r.also_not,
        r.unknown
    );
    assert_eq!(r.verdict, Verdict::Invalid);
    assert!(
        r.anomaly_types.iter().any(|a| a == "G2-item-realtime"),
        "{:?}",
        r.anomaly_types
    );
    assert!(r.unknown.is_empty(), "{:?}", r.unknown);
    assert!(
        r.not.contains(&Model::StrongSnapshotIsolation)
            || r.also_not.contains(&Model::StrongSnapshotIsolation)
    );
    for a in &r.anomalies["G2-item-realtime"] {
        let Anomaly::Cycle { steps } = a else {
            panic!("not a cycle")
        };
        assert!(steps.iter().any(|s| s.rel == Rel::Realtime));
        assert!(steps.iter().all(|s| s.evidence.is_some()));
        for w in steps.windows(2) {
            assert_eq!(w[0].to, w[1].from);
        }
        assert_eq!(steps.last().unwrap().to, steps[0].from);
    }
}
