//! The sync state inside one unit: take the scope's lease, read the scope's state once, write
//! to Port only the entities whose fingerprint is new, changed or expired, and, once the unit is
//! over, record what Port confirmed (upserts, and deletions decided by
//! [`crate::deletion::from_state`]) and release the lease. See `docs/architecture.md` ("Sync
//! state") and [`crate::state`].
//!
//! A unit that produced nothing and has no state costs no Port request: its only calls are the
//! lease and one read of its (empty) scope.

use crate::aws::api::{ApiOptions, AwsApi};
use crate::config::StateConfig;
use crate::mapping::Entity;
use crate::port::UpsertOptions;
use crate::state::{
    fingerprint_entity, EntityKey, EntityRecord, ExpiryPolicy, Fingerprint, Lease, LeaseHeld,
    ScopeChanges, ScopeKey, ScopeState, StateError, StateStore, StoreOptions, Timestamp,
};
use crate::sync::plan::Unit;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Default lease of a scope: longer than the worker Lambda's timeout (15 minutes at most), so a
/// live holder never loses it even if a renewal fails; a crashed holder's scope is free again
/// after it.
pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(20 * 60);

/// The CLI's lease: renewed every 20 s while the unit runs, so a killed run frees its scopes
/// within a minute.
pub const CLI_LEASE_TTL: Duration = Duration::from_secs(60);

/// The state store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenStateError {
    #[error("there is no default place for the SQLite state file (neither XDG_STATE_HOME nor HOME is set): set STATE_PATH to a file, or STATE_TABLE to a DynamoDB table")]
    NoPath,
    #[error("the DynamoDB client for STATE_TABLE could not be made: {0}")]
    Client(#[source] Box<crate::aws::api::ApiError>),
    #[error("the HTTP client for STATE_TABLE could not be made: {0}")]
    Http(#[source] reqwest::Error),
    #[error(transparent)]
    Store(#[from] StateError),
}

/// Opens the state `config` names: the DynamoDB table `STATE_TABLE` ([`open_table`]), else the
/// SQLite file `STATE_PATH` or its default. The CLI's way; the Lambdas call [`open_table`]
/// only, so that their binaries do not link SQLite.
pub async fn open_store(
    config: &StateConfig,
    base: &aws_config::SdkConfig,
) -> Result<StateStore, OpenStateError> {
    if let Some(table) = &config.table {
        return open_table(table, base);
    }
    let path = match &config.path {
        Some(path) => path.clone(),
        None => crate::state::sqlite::default_path_from_env().ok_or(OpenStateError::NoPath)?,
    };
    Ok(StateStore::sqlite(path, StoreOptions::default()).await?)
}

/// The DynamoDB state table `table`, through the model-driven client, in the base config's
/// region.
pub fn open_table(table: &str, base: &aws_config::SdkConfig) -> Result<StateStore, OpenStateError> {
    let api = AwsApi::new(ApiOptions::default()).map_err(OpenStateError::Http)?;
    let region = base.region().map_or("us-east-1", |r| r.as_ref());
    let client = api
        .client("dynamodb", base, region)
        .map_err(|e| OpenStateError::Client(Box::new(e)))?;
    Ok(StateStore::dynamodb(
        client,
        table.to_owned(),
        StoreOptions::default(),
    ))
}

/// How units use the state: the store, the fingerprints' expiry and the lease length.
#[derive(Debug, Clone)]
pub struct StateSync {
    pub store: StateStore,
    /// `INTEGRATION_IDENTIFIER`: the installation part of every scope key.
    pub installation: String,
    pub expiry: ExpiryPolicy,
    pub lease_ttl: Duration,
}

impl StateSync {
    /// Units of `installation` over `store`, with records expiring after `max_age` (jittered).
    pub fn new(store: StateStore, installation: &str, max_age: Duration) -> StateSync {
        StateSync {
            store,
            installation: installation.to_owned(),
            expiry: ExpiryPolicy {
                max_age,
                ..ExpiryPolicy::default()
            },
            lease_ttl: DEFAULT_LEASE_TTL,
        }
    }

    /// The scope a unit owns.
    pub fn scope_of(&self, unit: &Unit) -> ScopeKey {
        ScopeKey::new(
            self.installation.clone(),
            unit.account.id.clone(),
            unit.region.clone(),
            unit.kind.to_string(),
        )
    }

    /// Takes the unit's scope lease and reads the scope's state. [`StateError::LeaseHeld`]
    /// when another worker syncs the scope (the unit fails and is retried later).
    pub async fn begin(
        &self,
        unit: &Unit,
        options: UpsertOptions,
    ) -> Result<ScopeSession, StateError> {
        let scope = self.scope_of(unit);
        scope.validate()?;
        let owner = format!("{}/{:08x}", unit.sync_id, fastrand::u32(..));
        let lease = self
            .store
            .acquire_lease(&scope, &owner, self.lease_ttl)
            .await?;
        let base = match self.store.read_scope(&scope).await {
            Ok(base) => base,
            Err(e) => {
                let _ = self.store.release_lease(&lease).await;
                return Err(e);
            }
        };
        Ok(ScopeSession {
            sync: self.clone(),
            scope,
            renewal: Renewal::start(self.store.clone(), lease, self.lease_ttl),
            base,
            changes: ScopeChanges::default(),
            unchanged: 0,
            now: Timestamp::now(),
            options: options_text(options),
        })
    }
}

/// The upsert options as fingerprinted: writing with other options writes again.
fn options_text(options: UpsertOptions) -> String {
    format!(
        "upsert=true&merge={}&create_missing_related_entities={}",
        options.merge, options.create_missing_related_entities
    )
}

/// Entities to write, with their fingerprints by identifier.
pub struct Selected {
    pub to_write: Vec<Entity>,
    pub fingerprints: HashMap<String, Fingerprint>,
}

/// One unit's state, under the scope's lease: the state read at the start (`base`) and the
/// changes Port confirmed since.
#[derive(Debug)]
pub struct ScopeSession {
    sync: StateSync,
    pub scope: ScopeKey,
    renewal: Renewal,
    /// The scope's records as read under the lease.
    pub base: ScopeState,
    /// Port-confirmed upserts and deletions, recorded by [`ScopeSession::finish`].
    pub changes: ScopeChanges,
    /// Entities skipped because their record still vouches for them.
    pub unchanged: usize,
    now: Timestamp,
    options: String,
}

/// Extends a unit's lease every third of its TTL until the unit finishes (or its task is
/// aborted: the lease then expires on its own).
#[derive(Debug)]
struct Renewal {
    lease: Arc<Mutex<Lease>>,
    lost: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Renewal {
    fn start(store: StateStore, lease: Lease, ttl: Duration) -> Renewal {
        let lease = Arc::new(Mutex::new(lease));
        let lost = Arc::new(AtomicBool::new(false));
        let (held, flag) = (lease.clone(), lost.clone());
        let task = tokio::spawn(async move {
            loop {
                tokio::time::sleep(ttl / 3).await;
                let current = held.lock().unwrap_or_else(|p| p.into_inner()).clone();
                match store.renew_lease(&current, ttl).await {
                    Ok(renewed) => *held.lock().unwrap_or_else(|p| p.into_inner()) = renewed,
                    Err(e) => {
                        tracing::warn!(scope = %current.scope, error = %e, "the scope lease could not be extended: this unit's state will not be recorded");
                        flag.store(true, Ordering::SeqCst);
                        return;
                    }
                }
            }
        });
        Renewal { lease, lost, task }
    }

    /// Stops renewing; the lease as last held, or `None` when it was lost.
    fn stop(&self) -> Option<Lease> {
        self.task.abort();
        let lease = self.lease.lock().unwrap_or_else(|p| p.into_inner()).clone();
        (!self.lost.load(Ordering::SeqCst)).then_some(lease)
    }
}

impl Drop for Renewal {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl ScopeSession {
    /// Splits one blueprint's entities into those to write (no record, another fingerprint, or
    /// an expired record) and those skipped (counted in `unchanged`).
    pub fn select(&mut self, blueprint: &str, entities: Vec<Entity>) -> Selected {
        let mut selected = Selected {
            to_write: Vec::with_capacity(entities.len()),
            fingerprints: HashMap::new(),
        };
        for entity in entities {
            let fp = fingerprint_entity(&entity, &self.options);
            if self
                .base
                .needs_write(blueprint, &entity.identifier, &fp, self.now)
            {
                selected.fingerprints.insert(entity.identifier.clone(), fp);
                selected.to_write.push(entity);
            } else {
                self.unchanged += 1;
            }
        }
        selected
    }

    /// Records the entities Port confirmed (a 207's refused entities are not among them).
    pub fn confirmed(&mut self, blueprint: &str, upserted: &[String], selected: &Selected) {
        let written_at = Timestamp::now();
        for id in upserted {
            if let Some(fp) = selected.fingerprints.get(id) {
                self.changes.upserted.push(EntityRecord {
                    blueprint: blueprint.to_owned(),
                    identifier: id.clone(),
                    fingerprint: fp.clone(),
                    written_at,
                    expires_at: self.sync.expiry.expires_at(written_at),
                });
            }
        }
    }

    /// Entities this installation holds in the scope now: the records read at the start and the
    /// entities Port confirmed since (the deletion threshold's denominator).
    pub fn owned(&self) -> usize {
        let mut keys: std::collections::BTreeSet<EntityKey> =
            self.base.records().map(EntityRecord::key).collect();
        keys.extend(self.changes.upserted.iter().map(EntityRecord::key));
        keys.len()
    }

    /// Records entities Port deleted, or that are no longer this installation's.
    pub fn removed(&mut self, keys: impl IntoIterator<Item = EntityKey>) {
        self.changes.removed.extend(keys);
    }

    /// Writes the confirmed changes and releases the lease (also when the write failed: the next
    /// run rewrites what is unrecorded and deletes again what is still recorded).
    pub async fn finish(self) -> Result<(), StateError> {
        let store = &self.sync.store;
        let Some(lease) = self.renewal.stop() else {
            // Another worker may own the scope: what this one wrote is rewritten by a later
            // run rather than recorded over the new holder's state.
            return Err(LeaseHeld {
                scope: self.scope.clone(),
                owner: None,
                expires_at: None,
            }
            .into());
        };
        let written = if self.changes.is_empty() {
            Ok(())
        } else {
            store
                .write_scope(&self.scope, &self.base, self.changes.clone())
                .await
        };
        if let Err(e) = store.release_lease(&lease).await {
            tracing::warn!(scope = %self.scope, error = %e, "releasing the scope lease failed: it expires on its own");
        }
        written
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upsert_options_change_the_fingerprinted_text() {
        let a = options_text(UpsertOptions::default());
        let b = options_text(UpsertOptions {
            merge: false,
            create_missing_related_entities: true,
        });
        assert_ne!(a, b);
        assert!(a.contains("merge=true"), "{a}");
    }
}
