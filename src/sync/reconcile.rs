//! Scopes that disappeared: at planning time, find the entities this installation owns in scopes
//! `(account, region, kind)` the plan no longer covers, and delete them only when the scope is
//! known to be gone (the account is closed or left the organization, the region is denied by
//! `REGION_POLICY`, the kind is no longer configured or mapped there). Entities of accounts that
//! could not be reached, or that are merely not synced, are kept and reported.
//!
//! Port's search is not documented to return the `$datasource` it matches on, so every class of scope is a
//! [`Cond`] on the `$datasource` (our User-Agent, see [`crate::port::user_agent`]) that becomes a
//! search query; the same condition evaluates locally against the plan's own User-Agents, so a
//! class that would touch a planned unit is refused. Shared by the CLI and the fan-out.

use crate::config::RegionPolicy;
use crate::discovery::Discovery;
use crate::kinds::{Kind, KindScope};
use crate::mapping::Mapper;
use crate::port::{datasource_prefix, user_agent, PortClient, PortError};
use crate::sync::engine::Engine;
use crate::sync::plan::{Scope, Unit, GLOBAL};
use crate::sync::stale::{
    cleanup_user_agent, configured_kinds, delete_in_batches, threshold_exceeded, threshold_reason,
    Cleanup, Owned,
};
use aws_sdk_ec2::primitives::DateTime;
use reqwest::Method;
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::time::SystemTime;

/// Account states that mean the account is gone (Organizations `State`/`Status`).
pub const GONE_STATES: [&str; 2] = ["SUSPENDED", "CLOSED"];

/// Accounts listed in one reason before "and N more".
const LISTED_ACCOUNTS: usize = 10;

/// A string operator of Port's search rules, applied to `$datasource`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    BeginsWith,
    NotBeginsWith,
    EndsWith,
    NotEndsWith,
    Contains,
    NotContains,
}

impl Op {
    fn negate(self) -> Op {
        match self {
            Op::BeginsWith => Op::NotBeginsWith,
            Op::NotBeginsWith => Op::BeginsWith,
            Op::EndsWith => Op::NotEndsWith,
            Op::NotEndsWith => Op::EndsWith,
            Op::Contains => Op::NotContains,
            Op::NotContains => Op::Contains,
        }
    }

    /// Port's operator name.
    pub fn name(self) -> &'static str {
        match self {
            Op::BeginsWith => "beginsWith",
            Op::NotBeginsWith => "doesNotBeginsWith",
            Op::EndsWith => "endsWith",
            Op::NotEndsWith => "doesNotEndsWith",
            Op::Contains => "contains",
            Op::NotContains => "doesNotContains",
        }
    }

    fn test(self, datasource: &str, value: &str) -> bool {
        match self {
            Op::BeginsWith => datasource.starts_with(value),
            Op::NotBeginsWith => !datasource.starts_with(value),
            Op::EndsWith => datasource.ends_with(value),
            Op::NotEndsWith => !datasource.ends_with(value),
            Op::Contains => datasource.contains(value),
            Op::NotContains => !datasource.contains(value),
        }
    }
}

/// A condition on an entity's `$datasource`: built and simplified here, sent to Port as search
/// rules, and evaluated locally against known User-Agents. Port's queries have no `not`, so
/// [`Cond::negate`] pushes negation down to the operators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cond {
    True,
    False,
    Leaf(Op, String),
    All(Vec<Cond>),
    Any(Vec<Cond>),
}

impl Cond {
    pub fn leaf(op: Op, value: impl Into<String>) -> Cond {
        Cond::Leaf(op, value.into())
    }

    /// Conjunction, simplified (`True` dropped, `False` absorbs, nested `All` flattened).
    pub fn all(items: impl IntoIterator<Item = Cond>) -> Cond {
        let mut out = Vec::new();
        for c in items {
            match c {
                Cond::True => {}
                Cond::False => return Cond::False,
                Cond::All(inner) => out.extend(inner),
                c => out.push(c),
            }
        }
        match out.len() {
            0 => Cond::True,
            1 => out.pop().unwrap_or(Cond::True),
            _ => Cond::All(out),
        }
    }

    /// Disjunction, simplified (`False` dropped, `True` absorbs, nested `Any` flattened).
    pub fn any(items: impl IntoIterator<Item = Cond>) -> Cond {
        let mut out = Vec::new();
        for c in items {
            match c {
                Cond::False => {}
                Cond::True => return Cond::True,
                Cond::Any(inner) => out.extend(inner),
                c => out.push(c),
            }
        }
        match out.len() {
            0 => Cond::False,
            1 => out.pop().unwrap_or(Cond::False),
            _ => Cond::Any(out),
        }
    }

    /// The negation, with `not` pushed down to the operators (De Morgan).
    pub fn negate(self) -> Cond {
        match self {
            Cond::True => Cond::False,
            Cond::False => Cond::True,
            Cond::Leaf(op, value) => Cond::Leaf(op.negate(), value),
            Cond::All(items) => Cond::any(items.into_iter().map(Cond::negate)),
            Cond::Any(items) => Cond::all(items.into_iter().map(Cond::negate)),
        }
    }

    /// Whether an entity with this `$datasource` matches (as Port's search would decide).
    pub fn matches(&self, datasource: &str) -> bool {
        match self {
            Cond::True => true,
            Cond::False => false,
            Cond::Leaf(op, value) => op.test(datasource, value),
            Cond::All(items) => items.iter().all(|c| c.matches(datasource)),
            Cond::Any(items) => items.iter().any(|c| c.matches(datasource)),
        }
    }

    /// Port's search query for the condition; `None` when it matches nothing.
    pub fn to_query(&self) -> Option<Value> {
        match self {
            Cond::False => None,
            Cond::True => Some(json!({"combinator": "and", "rules": []})),
            Cond::Leaf(..) => Some(json!({"combinator": "and", "rules": [self.to_rule()]})),
            Cond::All(_) | Cond::Any(_) => Some(self.to_rule()),
        }
    }

    fn to_rule(&self) -> Value {
        match self {
            Cond::Leaf(op, value) => {
                json!({"property": "$datasource", "operator": op.name(), "value": value})
            }
            Cond::All(items) => {
                json!({"combinator": "and", "rules": items.iter().map(Cond::to_rule).collect::<Vec<_>>()})
            }
            Cond::Any(items) => {
                json!({"combinator": "or", "rules": items.iter().map(Cond::to_rule).collect::<Vec<_>>()})
            }
            // Simplification removes constants from compound conditions.
            Cond::True => json!({"combinator": "and", "rules": []}),
            Cond::False => json!({"combinator": "or", "rules": []}),
        }
    }
}

/// Everything this installation wrote: `port-aws-sync/… (integration/<id>; account/…`.
pub fn owned_cond(integration: &str) -> Cond {
    Cond::all([
        Cond::leaf(Op::BeginsWith, datasource_prefix()),
        Cond::leaf(
            Op::Contains,
            format!("(integration/{integration}; account/"),
        ),
    ])
}

/// What was written for one account, any region.
fn account_marker(account_id: &str) -> String {
    format!("; account/{account_id}; region/")
}

/// What was written for one region (or `global`), any account.
fn region_suffix(region: &str) -> String {
    format!("; region/{region})")
}

/// Regions a policy allows, as a condition on the `$datasource`'s region.
pub fn allows_cond(policy: &RegionPolicy) -> Cond {
    let allow = if policy.allow.is_empty() {
        Cond::True
    } else {
        Cond::any(
            policy
                .allow
                .iter()
                .map(|r| Cond::leaf(Op::EndsWith, region_suffix(r))),
        )
    };
    Cond::all(
        std::iter::once(allow).chain(
            policy
                .deny
                .iter()
                .map(|r| Cond::leaf(Op::NotEndsWith, region_suffix(r))),
        ),
    )
}

/// What a run knows about the scopes it does not plan, from discovery and the configuration.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScopeFacts {
    pub integration: String,
    /// Accounts the run syncs.
    pub targets: BTreeSet<String>,
    /// Accounts that could not be reached this run (AssumeRole or DescribeRegions failed), with why.
    pub unreachable: BTreeMap<String, String>,
    /// Accounts that exist but are not synced (excluded, outside the OUs, not ACTIVE yet), with why.
    pub unsynced: BTreeMap<String, String>,
    /// Accounts that are gone (SUSPENDED or CLOSED), with their state.
    pub closed: BTreeMap<String, String>,
    /// Every account of the organization, when the whole organization was listed.
    pub members: Option<BTreeSet<String>>,
    /// `REGION_POLICY`.
    pub region_policy: RegionPolicy,
    /// Per blueprint, where a configured kind still writes it (a condition on the region);
    /// `None` when a configured kind computes its blueprint per object.
    pub written: Option<BTreeMap<String, Cond>>,
}

impl ScopeFacts {
    /// Gathers the facts of a run (not narrowed) from its discovery and configuration.
    pub fn new(
        integration: &str,
        discovery: &Discovery,
        region_policy: &RegionPolicy,
        kinds: &[Kind],
        mapper: &Mapper,
    ) -> ScopeFacts {
        let targets: BTreeSet<String> = discovery
            .targets
            .iter()
            .map(|t| t.account.id.clone())
            .collect();
        let unreachable: BTreeMap<String, String> = discovery
            .failed
            .iter()
            .map(|f| (f.id.clone(), f.reason.clone()))
            .collect();
        let mut closed = BTreeMap::new();
        let mut unsynced = BTreeMap::new();
        for s in &discovery.skipped {
            if GONE_STATES.contains(&s.reason.as_str()) {
                closed.insert(s.id.clone(), s.reason.clone());
            } else {
                unsynced.insert(s.id.clone(), s.reason.clone());
            }
        }
        let mut members = None;
        if let Some(all) = &discovery.organization_members {
            for (id, state) in all {
                if targets.contains(id) || unreachable.contains_key(id) {
                    continue;
                }
                if GONE_STATES.contains(&state.as_str()) {
                    closed.insert(id.clone(), state.clone());
                    unsynced.remove(id);
                } else if !closed.contains_key(id) && !unsynced.contains_key(id) {
                    unsynced.insert(
                        id.clone(),
                        format!("{state} in the organization but not synced (outside ORGANIZATIONAL_UNIT_IDS)"),
                    );
                }
            }
            members = Some(all.keys().cloned().collect());
        }
        ScopeFacts {
            integration: integration.to_owned(),
            targets,
            unreachable,
            unsynced,
            closed,
            members,
            region_policy: region_policy.clone(),
            written: written_blueprints(kinds, mapper),
        }
    }

    /// Accounts whose entities are never deleted for a disappeared scope.
    fn protected_accounts(&self) -> impl Iterator<Item = &String> {
        self.unreachable.keys().chain(self.unsynced.keys())
    }
}

/// Per blueprint, where the configured kinds write it; `None` when one computes its blueprint per
/// object (then no blueprint can be said to be unwritten).
pub fn written_blueprints(kinds: &[Kind], mapper: &Mapper) -> Option<BTreeMap<String, Cond>> {
    let mut written: BTreeMap<String, Vec<Cond>> = BTreeMap::new();
    for &kind in &configured_kinds(kinds, mapper) {
        let blueprints = mapper.blueprints(kind)?;
        let where_written = match kind.scope() {
            KindScope::Account => Cond::leaf(Op::EndsWith, region_suffix(GLOBAL)),
            KindScope::Regional => {
                let policies = mapper
                    .config()
                    .resources
                    .iter()
                    .filter(|r| Kind::parse(&r.kind) == Some(kind))
                    .map(|r| allows_cond(&r.selector.region_policy.clone().unwrap_or_default()));
                Cond::all([
                    Cond::leaf(Op::NotEndsWith, region_suffix(GLOBAL)),
                    Cond::any(policies),
                ])
            }
        };
        for bp in blueprints {
            written.entry(bp).or_default().push(where_written.clone());
        }
    }
    Some(
        written
            .into_iter()
            .map(|(bp, conds)| (bp, Cond::any(conds)))
            .collect(),
    )
}

/// Whether a class of entities is deleted or only reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Verdict {
    Delete,
    Keep,
}

/// A class of owned entities of one blueprint, outside the plan, with what to do and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Class {
    pub verdict: Verdict,
    pub reason: String,
    /// Matches the class's entities among this installation's (combine with [`owned_cond`]).
    pub cond: Cond,
}

fn list_accounts<'a>(ids: impl IntoIterator<Item = &'a String>) -> String {
    let ids: Vec<&String> = ids.into_iter().collect();
    let mut out = ids
        .iter()
        .take(LISTED_ACCOUNTS)
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    if ids.len() > LISTED_ACCOUNTS {
        out.push_str(&format!(" and {} more", ids.len() - LISTED_ACCOUNTS));
    }
    out
}

/// Entities written for any of these accounts.
fn any_account<'a>(ids: impl IntoIterator<Item = &'a String>) -> Cond {
    Cond::any(
        ids.into_iter()
            .map(|a| Cond::leaf(Op::Contains, account_marker(a))),
    )
}

/// The classes of one blueprint's owned entities outside the plan, in priority order.
/// `relation_target`: the blueprint is the target of a relation of a blueprint still written, so
/// Port may hold placeholders for it written with another scope's `$datasource`: entities of it
/// are deleted only with their whole account.
pub fn classes_for(facts: &ScopeFacts, blueprint: &str, relation_target: bool) -> Vec<Class> {
    let mut out = Vec::new();
    if !facts.closed.is_empty() {
        let listed: Vec<String> = facts
            .closed
            .iter()
            .map(|(id, state)| format!("{id} {state}"))
            .collect();
        out.push(Class {
            verdict: Verdict::Delete,
            reason: format!("account closed ({})", list_accounts(&listed)),
            cond: any_account(facts.closed.keys()),
        });
    }
    if let Some(members) = facts.members.as_ref().filter(|m| !m.is_empty()) {
        out.push(Class {
            verdict: Verdict::Delete,
            reason: "account no longer in the organization".into(),
            cond: Cond::all(
                members
                    .iter()
                    .map(|m| Cond::leaf(Op::NotContains, account_marker(m))),
            ),
        });
    }
    let unprotected = Cond::all(
        facts
            .protected_accounts()
            .map(|a| Cond::leaf(Op::NotContains, account_marker(a))),
    );
    let scoped = |reason: String, cond: Cond| {
        if relation_target {
            Class {
                verdict: Verdict::Keep,
                reason: format!("{reason}, but {blueprint} is the target of relations (Port may hold placeholders for it): kept"),
                cond,
            }
        } else {
            Class {
                verdict: Verdict::Delete,
                reason,
                cond,
            }
        }
    };
    let denied = Cond::all([
        unprotected.clone(),
        Cond::leaf(Op::NotEndsWith, region_suffix(GLOBAL)),
        allows_cond(&facts.region_policy).negate(),
    ]);
    if denied != Cond::False {
        out.push(scoped("region denied by REGION_POLICY".into(), denied));
    }
    if let Some(written) = &facts.written {
        let reason = match written.get(blueprint) {
            None => format!("no configured kind writes {blueprint} any more"),
            Some(_) => "kind no longer configured or mapped in this region".into(),
        };
        let unwritten = written
            .get(blueprint)
            .cloned()
            .unwrap_or(Cond::False)
            .negate();
        let cond = Cond::all([unprotected, unwritten]);
        if cond != Cond::False {
            out.push(scoped(reason, cond));
        }
    }
    if !facts.unreachable.is_empty() {
        out.push(Class {
            verdict: Verdict::Keep,
            reason: format!(
                "account could not be reached this run ({}): kept",
                list_accounts(facts.unreachable.keys())
            ),
            cond: any_account(facts.unreachable.keys()),
        });
    }
    let mut by_reason: BTreeMap<&str, Vec<&String>> = BTreeMap::new();
    for (id, reason) in &facts.unsynced {
        by_reason.entry(reason.as_str()).or_default().push(id);
    }
    for (reason, ids) in by_reason {
        out.push(Class {
            verdict: Verdict::Keep,
            reason: format!(
                "account not synced: {reason} ({}): kept",
                list_accounts(ids.iter().copied())
            ),
            cond: any_account(ids),
        });
    }
    out
}

/// Turns a deleting class that would match a planned unit's own `$datasource` into a kept one:
/// the classes are built so this cannot happen, and deleting live entities is the one thing this
/// code must never do.
pub fn refuse_planned(
    classes: Vec<Class>,
    blueprint: &str,
    integration: &str,
    units: &[Unit],
    mapper: &Mapper,
) -> Vec<Class> {
    let owned = owned_cond(integration);
    classes
        .into_iter()
        .map(|class| {
            if class.verdict != Verdict::Delete {
                return class;
            }
            let clash = units.iter().find(|u| {
                let writes = mapper
                    .blueprints(u.kind)
                    .is_none_or(|bps| bps.contains(blueprint));
                let ua = user_agent(integration, &u.account.id, &u.region);
                writes && owned.matches(&ua) && class.cond.matches(&ua)
            });
            match clash {
                None => class,
                Some(u) => {
                    tracing::error!(unit = %u.label(), blueprint, reason = %class.reason, "a disappeared-scope class matches a planned unit: kept (a bug, please report it)");
                    Class {
                        verdict: Verdict::Keep,
                        reason: format!(
                            "{} (would touch planned unit {}: kept)",
                            class.reason,
                            u.label()
                        ),
                        cond: class.cond,
                    }
                }
            }
        })
        .collect()
}

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
pub struct ScopeReport {
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

impl ScopeReport {
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
    client: &PortClient,
    ua: &str,
) -> Result<BTreeMap<String, BTreeSet<String>>, PortError> {
    let body = client
        .request(Method::GET, "/blueprints", &[], None, Some(ua))
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
pub async fn reconcile_scopes(
    engine: &Engine,
    discovery: &Discovery,
    units: &[Unit],
    scope: &Scope,
    cleanup: &Cleanup,
    started_at: SystemTime,
) -> ScopeReport {
    let mut report = ScopeReport {
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
    if let Err(reason) = judge(engine, &facts, units, cleanup, started_at, &mut report).await {
        tracing::warn!(reason = %reason, "disappeared scopes: nothing deleted");
        report.skipped = Some(reason);
    }
    report
}

/// Candidates to delete: blueprint → reason → identifiers.
type Candidates = BTreeMap<String, BTreeMap<String, Vec<String>>>;

async fn judge(
    engine: &Engine,
    facts: &ScopeFacts,
    units: &[Unit],
    cleanup: &Cleanup,
    started_at: SystemTime,
    report: &mut ScopeReport,
) -> Result<(), String> {
    let client = &cleanup.client;
    let ua = cleanup_user_agent(&cleanup.integration);
    let relations = list_blueprints(client, &ua)
        .await
        .map_err(|e| format!("listing blueprints failed, so nothing was deleted: {e}"))?;
    // Blueprints that may hold placeholders: targets of relations of blueprints still written
    // (of every blueprint, when the written ones are unknown).
    let relation_targets: BTreeSet<String> = relations
        .iter()
        .filter(|(bp, _)| facts.written.as_ref().is_none_or(|w| w.contains_key(*bp)))
        .flat_map(|(_, targets)| targets.iter().cloned())
        .collect();
    let owned = owned_cond(&facts.integration);
    let owned_query = owned.to_query().unwrap_or(Value::Null);
    let started = DateTime::from(started_at);
    let mut candidates: Candidates = BTreeMap::new();
    for blueprint in relations.keys() {
        let found = client
            .search_entities(blueprint, owned_query.clone(), &["$identifier"])
            .await
            .map_err(|e| {
                format!("listing owned entities of {blueprint} failed, so nothing was deleted: {e}")
            })?;
        if found.is_empty() {
            continue;
        }
        report.owned += found.len();
        let classes = refuse_planned(
            classes_for(facts, blueprint, relation_targets.contains(blueprint)),
            blueprint,
            &facts.integration,
            units,
            &engine.mapper,
        );
        let mut seen: BTreeSet<String> = BTreeSet::new();
        for class in classes {
            let Some(query) = Cond::all([owned.clone(), class.cond.clone()]).to_query() else {
                continue;
            };
            let hits = client
                .search_entities(blueprint, query, &["$identifier", "$updatedAt"])
                .await
                .map_err(|e| {
                    format!(
                        "searching {blueprint} for `{}` failed, so nothing was deleted: {e}",
                        class.reason
                    )
                })?;
            for entity in Owned::from_search(&hits) {
                if !seen.insert(entity.identifier.clone()) {
                    continue;
                }
                match class.verdict {
                    Verdict::Keep => report.keep(&class.reason, blueprint, 1),
                    Verdict::Delete if entity.updated_since(started) => {
                        report.keep("written during this run: kept", blueprint, 1)
                    }
                    Verdict::Delete => candidates
                        .entry(blueprint.clone())
                        .or_default()
                        .entry(class.reason.clone())
                        .or_default()
                        .push(entity.identifier),
                }
            }
        }
    }
    let total: usize = candidates
        .values()
        .flat_map(|m| m.values())
        .map(Vec::len)
        .sum();
    if total == 0 {
        return Ok(());
    }
    if threshold_exceeded(total, report.owned, cleanup.threshold) {
        for (bp, by_reason) in &candidates {
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
            threshold = cleanup.threshold,
            "run-level deletion threshold tripped: disappeared scopes kept"
        );
        return Err(threshold_reason(
            total,
            report.owned,
            cleanup.threshold,
            "owned by this installation, in scopes that disappeared,",
        ));
    }
    let order = deletion_order(&candidates.keys().cloned().collect(), &relations);
    for blueprint in order {
        let Some(by_reason) = candidates.remove(&blueprint) else {
            continue;
        };
        for (reason, ids) in by_reason {
            let deleted = if cleanup.preview {
                tracing::info!(blueprint = %blueprint, reason = %reason, count = ids.len(), "dry run: would delete entities of a disappeared scope");
                ids.len()
            } else {
                let (deleted, error) =
                    delete_in_batches(client, &blueprint, &ids, cleanup.delete_dependents, &ua)
                        .await;
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
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discovery::{Account, AccountTarget, FailedAccount, SkippedAccount};

    const ID: &str = "prod";

    fn ua(account: &str, region: &str) -> String {
        user_agent(ID, account, region)
    }

    fn policy(allow: &[&str], deny: &[&str]) -> RegionPolicy {
        RegionPolicy {
            allow: allow.iter().map(|s| s.to_string()).collect(),
            deny: deny.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn target(id: &str, regions: &[&str]) -> AccountTarget {
        AccountTarget {
            account: Account::bare(id, "aws", None),
            regions: regions.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// An organization: 111 synced, 222 SUSPENDED, 333 unreachable, 444 excluded, 555 outside
    /// the OUs; 999 left the organization.
    fn org_discovery() -> Discovery {
        Discovery {
            targets: vec![target("111111111111", &["us-east-1", "eu-west-1"])],
            skipped: vec![
                SkippedAccount {
                    id: "222222222222".into(),
                    name: None,
                    reason: "SUSPENDED".into(),
                },
                SkippedAccount {
                    id: "444444444444".into(),
                    name: None,
                    reason: "excluded by EXCLUDED_ACCOUNT_IDS".into(),
                },
            ],
            failed: vec![FailedAccount {
                id: "333333333333".into(),
                role_arn: None,
                reason: "Unable to assume role".into(),
            }],
            organization_members: Some(
                [
                    ("111111111111", "ACTIVE"),
                    ("222222222222", "SUSPENDED"),
                    ("333333333333", "ACTIVE"),
                    ("444444444444", "ACTIVE"),
                    ("555555555555", "ACTIVE"),
                ]
                .into_iter()
                .map(|(a, s)| (a.to_owned(), s.to_owned()))
                .collect(),
            ),
        }
    }

    fn facts(discovery: &Discovery, region_policy: &RegionPolicy, kinds: &[Kind]) -> ScopeFacts {
        ScopeFacts::new(ID, discovery, region_policy, kinds, &Mapper::builtin())
    }

    /// The first class matching a datasource among this installation's entities.
    fn verdict(classes: &[Class], datasource: &str) -> Option<(Verdict, String)> {
        let owned = owned_cond(ID);
        classes
            .iter()
            .find(|c| owned.matches(datasource) && c.cond.matches(datasource))
            .map(|c| (c.verdict, c.reason.clone()))
    }

    #[test]
    fn conditions_simplify_and_negate_down_to_operators() {
        let a = Cond::leaf(Op::EndsWith, "a");
        let b = Cond::leaf(Op::Contains, "b");
        assert_eq!(Cond::all([Cond::True, a.clone()]), a);
        assert_eq!(Cond::all([Cond::False, a.clone()]), Cond::False);
        assert_eq!(Cond::any([Cond::False]), Cond::False);
        assert_eq!(Cond::any(Vec::new()), Cond::False);
        assert_eq!(Cond::all(Vec::new()), Cond::True);
        let both = Cond::all([a.clone(), b.clone()]);
        assert_eq!(
            both.clone().negate(),
            Cond::Any(vec![
                Cond::leaf(Op::NotEndsWith, "a"),
                Cond::leaf(Op::NotContains, "b")
            ])
        );
        for s in ["xa", "xb", "bxa", "", "ab"] {
            assert_eq!(both.clone().negate().matches(s), !both.matches(s), "{s}");
        }
        assert_eq!(Cond::False.to_query(), None);
        assert_eq!(
            both.to_query().unwrap(),
            json!({"combinator": "and", "rules": [
                {"property": "$datasource", "operator": "endsWith", "value": "a"},
                {"property": "$datasource", "operator": "contains", "value": "b"}]})
        );
    }

    #[test]
    fn owned_condition_matches_only_this_installation() {
        let owned = owned_cond(ID);
        assert!(owned.matches(&ua("111111111111", "us-east-1")));
        assert!(owned.matches("port-aws-sync/0.0.1 (integration/prod; account/1; region/global)"));
        for foreign in [
            user_agent("x-prod", "111111111111", "us-east-1"),
            user_agent("prod-2", "111111111111", "us-east-1"),
            "Mozilla/5.0 (integration/prod; account/111111111111; region/us-east-1)".into(),
            "port-ocean/aws-v3/0.1/prod/exporter".into(),
        ] {
            assert!(!owned.matches(&foreign), "{foreign}");
        }
    }

    #[test]
    fn policy_conditions_agree_with_the_policy() {
        for p in [
            policy(&[], &[]),
            policy(&["us-east-1"], &[]),
            policy(&[], &["eu-west-1"]),
            policy(&["us-east-1", "eu-west-1"], &["eu-west-1"]),
        ] {
            let cond = allows_cond(&p);
            for r in ["us-east-1", "eu-west-1", "ap-south-1", "xx-new-9"] {
                assert_eq!(cond.matches(&ua("1", r)), p.allows(r), "{p:?} {r}");
            }
        }
    }

    #[test]
    fn classifies_every_scope_outside_the_plan() {
        let f = facts(
            &org_discovery(),
            &policy(&["us-east-1", "eu-west-1"], &[]),
            &[Kind::AccountInfo, Kind::S3Bucket, Kind::Ec2Instance],
        );
        let ec2 = classes_for(&f, "ec2Instance", false);
        let v = |ds: &str| {
            verdict(&ec2, ds).map(|(v, r)| (v, r.split(' ').next().unwrap_or("").to_owned()))
        };
        // Planned scopes: never matched.
        assert_eq!(verdict(&ec2, &ua("111111111111", "us-east-1")), None);
        assert_eq!(verdict(&ec2, &ua("111111111111", "eu-west-1")), None);
        // Closed account: every region.
        let (verdict_closed, reason) = verdict(&ec2, &ua("222222222222", "us-east-1")).unwrap();
        assert_eq!(verdict_closed, Verdict::Delete);
        assert!(reason.contains("222222222222 SUSPENDED"), "{reason}");
        // Left the organization.
        assert_eq!(
            verdict(&ec2, &ua("999999999999", "us-east-1")),
            Some((
                Verdict::Delete,
                "account no longer in the organization".into()
            ))
        );
        // Unreachable, excluded, outside the OUs: kept, even in a denied region.
        for (acct, word) in [
            ("333333333333", "could not be reached"),
            ("444444444444", "EXCLUDED_ACCOUNT_IDS"),
            ("555555555555", "outside ORGANIZATIONAL_UNIT_IDS"),
        ] {
            for region in ["us-east-1", "ap-south-1"] {
                let (verdict_kept, reason) = verdict(&ec2, &ua(acct, region)).unwrap();
                assert_eq!(verdict_kept, Verdict::Keep, "{acct} {region}");
                assert!(reason.contains(word), "{reason}");
            }
        }
        // A synced account's denied region.
        assert_eq!(
            v(&ua("111111111111", "ap-south-1")).unwrap(),
            (Verdict::Delete, "region".into())
        );
        // ECS is not configured any more: its blueprint goes, in the synced account only.
        let ecs = classes_for(&f, "ecsCluster", false);
        let (verdict_ecs, reason) = verdict(&ecs, &ua("111111111111", "us-east-1")).unwrap();
        assert_eq!(
            (verdict_ecs, reason.as_str()),
            (
                Verdict::Delete,
                "no configured kind writes ecsCluster any more"
            )
        );
        assert_eq!(
            verdict(&ecs, &ua("333333333333", "us-east-1")).unwrap().0,
            Verdict::Keep
        );
        // A regional blueprint written in `global` (or a global one in a region) is not planned.
        let (verdict_s3, _) = verdict(
            &classes_for(&f, "s3Bucket", false),
            &ua("111111111111", "us-east-1"),
        )
        .unwrap();
        assert_eq!(verdict_s3, Verdict::Delete);
        assert_eq!(
            verdict(
                &classes_for(&f, "s3Bucket", false),
                &ua("111111111111", "global")
            ),
            None
        );
    }

    #[test]
    fn placeholders_in_relation_targets_go_only_with_their_account() {
        let f = facts(&org_discovery(), &policy(&["us-east-1"], &[]), &Kind::ALL);
        let accounts = classes_for(&f, "awsAccount", true);
        // An awsAccount placeholder created by an EC2 unit carries the EC2 unit's region.
        assert_eq!(
            verdict(&accounts, &ua("111111111111", "us-east-1"))
                .unwrap()
                .0,
            Verdict::Keep
        );
        assert_eq!(
            verdict(&accounts, &ua("111111111111", "eu-west-1"))
                .unwrap()
                .0,
            Verdict::Keep
        );
        assert_eq!(verdict(&accounts, &ua("111111111111", "global")), None);
        assert_eq!(
            verdict(&accounts, &ua("222222222222", "us-east-1"))
                .unwrap()
                .0,
            Verdict::Delete
        );
        assert_eq!(
            verdict(&accounts, &ua("222222222222", "global")).unwrap().0,
            Verdict::Delete
        );
    }

    #[test]
    fn selector_region_policy_unwrites_a_region_and_new_regions_stay_planned() {
        let mapper = Mapper::from_yaml(
            r#"
resources:
  - kind: AWS::EC2::Instance
    selector: {regionPolicy: {deny: [eu-west-1]}}
    port: {entity: {mappings: {identifier: .Properties.InstanceId, blueprint: '"ec2Instance"'}}}
"#,
        )
        .unwrap();
        let discovery = Discovery {
            targets: vec![target(
                "111111111111",
                &["us-east-1", "eu-west-1", "xx-new-9"],
            )],
            ..Default::default()
        };
        let f = ScopeFacts::new(
            ID,
            &discovery,
            &RegionPolicy::default(),
            &Kind::ALL,
            &mapper,
        );
        let ec2 = classes_for(&f, "ec2Instance", false);
        assert_eq!(
            verdict(&ec2, &ua("111111111111", "eu-west-1")).unwrap().0,
            Verdict::Delete
        );
        assert_eq!(verdict(&ec2, &ua("111111111111", "us-east-1")), None);
        assert_eq!(verdict(&ec2, &ua("111111111111", "xx-new-9")), None);
        // No organization: other accounts are not judged gone (an unknown account is not closed).
        assert_eq!(verdict(&ec2, &ua("222222222222", "us-east-1")), None);
    }

    #[test]
    fn per_object_blueprints_stop_removed_kind_judgement_but_not_region_policy() {
        let mapper = Mapper::from_yaml(
            r#"
resources:
  - kind: AWS::EC2::Instance
    port: {entity: {mappings: {identifier: .Properties.InstanceId, blueprint: '"ec2-" + .Properties.InstanceType'}}}
"#,
        )
        .unwrap();
        let discovery = Discovery {
            targets: vec![target("111111111111", &["us-east-1"])],
            ..Default::default()
        };
        let f = ScopeFacts::new(
            ID,
            &discovery,
            &policy(&["us-east-1"], &[]),
            &Kind::ALL,
            &mapper,
        );
        assert_eq!(f.written, None);
        let any = classes_for(&f, "anything", false);
        assert_eq!(verdict(&any, &ua("111111111111", "us-east-1")), None);
        assert_eq!(verdict(&any, &ua("111111111111", "global")), None);
        assert_eq!(
            verdict(&any, &ua("111111111111", "eu-west-1")).unwrap().0,
            Verdict::Delete
        );
    }

    #[test]
    fn refuses_a_class_that_would_touch_a_planned_unit() {
        let discovery = org_discovery();
        let units = crate::sync::plan_units("s", &discovery, &Kind::ALL, &Mapper::builtin());
        let wrong = Class {
            verdict: Verdict::Delete,
            reason: "bad".into(),
            cond: Cond::leaf(Op::EndsWith, "; region/us-east-1)"),
        };
        let checked = refuse_planned(vec![wrong], "ec2Instance", ID, &units, &Mapper::builtin());
        assert_eq!(checked[0].verdict, Verdict::Keep);
        assert!(
            checked[0]
                .reason
                .contains("would touch planned unit 111111111111/us-east-1"),
            "{}",
            checked[0].reason
        );
        // The real classes never clash with the plan.
        let f = facts(
            &discovery,
            &policy(&["us-east-1", "eu-west-1"], &[]),
            &Kind::ALL,
        );
        for bp in [
            "awsAccount",
            "s3Bucket",
            "ec2Instance",
            "ecsCluster",
            "other",
        ] {
            let classes = classes_for(&f, bp, false);
            assert_eq!(
                refuse_planned(classes.clone(), bp, ID, &units, &Mapper::builtin()),
                classes
            );
        }
    }

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
