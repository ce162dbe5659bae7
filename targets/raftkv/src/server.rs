//! Starting a node: bind the client and Raft listeners first (so a client
//! that connects while the node recovers gets a clear 503, not a refused
//! connection), then recover from disk and run the driver on its own thread,
//! since it blocks on fsync.

use std::collections::BTreeMap;
use std::sync::{mpsc as std_mpsc, Arc, RwLock};
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::config::Config;
use crate::http::{self, Api};
use crate::node::{self, Driver, NodeError, NodeStatus};
use crate::transport::{self, Transport};

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("listening on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Node(#[from] NodeError),
    #[error("driver thread failed: {0}")]
    Driver(String),
}

async fn bind(addr: &str) -> Result<TcpListener, ServerError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| ServerError::Bind {
            addr: addr.to_string(),
            source,
        })
}

/// Run a node until its driver stops (it stops only on a storage error).
pub async fn run(cfg: Config) -> Result<(), ServerError> {
    let client_listener = bind(&cfg.client).await?;
    let raft_addr = cfg
        .listen_raft
        .clone()
        .or_else(|| cfg.peers.get(&cfg.id).cloned())
        .unwrap_or_default();
    let raft_listener = bind(&raft_addr).await?;
    let status = Arc::new(RwLock::new(NodeStatus {
        id: cfg.id,
        ..NodeStatus::default()
    }));
    let (events_tx, events_rx) = std_mpsc::channel();
    let timeout = Duration::from_millis(cfg.request_timeout_ms);
    let api = Arc::new(Api {
        events: events_tx.clone(),
        status: status.clone(),
        timeout,
    });
    tokio::spawn(serve_clients(client_listener, api));
    let peer_clients = Arc::new(RwLock::new(BTreeMap::new()));
    tokio::spawn(transport::accept_loop(
        raft_listener,
        events_tx,
        peer_clients.clone(),
    ));
    let peers = cfg
        .peers
        .iter()
        .filter(|(&id, _)| id != cfg.id)
        .map(|(&id, a)| (id, a.clone()))
        .collect();
    let transport = Transport::start(cfg.id, cfg.advertised_client(), &peers);
    node::log(
        cfg.id,
        format!("client API on {}, raft on {raft_addr}", cfg.client),
    );
    let driver = tokio::task::spawn_blocking(move || {
        Driver::open(cfg, transport, events_rx, status, peer_clients)?.run()
    });
    match driver.await {
        Ok(result) => Ok(result?),
        Err(e) => Err(ServerError::Driver(e.to_string())),
    }
}

async fn serve_clients(listener: TcpListener, api: Arc<Api>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        let api = api.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| http::handle(api.clone(), req));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
