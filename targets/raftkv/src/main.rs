//! raftkv: a Raft key-value store (placeholder until its issue lands).
fn main() {
    eprintln!("raftkv: not built yet");
    std::process::exit(2);
}
