//! End-to-end runs of `temblor test` on the local cluster with raftkv: the
//! heart of the product, driven as a user drives it (the binary, its flags,
//! its exit codes, its results folder).
//!
//! These need root (network namespaces, iptables). Outside CI they skip,
//! saying why; with `CI=true` they must run. Runs are serialized: they all
//! use the default local cluster.

mod bugs;
mod clock;
mod file;
mod heal;
mod interrupt;
mod logs;
mod sudo_user;
mod support;
mod test_all;
mod usage;
mod valid;
mod workloads;
