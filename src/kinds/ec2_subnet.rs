//! `AWS::EC2::Subnet` (regional): `DescribeSubnets`, one raw object per subnet (the default VPC's
//! subnets included), one page per API page.
//!
//! `Properties` is the API's `Subnet` as boto3 parses it (tags and `SubnetArn` included: the API
//! returns them). The example identifies a subnet by its `SubnetId` (what instances, load
//! balancers and Auto Scaling groups name) and relates it to its VPC by `VpcId`.

use super::{FetchContext, FetchError, FetchStats, KindScope, KindSpec, PageSender};
use serde_json::{json, Value};

/// The kind's registry entry.
pub static SPEC: KindSpec = KindSpec {
    name: "AWS::EC2::Subnet",
    slug: "ec2-subnet",
    scope: KindScope::Regional,
    service: Some("ec2"),
    iam_actions: &["ec2:DescribeSubnets"],
    identity: &["SubnetId", "SubnetArn"],
    fetch: |ctx, pages| Box::pin(fetch(ctx, pages)),
    ..KindSpec::NATIVE
};

/// `DescribeSubnets` page size (the API's maximum); passing it makes the call paginated.
const PAGE: u32 = 1000;

/// Fetches every subnet of the unit's region.
pub async fn fetch(ctx: &FetchContext<'_>, pages: &PageSender) -> Result<FetchStats, FetchError> {
    let input = json!({"MaxResults": PAGE});
    ctx.send_listed(pages, "DescribeSubnets", input, "Subnets", properties)
        .await
}

/// aws-v3-style `Properties` of one subnet: the API object as it is.
pub fn properties(subnet: &Value) -> Value {
    Value::Object(subnet.as_object().cloned().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::Kind;
    use crate::test_support::fake_aws::{fetch_pages, FakeAws, Request, Response};
    use crate::test_support::TestUnit;

    const XMLNS: &str = "http://ec2.amazonaws.com/doc/2016-11-15/";

    fn subnet(id: &str) -> String {
        format!(
            "<item><subnetId>{id}</subnetId><vpcId>vpc-1</vpcId><state>available</state>\
             <cidrBlock>10.0.1.0/24</cidrBlock><availabilityZone>eu-west-1a</availabilityZone>\
             <availabilityZoneId>euw1-az1</availabilityZoneId>\
             <availableIpAddressCount>251</availableIpAddressCount><defaultForAz>false</defaultForAz>\
             <mapPublicIpOnLaunch>false</mapPublicIpOnLaunch><ownerId>111111111111</ownerId>\
             <subnetArn>arn:aws:ec2:eu-west-1:111111111111:subnet/{id}</subnetArn>\
             <tagSet><item><key>Name</key><value>{id}-name</value></item></tagSet></item>"
        )
    }

    fn handler(request: &Request) -> Response {
        let second = request.body.contains("NextToken=t2");
        let (items, token) = if second {
            (subnet("subnet-2"), String::new())
        } else {
            (subnet("subnet-1"), "<nextToken>t2</nextToken>".to_owned())
        };
        let body = format!(
            "<DescribeSubnetsResponse xmlns=\"{XMLNS}\"><requestId>1</requestId>\
             <subnetSet>{items}</subnetSet>{token}</DescribeSubnetsResponse>"
        );
        (200, "text/xml;charset=UTF-8", body)
    }

    #[tokio::test]
    async fn subnets_keep_boto3_names_tags_and_every_page() {
        let server = FakeAws::start(handler);
        let unit = TestUnit::new(
            Kind::parse("AWS::EC2::Subnet").unwrap(),
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
                "SubnetId": "subnet-1", "VpcId": "vpc-1", "State": "available",
                "CidrBlock": "10.0.1.0/24", "AvailabilityZone": "eu-west-1a",
                "AvailabilityZoneId": "euw1-az1", "AvailableIpAddressCount": 251,
                "DefaultForAz": false, "MapPublicIpOnLaunch": false, "OwnerId": "111111111111",
                "SubnetArn": "arn:aws:ec2:eu-west-1:111111111111:subnet/subnet-1",
                "Tags": [{"Key": "Name", "Value": "subnet-1-name"}]
            })
        );
        assert_eq!(objects[1]["Properties"]["SubnetId"], "subnet-2");
        assert_eq!(objects[0]["Type"], "AWS::EC2::Subnet");
        assert!(server.requests()[0].body.contains("MaxResults=1000"));
    }
}
