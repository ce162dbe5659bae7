//! The lock workload on Consul: a session per owner, and the KV API's
//! `?acquire=` and `?release=` (Consul's documented leader-election and
//! semaphore recipe; Jepsen's Consul lock test).
//!
//! An owner's session is created at its first acquire, with a TTL of
//! [`TTL_SECS`], no lock delay, and `release` behaviour; nothing renews
//! it, so a holder cut off for longer than the TTL loses the lock without
//! knowing it, which the mutex checker then reports. Consul lets a session
//! acquire a lock it already holds, so this client refuses a second
//! acquire itself. An owner whose acquire crashed may hold the lock: its
//! next release destroys its session (releasing whatever it held) and
//! completes `info`; its next acquire destroys it first. The sessions live
//! on the client template, so they outlive the process a crash replaced.

use super::{status_error, ConsulClient};
use crate::consul::api;
use checkers::Op;
use workloads::{ClientError, Complete};

/// Seconds a session, and the lock it holds, lasts without renewal.
pub const TTL_SECS: u64 = 10;

/// The key every acquire competes for.
const KEY: &str = "lock";

/// What an owner holds.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Holding {
    /// A session, and whether it holds the lock (`Some(false)`: no;
    /// `None`: an acquire or release crashed, so perhaps).
    Session { id: String, held: Option<bool> },
}

/// Each owner's holding.
pub(super) type Owners = crate::client::Owners<Holding>;

impl ConsulClient {
    pub(super) async fn lock_op(&self, op: &Op) -> Result<Op, ClientError> {
        let owner = op.value.to_string();
        match op.f.as_str() {
            "acquire" => self.acquire(op, &owner).await,
            "release" => self.release(op, &owner).await,
            _ => Err(crate::client::unknown_f("consul", self.served, op)),
        }
    }

    async fn destroy(&self, session: &str) -> Result<(), ClientError> {
        self.write(&api::session_destroy_path(session), String::new())
            .await
            .map(|_| ())
    }

    /// The owner's session with the lock not held, made if need be.
    async fn session(&self, owner: &str) -> Result<String, ClientError> {
        match self.owners.get(owner) {
            Some(Holding::Session {
                id,
                held: Some(false),
            }) => return Ok(id),
            Some(Holding::Session { id, .. }) => {
                self.destroy(&id).await?;
                self.owners.set(owner, None);
            }
            None => {}
        }
        let body = api::session_create(TTL_SECS).to_string();
        let a = self.write("/v1/session/create", body).await?;
        let v: serde_json::Value =
            serde_json::from_str(&a.text).map_err(|_| ClientError::Unknown(status_error(&a)))?;
        let id = api::parse_session(&v).map_err(ClientError::Unknown)?;
        self.owners.set(
            owner,
            Some(Holding::Session {
                id: id.clone(),
                held: Some(false),
            }),
        );
        Ok(id)
    }

    async fn acquire(&self, op: &Op, owner: &str) -> Result<Op, ClientError> {
        if let Some(Holding::Session {
            held: Some(true), ..
        }) = self.owners.get(owner)
        {
            return Ok(op.fail("this owner holds the lock already (it is not re-entrant)"));
        }
        let id = self.session(owner).await?;
        let path = api::lock_path(KEY, "acquire", &id);
        let held = |h| {
            Some(Holding::Session {
                id: id.clone(),
                held: h,
            })
        };
        match self.write(&path, op.value.to_string()).await {
            Ok(a) if a.text.trim() == "true" => {
                self.owners.set(owner, held(Some(true)));
                Ok(op.ok(op.value.clone()))
            }
            Ok(_) => Ok(op.fail("the lock is held")),
            Err(e @ ClientError::Unknown(_)) => {
                self.owners.set(owner, held(None));
                Err(e)
            }
            Err(e) => Err(e),
        }
    }

    async fn release(&self, op: &Op, owner: &str) -> Result<Op, ClientError> {
        match self.owners.get(owner) {
            None
            | Some(Holding::Session {
                held: Some(false), ..
            }) => Ok(op.fail("this owner does not hold the lock")),
            Some(Holding::Session { id, held: None }) => {
                self.destroy(&id).await?;
                self.owners.set(owner, None);
                Ok(op.info("destroyed the session of a crashed acquire: the lock may or may not have been held"))
            }
            Some(Holding::Session {
                id,
                held: Some(true),
            }) => {
                let path = api::lock_path(KEY, "release", &id);
                match self.write(&path, String::new()).await {
                    Ok(a) if a.text.trim() == "true" => {
                        self.owners.set(
                            owner,
                            Some(Holding::Session {
                                id,
                                held: Some(false),
                            }),
                        );
                        Ok(op.ok(op.value.clone()))
                    }
                    Ok(a) => Ok(op.fail(format!("release refused: {}", status_error(&a)))),
                    Err(e @ ClientError::Unknown(_)) => {
                        self.owners
                            .set(owner, Some(Holding::Session { id, held: None }));
                        Err(e)
                    }
                    Err(e) => Err(e),
                }
            }
        }
    }
}
