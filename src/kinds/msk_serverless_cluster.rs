//! `AWS::MSK::ServerlessCluster` (regional): `ListClustersV2(ClusterTypeFilter=SERVERLESS)`, one
//! raw object per cluster, as aws-v3 does.
//!
//! `Properties` is the V2 `Cluster` as boto3 parses it (PascalCase member names throughout:
//! `ClusterArn`, `Serverless.VpcConfigs`, `Tags` as a map); new MSK fields appear without a code
//! change. aws-v3's published raw example is camelCase, which contradicts its own mapping and
//! model; this follows the mapping.

use super::{FetchContext, FetchError, FetchStats, KindScope, KindSpec, PageSender};
use futures_util::StreamExt;
use serde_json::{json, Value};

/// The kind's registry entry.
pub static SPEC: KindSpec = KindSpec {
    name: "AWS::MSK::ServerlessCluster",
    slug: "msk-serverless-cluster",
    scope: KindScope::Regional,
    service: Some("kafka"),
    iam_actions: &["kafka:ListClustersV2"],
    identity: &["ClusterArn", "ClusterName"],
    fetch: |ctx, pages| Box::pin(fetch(ctx, pages)),
    ..KindSpec::NATIVE
};

/// `ListClustersV2` page size (the API's maximum).
const PAGE: u32 = 100;

/// Fetches every serverless cluster of the unit's region, one page of raw objects per
/// `ListClustersV2` page.
pub async fn fetch(ctx: &FetchContext<'_>, pages: &PageSender) -> Result<FetchStats, FetchError> {
    let input = json!({"ClusterTypeFilter": "SERVERLESS", "MaxResults": PAGE});
    let mut stream = std::pin::pin!(ctx.pages("ListClustersV2", input));
    while let Some(page) = stream.next().await {
        let page = page?;
        let objects: Vec<Value> = page["ClusterInfoList"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|c| is_serverless(c))
            .map(|cluster| ctx.raw(cluster.clone()))
            .collect();
        ctx.send(pages, objects).await?;
    }
    Ok(ctx.stats())
}

/// Whether a listed cluster is serverless (the filter is the API's; this guards against an
/// endpoint that ignores it).
pub fn is_serverless(cluster: &Value) -> bool {
    cluster["ClusterType"]
        .as_str()
        .is_none_or(|t| t == "SERVERLESS")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::Kind;
    use crate::test_support::fake_aws::{fetch_pages, FakeAws, Request, Response};
    use crate::test_support::TestUnit;

    #[test]
    fn only_serverless_clusters_are_kept() {
        assert!(is_serverless(&json!({"ClusterType": "SERVERLESS"})));
        assert!(!is_serverless(&json!({"ClusterType": "PROVISIONED"})));
    }

    fn handler(_: &Request) -> Response {
        let page = json!({"clusterInfoList": [
            {
                "clusterArn": "arn:aws:kafka:eu-west-1:123456789012:serverless-cluster/clicks/x",
                "clusterName": "clicks",
                "clusterType": "SERVERLESS",
                "state": "CREATING",
                "tags": {"Team": "web"},
                "serverless": {
                    "vpcConfigs": [{"subnetIds": ["s-1"], "securityGroupIds": ["sg-1"]}],
                    "clientAuthentication": {"sasl": {"iam": {"enabled": true}}}
                }
            },
            {"clusterArn": "arn:aws:kafka:eu-west-1:123456789012:cluster/p/x", "clusterType": "PROVISIONED"}
        ]});
        (200, "application/json", page.to_string())
    }

    #[tokio::test]
    async fn lists_serverless_clusters_with_boto3_names() {
        let server = FakeAws::start(handler);
        let kind = Kind::parse("AWS::MSK::ServerlessCluster").unwrap();
        let unit = TestUnit::new(kind, "eu-west-1", server.sdk_config("eu-west-1"));
        let (result, pages) = fetch_pages(&unit.ctx()).await;
        assert_eq!(result.unwrap().objects, 1);
        assert_eq!(
            pages[0][0]["Properties"],
            json!({
                "ClusterArn": "arn:aws:kafka:eu-west-1:123456789012:serverless-cluster/clicks/x",
                "ClusterName": "clicks",
                "ClusterType": "SERVERLESS",
                "State": "CREATING",
                "Tags": {"Team": "web"},
                "Serverless": {
                    "VpcConfigs": [{"SubnetIds": ["s-1"], "SecurityGroupIds": ["sg-1"]}],
                    "ClientAuthentication": {"Sasl": {"Iam": {"Enabled": true}}}
                }
            })
        );
        assert_eq!(pages[0][0]["Type"], "AWS::MSK::ServerlessCluster");
        assert!(server.requests()[0]
            .target
            .contains("clusterTypeFilter=SERVERLESS"));
    }
}
