//! The lock workload on etcd: etcd's lock API (`v3lock`, what `etcdctl
//! lock` uses) under one lease per owner, after Jepsen's etcd lock test.
//!
//! `acquire` grants a lease of [`TTL_SECS`] and waits (up to the op
//! timeout) for `/v3/lock/lock` to hand over the lock under it; `release`
//! unlocks it and revokes the lease. The lock lives as long as its lease,
//! and nothing keeps the lease alive: a holder cut off from etcd for
//! longer than the TTL loses the lock without knowing it, the hazard
//! Jepsen's etcd analysis describes, which the mutex checker then reports.
//!
//! What each owner (a worker thread, the op's value) holds is kept on the
//! client template, so it survives a crash that moves the thread to a new
//! process: an owner whose acquire crashed may hold the lock under its
//! lease, so its next release revokes that lease (freeing whatever it
//! held) and completes `info`, as the release of a lock that may or may
//! not have been held; its next acquire revokes it first.

use super::{Effect, EtcdClient};
use crate::etcd::gateway;
use checkers::Op;
use workloads::{ClientError, Complete};

/// Seconds an acquired lock lasts without a release.
pub const TTL_SECS: i64 = 10;

/// The name every acquire competes for.
const NAME: &str = "temblor-lock";

/// What an owner holds.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Holding {
    /// The lock, as `key`, under `lease`.
    Held { lease: i64, key: String },
    /// Perhaps the lock, under `lease` (an acquire or release crashed).
    Maybe { lease: i64 },
}

/// Each owner's holding.
pub(super) type Owners = crate::client::Owners<Holding>;

impl EtcdClient {
    pub(super) async fn lock_op(&self, op: &Op) -> Result<Op, ClientError> {
        let owner = op.value.to_string();
        match op.f.as_str() {
            "acquire" => self.acquire(op, &owner).await,
            "release" => self.release(op, &owner).await,
            _ => Err(crate::client::unknown_f("etcd", self.served, op)),
        }
    }

    async fn revoke(&self, lease: i64) -> Result<(), ClientError> {
        let body = gateway::lease_revoke(lease);
        self.call("/v3/lease/revoke", body, Effect::Write)
            .await
            .map(|_| ())
    }

    async fn acquire(&self, op: &Op, owner: &str) -> Result<Op, ClientError> {
        match self.owners.get(owner) {
            Some(Holding::Held { .. }) => {
                return Ok(op.fail("this owner holds the lock already (it is not re-entrant)"))
            }
            Some(Holding::Maybe { lease }) => {
                // Free whatever a crashed op of this owner left held: as an
                // indeterminate op that may never have happened, it is
                // invisible to the history.
                self.revoke(lease).await?;
                self.owners.set(owner, None);
            }
            None => {}
        }
        let resp = self
            .call(
                "/v3/lease/grant",
                gateway::lease_grant(TTL_SECS),
                Effect::Write,
            )
            .await?;
        let lease = gateway::parse_lease(&resp).map_err(ClientError::Unknown)?;
        match self
            .call("/v3/lock/lock", gateway::lock(NAME, lease), Effect::Write)
            .await
        {
            Ok(resp) => {
                let key = gateway::parse_lock_key(&resp).map_err(ClientError::Unknown)?;
                self.owners.set(owner, Some(Holding::Held { lease, key }));
                Ok(op.ok(op.value.clone()))
            }
            Err(e @ (ClientError::Fail(_) | ClientError::Unavailable(_))) => {
                let _ = self.revoke(lease).await;
                Err(e)
            }
            Err(e) => {
                self.owners.set(owner, Some(Holding::Maybe { lease }));
                Err(e)
            }
        }
    }

    async fn release(&self, op: &Op, owner: &str) -> Result<Op, ClientError> {
        match self.owners.get(owner) {
            None => Ok(op.fail("this owner does not hold the lock")),
            Some(Holding::Maybe { lease }) => {
                self.revoke(lease).await?;
                self.owners.set(owner, None);
                Ok(op.info("revoked the lease of a crashed acquire: the lock may or may not have been held"))
            }
            Some(Holding::Held { lease, key }) => {
                match self
                    .call("/v3/lock/unlock", gateway::unlock(&key), Effect::Write)
                    .await
                {
                    Ok(_) => {
                        self.owners.set(owner, None);
                        let _ = self.revoke(lease).await;
                        Ok(op.ok(op.value.clone()))
                    }
                    Err(e @ ClientError::Unknown(_)) => {
                        self.owners.set(owner, Some(Holding::Maybe { lease }));
                        Err(e)
                    }
                    Err(e) => Err(e),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_remember_what_they_hold() {
        let o = Owners::default();
        assert_eq!(o.get("3"), None);
        o.set("3", Some(Holding::Maybe { lease: 4 }));
        assert_eq!(o.get("3"), Some(Holding::Maybe { lease: 4 }));
        o.set("3", None);
        assert_eq!(o.get("3"), None);
    }
}
