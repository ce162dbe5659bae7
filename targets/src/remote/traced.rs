//! Every remote call as a `tracing` event (target `temblor::ssh`): the
//! node, the command, its exit status and how long it took, at debug
//! level (info when it failed to run at all), so a run's log holds every
//! command it sent: setup, faults, heals, teardown. A wrapper around any
//! [`Remote`] (STYLE 5); [`super::AsyncRemote::new`] puts every remote
//! the harness uses in one. Secrets (see [`super::secrets`]) are masked
//! in what is logged.

use super::{secrets, Command, Output, Remote, RemoteError};
use std::path::Path;
use std::time::Instant;

/// `R`, with each call logged.
pub struct Traced<R> {
    inner: R,
}

impl<R: Remote> Traced<R> {
    /// Wraps `inner`.
    pub fn new(inner: R) -> Self {
        Traced { inner }
    }
}

impl<R: Remote> Remote for Traced<R> {
    fn host(&self) -> &str {
        self.inner.host()
    }

    fn exec(&self, cmd: &Command) -> Result<Output, RemoteError> {
        let start = Instant::now();
        let result = self.inner.exec(cmd);
        let ms = start.elapsed().as_secs_f64() * 1000.0;
        let node = self.host();
        let line = secrets::mask(&cmd.to_string());
        match &result {
            Ok(out) => {
                tracing::debug!(target: "temblor::ssh", node, status = out.status, ms = format_args!("{ms:.1}"), "exec {line}")
            }
            Err(RemoteError::NonZero { status, .. }) => {
                tracing::debug!(target: "temblor::ssh", node, status, ms = format_args!("{ms:.1}"), "exec {line}")
            }
            Err(e) => {
                let error = secrets::mask(&e.to_string());
                tracing::info!(target: "temblor::ssh", node, ms = format_args!("{ms:.1}"), error, "exec {line}")
            }
        }
        result
    }

    fn upload(&self, local: &Path, remote_path: &str) -> Result<(), RemoteError> {
        let start = Instant::now();
        let result = self.inner.upload(local, remote_path);
        self.transfer(
            "upload",
            &local.display().to_string(),
            remote_path,
            start,
            &result,
        );
        result
    }

    fn download(&self, remote_path: &str, local: &Path) -> Result<(), RemoteError> {
        let start = Instant::now();
        let result = self.inner.download(remote_path, local);
        self.transfer(
            "download",
            remote_path,
            &local.display().to_string(),
            start,
            &result,
        );
        result
    }
}

impl<R: Remote> Traced<R> {
    fn transfer(
        &self,
        what: &str,
        from: &str,
        to: &str,
        start: Instant,
        r: &Result<(), RemoteError>,
    ) {
        let ms = start.elapsed().as_secs_f64() * 1000.0;
        let node = self.host();
        match r {
            Ok(()) => {
                tracing::debug!(target: "temblor::ssh", node, ms = format_args!("{ms:.1}"), "{what} {from} -> {to}")
            }
            Err(e) => {
                let error = secrets::mask(&e.to_string());
                tracing::info!(target: "temblor::ssh", node, ms = format_args!("{ms:.1}"), error, "{what} {from} -> {to}")
            }
        }
    }
}
