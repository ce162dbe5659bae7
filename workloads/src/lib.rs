//! What a test does: the op vocabularies of the workloads, the generators
//! that schedule their ops, the `Client` trait that performs them, and the
//! `Nemesis` trait that injects faults (Jepsen's `generator`, `client`,
//! `nemesis` and `tests.*` namespaces).

pub mod client;
pub mod generator;
pub mod nemesis;
pub mod workload;

pub use client::{Client, ClientError, Complete};
pub use generator::{Context, Generator, Next, Template};
pub use nemesis::{Nemesis, NemesisError};
pub use workload::{by_name, CheckerSpec, Generators, Options, Workload, WorkloadError};
