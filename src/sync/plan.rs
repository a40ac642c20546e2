//! Planning: the units `(account, region, kind)` of a run.

use crate::config::{is_known_region, Config, RegionPolicy};
use crate::discovery::{Account, Discovery};
use crate::kinds::{Kind, KindScope};
use crate::mapping::Mapper;
use serde::Serialize;
use std::collections::BTreeSet;

/// The region of account-scoped units.
pub const GLOBAL: &str = "global";

/// One unit of work: one kind in one region of one account, with how to reach the account. Sent
/// to the queue as a [`crate::lambda::work_item::WorkItem`], which names the account only.
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

/// The units of a run, in a stable order (account, kind, region).
pub fn plan_units(
    sync_id: &str,
    discovery: &Discovery,
    kinds: &[Kind],
    mapper: &Mapper,
) -> Vec<Unit> {
    let mut units = organization_units(sync_id, discovery, kinds);
    for target in &discovery.targets {
        for &kind in kinds {
            let unit = |region: &str| Unit {
                sync_id: sync_id.to_owned(),
                account: target.account.clone(),
                region: region.to_owned(),
                kind,
            };
            match kind.scope() {
                KindScope::Account => units.push(unit(GLOBAL)),
                // Once per run, by `organization_units`.
                KindScope::Organization => {}
                KindScope::Regional => units.extend(
                    target
                        .regions
                        .iter()
                        .filter(|r| mapper.region_wanted(kind, r))
                        .map(|r| unit(r)),
                ),
            }
        }
    }
    units
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
