//! `AWS::EC2::VPC` (regional): `DescribeVpcs`, one raw object per VPC (the region's default VPC
//! included), one page per API page.
//!
//! `Properties` is the API's `Vpc` as boto3 parses it (tags included: the API returns them). The
//! API returns no ARN; the example identifies a VPC by its `VpcId`, which subnets and security
//! groups relate to.

use super::{FetchContext, FetchError, FetchStats, KindScope, KindSpec, PageSender};
use serde_json::{json, Value};

/// The kind's registry entry.
pub static SPEC: KindSpec = KindSpec {
    name: "AWS::EC2::VPC",
    slug: "ec2-vpc",
    scope: KindScope::Regional,
    service: Some("ec2"),
    iam_actions: &["ec2:DescribeVpcs"],
    identity: &["VpcId"],
    fetch: |ctx, pages| Box::pin(fetch(ctx, pages)),
    ..KindSpec::NATIVE
};

/// `DescribeVpcs` page size (the API's maximum); passing it makes the call paginated.
const PAGE: u32 = 1000;

/// Fetches every VPC of the unit's region.
pub async fn fetch(ctx: &FetchContext<'_>, pages: &PageSender) -> Result<FetchStats, FetchError> {
    let input = json!({"MaxResults": PAGE});
    ctx.send_listed(pages, "DescribeVpcs", input, "Vpcs", properties)
        .await
}

/// aws-v3-style `Properties` of one VPC: the API object as it is.
pub fn properties(vpc: &Value) -> Value {
    Value::Object(vpc.as_object().cloned().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::Kind;
    use crate::test_support::fake_aws::{fetch_pages, FakeAws, Request, Response};
    use crate::test_support::TestUnit;

    const XMLNS: &str = "http://ec2.amazonaws.com/doc/2016-11-15/";

    fn vpc(id: &str, default: bool) -> String {
        format!(
            "<item><vpcId>{id}</vpcId><ownerId>111111111111</ownerId><state>available</state>\
             <cidrBlock>10.0.0.0/16</cidrBlock><dhcpOptionsId>dopt-1</dhcpOptionsId>\
             <instanceTenancy>default</instanceTenancy><isDefault>{default}</isDefault>\
             <tagSet><item><key>Name</key><value>{id}-name</value></item></tagSet></item>"
        )
    }

    fn handler(request: &Request) -> Response {
        let second = request.body.contains("NextToken=t2");
        let (items, token) = if second {
            (vpc("vpc-2", false), String::new())
        } else {
            (vpc("vpc-1", true), "<nextToken>t2</nextToken>".to_owned())
        };
        let body = format!(
            "<DescribeVpcsResponse xmlns=\"{XMLNS}\"><requestId>1</requestId><vpcSet>{items}</vpcSet>\
             {token}</DescribeVpcsResponse>"
        );
        (200, "text/xml;charset=UTF-8", body)
    }

    #[tokio::test]
    async fn vpcs_keep_boto3_names_tags_and_every_page() {
        let server = FakeAws::start(handler);
        let unit = TestUnit::new(
            Kind::parse("AWS::EC2::VPC").unwrap(),
            "eu-west-1",
            server.sdk_config("eu-west-1"),
        );
        let (result, pages) = fetch_pages(&unit.ctx()).await;
        let stats = result.unwrap();
        assert_eq!((stats.objects, stats.api_calls, pages.len()), (2, 2, 2));
        let objects: Vec<Value> = pages.into_iter().flatten().collect();
        assert_eq!(
            objects[0]["Properties"],
            json!({
                "VpcId": "vpc-1", "OwnerId": "111111111111", "State": "available",
                "CidrBlock": "10.0.0.0/16", "DhcpOptionsId": "dopt-1", "InstanceTenancy": "default",
                "IsDefault": true, "Tags": [{"Key": "Name", "Value": "vpc-1-name"}]
            })
        );
        assert_eq!(objects[1]["Properties"]["IsDefault"], false);
        assert_eq!(objects[0]["Type"], "AWS::EC2::VPC");
        assert_eq!(objects[0]["__ExtraContext"]["Region"], "eu-west-1");
        assert!(server.requests()[0].body.contains("MaxResults=1000"));
    }
}
