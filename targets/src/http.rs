//! A minimal blocking HTTP/1.1 request for the targets' health and status
//! probes (raftkv, etcd, Consul) from `Db` calls, which run on tokio's
//! blocking pool where the async client cannot be driven. `Connection:
//! close`, so the body ends where the connection does (or after
//! `Content-Length` bytes).

use serde_json::Value;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

/// Sends `method path` with an optional JSON `body` to `host:port` and
/// parses the answer as JSON. Errors are one line naming the address.
pub fn request_json(
    method: &str,
    (host, port): (&str, u16),
    path: &str,
    body: Option<&Value>,
    timeout: Duration,
) -> Result<(u16, Value), String> {
    let addr: SocketAddr = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("{host}:{port}: {e}"))?
        .next()
        .ok_or_else(|| format!("{host}:{port}: no address"))?;
    let mut stream =
        TcpStream::connect_timeout(&addr, timeout).map_err(|e| format!("{addr}: {e}"))?;
    let _ = stream.set_read_timeout(Some(timeout));
    let _ = stream.set_write_timeout(Some(timeout));
    let body = body.map(Value::to_string).unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream
        .write_all(request.as_bytes())
        .map_err(|e| format!("{addr}: {e}"))?;
    let mut raw = Vec::new();
    stream
        .take(1 << 20)
        .read_to_end(&mut raw)
        .map_err(|e| format!("{addr}{path}: {e}"))?;
    parse_response(&raw).map_err(|e| format!("{addr}{path}: {e}"))
}

/// Splits a raw HTTP/1.1 response into its status and JSON body.
fn parse_response(raw: &[u8]) -> Result<(u16, Value), String> {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n").ok_or("truncated response")?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line {:?}", head.lines().next().unwrap_or("")))?;
    let length = head.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.eq_ignore_ascii_case("content-length")
            .then(|| value.trim().parse::<usize>().ok())?
    });
    let body = match length {
        Some(n) => body.get(..n).unwrap_or(body),
        None => body,
    };
    let value =
        serde_json::from_str(body).map_err(|e| format!("status {status}, body not JSON: {e}"))?;
    Ok((status, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_status_and_body() {
        let raw = b"HTTP/1.1 200 OK\r\nContent-Length: 17\r\n\r\n{\"health\":\"true\"}";
        let (status, v) = parse_response(raw).unwrap();
        assert_eq!(status, 200);
        assert_eq!(v["health"], "true");
        assert!(parse_response(b"HTTP/1.1 200").is_err());
        assert!(parse_response(b"HTTP/1.1 503 No\r\n\r\nnot json")
            .unwrap_err()
            .contains("503"));
    }

    #[test]
    fn a_closed_port_is_an_error_naming_the_address() {
        let e = request_json(
            "GET",
            ("127.0.0.1", 1),
            "/health",
            None,
            Duration::from_millis(200),
        )
        .unwrap_err();
        assert!(e.contains("127.0.0.1:1"), "{e}");
    }
}
