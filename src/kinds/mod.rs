//! Resource kinds: one file per kind, each with the AWS calls it makes and the conversion of the
//! SDK's types into the aws-v3 raw object (`{"Type", "Properties", "__ExtraContext"}`).
//!
//! Adding a kind today is one file here plus several entries elsewhere: a [`Kind`] variant and its
//! arms in `name`, `scope`, `iam_actions`, `optional_actions` and [`fetch`] (this file), its aws-v3
//! action names in `mapping/actions.rs`, the `KINDS` message in `config/coverage.rs`, a default
//! mapping and blueprint, and the role templates (a test checks them). `docs/architecture.md` lists
//! the steps; a later issue replaces the enum with a registry.

pub mod account_info;
pub mod cloud_control;
pub mod ec2_instance;
pub mod ecs_cluster;
pub mod raw;
pub mod s3_bucket;

use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeSet;
use std::fmt;
use tokio::sync::mpsc;

/// Everything a kind's fetch needs for one unit `(account, region, kind)`.
pub struct FetchContext<'a> {
    /// The 12-digit account id.
    pub account_id: &'a str,
    /// `aws`, `aws-us-gov` or `aws-cn`.
    pub partition: &'a str,
    /// The unit's region; `global` for account-scoped kinds.
    pub region: &'a str,
    /// SDK config with the account's credentials, the unit's region (the partition's home region for
    /// account-scoped kinds) and any endpoint override.
    pub sdk: &'a aws_config::SdkConfig,
    /// Enabled optional actions (aws-v3 `includeActions` names).
    pub actions: &'a BTreeSet<String>,
    /// Whether a region passes the region policy (S3 buckets outside it are skipped).
    pub region_allowed: &'a (dyn Fn(&str) -> bool + Send + Sync),
    /// Upper bound on concurrent per-resource calls (S3 bucket configuration calls).
    pub concurrency: usize,
}

impl FetchContext<'_> {
    /// Whether the mapping asked for an optional action.
    pub fn wants(&self, action: &str) -> bool {
        self.actions.contains(action)
    }
}

/// What one fetch did, for the unit's report.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct FetchStats {
    /// Raw objects sent downstream.
    pub objects: usize,
    /// AWS API calls made.
    pub api_calls: usize,
    /// Non-fatal problems (e.g. AccessDenied on one optional call of one bucket).
    pub warnings: Vec<String>,
}

/// Pages of raw objects flow to the mapper through this channel, so a unit never holds a whole
/// account in memory.
pub type PageSender = mpsc::Sender<Vec<Value>>;

/// A failed fetch: the unit is incomplete and must not delete anything.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// An AWS call failed after the SDK's retries.
    #[error("{operation} failed: {message}")]
    Aws {
        operation: &'static str,
        /// AWS's error code and message (see [`crate::aws_error::explain`]).
        message: String,
        /// The service's error code when known (`AccessDenied`, `RequestLimitExceeded`, ...).
        code: Option<String>,
    },
    /// The consumer of the pages went away (the unit was cancelled).
    #[error("the unit was cancelled while fetching")]
    Cancelled,
}

impl FetchError {
    /// Wraps an SDK error: its code, and its code and message in words (the full cause chain is
    /// logged at debug level).
    pub fn aws<E>(operation: &'static str, err: E) -> Self
    where
        E: std::error::Error + aws_smithy_types::error::metadata::ProvideErrorMetadata + 'static,
    {
        let reason = crate::aws_error::explain(&err);
        FetchError::Aws {
            operation,
            code: reason.code.clone(),
            message: reason.to_string(),
        }
    }
}

/// Sends one page of raw objects downstream.
pub async fn send_page(pages: &PageSender, page: Vec<Value>) -> Result<(), FetchError> {
    if page.is_empty() {
        return Ok(());
    }
    pages.send(page).await.map_err(|_| FetchError::Cancelled)
}

/// Builds the aws-v3 raw object `{"Type", "Properties", "__ExtraContext"}`.
pub fn raw_object(kind: Kind, properties: Value, extra: serde_json::Map<String, Value>) -> Value {
    let mut obj = serde_json::Map::with_capacity(3);
    obj.insert("Type".into(), Value::String(kind.name().into()));
    obj.insert("Properties".into(), properties);
    obj.insert("__ExtraContext".into(), Value::Object(extra));
    Value::Object(obj)
}

/// The `__ExtraContext` every regional object carries.
pub fn extra_context(ctx: &FetchContext<'_>, region: &str) -> serde_json::Map<String, Value> {
    let mut extra = serde_json::Map::new();
    extra.insert("AccountId".into(), Value::String(ctx.account_id.into()));
    extra.insert("Region".into(), Value::String(region.into()));
    extra.insert("Partition".into(), Value::String(ctx.partition.into()));
    extra
}

/// A resource kind, named as in aws-v3 (`AWS::EC2::Instance`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    AccountInfo,
    S3Bucket,
    Ec2Instance,
    EcsCluster,
}

/// How a kind is split into units of work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KindScope {
    /// One unit per account (region `global`).
    Account,
    /// One unit per enabled region of an account.
    Regional,
}

/// An optional call a kind makes only when the mapping asks for it (aws-v3 `includeActions`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OptionalAction {
    /// The aws-v3 action name, e.g. `GetBucketEncryptionAction`.
    pub name: &'static str,
    /// The IAM action the call needs.
    pub iam_action: &'static str,
}

/// The IAM action every member account needs for region discovery.
pub const DISCOVERY_ACTIONS: &[&str] = &["ec2:DescribeRegions"];

/// The IAM actions the discovery role in the management (or delegated-admin) account needs.
pub const ORGANIZATION_ACTIONS: &[&str] = &[
    "organizations:DescribeAccount",
    "organizations:DescribeOrganization",
    "organizations:ListAccounts",
    "organizations:ListAccountsForParent",
    "organizations:ListOrganizationalUnitsForParent",
];

impl Kind {
    /// Every supported kind, in the order they are planned.
    pub const ALL: [Kind; 4] = [
        Kind::AccountInfo,
        Kind::S3Bucket,
        Kind::Ec2Instance,
        Kind::EcsCluster,
    ];

    /// The aws-v3 kind name.
    pub fn name(self) -> &'static str {
        match self {
            Kind::AccountInfo => "AWS::Account::Info",
            Kind::S3Bucket => "AWS::S3::Bucket",
            Kind::Ec2Instance => "AWS::EC2::Instance",
            Kind::EcsCluster => "AWS::ECS::Cluster",
        }
    }

    /// Parses an aws-v3 kind name (exact match).
    pub fn parse(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Whether the kind is synced once per account or once per region.
    pub fn scope(self) -> KindScope {
        match self {
            Kind::AccountInfo | Kind::S3Bucket => KindScope::Account,
            Kind::Ec2Instance | Kind::EcsCluster => KindScope::Regional,
        }
    }

    /// The IAM actions the kind always calls.
    pub fn iam_actions(self) -> &'static [&'static str] {
        match self {
            Kind::AccountInfo => &[],
            Kind::S3Bucket => &["s3:ListAllMyBuckets", "s3:GetBucketTagging"],
            Kind::Ec2Instance => &["ec2:DescribeInstances"],
            Kind::EcsCluster => &["ecs:ListClusters", "ecs:DescribeClusters"],
        }
    }

    /// The optional calls of the kind (aws-v3 `includeActions`).
    pub fn optional_actions(self) -> &'static [OptionalAction] {
        match self {
            Kind::S3Bucket => s3_bucket::OPTIONAL_ACTIONS,
            Kind::Ec2Instance => ec2_instance::OPTIONAL_ACTIONS,
            Kind::AccountInfo | Kind::EcsCluster => &[],
        }
    }
}

impl<'de> serde::Deserialize<'de> for Kind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        Kind::parse(&name).ok_or_else(|| serde::de::Error::custom(format!("unknown kind `{name}`")))
    }
}

/// Fetches the raw objects of a regional or bucket kind, page by page.
/// `AWS::Account::Info` needs no call: see [`account_info::account_to_raw`].
pub async fn fetch(
    kind: Kind,
    ctx: &FetchContext<'_>,
    pages: &PageSender,
) -> Result<FetchStats, FetchError> {
    match kind {
        Kind::AccountInfo => Ok(FetchStats::default()),
        Kind::S3Bucket => s3_bucket::fetch(ctx, pages).await,
        Kind::Ec2Instance => ec2_instance::fetch(ctx, pages).await,
        Kind::EcsCluster => ecs_cluster::fetch(ctx, pages).await,
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for Kind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// Every IAM action a member account's read role must allow for the supported kinds: the single
/// source of truth for the least-privilege policies in `cloudformation/` and `template.yaml`.
/// Sorted and without duplicates.
pub fn member_read_actions() -> Vec<&'static str> {
    let mut actions: Vec<&'static str> = DISCOVERY_ACTIONS.to_vec();
    for kind in Kind::ALL {
        actions.extend_from_slice(kind.iam_actions());
        actions.extend(kind.optional_actions().iter().map(|a| a.iam_action));
    }
    actions.sort_unstable();
    actions.dedup();
    actions
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_names_round_trip() {
        for kind in Kind::ALL {
            assert_eq!(Kind::parse(kind.name()), Some(kind));
        }
        assert_eq!(Kind::parse("AWS::EC2::Volume"), None);
        assert_eq!(Kind::parse("aws::ec2::instance"), None);
    }

    #[test]
    fn member_read_actions_are_read_only_sorted_and_unique() {
        let actions = member_read_actions();
        let mut sorted = actions.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(actions, sorted);
        for action in &actions {
            let verb = action.split(':').nth(1).unwrap();
            assert!(
                ["Describe", "List", "Get"]
                    .iter()
                    .any(|p| verb.starts_with(p)),
                "{action} is not a read action"
            );
        }
        assert!(actions.contains(&"ec2:DescribeRegions"));
        assert!(actions.contains(&"s3:GetEncryptionConfiguration"));
    }
}
