//! `AWS::EC2::SecurityGroup` (regional): `DescribeSecurityGroups`, one raw object per security
//! group (every VPC's `default` group included), one page per API page.
//!
//! `Properties` is the API's `SecurityGroup` as boto3 parses it: rules (`IpPermissions`,
//! `IpPermissionsEgress`), tags and `SecurityGroupArn` included. The example identifies a group
//! by its `GroupId` (what instances and load balancers name) and relates it to its VPC.

use super::{FetchContext, FetchError, FetchStats, KindScope, KindSpec, PageSender};

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

/// Fetches every security group of the unit's region; `Properties` is the API object as it is.
pub async fn fetch(ctx: &FetchContext<'_>, pages: &PageSender) -> Result<FetchStats, FetchError> {
    ctx.send_described(pages, "DescribeSecurityGroups", "SecurityGroups")
        .await
}

#[cfg(test)]
mod tests {
    use crate::test_support::fake_aws::{ec2_fetch_two_pages, ec2_two_pages};
    use serde_json::json;

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

    #[tokio::test]
    async fn groups_keep_rules_tags_and_every_page() {
        let (first, second) = (group("sg-1"), group("sg-2"));
        let handler = ec2_two_pages("DescribeSecurityGroups", "securityGroupInfo", first, second);
        let objects = ec2_fetch_two_pages("AWS::EC2::SecurityGroup", handler).await;
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
    }
}
