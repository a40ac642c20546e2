//! Scopes that are gone: at planning time, find the entities this installation owns in scopes
//! `(account, region, kind)` the plan no longer covers, and delete them only when the scope is
//! known to be gone (the account is closed or left the organization, the region is denied by
//! `REGION_POLICY`, the kind is no longer configured or mapped there). Entities of accounts that
//! could not be reached, or that are merely not synced, are kept and reported.
//!
//! The facts come from [`super::gone_scope_facts`], the classes from
//! [`super::gone_scope_classes`] as conditions on the `$datasource` ([`super::datasource`]); this
//! module runs them as Port searches, applies the run-level threshold and deletes. Shared by the
//! CLI and the fan-out (through [`crate::sync::orchestrate`]).

use super::cleanup::Cleanup;
use super::datasource::{owned_cond, Cond};
use super::gone_scope_classes::{classes_for, refuse_planned, Class, Verdict};
use super::gone_scope_facts::ScopeFacts;
use super::proof::{threshold_exceeded, threshold_reason, Owned};
use crate::discovery::Discovery;
use crate::port::PortError;
use crate::sync::plan::{Plan, Scope};
use crate::sync::Engine;
use aws_smithy_types::DateTime;
use reqwest::Method;
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::time::SystemTime;

/// Blueprints in deletion order: an entity's blueprint before the blueprints it relates to, so
/// that without `deleteDependentEntities` sources are gone before their targets.
/// `relations`: blueprint → the blueprints its relations target.
pub fn deletion_order(
    blueprints: &BTreeSet<String>,
    relations: &BTreeMap<String, BTreeSet<String>>,
) -> Vec<String> {
    let mut left: BTreeSet<String> = blueprints.clone();
    let mut order = Vec::new();
    while !left.is_empty() {
        // Ready: no remaining blueprint (other than itself) relates to it.
        let ready: Vec<String> = left
            .iter()
            .filter(|b| {
                !left.iter().any(|src| {
                    src != *b
                        && relations
                            .get(src)
                            .is_some_and(|targets| targets.contains(*b))
                })
            })
            .cloned()
            .collect();
        if ready.is_empty() {
            // A cycle: the rest in name order.
            order.extend(std::mem::take(&mut left));
            break;
        }
        for b in ready {
            left.remove(&b);
            order.push(b);
        }
    }
    order
}

/// The outcome of the disappeared-scope step of a run.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GoneScopeReport {
    /// A dry run's preview: `deleted` is what a sync would delete.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub preview: bool,
    /// Entities this installation owns in Port, all scopes (the threshold's denominator).
    pub owned: usize,
    /// Entities of disappeared scopes deleted, per reason then blueprint.
    pub deleted: BTreeMap<String, BTreeMap<String, usize>>,
    /// Entities outside the plan that were kept, per reason then blueprint.
    pub kept: BTreeMap<String, BTreeMap<String, usize>>,
    /// Why nothing was deleted at all (narrowed run, threshold, a Port error).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    /// What limited the judgement (e.g. blueprints computed per object).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl GoneScopeReport {
    pub fn deleted_total(&self) -> usize {
        self.deleted.values().flat_map(|m| m.values()).sum()
    }

    pub fn kept_total(&self) -> usize {
        self.kept.values().flat_map(|m| m.values()).sum()
    }

    fn keep(&mut self, reason: &str, blueprint: &str, n: usize) {
        if n > 0 {
            *self
                .kept
                .entry(reason.to_owned())
                .or_default()
                .entry(blueprint.to_owned())
                .or_default() += n;
        }
    }
}

/// Blueprints and the blueprints their relations target (`GET /v1/blueprints`).
async fn list_blueprints(
    cleanup: &Cleanup,
) -> Result<BTreeMap<String, BTreeSet<String>>, PortError> {
    let ua = cleanup.user_agent();
    let body = cleanup
        .client
        .request(Method::GET, "/blueprints", &[], None, Some(&ua))
        .await?;
    let mut out = BTreeMap::new();
    for bp in body
        .get("blueprints")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(id) = bp.get("identifier").and_then(Value::as_str) else {
            continue;
        };
        let targets = bp
            .get("relations")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .filter_map(|(_, r)| r.get("target").and_then(Value::as_str).map(str::to_owned))
            .collect();
        out.insert(id.to_owned(), targets);
    }
    Ok(out)
}

/// Finds the entities this installation owns in scopes the plan no longer covers, and deletes
/// those whose scope is known to be gone (or, with `cleanup.preview`, reports what it would
/// delete). Nothing is judged when the run was narrowed (`--accounts`, `--regions`, `--kinds`, a
/// manual fan-out payload): what lies outside a narrowed run is not gone. The run-level
/// `entityDeletionThreshold` applies to the share of all owned entities.
pub async fn delete_gone_scopes(
    engine: &Engine,
    discovery: &Discovery,
    plan: &Plan,
    scope: &Scope,
    cleanup: &Cleanup,
    started_at: SystemTime,
) -> GoneScopeReport {
    let mut report = GoneScopeReport {
        preview: cleanup.preview,
        ..Default::default()
    };
    if *scope != Scope::default() {
        report.skipped = Some(
            "the run was narrowed (--accounts, --regions or --kinds): scopes outside it were not judged"
                .into(),
        );
        return report;
    }
    let facts = ScopeFacts::new(
        &cleanup.integration,
        discovery,
        &engine.config.region_policy,
        &engine.config.kinds,
        &engine.mapper,
    );
    if facts.written.is_none() {
        report.notes.push("a configured kind computes its blueprint per object, so entities of removed kinds were not judged".into());
    }
    let judge = Judge {
        engine,
        facts: &facts,
        plan,
        cleanup,
        started: DateTime::from(started_at),
    };
    if let Err(reason) = judge.run(&mut report).await {
        tracing::warn!(reason = %reason, "disappeared scopes: nothing deleted");
        report.skipped = Some(reason);
    }
    report
}

/// Candidates to delete: blueprint → reason → identifiers.
type Candidates = BTreeMap<String, BTreeMap<String, Vec<String>>>;

/// One run's judgement of the scopes outside its plan.
struct Judge<'a> {
    engine: &'a Engine,
    facts: &'a ScopeFacts,
    plan: &'a Plan,
    cleanup: &'a Cleanup,
    started: DateTime,
}

impl Judge<'_> {
    /// Finds the candidates of every blueprint, checks the run-level threshold, deletes. An error
    /// is why nothing (more) was deleted.
    async fn run(&self, report: &mut GoneScopeReport) -> Result<(), String> {
        let relations = list_blueprints(self.cleanup)
            .await
            .map_err(|e| format!("listing blueprints failed, so nothing was deleted: {e}"))?;
        // Blueprints that may hold placeholders: targets of relations of blueprints still written
        // (of every blueprint, when the written ones are unknown).
        let relation_targets: BTreeSet<String> = relations
            .iter()
            .filter(|(bp, _)| {
                self.facts
                    .written
                    .as_ref()
                    .is_none_or(|w| w.contains_key(*bp))
            })
            .flat_map(|(_, targets)| targets.iter().cloned())
            .collect();
        let mut candidates: Candidates = BTreeMap::new();
        for blueprint in relations.keys() {
            let is_target = relation_targets.contains(blueprint);
            self.judge_blueprint(blueprint, is_target, report, &mut candidates)
                .await?;
        }
        self.check_threshold(&candidates, report)?;
        self.delete(candidates, &relations, report).await;
        Ok(())
    }

    /// Sorts one blueprint's owned entities outside the plan into its classes: kept ones go to
    /// the report, deleted ones to `candidates`.
    async fn judge_blueprint(
        &self,
        blueprint: &str,
        relation_target: bool,
        report: &mut GoneScopeReport,
        candidates: &mut Candidates,
    ) -> Result<(), String> {
        let owned = owned_cond(&self.facts.integration);
        let found = self
            .cleanup
            .client
            .search_entities(
                blueprint,
                owned.to_query().unwrap_or(Value::Null),
                &["$identifier"],
            )
            .await
            .map_err(|e| {
                format!("listing owned entities of {blueprint} failed, so nothing was deleted: {e}")
            })?;
        if found.is_empty() {
            return Ok(());
        }
        report.owned += found.len();
        let classes = refuse_planned(
            classes_for(self.facts, blueprint, relation_target),
            blueprint,
            &self.facts.integration,
            self.plan,
            &self.engine.mapper,
        );
        let mut seen: BTreeSet<String> = BTreeSet::new();
        for class in classes {
            for entity in self.search_class(blueprint, &owned, &class).await? {
                if !seen.insert(entity.identifier.clone()) {
                    continue;
                }
                match class.verdict {
                    Verdict::Keep => report.keep(&class.reason, blueprint, 1),
                    Verdict::Delete if entity.updated_since(self.started) => {
                        report.keep("written during this run: kept", blueprint, 1)
                    }
                    Verdict::Delete => candidates
                        .entry(blueprint.to_owned())
                        .or_default()
                        .entry(class.reason.clone())
                        .or_default()
                        .push(entity.identifier),
                }
            }
        }
        Ok(())
    }

    /// This installation's entities of `blueprint` in one class.
    async fn search_class(
        &self,
        blueprint: &str,
        owned: &Cond,
        class: &Class,
    ) -> Result<Vec<Owned>, String> {
        let Some(query) = Cond::all([owned.clone(), class.cond.clone()]).to_query() else {
            return Ok(Vec::new());
        };
        let hits = self
            .cleanup
            .client
            .search_entities(blueprint, query, &["$identifier", "$updatedAt"])
            .await
            .map_err(|e| {
                format!(
                    "searching {blueprint} for `{}` failed, so nothing was deleted: {e}",
                    class.reason
                )
            })?;
        Ok(Owned::from_search(&hits))
    }

    /// The run-level `entityDeletionThreshold`: above it, every candidate is kept.
    fn check_threshold(
        &self,
        candidates: &Candidates,
        report: &mut GoneScopeReport,
    ) -> Result<(), String> {
        let total: usize = candidates
            .values()
            .flat_map(|m| m.values())
            .map(Vec::len)
            .sum();
        let threshold = self.cleanup.threshold;
        if total == 0 || !threshold_exceeded(total, report.owned, threshold) {
            return Ok(());
        }
        for (bp, by_reason) in candidates {
            for (reason, ids) in by_reason {
                report.keep(
                    &format!("{reason} (kept: run-level threshold)"),
                    bp,
                    ids.len(),
                );
            }
        }
        tracing::warn!(
            stale = total,
            owned = report.owned,
            threshold,
            "run-level deletion threshold tripped: disappeared scopes kept"
        );
        Err(threshold_reason(
            total,
            report.owned,
            threshold,
            "owned by this installation, in scopes that disappeared,",
        ))
    }

    /// Deletes the candidates, relation sources before their targets (or, in a preview, counts
    /// them).
    async fn delete(
        &self,
        mut candidates: Candidates,
        relations: &BTreeMap<String, BTreeSet<String>>,
        report: &mut GoneScopeReport,
    ) {
        let ua = self.cleanup.user_agent();
        for blueprint in deletion_order(&candidates.keys().cloned().collect(), relations) {
            let Some(by_reason) = candidates.remove(&blueprint) else {
                continue;
            };
            for (reason, ids) in by_reason {
                let deleted = if self.cleanup.preview {
                    tracing::info!(blueprint = %blueprint, reason = %reason, count = ids.len(), "dry run: would delete entities of a disappeared scope");
                    ids.len()
                } else {
                    let (deleted, error) =
                        self.cleanup.delete_in_batches(&blueprint, &ids, &ua).await;
                    tracing::info!(blueprint = %blueprint, reason = %reason, count = deleted, "deleted entities of a disappeared scope");
                    if let Some(e) = error {
                        tracing::warn!(blueprint = %blueprint, error = %e, "deleting entities of a disappeared scope failed");
                        report.keep(
                            &format!("{reason} (deleting failed: {e})"),
                            &blueprint,
                            ids.len().saturating_sub(deleted),
                        );
                    }
                    deleted
                };
                if deleted > 0 {
                    *report
                        .deleted
                        .entry(reason)
                        .or_default()
                        .entry(blueprint.clone())
                        .or_default() += deleted;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deletes_relation_sources_before_their_targets() {
        let relations: BTreeMap<String, BTreeSet<String>> = [
            ("ec2Instance", vec!["awsAccount", "subnet"]),
            ("subnet", vec!["awsAccount"]),
            ("awsAccount", vec![]),
            ("loopA", vec!["loopB"]),
            ("loopB", vec!["loopA"]),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.into_iter().map(str::to_owned).collect()))
        .collect();
        let all: BTreeSet<String> = ["awsAccount", "subnet", "ec2Instance"]
            .into_iter()
            .map(str::to_owned)
            .collect();
        assert_eq!(
            deletion_order(&all, &relations),
            vec!["ec2Instance", "subnet", "awsAccount"]
        );
        let cycle: BTreeSet<String> = ["loopA", "loopB"].into_iter().map(str::to_owned).collect();
        assert_eq!(deletion_order(&cycle, &relations), vec!["loopA", "loopB"]);
    }
}
