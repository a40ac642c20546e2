//! `AWS::EC2::SecurityGroup` (regional): `DescribeSecurityGroups`, one raw object per security
//! group (every VPC's `default` group included); each API page (up to 1,000) is read one object at
//! a time under the page budget and sent in parts of 100
//! ([`FetchContext::send_described`](super::FetchContext::send_described)).
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
    use crate::kinds::fetch::DESCRIBED_PART;
    use crate::kinds::Kind;
    use crate::test_support::fake_aws::{
        ec2_fetch_two_pages, ec2_two_pages, fetch_pages, fetch_pages_after_a_place, FakeAws,
    };
    use crate::test_support::TestUnit;
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

    /// A server answering `DescribeSecurityGroups` with one page holding `groups`, and a unit
    /// of the kind calling it.
    fn serving(groups: String) -> (FakeAws, TestUnit) {
        let server = FakeAws::start(ec2_two_pages(
            "DescribeSecurityGroups",
            "securityGroupInfo",
            groups,
            String::new(),
        ));
        let kind = Kind::parse("AWS::EC2::SecurityGroup").unwrap();
        let unit = TestUnit::new(kind, "eu-west-1", server.sdk_config("eu-west-1"));
        (server, unit)
    }

    /// One page of 250 groups: asked for only once a place in the page budget is free, read one
    /// group at a time and sent in parts of 100; the place is given back afterwards.
    #[tokio::test]
    async fn a_large_page_waits_for_the_page_budget_and_goes_downstream_in_parts() {
        let (server, unit) = serving((0..250).map(|i| group(&format!("sg-{i}"))).collect());
        let (result, pages) = fetch_pages_after_a_place(&unit.ctx(), &server).await;
        assert_eq!(result.unwrap().objects, 250);
        assert_eq!(
            pages.iter().map(Vec::len).collect::<Vec<_>>(),
            [DESCRIBED_PART, DESCRIBED_PART, 50]
        );
        assert_eq!(pages[2][49]["Properties"]["GroupId"], json!("sg-249"));
        assert_eq!(
            pages[2][49]["Properties"]["Tags"],
            json!([{"Key": "team", "Value": "web"}])
        );
    }

    /// A page that is not well-formed (refused as the page arrives), or one group in it that
    /// does not parse (refused when it is read), fails the unit, so it deletes nothing, with the
    /// reason; nothing of the page goes downstream.
    #[tokio::test]
    async fn a_broken_page_or_group_fails_the_fetch_and_sends_nothing() {
        let cases = [
            (
                "<item><groupId>sg-x</groupName></item>",
                "<groupId> is closed by </groupName>",
            ),
            (
                "<item><groupId a=b>sg-x</groupId></item>",
                "could not be read: invalid XML",
            ),
        ];
        for (bad, reason) in cases {
            let (_server, unit) = serving(format!("{}{bad}", group("sg-1")));
            let (result, pages) = fetch_pages(&unit.ctx()).await;
            let err = result
                .expect_err("a broken answer fails the fetch")
                .to_string();
            assert!(
                err.starts_with("DescribeSecurityGroups failed:") && err.contains(reason),
                "{err}"
            );
            assert!(pages.is_empty(), "{bad}: {pages:?}");
        }
    }
}
