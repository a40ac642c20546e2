//! Scope state in DynamoDB: the entity items of a scope and the installation's scope index.

use super::batch;
use super::client::DynamoStore;
use super::items;
use crate::state::error::StateError;
use crate::state::model::{ScopeChanges, ScopeKey, ScopeState, ScopeSummary, Timestamp};
use serde_json::json;
use std::collections::BTreeMap;

impl DynamoStore {
    /// Every record of `scope` (consistent reads, all pages).
    pub async fn read_scope(&self, scope: &ScopeKey) -> Result<ScopeState, StateError> {
        scope.validate()?;
        let action = || format!("read the state of scope {scope}");
        let found = self
            .query_all(&items::scope_pk(scope), Some(items::ENTITY_PREFIX), &action)
            .await?;
        let records = found
            .iter()
            .map(items::parse_entity)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|message| self.corrupt(action(), message))?;
        Ok(ScopeState::from_records(records))
    }

    /// Applies `changes` to `scope`, whose state before them is `base` (as read under the same
    /// lease). The index item, with counts derived from `base` and `changes`, is written before
    /// the entity items when the scope keeps records, and deleted after them when it becomes
    /// empty, so that a scope with entity items is always listed by [`Self::scopes`].
    pub async fn write_scope(
        &self,
        scope: &ScopeKey,
        base: &ScopeState,
        changes: ScopeChanges,
    ) -> Result<(), StateError> {
        scope.validate()?;
        changes.validate()?;
        let changes = changes.normalized();
        if changes.is_empty() {
            return Ok(());
        }
        let action = || format!("write the state of scope {scope}");
        let counts = base.counts_after(&changes);
        let now = Timestamp::now();
        let pk = items::scope_pk(scope);
        // Made chunk by chunk as they are written (a scope may hold thousands of records).
        let retention = self.options.retention;
        let put_pk = pk.clone();
        let puts = changes.upserted.into_iter().map(move |record| {
            let ttl = record.expires_at.plus(retention);
            batch::put(items::entity_item(&put_pk, &record, ttl))
        });
        let delete_pk = pk;
        let deletes = changes
            .removed
            .into_iter()
            .map(move |(blueprint, identifier)| {
                let sk = items::entity_sk(&blueprint, &identifier);
                batch::delete(items::key(&delete_pk, &sk))
            });
        let requests = puts.chain(deletes);
        if counts.is_empty() {
            self.write_batches(requests, &action).await?;
            self.delete_index(scope, &action).await
        } else {
            self.put_index(scope, &counts, now, &action).await?;
            self.write_batches(requests, &action).await
        }
    }

    /// The scopes of `installation` that have state, with their per-blueprint counts.
    pub async fn scopes(&self, installation: &str) -> Result<Vec<ScopeSummary>, StateError> {
        crate::state::model::check_part("installation", installation)?;
        let action = || format!("list the scopes of installation {installation}");
        let found = self
            .query_all(&items::scopes_pk(installation), None, &action)
            .await?;
        let mut out = found
            .iter()
            .map(|item| items::parse_summary(installation, item))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|message| self.corrupt(action(), message))?;
        out.sort_by(|a, b| a.scope.cmp(&b.scope));
        Ok(out)
    }

    /// Deletes every record of `scope` and its index item (the scope is gone and its entities
    /// were deleted from Port, or the state is to be rebuilt).
    pub async fn forget_scope(&self, scope: &ScopeKey) -> Result<(), StateError> {
        let base = self.read_scope(scope).await?;
        let action = || format!("forget the state of scope {scope}");
        let pk = items::scope_pk(scope);
        let requests = base
            .records()
            .map(|r| {
                batch::delete(items::key(
                    &pk,
                    &items::entity_sk(&r.blueprint, &r.identifier),
                ))
            })
            .collect::<Vec<_>>();
        self.write_batches(requests, &action).await?;
        self.delete_index(scope, &action).await
    }

    async fn put_index(
        &self,
        scope: &ScopeKey,
        counts: &BTreeMap<String, u64>,
        now: Timestamp,
        action: &(dyn Fn() -> String + Sync),
    ) -> Result<(), StateError> {
        // Outlives every entity item of the scope: those expire at most max_age after `now`
        // (callers use expiry policies shorter than the retention).
        let ttl = now.plus(self.options.retention.saturating_mul(2));
        let item = items::index_item(scope, counts, now, ttl);
        let input = json!({ "TableName": &*self.table, "Item": item });
        self.call("PutItem", input, &action).await.map(drop)
    }

    async fn delete_index(
        &self,
        scope: &ScopeKey,
        action: &(dyn Fn() -> String + Sync),
    ) -> Result<(), StateError> {
        let key = items::key(&items::scopes_pk(&scope.installation), &scope.index_key());
        let input = json!({ "TableName": &*self.table, "Key": key });
        self.call("DeleteItem", input, &action).await.map(drop)
    }
}
