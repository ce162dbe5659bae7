//! Host key verification against an OpenSSH known_hosts file, as OpenSSH's
//! `StrictHostKeyChecking` does it: `yes` refuses unknown keys (the default),
//! `accept-new` records them, and a changed key is always refused.

use super::{HostKeyPolicy, RemoteError};
use base64::Engine;
use ssh2::{CheckResult, HashType, KnownHostFileKind, Session};
use std::path::Path;

/// Where a host's key is checked: its name and the address dialled.
pub(crate) struct Target<'a> {
    pub host: &'a str,
    pub addr: &'a str,
    pub port: u16,
}

/// Verifies the key `session` received from `target` against `path`.
pub(crate) fn verify(
    session: &Session,
    target: &Target<'_>,
    path: &Path,
    policy: HostKeyPolicy,
) -> Result<(), RemoteError> {
    let fail = |reason: String| RemoteError::KnownHosts {
        host: target.host.to_string(),
        path: path.to_path_buf(),
        reason,
    };
    let (key, key_type) = session
        .host_key()
        .ok_or_else(|| fail("server sent no host key".into()))?;
    let fingerprint = fingerprint(session);
    let mut known = session.known_hosts().map_err(|e| fail(e.to_string()))?;
    if path.exists() {
        known
            .read_file(path, KnownHostFileKind::OpenSSH)
            .map_err(|e| fail(e.to_string()))?;
    }
    match lookup(&known, target, key) {
        CheckResult::Match => Ok(()),
        CheckResult::Mismatch => Err(RemoteError::HostKeyMismatch {
            host: target.host.to_string(),
            addr: target.addr.to_string(),
            fingerprint,
            known_hosts: path.to_path_buf(),
        }),
        CheckResult::NotFound if policy == HostKeyPolicy::AcceptNew => {
            let name = known_hosts_name(target.addr, target.port);
            known
                .add(&name, key, target.host, key_type.into())
                .map_err(|e| fail(e.to_string()))?;
            known
                .write_file(path, KnownHostFileKind::OpenSSH)
                .map_err(|e| fail(e.to_string()))
        }
        CheckResult::NotFound => Err(RemoteError::HostKeyUnknown {
            host: target.host.to_string(),
            addr: target.addr.to_string(),
            port: target.port,
            fingerprint,
            known_hosts: path.to_path_buf(),
        }),
        CheckResult::Failure => Err(fail("libssh2 could not check the host key".into())),
    }
}

/// Checks the address first, then the host name; a match on either wins.
fn lookup(known: &ssh2::KnownHosts, target: &Target<'_>, key: &[u8]) -> CheckResult {
    let by_addr = known.check_port(target.addr, target.port, key);
    if matches!(by_addr, CheckResult::Match) || target.host == target.addr {
        return by_addr;
    }
    match known.check_port(target.host, target.port, key) {
        CheckResult::NotFound => by_addr,
        other => other,
    }
}

/// The name OpenSSH writes for a host: bare on port 22, `[host]:port` else.
fn known_hosts_name(addr: &str, port: u16) -> String {
    if port == 22 {
        addr.to_string()
    } else {
        format!("[{addr}]:{port}")
    }
}

/// The key's fingerprint as OpenSSH prints it: `SHA256:` and unpadded base64.
pub(crate) fn fingerprint(session: &Session) -> String {
    match session.host_key_hash(HashType::Sha256) {
        Some(hash) => format!(
            "SHA256:{}",
            base64::engine::general_purpose::STANDARD_NO_PAD.encode(hash)
        ),
        None => "(no fingerprint)".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_the_port_when_not_22() {
        assert_eq!(known_hosts_name("10.0.0.1", 22), "10.0.0.1");
        assert_eq!(known_hosts_name("10.0.0.1", 2222), "[10.0.0.1]:2222");
    }
}
