use super::*;
use crate::testing::history;
use serde_json::json;

fn run(records: &[(u64, &str, &str, Value)]) -> SetResult {
    check(&history(records), &SetOptions::default()).unwrap()
}

#[test]
fn every_acknowledged_element_read_back_is_valid() {
    let r = run(&[
        (0, "invoke", "add", json!(1)),
        (1, "invoke", "add", json!(2)),
        (0, "ok", "add", json!(1)),
        (1, "ok", "add", json!(2)),
        (2, "invoke", "read", json!(null)),
        (2, "ok", "read", json!([2, 1])),
    ]);
    assert_eq!(r.verdict, Verdict::Valid, "{r}");
    assert_eq!(
        (r.attempt_count, r.acknowledged_count, r.stable_count),
        (2, 2, 2)
    );
    assert!(r.lost.is_empty() && r.stale.is_empty() && r.never_read.is_empty());
    assert_eq!(r.stable_latencies.as_ref().unwrap().at(1.0), Some(0.0));
}

#[test]
fn an_element_seen_then_missed_for_good_is_lost() {
    let r = run(&[
        (0, "invoke", "add", json!(1)),
        (0, "ok", "add", json!(1)),
        (1, "invoke", "read", json!(null)),
        (1, "ok", "read", json!([1])),
        (1, "invoke", "read", json!(null)),
        (1, "ok", "read", json!([])),
    ]);
    assert_eq!(r.verdict, Verdict::Invalid);
    assert_eq!(r.lost.count, 1);
    let lost = &r.lost.items[0];
    assert_eq!(
        (lost.known_index, lost.last_absent_index),
        (Some(1), Some(4))
    );
    assert!(
        r.to_string().contains("lost: element 1 (known at index 1"),
        "{r}"
    );
}

#[test]
fn an_acknowledged_element_never_seen_by_a_later_read_is_lost() {
    let r = run(&[
        (0, "invoke", "add", json!(1)),
        (0, "ok", "add", json!(1)),
        (0, "invoke", "add", json!(2)),
        (0, "ok", "add", json!(2)),
        (1, "invoke", "read", json!(null)),
        (1, "ok", "read", json!([2])),
    ]);
    assert_eq!(r.verdict, Verdict::Invalid);
    assert_eq!(r.lost.items[0].element, json!(1));
    assert_eq!(r.stable_count, 1);
}

#[test]
fn a_read_concurrent_with_the_add_may_miss_it() {
    let r = run(&[
        (1, "invoke", "read", json!(null)),
        (0, "invoke", "add", json!(1)),
        (1, "ok", "read", json!([])),
        (0, "ok", "add", json!(1)),
        (1, "invoke", "read", json!(null)),
        (1, "ok", "read", json!([1])),
    ]);
    assert_eq!(r.verdict, Verdict::Valid, "{r}");
    assert!(r.stale.is_empty());
}

#[test]
fn a_read_after_the_add_that_misses_it_is_stale_and_valid_unless_linearizable() {
    let records = [
        (0, "invoke", "add", json!(1)),
        (0, "ok", "add", json!(1)),
        (1, "invoke", "read", json!(null)),
        (1, "ok", "read", json!([])),
        (1, "invoke", "read", json!(null)),
        (1, "ok", "read", json!([1])),
    ];
    let r = run(&records);
    assert_eq!(r.verdict, Verdict::Valid);
    assert_eq!((r.stale.count, r.stable_count), (1, 1));
    // Known at 1 ms, stable from the missing read's invocation at 2 ms.
    assert_eq!(r.worst_stale[0].latency_ms, Some(1.000001));
    let strict = SetOptions {
        linearizable: true,
        ..SetOptions::default()
    };
    assert_eq!(
        check(&history(&records), &strict).unwrap().verdict,
        Verdict::Invalid
    );
}

#[test]
fn an_element_no_add_could_have_put_there_is_unexpected() {
    let r = run(&[
        (0, "invoke", "add", json!(1)),
        (0, "fail", "add", json!(1)),
        (1, "invoke", "read", json!(null)),
        (1, "ok", "read", json!([1, 7])),
    ]);
    assert_eq!(r.verdict, Verdict::Invalid);
    assert_eq!(r.unexpected.count, 2);
    let why: Vec<&str> = r
        .unexpected
        .items
        .iter()
        .map(|b| b.detail.as_str())
        .collect();
    assert!(
        why.contains(&"its add failed, so it cannot be there"),
        "{why:?}"
    );
    assert!(why
        .iter()
        .any(|w| w.starts_with("no add of it was invoked")));
}

#[test]
fn an_element_read_twice_in_one_read_is_duplicated() {
    let r = run(&[
        (0, "invoke", "add", json!(1)),
        (0, "ok", "add", json!(1)),
        (1, "invoke", "read", json!(null)),
        (1, "ok", "read", json!([1, 1])),
    ]);
    assert_eq!(r.verdict, Verdict::Invalid);
    assert_eq!(r.duplicated.items[0].detail, "2 times");
}

#[test]
fn an_indeterminate_add_that_shows_up_is_stable_and_one_never_read_is_unknown() {
    let r = run(&[
        (0, "invoke", "add", json!(1)),
        (0, "info", "add", json!(1)),
        (1, "invoke", "read", json!(null)),
        (1, "ok", "read", json!([1])),
    ]);
    assert_eq!((r.verdict, r.stable_count), (Verdict::Valid, 1));
    let r = run(&[(0, "invoke", "add", json!(1)), (0, "ok", "add", json!(1))]);
    assert_eq!((r.verdict, r.never_read.count), (Verdict::Unknown, 1));
}

#[test]
fn independent_keys_are_separate_sets() {
    let records = [
        (0, "invoke", "add", json!([1, 5])),
        (0, "ok", "add", json!([1, 5])),
        (1, "invoke", "read", json!([2, null])),
        (1, "ok", "read", json!([2, []])),
        (1, "invoke", "read", json!([1, null])),
        (1, "ok", "read", json!([1, [5]])),
    ];
    let opts = SetOptions {
        independent: true,
        ..SetOptions::default()
    };
    let r = check(&history(&records), &opts).unwrap();
    assert_eq!((r.verdict, r.keys, r.stable_count), (Verdict::Valid, 2, 1));
    assert!(r.stale.is_empty());
}

#[test]
fn a_read_that_is_not_a_list_is_an_error_at_its_line() {
    let mut h = history(&[
        (1, "invoke", "read", json!(null)),
        (1, "ok", "read", json!(3)),
    ]);
    h.lines = vec![10, 11];
    let e = check(&h, &SetOptions::default()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "test:11: ok read by process 1: read value 3 is not a list"
    );
}
