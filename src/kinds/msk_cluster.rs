//! `AWS::MSK::Cluster` (regional): provisioned MSK clusters, one raw object per cluster.
//!
//! aws-v3 calls `ListClusters` (v1) and passes each `ClusterInfo` through. Here the call is
//! `ListClustersV2(ClusterTypeFilter=PROVISIONED)`, which returns the same data for provisioned
//! clusters (and, unlike v1 in some emulators, never serverless ones); the `Provisioned`
//! structure's members are lifted to the top level, so `Properties` has v1's `ClusterInfo` shape
//! (`BrokerNodeGroupInfo`, `CurrentBrokerSoftwareInfo`, `NumberOfBrokerNodes`, ...) and aws-v3
//! mappings keep working. Keys are boto3's member names (PascalCase throughout); new MSK fields
//! appear without a code change.

use super::{FetchContext, FetchError, FetchStats, KindScope, KindSpec, PageSender};
use futures_util::StreamExt;
use serde_json::{json, Map, Value};

/// The kind's registry entry.
pub static SPEC: KindSpec = KindSpec {
    name: "AWS::MSK::Cluster",
    slug: "msk-cluster",
    scope: KindScope::Regional,
    service: Some("kafka"),
    iam_actions: &["kafka:ListClustersV2"],
    identity: &["ClusterArn", "ClusterName"],
    fetch: |ctx, pages| Box::pin(fetch(ctx, pages)),
    ..KindSpec::NATIVE
};

/// `ListClustersV2` page size (the API's maximum).
const PAGE: u32 = 100;

/// Fetches every provisioned cluster of the unit's region, one page of raw objects per
/// `ListClustersV2` page.
pub async fn fetch(ctx: &FetchContext<'_>, pages: &PageSender) -> Result<FetchStats, FetchError> {
    let input = json!({"ClusterTypeFilter": "PROVISIONED", "MaxResults": PAGE});
    let mut stream = std::pin::pin!(ctx.pages("ListClustersV2", input));
    while let Some(page) = stream.next().await {
        let page = page?;
        let objects: Vec<Value> = page["ClusterInfoList"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|c| c["ClusterType"].as_str().is_none_or(|t| t == "PROVISIONED"))
            .map(|cluster| ctx.raw(properties(cluster)))
            .collect();
        ctx.send(pages, objects).await?;
    }
    Ok(ctx.stats())
}

/// aws-v3's `Properties` of one cluster: the V2 `Cluster` with the members of `Provisioned` at
/// the top level (v1's `ClusterInfo` shape); a top-level member wins over a lifted one.
pub fn properties(cluster: &Value) -> Value {
    let mut map: Map<String, Value> = cluster.as_object().cloned().unwrap_or_default();
    if let Some(Value::Object(provisioned)) = map.remove("Provisioned") {
        for (key, value) in provisioned {
            map.entry(key).or_insert(value);
        }
    }
    Value::Object(map)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::Kind;
    use crate::test_support::fake_aws::{fetch_pages, FakeAws, Request, Response};
    use crate::test_support::TestUnit;

    const JSON: &str = "application/json";

    #[test]
    fn lifts_the_provisioned_members_to_the_top_level() {
        let cluster = json!({
            "ClusterArn": "arn:aws:kafka:eu-west-1:123456789012:cluster/orders/abc",
            "ClusterName": "orders",
            "ClusterType": "PROVISIONED",
            "State": "ACTIVE",
            "Tags": {"Team": "orders"},
            "Provisioned": {
                "BrokerNodeGroupInfo": {"InstanceType": "kafka.m5.large", "ClientSubnets": ["s-1"]},
                "CurrentBrokerSoftwareInfo": {"KafkaVersion": "3.6.0"},
                "NumberOfBrokerNodes": 2,
                "State": "ignored: the top level wins"
            }
        });
        assert_eq!(
            properties(&cluster),
            json!({
                "ClusterArn": "arn:aws:kafka:eu-west-1:123456789012:cluster/orders/abc",
                "ClusterName": "orders",
                "ClusterType": "PROVISIONED",
                "State": "ACTIVE",
                "Tags": {"Team": "orders"},
                "BrokerNodeGroupInfo": {"InstanceType": "kafka.m5.large", "ClientSubnets": ["s-1"]},
                "CurrentBrokerSoftwareInfo": {"KafkaVersion": "3.6.0"},
                "NumberOfBrokerNodes": 2
            })
        );
    }

    /// Two pages in the rest-json wire format (camelCase wire names), a serverless cluster that
    /// must not appear even if the endpoint ignores the filter.
    fn handler(request: &Request) -> Response {
        let cluster = |name: &str, kind: &str| {
            json!({
                "clusterArn": format!("arn:aws:kafka:eu-west-1:123456789012:cluster/{name}/x"),
                "clusterName": name,
                "clusterType": kind,
                "creationTime": "2024-03-15T08:30:00.123Z",
                "state": "ACTIVE",
                "tags": {"Team": name},
                "provisioned": {
                    "brokerNodeGroupInfo": {"instanceType": "kafka.m5.large", "clientSubnets": ["s-1"]},
                    "numberOfBrokerNodes": 3
                }
            })
        };
        let page = if request.target.contains("nextToken=p2") {
            json!({"clusterInfoList": [cluster("b", "PROVISIONED"), cluster("s", "SERVERLESS")]})
        } else {
            json!({"clusterInfoList": [cluster("a", "PROVISIONED")], "nextToken": "p2"})
        };
        (200, JSON, page.to_string())
    }

    #[tokio::test]
    async fn lists_provisioned_clusters_page_by_page() {
        let server = FakeAws::start(handler);
        let kind = Kind::parse("AWS::MSK::Cluster").unwrap();
        let unit = TestUnit::new(kind, "eu-west-1", server.sdk_config("eu-west-1"));
        let (result, pages) = fetch_pages(&unit.ctx()).await;
        let stats = result.unwrap();
        assert_eq!((stats.objects, stats.api_calls), (2, 2));
        assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [1, 1]);
        let a = &pages[0][0];
        assert_eq!(a["Type"], "AWS::MSK::Cluster");
        assert_eq!(a["Properties"]["ClusterName"], "a");
        assert_eq!(a["Properties"]["NumberOfBrokerNodes"], 3);
        assert_eq!(
            a["Properties"]["BrokerNodeGroupInfo"]["InstanceType"],
            "kafka.m5.large"
        );
        assert_eq!(a["Properties"]["CreationTime"], "2024-03-15T08:30:00.123Z");
        assert_eq!(
            a["__ExtraContext"],
            json!({"AccountId": "123456789012", "Region": "eu-west-1", "Partition": "aws"})
        );
        let first = &server.requests()[0];
        assert!(
            first.target.starts_with("/api/v2/clusters?"),
            "{}",
            first.target
        );
        assert!(first.target.contains("clusterTypeFilter=PROVISIONED"));
        assert!(first.target.contains("maxResults=100"));
    }
}
