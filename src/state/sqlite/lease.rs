//! Scope leases in SQLite: a `leases` row per scope, taken with an upsert that only replaces an
//! expired row, so the semantics match DynamoDB's conditional put.

use super::conn::SqliteStore;
use crate::state::error::StateError;
use crate::state::lease::{Lease, LeaseHeld};
use crate::state::model::{ScopeKey, Timestamp};
use rusqlite::{params, OptionalExtension, Transaction};
use std::time::Duration;

impl SqliteStore {
    /// Takes the lease of `scope` for `owner` until now + `ttl`, if nobody holds an unexpired one.
    pub async fn acquire_lease(
        &self,
        scope: &ScopeKey,
        owner: &str,
        ttl: Duration,
    ) -> Result<Lease, StateError> {
        scope.validate()?;
        let now = Timestamp::now();
        let expires_at = now.plus(ttl);
        let (key, who) = (scope.storage_key(), owner.to_owned());
        let action = format!("take the lease of scope {scope}");
        let taken = self
            .transaction(action, move |tx| {
                let changed = tx.execute(
                    "INSERT INTO leases (scope, owner, expires_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT (scope) DO UPDATE SET owner = excluded.owner,
                       expires_at = excluded.expires_at
                     WHERE leases.expires_at < ?4",
                    params![key, who, expires_at.millis(), now.millis()],
                )?;
                if changed == 1 {
                    Ok(None)
                } else {
                    holder(tx, &key).map(Some)
                }
            })
            .await?;
        match taken {
            None => Ok(Lease {
                scope: scope.clone(),
                owner: owner.to_owned(),
                expires_at,
            }),
            Some((owner, expires)) => Err(held(scope, owner, expires)),
        }
    }

    /// Extends a lease still held by its owner to now + `ttl`; [`StateError::LeaseHeld`] when it
    /// expired and was taken over.
    pub async fn renew_lease(&self, lease: &Lease, ttl: Duration) -> Result<Lease, StateError> {
        let now = Timestamp::now();
        let expires_at = now.plus(ttl);
        let (key, who) = (lease.scope.storage_key(), lease.owner.clone());
        let action = format!("renew the lease of scope {}", lease.scope);
        let renewed = self
            .transaction(action, move |tx| {
                let changed = tx.execute(
                    "UPDATE leases SET expires_at = ?3
                     WHERE scope = ?1 AND owner = ?2 AND expires_at >= ?4",
                    params![key, who, expires_at.millis(), now.millis()],
                )?;
                if changed == 1 {
                    Ok(None)
                } else {
                    holder(tx, &key).map(Some)
                }
            })
            .await?;
        match renewed {
            None => Ok(Lease {
                expires_at,
                ..lease.clone()
            }),
            Some((owner, expires)) => Err(held(&lease.scope, owner, expires)),
        }
    }

    /// Gives the lease back; `false` when it was no longer this owner's.
    pub async fn release_lease(&self, lease: &Lease) -> Result<bool, StateError> {
        let (key, who) = (lease.scope.storage_key(), lease.owner.clone());
        let action = format!("release the lease of scope {}", lease.scope);
        let deleted = self
            .transaction(action, move |tx| {
                tx.execute(
                    "DELETE FROM leases WHERE scope = ?1 AND owner = ?2",
                    params![key, who],
                )
            })
            .await?;
        Ok(deleted == 1)
    }
}

type Holder = (Option<String>, Option<i64>);

fn holder(tx: &Transaction<'_>, key: &str) -> rusqlite::Result<Holder> {
    let row = tx
        .query_row(
            "SELECT owner, expires_at FROM leases WHERE scope = ?1",
            [key],
            |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)),
        )
        .optional()?;
    Ok(match row {
        Some((owner, expires)) => (Some(owner), Some(expires)),
        None => (None, None),
    })
}

fn held(scope: &ScopeKey, owner: Option<String>, expires: Option<i64>) -> StateError {
    StateError::from(LeaseHeld {
        scope: scope.clone(),
        owner,
        expires_at: expires.map(Timestamp::from_millis),
    })
}
