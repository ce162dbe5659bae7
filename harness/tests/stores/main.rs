//! The stores temblor ships as target files with their clients
//! (`targets/stores/<name>/`), each tested for real on a 3-node local
//! cluster: installed by the target's own install step, run under faults,
//! its history checked and its report written. A store that comes out
//! invalid is a finding, not a failure: these tests assert a verdict only
//! where the store's documentation promises it.
//!
//! They need root and the local cluster: outside CI they skip, saying why;
//! with `CI=true` they must run. Runs are serialized (one local cluster).

mod postgres;
mod redis;
#[path = "../run/support.rs"]
#[allow(dead_code)]
mod support;
mod zookeeper;
