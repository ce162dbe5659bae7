//! Reading a command's stdout and stderr together from one ssh2 channel.
//!
//! Reading stdout to its end before stderr stalls a command that writes
//! more than the SSH window (2 MiB) to stderr first: libssh2 only widens the
//! window when the stream being read is read. So both streams are pumped in
//! turn with the session non-blocking, and the socket is `poll`ed when
//! neither has data (the pattern ssh2's `block_directions` is made for).

use ssh2::{BlockDirections, Channel, Session};
use std::io::{self, Read};
use std::os::unix::io::RawFd;
use std::time::{Duration, Instant};

/// How reading stopped short of both ends of stream.
pub(crate) enum DrainError {
    /// The deadline passed first.
    TimedOut,
    /// The channel or the socket failed.
    Io(io::Error),
}

/// Reads stdout and stderr of `channel` to their ends, or until `deadline`.
/// `fd` is the session's socket.
pub(crate) fn drain(
    session: &Session,
    fd: RawFd,
    channel: &mut Channel,
    deadline: Instant,
) -> Result<(Vec<u8>, Vec<u8>), DrainError> {
    session.set_blocking(false);
    let result = pump_both(session, fd, channel, deadline);
    session.set_blocking(true);
    result
}

fn pump_both(
    session: &Session,
    fd: RawFd,
    channel: &mut Channel,
    deadline: Instant,
) -> Result<(Vec<u8>, Vec<u8>), DrainError> {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let out_done = pump(channel, &mut buf, &mut out)?;
        let err_done = pump(&mut channel.stderr(), &mut buf, &mut err)?;
        if out_done && err_done {
            return Ok((out, err));
        }
        wait(session, fd, deadline)?;
    }
}

/// Reads what `stream` has now into `sink`; true once it has ended.
fn pump(stream: &mut impl Read, buf: &mut [u8], sink: &mut Vec<u8>) -> Result<bool, DrainError> {
    loop {
        match stream.read(buf) {
            Ok(0) => return Ok(true),
            Ok(n) => sink.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(DrainError::Io(e)),
        }
    }
}

/// Sleeps until the socket can move in the direction libssh2 is blocked
/// on, at most until `deadline`.
fn wait(session: &Session, fd: RawFd, deadline: Instant) -> Result<(), DrainError> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(DrainError::TimedOut);
    }
    let (events, cap) = match session.block_directions() {
        BlockDirections::Inbound => (libc::POLLIN, Duration::from_secs(1)),
        BlockDirections::Outbound => (libc::POLLOUT, Duration::from_secs(1)),
        BlockDirections::Both => (libc::POLLIN | libc::POLLOUT, Duration::from_secs(1)),
        // Blocked on nothing we can see: check again soon.
        BlockDirections::None => (libc::POLLIN, Duration::from_millis(1)),
    };
    let mut pfd = libc::pollfd {
        fd,
        events,
        revents: 0,
    };
    let millis = left.min(cap).as_millis().max(1) as libc::c_int;
    // SAFETY: `pfd` is one valid pollfd that outlives the call; `fd` is the
    // session's socket, kept open by the session we borrow.
    let rc = unsafe { libc::poll(&mut pfd, 1, millis) };
    if rc < 0 {
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(DrainError::Io(e));
        }
    }
    Ok(())
}
