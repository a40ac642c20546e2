//! Resource kinds. A native kind is one file here declaring its [`KindSpec`] (aws-v3 name, slug,
//! scope, IAM actions, `includeActions`, identity keys, fetch) and one line in [`REGISTRY`];
//! everything else (the list of kinds, parsing, error texts, `includeActions` resolution, the IAM
//! actions of the read role, planning) derives from the registry. Any other CloudFormation type
//! Cloud Control can list is a kind too, fetched through [`cloud_control`]; native kinds win.
//!
//! Shared fetch code is in [`fetch`]; the raw object of every kind is
//! `{"Type", "Properties", "__ExtraContext"}` with the API's own field names.

pub mod account_info;
pub mod apigateway_rest_api;
pub mod autoscaling_group;
pub mod cloud_control;
pub mod cloudformation_stack;
pub mod cloudfront_distribution;
pub mod codebuild_build_run;
pub mod codebuild_project;
pub mod codedeploy_application;
pub mod codedeploy_deployment;
pub mod codedeploy_deployment_group;
pub mod codedeploy_deployment_target;
pub mod codepipeline_action;
pub mod codepipeline_action_execution;
pub mod codepipeline_pipeline;
pub mod codepipeline_pipeline_execution;
pub mod codepipeline_stage;
pub mod detail;
pub mod dynamodb_table;
pub mod ec2_instance;
pub mod ec2_security_group;
pub mod ec2_subnet;
pub mod ec2_volume;
pub mod ec2_vpc;
pub mod ecr_repository;
pub mod ecs_cluster;
pub mod ecs_service;
pub mod ecs_task_definition;
pub mod eks_cluster;
pub mod elasticache_cluster;
pub mod elbv2_load_balancer;
pub mod elbv2_target_group;
pub mod fetch;
pub mod iam_role;
pub mod kms_key;
pub mod lambda_function;
pub mod live;
pub mod memorydb_user;
pub mod msk_cluster;
pub mod msk_serverless_cluster;
pub mod organizations_account;
pub mod raw;
pub mod rds_db_cluster;
pub mod rds_db_instance;
pub mod route53_hosted_zone;
pub mod s3_bucket;
pub mod secretsmanager_secret;
pub mod ses_configuration_set;
pub mod ses_email_identity;
pub mod sns_topic;
pub mod spec;
pub mod sqs_queue;
pub mod stepfunctions_state_machine;
pub mod unavailable;

pub use fetch::{
    extra_context, raw_object, send_page, FetchContext, FetchError, FetchStats, PageSender,
    UnitParts,
};
pub use spec::{
    FetchFn, FetchFuture, KindScope, KindSpec, LiveIdsFn, LiveSpec, OptionalAction, RefreshFn,
    RefreshFuture, Refreshed,
};

use serde::Serialize;
use std::fmt;

/// The native kinds, one line each, in the order they are planned.
pub static REGISTRY: &[&KindSpec] = &[
    &account_info::SPEC,
    &s3_bucket::SPEC,
    &ec2_instance::SPEC,
    &ecs_cluster::SPEC,
    &organizations_account::SPEC,
    &ec2_volume::SPEC,
    &ecs_service::SPEC,
    &ecs_task_definition::SPEC,
    &eks_cluster::SPEC,
    &ecr_repository::SPEC,
    &lambda_function::SPEC,
    &sqs_queue::SPEC,
    &sns_topic::SPEC,
    &rds_db_instance::SPEC,
    &rds_db_cluster::SPEC,
    &dynamodb_table::SPEC,
    &elasticache_cluster::SPEC,
    &memorydb_user::SPEC,
    &codedeploy_application::SPEC,
    &codedeploy_deployment_group::SPEC,
    &codedeploy_deployment::SPEC,
    &codedeploy_deployment_target::SPEC,
    &codepipeline_pipeline::SPEC,
    &codepipeline_stage::SPEC,
    &codepipeline_action::SPEC,
    &codepipeline_pipeline_execution::SPEC,
    &codepipeline_action_execution::SPEC,
    &msk_cluster::SPEC,
    &msk_serverless_cluster::SPEC,
    &ses_email_identity::SPEC,
    &ses_configuration_set::SPEC,
    &codebuild_project::SPEC,
    &codebuild_build_run::SPEC,
    &ec2_vpc::SPEC,
    &ec2_subnet::SPEC,
    &ec2_security_group::SPEC,
    &elbv2_load_balancer::SPEC,
    &elbv2_target_group::SPEC,
    &kms_key::SPEC,
    &secretsmanager_secret::SPEC,
    &stepfunctions_state_machine::SPEC,
    &iam_role::SPEC,
    &autoscaling_group::SPEC,
    &cloudformation_stack::SPEC,
    &route53_hosted_zone::SPEC,
    &cloudfront_distribution::SPEC,
    &apigateway_rest_api::SPEC,
];

/// A resource kind: a small handle on a native kind of the [`REGISTRY`] or on a Cloud Control
/// type. Natives order first, in registry order.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Kind(Handle);

#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Handle {
    Native(u16),
    CloudControl(&'static str),
}

static NATIVES: [Kind; REGISTRY.len()] = natives();

const fn natives<const N: usize>() -> [Kind; N] {
    let mut all = [Kind(Handle::Native(0)); N];
    let mut i = 0;
    while i < N {
        all[i] = Kind(Handle::Native(i as u16));
        i += 1;
    }
    all
}

/// A kind name that is neither native nor listable through Cloud Control.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown kind `{name}` (native kinds: {}; {cloud_control})",
    native_names()
)]
pub struct UnknownKind {
    pub name: String,
    /// Why Cloud Control cannot list it either.
    pub cloud_control: cloud_control::UnsupportedType,
}

/// The native kind names, comma-separated (for error messages).
pub fn native_names() -> String {
    REGISTRY
        .iter()
        .map(|s| s.name)
        .collect::<Vec<_>>()
        .join(", ")
}

// Handles of the native kinds code refers to by name, named like the enum variants they replace.
#[allow(non_upper_case_globals)]
impl Kind {
    pub const AccountInfo: Kind = Kind(Handle::Native(0));
    pub const S3Bucket: Kind = Kind(Handle::Native(1));
    pub const Ec2Instance: Kind = Kind(Handle::Native(2));
    pub const EcsCluster: Kind = Kind(Handle::Native(3));
}

impl Kind {
    /// Every native kind, in registry order.
    pub fn all() -> &'static [Kind] {
        &NATIVES
    }

    /// The native kind named `name` (exact match).
    pub fn parse(name: &str) -> Option<Kind> {
        Kind::all().iter().copied().find(|k| k.name() == name)
    }

    /// The kind named `name`: native first, else a type Cloud Control can list.
    pub fn resolve(name: &str) -> Result<Kind, UnknownKind> {
        if let Some(kind) = Kind::parse(name) {
            return Ok(kind);
        }
        cloud_control::validate(name)
            .map(|t| Kind(Handle::CloudControl(t.name)))
            .map_err(|cloud_control| UnknownKind {
                name: name.to_owned(),
                cloud_control,
            })
    }

    /// The native kind's spec; `None` for a Cloud Control kind.
    pub fn spec(self) -> Option<&'static KindSpec> {
        match self.0 {
            Handle::Native(i) => REGISTRY.get(usize::from(i)).copied(),
            Handle::CloudControl(_) => None,
        }
    }

    /// The Cloud Control type of a kind that is not native.
    pub fn cloud_control_type(self) -> Option<&'static cloud_control::CloudControlType> {
        match self.0 {
            Handle::Native(_) => None,
            Handle::CloudControl(name) => cloud_control::validate(name).ok(),
        }
    }

    /// The aws-v3 kind name (the CloudFormation type name).
    pub fn name(self) -> &'static str {
        match self.0 {
            Handle::Native(_) => self.spec().map_or("", |s| s.name),
            Handle::CloudControl(name) => name,
        }
    }

    /// The kind in file names (`ec2-instance`; `aws-lambda-function` for a Cloud Control kind).
    pub fn slug(self) -> String {
        match self.spec() {
            Some(spec) => spec.slug.to_owned(),
            None => self.name().to_ascii_lowercase().replace("::", "-"),
        }
    }

    /// Whether the kind is synced once per account, per region, or per organization.
    pub fn scope(self) -> KindScope {
        self.spec().map_or(KindScope::Regional, |s| s.scope)
    }

    /// The IAM actions the kind always calls (Cloud Control kinds: Cloud Control's and the
    /// type's handler permissions).
    pub fn iam_actions(self) -> Vec<&'static str> {
        match self.spec() {
            Some(spec) => spec.iam_actions.to_vec(),
            None => cloud_control::required_iam_actions(self.name()).unwrap_or_default(),
        }
    }

    /// The aws-v3 `includeActions` of the kind, default ones included.
    pub fn optional_actions(self) -> &'static [OptionalAction] {
        self.spec().map_or(&[], |s| s.optional_actions)
    }

    /// `Properties` keys that identify an object, best first.
    pub fn identity(self) -> &'static [&'static str] {
        match self.0 {
            Handle::Native(_) => self.spec().map_or(&[], |s| s.identity),
            Handle::CloudControl(_) => self
                .cloud_control_type()
                .map_or(&[], |t| t.primary_identifier.as_slice()),
        }
    }

    /// Whether the kind is a history kind (fetched within `selector.historyDays`).
    pub fn is_history(self) -> bool {
        self.spec().is_some_and(|s| s.history)
    }
}

impl fmt::Debug for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Kind({})", self.name())
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

impl<'de> serde::Deserialize<'de> for Kind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        Kind::resolve(&name).map_err(serde::de::Error::custom)
    }
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

/// Fetches the raw objects of one unit, page by page, and reports what the fetch did.
pub async fn fetch(ctx: &FetchContext<'_>, pages: &PageSender) -> Result<FetchStats, FetchError> {
    let Some(spec) = ctx.kind.spec() else {
        return cloud_control::fetch_kind(ctx, pages).await;
    };
    (spec.fetch)(ctx, pages).await
}

/// Every IAM action a member account's read role must allow for the native kinds: the single
/// source of truth for the least-privilege policies in `cloudformation/` and `template.yaml`.
/// Sorted and without duplicates.
pub fn member_read_actions() -> Vec<&'static str> {
    let mut actions: Vec<&'static str> = DISCOVERY_ACTIONS.to_vec();
    for spec in REGISTRY {
        actions.extend(spec.all_iam_actions());
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
        for &kind in Kind::all() {
            assert_eq!(Kind::parse(kind.name()), Some(kind));
        }
        assert_eq!(Kind::parse("AWS::EC2::InternetGateway"), None);
        assert_eq!(Kind::parse("aws::ec2::instance"), None);
    }

    #[test]
    fn named_handles_are_their_registry_entries() {
        assert_eq!(Kind::AccountInfo.name(), "AWS::Account::Info");
        assert_eq!(Kind::S3Bucket.name(), "AWS::S3::Bucket");
        assert_eq!(Kind::Ec2Instance.name(), "AWS::EC2::Instance");
        assert_eq!(Kind::EcsCluster.name(), "AWS::ECS::Cluster");
        assert_eq!(Kind::all().len(), REGISTRY.len());
    }

    #[test]
    fn registry_names_and_slugs_are_unique_and_every_kind_has_vectors() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut names = std::collections::BTreeSet::new();
        let mut slugs = std::collections::BTreeSet::new();
        for spec in REGISTRY {
            assert!(names.insert(spec.name), "{} twice", spec.name);
            assert!(slugs.insert(spec.slug), "slug {} twice", spec.slug);
            assert!(
                spec.slug
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "{}",
                spec.slug
            );
            let vectors = root.join("tests/vectors/aws-v3").join(spec.slug);
            assert!(
                vectors.is_dir(),
                "{} has no {}",
                spec.name,
                vectors.display()
            );
        }
    }

    #[test]
    fn readme_kind_table_lists_exactly_the_registry() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
        let section = readme
            .split("\n## Kinds\n")
            .nth(1)
            .expect("a Kinds section");
        let section = section.split("\n## ").next().unwrap_or_default();
        let listed: Vec<&str> = section
            .lines()
            .filter_map(|l| l.strip_prefix("| `"))
            .filter_map(|l| l.split('`').next())
            .collect();
        let registry: Vec<&str> = REGISTRY.iter().map(|s| s.name).collect();
        assert_eq!(listed, registry);
    }

    #[test]
    fn other_listable_cloudformation_types_resolve_to_cloud_control_kinds() {
        let volume = Kind::resolve("AWS::EC2::InternetGateway").unwrap();
        assert!(volume.spec().is_none());
        assert_eq!(volume.name(), "AWS::EC2::InternetGateway");
        assert_eq!(volume.slug(), "aws-ec2-internetgateway");
        assert_eq!(volume.scope(), KindScope::Regional);
        assert_eq!(volume.identity(), ["InternetGatewayId"]);
        assert!(volume
            .iam_actions()
            .contains(&"cloudformation:ListResources"));
        assert!(
            Kind::all().iter().all(|k| *k < volume),
            "natives order first"
        );
        assert_eq!(Kind::resolve("AWS::EC2::Instance"), Ok(Kind::Ec2Instance));
        let err = Kind::resolve("AWS::Example::Widget").unwrap_err();
        assert!(err.to_string().contains("AWS::ECS::Cluster"), "{err}");
        let round: Kind = serde_json::from_str("\"AWS::EC2::InternetGateway\"").unwrap();
        assert_eq!(round, volume);
    }

    #[test]
    fn default_actions_are_accepted_but_not_optional() {
        let s3 = Kind::S3Bucket.spec().unwrap();
        assert!(s3.action("GetBucketTaggingAction").unwrap().default);
        assert!(
            !s3.action("GetBucketPublicAccessBlockAction")
                .unwrap()
                .default
        );
        assert_eq!(
            s3.action("GetBucketPublicAccessBlockAction").unwrap().name,
            "GetPublicAccessBlockAction"
        );
    }

    #[test]
    fn member_read_actions_are_read_only_sorted_and_unique() {
        let actions = member_read_actions();
        let mut sorted = actions.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(actions, sorted);
        for action in &actions {
            assert!(
                crate::permissions::is_read_only(action),
                "{action} is not a read action"
            );
        }
        assert!(actions.contains(&"ec2:DescribeRegions"));
        assert!(actions.contains(&"s3:GetEncryptionConfiguration"));
    }
}
