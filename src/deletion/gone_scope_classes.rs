//! Per blueprint, the classes of owned entities outside the plan, each a condition on the
//! `$datasource` with its verdict (delete or keep) and why, from the run's [`ScopeFacts`]. Pure:
//! no AWS or Port calls.

use super::datasource::{account_marker, allows_cond, owned_cond, region_suffix, Cond, Op};
use super::gone_scope_facts::ScopeFacts;
use crate::mapping::Mapper;
use crate::port::user_agent;
use crate::sync::plan::{Plan, GLOBAL};
use std::collections::BTreeMap;

/// Accounts listed in one reason before "and N more".
const LISTED_ACCOUNTS: usize = 10;

/// Whether a class of entities is deleted or only reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
    let mut out = gone_accounts(facts);
    out.extend(gone_regions_and_kinds(facts, blueprint, relation_target));
    out.extend(kept_accounts(facts));
    out
}

/// Accounts that are gone: closed (or suspended), or no longer in the organization.
fn gone_accounts(facts: &ScopeFacts) -> Vec<Class> {
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
    out
}

/// Regions denied by `REGION_POLICY`, and regions where no configured kind writes the blueprint
/// any more, in accounts that are not protected (unreachable or not synced). Relation targets
/// keep them (placeholders).
fn gone_regions_and_kinds(
    facts: &ScopeFacts,
    blueprint: &str,
    relation_target: bool,
) -> Vec<Class> {
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
    let unprotected = Cond::all(
        facts
            .protected_accounts()
            .map(|a| Cond::leaf(Op::NotContains, account_marker(a))),
    );
    let mut out = Vec::new();
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
    out
}

/// Accounts whose entities are kept: unreachable this run, or existing but not synced.
fn kept_accounts(facts: &ScopeFacts) -> Vec<Class> {
    let mut out = Vec::new();
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
    plan: &Plan,
    mapper: &Mapper,
) -> Vec<Class> {
    let owned = owned_cond(integration);
    classes
        .into_iter()
        .map(|class| {
            if class.verdict != Verdict::Delete {
                return class;
            }
            // A group's units share its `$datasource`: one check per group.
            let clash = plan.groups().find_map(|(account, group)| {
                let kind = group.kinds.iter().find(|k| {
                    mapper
                        .blueprints(**k)
                        .is_none_or(|bps| bps.contains(blueprint))
                })?;
                let ua = user_agent(integration, &account.id, &group.region);
                (owned.matches(&ua) && class.cond.matches(&ua))
                    .then(|| format!("{}/{}/{kind}", account.id, group.region))
            });
            match clash {
                None => class,
                Some(label) => {
                    tracing::error!(unit = %label, blueprint, reason = %class.reason, "a disappeared-scope class matches a planned unit: kept (a bug, please report it)");
                    Class {
                        verdict: Verdict::Keep,
                        reason: format!(
                            "{} (would touch planned unit {label}: kept)",
                            class.reason,
                        ),
                        cond: class.cond,
                    }
                }
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RegionPolicy;
    use crate::discovery::{Account, AccountTarget, Discovery, FailedAccount, SkippedAccount};
    use crate::kinds::Kind;

    const ID: &str = "prod";

    fn ua(account: &str, region: &str) -> String {
        user_agent(ID, account, region)
    }

    fn policy(allow: &[&str], deny: &[&str]) -> RegionPolicy {
        RegionPolicy::from_names(allow, deny)
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
            organization_account: None,
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
        let f = facts(&org_discovery(), &policy(&["us-east-1"], &[]), Kind::all());
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
            Kind::all(),
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
            Kind::all(),
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
        let plan = Plan::new("s", &discovery, Kind::all(), &Mapper::builtin());
        let wrong = Class {
            verdict: Verdict::Delete,
            reason: "bad".into(),
            cond: Cond::leaf(Op::EndsWith, "; region/us-east-1)"),
        };
        let checked = refuse_planned(vec![wrong], "ec2Instance", ID, &plan, &Mapper::builtin());
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
            Kind::all(),
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
                refuse_planned(classes.clone(), bp, ID, &plan, &Mapper::builtin()),
                classes
            );
        }
    }
}
