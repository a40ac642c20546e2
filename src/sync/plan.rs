//! Planning: the units `(account, region, kind)` of a run, held as one group of kinds per
//! `(account, region)` ([`Plan`]).

use crate::config::{is_known_region, Config, RegionPolicy};
use crate::discovery::{Account, Discovery};
use crate::kinds::{Kind, KindScope};
use crate::mapping::Mapper;
use serde::Serialize;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

/// The region of account-scoped units.
pub const GLOBAL: &str = "global";

/// One unit of work: one kind in one region of one account, with how to reach the account. Sent
/// to the queue within its account-region's [`crate::lambda::work_item::WorkItem`], which names
/// the account only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Unit {
    pub sync_id: String,
    pub account: Account,
    /// A region, or `global` for account-scoped kinds.
    pub region: String,
    pub kind: Kind,
}

impl Unit {
    /// `account/region/kind`, for logs and summaries.
    pub fn label(&self) -> String {
        format!("{}/{}/{}", self.account.id, self.region, self.kind)
    }
}

/// A value of a narrowed scope that is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    #[error("`{0}` is not a 12-digit account id")]
    Account(String),
    #[error("unknown region `{0}` (expected names such as us-east-1)")]
    Region(String),
    #[error("unknown kind `{0}` (supported: {supported})", supported = crate::kinds::native_names())]
    Kind(String),
}

/// A narrower scope than the configuration (CLI flags, manual fan-out payload).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    pub accounts: Option<BTreeSet<String>>,
    pub regions: Option<BTreeSet<String>>,
    pub kinds: Option<Vec<Kind>>,
}

impl Scope {
    /// Builds a scope from lists given by a person (CLI flags, a manual fan-out payload), checking
    /// each value. Empty lists mean "no narrowing". Errors name the offending value.
    pub fn from_lists(
        accounts: &[String],
        regions: &[String],
        kinds: &[String],
    ) -> Result<Scope, ScopeError> {
        let mut scope = Scope::default();
        if !accounts.is_empty() {
            if let Some(bad) = accounts.iter().find(|a| !crate::arn::is_account_id(a)) {
                return Err(ScopeError::Account(bad.clone()));
            }
            scope.accounts = Some(accounts.iter().cloned().collect());
        }
        if !regions.is_empty() {
            if let Some(bad) = regions.iter().find(|r| !is_known_region(r)) {
                return Err(ScopeError::Region(bad.clone()));
            }
            scope.regions = Some(regions.iter().cloned().collect());
        }
        if !kinds.is_empty() {
            let mut parsed = Vec::new();
            for name in kinds {
                let kind =
                    Kind::parse(name.trim()).ok_or_else(|| ScopeError::Kind(name.clone()))?;
                if !parsed.contains(&kind) {
                    parsed.push(kind);
                }
            }
            scope.kinds = Some(parsed);
        }
        Ok(scope)
    }

    /// The configured region policy narrowed to the scope's regions.
    pub fn region_policy(&self, config: &Config) -> RegionPolicy {
        match &self.regions {
            None => config.region_policy.clone(),
            Some(regions) => config.region_policy.and(&RegionPolicy {
                allow: regions.clone(),
                deny: BTreeSet::new(),
            }),
        }
    }

    /// Kinds to run: configured, mapped by the mapping, and in the scope.
    pub fn kinds(&self, config: &Config, mapper: &Mapper) -> Vec<Kind> {
        configured_kinds(&config.kinds, mapper)
            .into_iter()
            .filter(|k| self.kinds.as_ref().is_none_or(|only| only.contains(k)))
            .collect()
    }
}

/// The configured kinds: the native kinds in `KINDS` that the mapping maps, in `KINDS` order,
/// then the Cloud Control kinds the mapping maps (`KINDS` lists native kinds only). Narrowing a
/// run does not change them.
pub fn configured_kinds(kinds: &[Kind], mapper: &Mapper) -> Vec<Kind> {
    let mapped = mapper.kinds();
    let native = kinds.iter().copied().filter(|k| mapped.contains(k));
    let cloud_control = mapped.iter().copied().filter(|k| k.spec().is_none());
    native.chain(cloud_control).collect()
}

/// The units of a run, in a stable order (account, kind, region): [`Plan::units`], collected.
pub fn plan_units(
    sync_id: &str,
    discovery: &Discovery,
    kinds: &[Kind],
    mapper: &Mapper,
) -> Vec<Unit> {
    Plan::new(sync_id, discovery, kinds, mapper)
        .units()
        .collect()
}

/// The plan of a run, compact: one group per `(account, region)` with the kinds it runs there
/// (the fan-out sends one work item per group). Each account is held once, and the kinds of a
/// region are shared by every account that runs them, so a plan of 1,000 accounts × 17 regions ×
/// every kind is about 18,000 small groups, not 650,000 units. [`Plan::units`] expands it into
/// units where they are run in process (the CLI) or listed (`plan`, a dry run).
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub sync_id: String,
    /// The run's kinds, in run order (the units of an account follow it).
    kinds: Vec<Kind>,
    /// The organization's group first (when it has one), then one entry per target account.
    accounts: Vec<AccountPlan>,
}

/// One account's groups: `global` first (account-scoped kinds), then its regions in discovery
/// order.
#[derive(Debug, Clone)]
pub struct AccountPlan {
    pub account: Account,
    pub groups: Vec<Group>,
}

/// What runs in one region (or `global`) of one account.
#[derive(Debug, Clone)]
pub struct Group {
    pub region: String,
    /// Never empty.
    pub kinds: Arc<[Kind]>,
}

impl Plan {
    /// Plans a run: organization-scoped kinds once, in the organization account (see
    /// [`organization_units`]); account-scoped kinds in `global`; regional kinds in each of the
    /// account's regions the mapping wants them in.
    pub fn new(sync_id: &str, discovery: &Discovery, kinds: &[Kind], mapper: &Mapper) -> Plan {
        let mut accounts = Vec::new();
        let organization: Vec<Kind> = organization_units(sync_id, discovery, kinds)
            .into_iter()
            .map(|u| u.kind)
            .collect();
        if let (Some(account), false) = (&discovery.organization_account, organization.is_empty()) {
            accounts.push(AccountPlan {
                account: account.clone(),
                groups: vec![Group {
                    region: GLOBAL.to_owned(),
                    kinds: organization.into(),
                }],
            });
        }
        let global: Arc<[Kind]> = kinds
            .iter()
            .copied()
            .filter(|k| k.scope() == KindScope::Account)
            .collect();
        // The kinds of a region are the same for every account: made once, shared.
        let mut regional: HashMap<&str, Arc<[Kind]>> = HashMap::new();
        for target in &discovery.targets {
            let mut groups = Vec::with_capacity(target.regions.len() + 1);
            if !global.is_empty() {
                groups.push(Group {
                    region: GLOBAL.to_owned(),
                    kinds: global.clone(),
                });
            }
            for region in &target.regions {
                let kinds = regional
                    .entry(region.as_str())
                    .or_insert_with(|| {
                        kinds
                            .iter()
                            .copied()
                            .filter(|k| {
                                k.scope() == KindScope::Regional && mapper.region_wanted(*k, region)
                            })
                            .collect()
                    })
                    .clone();
                if !kinds.is_empty() {
                    groups.push(Group {
                        region: region.clone(),
                        kinds,
                    });
                }
            }
            if !groups.is_empty() {
                accounts.push(AccountPlan {
                    account: target.account.clone(),
                    groups,
                });
            }
        }
        Plan {
            sync_id: sync_id.to_owned(),
            kinds: kinds.to_vec(),
            accounts,
        }
    }

    /// The accounts and their groups, the organization's group first.
    pub fn accounts(&self) -> &[AccountPlan] {
        &self.accounts
    }

    /// Every group with its account.
    pub fn groups(&self) -> impl Iterator<Item = (&Account, &Group)> + '_ {
        self.accounts
            .iter()
            .flat_map(|a| a.groups.iter().map(move |g| (&a.account, g)))
    }

    /// Number of groups (work items, when no group has more kinds than an item carries).
    pub fn group_count(&self) -> usize {
        self.accounts.iter().map(|a| a.groups.len()).sum()
    }

    /// Number of units.
    pub fn unit_count(&self) -> usize {
        self.groups().map(|(_, g)| g.kinds.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.accounts.is_empty()
    }

    /// The kinds that have at least one unit, in run order.
    pub fn kinds(&self) -> Vec<Kind> {
        let planned: BTreeSet<Kind> = self
            .groups()
            .flat_map(|(_, g)| g.kinds.iter().copied())
            .collect();
        self.kinds
            .iter()
            .copied()
            .filter(|k| planned.contains(k))
            .collect()
    }

    /// The units, made one at a time, in a stable order: the organization's, then per account,
    /// per kind, per region (as `port-aws-sync plan` lists them).
    pub fn units(&self) -> impl Iterator<Item = Unit> + '_ {
        self.accounts.iter().flat_map(move |a| {
            self.kinds.iter().flat_map(move |&kind| {
                a.groups
                    .iter()
                    .filter(move |g| g.kinds.contains(&kind))
                    .map(move |g| Unit {
                        sync_id: self.sync_id.clone(),
                        account: a.account.clone(),
                        region: g.region.clone(),
                        kind,
                    })
            })
        })
    }

    /// An index to ask whether the plan has a unit `(account, region, kind)`.
    pub fn index(&self) -> PlanIndex<'_> {
        let mut by_account: HashMap<&str, Vec<&AccountPlan>> = HashMap::new();
        for a in &self.accounts {
            by_account.entry(a.account.id.as_str()).or_default().push(a);
        }
        PlanIndex { by_account }
    }
}

/// See [`Plan::index`].
pub struct PlanIndex<'a> {
    by_account: HashMap<&'a str, Vec<&'a AccountPlan>>,
}

impl PlanIndex<'_> {
    /// Whether the plan runs `kind` in `region` of `account_id`.
    pub fn covers(&self, account_id: &str, region: &str, kind: &str) -> bool {
        self.by_account.get(account_id).is_some_and(|plans| {
            plans.iter().any(|a| {
                a.groups
                    .iter()
                    .any(|g| g.region == region && g.kinds.iter().any(|k| k.name() == kind))
            })
        })
    }
}

/// One unit per organization-scoped kind, in the Organizations discovery role's account (region
/// `global`). Outside Organizations mode (single account, explicit roles) such a kind has no
/// management account to come from: it is skipped, and said so once.
fn organization_units(sync_id: &str, discovery: &Discovery, kinds: &[Kind]) -> Vec<Unit> {
    let organization_kinds = kinds
        .iter()
        .copied()
        .filter(|k| k.scope() == KindScope::Organization);
    let mut units = Vec::new();
    for kind in organization_kinds {
        match &discovery.organization_account {
            Some(account) => units.push(Unit {
                sync_id: sync_id.to_owned(),
                account: account.clone(),
                region: GLOBAL.to_owned(),
                kind,
            }),
            None => tracing::warn!(
                kind = %kind,
                "{kind} is skipped: it is synced only in Organizations mode (ORGANIZATION_ROLE_ARN), once per run from the management account, and this run has none"
            ),
        }
    }
    units
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discovery::AccountTarget;

    #[test]
    fn plans_account_kinds_once_and_regional_kinds_per_region() {
        let discovery = Discovery {
            targets: vec![AccountTarget {
                account: Account::bare("111111111111", "aws", None),
                regions: vec!["eu-west-1".into(), "us-east-1".into()],
            }],
            ..Default::default()
        };
        let mapper = Mapper::builtin();
        let kinds = configured_kinds(Kind::all(), &mapper);
        let units = plan_units("s1", &discovery, &kinds, &mapper);
        let labels: Vec<String> = units.iter().map(Unit::label).collect();
        assert_eq!(
            labels,
            vec![
                "111111111111/global/AWS::Account::Info",
                "111111111111/global/AWS::S3::Bucket",
                "111111111111/eu-west-1/AWS::EC2::Instance",
                "111111111111/us-east-1/AWS::EC2::Instance",
                "111111111111/eu-west-1/AWS::ECS::Cluster",
                "111111111111/us-east-1/AWS::ECS::Cluster",
            ]
        );
    }

    #[test]
    fn the_plan_holds_one_group_per_account_region_and_shares_the_kinds() {
        let target = |id: &str| AccountTarget {
            account: Account::bare(id, "aws", None),
            regions: vec!["eu-west-1".into(), "us-east-1".into()],
        };
        let discovery = Discovery {
            targets: vec![target("111111111111"), target("222222222222")],
            ..Default::default()
        };
        let mapper = Mapper::builtin();
        let kinds = configured_kinds(Kind::all(), &mapper);
        let plan = Plan::new("s1", &discovery, &kinds, &mapper);
        // Per account: global (account info, S3) and two regions (EC2, ECS).
        assert_eq!(plan.group_count(), 6);
        assert_eq!(plan.unit_count(), 12);
        assert_eq!(plan.units().count(), 12);
        let groups: Vec<_> = plan.groups().collect();
        let (a, b) = (&groups[1].1.kinds, &groups[4].1.kinds);
        assert_eq!(groups[1].1.region, groups[4].1.region);
        assert!(Arc::ptr_eq(a, b), "one list of kinds per region, shared");
        let index = plan.index();
        assert!(index.covers("222222222222", "us-east-1", "AWS::ECS::Cluster"));
        assert!(index.covers("111111111111", GLOBAL, "AWS::S3::Bucket"));
        assert!(!index.covers("111111111111", GLOBAL, "AWS::ECS::Cluster"));
        assert!(!index.covers("111111111111", "ap-south-1", "AWS::EC2::Instance"));
        assert!(!index.covers("333333333333", "us-east-1", "AWS::EC2::Instance"));
    }

    #[test]
    fn organization_kinds_run_once_in_the_organization_account_only() {
        let target = |id: &str| AccountTarget {
            account: Account::bare(id, "aws", None),
            regions: vec!["eu-west-1".into(), "us-east-1".into()],
        };
        let accounts = Kind::parse("AWS::Organizations::Account").unwrap();
        let mut discovery = Discovery {
            targets: vec![target("111111111111"), target("222222222222")],
            ..Default::default()
        };
        let kinds = [accounts, Kind::AccountInfo];
        let labels = |d: &Discovery| -> Vec<String> {
            plan_units("s1", d, &kinds, &Mapper::builtin())
                .iter()
                .map(Unit::label)
                .collect()
        };
        assert_eq!(
            labels(&discovery),
            [
                "111111111111/global/AWS::Account::Info",
                "222222222222/global/AWS::Account::Info"
            ],
            "no organization account: skipped"
        );
        let role = "arn:aws:iam::111111111111:role/Discovery";
        discovery.organization_account =
            Some(Account::bare("111111111111", "aws", Some(role.into())));
        let units = plan_units("s1", &discovery, &kinds, &Mapper::builtin());
        assert_eq!(units.len(), 3);
        assert_eq!(
            units[0].label(),
            "111111111111/global/AWS::Organizations::Account"
        );
        assert_eq!(units[0].account.role_arn.as_deref(), Some(role));
    }

    #[test]
    fn selector_region_policy_prevents_units() {
        let mapper = Mapper::from_yaml(
            r#"
resources:
  - kind: AWS::EC2::Instance
    selector: {regionPolicy: {allow: [us-east-1]}}
    port: {entity: {mappings: {identifier: .Properties.InstanceId, blueprint: '"ec2Instance"'}}}
"#,
        )
        .unwrap();
        let discovery = Discovery {
            targets: vec![AccountTarget {
                account: Account::bare("111111111111", "aws", None),
                regions: vec!["eu-west-1".into(), "us-east-1".into()],
            }],
            ..Default::default()
        };
        let units = plan_units("s1", &discovery, &[Kind::Ec2Instance], &mapper);
        assert_eq!(units.len(), 1);
        assert_eq!(units[0].region, "us-east-1");
    }

    #[test]
    fn scope_lists_are_checked_and_name_the_bad_value() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let scope = Scope::from_lists(
            &s(&["111111111111"]),
            &s(&["eu-west-1"]),
            &s(&["AWS::EC2::Instance", "AWS::EC2::Instance"]),
        )
        .unwrap();
        assert_eq!(scope.kinds, Some(vec![Kind::Ec2Instance]));
        assert_eq!(Scope::from_lists(&[], &[], &[]).unwrap(), Scope::default());
        assert_eq!(
            Scope::from_lists(&s(&["12"]), &[], &[]).unwrap_err(),
            ScopeError::Account("12".into())
        );
        assert_eq!(
            Scope::from_lists(&[], &s(&["mars-1"]), &[]).unwrap_err(),
            ScopeError::Region("mars-1".into())
        );
        let err = Scope::from_lists(&[], &[], &s(&["AWS::EC2::InternetGateway"])).unwrap_err();
        assert!(err.to_string().contains("AWS::EC2::Instance"), "{err}");
    }
}
