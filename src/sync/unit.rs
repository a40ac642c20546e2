//! Running one unit `(account, region, kind)`: reach the account, fetch page by page, map, write,
//! then (Port only, and only after a clean unit) delete this scope's stale entities.

use crate::aws::in_region;
use crate::config::RegionPolicy;
use crate::kinds::{self, account_info, FetchContext, FetchError, Kind};
use crate::mapping::{Entity, MapError};
use crate::port::{EntityFailure, PortError};
use crate::sync::engine::Engine;
use crate::sync::plan::{Unit, GLOBAL};
use crate::sync::sink::Sink;
use aws_sdk_ec2::primitives::{DateTime, DateTimeFormat};
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Instant, SystemTime};
use tokio::sync::mpsc;

/// Detailed failures kept per unit (counts are always complete).
const MAX_DETAILS: usize = 20;

/// What happened to stale entities of the unit's scope.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Deletion {
    /// Entities deleted, per blueprint.
    pub deleted: BTreeMap<String, usize>,
    /// Stale entities kept, and why (a guard tripped, the unit was incomplete, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kept_reason: Option<String>,
    pub kept: usize,
}

/// The outcome of one unit.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UnitReport {
    pub account_id: String,
    pub region: String,
    pub kind: Kind,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Raw objects fetched.
    pub fetched: usize,
    /// Entities produced by the mapping, per blueprint.
    pub entities: BTreeMap<String, usize>,
    /// Entities written (upserted to Port, or written by a dry run).
    pub upserted: usize,
    pub port_failure_count: usize,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub port_failures: Vec<EntityFailure>,
    pub map_error_count: usize,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub map_errors: Vec<MapError>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deletion: Option<Deletion>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    pub api_calls: usize,
    pub duration_ms: u64,
}

impl UnitReport {
    fn new(unit: &Unit) -> UnitReport {
        UnitReport {
            account_id: unit.account.id.clone(),
            region: unit.region.clone(),
            kind: unit.kind,
            ok: true,
            reason: None,
            fetched: 0,
            entities: BTreeMap::new(),
            upserted: 0,
            port_failure_count: 0,
            port_failures: Vec::new(),
            map_error_count: 0,
            map_errors: Vec::new(),
            deletion: None,
            warnings: Vec::new(),
            api_calls: 0,
            duration_ms: 0,
        }
    }

    /// A unit that failed before doing anything.
    pub fn failed(unit: &Unit, reason: impl Into<String>) -> UnitReport {
        let mut r = UnitReport::new(unit);
        r.fail(reason.into());
        r
    }

    fn fail(&mut self, reason: String) {
        self.ok = false;
        self.reason = Some(match self.reason.take() {
            None => reason,
            Some(prev) => format!("{prev}; {reason}"),
        });
    }

    /// `account/region/kind`.
    pub fn label(&self) -> String {
        format!("{}/{}/{}", self.account_id, self.region, self.kind)
    }
}

struct Progress<'a> {
    engine: &'a Engine,
    unit: &'a Unit,
    sink: &'a Sink,
    report: UnitReport,
    produced: BTreeMap<String, BTreeSet<String>>,
}

impl Progress<'_> {
    async fn page(&mut self, page: Vec<Value>) {
        self.report.fetched += page.len();
        if self.sink.wants_raw() {
            if let Err(e) = self.sink.write_raw(&page) {
                self.report.fail(format!("writing raw objects failed: {e}"));
            } else {
                self.report.upserted += page.len();
            }
            return;
        }
        let mut by_blueprint: BTreeMap<String, Vec<Entity>> = BTreeMap::new();
        for raw in &page {
            let mapped = self.engine.mapper.map(self.unit.kind, raw);
            for err in mapped.errors {
                self.report.map_error_count += 1;
                tracing::warn!(unit = %self.unit.label(), error = %err, "object could not be mapped");
                if self.report.map_errors.len() < MAX_DETAILS {
                    self.report.map_errors.push(err);
                }
            }
            for e in mapped.entities {
                by_blueprint.entry(e.blueprint.clone()).or_default().push(e);
            }
        }
        for (blueprint, entities) in by_blueprint {
            *self.report.entities.entry(blueprint.clone()).or_default() += entities.len();
            self.produced
                .entry(blueprint.clone())
                .or_default()
                .extend(entities.iter().map(|e| e.identifier.clone()));
            match self
                .sink
                .write_entities(self.unit, &blueprint, &entities)
                .await
            {
                Ok(written) => {
                    self.report.upserted += written.upserted.len();
                    self.report.port_failure_count += written.failed.len();
                    for f in written.failed {
                        tracing::warn!(unit = %self.unit.label(), blueprint = %f.blueprint, identifier = %f.identifier, status = ?f.status, message = %f.message, "Port did not accept an entity");
                        if self.report.port_failures.len() < MAX_DETAILS {
                            self.report.port_failures.push(f);
                        }
                    }
                }
                Err(e) => self.report.fail(format!("writing entities failed: {e}")),
            }
        }
    }
}

/// Runs one unit to completion and reports what it did. Never panics on AWS or Port errors.
pub async fn run_unit(
    engine: &Engine,
    unit: &Unit,
    sink: &Sink,
    policy: &RegionPolicy,
) -> UnitReport {
    let started = Instant::now();
    let started_at = SystemTime::now();
    let mut progress = Progress {
        engine,
        unit,
        sink,
        report: UnitReport::new(unit),
        produced: BTreeMap::new(),
    };
    let fetched = fetch_into(&mut progress, policy).await;
    let mut report = progress.report;
    match fetched {
        Ok(stats) => {
            report.api_calls += stats.api_calls;
            report.warnings.extend(stats.warnings);
        }
        Err(e) => report.fail(e),
    }
    if report.map_error_count > 0 {
        report.fail(format!(
            "{} object(s) could not be mapped",
            report.map_error_count
        ));
    }
    if report.port_failure_count > 0 {
        report.fail(format!(
            "Port refused {} entit(ies)",
            report.port_failure_count
        ));
    }
    if let Sink::Port { .. } = sink {
        report.deletion =
            Some(delete_stale(engine, unit, sink, &report, &progress.produced, started_at).await);
    }
    report.duration_ms = started.elapsed().as_millis() as u64;
    report
}

async fn fetch_into(
    progress: &mut Progress<'_>,
    policy: &RegionPolicy,
) -> Result<kinds::FetchStats, String> {
    let engine = progress.engine;
    let unit = progress.unit;
    let account = &unit.account;
    let sdk = engine
        .sessions
        .config_for(account.role_arn.as_deref(), &account.partition)
        .await
        .map_err(|e| e.to_string())?;
    if unit.kind == Kind::AccountInfo {
        progress
            .page(vec![account_info::account_to_raw(account)])
            .await;
        return Ok(kinds::FetchStats::default());
    }
    let sdk = if unit.region == GLOBAL {
        sdk
    } else {
        in_region(&sdk, &unit.region)
    };
    let actions = engine.mapper.include_actions(unit.kind);
    let mapper = engine.mapper.clone();
    let kind = unit.kind;
    let policy = policy.clone();
    let region_allowed = move |r: &str| policy.allows(r) && mapper.region_wanted(kind, r);
    let ctx = FetchContext {
        account_id: &account.id,
        partition: &account.partition,
        region: &unit.region,
        sdk: &sdk,
        actions: &actions,
        region_allowed: &region_allowed,
        concurrency: engine.config.concurrency.per_unit_calls,
    };
    let (tx, mut rx) = mpsc::channel::<Vec<Value>>(2);
    let fetch = async {
        let tx = tx;
        kinds::fetch(unit.kind, &ctx, &tx).await
    };
    let consume = async {
        while let Some(page) = rx.recv().await {
            progress.page(page).await;
        }
    };
    let (result, ()) = tokio::join!(fetch, consume);
    result.map_err(|e: FetchError| e.to_string())
}

/// The search rule selecting what this installation wrote in one scope.
pub fn owned_scope_query(integration: &str, account_id: &str, region: &str) -> Value {
    json!({"combinator": "and", "rules": [
        {"property": "$datasource", "operator": "beginsWith", "value": crate::port::datasource_prefix()},
        {"property": "$datasource", "operator": "endsWith",
         "value": format!("(integration/{integration}; account/{account_id}; region/{region})")},
    ]})
}

async fn delete_stale(
    engine: &Engine,
    unit: &Unit,
    sink: &Sink,
    report: &UnitReport,
    produced: &BTreeMap<String, BTreeSet<String>>,
    started_at: SystemTime,
) -> Deletion {
    let Sink::Port {
        client,
        integration,
        delete_dependents,
        deletion_threshold,
        ..
    } = sink
    else {
        return Deletion::default();
    };
    let kept = |reason: String| Deletion {
        kept_reason: Some(reason),
        ..Default::default()
    };
    if !report.ok {
        return kept("the unit did not complete cleanly, so nothing was deleted".into());
    }
    let Some(blueprints) = engine.mapper.blueprints(unit.kind) else {
        return kept("a blueprint of this kind is computed per object, so stale entities cannot be scoped safely".into());
    };
    let query = owned_scope_query(integration, &unit.account.id, &unit.region);
    let started = DateTime::from(started_at);
    let mut stale: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut owned_total = 0usize;
    for blueprint in &blueprints {
        let owned = match client
            .search_entities(blueprint, query.clone(), &["$identifier", "$updatedAt"])
            .await
        {
            Ok(owned) => owned,
            Err(PortError::Api { status, .. }) if status.as_u16() == 404 => continue,
            Err(e) => return kept(format!("listing owned entities of {blueprint} failed: {e}")),
        };
        owned_total += owned.len();
        let empty = BTreeSet::new();
        let mine = produced.get(blueprint).unwrap_or(&empty);
        for entity in owned {
            let Some(id) = entity.get("identifier").and_then(Value::as_str) else {
                continue;
            };
            // An entity written after this unit began (e.g. by an overlapping run) is not stale.
            let updated_after_start = entity
                .get("updatedAt")
                .and_then(Value::as_str)
                .and_then(|s| DateTime::from_str(s, DateTimeFormat::DateTimeWithOffset).ok())
                .is_some_and(|t| t >= started);
            if !mine.contains(id) && !updated_after_start {
                stale
                    .entry(blueprint.clone())
                    .or_default()
                    .push(id.to_owned());
            }
        }
    }
    let stale_count: usize = stale.values().map(Vec::len).sum();
    if stale_count == 0 {
        return Deletion::default();
    }
    let share = stale_count as f64 / owned_total.max(1) as f64;
    if share > *deletion_threshold {
        let reason = format!(
            "{stale_count} of {owned_total} entities in this scope would be deleted ({:.0}%), above entityDeletionThreshold {:.0}%: kept (check the role's permissions)",
            share * 100.0,
            deletion_threshold * 100.0
        );
        tracing::warn!(unit = %unit.label(), stale = stale_count, owned = owned_total, "deletion threshold tripped");
        return Deletion {
            kept: stale_count,
            kept_reason: Some(reason),
            ..Default::default()
        };
    }
    let ua = crate::port::user_agent(integration, &unit.account.id, &unit.region);
    let mut deletion = Deletion::default();
    for (blueprint, ids) in stale {
        match client
            .delete_entities(&blueprint, &ids, *delete_dependents, &ua)
            .await
        {
            Ok(deleted) => {
                tracing::info!(unit = %unit.label(), blueprint = %blueprint, count = deleted.len(), "deleted stale entities");
                let refused = ids.iter().filter(|id| !deleted.contains(id)).count();
                if refused > 0 && !*delete_dependents {
                    deletion.kept += refused;
                    deletion.kept_reason = Some(format!(
                        "{refused} stale entit(ies) of {blueprint} were not deleted: they have dependents and deleteDependentEntities is false"
                    ));
                }
                deletion.deleted.insert(blueprint, deleted.len());
            }
            Err(e) => {
                deletion.kept += ids.len();
                deletion.kept_reason = Some(format!(
                    "deleting stale entities of {blueprint} failed: {e}"
                ));
            }
        }
    }
    deletion
}
