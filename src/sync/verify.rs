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
//! An entity is placed in its scope by its `$datasource` (account and region) and its blueprint
//! (the configured kind writing that blueprint in such a region). A blueprint written by two
//! kinds of the same scope, or computed per object, cannot be placed: such entities are left as
//! they are and counted in `unplaced`.

use crate::deletion::datasource::owned_cond;
use crate::kinds::{Kind, KindScope};
use crate::port::PortClient;
use crate::state::{
    EntityKey, EntityRecord, Fingerprint, ScopeChanges, ScopeKey, ScopeState, StateError, Timestamp,
};
use crate::sync::plan::GLOBAL;
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

/// Port's view: scope → entity keys of this installation.
type PortView = BTreeMap<ScopeKey, BTreeSet<EntityKey>>;

/// Lists this installation's entities in Port and repairs the state (see the module doc).
pub async fn verify(
    engine: &Engine,
    client: &PortClient,
    state: &StateSync,
    kinds: &[Kind],
) -> Result<VerifyReport, String> {
    let mut report = VerifyReport::default();
    let placement = placement(engine, kinds);
    let mut view = PortView::new();
    let query = owned_cond(&state.installation)
        .to_query()
        .unwrap_or(Value::Null);
    for blueprint in placement.keys() {
        let found = match client
            .search_entities(blueprint, query.clone(), &["$identifier", "$datasource"])
            .await
        {
            Ok(found) => found,
            Err(e) if e.status().is_some_and(|s| s.as_u16() == 404) => continue,
            Err(e) => return Err(format!("listing the entities of {blueprint} failed: {e}")),
        };
        report.listed += found.len();
        for entity in &found {
            match place(state, &placement, blueprint, entity) {
                Some((scope, key)) => {
                    view.entry(scope).or_default().insert(key);
                }
                None => report.unplaced += 1,
            }
        }
    }
    let known = state
        .store
        .scopes(&state.installation)
        .await
        .map_err(|e| e.to_string())?;
    let mut scopes: BTreeSet<ScopeKey> = known.into_iter().map(|s| s.scope).collect();
    scopes.extend(view.keys().cloned());
    let empty = BTreeSet::new();
    for scope in scopes {
        let in_port = view.get(&scope).unwrap_or(&empty);
        if let Err(e) = repair_scope(state, &scope, in_port, &placement, &mut report).await {
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

/// Blueprint → the kinds that write it, by kind scope; only blueprints known without an object.
fn placement(engine: &Engine, kinds: &[Kind]) -> BTreeMap<String, Vec<Kind>> {
    let mut out: BTreeMap<String, Vec<Kind>> = BTreeMap::new();
    for &kind in kinds {
        for blueprint in engine.mapper.blueprints(kind).unwrap_or_default() {
            out.entry(blueprint).or_default().push(kind);
        }
    }
    out
}

/// The scope of a listed entity, from its `$datasource` and blueprint.
fn place(
    state: &StateSync,
    placement: &BTreeMap<String, Vec<Kind>>,
    blueprint: &str,
    entity: &Value,
) -> Option<(ScopeKey, EntityKey)> {
    let identifier = entity.get("identifier")?.as_str()?;
    let datasource = entity.get("datasource")?.as_str()?;
    let (account, region) = parse_datasource(datasource, &state.installation)?;
    let wanted = if region == GLOBAL {
        KindScope::Account
    } else {
        KindScope::Regional
    };
    let mut kinds = placement
        .get(blueprint)?
        .iter()
        .filter(|k| k.scope() == wanted);
    let kind = kinds.next()?;
    if kinds.next().is_some() {
        return None;
    }
    let scope = ScopeKey::new(&state.installation, account, region, kind.to_string());
    Some((scope, (blueprint.to_owned(), identifier.to_owned())))
}

/// `(account, region)` of a `$datasource` this installation wrote:
/// `port-aws-sync/<version> (integration/<id>; account/<account>; region/<region>)`.
pub fn parse_datasource<'a>(datasource: &'a str, installation: &str) -> Option<(&'a str, &'a str)> {
    let marker = format!("(integration/{installation}; account/");
    let rest = &datasource[datasource.find(&marker)? + marker.len()..];
    let (account, rest) = rest.split_once("; region/")?;
    let region = rest.strip_suffix(')')?;
    Some((account, region))
}

/// Repairs one scope's state under its lease.
async fn repair_scope(
    state: &StateSync,
    scope: &ScopeKey,
    in_port: &BTreeSet<EntityKey>,
    placement: &BTreeMap<String, Vec<Kind>>,
    report: &mut VerifyReport,
) -> Result<(), StateError> {
    let store = &state.store;
    let owner = format!("verify/{:08x}", fastrand::u32(..));
    let lease = store.acquire_lease(scope, &owner, state.lease_ttl).await?;
    let result = async {
        let base = store.read_scope(scope).await?;
        let changes = compare(&base, in_port, placement);
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

/// The repairs of one scope: records missing in Port removed (only for blueprints the listing
/// covered), unrecorded entities adopted.
fn compare(
    base: &ScopeState,
    in_port: &BTreeSet<EntityKey>,
    listed: &BTreeMap<String, Vec<Kind>>,
) -> ScopeChanges {
    let recorded: BTreeSet<EntityKey> = base.records().map(EntityRecord::key).collect();
    let removed = recorded
        .iter()
        .filter(|k| listed.contains_key(&k.0) && !in_port.contains(*k))
        .cloned()
        .collect();
    let never = Timestamp::from_millis(0);
    let upserted = in_port
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datasources_of_this_installation_give_account_and_region() {
        let ds = "port-aws-sync/0.1.0 (integration/prod; account/111111111111; region/eu-west-1)";
        assert_eq!(
            parse_datasource(ds, "prod"),
            Some(("111111111111", "eu-west-1"))
        );
        assert_eq!(parse_datasource(ds, "other"), None);
        assert_eq!(parse_datasource("seed", "prod"), None);
    }

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
        let in_port = BTreeSet::from([key("kept"), key("written-before-state")]);
        let listed = BTreeMap::from([("ec2Instance".to_owned(), vec![Kind::Ec2Instance])]);
        let changes = compare(&base, &in_port, &listed);
        assert_eq!(changes.removed, vec![key("deleted-by-hand")]);
        assert_eq!(changes.upserted.len(), 1);
        let adopted = &changes.upserted[0];
        assert_eq!(adopted.key(), key("written-before-state"));
        // Always written again (or deleted): the record vouches for nothing.
        let state = ScopeState::from_records(changes.upserted.clone());
        assert!(state.needs_write("ec2Instance", "written-before-state", &fp, Timestamp::now()));
    }
}

/// Runs [`verify`] when asked, or when the installation has no state yet (bootstrap); a failed
/// verify is logged and the run goes on (the units then work from the state as it is).
pub async fn verify_if_needed(
    engine: &Engine,
    client: &PortClient,
    state: &StateSync,
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
    let kinds = crate::sync::plan::configured_kinds(&engine.config.kinds, &engine.mapper);
    match verify(engine, client, state, &kinds).await {
        Ok(report) => Some(report),
        Err(e) => {
            tracing::warn!(error = %e, "verify failed: the units work from the state as it is");
            None
        }
    }
}
