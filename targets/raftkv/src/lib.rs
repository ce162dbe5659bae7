//! raftkv: the project's own replicated key-value store, a system under test
//! for temblor. `raft` is the consensus core (no I/O); the other modules put it
//! on disk, on the network and behind an HTTP API.

pub mod kv;
pub mod raft;
