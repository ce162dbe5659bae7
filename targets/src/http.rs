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
    target: (&str, u16),
    path: &str,
    body: Option<&Value>,
    timeout: Duration,
) -> Result<(u16, Value), String> {
    let (status, text) = request(method, target, path, body, timeout)?;
    let value = serde_json::from_str(&text).map_err(|e| {
        format!(
            "{}:{}{path}: status {status}, body not JSON: {e}",
            target.0, target.1
        )
    })?;
    Ok((status, value))
}

/// The status of `GET url`, for an `http://host[:port]/path` URL.
pub fn get_status(url: &str, timeout: Duration) -> Result<u16, String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("{url}: only http:// URLs can be probed"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (
            h,
            p.parse::<u16>()
                .map_err(|_| format!("{url}: bad port {p:?}"))?,
        ),
        None => (authority, 80),
    };
    request("GET", (host, port), path, None, timeout).map(|(status, _)| status)
}

/// Sends `method path` with an optional JSON `body` to `host:port`;
/// returns the status and the body as text.
fn request(
    method: &str,
    (host, port): (&str, u16),
    path: &str,
    body: Option<&Value>,
    timeout: Duration,
) -> Result<(u16, String), String> {
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

/// Splits a raw HTTP/1.1 response into its status and body.
fn parse_response(raw: &[u8]) -> Result<(u16, String), String> {
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
    Ok((status, body.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_status_and_body() {
        let raw = b"HTTP/1.1 200 OK\r\nContent-Length: 17\r\n\r\n{\"health\":\"true\"}";
        let (status, body) = parse_response(raw).unwrap();
        assert_eq!((status, body.as_str()), (200, "{\"health\":\"true\"}"));
        assert!(parse_response(b"HTTP/1.1 200").is_err());
        assert_eq!(
            parse_response(b"HTTP/1.1 503 No\r\n\r\nnot json").unwrap(),
            (503, "not json".to_string())
        );
    }

    #[test]
    fn urls_are_probed_for_their_status_only_over_http() {
        let e = get_status("https://x/", Duration::from_millis(100)).unwrap_err();
        assert!(e.contains("only http://"), "{e}");
        let e = get_status("http://127.0.0.1:1/health", Duration::from_millis(200)).unwrap_err();
        assert!(e.contains("127.0.0.1:1"), "{e}");
        assert!(get_status("http://h:port/", Duration::from_millis(1))
            .unwrap_err()
            .contains("bad port"));
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
