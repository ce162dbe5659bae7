//! Peer transport: one outbound TCP connection per peer, carrying Raft
//! messages as length-prefixed JSON frames (a 4-byte big-endian length, then
//! the JSON), opened with a hello that names the sender and its client
//! address so followers can point clients at the leader. Raft tolerates loss,
//! so a message for an unreachable peer, or one that finds its queue full, is
//! dropped rather than buffered without bound (Raft paper section 5.1:
//! servers retry; here the heartbeat is the retry).

use std::collections::BTreeMap;
use std::sync::{mpsc as std_mpsc, Arc, RwLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufWriter};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use crate::node::Event;
use crate::raft::{Message, NodeId};

/// Snapshots travel whole, so frames may be large, but not unbounded.
const MAX_FRAME: usize = 256 << 20;
const QUEUE: usize = 8192;

#[derive(Debug, Serialize, Deserialize)]
struct Hello {
    from: NodeId,
    client_addr: String,
}

/// Client addresses of the peers, as learned from their hellos.
pub type PeerClients = Arc<RwLock<BTreeMap<NodeId, String>>>;

/// Where the driver hands messages for peers.
#[derive(Clone)]
pub struct Transport {
    queues: BTreeMap<NodeId, mpsc::Sender<Message>>,
}

impl Transport {
    /// Start one sender task per peer (`peers` excludes this node).
    pub fn start(id: NodeId, client_addr: String, peers: &BTreeMap<NodeId, String>) -> Transport {
        let mut queues = BTreeMap::new();
        for (&peer, addr) in peers {
            let (tx, rx) = mpsc::channel(QUEUE);
            let hello = Hello {
                from: id,
                client_addr: client_addr.clone(),
            };
            tokio::spawn(send_loop(addr.clone(), hello, rx));
            queues.insert(peer, tx);
        }
        Transport { queues }
    }

    pub fn send(&self, message: Message) {
        if let Some(queue) = self.queues.get(&message.to) {
            let _ = queue.try_send(message);
        }
    }
}

async fn send_loop(addr: String, hello: Hello, mut rx: mpsc::Receiver<Message>) {
    loop {
        let stream =
            match tokio::time::timeout(Duration::from_secs(1), TcpStream::connect(&addr)).await {
                Ok(Ok(stream)) => stream,
                _ => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    while rx.try_recv().is_ok() {}
                    if rx.is_closed() {
                        return;
                    }
                    continue;
                }
            };
        let _ = stream.set_nodelay(true);
        match write_stream(stream, &hello, &mut rx).await {
            Ok(()) => return,
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

/// Write frames until the queue closes (Ok) or the connection fails (Err).
async fn write_stream(
    stream: TcpStream,
    hello: &Hello,
    rx: &mut mpsc::Receiver<Message>,
) -> std::io::Result<()> {
    let mut out = BufWriter::new(stream);
    write_frame(&mut out, hello).await?;
    out.flush().await?;
    while let Some(message) = rx.recv().await {
        write_frame(&mut out, &message).await?;
        while let Ok(more) = rx.try_recv() {
            write_frame(&mut out, &more).await?;
        }
        out.flush().await?;
    }
    Ok(())
}

async fn write_frame<T: Serialize>(
    out: &mut BufWriter<TcpStream>,
    value: &T,
) -> std::io::Result<()> {
    let json = serde_json::to_vec(value).map_err(std::io::Error::other)?;
    out.write_all(&(json.len() as u32).to_be_bytes()).await?;
    out.write_all(&json).await
}

/// Accept peer connections and feed their messages to the driver.
pub async fn accept_loop(
    listener: TcpListener,
    events: std_mpsc::Sender<Event>,
    clients: PeerClients,
) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(read_stream(stream, events.clone(), clients.clone()));
    }
}

async fn read_stream(mut stream: TcpStream, events: std_mpsc::Sender<Event>, clients: PeerClients) {
    let Ok(hello) = read_frame::<Hello>(&mut stream).await else {
        return;
    };
    if let Ok(mut map) = clients.write() {
        map.insert(hello.from, hello.client_addr);
    }
    while let Ok(message) = read_frame::<Message>(&mut stream).await {
        if message.from != hello.from || events.send(Event::Peer(message)).is_err() {
            return;
        }
    }
}

async fn read_frame<T: serde::de::DeserializeOwned>(stream: &mut TcpStream) -> std::io::Result<T> {
    let len = stream.read_u32().await? as usize;
    if len > MAX_FRAME {
        return Err(std::io::Error::other(format!(
            "frame of {len} bytes exceeds {MAX_FRAME}"
        )));
    }
    let mut buf = vec![0; len];
    stream.read_exact(&mut buf).await?;
    serde_json::from_slice(&buf).map_err(std::io::Error::other)
}
