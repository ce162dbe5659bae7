//! `Local`: a [`Remote`] that is this machine, running commands with
//! `sh -c`. Used by unit tests and by the local cluster's own setup steps
//! (which run as root in the root namespace).

use super::{checked, Command, Output, Remote, RemoteError};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// How long a local command may run when it sets no timeout.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

/// This machine, as a [`Remote`].
#[derive(Debug, Clone)]
pub struct Local {
    name: String,
    is_root: bool,
}

impl Local {
    /// This machine, named `localhost` in errors.
    pub fn new() -> Self {
        Local {
            name: "localhost".to_string(),
            is_root: effective_uid() == Some(0),
        }
    }
}

impl Default for Local {
    fn default() -> Self {
        Self::new()
    }
}

impl Remote for Local {
    fn host(&self) -> &str {
        &self.name
    }

    fn exec(&self, cmd: &Command) -> Result<Output, RemoteError> {
        let line = cmd.render(self.is_root);
        let child = std::process::Command::new("sh")
            .arg("-c")
            .arg(&line)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| self.io("spawn", Path::new("sh"), e))?;
        let timeout = cmd.timeout_override().unwrap_or(DEFAULT_TIMEOUT);
        let out = self.wait(child, timeout).map_err(|e| match e {
            Waited::Timeout => RemoteError::Timeout {
                host: self.name.clone(),
                cmd: cmd.to_string(),
                timeout,
            },
            Waited::Io(e) => self.io("wait for", Path::new("sh"), e),
        })?;
        checked(&self.name, cmd, out)
    }

    fn upload(&self, local: &Path, remote_path: &str) -> Result<(), RemoteError> {
        std::fs::copy(local, remote_path)
            .map(drop)
            .map_err(|e| self.io("copy", local, e))
    }

    fn download(&self, remote_path: &str, local: &Path) -> Result<(), RemoteError> {
        let from = PathBuf::from(remote_path);
        std::fs::copy(&from, local)
            .map(drop)
            .map_err(|e| self.io("copy", &from, e))
    }
}

enum Waited {
    Timeout,
    Io(std::io::Error),
}

impl Local {
    fn io(&self, during: &str, path: &Path, source: std::io::Error) -> RemoteError {
        RemoteError::Io {
            host: self.name.clone(),
            during: during.to_string(),
            path: path.to_path_buf(),
            source,
        }
    }

    /// Waits for `child`, reading both pipes on threads so neither fills.
    fn wait(&self, mut child: Child, timeout: Duration) -> Result<Output, Waited> {
        let stdout = drain(child.stdout.take());
        let stderr = drain(child.stderr.take());
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(status) = child.try_wait().map_err(Waited::Io)? {
                break status;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(Waited::Timeout);
            }
            thread::sleep(Duration::from_millis(2));
        };
        Ok(Output {
            status: status.code().unwrap_or(-1),
            stdout: joined(stdout),
            stderr: joined(stderr),
        })
    }
}

fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut buf);
        }
        buf
    })
}

fn joined(handle: JoinHandle<Vec<u8>>) -> String {
    String::from_utf8_lossy(&handle.join().unwrap_or_default()).into_owned()
}

/// This process's effective user id, from `/proc/self/status`.
pub fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_returns_output_and_checks_status() {
        let local = Local::new();
        let out = local
            .exec(&Command::new("printf").arg("%s|%s").args(["a b", "c"]))
            .unwrap();
        assert_eq!(out.stdout, "a b|c");
        let out = local.exec(&Command::shell("exit 4").unchecked()).unwrap();
        assert_eq!(out.status, 4);
        let err = local
            .exec(&Command::shell("echo bad >&2; exit 2"))
            .unwrap_err();
        assert!(
            matches!(err, RemoteError::NonZero { status: 2, ref stderr_tail, .. } if stderr_tail == "bad")
        );
    }

    #[test]
    fn exec_honours_cd_env_and_timeout() {
        let local = Local::new();
        let out = local
            .exec(&Command::shell("pwd; echo \"$X\"").cd("/").env("X", "a'b"))
            .unwrap();
        assert_eq!(out.stdout, "/\na'b\n");
        let started = Instant::now();
        let err = local
            .exec(
                &Command::new("sleep")
                    .arg("5")
                    .timeout(Duration::from_millis(100)),
            )
            .unwrap_err();
        assert!(matches!(err, RemoteError::Timeout { .. }), "{err}");
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[test]
    fn upload_and_download_copy_files() {
        let dir = std::env::temp_dir().join(format!("temblor-local-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (a, b, c) = (dir.join("a"), dir.join("b"), dir.join("c"));
        std::fs::write(&a, b"payload").unwrap();
        let local = Local::new();
        local.upload(&a, b.to_str().unwrap()).unwrap();
        local.download(b.to_str().unwrap(), &c).unwrap();
        assert_eq!(std::fs::read(&c).unwrap(), b"payload");
        let err = local.download("/nonexistent/x", &c).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/x"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
