//! Per-unit deletion from the sync state: after a complete unit, the entities its scope's state
//! records that the unit did not produce are the candidates. Before deleting, one Port search per
//! blueprint, limited to those identifiers and to this installation's `$datasource` in the scope,
//! confirms they are still ours (an entity another installation took over, or that is gone
//! already, is only forgotten), and the `$updatedAt` guard keeps what an overlapping run wrote.
//! `entityDeletionThreshold` applies against the entities the state holds for the scope (the
//! records, and what the unit just wrote). A unit with no candidates makes no Port request. See
//! `docs/deletion.md`.

use super::cleanup::Cleanup;
use super::datasource::owned_scope_query;
use super::per_unit::{scope_guard, Deletion};
use super::proof::{stale_identifiers, threshold_exceeded, threshold_reason, CompleteUnit, Owned};
use crate::kinds::Kind;
use crate::mapping::Mapper;
use crate::state::{EntityKey, ScopeState};
use aws_smithy_types::DateTime;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

/// What the deletion decided: the report, and the records to remove from the state (deleted,
/// or no longer this installation's).
#[derive(Debug, Default)]
pub struct FromState {
    pub deletion: Deletion,
    pub forget: Vec<EntityKey>,
}

/// Deletes the recorded entities a complete unit did not produce (see the module doc).
pub async fn delete_recorded(
    cleanup: &Cleanup,
    mapper: &Mapper,
    configured: &[Kind],
    complete: CompleteUnit<'_>,
    base: &ScopeState,
    owned: usize,
) -> FromState {
    let unit = complete.unit();
    let candidates = candidates(base, &complete);
    let count: usize = candidates.values().map(Vec::len).sum();
    let mut out = FromState {
        deletion: Deletion {
            owned,
            preview: cleanup.preview,
            ..Default::default()
        },
        forget: Vec::new(),
    };
    if count == 0 {
        return out;
    }
    if let Some(reason) = scope_guard(mapper, configured, unit.kind) {
        tracing::info!(unit = %unit.label(), reason = %reason, "stale entities kept");
        out.deletion.kept = count;
        out.deletion.kept_reason = Some(reason);
        return out;
    }
    if threshold_exceeded(count, owned, cleanup.threshold) {
        tracing::warn!(unit = %unit.label(), stale = count, owned, threshold = cleanup.threshold, "deletion threshold tripped: stale entities kept");
        out.deletion.kept = count;
        out.deletion.kept_reason = Some(threshold_reason(
            count,
            owned,
            cleanup.threshold,
            "in this scope",
        ));
        return out;
    }
    for (blueprint, ids) in candidates {
        confirm_and_delete(cleanup, &complete, &blueprint, ids, &mut out).await;
    }
    out
}

/// Recorded identifiers the unit did not produce, per blueprint.
fn candidates(base: &ScopeState, complete: &CompleteUnit<'_>) -> BTreeMap<String, Vec<String>> {
    let produced: BTreeSet<EntityKey> = base
        .records()
        .filter(|r| {
            complete
                .produced(&r.blueprint)
                .is_some_and(|ids| ids.contains(&r.identifier))
        })
        .map(|r| r.key())
        .collect();
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (blueprint, identifier) in base.not_produced(&produced) {
        out.entry(blueprint).or_default().push(identifier);
    }
    out
}

/// The search for `ids` among this installation's entities in the unit's scope.
pub fn confirmation_query(integration: &str, account: &str, region: &str, ids: &[String]) -> Value {
    let mut query = owned_scope_query(integration, account, region);
    let rule = json!({"property": "$identifier", "operator": "in", "value": ids});
    let is_and = query.get("combinator") == Some(&json!("and"));
    match query.get_mut("rules").and_then(Value::as_array_mut) {
        Some(rules) if is_and => rules.push(rule),
        _ => query = json!({"combinator": "and", "rules": [query, rule]}),
    }
    query
}

async fn confirm_and_delete(
    cleanup: &Cleanup,
    complete: &CompleteUnit<'_>,
    blueprint: &str,
    ids: Vec<String>,
    out: &mut FromState,
) {
    let unit = complete.unit();
    let query = confirmation_query(&cleanup.integration, &unit.account.id, &unit.region, &ids);
    let found = match cleanup
        .client
        .search_entities(blueprint, query, &["$identifier", "$updatedAt"])
        .await
    {
        Ok(found) => Owned::from_search(&found),
        // The blueprint is gone, and with it the entities.
        Err(e) if e.status().is_some_and(|s| s.as_u16() == 404) => Vec::new(),
        Err(e) => {
            tracing::warn!(unit = %unit.label(), blueprint, error = %e, "stale entities kept");
            out.deletion.kept += ids.len();
            out.deletion.kept_reason = Some(format!(
                "confirming the stale entities of {blueprint} failed, so nothing was deleted: {e}"
            ));
            return;
        }
    };
    let still_ours: BTreeSet<&str> = found.iter().map(|o| o.identifier.as_str()).collect();
    // Gone from Port, or no longer ours (another installation took it over): only forgotten.
    let key = |id: &str| (blueprint.to_owned(), id.to_owned());
    out.forget.extend(
        ids.iter()
            .filter(|id| !still_ours.contains(id.as_str()))
            .map(|id| key(id)),
    );
    let empty = BTreeSet::new();
    let produced = complete.produced(blueprint).unwrap_or(&empty);
    let started = DateTime::from(complete.started_at());
    let stale = stale_identifiers(&found, produced, started);
    if stale.is_empty() {
        return;
    }
    if cleanup.preview {
        out.deletion
            .deleted
            .insert(blueprint.to_owned(), stale.len());
        return;
    }
    delete(cleanup, complete, blueprint, &stale, out).await;
}

async fn delete(
    cleanup: &Cleanup,
    complete: &CompleteUnit<'_>,
    blueprint: &str,
    stale: &[String],
    out: &mut FromState,
) {
    let unit = complete.unit();
    let ua = crate::port::user_agent(&cleanup.integration, &unit.account.id, &unit.region);
    let result = cleanup
        .client
        .delete_entities(blueprint, stale, cleanup.delete_dependents, &ua)
        .await;
    let deleted = match result {
        Ok(deleted) => deleted,
        Err(e) => {
            tracing::warn!(unit = %unit.label(), blueprint, error = %e, "deleting stale entities failed");
            out.deletion.kept += stale.len();
            out.deletion.kept_reason = Some(format!(
                "deleting stale entities of {blueprint} failed: {e}"
            ));
            return;
        }
    };
    tracing::info!(unit = %unit.label(), blueprint, count = deleted.len(), "deleted stale entities");
    if deleted.len() < stale.len() {
        let refused = stale.len() - deleted.len();
        out.deletion.kept += refused;
        out.deletion.kept_reason = Some(format!(
            "{refused} stale entit(ies) of {blueprint} were not deleted: they have dependents and deleteDependentEntities is false"
        ));
    }
    if !deleted.is_empty() {
        out.deletion
            .deleted
            .insert(blueprint.to_owned(), deleted.len());
    }
    out.forget
        .extend(deleted.into_iter().map(|id| (blueprint.to_owned(), id)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_confirmation_is_limited_to_the_scope_and_the_identifiers() {
        let ids = vec!["i-1".to_owned(), "i-2".to_owned()];
        let query = confirmation_query("prod", "111111111111", "eu-west-1", &ids);
        assert_eq!(query["combinator"], "and");
        let rules = query["rules"].as_array().unwrap();
        assert_eq!(
            rules.last().unwrap(),
            &json!({"property": "$identifier", "operator": "in", "value": ["i-1", "i-2"]})
        );
        let text = query.to_string();
        assert!(
            text.contains("(integration/prod; account/111111111111; region/eu-west-1)"),
            "{text}"
        );
    }
}
