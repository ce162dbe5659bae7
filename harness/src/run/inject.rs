//! Panics injected into a run on purpose, to test that temblor itself
//! fails safely: with `TEMBLOR_INJECT_PANIC=client:N` the Nth client op
//! of the run (over all workers) panics inside the client, and with
//! `nemesis:N` the Nth fault op panics inside the nemesis. The run must
//! then heal every fault, keep its history and exit 255 with the panic's
//! message. Nothing reads this variable but [`from_env`]; unset, a run is
//! untouched.

use checkers::Op;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use workloads::client::BoxFuture;
use workloads::{Client, ClientError, Nemesis, NemesisError};

/// The environment variable.
pub const VAR: &str = "TEMBLOR_INJECT_PANIC";

/// Where a run panics on purpose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Panic {
    /// In the client, on the run's Nth client op.
    Client(u64),
    /// In the nemesis, on the run's Nth fault op.
    Nemesis(u64),
}

/// The injection `TEMBLOR_INJECT_PANIC` asks for, if any.
pub fn from_env() -> Result<Option<Panic>, String> {
    match std::env::var(VAR) {
        Ok(v) => parse(&v).map(Some),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(e) => Err(format!("{VAR}: {e}")),
    }
}

fn parse(text: &str) -> Result<Panic, String> {
    let bad = || format!("{VAR}={text:?}: expected client:N or nemesis:N with N >= 1");
    let (what, n) = text.split_once(':').ok_or_else(bad)?;
    let n: u64 = n.parse().ok().filter(|n| *n >= 1).ok_or_else(bad)?;
    match what {
        "client" => Ok(Panic::Client(n)),
        "nemesis" => Ok(Panic::Nemesis(n)),
        _ => Err(bad()),
    }
}

/// `client`, panicking on the run's `at`th op.
pub fn client(client: Arc<dyn Client>, at: u64) -> Arc<dyn Client> {
    Arc::new(Panicking {
        inner: Inner::Template(client),
        count: Arc::default(),
        at,
    })
}

/// `nemesis`, panicking on the run's `at`th fault op.
pub fn nemesis(nemesis: Box<dyn Nemesis>, at: u64) -> Box<dyn Nemesis> {
    Box::new(PanickingNemesis {
        inner: nemesis,
        count: 0,
        at,
    })
}

enum Inner {
    Template(Arc<dyn Client>),
    Open(Box<dyn Client>),
}

struct Panicking {
    inner: Inner,
    count: Arc<AtomicU64>,
    at: u64,
}

impl Client for Panicking {
    fn open<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<Box<dyn Client>, ClientError>> {
        Box::pin(async move {
            let opened = match &self.inner {
                Inner::Template(t) => t.open(node).await?,
                Inner::Open(c) => c.open(node).await?,
            };
            Ok(Box::new(Panicking {
                inner: Inner::Open(opened),
                count: Arc::clone(&self.count),
                at: self.at,
            }) as Box<dyn Client>)
        })
    }

    fn invoke<'a>(&'a mut self, op: &'a Op) -> BoxFuture<'a, Result<Op, ClientError>> {
        let n = self.count.fetch_add(1, Ordering::Relaxed) + 1;
        if n == self.at {
            panic!("injected panic in the client on op {n} ({VAR})");
        }
        match &mut self.inner {
            Inner::Open(c) => c.invoke(op),
            Inner::Template(_) => {
                Box::pin(async { Err(ClientError::Fail("invoked on a client template".into())) })
            }
        }
    }

    fn close(&mut self) -> BoxFuture<'_, Result<(), ClientError>> {
        match &mut self.inner {
            Inner::Open(c) => c.close(),
            Inner::Template(_) => Box::pin(async { Ok(()) }),
        }
    }
}

struct PanickingNemesis {
    inner: Box<dyn Nemesis>,
    count: u64,
    at: u64,
}

impl Nemesis for PanickingNemesis {
    fn invoke<'a>(&'a mut self, op: &'a Op) -> BoxFuture<'a, Result<Op, NemesisError>> {
        self.count += 1;
        if self.count == self.at {
            panic!(
                "injected panic in the nemesis on fault op {} ({VAR})",
                self.count
            );
        }
        self.inner.invoke(op)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_variable_names_where_and_when() {
        assert_eq!(parse("client:3"), Ok(Panic::Client(3)));
        assert_eq!(parse("nemesis:1"), Ok(Panic::Nemesis(1)));
        for bad in ["client", "client:0", "client:x", "disk:1", ""] {
            let e = parse(bad).unwrap_err();
            assert!(e.contains("expected client:N or nemesis:N"), "{bad}: {e}");
        }
    }
}
