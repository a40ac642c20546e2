//! The SQS work item, and the checks a worker makes before it acts on one.
//!
//! Anyone allowed to send to the work queue controls the message, so a work item names only what
//! to do: `{syncId, accountId, region, kinds}`, the kinds one account runs in one region (any
//! other field is refused; the single `kind` of the previous version is still read, so messages
//! already in a queue or dead-letter queue run). Everything else comes from the worker's own
//! configuration: whether the account is one this installation syncs, and the role (and
//! partition) to reach it ([`Directory`]); whether the region is known, allowed by
//! `REGION_POLICY` and in the account's partition; whether each kind is configured. An item with
//! one kind that fails a check is refused whole, so a forged item cannot half-run: no AWS call, no
//! write and no deletion; it is logged as a security event and reported failed, so it ends in the
//! dead-letter queue.

use crate::aws::region_partition;
use crate::config::is_known_region;
use crate::discovery::{AccountsError, Directory, Lookup};
use crate::kinds::{Kind, KindScope};
use crate::sync::plan::{configured_kinds, Group};
use crate::sync::{Engine, Unit, GLOBAL};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// Longest sync id accepted (the fan-out's are about 20 characters).
const MAX_SYNC_ID: usize = 64;
/// Characters of a refused value quoted in the log.
const QUOTED: usize = 64;
/// Most kinds one work item carries (every native kind with room for Cloud Control kinds; a
/// region with more is sent as several items).
pub const MAX_KINDS: usize = 128;

/// The work of one account in one region, as the fan-out sends it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", try_from = "Message")]
pub struct WorkItem {
    pub sync_id: String,
    pub account_id: String,
    /// A region, or `global` for account-scoped kinds.
    pub region: String,
    /// Not empty, no duplicates, at most [`MAX_KINDS`].
    pub kinds: Vec<String>,
}

/// A message body as it arrives: exactly one of `kind` (the previous version's) and `kinds`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Message {
    sync_id: String,
    account_id: String,
    region: String,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    kinds: Option<Vec<String>>,
}

impl TryFrom<Message> for WorkItem {
    type Error = String;

    fn try_from(m: Message) -> Result<WorkItem, String> {
        let kinds = match (m.kind, m.kinds) {
            (Some(kind), None) => vec![kind],
            (None, Some(kinds)) => kinds,
            (Some(_), Some(_)) => return Err("both `kind` and `kinds`".into()),
            (None, None) => return Err("missing field `kinds`".into()),
        };
        if kinds.is_empty() {
            return Err("`kinds` is empty".into());
        }
        if kinds.len() > MAX_KINDS {
            return Err(format!("more than {MAX_KINDS} kinds"));
        }
        if kinds.iter().collect::<BTreeSet<_>>().len() != kinds.len() {
            return Err("a kind is listed twice".into());
        }
        Ok(WorkItem {
            sync_id: m.sync_id,
            account_id: m.account_id,
            region: m.region,
            kinds,
        })
    }
}

impl WorkItem {
    /// The work item of one kind (a live event's refresh, and the tests).
    pub fn one(sync_id: &str, account_id: &str, region: &str, kind: Kind) -> WorkItem {
        WorkItem {
            sync_id: sync_id.to_owned(),
            account_id: account_id.to_owned(),
            region: region.to_owned(),
            kinds: vec![kind.name().to_owned()],
        }
    }

    /// The work items of a planned group: one, unless it has more than [`MAX_KINDS`] kinds.
    pub fn of_group<'a>(
        sync_id: &'a str,
        account_id: &'a str,
        group: &'a Group,
    ) -> impl Iterator<Item = WorkItem> + 'a {
        group.kinds.chunks(MAX_KINDS).map(move |kinds| WorkItem {
            sync_id: sync_id.to_owned(),
            account_id: account_id.to_owned(),
            region: group.region.clone(),
            kinds: kinds.iter().map(|k| k.name().to_owned()).collect(),
        })
    }

    /// Reads a message body: `syncId`, `accountId`, `region` and `kinds` (or the previous
    /// version's `kind`), nothing else.
    pub fn parse(body: &str) -> Result<WorkItem, Refusal> {
        serde_json::from_str(body).map_err(|e| Refusal::Malformed(e.to_string()))
    }

    /// `account/region/kind` for one kind, `account/region/[n kinds]` for more (for logs).
    pub fn label(&self) -> String {
        match self.kinds.as_slice() {
            [kind] => format!("{}/{}/{kind}", self.account_id, self.region),
            kinds => format!(
                "{}/{}/[{} kinds]",
                self.account_id,
                self.region,
                kinds.len()
            ),
        }
    }
}

/// Why a work item is refused. The reasons name no value from the message (the log carries them
/// apart, shortened).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the body is not a work item: {0}")]
    Malformed(String),
    #[error("the sync id is empty, too long or has characters a sync id never has")]
    SyncId,
    #[error("the account id is not 12 digits")]
    AccountId,
    #[error("the account is not one this installation syncs")]
    UnknownAccount,
    #[error("the account is left out of the sync ({0})")]
    SkippedAccount(String),
    #[error("a kind is not a supported kind")]
    UnknownKind,
    #[error("a kind is not configured (KINDS and the mapping)")]
    KindNotConfigured,
    #[error("account-scoped kinds run in region `global` only")]
    NotGlobal,
    #[error("the region is not a known AWS region")]
    UnknownRegion,
    #[error("the region is not allowed by REGION_POLICY or by the mapping's regionPolicy")]
    RegionNotAllowed,
    #[error("the region is in another partition than the account")]
    OtherPartition,
}

/// Why a work item was not run.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// The item is not one this installation would have sent: a security event.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The account list could not be read (Organizations or STS failed): retried by the queue.
    #[error("the account could not be checked: {0}")]
    Directory(#[from] AccountsError),
}

/// The units a work item stands for, when the configuration allows every one of them; the
/// account (with the role that reaches it) comes from `directory`, never from the message. The
/// kinds are all checked before the account is looked up: an item with one refused kind makes no
/// call at all.
pub async fn check(
    item: &WorkItem,
    engine: &Engine,
    directory: &Directory,
) -> Result<Vec<Unit>, CheckError> {
    check_sync_id(&item.sync_id)?;
    if !crate::arn::is_account_id(&item.account_id) {
        return Err(Refusal::AccountId.into());
    }
    let kinds = item
        .kinds
        .iter()
        .map(|name| {
            let kind = check_kind(engine, name)?;
            check_region_alone(engine, kind, &item.region)?;
            Ok(kind)
        })
        .collect::<Result<Vec<Kind>, Refusal>>()?;
    if kinds.is_empty() {
        return Err(Refusal::Malformed("`kinds` is empty".into()).into());
    }
    let account = match directory
        .lookup(&engine.config, &engine.sessions, &item.account_id)
        .await?
    {
        Lookup::Member(account) => account,
        Lookup::Skipped(reason) => return Err(Refusal::SkippedAccount(reason).into()),
        Lookup::Unknown => return Err(Refusal::UnknownAccount.into()),
    };
    if item.region != GLOBAL && region_partition(&item.region) != account.partition {
        return Err(Refusal::OtherPartition.into());
    }
    Ok(kinds
        .into_iter()
        .map(|kind| Unit {
            sync_id: item.sync_id.clone(),
            account: account.clone(),
            region: item.region.clone(),
            kind,
        })
        .collect())
}

fn check_sync_id(sync_id: &str) -> Result<(), Refusal> {
    let fine = !sync_id.is_empty()
        && sync_id.len() <= MAX_SYNC_ID
        && sync_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    fine.then_some(()).ok_or(Refusal::SyncId)
}

fn check_kind(engine: &Engine, name: &str) -> Result<Kind, Refusal> {
    let kind = Kind::resolve(name).map_err(|_| Refusal::UnknownKind)?;
    if !configured_kinds(&engine.config.kinds, &engine.mapper).contains(&kind) {
        return Err(Refusal::KindNotConfigured);
    }
    Ok(kind)
}

/// The region on its own: `global` for account-scoped kinds; otherwise known and allowed.
fn check_region_alone(engine: &Engine, kind: Kind, region: &str) -> Result<(), Refusal> {
    match kind.scope() {
        KindScope::Account | KindScope::Organization if region == GLOBAL => Ok(()),
        KindScope::Account | KindScope::Organization => Err(Refusal::NotGlobal),
        KindScope::Regional if !is_known_region(region) => Err(Refusal::UnknownRegion),
        KindScope::Regional => {
            let allowed = engine.config.region_policy.allows(region)
                && engine.mapper.region_wanted(kind, region);
            allowed.then_some(()).ok_or(Refusal::RegionNotAllowed)
        }
    }
}

/// A value from a message, shortened for the log.
pub fn quoted(value: &str) -> String {
    value.chars().take(QUOTED).collect()
}

/// A list of values from a message, shortened for the log.
pub fn quoted_list(values: &[String]) -> String {
    quoted(&values.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::mapping::Mapper;
    use crate::test_support::fake_aws::FakeAws;

    fn engine(server: &FakeAws) -> Engine {
        let config = Config::from_lookup(|k| match k {
            "ACCOUNT_ROLE_ARNS" => Some(r#"["arn:aws:iam::111111111111:role/R"]"#.into()),
            "REGION_POLICY" => Some(r#"{"deny": ["eu-west-3"]}"#.into()),
            "KINDS" => Some("AWS::EC2::Instance,AWS::S3::Bucket,AWS::Account::Info".into()),
            _ => None,
        })
        .unwrap();
        Engine::with_base(config, Mapper::builtin(), server.sdk_config("us-east-1"))
    }

    fn item(account: &str, region: &str, kind: &str) -> WorkItem {
        items(account, region, &[kind])
    }

    fn items(account: &str, region: &str, kinds: &[&str]) -> WorkItem {
        WorkItem {
            sync_id: "s-1".into(),
            account_id: account.into(),
            region: region.into(),
            kinds: kinds.iter().map(|k| k.to_string()).collect(),
        }
    }

    #[test]
    fn only_the_four_fields_are_a_work_item() {
        let good = r#"{"syncId":"s","accountId":"111111111111","region":"us-east-1","kinds":["AWS::EC2::Instance","AWS::ECS::Cluster"]}"#;
        assert_eq!(
            WorkItem::parse(good).unwrap().kinds,
            ["AWS::EC2::Instance", "AWS::ECS::Cluster"]
        );
        // The previous version's single kind (messages already in a queue or DLQ).
        let old = r#"{"syncId":"s","accountId":"111111111111","region":"us-east-1","kind":"AWS::EC2::Instance"}"#;
        assert_eq!(WorkItem::parse(old).unwrap().kinds, ["AWS::EC2::Instance"]);
        let too_many: Vec<String> = (0..=MAX_KINDS).map(|i| format!("AWS::X::K{i}")).collect();
        let too_many = serde_json::json!({"syncId": "s", "accountId": "111111111111",
            "region": "us-east-1", "kinds": too_many})
        .to_string();
        for (forged, why) in [
            (
                r#"{"syncId":"s","accountId":"111111111111","region":"us-east-1","kind":"AWS::EC2::Instance","kinds":["AWS::EC2::Instance"]}"#,
                "both `kind` and `kinds`",
            ),
            (
                r#"{"syncId":"s","accountId":"111111111111","region":"us-east-1","kinds":[]}"#,
                "`kinds` is empty",
            ),
            (
                r#"{"syncId":"s","accountId":"111111111111","region":"us-east-1","kinds":["AWS::EC2::Instance","AWS::ECS::Cluster","AWS::EC2::Instance"]}"#,
                "listed twice",
            ),
            (
                r#"{"syncId":"s","accountId":"111111111111","region":"us-east-1","kinds":"AWS::EC2::Instance"}"#,
                "expected a sequence",
            ),
            (
                r#"{"syncId":"s","accountId":"111111111111","region":"us-east-1","kinds":["AWS::EC2::Instance"],"roleArn":"arn:aws:iam::222222222222:role/R"}"#,
                "unknown field `roleArn`",
            ),
            (&too_many, "more than 128 kinds"),
        ] {
            match WorkItem::parse(forged) {
                Err(Refusal::Malformed(reason)) => {
                    assert!(reason.contains(why), "{forged}: {reason}")
                }
                other => panic!("{forged} not refused: {other:?}"),
            }
        }
        for forged in [
            r#"{"syncId":"s","accountId":"111111111111","region":"us-east-1","kind":"AWS::EC2::Instance","roleArn":"arn:aws:iam::222222222222:role/R"}"#,
            r#"{"syncId":"s","accountId":"111111111111","region":"us-east-1","kind":"AWS::EC2::Instance","partition":"aws-cn"}"#,
            r#"{"syncId":"s","account":{"id":"111111111111","partition":"aws"},"region":"us-east-1","kind":"AWS::EC2::Instance"}"#,
            r#"{"syncId":"s","accountId":"111111111111","region":"us-east-1"}"#,
        ] {
            assert!(
                matches!(WorkItem::parse(forged), Err(Refusal::Malformed(_))),
                "{forged}"
            );
        }
    }

    #[test]
    fn a_planned_group_becomes_its_work_item() {
        let group = Group {
            region: "us-east-1".into(),
            kinds: vec![Kind::Ec2Instance, Kind::EcsCluster].into(),
        };
        let items: Vec<WorkItem> = WorkItem::of_group("s", "111111111111", &group).collect();
        assert_eq!(items.len(), 1);
        let json = serde_json::to_value(&items[0]).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"syncId": "s", "accountId": "111111111111", "region": "us-east-1",
                "kinds": ["AWS::EC2::Instance", "AWS::ECS::Cluster"]})
        );
        assert_eq!(WorkItem::parse(&json.to_string()).unwrap(), items[0]);
        assert_eq!(items[0].label(), "111111111111/us-east-1/[2 kinds]");
        // A group with more kinds than an item carries is sent as several items.
        let many = Group {
            region: "us-east-1".into(),
            kinds: std::iter::repeat_n(Kind::Ec2Instance, MAX_KINDS + 1).collect(),
        };
        let sizes: Vec<usize> = WorkItem::of_group("s", "111111111111", &many)
            .map(|i| i.kinds.len())
            .collect();
        assert_eq!(sizes, [MAX_KINDS, 1]);
    }

    #[tokio::test]
    async fn the_role_comes_from_the_configuration_and_forgeries_are_refused() {
        let server = FakeAws::start(|_| (500, "text/plain", String::new()));
        let engine = engine(&server);
        let directory = Directory::new();
        let units = check(
            &item("111111111111", "us-east-1", "AWS::EC2::Instance"),
            &engine,
            &directory,
        )
        .await
        .unwrap();
        assert_eq!(
            units[0].account.role_arn.as_deref(),
            Some("arn:aws:iam::111111111111:role/R")
        );
        let units = check(
            &items(
                "111111111111",
                "global",
                &["AWS::S3::Bucket", "AWS::Account::Info"],
            ),
            &engine,
            &directory,
        )
        .await
        .unwrap();
        let labels: Vec<String> = units.iter().map(Unit::label).collect();
        assert_eq!(
            labels,
            [
                "111111111111/global/AWS::S3::Bucket",
                "111111111111/global/AWS::Account::Info"
            ]
        );
        let refused = |a: &'static str, r: &'static str, k: &'static str| {
            let (engine, directory) = (&engine, &directory);
            async move {
                match check(&item(a, r, k), engine, directory).await {
                    Err(CheckError::Refused(refusal)) => refusal,
                    other => panic!("{a}/{r}/{k} not refused: {other:?}"),
                }
            }
        };
        let ec2 = "AWS::EC2::Instance";
        assert_eq!(
            refused("222222222222", "us-east-1", ec2).await,
            Refusal::UnknownAccount
        );
        assert_eq!(refused("1111", "us-east-1", ec2).await, Refusal::AccountId);
        assert_eq!(
            refused("111111111111", "eu-west-3", ec2).await,
            Refusal::RegionNotAllowed
        );
        assert_eq!(
            refused("111111111111", "mars-1", ec2).await,
            Refusal::UnknownRegion
        );
        assert_eq!(
            refused("111111111111", "cn-north-1", ec2).await,
            Refusal::OtherPartition
        );
        assert_eq!(
            refused("111111111111", "global", ec2).await,
            Refusal::UnknownRegion
        );
        assert_eq!(
            refused("111111111111", "us-east-1", "AWS::S3::Bucket").await,
            Refusal::NotGlobal
        );
        assert_eq!(
            refused("111111111111", "us-east-1", "AWS::Example::Widget").await,
            Refusal::UnknownKind
        );
        // A type Cloud Control knows is a kind, but only a configured one is accepted.
        assert_eq!(
            refused("111111111111", "us-east-1", "AWS::Logs::LogGroup").await,
            Refusal::KindNotConfigured
        );
        assert_eq!(
            refused("111111111111", "us-east-1", "AWS::ECS::Cluster").await,
            Refusal::KindNotConfigured
        );
        // One kind that fails refuses the whole item: a forged item cannot half-run.
        let refused_list = |a: &'static str, r: &'static str, k: &'static [&'static str]| {
            let (engine, directory) = (&engine, &directory);
            async move {
                match check(&items(a, r, k), engine, directory).await {
                    Err(CheckError::Refused(refusal)) => refusal,
                    other => panic!("{a}/{r}/{k:?} not refused: {other:?}"),
                }
            }
        };
        assert_eq!(
            refused_list(
                "111111111111",
                "us-east-1",
                &["AWS::EC2::Instance", "AWS::Logs::LogGroup"]
            )
            .await,
            Refusal::KindNotConfigured
        );
        assert_eq!(
            refused_list(
                "111111111111",
                "us-east-1",
                &["AWS::Example::Widget", "AWS::EC2::Instance"]
            )
            .await,
            Refusal::UnknownKind
        );
        assert_eq!(
            refused_list(
                "111111111111",
                "global",
                &["AWS::Account::Info", "AWS::EC2::Instance"]
            )
            .await,
            Refusal::UnknownRegion
        );
        assert_eq!(
            refused_list(
                "111111111111",
                "us-east-1",
                &["AWS::EC2::Instance", "AWS::S3::Bucket"]
            )
            .await,
            Refusal::NotGlobal
        );
        assert_eq!(
            refused_list("222222222222", "us-east-1", &["AWS::EC2::Instance"]).await,
            Refusal::UnknownAccount
        );
        assert!(server.requests().is_empty(), "no AWS call for any of them");
    }
}
