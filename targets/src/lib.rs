//! Node side: reaching nodes, the local cluster, and the systems under test.
//!
//! - [`remote`]: the `Remote` trait, `Ssh` and `Local`.
//! - [`node`]: chores on one node: daemons by pidfile, ports, packages, paths.
//! - [`cluster`]: the local cluster of namespace hosts (`temblor cluster`).
//! - [`db`]: the `Db` lifecycle and its optional abilities (kill, pause, ...).
//! - [`daemon`]: kill, pause and log files for every target that runs
//!   pidfile daemons.
//! - [`faketime`]: clock faults through libfaketime, for libc programs.
//! - [`file`]: targets described by a TOML file, for stores temblor has no
//!   Rust for.
//! - [`append`]: list-append over a store with per-key versions (etcd, Consul).
//! - [`consul`]: the Consul target: server agents and KV/txn clients.
//! - [`etcd`]: the etcd target: its lifecycle and clients (JSON gateway).
//! - [`protocol`]: clients in any language, spoken to in JSON lines.
//! - [`raftkv`]: the raftkv target: its lifecycle and clients.
//! - [`registry`]: every target's typed spec and the one `open` that turns
//!   a spec into its `Db` and `Client`.
//! - [`sysclock`]: clock faults on real hosts: the system clock, moved by a
//!   small C helper compiled on each node, and put back.

mod client;
pub mod cluster;
pub mod consul;
pub mod daemon;
pub mod db;
pub mod etcd;
pub mod faketime;
pub mod file;
pub(crate) mod http;
pub mod node;
pub mod protocol;
pub mod raftkv;
pub mod registry;
pub mod remote;
pub mod sysclock;
pub mod versioned;

pub use registry::{open, OpenContext, Opened, TargetError, TargetSpec};
