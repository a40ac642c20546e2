//! A targeted refresh `(account, region, kind, ids)`: what a live event becomes. The kind's
//! refresh ([`crate::kinds::LiveSpec::refresh`]) re-reads exactly those resources from AWS with
//! the account's role; what exists is mapped with the mapping of a full sync (selectors
//! included) and upserted with the scope's `$datasource` User-Agent, skipping what the sync
//! state vouches for; the entities of resources AWS confirms are gone are deleted, but only
//! those a Port search limited to their identifiers finds among this installation's entities
//! in the scope. The scope's lease is held throughout, as a unit holds it, and the sync state
//! records what Port confirmed (upserts, deletions), so a later full sync neither rewrites nor
//! resurrects anything.
//!
//! A refresh never deletes an entity because AWS did not answer, or because the refreshed
//! object is no longer selected: only a resource AWS itself reports gone (not found,
//! terminated, deleted) loses its entities.

use crate::deletion::from_state::confirmation_query;
use crate::deletion::Cleanup;
use crate::kinds::FetchError;
use crate::mapping::Entity;
use crate::state::EntityKey;
use crate::sync::engine::Engine;
use crate::sync::plan::Unit;
use crate::sync::sink::Sink;
use crate::sync::state_sync::ScopeSession;
use crate::sync::unit::UnitAccess;
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;
use tokio::sync::mpsc;

/// Resources of one scope to re-read.
#[derive(Debug, Clone)]
pub struct Refresh {
    pub unit: Unit,
    /// The kind's resource ids (instance ids, bucket names, ...), without duplicates.
    pub ids: Vec<String>,
}

/// What one refresh did.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RefreshReport {
    pub label: String,
    pub ids: usize,
    /// Raw objects of resources that exist.
    pub fetched: usize,
    /// Resources AWS reports gone.
    pub gone: usize,
    pub upserted: usize,
    /// Entities not written because the sync state vouches for them.
    pub unchanged: usize,
    pub deleted: usize,
    pub map_errors: usize,
    pub port_failures: usize,
    pub api_calls: usize,
    pub duration_ms: u64,
    /// Why the refresh must be retried (AWS, Port or the sync state failed); `None` when done.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl RefreshReport {
    /// Whether the refresh is done (its events need no retry).
    pub fn ok(&self) -> bool {
        self.error.is_none()
    }

    fn fail(&mut self, reason: String) {
        if self.error.is_none() {
            self.error = Some(reason);
        }
    }
}

/// Runs one refresh; never panics on AWS or Port errors (they are in the report).
pub async fn run_refresh(engine: &Engine, sink: &Sink, refresh: &Refresh) -> RefreshReport {
    let started = Instant::now();
    let unit = &refresh.unit;
    let mut report = RefreshReport {
        label: unit.label(),
        ids: refresh.ids.len(),
        ..Default::default()
    };
    let Some(spec) = unit.kind.spec().and_then(|s| s.live) else {
        report.fail(format!("{} does not follow live events", unit.kind));
        return report;
    };
    let mut state = match sink.state() {
        None => None,
        Some((sync, options)) => match sync.begin(unit, options).await {
            Ok(session) => Some(session),
            Err(e) => {
                report.fail(format!("the sync state is not available: {e}"));
                report.duration_ms = started.elapsed().as_millis() as u64;
                return report;
            }
        },
    };
    let access = match UnitAccess::open(engine, unit).await {
        Ok(access) => access,
        Err(e) => {
            report.fail(format!("the account could not be reached: {e}"));
            finish(state, &mut report, started).await;
            return report;
        }
    };
    let ctx = access.context(engine, unit);
    let (tx, mut rx) = mpsc::channel::<Vec<Value>>(2);
    let fetch = async {
        let tx = tx;
        (spec.refresh)(&ctx, &refresh.ids, &tx).await
    };
    let mut produced: BTreeSet<EntityKey> = BTreeSet::new();
    let consume = async {
        let mut writer = Writer {
            engine,
            unit,
            sink,
            state: state.as_mut(),
            report: &mut report,
            produced: &mut produced,
        };
        while let Some(page) = rx.recv().await {
            writer.page(page).await;
        }
    };
    let (refreshed, ()) = tokio::join!(fetch, consume);
    match refreshed {
        Ok(refreshed) => {
            report.api_calls = refreshed.stats.api_calls;
            report.gone = refreshed.gone.len();
            let gone = gone_entities(engine, unit, &refreshed.gone, &produced);
            if !gone.is_empty() && report.ok() {
                if let Some(cleanup) = sink.cleanup() {
                    delete_gone(&cleanup, unit, gone, state.as_mut(), &mut report).await;
                }
            }
        }
        Err(FetchError::Unavailable(u)) => {
            tracing::info!(scope = %unit.label(), reason = %u, "refresh skipped: the service is not available");
        }
        Err(e) => report.fail(format!("re-reading the resources failed: {e}")),
    }
    finish(state, &mut report, started).await;
    report
}

/// Records what Port confirmed and releases the lease.
async fn finish(state: Option<ScopeSession>, report: &mut RefreshReport, started: Instant) {
    if let Some(session) = state {
        report.unchanged = session.unchanged;
        if let Err(e) = session.finish().await {
            report.fail(format!("recording the sync state failed: {e}"));
        }
    }
    report.duration_ms = started.elapsed().as_millis() as u64;
}

/// Maps and writes the pages of a refresh.
struct Writer<'a> {
    engine: &'a Engine,
    unit: &'a Unit,
    sink: &'a Sink,
    state: Option<&'a mut ScopeSession>,
    report: &'a mut RefreshReport,
    produced: &'a mut BTreeSet<EntityKey>,
}

impl Writer<'_> {
    async fn page(&mut self, page: Vec<Value>) {
        self.report.fetched += page.len();
        let mapped = self.engine.mapper.map_page(self.unit.kind, &page);
        drop(page);
        for err in mapped.errors {
            self.report.map_errors += 1;
            tracing::warn!(scope = %self.unit.label(), error = %err, "object could not be mapped");
        }
        for (blueprint, entities) in mapped.by_blueprint {
            self.produced.extend(
                entities
                    .iter()
                    .map(|e| (blueprint.clone(), e.identifier.clone())),
            );
            self.write(&blueprint, entities).await;
        }
    }

    /// One bulk upsert per blueprint of what the sync state does not vouch for.
    async fn write(&mut self, blueprint: &str, entities: Vec<Entity>) {
        match self
            .sink
            .write_unvouched(self.unit, self.state.as_deref_mut(), blueprint, entities)
            .await
        {
            Ok(None) => {}
            Ok(Some(written)) => {
                self.report.upserted += written.upserted.len();
                self.report.port_failures += written.failed.len();
                for f in written.failed {
                    tracing::warn!(scope = %self.unit.label(), blueprint = %f.blueprint, identifier = %f.identifier, status = ?f.status, message = %f.message, "Port did not accept an entity");
                }
            }
            Err(e) => self
                .report
                .fail(format!("writing entities of {blueprint} failed: {e}")),
        }
    }
}

/// The entities of the gone resources, per blueprint, minus any an existing resource of this
/// refresh produced.
fn gone_entities(
    engine: &Engine,
    unit: &Unit,
    gone: &[Value],
    produced: &BTreeSet<EntityKey>,
) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for raw in gone {
        for key in engine.mapper.identify(unit.kind, raw) {
            if !produced.contains(&key) {
                out.entry(key.0).or_default().push(key.1);
            }
        }
    }
    for ids in out.values_mut() {
        ids.sort();
        ids.dedup();
    }
    out
}

/// Deletes the entities of gone resources that Port holds as this installation's in the scope
/// (one search per blueprint limited to those identifiers), and forgets them in the state.
async fn delete_gone(
    cleanup: &Cleanup,
    unit: &Unit,
    gone: BTreeMap<String, Vec<String>>,
    mut state: Option<&mut ScopeSession>,
    report: &mut RefreshReport,
) {
    let ua = crate::port::user_agent(&cleanup.integration, &unit.account.id, &unit.region);
    for (blueprint, ids) in gone {
        let query = confirmation_query(&cleanup.integration, &unit.account.id, &unit.region, &ids);
        let found = match cleanup
            .client
            .search_entities(&blueprint, query, &["$identifier"])
            .await
        {
            Ok(found) => found,
            Err(e) if e.status().is_some_and(|s| s.as_u16() == 404) => Vec::new(),
            Err(e) => {
                report.fail(format!(
                    "confirming the entities of gone resources in {blueprint} failed: {e}"
                ));
                continue;
            }
        };
        let ours: Vec<String> = found
            .iter()
            .filter_map(|e| e.get("identifier").and_then(Value::as_str))
            .map(str::to_owned)
            .collect();
        let forget_absent = ids
            .iter()
            .filter(|id| !ours.contains(id))
            .map(|id| (blueprint.clone(), id.clone()));
        let forget_absent: Vec<EntityKey> = forget_absent.collect();
        if let Some(session) = state.as_deref_mut() {
            session.removed(forget_absent);
        }
        if ours.is_empty() {
            continue;
        }
        let (deleted, error) = cleanup.delete_in_batches(&blueprint, &ours, &ua).await;
        report.deleted += deleted;
        tracing::info!(scope = %unit.label(), blueprint = %blueprint, count = deleted, "deleted the entities of resources AWS reports gone");
        if let Some(e) = error {
            report.fail(format!("deleting entities of {blueprint} failed: {e}"));
            continue;
        }
        if deleted < ours.len() {
            tracing::warn!(scope = %unit.label(), blueprint = %blueprint, kept = ours.len() - deleted, "entities of gone resources kept: they have dependents and deleteDependentEntities is false");
        }
        if let Some(session) = state.as_deref_mut() {
            // What Port deleted; whatever it refused stays recorded (the next sync decides).
            if deleted == ours.len() {
                session.removed(ours.into_iter().map(|id| (blueprint.clone(), id)));
            }
        }
    }
}
