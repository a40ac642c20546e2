//! `AWS::EC2::SecurityGroup` (regional): `DescribeSecurityGroups`, one raw object per security
//! group (every VPC's `default` group included), one page per API page.
//!
//! `Properties` is the API's `SecurityGroup` as boto3 parses it: rules (`IpPermissions`,
//! `IpPermissionsEgress`), tags and `SecurityGroupArn` included. The example identifies a group
//! by its `GroupId` (what instances and load balancers name) and relates it to its VPC.

use super::{FetchContext, FetchError, FetchStats, KindScope, KindSpec, PageSender};
use serde_json::{json, Value};

/// The kind's registry entry.
pub static SPEC: KindSpec = KindSpec {
    name: "AWS::EC2::SecurityGroup",
    slug: "ec2-security-group",
    scope: KindScope::Regional,
    service: Some("ec2"),
    iam_actions: &["ec2:DescribeSecurityGroups"],
    identity: &["GroupId", "GroupName"],
    fetch: |ctx, pages| Box::pin(fetch(ctx, pages)),
    ..KindSpec::NATIVE
};

/// `DescribeSecurityGroups` page size (the API's maximum); passing it makes the call paginated.
const PAGE: u32 = 1000;

/// Fetches every security group of the unit's region.
pub async fn fetch(ctx: &FetchContext<'_>, pages: &PageSender) -> Result<FetchStats, FetchError> {
    let input = json!({"MaxResults": PAGE});
    ctx.send_listed(
        pages,
        "DescribeSecurityGroups",
        input,
        "SecurityGroups",
        properties,
    )
    .await
}

/// aws-v3-style `Properties` of one security group: the API object as it is.
pub fn properties(group: &Value) -> Value {
    Value::Object(group.as_object().cloned().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::Kind;
    use crate::test_support::fake_aws::{fetch_pages, FakeAws, Request, Response};
    use crate::test_support::TestUnit;

    const XMLNS: &str = "http://ec2.amazonaws.com/doc/2016-11-15/";

    fn group(id: &str) -> String {
        format!(
            "<item><groupId>{id}</groupId><groupName>{id}-name</groupName><vpcId>vpc-1</vpcId>\
             <groupDescription>web</groupDescription><ownerId>111111111111</ownerId>\
             <securityGroupArn>arn:aws:ec2:eu-west-1:111111111111:security-group/{id}</securityGroupArn>\
             <ipPermissions><item><ipProtocol>tcp</ipProtocol><fromPort>443</fromPort><toPort>443</toPort>\
             <ipRanges><item><cidrIp>0.0.0.0/0</cidrIp></item></ipRanges></item></ipPermissions>\
             <ipPermissionsEgress><item><ipProtocol>-1</ipProtocol>\
             <ipRanges><item><cidrIp>0.0.0.0/0</cidrIp></item></ipRanges></item></ipPermissionsEgress>\
             <tagSet><item><key>team</key><value>web</value></item></tagSet></item>"
        )
    }

    fn handler(request: &Request) -> Response {
        let second = request.body.contains("NextToken=t2");
        let (items, token) = if second {
            (group("sg-2"), String::new())
        } else {
            (group("sg-1"), "<nextToken>t2</nextToken>".to_owned())
        };
        let body = format!(
            "<DescribeSecurityGroupsResponse xmlns=\"{XMLNS}\"><requestId>1</requestId>\
             <securityGroupInfo>{items}</securityGroupInfo>{token}</DescribeSecurityGroupsResponse>"
        );
        (200, "text/xml;charset=UTF-8", body)
    }

    #[tokio::test]
    async fn groups_keep_rules_tags_and_every_page() {
        let server = FakeAws::start(handler);
        let unit = TestUnit::new(
            Kind::parse("AWS::EC2::SecurityGroup").unwrap(),
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
                "GroupId": "sg-1", "GroupName": "sg-1-name", "VpcId": "vpc-1",
                "Description": "web", "OwnerId": "111111111111",
                "SecurityGroupArn": "arn:aws:ec2:eu-west-1:111111111111:security-group/sg-1",
                "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
                                   "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
                "IpPermissionsEgress": [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
                "Tags": [{"Key": "team", "Value": "web"}]
            })
        );
        assert_eq!(objects[1]["Properties"]["GroupId"], "sg-2");
        assert!(server.requests()[0].body.contains("MaxResults=1000"));
    }
}
