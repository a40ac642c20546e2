//! Enabled regions of an account: `ec2:DescribeRegions`, opted-in regions only, then the policy.

use crate::aws_error::AwsCallError;
use crate::config::RegionPolicy;
use aws_config::SdkConfig;
use aws_sdk_ec2::types::Region as Ec2Region;

/// Whether a region is usable by the account (`OptInStatus` is `opt-in-not-required` or
/// `opted-in`, or absent on older APIs that only list enabled regions).
pub fn is_enabled(region: &Ec2Region) -> bool {
    matches!(
        region.opt_in_status(),
        None | Some("opt-in-not-required") | Some("opted-in")
    )
}

/// Enabled regions that pass the policy, sorted.
pub fn select_regions(regions: &[Ec2Region], policy: &RegionPolicy) -> Vec<String> {
    let mut out: Vec<String> = regions
        .iter()
        .filter(|r| is_enabled(r))
        .filter_map(|r| r.region_name())
        .filter(|name| policy.allows(name))
        .map(str::to_owned)
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Lists the account's enabled regions (one call per account per run) and applies the policy.
pub async fn enabled_regions(
    sdk: &SdkConfig,
    account_id: &str,
    policy: &RegionPolicy,
) -> Result<Vec<String>, AwsCallError> {
    let ec2 = aws_sdk_ec2::Client::new(sdk);
    let out = ec2
        .describe_regions()
        .all_regions(true)
        .send()
        .await
        .map_err(|err| {
            let region = sdk.region().map(|r| r.as_ref());
            AwsCallError::new("DescribeRegions", account_id, region, &err)
                .with_hint("the role needs ec2:DescribeRegions")
        })?;
    Ok(select_regions(out.regions(), policy))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn region(name: &str, status: Option<&str>) -> Ec2Region {
        Ec2Region::builder()
            .region_name(name)
            .set_opt_in_status(status.map(str::to_owned))
            .build()
    }

    #[test]
    fn skips_region_not_opted_in() {
        let regions = [
            region("us-east-1", Some("opt-in-not-required")),
            region("af-south-1", Some("not-opted-in")),
            region("me-south-1", Some("opted-in")),
            region("eu-west-1", None),
        ];
        assert_eq!(
            select_regions(&regions, &RegionPolicy::default()),
            vec!["eu-west-1", "me-south-1", "us-east-1"]
        );
    }

    #[test]
    fn applies_policy_after_opt_in() {
        let regions = [
            region("us-east-1", Some("opt-in-not-required")),
            region("af-south-1", Some("not-opted-in")),
            region("eu-west-1", Some("opt-in-not-required")),
        ];
        let policy = RegionPolicy {
            allow: [
                "af-south-1".to_string(),
                "eu-west-1".to_string(),
                "us-east-1".to_string(),
            ]
            .into(),
            deny: ["us-east-1".to_string()].into(),
        };
        assert_eq!(select_regions(&regions, &policy), vec!["eu-west-1"]);
    }
}
