//! What a run knows about the scopes its plan does not cover, from discovery and the
//! configuration: which accounts are gone (closed, left the organization), which are merely
//! unreachable or not synced, which regions are denied, and where each blueprint is still
//! written. Pure: no AWS or Port calls.

use super::datasource::{allows_cond, region_suffix, Cond, Op};
use crate::config::RegionPolicy;
use crate::discovery::Discovery;
use crate::kinds::{Kind, KindScope};
use crate::mapping::Mapper;
use crate::sync::plan::{configured_kinds, GLOBAL};
use std::collections::{BTreeMap, BTreeSet};

/// Account states that mean the account is gone (Organizations `State`/`Status`).
pub const GONE_STATES: [&str; 2] = ["SUSPENDED", "CLOSED"];

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
    pub(super) fn protected_accounts(&self) -> impl Iterator<Item = &String> {
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
            KindScope::Account | KindScope::Organization => {
                Cond::leaf(Op::EndsWith, region_suffix(GLOBAL))
            }
            KindScope::Regional => {
                let policies = mapper
                    .config()
                    .resources
                    .iter()
                    .filter(|r| Kind::resolve(&r.kind).ok() == Some(kind))
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
