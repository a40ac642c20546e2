//! Per-unit deletion: after a unit `(account, region, kind)` completed, the entities this
//! installation owns in that scope (its `$datasource`) that the unit did not produce are deleted,
//! unless a guard says no. Only a [`CompleteUnit`] gets here; see `docs/deletion.md`.

use super::cleanup::Cleanup;
use super::datasource::owned_scope_query;
use super::proof::{
    stale_identifiers, threshold_exceeded, threshold_reason, CompleteUnit, IncompleteReason, Owned,
};
use crate::kinds::Kind;
use crate::mapping::Mapper;
use aws_smithy_types::DateTime;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

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
    pub(crate) fn kept(cleanup: &Cleanup, reason: impl Into<String>) -> Deletion {
        Deletion {
            kept_reason: Some(reason.into()),
            preview: cleanup.preview,
            ..Default::default()
        }
    }

    /// Entities deleted (or, in a preview, that would be).
    pub fn deleted_total(&self) -> usize {
        self.deleted.values().sum()
    }
}

/// What an incomplete unit deletes: nothing, and the summary says why.
pub fn kept_incomplete(cleanup: &Cleanup, reasons: &[IncompleteReason]) -> Deletion {
    Deletion::kept(cleanup, incomplete_reason(reasons))
}

fn incomplete_reason(reasons: &[IncompleteReason]) -> String {
    let why: Vec<String> = reasons.iter().map(ToString::to_string).collect();
    format!(
        "the unit did not complete cleanly ({}), so nothing was deleted",
        if why.is_empty() {
            "see the failures".to_owned()
        } else {
            why.join("; ")
        }
    )
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

/// Why a complete unit still deletes nothing before even searching (its blueprints are computed
/// per object, or shared with another kind in the scope); `None` when it may go on.
pub fn scope_guard(mapper: &Mapper, configured: &[Kind], kind: Kind) -> Option<String> {
    if mapper.blueprints(kind).is_none() {
        return Some(
            "a blueprint of this kind is computed per object, so stale entities cannot be scoped safely"
                .into(),
        );
    }
    shared_blueprint(mapper, configured, kind)
}

/// Deletes the stale entities of a complete unit's scope: lists the entities this installation
/// owns there (per blueprint of the kind), and deletes those the unit did not produce, unless a
/// guard says no (shared or computed blueprints, a failed listing, the threshold).
pub async fn delete_stale(
    cleanup: &Cleanup,
    mapper: &Mapper,
    configured: &[Kind],
    complete: CompleteUnit<'_>,
) -> Deletion {
    let unit = complete.unit();
    if let Some(reason) = scope_guard(mapper, configured, unit.kind) {
        tracing::info!(unit = %unit.label(), reason = %reason, "stale entities kept");
        return Deletion::kept(cleanup, reason);
    }
    let (stale, owned) = match find_stale(cleanup, mapper, &complete).await {
        Ok(found) => found,
        Err(kept) => return kept,
    };
    let stale_count: usize = stale.values().map(Vec::len).sum();
    let mut deletion = Deletion {
        owned,
        preview: cleanup.preview,
        ..Default::default()
    };
    if stale_count == 0 {
        return deletion;
    }
    if threshold_exceeded(stale_count, owned, cleanup.threshold) {
        tracing::warn!(unit = %unit.label(), stale = stale_count, owned, threshold = cleanup.threshold, "deletion threshold tripped: stale entities kept");
        deletion.kept = stale_count;
        deletion.kept_reason = Some(threshold_reason(
            stale_count,
            owned,
            cleanup.threshold,
            "in this scope",
        ));
        return deletion;
    }
    delete(cleanup, &complete, stale, &mut deletion).await;
    deletion
}

/// Stale identifiers per blueprint, and how many entities the scope owns; a failed listing is a
/// [`Deletion`] that keeps everything.
async fn find_stale(
    cleanup: &Cleanup,
    mapper: &Mapper,
    complete: &CompleteUnit<'_>,
) -> Result<(BTreeMap<String, Vec<String>>, usize), Deletion> {
    let unit = complete.unit();
    let query = owned_scope_query(&cleanup.integration, &unit.account.id, &unit.region);
    let started = DateTime::from(complete.started_at());
    let empty = BTreeSet::new();
    let mut stale = BTreeMap::new();
    let mut owned_total = 0usize;
    for blueprint in mapper.blueprints(unit.kind).unwrap_or_default() {
        let owned = match cleanup
            .client
            .search_entities(&blueprint, query.clone(), &["$identifier", "$updatedAt"])
            .await
        {
            Ok(found) => Owned::from_search(&found),
            // The blueprint does not exist: nothing was ever written there.
            Err(e) if e.status().is_some_and(|s| s.as_u16() == 404) => continue,
            Err(e) => {
                tracing::warn!(unit = %unit.label(), blueprint = %blueprint, error = %e, "stale entities kept");
                return Err(Deletion {
                    owned: owned_total,
                    ..Deletion::kept(
                        cleanup,
                        format!("listing owned entities of {blueprint} failed, so nothing was deleted: {e}"),
                    )
                });
            }
        };
        owned_total += owned.len();
        let produced = complete.produced(&blueprint).unwrap_or(&empty);
        let ids = stale_identifiers(&owned, produced, started);
        if !ids.is_empty() {
            stale.insert(blueprint, ids);
        }
    }
    Ok((stale, owned_total))
}

/// Deletes (or, in a preview, counts) the stale identifiers, recording what was kept and why.
async fn delete(
    cleanup: &Cleanup,
    complete: &CompleteUnit<'_>,
    stale: BTreeMap<String, Vec<String>>,
    deletion: &mut Deletion,
) {
    let unit = complete.unit();
    let label = unit.label();
    if cleanup.preview {
        for (blueprint, ids) in stale {
            tracing::info!(unit = %label, blueprint = %blueprint, count = ids.len(), "dry run: would delete stale entities");
            deletion.deleted.insert(blueprint, ids.len());
        }
        return;
    }
    let ua = crate::port::user_agent(&cleanup.integration, &unit.account.id, &unit.region);
    for (blueprint, ids) in stale {
        let (deleted, error) = cleanup.delete_in_batches(&blueprint, &ids, &ua).await;
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::plan::configured_kinds;

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
        let all = configured_kinds(Kind::all(), &shared);
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
            shared_blueprint(&Mapper::builtin(), Kind::all(), Kind::Ec2Instance),
            None
        );
    }

    #[test]
    fn unit_guard_keeps_incomplete_units_and_per_object_blueprints() {
        let builtin = Mapper::builtin();
        let reason = incomplete_reason(&[IncompleteReason::Fetch("ListClusters failed".into())]);
        assert!(
            reason.contains("did not complete cleanly (ListClusters failed)"),
            "{reason}"
        );
        assert_eq!(scope_guard(&builtin, Kind::all(), Kind::EcsCluster), None);
        let dynamic = mapper(
            r#"
resources:
  - kind: AWS::EC2::Instance
    port: {entity: {mappings: {identifier: .Properties.InstanceId, blueprint: '"ec2-" + .Properties.InstanceType'}}}
"#,
        );
        assert!(
            scope_guard(&dynamic, &[Kind::Ec2Instance], Kind::Ec2Instance)
                .unwrap()
                .contains("computed per object")
        );
    }
}
