//! Stale-entity deletion of one unit `(account, region, kind)`: only after a clean unit, only what
//! this installation wrote in that scope (its `$datasource`), never above the deletion threshold.
//! See `docs/deletion.md`.

use crate::kinds::Kind;
use crate::mapping::Mapper;
use crate::port::{PortClient, PortError, VERSION};
use crate::sync::plan::Unit;
use aws_sdk_ec2::primitives::{DateTime, DateTimeFormat};
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::time::SystemTime;

/// Port's bulk delete limit (identifiers per request).
pub const MAX_DELETE_BATCH: usize = crate::port::entities::MAX_BULK_DELETE;

/// What stale-entity cleanup needs: the Port client, this installation's identity, and the
/// mapping's deletion options. `preview` (a dry run with Port credentials) searches but never
/// deletes.
#[derive(Debug, Clone)]
pub struct Cleanup {
    pub client: PortClient,
    /// `INTEGRATION_IDENTIFIER`: part of the `$datasource` of everything this installation wrote.
    pub integration: String,
    /// `deleteDependentEntities`.
    pub delete_dependents: bool,
    /// `entityDeletionThreshold`: the largest share of a scope's entities one run may delete.
    pub threshold: f64,
    /// Report what would be deleted without deleting it.
    pub preview: bool,
}

impl Cleanup {
    /// The cleanup settings of the engine's mapping (`deleteDependentEntities`,
    /// `entityDeletionThreshold`) for this installation.
    pub fn for_engine(engine: &crate::sync::Engine, client: PortClient) -> Cleanup {
        let app = engine.mapper.config();
        Cleanup {
            client,
            integration: engine.config.integration_identifier.clone(),
            delete_dependents: app.delete_dependent_entities,
            threshold: app.entity_deletion_threshold,
            preview: false,
        }
    }
}

/// What happened to the stale entities of one unit's scope.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Deletion {
    /// Entities deleted per blueprint (would be deleted, in a preview).
    pub deleted: BTreeMap<String, usize>,
    /// Why stale entities were kept (a guard tripped, the unit was incomplete, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kept_reason: Option<String>,
    /// Stale entities kept.
    pub kept: usize,
    /// Entities this installation owned in the scope before the cleanup (0 when not searched).
    pub owned: usize,
    /// A dry run's preview: nothing was deleted.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub preview: bool,
}

impl Deletion {
    fn kept(reason: impl Into<String>) -> Deletion {
        Deletion {
            kept_reason: Some(reason.into()),
            ..Default::default()
        }
    }

    /// Entities deleted (or, in a preview, that would be).
    pub fn deleted_total(&self) -> usize {
        self.deleted.values().sum()
    }
}

/// The search rule selecting what this installation wrote in one scope.
pub fn owned_scope_query(integration: &str, account_id: &str, region: &str) -> Value {
    json!({"combinator": "and", "rules": [
        {"property": "$datasource", "operator": "beginsWith", "value": crate::port::datasource_prefix()},
        {"property": "$datasource", "operator": "endsWith",
         "value": format!("(integration/{integration}; account/{account_id}; region/{region})")},
    ]})
}

/// Whether deleting `stale` of `owned` entities exceeds `threshold` (Ocean's rule: delete only if
/// `stale / owned <= threshold`).
pub fn threshold_exceeded(stale: usize, owned: usize, threshold: f64) -> bool {
    owned > 0 && stale as f64 / owned as f64 > threshold
}

/// The sentence reporting a tripped threshold.
pub fn threshold_reason(stale: usize, owned: usize, threshold: f64, what: &str) -> String {
    format!(
        "{stale} of {owned} entities {what} would be deleted ({:.0}%), above entityDeletionThreshold {:.0}%: nothing deleted (a scope that suddenly returns nothing usually means missing permissions)",
        stale as f64 * 100.0 / owned.max(1) as f64,
        threshold * 100.0
    )
}

/// An owned entity as Port's search returns it (`$identifier`, `$updatedAt`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owned {
    pub identifier: String,
    /// `updatedAt`; `None` when absent or unreadable.
    pub updated_at: Option<DateTime>,
}

impl Owned {
    /// Reads search results, skipping entities without an identifier.
    pub fn from_search(entities: &[Value]) -> Vec<Owned> {
        entities
            .iter()
            .filter_map(|e| {
                Some(Owned {
                    identifier: e.get("identifier")?.as_str()?.to_owned(),
                    updated_at: e.get("updatedAt").and_then(Value::as_str).and_then(|s| {
                        DateTime::from_str(s, DateTimeFormat::DateTimeWithOffset).ok()
                    }),
                })
            })
            .collect()
    }

    /// Written at or after `started` (by an overlapping run): not stale, whatever this run saw.
    pub fn updated_since(&self, started: DateTime) -> bool {
        self.updated_at.is_some_and(|t| t >= started)
    }
}

/// The owned entities not produced by this run and not written since it started.
pub fn stale_identifiers(
    owned: &[Owned],
    produced: &BTreeSet<String>,
    started: DateTime,
) -> Vec<String> {
    owned
        .iter()
        .filter(|e| !produced.contains(&e.identifier) && !e.updated_since(started))
        .map(|e| e.identifier.clone())
        .collect()
}

/// The configured kinds: in `KINDS` and mapped by the mapping (CLI narrowing does not change it).
pub fn configured_kinds(kinds: &[Kind], mapper: &Mapper) -> Vec<Kind> {
    let mapped = mapper.kinds();
    kinds
        .iter()
        .copied()
        .filter(|k| mapped.contains(k))
        .collect()
}

/// Why `kind`'s stale entities cannot be told apart from another configured kind's: both write a
/// blueprint within the same `$datasource` scope (same account and region), or the other's
/// blueprint is computed per object. `None` when the kind's blueprints are its own.
pub fn shared_blueprint(mapper: &Mapper, configured: &[Kind], kind: Kind) -> Option<String> {
    let mine = mapper.blueprints(kind)?;
    for &other in configured
        .iter()
        .filter(|k| **k != kind && k.scope() == kind.scope())
    {
        match mapper.blueprints(other) {
            None => {
                return Some(format!(
                    "{other} computes its blueprint per object and shares this scope, so this kind's stale entities cannot be told apart"
                ))
            }
            Some(theirs) => {
                if let Some(bp) = mine.intersection(&theirs).next() {
                    return Some(format!(
                        "blueprint {bp} is also written by {other} in the same account and region, so this kind's stale entities cannot be told apart"
                    ));
                }
            }
        }
    }
    None
}

/// The User-Agent of cleanup requests that belong to no unit.
pub fn cleanup_user_agent(integration: &str) -> String {
    format!("port-aws-sync/{VERSION} (integration/{integration})")
}

/// Deletes identifiers of one blueprint in requests of at most 100. Returns how many Port deleted
/// and the first error (after which nothing more is sent for this blueprint).
pub async fn delete_in_batches(
    client: &PortClient,
    blueprint: &str,
    identifiers: &[String],
    delete_dependents: bool,
    user_agent: &str,
) -> (usize, Option<PortError>) {
    let mut deleted = 0;
    for chunk in identifiers.chunks(MAX_DELETE_BATCH) {
        match client
            .delete_entities(blueprint, chunk, delete_dependents, user_agent)
            .await
        {
            Ok(ids) => deleted += ids.len(),
            Err(e) => return (deleted, Some(e)),
        }
    }
    (deleted, None)
}

/// Why a unit deletes nothing before even searching; `None` when it may go on.
pub fn unit_guard(
    unit_ok: bool,
    unit_reason: Option<&str>,
    mapper: &Mapper,
    configured: &[Kind],
    kind: Kind,
) -> Option<String> {
    if !unit_ok {
        return Some(format!(
            "the unit did not complete cleanly ({}), so nothing was deleted",
            unit_reason.unwrap_or("see the failures")
        ));
    }
    if mapper.blueprints(kind).is_none() {
        return Some(
            "a blueprint of this kind is computed per object, so stale entities cannot be scoped safely"
                .into(),
        );
    }
    shared_blueprint(mapper, configured, kind)
}

/// Cleans one unit's scope after the unit ran: lists the entities this installation owns in the
/// scope (per blueprint of the kind), and deletes those the run did not produce, unless a guard
/// says no. `produced` holds the identifiers mapped per blueprint.
pub async fn clean_unit(
    cleanup: &Cleanup,
    mapper: &Mapper,
    configured: &[Kind],
    unit: &Unit,
    (unit_ok, unit_reason): (bool, Option<&str>),
    produced: &BTreeMap<String, BTreeSet<String>>,
    started_at: SystemTime,
) -> Deletion {
    let label = unit.label();
    if let Some(reason) = unit_guard(unit_ok, unit_reason, mapper, configured, unit.kind) {
        tracing::info!(unit = %label, reason = %reason, "stale entities kept");
        return Deletion {
            preview: cleanup.preview,
            ..Deletion::kept(reason)
        };
    }
    let blueprints = mapper.blueprints(unit.kind).unwrap_or_default();
    let query = owned_scope_query(&cleanup.integration, &unit.account.id, &unit.region);
    let started = DateTime::from(started_at);
    let mut stale: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut owned_total = 0usize;
    let empty = BTreeSet::new();
    for blueprint in &blueprints {
        let owned = match cleanup
            .client
            .search_entities(blueprint, query.clone(), &["$identifier", "$updatedAt"])
            .await
        {
            Ok(found) => Owned::from_search(&found),
            // The blueprint does not exist: nothing was ever written there.
            Err(e) if e.status().is_some_and(|s| s.as_u16() == 404) => continue,
            Err(e) => {
                let reason = format!(
                    "listing owned entities of {blueprint} failed, so nothing was deleted: {e}"
                );
                tracing::warn!(unit = %label, blueprint = %blueprint, error = %e, "stale entities kept");
                return Deletion {
                    preview: cleanup.preview,
                    owned: owned_total,
                    ..Deletion::kept(reason)
                };
            }
        };
        owned_total += owned.len();
        let ids = stale_identifiers(&owned, produced.get(blueprint).unwrap_or(&empty), started);
        if !ids.is_empty() {
            stale.insert(blueprint.clone(), ids);
        }
    }
    let stale_count: usize = stale.values().map(Vec::len).sum();
    let mut deletion = Deletion {
        owned: owned_total,
        preview: cleanup.preview,
        ..Default::default()
    };
    if stale_count == 0 {
        return deletion;
    }
    if threshold_exceeded(stale_count, owned_total, cleanup.threshold) {
        let reason = threshold_reason(stale_count, owned_total, cleanup.threshold, "in this scope");
        tracing::warn!(unit = %label, stale = stale_count, owned = owned_total, threshold = cleanup.threshold, "deletion threshold tripped: stale entities kept");
        deletion.kept = stale_count;
        deletion.kept_reason = Some(reason);
        return deletion;
    }
    if cleanup.preview {
        for (blueprint, ids) in stale {
            tracing::info!(unit = %label, blueprint = %blueprint, count = ids.len(), "dry run: would delete stale entities");
            deletion.deleted.insert(blueprint, ids.len());
        }
        return deletion;
    }
    let ua = crate::port::user_agent(&cleanup.integration, &unit.account.id, &unit.region);
    for (blueprint, ids) in stale {
        let (deleted, error) = delete_in_batches(
            &cleanup.client,
            &blueprint,
            &ids,
            cleanup.delete_dependents,
            &ua,
        )
        .await;
        tracing::info!(unit = %label, blueprint = %blueprint, count = deleted, "deleted stale entities");
        if deleted > 0 {
            deletion.deleted.insert(blueprint.clone(), deleted);
        }
        if let Some(e) = error {
            tracing::warn!(unit = %label, blueprint = %blueprint, error = %e, "deleting stale entities failed");
            deletion.kept += ids.len().saturating_sub(deleted);
            deletion.kept_reason = Some(format!(
                "deleting stale entities of {blueprint} failed: {e}"
            ));
        } else if deleted < ids.len() && !cleanup.delete_dependents {
            let refused = ids.len() - deleted;
            deletion.kept += refused;
            deletion.kept_reason = Some(format!(
                "{refused} stale entit(ies) of {blueprint} were not deleted: they have dependents and deleteDependentEntities is false"
            ));
        }
    }
    deletion
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime {
        DateTime::from_str(s, DateTimeFormat::DateTimeWithOffset).unwrap()
    }

    fn owned(id: &str, updated: &str) -> Value {
        json!({"identifier": id, "updatedAt": updated})
    }

    #[test]
    fn stale_are_owned_not_produced_and_not_written_since_the_start() {
        let found = Owned::from_search(&[
            owned("kept-produced", "2026-01-01T00:00:00.000Z"),
            owned("gone", "2026-01-01T00:00:00.000Z"),
            owned("written-by-an-overlapping-run", "2026-01-01T00:10:00.000Z"),
            json!({"identifier": "no-timestamp"}),
            json!({"title": "no identifier"}),
        ]);
        assert_eq!(found.len(), 4);
        let produced = BTreeSet::from(["kept-produced".to_owned()]);
        assert_eq!(
            stale_identifiers(&found, &produced, at("2026-01-01T00:05:00.000Z")),
            vec!["gone", "no-timestamp"]
        );
    }

    #[test]
    fn threshold_allows_up_to_and_including_the_share() {
        assert!(!threshold_exceeded(9, 10, 0.9));
        assert!(threshold_exceeded(10, 10, 0.9));
        assert!(threshold_exceeded(1, 1, 0.9));
        assert!(!threshold_exceeded(1, 1, 1.0));
        assert!(threshold_exceeded(1, 10, 0.0));
        assert!(!threshold_exceeded(0, 0, 0.0));
        assert!(threshold_reason(3, 3, 0.9, "in this scope").contains("3 of 3"));
    }

    #[test]
    fn owned_scope_query_selects_exactly_this_installations_scope() {
        let q = owned_scope_query("prod", "111111111111", "us-east-1");
        let suffix = q["rules"][1]["value"].as_str().unwrap();
        assert!(crate::port::user_agent("prod", "111111111111", "us-east-1").ends_with(suffix));
        for other in [
            crate::port::user_agent("x-prod", "111111111111", "us-east-1"),
            crate::port::user_agent("prod", "211111111111", "us-east-1"),
            crate::port::user_agent("prod", "111111111111", "eu-us-east-1"),
        ] {
            assert!(!other.ends_with(suffix), "{other}");
        }
    }

    fn mapper(yaml: &str) -> Mapper {
        Mapper::from_yaml(yaml).unwrap()
    }

    #[test]
    fn kinds_sharing_a_blueprint_in_one_scope_keep_their_stale_entities() {
        let shared = mapper(
            r#"
resources:
  - kind: AWS::EC2::Instance
    port: {entity: {mappings: {identifier: .Properties.InstanceId, blueprint: '"compute"'}}}
  - kind: AWS::ECS::Cluster
    port: {entity: {mappings: {identifier: .Properties.ClusterArn, blueprint: '"compute"'}}}
  - kind: AWS::S3::Bucket
    port: {entity: {mappings: {identifier: .Properties.Arn, blueprint: '"compute"'}}}
"#,
        );
        let all = configured_kinds(&Kind::ALL, &shared);
        let reason = shared_blueprint(&shared, &all, Kind::Ec2Instance).unwrap();
        assert!(reason.contains("AWS::ECS::Cluster"), "{reason}");
        // S3 writes the same blueprint but in region `global`: its datasource differs.
        assert_eq!(
            shared_blueprint(
                &shared,
                &[Kind::S3Bucket, Kind::Ec2Instance],
                Kind::S3Bucket
            ),
            None
        );
        // A kind that is not configured any more does not protect its entities.
        assert_eq!(
            shared_blueprint(&shared, &[Kind::Ec2Instance], Kind::Ec2Instance),
            None
        );
        assert_eq!(
            shared_blueprint(&Mapper::builtin(), &Kind::ALL, Kind::Ec2Instance),
            None
        );
    }

    #[test]
    fn unit_guard_keeps_incomplete_units_and_per_object_blueprints() {
        let builtin = Mapper::builtin();
        let reason = unit_guard(
            false,
            Some("ListClusters failed"),
            &builtin,
            &Kind::ALL,
            Kind::EcsCluster,
        )
        .unwrap();
        assert!(
            reason.contains("did not complete cleanly (ListClusters failed)"),
            "{reason}"
        );
        assert_eq!(
            unit_guard(true, None, &builtin, &Kind::ALL, Kind::EcsCluster),
            None
        );
        let dynamic = mapper(
            r#"
resources:
  - kind: AWS::EC2::Instance
    port: {entity: {mappings: {identifier: .Properties.InstanceId, blueprint: '"ec2-" + .Properties.InstanceType'}}}
"#,
        );
        assert!(unit_guard(
            true,
            None,
            &dynamic,
            &[Kind::Ec2Instance],
            Kind::Ec2Instance
        )
        .unwrap()
        .contains("computed per object"));
    }
}
