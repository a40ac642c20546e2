//! aws-v3 `includeActions` names, resolved from the kind's registry entry: which optional call a
//! name switches on here, and which names aws-v3 users may list that need no switch (aws-v3
//! makes those calls by default, and so do we).

use crate::kinds::Kind;

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

/// Resolves one `includeActions` entry of a resource of `kind` (exact, case-sensitive names;
/// aws-v3's older names resolve to the current one).
pub fn resolve(kind: Kind, name: &str) -> Resolved {
    match kind.optional_actions().iter().find(|a| a.is_named(name)) {
        Some(action) if action.default => Resolved::AlwaysMade,
        Some(action) => Resolved::Optional(action.name),
        None => Resolved::Unknown,
    }
}

/// The names a mapping may switch on for `kind`.
pub fn optional_names(kind: Kind) -> Vec<&'static str> {
    kind.optional_actions()
        .iter()
        .filter(|a| !a.default)
        .map(|a| a.name)
        .collect()
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
        assert_eq!(
            resolve(Kind::EcsCluster, "ECSClusterDetailsAction"),
            Resolved::AlwaysMade
        );
        assert_eq!(
            resolve(Kind::Ec2Instance, "DescribeInstancesAction"),
            Resolved::AlwaysMade
        );
        assert_eq!(
            resolve(Kind::S3Bucket, "ListBucketsAction"),
            Resolved::AlwaysMade
        );
    }
}
