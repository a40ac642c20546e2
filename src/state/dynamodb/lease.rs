//! Scope leases in DynamoDB: an item `(scope pk, LEASE)` with `owner` and `expires` (millis),
//! written only when absent or expired. The `ttl` attribute just cleans up leases long after
//! they expired; correctness never depends on TTL deletion (which may lag by days).

use super::client::{is_condition_failed, DynamoStore};
use super::items::{self, get_n, get_s, n, s};
use crate::state::error::StateError;
use crate::state::lease::{Lease, LeaseHeld};
use crate::state::model::{ScopeKey, Timestamp};
use serde_json::json;
use std::time::Duration;

/// How long an expired lease item lingers before DynamoDB's TTL removes it.
const LEASE_CLEANUP: Duration = Duration::from_secs(24 * 3600);

impl DynamoStore {
    /// Takes the lease of `scope` for `owner` until now + `ttl`, if nobody holds an unexpired one.
    pub async fn acquire_lease(
        &self,
        scope: &ScopeKey,
        owner: &str,
        ttl: Duration,
    ) -> Result<Lease, StateError> {
        scope.validate()?;
        let action = || format!("take the lease of scope {scope}");
        let now = Timestamp::now();
        let expires_at = now.plus(ttl);
        let pk = items::scope_pk(scope);
        let input = json!({
            "TableName": &*self.table,
            "Item": {
                "pk": s(&pk), "sk": s(items::LEASE_SK), "owner": s(owner),
                "expires": n(expires_at.millis()), "ttl": n(expires_at.plus(LEASE_CLEANUP).secs()),
            },
            "ConditionExpression": "attribute_not_exists(pk) OR #e < :now",
            "ExpressionAttributeNames": { "#e": "expires" },
            "ExpressionAttributeValues": { ":now": n(now.millis()) },
        });
        match self.client.call("PutItem", input).await {
            Ok(_) => Ok(Lease {
                scope: scope.clone(),
                owner: owner.to_owned(),
                expires_at,
            }),
            Err(e) if is_condition_failed(&e) => Err(self.holder(scope, &pk, &action).await),
            Err(e) => Err(self.error(action(), e)),
        }
    }

    /// Who holds the lease, for the error (best effort: the holder may have released it since).
    async fn holder(
        &self,
        scope: &ScopeKey,
        pk: &str,
        action: &(dyn Fn() -> String + Sync),
    ) -> StateError {
        let item = self.get(pk, items::LEASE_SK, action).await.ok().flatten();
        let item = item.as_ref();
        StateError::from(LeaseHeld {
            scope: scope.clone(),
            owner: item.and_then(|i| get_s(i, "owner").ok()).map(str::to_owned),
            expires_at: item
                .and_then(|i| get_n(i, "expires").ok())
                .map(Timestamp::from_millis),
        })
    }

    /// Extends a lease still held by its owner to now + `ttl`; [`StateError::LeaseHeld`] when it
    /// expired and was taken over (the caller must stop before writing state).
    pub async fn renew_lease(&self, lease: &Lease, ttl: Duration) -> Result<Lease, StateError> {
        let action = || format!("renew the lease of scope {}", lease.scope);
        let now = Timestamp::now();
        let expires_at = now.plus(ttl);
        let pk = items::scope_pk(&lease.scope);
        let input = json!({
            "TableName": &*self.table,
            "Key": items::key(&pk, items::LEASE_SK),
            "UpdateExpression": "SET #e = :e, #t = :t",
            "ConditionExpression": "#o = :o AND #e >= :now",
            "ExpressionAttributeNames": { "#e": "expires", "#t": "ttl", "#o": "owner" },
            "ExpressionAttributeValues": {
                ":e": n(expires_at.millis()), ":t": n(expires_at.plus(LEASE_CLEANUP).secs()),
                ":o": s(&lease.owner), ":now": n(now.millis()),
            },
        });
        match self.client.call("UpdateItem", input).await {
            Ok(_) => Ok(Lease {
                expires_at,
                ..lease.clone()
            }),
            Err(e) if is_condition_failed(&e) => Err(self.holder(&lease.scope, &pk, &action).await),
            Err(e) => Err(self.error(action(), e)),
        }
    }

    /// Gives the lease back. `false` when it was no longer this owner's (expired and taken
    /// over, or already released): nothing is deleted then.
    pub async fn release_lease(&self, lease: &Lease) -> Result<bool, StateError> {
        let action = || format!("release the lease of scope {}", lease.scope);
        let pk = items::scope_pk(&lease.scope);
        let input = json!({
            "TableName": &*self.table,
            "Key": items::key(&pk, items::LEASE_SK),
            "ConditionExpression": "#o = :o",
            "ExpressionAttributeNames": { "#o": "owner" },
            "ExpressionAttributeValues": { ":o": s(&lease.owner) },
        });
        match self.client.call("DeleteItem", input).await {
            Ok(_) => Ok(true),
            Err(e) if is_condition_failed(&e) => Ok(false),
            Err(e) => Err(self.error(action(), e)),
        }
    }
}
