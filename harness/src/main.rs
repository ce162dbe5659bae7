//! temblor: a Jepsen-style fault-injection test harness.
fn main() {}
