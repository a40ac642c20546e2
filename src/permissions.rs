//! The read-only IAM permissions a mapping needs, derived from the kind registry: what
//! `port-aws-sync permissions` prints and what `scripts/gen-iam-policies` writes into
//! `template.yaml` and `cloudformation/*.yaml`.
//!
//! A member account's role needs region discovery ([`DISCOVERY_ACTIONS`]) and the read calls of
//! the kinds the mapping names (each kind's IAM actions and those of the optional calls its
//! `includeActions` switch on). A Cloud Control kind needs `cloudformation:ListResources` and
//! `cloudformation:GetResource` plus the type's own handler permissions; those come from the
//! CloudFormation schema and are not always read-only (`kms:Decrypt`), so they are reported as
//! [`Permissions::notes`] for a person to grant, never put in the generated policy.

use crate::kinds::cloud_control::{self, CloudControlType, Support, CLOUD_CONTROL_ACTIONS};
use crate::kinds::{member_read_actions, Kind, DISCOVERY_ACTIONS, ORGANIZATION_ACTIONS};
use crate::mapping::Mapper;
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// The verbs of read-only IAM actions: a generated policy grants nothing else.
pub const READ_ONLY_VERBS: [&str; 4] = ["BatchGet", "Describe", "Get", "List"];

/// Whether `action` (`service:Verb...`) is a read-only call by its verb. API Gateway's
/// management actions are HTTP methods: of those, only `apigateway:GET` reads.
pub fn is_read_only(action: &str) -> bool {
    match action.split_once(':') {
        Some(("apigateway", verb)) => verb == "GET",
        Some((service, verb)) => {
            !service.is_empty()
                && !verb.contains('*')
                && READ_ONLY_VERBS.iter().any(|v| verb.starts_with(v))
        }
        None => false,
    }
}

/// Which statement of the role templates to produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Part {
    /// A member account's read role: the kinds' read calls and region discovery.
    Read,
    /// The kinds' read calls only (the SAM worker in single-account mode).
    Fetch,
    /// Region discovery only (the SAM fan-out in single-account mode).
    Discovery,
    /// The Organizations calls of the management account's discovery role.
    Organizations,
}

impl Part {
    /// The statement's `Sid`, as in the templates.
    pub fn sid(self) -> &'static str {
        match self {
            Part::Read => "PortAwsSyncRead",
            Part::Fetch => "PortAwsSyncFetch",
            Part::Discovery => "PortAwsSyncDiscoverRegions",
            Part::Organizations => "PortAwsSyncOrganizationsDiscovery",
        }
    }
}

/// A kind name that no permission can be derived for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("kind `{0}` is neither a native kind nor a CloudFormation type Cloud Control can list")]
pub struct UnknownKind(pub String);

/// The permissions of a set of kinds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Permissions {
    /// The kinds' read calls, without region discovery.
    kind_actions: BTreeSet<&'static str>,
    /// Cloud Control types, whose handler permissions go to [`Permissions::notes`].
    cloud_control: Vec<&'static CloudControlType>,
}

impl Permissions {
    /// Every native kind with every optional call: [`member_read_actions`].
    pub fn all_kinds() -> Permissions {
        Permissions {
            kind_actions: member_read_actions()
                .into_iter()
                .filter(|a| !DISCOVERY_ACTIONS.contains(a))
                .collect(),
            cloud_control: Vec::new(),
        }
    }

    /// The kinds a mapping names, with the optional calls its `includeActions` switch on.
    pub fn for_mapper(mapper: &Mapper) -> Result<Permissions, UnknownKind> {
        let mut permissions = Permissions::default();
        for kind in mapper.kinds() {
            if kind.spec().is_some() {
                permissions.add_native(kind, &mapper.include_actions(kind));
            } else {
                permissions.add_cloud_control(kind.name())?;
            }
        }
        Ok(permissions)
    }

    /// Adds a native kind and the optional calls named in `include` (aws-v3 `includeActions`).
    pub fn add_native(&mut self, kind: Kind, include: &BTreeSet<String>) {
        self.kind_actions.extend(kind.iam_actions());
        self.kind_actions.extend(
            kind.optional_actions()
                .iter()
                .filter(|a| a.default || include.iter().any(|name| a.is_named(name)))
                .flat_map(|a| a.iam_actions.iter().copied()),
        );
    }

    /// Adds a CloudFormation type synced through Cloud Control.
    pub fn add_cloud_control(&mut self, type_name: &str) -> Result<(), UnknownKind> {
        let Support::Listable(info) = cloud_control::support(type_name) else {
            return Err(UnknownKind(type_name.to_owned()));
        };
        self.kind_actions.extend(CLOUD_CONTROL_ACTIONS);
        if !self.cloud_control.iter().any(|t| t.name == info.name) {
            self.cloud_control.push(info);
        }
        Ok(())
    }

    /// The actions of one statement, sorted and without duplicates.
    pub fn actions(&self, part: Part) -> Vec<&'static str> {
        let actions: BTreeSet<&'static str> = match part {
            Part::Read => self
                .kind_actions
                .iter()
                .copied()
                .chain(DISCOVERY_ACTIONS.iter().copied())
                .collect(),
            Part::Fetch => self.kind_actions.clone(),
            Part::Discovery => DISCOVERY_ACTIONS.iter().copied().collect(),
            Part::Organizations => ORGANIZATION_ACTIONS.iter().copied().collect(),
        };
        actions.into_iter().collect()
    }

    /// The statement as an IAM policy document.
    pub fn policy(&self, part: Part) -> Value {
        json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Sid": part.sid(),
                "Effect": "Allow",
                "Action": self.actions(part),
                "Resource": "*",
            }],
        })
    }

    /// What a person must add by hand: for each Cloud Control type, the permissions of its list
    /// and read handlers (Cloud Control calls the service with the caller's credentials).
    pub fn notes(&self) -> Vec<String> {
        self.cloud_control.iter().map(|t| handler_note(t)).collect()
    }
}

/// One Cloud Control type's handler permissions in words, read-only ones apart from the others.
fn handler_note(info: &CloudControlType) -> String {
    let handler: BTreeSet<&str> = info
        .list_permissions
        .iter()
        .chain(&info.read_permissions)
        .copied()
        .collect();
    let (read, other): (Vec<&str>, Vec<&str>) = handler.into_iter().partition(|a| is_read_only(a));
    let mut note = format!(
        "{} is synced through Cloud Control, which calls the service with the role's credentials: \
         the role also needs the type's list and read handler permissions (from its CloudFormation \
         schema), which this policy does not grant: {}",
        info.name,
        if read.is_empty() {
            "none".to_owned()
        } else {
            read.join(", ")
        }
    );
    if !other.is_empty() {
        note.push_str(&format!(
            "; the schema also lists {}, which are not read-only: grant them only if the handler \
             fails without them",
            other.join(", ")
        ));
    }
    note
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL_PARTS: [Part; 4] = [
        Part::Read,
        Part::Fetch,
        Part::Discovery,
        Part::Organizations,
    ];

    #[test]
    fn every_kind_with_every_optional_call_is_the_member_read_policy() {
        let all = Permissions::all_kinds();
        assert_eq!(all.actions(Part::Read), member_read_actions());
        let mut each = Permissions::default();
        for &kind in Kind::all() {
            let include = kind
                .optional_actions()
                .iter()
                .map(|a| a.name.to_owned())
                .collect();
            each.add_native(kind, &include);
        }
        assert_eq!(each, all);
        assert!(!all.actions(Part::Fetch).contains(&"ec2:DescribeRegions"));
        assert_eq!(all.actions(Part::Discovery), DISCOVERY_ACTIONS);
    }

    #[test]
    fn generated_statements_are_read_only() {
        let mut permissions = Permissions::all_kinds();
        for info in cloud_control::listable_types().take(50) {
            permissions.add_cloud_control(info.name).unwrap();
        }
        for part in ALL_PARTS {
            let actions = permissions.actions(part);
            assert!(!actions.is_empty(), "{part:?}");
            for action in actions {
                assert!(is_read_only(action), "{part:?}: {action} is not read-only");
            }
        }
    }

    #[test]
    fn read_only_means_describe_list_get_or_batch_get() {
        for action in [
            "ec2:DescribeInstances",
            "s3:ListAllMyBuckets",
            "s3:GetBucketTagging",
            "dynamodb:BatchGetItem",
            "apigateway:GET",
        ] {
            assert!(is_read_only(action), "{action}");
        }
        for action in [
            "kms:Decrypt",
            "s3:PutObject",
            "ec2:*",
            "ec2:Describe*",
            "iam:PassRole",
            "DescribeInstances",
            ":GetThing",
            "s3:DeleteBucket",
            "apigateway:POST",
            "apigateway:Get",
        ] {
            assert!(!is_read_only(action), "{action}");
        }
    }

    #[test]
    fn a_mapping_grants_only_its_kinds_and_the_optional_calls_it_asks_for() {
        let mapper = Mapper::from_yaml(
            "resources:\n\
             - kind: AWS::S3::Bucket\n  selector:\n    query: 'true'\n    includeActions: [GetBucketEncryptionAction]\n  \
             port:\n    entity:\n      mappings:\n        identifier: .Properties.Arn\n        blueprint: '\"b\"'\n",
        )
        .unwrap();
        let permissions = Permissions::for_mapper(&mapper).unwrap();
        assert_eq!(
            permissions.actions(Part::Read),
            [
                "ec2:DescribeRegions",
                "s3:GetBucketTagging",
                "s3:GetEncryptionConfiguration",
                "s3:ListAllMyBuckets"
            ]
        );
        assert!(permissions.notes().is_empty());
    }

    #[test]
    fn a_cloud_control_type_adds_cloud_control_and_a_note_with_its_handler_permissions() {
        let mut permissions = Permissions::default();
        permissions
            .add_cloud_control("AWS::Lambda::Function")
            .unwrap();
        permissions
            .add_cloud_control("AWS::Lambda::Function")
            .unwrap();
        assert_eq!(
            permissions.actions(Part::Fetch),
            ["cloudformation:GetResource", "cloudformation:ListResources"]
        );
        let notes = permissions.notes();
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(notes[0].starts_with("AWS::Lambda::Function "), "{notes:?}");
        assert!(notes[0].contains("lambda:ListFunctions"), "{notes:?}");
        assert_eq!(
            permissions.add_cloud_control("AWS::Route53::RecordSet"),
            Err(UnknownKind("AWS::Route53::RecordSet".into())),
            "a type whose list handler needs a parent"
        );
        assert!(permissions.add_cloud_control("AWS::Nope::Nope").is_err());
    }

    #[test]
    fn a_note_sets_apart_handler_permissions_that_are_not_read_only() {
        let aiops = match cloud_control::support("AWS::AIOps::InvestigationGroup") {
            Support::Listable(info) => info,
            other => panic!("{other:?}"),
        };
        let note = handler_note(aiops);
        let (read, other) = note
            .split_once("; the schema also lists")
            .unwrap_or_else(|| panic!("no non-read-only part: {note}"));
        assert!(read.contains("aiops:GetInvestigationGroup"), "{note}");
        assert!(read.contains("kms:DescribeKey"), "{note}");
        assert!(!read.contains("kms:Encrypt"), "{note}");
        assert!(other.contains("kms:Decrypt, kms:Encrypt"), "{note}");
    }

    #[test]
    fn policy_is_an_iam_document_with_the_templates_sid() {
        let policy = Permissions::all_kinds().policy(Part::Read);
        assert_eq!(policy["Version"], "2012-10-17");
        let statement = &policy["Statement"][0];
        assert_eq!(statement["Sid"], "PortAwsSyncRead");
        assert_eq!(statement["Effect"], "Allow");
        assert_eq!(statement["Resource"], "*");
        assert_eq!(statement["Action"], json!(member_read_actions()));
    }
}
