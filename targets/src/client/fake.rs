//! A fake store on loopback for the clients' unit tests: it records every
//! request and answers each with what a script makes of it, so a test can
//! check the requests a client sends and how it reads the answers without
//! running the store.

use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One request as the fake store saw it.
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    pub method: String,
    /// The path with its query.
    pub path: String,
    /// The body, as JSON when it is (else a JSON string of the text).
    pub body: Value,
}

/// The requests seen so far.
pub type Seen = Arc<Mutex<Vec<Request>>>;

/// Starts a fake store answering with `script(request)` = (status line,
/// body); the addresses map `n1` to it, on the port returned.
pub async fn serve(
    script: impl Fn(&Request) -> (&'static str, String) + Send + Sync + 'static,
) -> (BTreeMap<String, String>, u16, Seen) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen: Seen = Arc::default();
    let log = Arc::clone(&seen);
    let script = Arc::new(script);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let Some(req) = read_request(&mut stream).await else {
                continue;
            };
            log.lock().unwrap().push(req.clone());
            let (status, body) = script(&req);
            let reply = format!(
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\n\
                 content-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(reply.as_bytes()).await;
        }
    });
    let addrs = BTreeMap::from([("n1".to_string(), "127.0.0.1".to_string())]);
    (addrs, port, seen)
}

/// Reads the head and as much body as Content-Length says.
async fn read_request(stream: &mut tokio::net::TcpStream) -> Option<Request> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk).await.unwrap_or(0);
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf).to_string();
        if let Some(end) = text.find("\r\n\r\n") {
            let len = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().to_string())
                })
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(0);
            if n == 0 || buf.len() >= end + 4 + len {
                let mut first = text.lines().next()?.split_whitespace();
                let (method, path) = (first.next()?.to_string(), first.next()?.to_string());
                let raw = &text[end + 4..];
                let body =
                    serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_string()));
                return Some(Request { method, path, body });
            }
        } else if n == 0 {
            return None;
        }
    }
}
