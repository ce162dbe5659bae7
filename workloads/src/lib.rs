//! What a test does: the op vocabularies of the workloads, the generators
//! that schedule their ops, the `Client` trait that performs them, and the
//! `Nemesis` trait that injects faults (Jepsen's `generator`, `client`,
//! `nemesis` and `tests.*` namespaces).

pub mod generator;
