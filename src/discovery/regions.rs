//! Enabled regions of an account: `ec2:DescribeRegions`, opted-in regions only, then the policy.

use crate::aws::api::AwsApi;
use crate::aws_error::{AwsCallError, AwsReason};
use crate::config::RegionPolicy;
use aws_config::SdkConfig;
use serde_json::{json, Value};

/// Whether a region (an item of `DescribeRegions`' `Regions`) is usable by the account
/// (`OptInStatus` is `opt-in-not-required` or `opted-in`, or absent on older APIs that only list
/// enabled regions).
pub fn is_enabled(region: &Value) -> bool {
    matches!(
        region.get("OptInStatus").and_then(Value::as_str),
        None | Some("opt-in-not-required") | Some("opted-in")
    )
}

/// Enabled regions that pass the policy, sorted.
pub fn select_regions(regions: &[Value], policy: &RegionPolicy) -> Vec<String> {
    let mut out: Vec<String> = regions
        .iter()
        .filter(|r| is_enabled(r))
        .filter_map(|r| r.get("RegionName").and_then(Value::as_str))
        .filter(|name| policy.allows(name))
        .map(str::to_owned)
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Lists the account's enabled regions (one call per account per run) and applies the policy.
pub async fn enabled_regions(
    api: &AwsApi,
    sdk: &SdkConfig,
    account_id: &str,
    policy: &RegionPolicy,
) -> Result<Vec<String>, AwsCallError> {
    let region = sdk
        .region()
        .map(|r| r.as_ref().to_owned())
        .unwrap_or_default();
    let out = match api.client("ec2", sdk, &region) {
        Ok(ec2) => {
            ec2.call("DescribeRegions", json!({"AllRegions": true}))
                .await
        }
        Err(e) => Err(e),
    };
    let out = out.map_err(|err| AwsCallError {
        operation: "DescribeRegions",
        account_id: account_id.to_owned(),
        region: Some(region.clone()),
        reason: AwsReason::from_api(&err),
        hint: Some("the role needs ec2:DescribeRegions".to_owned()),
    })?;
    let regions = out["Regions"].as_array().map_or(&[][..], Vec::as_slice);
    Ok(select_regions(regions, policy))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn region(name: &str, status: Option<&str>) -> Value {
        match status {
            Some(status) => json!({"RegionName": name, "OptInStatus": status}),
            None => json!({ "RegionName": name }),
        }
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
