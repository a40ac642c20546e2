//! `AWS::ElasticLoadBalancingV2::TargetGroup` (regional): `DescribeTargetGroups`, one page per API
//! page, and `DescribeTags` for the page's target groups by 20, as `Tags`.
//!
//! `Properties` is the API's `TargetGroup` as boto3 parses it plus `Tags` (`[{Key, Value}]`).
//! The example identifies a target group by its `TargetGroupArn` and relates it to its load
//! balancers (`LoadBalancerArns`) and VPC.

use super::detail;
use super::elbv2_load_balancer::{arn, properties, tags_by_arn};
use super::{FetchContext, FetchError, FetchStats, KindScope, KindSpec, PageSender};
use futures_util::StreamExt;
use serde_json::json;

/// The kind's registry entry.
pub static SPEC: KindSpec = KindSpec {
    name: "AWS::ElasticLoadBalancingV2::TargetGroup",
    slug: "elbv2-target-group",
    scope: KindScope::Regional,
    service: Some("elbv2"),
    iam_actions: &[
        "elasticloadbalancing:DescribeTargetGroups",
        "elasticloadbalancing:DescribeTags",
    ],
    identity: &["TargetGroupArn", "TargetGroupName"],
    fetch: |ctx, pages| Box::pin(fetch(ctx, pages)),
    ..KindSpec::NATIVE
};

/// `DescribeTargetGroups` page size (the API's maximum); passing it makes the call paginated.
const PAGE: u32 = 400;

const ARN_KEY: &str = "TargetGroupArn";

/// Fetches every target group of the unit's region, with its tags.
pub async fn fetch(ctx: &FetchContext<'_>, pages: &PageSender) -> Result<FetchStats, FetchError> {
    let input = json!({"PageSize": PAGE});
    let mut listed = std::pin::pin!(ctx.pages("DescribeTargetGroups", input));
    while let Some(page) = listed.next().await {
        let groups = detail::take_objects(page?, "TargetGroups");
        let arns: Vec<String> = groups.iter().filter_map(|g| arn(g, ARN_KEY)).collect();
        let tags = tags_by_arn(ctx, &arns, "TargetGroupNotFound").await?;
        let objects = groups
            .iter()
            .map(|g| ctx.raw(properties(g, arn(g, ARN_KEY).and_then(|a| tags.get(&a)))))
            .collect();
        ctx.send(pages, objects).await?;
    }
    Ok(ctx.stats())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::Kind;
    use crate::test_support::fake_aws::{fetch_pages, FakeAws, Request, Response};
    use crate::test_support::TestUnit;
    use serde_json::Value;

    const XMLNS: &str = "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/";
    const ARN: &str = "arn:aws:elasticloadbalancing:eu-west-1:111111111111:targetgroup/web/1";
    const LB: &str = "arn:aws:elasticloadbalancing:eu-west-1:111111111111:loadbalancer/app/a/1";

    fn xml(op: &str, result: String) -> Response {
        let body = format!(
            "<{op}Response xmlns=\"{XMLNS}\"><{op}Result>{result}</{op}Result>\
             <ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></{op}Response>"
        );
        (200, "text/xml", body)
    }

    fn handler(request: &Request) -> Response {
        if request.body.contains("Action=DescribeTargetGroups") {
            let group = format!(
                "<member><TargetGroupArn>{ARN}</TargetGroupArn><TargetGroupName>web</TargetGroupName>\
                 <Protocol>HTTP</Protocol><Port>80</Port><VpcId>vpc-1</VpcId><TargetType>instance</TargetType>\
                 <HealthCheckEnabled>true</HealthCheckEnabled><HealthCheckPath>/health</HealthCheckPath>\
                 <Matcher><HttpCode>200</HttpCode></Matcher>\
                 <LoadBalancerArns><member>{LB}</member></LoadBalancerArns></member>"
            );
            return xml(
                "DescribeTargetGroups",
                format!("<TargetGroups>{group}</TargetGroups>"),
            );
        }
        let tags = format!(
            "<TagDescriptions><member><ResourceArn>{ARN}</ResourceArn><Tags><member><Key>team</Key>\
             <Value>web</Value></member></Tags></member></TagDescriptions>"
        );
        xml("DescribeTags", tags)
    }

    #[tokio::test]
    async fn target_groups_keep_boto3_names_and_get_their_tags() {
        let server = FakeAws::start(handler);
        let unit = TestUnit::new(
            Kind::parse("AWS::ElasticLoadBalancingV2::TargetGroup").unwrap(),
            "eu-west-1",
            server.sdk_config("eu-west-1"),
        );
        let (result, pages) = fetch_pages(&unit.ctx()).await;
        let stats = result.unwrap();
        assert_eq!((stats.objects, stats.api_calls), (1, 2));
        let objects: Vec<Value> = pages.into_iter().flatten().collect();
        assert_eq!(
            objects[0]["Properties"],
            json!({
                "TargetGroupArn": ARN, "TargetGroupName": "web", "Protocol": "HTTP", "Port": 80,
                "VpcId": "vpc-1", "TargetType": "instance", "HealthCheckEnabled": true,
                "HealthCheckPath": "/health", "Matcher": {"HttpCode": "200"},
                "LoadBalancerArns": [LB], "Tags": [{"Key": "team", "Value": "web"}]
            })
        );
        let requests = server.requests();
        assert!(requests[1].body.contains("Action=DescribeTags"));
        assert!(requests[1].body.contains("ResourceArns.member.1="));
    }
}
