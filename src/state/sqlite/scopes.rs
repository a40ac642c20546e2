//! Scope state in SQLite: `entities` rows keyed by `(scope, blueprint, identifier)`, and a
//! `scopes` row per scope that has records (the scope index; counts are computed by query).

use super::conn::SqliteStore;
use crate::state::error::StateError;
use crate::state::fingerprint::Fingerprint;
use crate::state::model::{
    check_part, EntityRecord, ScopeChanges, ScopeKey, ScopeState, ScopeSummary, Timestamp,
};
use rusqlite::{params, Transaction};
use std::collections::BTreeMap;

impl SqliteStore {
    /// Every record of `scope`.
    pub async fn read_scope(&self, scope: &ScopeKey) -> Result<ScopeState, StateError> {
        scope.validate()?;
        let key = scope.storage_key();
        let rows = self
            .read(format!("read the state of scope {scope}"), move |tx| {
                let mut stmt = tx.prepare_cached(
                    "SELECT blueprint, identifier, fingerprint, written_at, expires_at
                     FROM entities WHERE scope = ?1",
                )?;
                let rows = stmt.query_map([&key], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, i64>(3)?,
                        r.get::<_, i64>(4)?,
                    ))
                })?;
                rows.collect::<rusqlite::Result<Vec<_>>>()
            })
            .await?;
        let mut records = Vec::with_capacity(rows.len());
        for (blueprint, identifier, fp, written, expires) in rows {
            let fingerprint = Fingerprint::from_hex(&fp).ok_or_else(|| StateError::Corrupt {
                action: format!("read the state of scope {scope}"),
                location: self.location(),
                message: format!("fingerprint {fp} is not 32 hex digits"),
            })?;
            records.push(EntityRecord {
                blueprint,
                identifier,
                fingerprint,
                written_at: Timestamp::from_millis(written),
                expires_at: Timestamp::from_millis(expires),
            });
        }
        Ok(ScopeState::from_records(records))
    }

    /// Applies `changes` to `scope` in one transaction. `base` is not needed here (the counts
    /// are queried); it is taken for the same signature as the DynamoDB backend.
    pub async fn write_scope(
        &self,
        scope: &ScopeKey,
        _base: &ScopeState,
        changes: ScopeChanges,
    ) -> Result<(), StateError> {
        scope.validate()?;
        changes.validate()?;
        let changes = changes.normalized();
        if changes.is_empty() {
            return Ok(());
        }
        let scope_owned = scope.clone();
        self.transaction(format!("write the state of scope {scope}"), move |tx| {
            apply_changes(tx, &scope_owned, &changes)
        })
        .await
    }

    /// The scopes of `installation` that have state, with their per-blueprint counts.
    pub async fn scopes(&self, installation: &str) -> Result<Vec<ScopeSummary>, StateError> {
        check_part("installation", installation)?;
        let inst = installation.to_owned();
        let rows = self
            .read(
                format!("list the scopes of installation {installation}"),
                move |tx| {
                    let mut stmt = tx.prepare_cached(
                        "SELECT s.account_id, s.region, s.kind, s.updated_at, e.blueprint, count(*)
                     FROM scopes s JOIN entities e ON e.scope = s.scope
                     WHERE s.installation = ?1 GROUP BY s.scope, e.blueprint",
                    )?;
                    let rows = stmt.query_map([&inst], |r| {
                        Ok((
                            ScopeKey::new(
                                inst.clone(),
                                r.get::<_, String>(0)?,
                                r.get::<_, String>(1)?,
                                r.get::<_, String>(2)?,
                            ),
                            r.get::<_, i64>(3)?,
                            r.get::<_, String>(4)?,
                            r.get::<_, i64>(5)?,
                        ))
                    })?;
                    rows.collect::<rusqlite::Result<Vec<_>>>()
                },
            )
            .await?;
        let mut by_scope: BTreeMap<ScopeKey, ScopeSummary> = BTreeMap::new();
        for (scope, updated, blueprint, count) in rows {
            let summary = by_scope
                .entry(scope.clone())
                .or_insert_with(|| ScopeSummary {
                    scope,
                    counts: BTreeMap::new(),
                    updated_at: Timestamp::from_millis(updated),
                });
            summary
                .counts
                .insert(blueprint, u64::try_from(count).unwrap_or(0));
        }
        Ok(by_scope.into_values().collect())
    }

    /// Deletes every record of `scope` and its index row.
    pub async fn forget_scope(&self, scope: &ScopeKey) -> Result<(), StateError> {
        scope.validate()?;
        let key = scope.storage_key();
        self.transaction(format!("forget the state of scope {scope}"), move |tx| {
            tx.execute("DELETE FROM entities WHERE scope = ?1", [&key])?;
            tx.execute("DELETE FROM scopes WHERE scope = ?1", [&key])?;
            Ok(())
        })
        .await
    }
}

fn apply_changes(
    tx: &Transaction<'_>,
    scope: &ScopeKey,
    changes: &ScopeChanges,
) -> rusqlite::Result<()> {
    let key = scope.storage_key();
    {
        let mut delete = tx.prepare_cached(
            "DELETE FROM entities WHERE scope = ?1 AND blueprint = ?2 AND identifier = ?3",
        )?;
        for (blueprint, identifier) in &changes.removed {
            delete.execute(params![key, blueprint, identifier])?;
        }
        let mut upsert = tx.prepare_cached(
            "INSERT INTO entities (scope, blueprint, identifier, fingerprint, written_at, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (scope, blueprint, identifier) DO UPDATE SET
               fingerprint = excluded.fingerprint, written_at = excluded.written_at,
               expires_at = excluded.expires_at",
        )?;
        for r in &changes.upserted {
            upsert.execute(params![
                key,
                r.blueprint,
                r.identifier,
                r.fingerprint.as_str(),
                r.written_at.millis(),
                r.expires_at.millis()
            ])?;
        }
    }
    let remaining: i64 = tx.query_row(
        "SELECT count(*) FROM entities WHERE scope = ?1",
        [&key],
        |r| r.get(0),
    )?;
    if remaining == 0 {
        tx.execute("DELETE FROM scopes WHERE scope = ?1", [&key])?;
    } else {
        tx.execute(
            "INSERT INTO scopes (scope, installation, account_id, region, kind, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (scope) DO UPDATE SET updated_at = excluded.updated_at",
            params![
                key,
                scope.installation,
                scope.account_id,
                scope.region,
                scope.kind,
                Timestamp::now().millis()
            ],
        )?;
    }
    Ok(())
}
