//! `verify`: compare the sync state with what Port holds and repair the state, so that the
//! run's units repair Port. Runs at the start of a run (CLI `--verify`, fan-out
//! `{"verify": true}`), and by itself on the first run of an installation with no state at all
//! (bootstrap: Port may already hold entities this installation wrote before it kept state).
//!
//! One paginated Port search per blueprint of the configured kinds lists this installation's
//! entities (its `$datasource`), then per scope:
//! - **recorded but missing in Port** (deleted by hand): the record is removed, so the unit
//!   writes the entity again (when AWS still has it);
//! - **in Port but not recorded** (written before state was kept, or a lost state write): the
//!   entity is *adopted*: recorded with a fingerprint that matches nothing, so the unit rewrites
//!   it when it produces it, and otherwise deletes it by the normal rules (complete unit,
//!   confirmation search, `$updatedAt` guard, `entityDeletionThreshold`).
//!
//! Port's search does not answer an entity's `$datasource`, so an unrecorded entity is placed in
//! its scope by one more search per planned unit whose kind writes its blueprint, limited to the
//! unrecorded identifiers and the unit's `$datasource` (nothing when every listed entity is
//! recorded; once per unit on an installation's first run). A blueprint computed per object or
//! written by two kinds of one scope cannot be placed: such entities are left as they are and
//! counted in `unplaced`, as are entities of scopes the run does not plan.

use crate::deletion::datasource::owned_cond;
use crate::deletion::from_state::confirmation_query;
use crate::deletion::per_unit::shared_blueprint;
use crate::kinds::Kind;
use crate::port::PortClient;
use crate::state::{
    EntityKey, EntityRecord, Fingerprint, ScopeChanges, ScopeKey, ScopeState, StateError, Timestamp,
};
use crate::sync::plan::Plan;
use crate::sync::state_sync::StateSync;
use crate::sync::Engine;
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// The fingerprint of an adopted entity: no entity hashes to it in practice, and its record has
/// already expired, so the entity is always written again or deleted.
const ADOPTED: &str = "00000000000000000000000000000000";

/// What `verify` found and repaired.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifyReport {
    /// Entities of this installation listed in Port.
    pub listed: usize,
    /// Records removed: the entity was missing in Port (rewritten by the unit).
    pub missing_in_port: usize,
    /// Entities adopted into the state: rewritten or deleted by the unit.
    pub adopted: usize,
    /// Entities that could not be placed in a scope (left as they are).
    pub unplaced: usize,
    /// Scopes not repaired (lease held by a running unit, or a state error); retried next verify.
    pub skipped_scopes: usize,
}

/// Identifiers of this installation in Port, per blueprint listed.
type Listed = BTreeMap<String, BTreeSet<String>>;

/// Lists this installation's entities in Port and repairs the state (see the module doc).
pub async fn verify(
    engine: &Engine,
    client: &PortClient,
    state: &StateSync,
    plan: &Plan,
) -> Result<VerifyReport, String> {
    let mut report = VerifyReport::default();
    let kinds = plan.kinds();
    let listed = list(client, &state.installation, &placement(engine, &kinds)).await?;
    report.listed = listed.values().map(BTreeSet::len).sum();
    let store = &state.store;
    let known = store
        .scopes(&state.installation)
        .await
        .map_err(|e| e.to_string())?;
    let mut recorded: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for summary in &known {
        let base = store
            .read_scope(&summary.scope)
            .await
            .map_err(|e| e.to_string())?;
        for (blueprint, identifier) in base.records().map(EntityRecord::key) {
            recorded.entry(blueprint).or_default().insert(identifier);
        }
    }
    let adopt =
        place_unrecorded(engine, client, state, plan, &listed, &recorded, &mut report).await;
    let mut scopes: BTreeSet<ScopeKey> = known.into_iter().map(|s| s.scope).collect();
    scopes.extend(adopt.keys().cloned());
    let empty = BTreeSet::new();
    for scope in scopes {
        let adopted = adopt.get(&scope).unwrap_or(&empty);
        if let Err(e) = repair_scope(state, &scope, &listed, adopted, &mut report).await {
            tracing::warn!(scope = %scope, error = %e, "verify: scope not repaired");
            report.skipped_scopes += 1;
        }
    }
    tracing::info!(
        listed = report.listed,
        missing_in_port = report.missing_in_port,
        adopted = report.adopted,
        unplaced = report.unplaced,
        skipped_scopes = report.skipped_scopes,
        "sync state verified against Port"
    );
    Ok(report)
}

/// One paginated search per blueprint: this installation's identifiers.
async fn list(
    client: &PortClient,
    installation: &str,
    placement: &BTreeMap<String, Vec<Kind>>,
) -> Result<Listed, String> {
    let query = owned_cond(installation).to_query().unwrap_or(Value::Null);
    let mut listed = Listed::new();
    for blueprint in placement.keys() {
        let found = match client
            .search_entities(blueprint, query.clone(), &["$identifier"])
            .await
        {
            Ok(found) => found,
            Err(e) if e.status().is_some_and(|s| s.as_u16() == 404) => Vec::new(),
            Err(e) => return Err(format!("listing the entities of {blueprint} failed: {e}")),
        };
        let ids = found
            .iter()
            .filter_map(|e| e.get("identifier")?.as_str().map(str::to_owned))
            .collect();
        listed.insert(blueprint.clone(), ids);
    }
    Ok(listed)
}

/// Blueprint → the kinds that write it; only blueprints known without an object.
fn placement(engine: &Engine, kinds: &[Kind]) -> BTreeMap<String, Vec<Kind>> {
    let mut out: BTreeMap<String, Vec<Kind>> = BTreeMap::new();
    for &kind in kinds {
        for blueprint in engine.mapper.blueprints(kind).unwrap_or_default() {
            out.entry(blueprint).or_default().push(kind);
        }
    }
    out
}

/// Finds the scope of each listed but unrecorded entity (see the module doc).
async fn place_unrecorded(
    engine: &Engine,
    client: &PortClient,
    state: &StateSync,
    plan: &Plan,
    listed: &Listed,
    recorded: &BTreeMap<String, BTreeSet<String>>,
    report: &mut VerifyReport,
) -> BTreeMap<ScopeKey, BTreeSet<EntityKey>> {
    let configured = plan.kinds();
    let none = BTreeSet::new();
    let mut adopt: BTreeMap<ScopeKey, BTreeSet<EntityKey>> = BTreeMap::new();
    for (blueprint, ids) in listed {
        let known = recorded.get(blueprint).unwrap_or(&none);
        let mut left: BTreeSet<String> = ids.difference(known).cloned().collect();
        for unit in plan.units() {
            if left.is_empty() {
                break;
            }
            let mapper = &engine.mapper;
            let writes = mapper
                .blueprints(unit.kind)
                .is_some_and(|b| b.contains(blueprint));
            if !writes || shared_blueprint(mapper, &configured, unit.kind).is_some() {
                continue;
            }
            let wanted: Vec<String> = left.iter().cloned().collect();
            let query =
                confirmation_query(&state.installation, &unit.account.id, &unit.region, &wanted);
            let found = match client
                .search_entities(blueprint, query, &["$identifier"])
                .await
            {
                Ok(found) => found,
                Err(e) => {
                    tracing::warn!(unit = %unit.label(), blueprint, error = %e, "verify: placing unrecorded entities failed");
                    continue;
                }
            };
            for id in found.iter().filter_map(|e| e.get("identifier")?.as_str()) {
                if left.remove(id) {
                    let key = (blueprint.clone(), id.to_owned());
                    adopt.entry(state.scope_of(&unit)).or_default().insert(key);
                }
            }
        }
        report.unplaced += left.len();
    }
    adopt
}

/// Repairs one scope's state under its lease.
async fn repair_scope(
    state: &StateSync,
    scope: &ScopeKey,
    listed: &Listed,
    adopted: &BTreeSet<EntityKey>,
    report: &mut VerifyReport,
) -> Result<(), StateError> {
    let store = &state.store;
    let owner = format!("verify/{:08x}", fastrand::u32(..));
    let lease = store.acquire_lease(scope, &owner, state.lease_ttl).await?;
    let result = async {
        let base = store.read_scope(scope).await?;
        let changes = compare(&base, listed, adopted);
        report.missing_in_port += changes.removed.len();
        report.adopted += changes.upserted.len();
        if !changes.is_empty() {
            store.write_scope(scope, &base, changes).await?;
        }
        Ok(())
    }
    .await;
    let _ = store.release_lease(&lease).await;
    result
}

/// The repairs of one scope: records of listed blueprints missing in Port removed, unrecorded
/// entities found in the scope adopted.
fn compare(base: &ScopeState, listed: &Listed, adopted: &BTreeSet<EntityKey>) -> ScopeChanges {
    let recorded: BTreeSet<EntityKey> = base.records().map(EntityRecord::key).collect();
    let removed = recorded
        .iter()
        .filter(|(bp, id)| listed.get(bp).is_some_and(|ids| !ids.contains(id)))
        .cloned()
        .collect();
    let never = Timestamp::from_millis(0);
    let upserted = adopted
        .difference(&recorded)
        .filter_map(|(blueprint, identifier)| {
            Some(EntityRecord {
                blueprint: blueprint.clone(),
                identifier: identifier.clone(),
                fingerprint: Fingerprint::from_hex(ADOPTED)?,
                written_at: never,
                expires_at: never,
            })
        })
        .collect();
    ScopeChanges { upserted, removed }
}

/// Runs [`verify`] when asked, or when the installation has no state yet (bootstrap); a failed
/// verify is logged and the run goes on (the units then work from the state as it is).
pub async fn verify_if_needed(
    engine: &Engine,
    client: &PortClient,
    state: &StateSync,
    plan: &Plan,
    asked: bool,
) -> Option<VerifyReport> {
    let bootstrap = !asked
        && state
            .store
            .scopes(&state.installation)
            .await
            .is_ok_and(|scopes| scopes.is_empty());
    if !asked && !bootstrap {
        return None;
    }
    if bootstrap {
        tracing::info!("no sync state yet: verifying against Port first (adopting what this installation already wrote)");
    }
    match verify(engine, client, state, plan).await {
        Ok(report) => Some(report),
        Err(e) => {
            tracing::warn!(error = %e, "verify failed: the units work from the state as it is");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_records_are_removed_and_unrecorded_entities_adopted() {
        let fp = Fingerprint::from_hex("0123456789abcdef0123456789abcdef").unwrap();
        let record = |id: &str| EntityRecord {
            blueprint: "ec2Instance".into(),
            identifier: id.into(),
            fingerprint: fp.clone(),
            written_at: Timestamp::from_millis(1),
            expires_at: Timestamp::from_millis(i64::MAX),
        };
        let base = ScopeState::from_records([record("kept"), record("deleted-by-hand")]);
        let key = |id: &str| ("ec2Instance".to_owned(), id.to_owned());
        let listed = Listed::from([(
            "ec2Instance".to_owned(),
            BTreeSet::from(["kept".to_owned(), "written-before-state".to_owned()]),
        )]);
        let adopted = BTreeSet::from([key("written-before-state")]);
        let changes = compare(&base, &listed, &adopted);
        assert_eq!(changes.removed, vec![key("deleted-by-hand")]);
        assert_eq!(changes.upserted.len(), 1);
        let adopted = &changes.upserted[0];
        assert_eq!(adopted.key(), key("written-before-state"));
        // Always written again (or deleted): the record vouches for nothing.
        let state = ScopeState::from_records(changes.upserted.clone());
        assert!(state.needs_write("ec2Instance", "written-before-state", &fp, Timestamp::now()));
    }
}
