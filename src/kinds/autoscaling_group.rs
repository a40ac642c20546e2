//! `AWS::AutoScaling::AutoScalingGroup` (regional): `DescribeAutoScalingGroups`, one raw object per
//! group, one page per API page (100 groups, the API's maximum).
//!
//! `Properties` is the `AutoScalingGroup` as boto3 parses it (`AutoScalingGroupName`,
//! `AutoScalingGroupARN`, `LaunchTemplate`, `MixedInstancesPolicy`, `LaunchConfigurationName`,
//! `MinSize`, `MaxSize`, `DesiredCapacity`, `VPCZoneIdentifier` as the API's comma-separated
//! subnet ids, `Instances`, `TargetGroupARNs`, `Tags` as `[{ResourceId, ResourceType, Key, Value,
//! PropagateAtLaunch}]`, ...): the call returns the tags, so no other call is made. The example
//! identifies a group by its `AutoScalingGroupARN` and relates it to its subnets (the
//! `VPCZoneIdentifier` split) and target groups; its launch template is a property (its id),
//! there being no launch template kind.

use super::fetch::as_is;
use super::{FetchContext, FetchError, FetchStats, KindScope, KindSpec, PageSender};
use serde_json::json;

/// The kind's registry entry.
pub static SPEC: KindSpec = KindSpec {
    name: "AWS::AutoScaling::AutoScalingGroup",
    slug: "autoscaling-group",
    scope: KindScope::Regional,
    service: Some("autoscaling"),
    iam_actions: &["autoscaling:DescribeAutoScalingGroups"],
    identity: &["AutoScalingGroupARN", "AutoScalingGroupName"],
    fetch: |ctx, pages| Box::pin(fetch(ctx, pages)),
    ..KindSpec::NATIVE
};

/// `DescribeAutoScalingGroups` page size (the API's maximum).
const PAGE: u32 = 100;

/// Fetches every Auto Scaling group of the unit's region, with its tags.
pub async fn fetch(ctx: &FetchContext<'_>, pages: &PageSender) -> Result<FetchStats, FetchError> {
    ctx.send_listed(
        pages,
        "DescribeAutoScalingGroups",
        json!({ "MaxRecords": PAGE }),
        "AutoScalingGroups",
        as_is,
    )
    .await
}

#[cfg(test)]
mod tests {
    use crate::kinds::Kind;
    use crate::test_support::fake_aws::{fetch_pages, FakeAws, Request, Response};
    use crate::test_support::TestUnit;

    fn group(name: &str) -> String {
        format!(
            "<member><AutoScalingGroupName>{name}</AutoScalingGroupName>\
             <AutoScalingGroupARN>arn:aws:autoscaling:eu-west-1:111111111111:autoScalingGroup:1:autoScalingGroupName/{name}</AutoScalingGroupARN>\
             <LaunchTemplate><LaunchTemplateId>lt-1</LaunchTemplateId><Version>$Latest</Version></LaunchTemplate>\
             <MinSize>1</MinSize><MaxSize>3</MaxSize><DesiredCapacity>2</DesiredCapacity>\
             <VPCZoneIdentifier>subnet-1,subnet-2</VPCZoneIdentifier>\
             <Tags><member><ResourceId>{name}</ResourceId><ResourceType>auto-scaling-group</ResourceType>\
             <Key>team</Key><Value>orders</Value><PropagateAtLaunch>true</PropagateAtLaunch></member></Tags>\
             </member>"
        )
    }

    /// Two pages (`NextToken`), the Query protocol's XML.
    fn handler(request: &Request) -> Response {
        let (groups, next) = if request.body.contains("NextToken=t2") {
            (group("c"), String::new())
        } else {
            (
                format!("{}{}", group("a"), group("b")),
                "<NextToken>t2</NextToken>".to_owned(),
            )
        };
        let body = format!(
            "<DescribeAutoScalingGroupsResponse xmlns=\"http://autoscaling.amazonaws.com/doc/2011-01-01/\">\
             <DescribeAutoScalingGroupsResult><AutoScalingGroups>{groups}</AutoScalingGroups>{next}\
             </DescribeAutoScalingGroupsResult><ResponseMetadata><RequestId>r</RequestId>\
             </ResponseMetadata></DescribeAutoScalingGroupsResponse>"
        );
        (200, "text/xml", body)
    }

    #[tokio::test]
    async fn lists_every_group_with_its_tags_page_by_page() {
        let server = FakeAws::start(handler);
        let kind = Kind::parse("AWS::AutoScaling::AutoScalingGroup").unwrap();
        let unit = TestUnit::new(kind, "eu-west-1", server.sdk_config("eu-west-1"));
        let (result, pages) = fetch_pages(&unit.ctx()).await;
        let stats = result.unwrap();
        assert_eq!((stats.objects, stats.api_calls), (3, 2));
        assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [2, 1]);
        let a = &pages[0][0]["Properties"];
        assert_eq!(a["AutoScalingGroupName"], "a");
        assert_eq!(a["MinSize"], 1);
        assert_eq!(a["VPCZoneIdentifier"], "subnet-1,subnet-2");
        assert_eq!(a["LaunchTemplate"]["LaunchTemplateId"], "lt-1");
        assert_eq!(a["Tags"][0]["PropagateAtLaunch"], true);
        assert!(server.requests()[0].body.contains("MaxRecords=100"));
    }
}
