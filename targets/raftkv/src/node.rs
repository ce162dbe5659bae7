//! The node runtime: one driver thread owns the Raft core, the storage and the
//! state machine and runs the loop of etcd-raft's `raftexample` (take events,
//! tick, handle the Ready: persist, sync once for the whole batch so that many
//! proposals share one fsync (group commit), send, apply, answer clients).
//! Client requests reach it as events and are answered through oneshot
//! channels; read-index reads (Raft thesis section 6.4) are batched per loop
//! turn. The bug switches live here, where a real implementation would make
//! these mistakes.

use std::collections::{BTreeMap, HashMap};
use std::sync::{mpsc as std_mpsc, Arc, RwLock};
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;
use serde_json::Value;
use tokio::sync::oneshot;

use crate::config::{Bug, Config};
use crate::kv::{Command, MicroOp, Store};
use crate::raft::{self, Entry, Message, NodeId, Raft, ReadState, Role};
use crate::storage::{Storage, StorageError};
use crate::transport::{PeerClients, Transport};

/// The driver's clock tick; Raft timeouts are whole numbers of ticks.
pub const TICK_MS: u64 = 10;
const MAX_BATCH: usize = 4096;

pub enum Event {
    Peer(Message),
    Client(ClientRequest),
}

pub enum ClientRequest {
    Propose {
        command: Command,
        reply: Responder,
    },
    Read {
        query: Query,
        reply: Responder,
        /// The `lease-reads` bug: the HTTP layer already judged the lease
        /// good, so the driver answers from its state at once.
        leased: bool,
    },
}

pub type Responder = oneshot::Sender<Result<Value, ApiError>>;

/// What a read asks for.
pub enum Query {
    Key(String),
    Txn(Vec<MicroOp>),
}

/// Why a request did not succeed. `Refused` and `NotLeader` are definite
/// (nothing happened); `Indefinite` may or may not have taken effect.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    #[error("not leader")]
    NotLeader { leader: Option<NodeId> },
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Indefinite(String),
}

#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
    #[error("corrupt snapshot from the leader: {0}")]
    Snapshot(serde_json::Error),
}

/// What `/status` shows; published by the driver after every loop turn.
#[derive(Debug, Clone, Default, Serialize)]
pub struct NodeStatus {
    pub id: NodeId,
    pub started: bool,
    pub role: Option<Role>,
    pub term: u64,
    pub leader: Option<NodeId>,
    pub leader_client: Option<String>,
    pub commit: u64,
    pub applied: u64,
    pub last_index: u64,
    pub snapshot_index: u64,
    /// The `lease-reads` bug's lease looks good: reads are answered locally.
    pub lease: bool,
}

pub type SharedStatus = Arc<RwLock<NodeStatus>>;

/// The lease of the `lease-reads` bug, kept the way etcd-raft's
/// `ReadOnlyLeaseBased` keeps it: in ticks of the driver's loop, not in
/// time. A heartbeat round started at lease tick `s` and acknowledged by a
/// majority makes the lease good until tick `s + election_ticks`; while it
/// is good the leader answers reads from its own state and does not step
/// down for want of a quorum. Two mistakes make it unsafe, as in real
/// lease bugs:
///
/// - a tick is counted only when the wall clock says a tick period has
///   passed since the last one, so a clock moved backwards stops the count
///   for as long as the jump (the lease outlives the election timeout the
///   other nodes wait out before electing someone else);
/// - missed ticks are dropped, as a Go ticker drops them, so a process
///   paused for ten seconds counts one tick when it wakes and still trusts
///   its lease; and the lease is judged on the HTTP threads by the status
///   the driver last published (a local reader, as in TiKV), so the reads
///   that queued while it slept are answered from its old state before the
///   driver has taken in, persisted and published the newer term that was
///   waiting for it.
struct Lease {
    /// Lease ticks counted so far.
    ticks: u64,
    /// The wall clock at the last counted tick.
    last_tick: SystemTime,
    /// The lease is good while `ticks` is below this.
    until: Option<u64>,
    /// Heartbeat rounds in flight: read-index context to the tick it started at.
    probes: HashMap<u64, u64>,
    last_probe: Option<Instant>,
    /// For the log: the wall clock is behind the last tick.
    stalled: bool,
    was_good: bool,
}

impl Default for Lease {
    fn default() -> Self {
        Lease {
            ticks: 0,
            last_tick: SystemTime::now(),
            until: None,
            probes: HashMap::new(),
            last_probe: None,
            stalled: false,
            was_good: false,
        }
    }
}

impl Lease {
    /// Counts a tick if the wall clock moved on by a tick period since the
    /// last one (at most one per call: missed ticks are dropped).
    fn tick(&mut self, now: SystemTime) {
        let period = Duration::from_millis(TICK_MS);
        match now.duration_since(self.last_tick) {
            Ok(d) if d >= period => {
                self.ticks += 1;
                self.last_tick = now;
                self.stalled = false;
            }
            Ok(_) => {}
            Err(_) => self.stalled = true,
        }
    }

    fn good(&self) -> bool {
        self.until.is_some_and(|until| self.ticks < until)
    }
}

pub struct Driver {
    cfg: Config,
    raft: Raft,
    storage: Storage,
    store: Store,
    transport: Transport,
    events: std_mpsc::Receiver<Event>,
    status: SharedStatus,
    peer_clients: PeerClients,
    proposals: BTreeMap<u64, (u64, Responder)>,
    early: Vec<(Responder, Value)>,
    reads: HashMap<u64, (Query, Responder)>,
    waiting_reads: Vec<(u64, Query, Responder)>,
    next_ctx: u64,
    lease: Lease,
    was_leader: bool,
}

pub fn log(id: NodeId, msg: impl std::fmt::Display) {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    eprintln!(
        "{}.{:03} raftkv[{id}] {msg}",
        now.as_secs(),
        now.subsec_millis()
    );
}

impl Driver {
    /// Recover from the data directory and build the driver.
    pub fn open(
        cfg: Config,
        transport: Transport,
        events: std_mpsc::Receiver<Event>,
        status: SharedStatus,
        peer_clients: PeerClients,
    ) -> Result<Driver, NodeError> {
        let (storage, recovered) = Storage::open(&cfg.data_dir, !cfg.no_fsync)?;
        let store = Store::from_snapshot(&recovered.snapshot.data).map_err(NodeError::Snapshot)?;
        log(
            cfg.id,
            format!(
                "recovered term {} vote {:?}, snapshot at {}, {} log entries",
                recovered.hard_state.term,
                recovered.hard_state.vote,
                recovered.snapshot.index,
                recovered.entries.len()
            ),
        );
        let raft = Raft::new(
            raft_config(&cfg),
            recovered.hard_state,
            recovered.snapshot,
            recovered.entries,
        );
        Ok(Driver {
            cfg,
            raft,
            storage,
            store,
            transport,
            events,
            status,
            peer_clients,
            proposals: BTreeMap::new(),
            early: Vec::new(),
            reads: HashMap::new(),
            waiting_reads: Vec::new(),
            next_ctx: 0,
            lease: Lease::default(),
            was_leader: false,
        })
    }

    /// Run until every event sender is gone, or storage fails.
    pub fn run(mut self) -> Result<(), NodeError> {
        let tick = Duration::from_millis(TICK_MS);
        let mut next_tick = Instant::now() + tick;
        loop {
            self.publish();
            let wait = next_tick.saturating_duration_since(Instant::now());
            let mut batch = Vec::new();
            match self.events.recv_timeout(wait) {
                Ok(event) => batch.push(event),
                Err(std_mpsc::RecvTimeoutError::Timeout) => {}
                Err(std_mpsc::RecvTimeoutError::Disconnected) => return Ok(()),
            }
            while batch.len() < MAX_BATCH {
                let Ok(event) = self.events.try_recv() else {
                    break;
                };
                batch.push(event);
            }
            self.handle_events(batch);
            if Instant::now() >= next_tick {
                if self.cfg.has(Bug::LeaseReads) {
                    let now = SystemTime::now();
                    if let Err(back) = now.duration_since(self.lease.last_tick) {
                        if back.duration() > Duration::from_secs(1) && !self.lease.stalled {
                            log(
                                self.cfg.id,
                                format!(
                                    "the wall clock went back {:?}: lease ticks stop until it catches up (lease-reads)",
                                    back.duration()
                                ),
                            );
                        }
                    }
                    self.lease.tick(now);
                    let good = self.lease_valid();
                    if good != self.lease.was_good {
                        let msg =
                            format!("lease-reads lease good: {good} (tick {})", self.lease.ticks);
                        log(self.cfg.id, msg);
                        self.lease.was_good = good;
                    }
                    self.raft.set_hold_leadership(good);
                }
                self.raft.tick();
                next_tick = Instant::now() + tick;
                self.renew_lease();
            }
            self.process_ready()?;
            self.maybe_snapshot();
        }
    }

    fn handle_events(&mut self, batch: Vec<Event>) {
        let mut proposals = Vec::new();
        let mut read_ctxs = Vec::new();
        for event in batch {
            match event {
                Event::Peer(m) => self.raft.step(m),
                Event::Client(ClientRequest::Propose { command, reply }) => {
                    proposals.push((command, reply))
                }
                Event::Client(ClientRequest::Read {
                    query,
                    reply,
                    leased,
                }) => self.read(query, reply, leased, &mut read_ctxs),
            }
        }
        self.propose(proposals);
        if let Err(e) = self.raft.read_index(read_ctxs.clone()) {
            for ctx in read_ctxs {
                if let Some((_, reply)) = self.reads.remove(&ctx) {
                    let _ = reply.send(Err(ApiError::NotLeader { leader: e.leader }));
                }
            }
        }
    }

    fn propose(&mut self, proposals: Vec<(Command, Responder)>) {
        if proposals.is_empty() {
            return;
        }
        let data = proposals
            .iter()
            .map(|(c, _)| serde_json::to_string(c).unwrap_or_default())
            .collect();
        match self.raft.propose(data) {
            Ok((first, term)) => {
                for (i, (command, reply)) in proposals.into_iter().enumerate() {
                    match early_ack_value(&command).filter(|_| self.cfg.has(Bug::EarlyAck)) {
                        Some(value) => self.early.push((reply, value)),
                        None => {
                            self.proposals.insert(first + i as u64, (term, reply));
                        }
                    }
                }
            }
            Err(e) => {
                for (_, reply) in proposals {
                    let _ = reply.send(Err(ApiError::NotLeader { leader: e.leader }));
                }
            }
        }
    }

    fn read(&mut self, query: Query, reply: Responder, leased: bool, ctxs: &mut Vec<u64>) {
        if self.cfg.has(Bug::FollowerReads) || leased || self.lease_valid() {
            let _ = reply.send(Ok(self.eval(&query)));
            return;
        }
        self.next_ctx += 1;
        self.reads.insert(self.next_ctx, (query, reply));
        ctxs.push(self.next_ctx);
    }

    fn eval(&self, query: &Query) -> Value {
        match query {
            Query::Key(key) => self.store.get(key),
            Query::Txn(ops) => self.store.read_txn(ops),
        }
    }

    fn lease_valid(&self) -> bool {
        self.cfg.has(Bug::LeaseReads)
            && self.raft.status().role == Role::Leader
            && self.lease.good()
    }

    /// Start a heartbeat round whose majority acknowledgement extends the
    /// lease to one election timeout, in lease ticks, from when it started.
    fn renew_lease(&mut self) {
        let heartbeat = Duration::from_millis(self.cfg.heartbeat_ms);
        let due = self
            .lease
            .last_probe
            .is_none_or(|at| at.elapsed() >= heartbeat);
        if !self.cfg.has(Bug::LeaseReads) || self.raft.status().role != Role::Leader || !due {
            return;
        }
        self.next_ctx += 1;
        if self.raft.read_index(vec![self.next_ctx]).is_ok() {
            self.lease.probes.insert(self.next_ctx, self.lease.ticks);
            self.lease.last_probe = Some(Instant::now());
        }
    }

    fn process_ready(&mut self) -> Result<(), NodeError> {
        let ready = self.raft.ready();
        let early_send = ready.hard_state.is_none();
        let (now, later): (Vec<_>, Vec<_>) = ready
            .messages
            .into_iter()
            .partition(|m| early_send && m.body.is_replication());
        for m in now {
            self.transport.send(m);
        }
        if let Some(hard_state) = &ready.hard_state {
            self.storage.save_hard_state(hard_state)?;
        }
        if let Some(snapshot) = &ready.snapshot {
            self.storage.save_snapshot(snapshot, &ready.entries)?;
        } else if !ready.entries.is_empty() {
            self.storage.append(&ready.entries)?;
            self.storage.sync()?;
        }
        for m in later {
            self.transport.send(m);
        }
        for (reply, value) in self.early.drain(..) {
            let _ = reply.send(Ok(value));
        }
        if let (Some(snapshot), true) = (&ready.snapshot, ready.apply_snapshot) {
            self.store = Store::from_snapshot(&snapshot.data).map_err(NodeError::Snapshot)?;
            log(
                self.cfg.id,
                format!("installed snapshot at {}", snapshot.index),
            );
        }
        for entry in ready.committed {
            self.apply(entry);
        }
        self.on_reads(ready.reads, ready.failed_reads);
        self.on_role();
        Ok(())
    }

    fn apply(&mut self, entry: Entry) {
        let result = if entry.data.is_empty() {
            Ok(Value::Null)
        } else {
            match serde_json::from_str::<Command>(&entry.data) {
                Ok(command) => self
                    .store
                    .apply(command)
                    .map_err(|r| ApiError::Refused(r.to_string())),
                Err(e) => Err(ApiError::Indefinite(format!(
                    "undecodable log entry {}: {e}",
                    entry.index
                ))),
            }
        };
        let Some((term, reply)) = self.proposals.remove(&entry.index) else {
            return;
        };
        let reply_with = if term == entry.term {
            result
        } else {
            // Another entry committed at our index, so ours never will.
            Err(ApiError::Refused(
                "not committed: a new leader replaced the entry".into(),
            ))
        };
        let _ = reply.send(reply_with);
    }

    fn on_reads(&mut self, reads: Vec<ReadState>, failed: Vec<u64>) {
        for ReadState { ctx, index } in reads {
            if let Some(sent) = self.lease.probes.remove(&ctx) {
                let until = sent + self.cfg.election_timeout_ms / TICK_MS;
                self.lease.until = self.lease.until.max(Some(until));
            } else if let Some((query, reply)) = self.reads.remove(&ctx) {
                self.waiting_reads.push((index, query, reply));
            }
        }
        let leader = self.raft.status().leader;
        for ctx in failed {
            self.lease.probes.remove(&ctx);
            if let Some((_, reply)) = self.reads.remove(&ctx) {
                let _ = reply.send(Err(ApiError::NotLeader { leader }));
            }
        }
        let applied = self.raft.status().applied;
        let (ready, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.waiting_reads)
            .into_iter()
            .partition(|(index, _, _)| *index <= applied);
        self.waiting_reads = waiting;
        for (_, query, reply) in ready {
            let _ = reply.send(Ok(self.eval(&query)));
        }
    }

    /// A leader that lost leadership cannot know the fate of its in-flight
    /// entries: answer them as indefinite.
    fn on_role(&mut self) {
        let status = self.raft.status();
        let is_leader = status.role == Role::Leader;
        if is_leader != self.was_leader {
            log(
                self.cfg.id,
                format!("{:?} in term {}", status.role, status.term),
            );
        }
        if self.was_leader && !is_leader {
            for (_, (_, reply)) in std::mem::take(&mut self.proposals) {
                let _ = reply.send(Err(ApiError::Indefinite(
                    "leadership lost while the write was in flight".into(),
                )));
            }
            self.lease = Lease {
                ticks: self.lease.ticks,
                last_tick: self.lease.last_tick,
                ..Lease::default()
            };
        }
        self.was_leader = is_leader;
    }

    fn maybe_snapshot(&mut self) {
        let status = self.raft.status();
        if status.applied >= status.snapshot_index + self.cfg.snapshot_threshold.max(1) {
            self.raft.compact(status.applied, self.store.to_snapshot());
        }
    }

    fn publish(&self) {
        let s = self.raft.status();
        let leader_client = match s.leader {
            Some(id) if id == self.cfg.id => Some(self.cfg.advertised_client()),
            Some(id) => self
                .peer_clients
                .read()
                .ok()
                .and_then(|m| m.get(&id).cloned()),
            None => None,
        };
        let status = NodeStatus {
            id: s.id,
            started: true,
            role: Some(s.role),
            term: s.term,
            leader: s.leader,
            leader_client,
            commit: s.commit,
            applied: s.applied,
            last_index: s.last_index,
            snapshot_index: s.snapshot_index,
            lease: self.lease_valid(),
        };
        if let Ok(mut shared) = self.status.write() {
            *shared = status;
        }
    }
}

/// The answer a blind write gets under `early-ack`, or None if the command's
/// answer depends on applying it (cas, transfers, transactions that read or
/// pop). Blind: writes, and transactions of appends, writes and adds.
fn early_ack_value(command: &Command) -> Option<Value> {
    match command {
        Command::Write { .. } => Some(Value::Null),
        Command::Txn { ops } if ops.iter().all(|op| op.f.is_blind_write()) => {
            Some(crate::kv::render_micro_ops(ops))
        }
        _ => None,
    }
}

fn raft_config(cfg: &Config) -> raft::Config {
    let seed = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    raft::Config {
        id: cfg.id,
        members: cfg.peers.keys().copied().collect(),
        election_ticks: (cfg.election_timeout_ms / TICK_MS).max(2) as u32,
        heartbeat_ticks: (cfg.heartbeat_ms / TICK_MS).max(1) as u32,
        pre_vote: cfg.pre_vote,
        volatile_vote: cfg.has(Bug::VolatileVote),
        max_entries_per_message: 512,
        seed: seed ^ cfg.id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn the_lease_counts_one_tick_however_long_the_gap() {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        let mut lease = Lease {
            last_tick: start,
            until: Some(30),
            ..Lease::default()
        };
        lease.tick(start + ms(TICK_MS));
        assert_eq!(lease.ticks, 1);
        // A ten-second pause is one tick, so the lease is still good.
        lease.tick(start + ms(TICK_MS) + Duration::from_secs(10));
        assert_eq!(lease.ticks, 2);
        assert!(lease.good());
        // Less than a tick period: no tick.
        lease.tick(start + ms(TICK_MS + 5) + Duration::from_secs(10));
        assert_eq!(lease.ticks, 2);
    }

    #[test]
    fn a_clock_moved_back_stops_the_lease_until_it_catches_up() {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        let mut lease = Lease {
            last_tick: start,
            until: Some(3),
            ..Lease::default()
        };
        for i in 1..=100 {
            lease.tick(start - Duration::from_secs(5) + ms(i * TICK_MS));
        }
        assert_eq!(lease.ticks, 0, "no tick while the clock is behind");
        assert!(lease.good() && lease.stalled);
        for i in 1..=3 {
            lease.tick(start + ms(i * TICK_MS));
        }
        assert_eq!(lease.ticks, 3);
        assert!(!lease.good() && !lease.stalled);
    }
}
