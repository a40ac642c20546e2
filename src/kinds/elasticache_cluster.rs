//! `AWS::ElastiCache::Cluster` (regional): `DescribeCacheClusters` with node details; with
//! `ListTagsForResourceAction`, `ListTagsForResource` per cluster (concurrently, under the unit's
//! bound) → `TagList`.
//!
//! `Properties` is the cluster as ElastiCache returns it (every field, ElastiCache's names, as
//! aws-v3's `extra="allow"` model keeps them; `CacheNodes` included) and, when fetched, `TagList`.
//!
//! Difference from aws-v3 (a bug there): aws-v3 merges tags by list position after skipping
//! failed calls, which shifts every later cluster's tags; here tags stay with their cluster.

use super::detail;
use super::{
    FetchContext, FetchError, FetchStats, KindScope, KindSpec, OptionalAction, PageSender,
};
use serde_json::{json, Value};

/// aws-v3's name for the optional `ListTagsForResource` call.
pub const LIST_TAGS_ACTION: &str = "ListTagsForResourceAction";

/// The aws-v3 `includeActions` of this kind.
pub const OPTIONAL_ACTIONS: &[OptionalAction] = &[
    OptionalAction::always(
        "DescribeCacheClustersAction",
        &["elasticache:DescribeCacheClusters"],
    ),
    OptionalAction::optional(LIST_TAGS_ACTION, &["elasticache:ListTagsForResource"]),
];

/// The kind's registry entry.
pub static SPEC: KindSpec = KindSpec {
    name: "AWS::ElastiCache::Cluster",
    slug: "elasticache-cluster",
    scope: KindScope::Regional,
    service: Some("elasticache"),
    iam_actions: &["elasticache:DescribeCacheClusters"],
    optional_actions: OPTIONAL_ACTIONS,
    identity: &["ARN", "CacheClusterId"],
    fetch: |ctx, pages| Box::pin(fetch(ctx, pages)),
    ..KindSpec::NATIVE
};

/// The optional `ListTagsForResource` call, per cluster ARN.
const TAGS: detail::TagsCall = detail::TagsCall {
    action: LIST_TAGS_ACTION,
    operation: "ListTagsForResource",
    input: "ResourceName",
};

/// `DescribeCacheClusters` page size: the API's maximum.
const PAGE: u32 = 100;

/// Fetches every cache cluster of the unit's region, one page of raw objects per API page.
pub async fn fetch(ctx: &FetchContext<'_>, pages: &PageSender) -> Result<FetchStats, FetchError> {
    let input = json!({"MaxRecords": PAGE, "ShowCacheNodeInfo": true});
    let clusters = |page: &Value| detail::objects(page, "CacheClusters").to_vec();
    ctx.send_each(
        pages,
        "DescribeCacheClusters",
        input,
        clusters,
        |cluster| async move {
            let tags = TAGS.about(ctx, cluster["ARN"].as_str()).await?;
            Ok(Some(ctx.raw(properties(&cluster, tags.as_ref()))))
        },
    )
    .await
}

/// aws-v3's `Properties` of one cluster: the described cluster and, when fetched, the
/// `TagList` of the `ListTagsForResource` answer.
pub fn properties(cluster: &Value, tags: Option<&Value>) -> Value {
    let list = tags.map(|answer| detail::field_or(answer, "TagList", json!([])));
    detail::with_tags(cluster, "TagList", list)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reproduces_the_aws_v3_vector() {
        let text = include_str!(
            "../../tests/vectors/aws-v3/elasticache-cluster/elasticache-cluster-raw-data.json"
        );
        let vector: Value = serde_json::from_str(text).unwrap();
        let mut cluster = vector["Properties"].clone();
        let tags = cluster.as_object_mut().unwrap().remove("TagList").unwrap();
        let answer = json!({ "TagList": tags });
        assert_eq!(properties(&cluster, Some(&answer)), vector["Properties"]);
        assert!(properties(&cluster, None).get("TagList").is_none());
        assert_eq!(properties(&cluster, Some(&json!({})))["TagList"], json!([]));
    }
}

#[cfg(test)]
mod fetch_tests {
    use super::*;
    use crate::kinds::Kind;
    use crate::test_support::fake_aws::{fetch_pages, FakeAws, Request, Response};
    use crate::test_support::TestUnit;

    const XMLNS: &str = "http://elasticache.amazonaws.com/doc/2015-02-02/";

    fn arn(id: &str) -> String {
        format!("arn:aws:elasticache:eu-west-1:123456789012:cluster:{id}")
    }

    fn respond(action: &str, result: &str) -> Response {
        let body = format!(
            "<{action}Response xmlns=\"{XMLNS}\"><{action}Result>{result}</{action}Result>\
             <ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></{action}Response>"
        );
        (200, "text/xml", body)
    }

    fn cluster(id: &str) -> String {
        format!(
            "<CacheCluster><CacheClusterId>{id}</CacheClusterId><ARN>{}</ARN>\
             <NumCacheNodes>1</NumCacheNodes><CacheNodes><CacheNode><CacheNodeId>0001</CacheNodeId>\
             <Endpoint><Address>{id}.cache.amazonaws.com</Address><Port>6379</Port></Endpoint>\
             </CacheNode></CacheNodes></CacheCluster>",
            arn(id)
        )
    }

    fn handler(request: &Request) -> Response {
        let body = &request.body;
        if body.contains("Action=DescribeCacheClusters") && !body.contains("Marker=") {
            let clusters = cluster("c-1") + &cluster("c-2");
            let result = format!("<CacheClusters>{clusters}</CacheClusters><Marker>m2</Marker>");
            respond("DescribeCacheClusters", &result)
        } else if body.contains("Action=DescribeCacheClusters") {
            let result = format!("<CacheClusters>{}</CacheClusters>", cluster("c-3"));
            respond("DescribeCacheClusters", &result)
        } else {
            let tags = if body.contains("c-2") {
                "<TagList/>"
            } else {
                "<TagList><Tag><Key>team</Key><Value>a</Value></Tag></TagList>"
            };
            respond("ListTagsForResource", tags)
        }
    }

    #[tokio::test]
    async fn pages_through_every_cluster_with_node_info_and_tags() {
        let server = FakeAws::start(handler);
        let kind = Kind::parse("AWS::ElastiCache::Cluster").unwrap();
        let unit = TestUnit::new(kind, "eu-west-1", server.sdk_config("eu-west-1"))
            .with_actions(&[LIST_TAGS_ACTION]);
        let (result, pages) = fetch_pages(&unit.ctx()).await;
        let stats = result.unwrap();
        assert_eq!((stats.objects, stats.api_calls), (3, 2 + 3));
        assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [2, 1]);
        assert_eq!(
            pages[0][0]["Properties"],
            json!({
                "CacheClusterId": "c-1", "ARN": arn("c-1"), "NumCacheNodes": 1,
                "CacheNodes": [{"CacheNodeId": "0001",
                                "Endpoint": {"Address": "c-1.cache.amazonaws.com", "Port": 6379}}],
                "TagList": [{"Key": "team", "Value": "a"}]
            })
        );
        assert_eq!(pages[0][1]["Properties"]["TagList"], json!([]));
        let first = &server.requests()[0].body;
        assert!(first.contains("ShowCacheNodeInfo=true"), "{first}");
        assert!(first.contains("MaxRecords=100"), "{first}");
    }
}
