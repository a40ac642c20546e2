//! `AWS::EC2::Subnet` (regional): `DescribeSubnets`, one raw object per subnet (the default VPC's
//! subnets included); each API page (up to 1,000) is read one object at a time under the page
//! budget and sent in parts of 100
//! ([`FetchContext::send_described`](super::FetchContext::send_described)).
//!
//! `Properties` is the API's `Subnet` as boto3 parses it (tags and `SubnetArn` included: the API
//! returns them). The example identifies a subnet by its `SubnetId` (what instances, load
//! balancers and Auto Scaling groups name) and relates it to its VPC by `VpcId`.

use super::{FetchContext, FetchError, FetchStats, KindScope, KindSpec, PageSender};

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

/// Fetches every subnet of the unit's region; `Properties` is the API object as it is.
pub async fn fetch(ctx: &FetchContext<'_>, pages: &PageSender) -> Result<FetchStats, FetchError> {
    ctx.send_described(pages, "DescribeSubnets", "Subnets")
        .await
}

#[cfg(test)]
mod tests {
    use crate::test_support::fake_aws::{ec2_fetch_two_pages, ec2_two_pages};
    use serde_json::json;

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

    #[tokio::test]
    async fn subnets_keep_boto3_names_tags_and_every_page() {
        let (first, second) = (subnet("subnet-1"), subnet("subnet-2"));
        let handler = ec2_two_pages("DescribeSubnets", "subnetSet", first, second);
        let objects = ec2_fetch_two_pages("AWS::EC2::Subnet", handler).await;
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
    }
}
