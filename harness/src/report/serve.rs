//! `temblor serve`: a small static file server for the results folder
//! (Jepsen's `web.clj` serves `store/` the same way), written by hand on
//! tokio because it needs only `GET`/`HEAD` of files. It listens on
//! loopback unless told otherwise and refuses any path that would leave
//! the folder (`..`, or a symlink pointing out of it).
//!
//! A client gets [`Limits::read_timeout`] to send its request and
//! [`Limits::answer_timeout`] for the whole exchange, and at most
//! [`Limits::connections`] are served at once: as many more are answered
//! 503 (after their request is read, so they see the answer rather than a
//! reset), and beyond those a connection is closed unanswered. A slow or
//! idle client cannot hold the server.

use super::svg::esc;
use crate::run::store;
use anyhow::Context as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

/// The longest request head read.
const MAX_HEAD: usize = 16 * 1024;

/// How long and how many clients the server serves.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Time to send the request head.
    pub read_timeout: Duration,
    /// Time for the whole exchange, the answer included.
    pub answer_timeout: Duration,
    /// Connections served at once.
    pub connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            read_timeout: Duration::from_secs(10),
            answer_timeout: Duration::from_secs(600),
            connections: 64,
        }
    }
}

/// The answer to a connection beyond the limit.
const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n\
Content-Length: 18\r\nRetry-After: 1\r\nConnection: close\r\n\r\ntoo many clients.\n";

/// Serves `root` on `listener` until the task is dropped.
pub async fn serve(listener: TcpListener, root: &Path, limits: Limits) -> anyhow::Result<()> {
    let root =
        std::fs::canonicalize(root).with_context(|| format!("cannot open {}", root.display()))?;
    let permits = Arc::new(Semaphore::new(limits.connections));
    let refusals = Arc::new(Semaphore::new(limits.connections));
    loop {
        let (stream, _) = listener
            .accept()
            .await
            .context("cannot accept a connection")?;
        let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
            if let Ok(permit) = Arc::clone(&refusals).try_acquire_owned() {
                tokio::spawn(async move {
                    let _ = tokio::time::timeout(limits.read_timeout, refuse(stream)).await;
                    drop(permit);
                });
            }
            continue;
        };
        let root = root.clone();
        tokio::spawn(async move {
            // A client that hangs up mid-answer, or is too slow, is not
            // our problem.
            let _ =
                tokio::time::timeout(limits.answer_timeout, answer(stream, &root, limits)).await;
            drop(permit);
        });
    }
}

/// Reads the request, then answers that the server is busy.
async fn refuse(mut stream: TcpStream) -> std::io::Result<()> {
    read_head(&mut stream).await?;
    stream.write_all(BUSY).await?;
    stream.shutdown().await
}

async fn answer(mut stream: TcpStream, root: &Path, limits: Limits) -> std::io::Result<()> {
    let Ok(head) = tokio::time::timeout(limits.read_timeout, read_head(&mut stream)).await else {
        return reply(
            &mut stream,
            "408 Request Timeout",
            "text/plain",
            b"request not received in time\n",
            true,
        )
        .await;
    };
    let head = head?;
    let mut words = head.split_whitespace();
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    if method != "GET" && method != "HEAD" {
        return reply(
            &mut stream,
            "405 Method Not Allowed",
            "text/plain",
            b"only GET and HEAD\n",
            true,
        )
        .await;
    }
    let body = method == "GET";
    let path = target.split(['?', '#']).next().unwrap_or("/");
    let Some(file) = resolve(root, path) else {
        return reply(
            &mut stream,
            "404 Not Found",
            "text/plain",
            b"not found\n",
            body,
        )
        .await;
    };
    if file.is_dir() {
        if !path.ends_with('/') {
            let moved = format!("HTTP/1.1 301 Moved Permanently\r\nLocation: {path}/\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            return stream.write_all(moved.as_bytes()).await;
        }
        return directory(&mut stream, &file, path, body).await;
    }
    send_file(&mut stream, &file, body).await
}

async fn read_head(stream: &mut TcpStream) -> std::io::Result<String> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < MAX_HEAD {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok(String::from_utf8_lossy(&buf)
        .lines()
        .next()
        .unwrap_or("")
        .to_string())
}

/// The file a URL path names under `root`, if it exists and stays inside.
pub fn resolve(root: &Path, url_path: &str) -> Option<PathBuf> {
    let decoded = percent_decode(url_path)?;
    let mut path = root.to_path_buf();
    for part in decoded.split('/').filter(|p| !p.is_empty() && *p != ".") {
        if part == ".." || part.contains('\\') || part.contains('\0') {
            return None;
        }
        path.push(part);
    }
    let real = std::fs::canonicalize(&path).ok()?;
    real.starts_with(root).then_some(real)
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "json" => "application/json",
        "xml" => "application/xml",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "css" => "text/css",
        "js" => "text/javascript",
        _ => "text/plain; charset=utf-8",
    }
}

async fn send_file(stream: &mut TcpStream, file: &Path, body: bool) -> std::io::Result<()> {
    let mut f = match tokio::fs::File::open(file).await {
        Ok(f) => f,
        Err(_) => {
            return reply(
                stream,
                "403 Forbidden",
                "text/plain",
                b"cannot read\n",
                body,
            )
            .await
        }
    };
    let len = f.metadata().await?.len();
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: {}\r\nContent-Length: {len}\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n",
        content_type(file)
    );
    stream.write_all(head.as_bytes()).await?;
    if body {
        tokio::io::copy(&mut f, stream).await?;
    }
    stream.shutdown().await
}

/// A folder: its index.html or report.html, else a listing.
async fn directory(
    stream: &mut TcpStream,
    dir: &Path,
    url: &str,
    body: bool,
) -> std::io::Result<()> {
    for name in [store::INDEX, store::REPORT] {
        if dir.join(name).is_file() {
            return send_file(stream, &dir.join(name), body).await;
        }
    }
    let mut names: Vec<String> = std::fs::read_dir(dir)?
        .flatten()
        .map(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            if e.path().is_dir() {
                n + "/"
            } else {
                n
            }
        })
        .collect();
    names.sort();
    let mut html = format!(
        "<!DOCTYPE html><meta charset=\"utf-8\"><title>{0}</title><h1>{0}</h1><ul>",
        esc(url)
    );
    for n in names {
        html.push_str(&format!("<li><a href=\"{0}\">{0}</a></li>", esc(&n)));
    }
    html.push_str("</ul>");
    reply(
        stream,
        "200 OK",
        "text/html; charset=utf-8",
        html.as_bytes(),
        body,
    )
    .await
}

async fn reply(
    stream: &mut TcpStream,
    status: &str,
    ctype: &str,
    text: &[u8],
    body: bool,
) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        text.len()
    );
    stream.write_all(head.as_bytes()).await?;
    if body {
        stream.write_all(text).await?;
    }
    stream.shutdown().await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads what the server sends until it closes.
    async fn answer_of(stream: &mut TcpStream) -> String {
        let mut text = String::new();
        let read = stream.read_to_string(&mut text);
        tokio::time::timeout(Duration::from_secs(20), read)
            .await
            .expect("the server closes the connection")
            .unwrap();
        text
    }

    async fn server(limits: Limits) -> std::net::SocketAddr {
        let root = std::env::temp_dir();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { serve(listener, &root, limits).await });
        addr
    }

    #[tokio::test]
    async fn a_client_that_sends_nothing_is_timed_out() {
        let addr = server(Limits {
            read_timeout: Duration::from_millis(100),
            ..Limits::default()
        })
        .await;
        let mut idle = TcpStream::connect(addr).await.unwrap();
        let text = answer_of(&mut idle).await;
        assert!(text.starts_with("HTTP/1.1 408 Request Timeout"), "{text}");
    }

    #[tokio::test]
    async fn clients_beyond_the_limit_are_turned_away_at_once() {
        let addr = server(Limits {
            connections: 2,
            ..Limits::default()
        })
        .await;
        // Two idle clients hold both places (the server accepts in order).
        let mut held = Vec::new();
        for _ in 0..2 {
            held.push(TcpStream::connect(addr).await.unwrap());
        }
        let mut third = TcpStream::connect(addr).await.unwrap();
        third.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
        let text = answer_of(&mut third).await;
        assert!(text.starts_with("HTTP/1.1 503"), "{text}");
        // A place freed is served again.
        drop(held.pop());
        let mut text = String::new();
        for _ in 0..200 {
            let mut next = TcpStream::connect(addr).await.unwrap();
            next.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
            text = answer_of(&mut next).await;
            if text.starts_with("HTTP/1.1 200") {
                break;
            }
            // The server has not seen the close yet.
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    }

    #[test]
    fn paths_that_leave_the_folder_are_refused() {
        let root = std::env::temp_dir().join(format!("temblor-serve-{}", std::process::id()));
        std::fs::create_dir_all(root.join("t/1")).unwrap();
        std::fs::write(root.join("t/1/report.html"), "x").unwrap();
        let root = std::fs::canonicalize(&root).unwrap();
        assert_eq!(
            resolve(&root, "/t/1/report.html"),
            Some(root.join("t/1/report.html"))
        );
        assert_eq!(
            resolve(&root, "/t%2F1/report.html"),
            Some(root.join("t/1/report.html"))
        );
        assert_eq!(resolve(&root, "/"), Some(root.clone()));
        for bad in [
            "/../etc/passwd",
            "/t/%2e%2e/%2e%2e/x",
            "/t/..%2F..%2Fetc",
            "/%zz",
            "/missing",
        ] {
            assert_eq!(resolve(&root, bad), None, "{bad}");
        }
        std::os::unix::fs::symlink("/etc", root.join("out")).unwrap();
        assert_eq!(resolve(&root, "/out/hostname"), None);
        std::fs::remove_dir_all(&root).unwrap();
    }
}
