//! Region allow/deny policy (`REGION_POLICY`, and `selector.regionPolicy` in the mapping).

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// Regions known to this release, per partition. A policy naming another region is rejected so a
/// typo (`us-east1`) cannot silently sync nothing.
pub const KNOWN_REGIONS: &[&str] = &[
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-6",
    "ap-southeast-7",
    "ca-central-1",
    "ca-west-1",
    "cn-north-1",
    "cn-northwest-1",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "mx-central-1",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-gov-east-1",
    "us-gov-west-1",
    "us-west-1",
    "us-west-2",
];

/// Whether `region` is a region this release knows.
pub fn is_known_region(region: &str) -> bool {
    KNOWN_REGIONS.binary_search(&region).is_ok()
}

/// `{"allow": [...], "deny": [...]}`: deny wins; an empty allow list means every enabled region.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionPolicy {
    #[serde(default)]
    pub allow: BTreeSet<String>,
    #[serde(default)]
    pub deny: BTreeSet<String>,
}

impl RegionPolicy {
    /// Whether a region passes the policy.
    pub fn allows(&self, region: &str) -> bool {
        !self.deny.contains(region) && (self.allow.is_empty() || self.allow.contains(region))
    }

    /// The regions named by the policy that this release does not know.
    pub fn unknown_regions(&self) -> Vec<&str> {
        self.allow
            .iter()
            .chain(&self.deny)
            .map(String::as_str)
            .filter(|r| !is_known_region(r))
            .collect()
    }

    /// Both policies must allow a region (deny of either wins).
    pub fn and(&self, other: &RegionPolicy) -> RegionPolicy {
        let allow = match (self.allow.is_empty(), other.allow.is_empty()) {
            (true, _) => other.allow.clone(),
            (_, true) => self.allow.clone(),
            _ => self.allow.intersection(&other.allow).cloned().collect(),
        };
        // Disjoint non-empty allow lists allow nothing: keep that explicit with an impossible entry.
        let allow = if allow.is_empty() && !self.allow.is_empty() && !other.allow.is_empty() {
            BTreeSet::from(["<none>".to_owned()])
        } else {
            allow
        };
        RegionPolicy {
            allow,
            deny: self.deny.union(&other.deny).cloned().collect(),
        }
    }
}

impl RegionPolicy {
    /// A policy from region names (tests, fixed configurations).
    pub fn from_names(allow: &[&str], deny: &[&str]) -> RegionPolicy {
        RegionPolicy {
            allow: allow.iter().map(|s| s.to_string()).collect(),
            deny: deny.iter().map(|s| s.to_string()).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(allow: &[&str], deny: &[&str]) -> RegionPolicy {
        RegionPolicy::from_names(allow, deny)
    }

    #[test]
    fn region_policy_truth_table() {
        // (allow, deny, region, expected)
        let cases: &[(&[&str], &[&str], &str, bool)] = &[
            (&[], &[], "us-east-1", true),
            (&["us-east-1"], &[], "us-east-1", true),
            (&["us-east-1"], &[], "eu-west-1", false),
            (&[], &["us-east-1"], "us-east-1", false),
            (&[], &["us-east-1"], "eu-west-1", true),
            (&["us-east-1"], &["us-east-1"], "us-east-1", false),
            (
                &["us-east-1", "eu-west-1"],
                &["us-east-1"],
                "eu-west-1",
                true,
            ),
        ];
        for (allow, deny, region, expected) in cases {
            assert_eq!(
                policy(allow, deny).allows(region),
                *expected,
                "allow={allow:?} deny={deny:?} region={region}"
            );
        }
    }

    #[test]
    fn combined_policies_need_both_to_allow() {
        let global = policy(&["us-east-1", "eu-west-1"], &[]);
        let selector = policy(&[], &["eu-west-1"]);
        let both = global.and(&selector);
        assert!(both.allows("us-east-1"));
        assert!(!both.allows("eu-west-1"));
        assert!(!both.allows("us-west-2"));
        let disjoint = policy(&["us-east-1"], &[]).and(&policy(&["eu-west-1"], &[]));
        assert!(!disjoint.allows("us-east-1"));
        assert!(!disjoint.allows("eu-west-1"));
    }

    #[test]
    fn known_regions_are_sorted_for_lookup() {
        let mut sorted = KNOWN_REGIONS.to_vec();
        sorted.sort_unstable();
        assert_eq!(sorted, KNOWN_REGIONS);
        assert!(is_known_region("eu-west-1"));
        assert!(!is_known_region("us-east1"));
        assert_eq!(
            policy(&["us-east1"], &["mars-1"]).unknown_regions(),
            vec!["us-east1", "mars-1"]
        );
    }
}
