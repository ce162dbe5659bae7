//! The client protocol: a client is any program, in any language, that
//! temblor starts on the controller and talks to in JSON lines over its
//! stdin and stdout (docs/client-protocol.md is the specification). Its
//! stderr goes to the run's log.
//!
//! One program runs per worker process, as Jepsen opens one client per
//! process: [`ProtocolClient::open`] starts it and sends `init`, and each
//! [`Client::invoke`] is one request and one reply. A reply that does not
//! come within the op timeout, a client that exits, or a line that is not
//! the reply makes the op `info` (it may have happened) and the program is
//! killed; the worker then goes on as a new process, which starts a fresh
//! program. Errors carry Maelstrom's codes and their definite (`fail`) or
//! indefinite (`info`) meaning ([`message`]).

pub mod message;

use checkers::Op;
use message::{Init, InitNode};
use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout};
use workloads::client::BoxFuture;
use workloads::{Client, ClientError};

/// Where a client's stderr lines and temblor's notes about it go: one
/// line at a time, without the newline.
pub type LogFn = Arc<dyn Fn(&str) + Send + Sync>;

/// How many of a client's last stderr lines an error quotes.
const STDERR_TAIL: usize = 20;

/// The program to start, and how.
#[derive(Clone, Debug, PartialEq)]
pub struct Program {
    /// The command and its arguments.
    pub argv: Vec<String>,
    /// Its working directory (a target file's own folder).
    pub cwd: PathBuf,
    /// Extra environment variables.
    pub env: BTreeMap<String, String>,
    /// How long it may take to answer `init`.
    pub start_timeout: Duration,
}

impl Program {
    /// The command line, as a person would type it (for messages).
    pub fn display(&self) -> String {
        self.argv
            .iter()
            .map(|a| crate::remote::escape(a))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// What every client of a run shares.
struct Shared {
    program: Program,
    run: String,
    workload: String,
    nodes: Vec<InitNode>,
    ports: BTreeMap<String, u16>,
    options: BTreeMap<String, String>,
    op_timeout: Duration,
    log: LogFn,
}

/// The protocol client template of a run; [`Client::open`] starts a
/// program bound to a node.
#[derive(Clone)]
pub struct ProtocolClient {
    shared: Arc<Shared>,
}

/// The settings of a [`ProtocolClient`].
pub struct Settings {
    /// The program.
    pub program: Program,
    /// The run's id, sent in `init`.
    pub run: String,
    /// The workload's name, sent in `init`; it decides the request shape.
    pub workload: String,
    /// Every node (name, address), in order.
    pub nodes: Vec<(String, String)>,
    /// The target's ports by name.
    pub ports: BTreeMap<String, u16>,
    /// The target options, defaults filled in.
    pub options: BTreeMap<String, String>,
    /// How long temblor waits for a reply before the op is `info`.
    pub op_timeout: Duration,
    /// Where stderr lines and notes go.
    pub log: LogFn,
}

impl ProtocolClient {
    /// A template for `settings`.
    pub fn new(settings: Settings) -> Self {
        let nodes = settings
            .nodes
            .into_iter()
            .enumerate()
            .map(|(i, (name, address))| InitNode {
                name,
                address,
                id: i + 1,
            })
            .collect();
        ProtocolClient {
            shared: Arc::new(Shared {
                program: settings.program,
                run: settings.run,
                workload: settings.workload,
                nodes,
                ports: settings.ports,
                options: settings.options,
                op_timeout: settings.op_timeout,
                log: settings.log,
            }),
        }
    }

    async fn start(&self, node: &str) -> Result<Session, ClientError> {
        let shared = Arc::clone(&self.shared);
        if !shared.nodes.iter().any(|n| n.name == node) {
            return Err(ClientError::Fail(format!("no node named {node}")));
        }
        let p = &shared.program;
        let (program, args) = p
            .argv
            .split_first()
            .ok_or_else(|| ClientError::Fail("the client command is empty".into()))?;
        let mut child = tokio::process::Command::new(program)
            .args(args)
            .current_dir(&p.cwd)
            .envs(&p.env)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                ClientError::Fail(format!(
                    "cannot start the client `{}` in {}: {e}",
                    p.display(),
                    p.cwd.display()
                ))
            })?;
        let pid = child.id().unwrap_or_default();
        let who = format!("client {node} [pid {pid}]");
        let tail = Arc::new(Mutex::new(VecDeque::new()));
        let stderr = child.stderr.take().map(|stderr| {
            tokio::spawn(forward_stderr(
                stderr,
                who.clone(),
                Arc::clone(&shared.log),
                Arc::clone(&tail),
            ))
        });
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(ClientError::Fail(format!("{who}: no pipes to the client")));
        };
        let mut session = Session {
            shared: Arc::clone(&shared),
            who,
            child,
            stdin,
            stdout: BufReader::new(stdout),
            line: String::new(),
            next_id: 1,
            broken: None,
            tail,
            stderr,
        };
        session.handshake(node).await?;
        Ok(session)
    }
}

impl Client for ProtocolClient {
    fn open<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<Box<dyn Client>, ClientError>> {
        Box::pin(async move { Ok(Box::new(self.start(node).await?) as Box<dyn Client>) })
    }

    fn invoke<'a>(&'a mut self, op: &'a Op) -> BoxFuture<'a, Result<Op, ClientError>> {
        Box::pin(async move {
            Err(ClientError::Fail(format!(
                "{}: a client template is not bound to a node",
                op.f
            )))
        })
    }
}

/// One running client program, bound to a node.
struct Session {
    shared: Arc<Shared>,
    /// `client n1 [pid 123]`, for the log.
    who: String,
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    line: String,
    next_id: u64,
    /// Why the program can no longer be used, once it cannot.
    broken: Option<String>,
    /// Its last stderr lines.
    tail: Arc<Mutex<VecDeque<String>>>,
    /// The task copying its stderr to the log.
    stderr: Option<tokio::task::JoinHandle<()>>,
}

/// What reading one line from the client gave.
enum Read {
    Line,
    Eof,
    TimedOut,
    Failed(std::io::Error),
}

impl Session {
    async fn handshake(&mut self, node: &str) -> Result<(), ClientError> {
        let s = &self.shared;
        let init = Init {
            kind: "init",
            protocol: message::VERSION,
            run: s.run.clone(),
            workload: s.workload.clone(),
            node: node.to_string(),
            nodes: s.nodes.clone(),
            ports: s.ports.clone(),
            options: s.options.clone(),
            op_timeout_ms: s.op_timeout.as_millis() as u64,
        };
        let limit = s.program.start_timeout;
        let failed = |session: &mut Session, why: String| {
            let msg = format!(
                "the client `{}` did not start: {why}{}",
                session.shared.program.display(),
                session.stderr_tail()
            );
            (session.shared.log)(&format!("{}: {msg}", session.who));
            ClientError::Unavailable(msg)
        };
        if let Err(e) = self.send(&init).await {
            let why = format!("cannot send init: {e}");
            let status = self.reap().await;
            return Err(failed(self, format!("{why} ({status})")));
        }
        match self.read_line(limit).await {
            Read::Line => {}
            Read::Eof => {
                let status = self.reap().await;
                return Err(failed(self, format!("it exited before init_ok ({status})")));
            }
            Read::TimedOut => {
                let _ = self.child.start_kill();
                return Err(failed(self, format!("no init_ok within {limit:?}")));
            }
            Read::Failed(e) => return Err(failed(self, format!("reading its stdout: {e}"))),
        }
        let line = self.line.trim_end().to_string();
        match serde_json::from_str::<message::Reply>(&line) {
            Ok(r) if r.kind == "init_ok" => Ok(()),
            Ok(r) if r.kind == "error" => {
                let why = format!(
                    "it refused init: error {} {}",
                    r.code.unwrap_or(-1),
                    r.text.unwrap_or_default()
                );
                Err(failed(self, why))
            }
            _ => {
                let _ = self.child.start_kill();
                Err(failed(self, format!("it answered init with {line:?}")))
            }
        }
    }

    /// Writes `msg` as one line.
    async fn send(&mut self, msg: &impl serde::Serialize) -> std::io::Result<()> {
        let mut buf = serde_json::to_vec(msg).map_err(std::io::Error::other)?;
        buf.push(b'\n');
        self.stdin.write_all(&buf).await?;
        self.stdin.flush().await
    }

    async fn read_line(&mut self, limit: Duration) -> Read {
        self.line.clear();
        match tokio::time::timeout(limit, self.stdout.read_line(&mut self.line)).await {
            Err(_) => Read::TimedOut,
            Ok(Ok(0)) => Read::Eof,
            Ok(Ok(_)) => Read::Line,
            Ok(Err(e)) => Read::Failed(e),
        }
    }

    /// The exit status of a program that closed its stdout, waiting a
    /// moment for it, then killing it; its stderr is read to the end, so
    /// messages quote all of it.
    async fn reap(&mut self) -> String {
        let status = match tokio::time::timeout(Duration::from_secs(1), self.child.wait()).await {
            Ok(Ok(status)) => status.to_string(),
            Ok(Err(e)) => format!("exit status unknown: {e}"),
            Err(_) => {
                let _ = self.child.start_kill();
                "still running after closing its stdout; killed".to_string()
            }
        };
        if let Some(task) = self.stderr.take() {
            // A grandchild may hold stderr open: do not wait for it long.
            let _ = tokio::time::timeout(Duration::from_secs(1), task).await;
        }
        status
    }

    /// `; its stderr ended with: ...` when it wrote any.
    fn stderr_tail(&self) -> String {
        let tail = self.tail.lock().unwrap_or_else(|e| e.into_inner());
        match tail.is_empty() {
            true => String::new(),
            false => format!(
                "; its stderr ended with:\n{}",
                tail.iter().cloned().collect::<Vec<_>>().join("\n")
            ),
        }
    }

    /// Marks the program unusable, logs why and kills it; the op is `info`.
    fn broke(&mut self, op: &Op, id: u64, why: String) -> ClientError {
        (self.shared.log)(&format!(
            "{}: request {id} ({}): {why}; the client is stopped and a fresh one started",
            self.who, op.f
        ));
        let _ = self.child.start_kill();
        self.broken = Some(why.clone());
        ClientError::Unknown(why)
    }

    async fn call(&mut self, op: &Op) -> Result<Op, ClientError> {
        if let Some(why) = &self.broken {
            return Err(ClientError::Unknown(format!(
                "the client is stopped: {why}"
            )));
        }
        let id = self.next_id;
        self.next_id += 1;
        let workload = self.shared.workload.clone();
        let request = message::request(&workload, id, op)?;
        if let Err(e) = self.send(&request).await {
            let status = self.reap().await;
            return Err(self.broke(op, id, format!("cannot send the request: {e} ({status})")));
        }
        let limit = self.shared.op_timeout;
        match self.read_line(limit).await {
            Read::Line => {}
            Read::TimedOut => return Err(self.broke(op, id, format!("no reply within {limit:?}"))),
            Read::Eof => {
                let status = self.reap().await;
                let why = format!("the client exited ({status}){}", self.stderr_tail());
                return Err(self.broke(op, id, why));
            }
            Read::Failed(e) => return Err(self.broke(op, id, format!("reading its reply: {e}"))),
        }
        let line = self.line.trim_end().to_string();
        match message::parse_reply(&line, id) {
            Ok(reply) => message::complete(&workload, op, reply),
            Err(bad) => {
                let shown: String = line.chars().take(500).collect();
                Err(self.broke(op, id, format!("the client answered {bad}: {shown}")))
            }
        }
    }
}

impl Client for Session {
    fn open<'a>(&'a self, _node: &'a str) -> BoxFuture<'a, Result<Box<dyn Client>, ClientError>> {
        Box::pin(async move {
            Err(ClientError::Fail(
                "a running client cannot be opened again".into(),
            ))
        })
    }

    fn invoke<'a>(&'a mut self, op: &'a Op) -> BoxFuture<'a, Result<Op, ClientError>> {
        Box::pin(self.call(op))
    }

    /// Closes its stdin, which asks it to exit, and kills it if it has not
    /// within half a second.
    fn close(&mut self) -> BoxFuture<'_, Result<(), ClientError>> {
        Box::pin(async move {
            let _ = self.stdin.shutdown().await;
            if tokio::time::timeout(Duration::from_millis(500), self.child.wait())
                .await
                .is_err()
            {
                let _ = self.child.kill().await;
            }
            Ok(())
        })
    }
}

/// Copies the client's stderr into the log, line by line, keeping the
/// last few for error messages.
async fn forward_stderr(
    stderr: tokio::process::ChildStderr,
    who: String,
    log: LogFn,
    tail: Arc<Mutex<VecDeque<String>>>,
) {
    let mut lines = BufReader::new(stderr).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        log(&format!("{who}: {line}"));
        let mut t = tail.lock().unwrap_or_else(|e| e.into_inner());
        if t.len() == STDERR_TAIL {
            t.pop_front();
        }
        t.push_back(line);
    }
}

#[cfg(test)]
mod tests;
