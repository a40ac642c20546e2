//! Running one unit `(account, region, kind)`: reach the account, fetch page by page, map, write,
//! then (Port only, and only after a clean unit) delete this scope's stale entities.

use crate::aws::in_region;
use crate::deletion::from_state::delete_recorded;
use crate::deletion::per_unit::{delete_stale, kept_incomplete};
use crate::deletion::{Cleanup, CompleteUnit, Completeness, Deletion, IncompleteReason};
use crate::kinds::{self, FetchContext, FetchError, Kind, UnitParts};
use crate::mapping::{Entity, MapError};
use crate::port::EntityFailure;
use crate::state::StateError;
use crate::sync::engine::Engine;
use crate::sync::plan::{configured_kinds, Unit, GLOBAL};
use crate::sync::sink::Sink;
use crate::sync::state_sync::ScopeSession;
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Instant, SystemTime};
use tokio::sync::mpsc;

/// Detailed failures kept per unit (counts are always complete).
const MAX_DETAILS: usize = 20;

/// The outcome of one unit.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UnitReport {
    pub account_id: String,
    pub region: String,
    pub kind: Kind,
    /// Complete, or why not (serialised as `ok` and `reason`).
    #[serde(flatten)]
    pub outcome: Completeness,
    /// Raw objects fetched.
    pub fetched: usize,
    /// Entities produced by the mapping, per blueprint.
    pub entities: BTreeMap<String, usize>,
    /// Entities written (upserted to Port, or written by a dry run).
    pub upserted: usize,
    /// Entities not written because the sync state vouches for them (unchanged, not expired).
    pub unchanged: usize,
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
            outcome: Completeness::Complete,
            fetched: 0,
            entities: BTreeMap::new(),
            upserted: 0,
            unchanged: 0,
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
    pub fn failed(unit: &Unit, reason: IncompleteReason) -> UnitReport {
        let mut r = UnitReport::new(unit);
        r.outcome.fail(reason);
        r
    }

    /// Whether the unit completed (fetched, mapped and wrote everything).
    pub fn ok(&self) -> bool {
        self.outcome.is_ok()
    }

    /// Why the unit did not complete (the reasons joined with `; `).
    pub fn reason(&self) -> Option<String> {
        self.outcome.reason()
    }

    fn fail(&mut self, reason: IncompleteReason) {
        self.outcome.fail(reason);
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
    /// The scope's sync state, under its lease (a Port sink with state).
    state: Option<ScopeSession>,
}

impl Progress<'_> {
    async fn page(&mut self, page: Vec<Value>) {
        self.report.fetched += page.len();
        if self.sink.wants_raw() {
            if let Err(e) = self.sink.write_raw(&page) {
                self.report.fail(IncompleteReason::Write(format!(
                    "writing raw objects failed: {e}"
                )));
            } else {
                self.report.upserted += page.len();
            }
            return;
        }
        let mapped = self.engine.mapper.map_page(self.unit.kind, &page);
        drop(page);
        for err in mapped.errors {
            self.report.map_error_count += 1;
            tracing::warn!(unit = %self.unit.label(), error = %err, "object could not be mapped");
            if self.report.map_errors.len() < MAX_DETAILS {
                self.report.map_errors.push(err);
            }
        }
        for (blueprint, entities) in mapped.by_blueprint {
            *self.report.entities.entry(blueprint.clone()).or_default() += entities.len();
            self.produced
                .entry(blueprint.clone())
                .or_default()
                .extend(entities.iter().map(|e| e.identifier.clone()));
            self.write(&blueprint, entities).await;
        }
    }

    /// Writes one blueprint's entities of a page; with the sync state, only those whose record
    /// does not vouch for them (the rest make no request).
    async fn write(&mut self, blueprint: &str, entities: Vec<Entity>) {
        match self
            .sink
            .write_unvouched(self.unit, self.state.as_mut(), blueprint, entities)
            .await
        {
            Ok(None) => {}
            Ok(Some(written)) => {
                self.report.upserted += written.upserted.len();
                self.report.port_failure_count += written.failed.len();
                for f in written.failed {
                    tracing::warn!(unit = %self.unit.label(), blueprint = %f.blueprint, identifier = %f.identifier, status = ?f.status, message = %f.message, "Port did not accept an entity");
                    if self.report.port_failures.len() < MAX_DETAILS {
                        self.report.port_failures.push(f);
                    }
                }
            }
            Err(e) => self.report.fail(IncompleteReason::Write(format!(
                "writing entities failed: {e}"
            ))),
        }
    }
}

/// Runs one unit to completion and reports what it did. Never panics on AWS or Port errors.
pub async fn run_unit(engine: &Engine, unit: &Unit, sink: &Sink) -> UnitReport {
    let started = Instant::now();
    // Sync state: the scope's lease and state, before anything is fetched.
    let state = match sink.state() {
        None => None,
        Some((sync, options)) => match sync.begin(unit, options).await {
            Ok(session) => Some(session),
            Err(e) => return state_failed(unit, e, started),
        },
    };
    let mut progress = Progress {
        engine,
        unit,
        sink,
        report: UnitReport::new(unit),
        produced: BTreeMap::new(),
        state,
    };
    // Large pages are bounded across units: see `crate::memory`.
    let fetched = engine.pages.scope(fetch_into(&mut progress)).await;
    let mut report = progress.report;
    match fetched {
        Ok(stats) => {
            report.api_calls += stats.api_calls;
            if !stats.warnings.is_empty() {
                report.fail(IncompleteReason::Warnings(stats.warnings.len()));
            }
            report.warnings.extend(stats.warnings);
        }
        Err(FetchFailure::Skipped(reason)) => {
            tracing::info!(unit = %unit.label(), %reason, "unit skipped: the service is not available");
            report.outcome.skip(reason);
        }
        Err(FetchFailure::Incomplete(reason)) => report.fail(reason),
    }
    if report.map_error_count > 0 {
        report.fail(IncompleteReason::Unmapped(report.map_error_count));
    }
    if report.port_failure_count > 0 {
        report.fail(IncompleteReason::Refused(report.port_failure_count));
    }
    let mut state = progress.state;
    if let Some(cleanup) = sink.cleanup() {
        // When the unit started on Port's clock (which stamps `$updatedAt`): read now, when
        // Port has answered this unit's writes, less the time the unit took.
        let started_at = sink.now() - started.elapsed();
        let deletion = delete_after(
            engine,
            unit,
            &cleanup,
            &report.outcome,
            &progress.produced,
            started_at,
            state.as_mut(),
        )
        .await;
        report.deletion = Some(deletion);
    }
    if let Some(session) = state {
        record_state(session, &mut report).await;
    }
    report.duration_ms = started.elapsed().as_millis() as u64;
    report
}

/// Sync state after the unit: records what Port confirmed and releases the lease; a failure to
/// record fails the unit (the next run writes again).
async fn record_state(session: ScopeSession, report: &mut UnitReport) {
    report.unchanged = session.unchanged;
    if let Err(e) = session.finish().await {
        tracing::warn!(unit = %report.label(), error = %e, "recording the sync state failed: the next run writes again");
        report.fail(IncompleteReason::Write(format!(
            "recording the sync state failed: {e}"
        )));
    }
}

/// A unit that could not take its scope's lease or read its state: nothing was fetched.
fn state_failed(unit: &Unit, e: StateError, started: Instant) -> UnitReport {
    tracing::warn!(unit = %unit.label(), error = %e, "unit not run: the sync state is not available");
    let mut report = UnitReport::failed(
        unit,
        IncompleteReason::Stopped(format!("the unit did not run: {e}")),
    );
    report.duration_ms = started.elapsed().as_millis() as u64;
    report
}

/// Stale-entity deletion after the unit: from the sync state when there is one, else by
/// searching Port; only with the proof of a complete unit.
async fn delete_after(
    engine: &Engine,
    unit: &Unit,
    cleanup: &Cleanup,
    outcome: &Completeness,
    produced: &BTreeMap<String, BTreeSet<String>>,
    started_at: SystemTime,
    state: Option<&mut ScopeSession>,
) -> Deletion {
    match CompleteUnit::prove(outcome, unit, produced, started_at) {
        Ok(complete) => {
            let configured = configured_kinds(&engine.config.kinds, &engine.mapper);
            match state {
                Some(session) => {
                    let decided = delete_recorded(
                        cleanup,
                        &engine.mapper,
                        &configured,
                        complete,
                        &session.base,
                        session.owned(),
                    )
                    .await;
                    session.removed(decided.forget);
                    decided.deletion
                }
                None => delete_stale(cleanup, &engine.mapper, &configured, complete).await,
            }
        }
        Err(_) if outcome.skipped().is_some() => Deletion::kept(
            cleanup,
            "the unit was skipped, so nothing was deleted".to_owned(),
        ),
        Err(reasons) => {
            let kept = kept_incomplete(cleanup, reasons);
            tracing::info!(unit = %unit.label(), reason = kept.kept_reason.as_deref().unwrap_or(""), "stale entities kept");
            kept
        }
    }
}

async fn fetch_into(progress: &mut Progress<'_>) -> Result<kinds::FetchStats, FetchFailure> {
    let engine = progress.engine;
    let unit = progress.unit;
    let access = UnitAccess::open(engine, unit)
        .await
        .map_err(|e| FetchFailure::Incomplete(IncompleteReason::Unreachable(e)))?;
    let ctx = access.context(engine, unit);
    let (tx, mut rx) = mpsc::channel::<Vec<Value>>(2);
    let fetch = async {
        let tx = tx;
        kinds::fetch(&ctx, &tx).await
    };
    let consume = async {
        while let Some(page) = rx.recv().await {
            progress.page(page).await;
        }
    };
    let (result, ()) = tokio::join!(fetch, consume);
    result.map_err(|e| match e {
        FetchError::Unavailable(u) => FetchFailure::Skipped(u.to_string()),
        e => FetchFailure::Incomplete(IncompleteReason::Fetch(e.to_string())),
    })
}

/// What a unit's fetch reaches AWS with: the account's session in the unit's region, the
/// model-driven client, and the optional actions the mapping enables for the kind.
pub struct UnitAccess<'e> {
    sdk: aws_config::SdkConfig,
    api: &'e crate::aws::api::AwsApi,
    actions: BTreeSet<String>,
}

impl<'e> UnitAccess<'e> {
    /// Opens the unit's account session; an error says why the account cannot be reached.
    pub async fn open(engine: &'e Engine, unit: &Unit) -> Result<UnitAccess<'e>, String> {
        let account = &unit.account;
        let sdk = engine
            .sessions
            .config_for(account.role_arn.as_deref(), &account.partition)
            .await
            .map_err(|e| e.to_string())?;
        let api = engine.sessions.api().map_err(|e| e.to_string())?;
        let sdk = if unit.region == GLOBAL {
            sdk
        } else {
            in_region(&sdk, &unit.region)
        };
        Ok(UnitAccess {
            sdk,
            api,
            actions: engine.mapper.include_actions(unit.kind),
        })
    }

    /// The fetch context of `unit`, with the mapping's regions and history for its kind.
    pub fn context<'a>(&'a self, engine: &'a Engine, unit: &'a Unit) -> FetchContext<'a> {
        let mapper = engine.mapper.clone();
        let kind = unit.kind;
        FetchContext::new(
            &engine.config,
            self.api,
            UnitParts {
                kind,
                account: &unit.account,
                region: &unit.region,
                sdk: &self.sdk,
                actions: &self.actions,
                mapping_regions: Box::new(move |r: &str| mapper.region_wanted(kind, r)),
                history_days: engine.mapper.history_days(kind),
            },
        )
    }
}

/// Why a fetch did not end with every object.
enum FetchFailure {
    /// The service is not available here: nothing to sync, nothing to delete.
    Skipped(String),
    Incomplete(IncompleteReason),
}
