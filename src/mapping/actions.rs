//! aws-v3 `includeActions` names: which optional call a name switches on here, and which names
//! aws-v3 users may list that need no switch (aws-v3 makes those calls by default, and so do we).

use crate::kinds::{ec2_instance, s3_bucket, Kind};

/// What an `includeActions` entry means for a kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolved {
    /// The optional call of this name (canonical name).
    Optional(&'static str),
    /// A call made for every object of the kind anyway: listing it has no effect.
    AlwaysMade,
    /// Not an action of this kind (a typo, or a call this release does not make).
    Unknown,
}

/// Names aws-v3 releases used for calls that have another name here.
fn aliases(kind: Kind) -> &'static [(&'static str, &'static str)] {
    match kind {
        Kind::S3Bucket => &[(
            "GetBucketPublicAccessBlockAction",
            s3_bucket::GET_PUBLIC_ACCESS_BLOCK_ACTION,
        )],
        Kind::Ec2Instance => &[(
            "GetInstanceStatusAction",
            ec2_instance::DESCRIBE_INSTANCE_STATUS_ACTION,
        )],
        Kind::AccountInfo | Kind::EcsCluster => &[],
    }
}

/// aws-v3's default actions: the calls every sync of the kind makes.
fn always_made(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::S3Bucket => &["ListBucketsAction", "GetBucketTaggingAction"],
        Kind::Ec2Instance => &["DescribeInstancesAction"],
        Kind::EcsCluster => &["ECSClusterDetailsAction"],
        Kind::AccountInfo => &[],
    }
}

/// Resolves one `includeActions` entry of a resource of `kind` (exact, case-sensitive names).
pub fn resolve(kind: Kind, name: &str) -> Resolved {
    if let Some(action) = kind.optional_actions().iter().find(|a| a.name == name) {
        return Resolved::Optional(action.name);
    }
    if let Some((_, canonical)) = aliases(kind).iter().find(|(alias, _)| *alias == name) {
        return Resolved::Optional(canonical);
    }
    if always_made(kind).contains(&name) {
        return Resolved::AlwaysMade;
    }
    Resolved::Unknown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_optional_aliases_defaults_and_typos() {
        assert_eq!(
            resolve(Kind::S3Bucket, "GetBucketEncryptionAction"),
            Resolved::Optional("GetBucketEncryptionAction")
        );
        assert_eq!(
            resolve(Kind::S3Bucket, "GetBucketPublicAccessBlockAction"),
            Resolved::Optional("GetPublicAccessBlockAction")
        );
        assert_eq!(
            resolve(Kind::Ec2Instance, "GetInstanceStatusAction"),
            Resolved::Optional("DescribeInstanceStatusAction")
        );
        assert_eq!(
            resolve(Kind::S3Bucket, "GetBucketTaggingAction"),
            Resolved::AlwaysMade
        );
        assert_eq!(
            resolve(Kind::S3Bucket, "GetBucketTaggingActio"),
            Resolved::Unknown
        );
        assert_eq!(
            resolve(Kind::Ec2Instance, "GetBucketEncryptionAction"),
            Resolved::Unknown,
            "an action of another kind"
        );
        for kind in Kind::ALL {
            for (alias, canonical) in aliases(kind) {
                assert!(
                    kind.optional_actions().iter().any(|a| a.name == *canonical),
                    "{alias}"
                );
            }
        }
    }
}
