//! raftkv: the project's own replicated key-value store, a system under test
//! for temblor (ARCHITECTURE.md, "The project's own store"). `raft` is the
//! consensus core (no I/O); `storage` puts it on disk, `transport` on the
//! network, `node` drives it, `kv` is the state machine, `http` the client
//! API, `config` the command line, `server` wires them together.

pub mod config;
pub mod http;
pub mod kv;
pub mod node;
pub mod raft;
pub mod server;
pub mod storage;
pub mod transport;
