//! Node side: reaching nodes, the local cluster, and the systems under test.
//!
//! - [`remote`]: the `Remote` trait, `Ssh` and `Local`.
//! - [`node`]: chores on one node: daemons by pidfile, ports, packages, paths.
//! - [`cluster`]: the local cluster of namespace hosts (`temblor cluster`).

pub mod cluster;
pub mod node;
pub mod remote;
