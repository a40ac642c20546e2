//! `AWS::EC2::VPC` (regional): `DescribeVpcs`, one raw object per VPC (the region's default VPC
//! included); each API page (up to 1,000) is read one object at a time under the page budget and
//! sent in parts of 100 ([`FetchContext::send_described`](super::FetchContext::send_described)).
//!
//! `Properties` is the API's `Vpc` as boto3 parses it (tags included: the API returns them). The
//! API returns no ARN; the example identifies a VPC by its `VpcId`, which subnets and security
//! groups relate to.

use super::{FetchContext, FetchError, FetchStats, KindScope, KindSpec, PageSender};

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

/// Fetches every VPC of the unit's region; `Properties` is the API object as it is.
pub async fn fetch(ctx: &FetchContext<'_>, pages: &PageSender) -> Result<FetchStats, FetchError> {
    ctx.send_described(pages, "DescribeVpcs", "Vpcs").await
}

#[cfg(test)]
mod tests {
    use crate::test_support::fake_aws::{ec2_fetch_two_pages, ec2_two_pages};
    use serde_json::json;

    fn vpc(id: &str, default: bool) -> String {
        format!(
            "<item><vpcId>{id}</vpcId><ownerId>111111111111</ownerId><state>available</state>\
             <cidrBlock>10.0.0.0/16</cidrBlock><dhcpOptionsId>dopt-1</dhcpOptionsId>\
             <instanceTenancy>default</instanceTenancy><isDefault>{default}</isDefault>\
             <tagSet><item><key>Name</key><value>{id}-name</value></item></tagSet></item>"
        )
    }

    #[tokio::test]
    async fn vpcs_keep_boto3_names_tags_and_every_page() {
        let (first, second) = (vpc("vpc-1", true), vpc("vpc-2", false));
        let handler = ec2_two_pages("DescribeVpcs", "vpcSet", first, second);
        let objects = ec2_fetch_two_pages("AWS::EC2::VPC", handler).await;
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
    }
}
