//! The SQS work item, and the checks a worker makes before it acts on one.
//!
//! Anyone allowed to send to the work queue controls the message, so a work item names only what
//! to do: `{syncId, accountId, region, kind}` (any other field is refused). Everything else comes
//! from the worker's own configuration: whether the account is one this installation syncs, and
//! the role (and partition) to reach it ([`Directory`]); whether the region is known, allowed by
//! `REGION_POLICY` and in the account's partition; whether the kind is configured. A refused item
//! causes no AWS call, no write and no deletion: it is logged as a security event and reported
//! failed, so it ends in the dead-letter queue.

use crate::aws::region_partition;
use crate::config::is_known_region;
use crate::discovery::{AccountsError, Directory, Lookup};
use crate::kinds::{Kind, KindScope};
use crate::sync::plan::configured_kinds;
use crate::sync::{Engine, Unit, GLOBAL};
use serde::{Deserialize, Serialize};

/// Longest sync id accepted (the fan-out's are about 20 characters).
const MAX_SYNC_ID: usize = 64;
/// Characters of a refused value quoted in the log.
const QUOTED: usize = 64;

/// One unit of work as the fan-out sends it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WorkItem {
    pub sync_id: String,
    pub account_id: String,
    /// A region, or `global` for account-scoped kinds.
    pub region: String,
    pub kind: String,
}

impl WorkItem {
    /// The work item of a planned unit.
    pub fn of(unit: &Unit) -> WorkItem {
        WorkItem {
            sync_id: unit.sync_id.clone(),
            account_id: unit.account.id.clone(),
            region: unit.region.clone(),
            kind: unit.kind.name().to_owned(),
        }
    }

    /// Reads a message body; only the four fields, all present.
    pub fn parse(body: &str) -> Result<WorkItem, Refusal> {
        serde_json::from_str(body).map_err(|e| Refusal::Malformed(e.to_string()))
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
    #[error("the kind is not a supported kind")]
    UnknownKind,
    #[error("the kind is not configured (KINDS and the mapping)")]
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

/// The unit a work item stands for, when the configuration allows it; the account (with the role
/// that reaches it) comes from `directory`, never from the message.
pub async fn check(
    item: &WorkItem,
    engine: &Engine,
    directory: &Directory,
) -> Result<Unit, CheckError> {
    check_sync_id(&item.sync_id)?;
    if !crate::arn::is_account_id(&item.account_id) {
        return Err(Refusal::AccountId.into());
    }
    let kind = check_kind(engine, &item.kind)?;
    check_region_alone(engine, kind, &item.region)?;
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
    Ok(Unit {
        sync_id: item.sync_id.clone(),
        account,
        region: item.region.clone(),
        kind,
    })
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::discovery::Account;
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
        WorkItem {
            sync_id: "s-1".into(),
            account_id: account.into(),
            region: region.into(),
            kind: kind.into(),
        }
    }

    #[test]
    fn only_the_four_fields_are_a_work_item() {
        let good = r#"{"syncId":"s","accountId":"111111111111","region":"us-east-1","kind":"AWS::EC2::Instance"}"#;
        assert!(WorkItem::parse(good).is_ok());
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
    fn a_planned_unit_becomes_its_work_item() {
        let unit = Unit {
            sync_id: "s".into(),
            account: Account::bare(
                "111111111111",
                "aws",
                Some("arn:aws:iam::111111111111:role/R".into()),
            ),
            region: "us-east-1".into(),
            kind: Kind::Ec2Instance,
        };
        let json = serde_json::to_value(WorkItem::of(&unit)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"syncId": "s", "accountId": "111111111111", "region": "us-east-1", "kind": "AWS::EC2::Instance"})
        );
    }

    #[tokio::test]
    async fn the_role_comes_from_the_configuration_and_forgeries_are_refused() {
        let server = FakeAws::start(|_| (500, "text/plain", String::new()));
        let engine = engine(&server);
        let directory = Directory::new();
        let unit = check(
            &item("111111111111", "us-east-1", "AWS::EC2::Instance"),
            &engine,
            &directory,
        )
        .await
        .unwrap();
        assert_eq!(
            unit.account.role_arn.as_deref(),
            Some("arn:aws:iam::111111111111:role/R")
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
        assert!(server.requests().is_empty(), "no AWS call for any of them");
    }
}
