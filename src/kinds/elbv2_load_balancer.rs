//! `AWS::ElasticLoadBalancingV2::LoadBalancer` (regional): `DescribeLoadBalancers` (application,
//! network and gateway load balancers), one page per API page, and `DescribeTags` for the page's
//! load balancers by 20 (the API's maximum), as `Tags`.
//!
//! `Properties` is the API's `LoadBalancer` as boto3 parses it plus `Tags` (`[{Key, Value}]`, as
//! `DescribeTags` returns them). The example identifies a load balancer by its
//! `LoadBalancerArn` and relates it to its VPC, subnets and security groups.

use super::detail;
use super::{FetchContext, FetchError, FetchStats, KindScope, KindSpec, PageSender};
use futures_util::StreamExt;
use serde_json::{json, Value};
use std::collections::HashMap;

/// The kind's registry entry.
pub static SPEC: KindSpec = KindSpec {
    name: "AWS::ElasticLoadBalancingV2::LoadBalancer",
    slug: "elbv2-load-balancer",
    scope: KindScope::Regional,
    service: Some("elbv2"),
    iam_actions: &[
        "elasticloadbalancing:DescribeLoadBalancers",
        "elasticloadbalancing:DescribeTags",
    ],
    identity: &["LoadBalancerArn", "LoadBalancerName"],
    fetch: |ctx, pages| Box::pin(fetch(ctx, pages)),
    ..KindSpec::NATIVE
};

/// `DescribeLoadBalancers` page size (the API's maximum); passing it makes the call paginated.
const PAGE: u32 = 400;

/// `DescribeTags` takes at most 20 resource ARNs.
pub const TAG_BATCH: usize = 20;

/// Fetches every load balancer of the unit's region, with its tags.
pub async fn fetch(ctx: &FetchContext<'_>, pages: &PageSender) -> Result<FetchStats, FetchError> {
    let input = json!({"PageSize": PAGE});
    let mut listed = std::pin::pin!(ctx.pages("DescribeLoadBalancers", input));
    while let Some(page) = listed.next().await {
        let lbs = detail::take_objects(page?, "LoadBalancers");
        let arns: Vec<String> = lbs.iter().filter_map(|lb| arn(lb, ARN_KEY)).collect();
        let tags = tags_by_arn(ctx, &arns, "LoadBalancerNotFound").await?;
        let objects = lbs
            .iter()
            .map(|lb| ctx.raw(properties(lb, arn(lb, ARN_KEY).and_then(|a| tags.get(&a)))))
            .collect();
        ctx.send(pages, objects).await?;
    }
    Ok(ctx.stats())
}

const ARN_KEY: &str = "LoadBalancerArn";

/// The `key` ARN of an API object.
pub fn arn(object: &Value, key: &str) -> Option<String> {
    object[key].as_str().map(str::to_owned)
}

/// The tags of `arns` by ARN: `DescribeTags` by [`TAG_BATCH`]. When a resource of a batch is gone
/// (`gone`, e.g. `LoadBalancerNotFound`), that batch's resources are asked one by one, and a gone
/// resource has no tags.
pub async fn tags_by_arn(
    ctx: &FetchContext<'_>,
    arns: &[String],
    gone: &'static str,
) -> Result<HashMap<String, Value>, FetchError> {
    let found = ctx
        .batched(arns, TAG_BATCH, |batch| async move {
            match describe_tags(ctx, &batch, gone).await? {
                Some(tags) => Ok(tags),
                None => {
                    let alone = ctx.each(
                        batch,
                        |a| async move { describe_tags(ctx, &[a], gone).await },
                    );
                    Ok(alone.await?.into_iter().flatten().flatten().collect())
                }
            }
        })
        .await?;
    Ok(found.into_iter().collect())
}

/// One `DescribeTags` call: `(ARN, Tags)` pairs, `None` when one of `arns` is gone. Any other
/// error (access denied included: the call is one the kind always makes) fails the fetch.
async fn describe_tags(
    ctx: &FetchContext<'_>,
    arns: &[String],
    gone: &str,
) -> Result<Option<Vec<(String, Value)>>, FetchError> {
    let answer = match ctx
        .call("DescribeTags", json!({ "ResourceArns": arns }))
        .await
    {
        Ok(answer) => answer,
        Err(FetchError::Aws {
            code: Some(code), ..
        }) if code == gone => return Ok(None),
        Err(e) => return Err(e),
    };
    let descriptions = answer["TagDescriptions"].as_array().cloned();
    let pairs = descriptions
        .unwrap_or_default()
        .into_iter()
        .filter_map(|d| {
            let arn = d["ResourceArn"].as_str()?.to_owned();
            Some((arn, d.get("Tags").cloned().unwrap_or_else(|| json!([]))))
        });
    Ok(Some(pairs.collect()))
}

/// aws-v3-style `Properties` of one load balancer: the API object plus its `Tags`.
pub fn properties(lb: &Value, tags: Option<&Value>) -> Value {
    let mut props = lb.as_object().cloned().unwrap_or_default();
    if let Some(tags) = tags {
        props.insert("Tags".into(), tags.clone());
    }
    Value::Object(props)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::Kind;
    use crate::test_support::fake_aws::{fetch_pages, FakeAws, Request, Response};
    use crate::test_support::TestUnit;

    const XMLNS: &str = "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/";
    const ARN: &str = "arn:aws:elasticloadbalancing:eu-west-1:111111111111:loadbalancer/app";

    fn xml(op: &str, result: String) -> Response {
        let body = format!(
            "<{op}Response xmlns=\"{XMLNS}\"><{op}Result>{result}</{op}Result>\
             <ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></{op}Response>"
        );
        (200, "text/xml", body)
    }

    fn lb(name: &str) -> String {
        format!(
            "<member><LoadBalancerArn>{ARN}/{name}/1</LoadBalancerArn><LoadBalancerName>{name}</LoadBalancerName>\
             <DNSName>{name}.elb.amazonaws.com</DNSName><Scheme>internet-facing</Scheme><VpcId>vpc-1</VpcId>\
             <State><Code>active</Code></State><Type>application</Type>\
             <AvailabilityZones><member><ZoneName>eu-west-1a</ZoneName><SubnetId>subnet-1</SubnetId></member></AvailabilityZones>\
             <SecurityGroups><member>sg-1</member></SecurityGroups></member>"
        )
    }

    fn tags(arns: &[&str]) -> String {
        let items: String = arns
            .iter()
            .map(|a| format!("<member><ResourceArn>{a}</ResourceArn><Tags><member><Key>team</Key><Value>{a}</Value></member></Tags></member>"))
            .collect();
        format!("<TagDescriptions>{items}</TagDescriptions>")
    }

    fn not_found() -> Response {
        let error = "<ErrorResponse><Error><Type>Sender</Type><Code>LoadBalancerNotFound</Code>\
                     <Message>gone</Message></Error><RequestId>x</RequestId></ErrorResponse>";
        (400, "text/xml", error.to_owned())
    }

    fn handler(request: &Request) -> Response {
        let body = &request.body;
        let a = format!("{ARN}/a/1");
        if body.contains("Action=DescribeLoadBalancers") {
            if body.contains("Marker=m2") {
                return xml(
                    "DescribeLoadBalancers",
                    format!("<LoadBalancers>{}</LoadBalancers>", lb("c")),
                );
            }
            let page = format!(
                "<LoadBalancers>{}{}</LoadBalancers><NextMarker>m2</NextMarker>",
                lb("a"),
                lb("b")
            );
            return xml("DescribeLoadBalancers", page);
        }
        // `b` disappears between the listing and its tags.
        if body.contains("%2Fb%2F1") {
            return not_found();
        }
        let c = format!("{ARN}/c/1");
        let arns: Vec<&str> = [a.as_str(), c.as_str()]
            .into_iter()
            .filter(|x| body.contains(&x.replace(':', "%3A").replace('/', "%2F")))
            .collect();
        xml("DescribeTags", tags(&arns))
    }

    #[tokio::test]
    async fn load_balancers_get_their_tags_and_a_gone_one_none() {
        let server = FakeAws::start(handler);
        let unit = TestUnit::new(
            Kind::parse("AWS::ElasticLoadBalancingV2::LoadBalancer").unwrap(),
            "eu-west-1",
            server.sdk_config("eu-west-1"),
        );
        let (result, pages) = fetch_pages(&unit.ctx()).await;
        let stats = result.unwrap();
        // 2 listing pages, 1 failed batch + 2 single calls, 1 batch for the second page.
        assert_eq!((stats.objects, stats.api_calls, pages.len()), (3, 6, 2));
        let objects: Vec<Value> = pages.into_iter().flatten().collect();
        let a = format!("{ARN}/a/1");
        assert_eq!(
            objects[0]["Properties"],
            json!({
                "LoadBalancerArn": a, "LoadBalancerName": "a", "DNSName": "a.elb.amazonaws.com",
                "Scheme": "internet-facing", "VpcId": "vpc-1", "State": {"Code": "active"},
                "Type": "application", "SecurityGroups": ["sg-1"],
                "AvailabilityZones": [{"ZoneName": "eu-west-1a", "SubnetId": "subnet-1"}],
                "Tags": [{"Key": "team", "Value": a}]
            })
        );
        assert!(objects[1]["Properties"].get("Tags").is_none());
        assert_eq!(objects[2]["Properties"]["Tags"][0]["Key"], "team");
        assert!(server.requests()[0].body.contains("PageSize=400"));
    }
}
