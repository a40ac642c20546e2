//! `AWS::EKS::Cluster` (regional): `ListClusters`, then `DescribeCluster` per name (EKS has no
//! batch call), concurrently under the kind's bound; one raw object per cluster, one page per list
//! page.
//!
//! `Properties` is the response's `cluster` with PascalCase top-level keys (`arn` → `Arn`, tags a
//! `{key: value}` map), nested values as the API returns them; keys aws-v3's model does not
//! declare are kept. A cluster deleted between the two calls (`ResourceNotFoundException`) is
//! gone, not missing data. Fixed aws-v3 bug: its example mapping's identifier
//! `.Properties.ARN` never exists; docs/examples/eks-cluster uses `.Properties.Arn`.

use super::detail;
use super::raw::pascal_keys;
use super::{
    FetchContext, FetchError, FetchStats, KindScope, KindSpec, OptionalAction, PageSender,
};
use futures_util::StreamExt;
use serde_json::{json, Value};

/// The aws-v3 `includeActions` of this kind (made by default).
pub const OPTIONAL_ACTIONS: &[OptionalAction] = &[OptionalAction::always(
    "DescribeClusterAction",
    &["eks:DescribeCluster"],
)];

/// The kind's registry entry.
pub static SPEC: KindSpec = KindSpec {
    name: "AWS::EKS::Cluster",
    slug: "eks-cluster",
    scope: KindScope::Regional,
    service: Some("eks"),
    iam_actions: &["eks:ListClusters", "eks:DescribeCluster"],
    optional_actions: OPTIONAL_ACTIONS,
    identity: &["Arn", "Name"],
    fetch: |ctx, pages| Box::pin(fetch(ctx, pages)),
    ..KindSpec::NATIVE
};

/// `ListClusters` page size (the API's maximum).
const LIST_PAGE: usize = 100;

/// Fetches every cluster of the unit's region.
pub async fn fetch(ctx: &FetchContext<'_>, pages: &PageSender) -> Result<FetchStats, FetchError> {
    let mut listed = std::pin::pin!(ctx.pages("ListClusters", json!({"maxResults": LIST_PAGE})));
    while let Some(page) = listed.next().await {
        let names = detail::take_objects(page?, "clusters");
        let described = ctx
            .each(names, |name| async move {
                let input = json!({ "name": name });
                let gone = ["ResourceNotFoundException"];
                ctx.optional_call("DescribeCluster", input, &gone, "EKS cluster")
                    .await
            })
            .await?;
        let objects: Vec<Value> = described
            .iter()
            .flatten()
            .filter(|d| d["cluster"].is_object())
            .map(|d| ctx.raw(properties(&d["cluster"])))
            .collect();
        ctx.send(pages, objects).await?;
    }
    Ok(ctx.stats())
}

/// aws-v3's `Properties` of one cluster.
pub fn properties(cluster: &Value) -> Value {
    Value::Object(pascal_keys(cluster))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::Kind;
    use crate::test_support::fake_aws::{fetch_pages, FakeAws, Request, Response};
    use crate::test_support::TestUnit;

    fn handler(request: &Request) -> Response {
        let json = "application/json";
        let path = request.target.split('?').next().unwrap_or_default();
        if path == "/clusters/gone" {
            let error =
                json!({"__type": "ResourceNotFoundException", "message": "No cluster gone."});
            return (404, json, error.to_string());
        }
        if let Some(name) = path.strip_prefix("/clusters/") {
            let cluster = json!({"cluster": {
                "name": name, "arn": format!("arn:aws:eks:eu-west-1:123456789012:cluster/{name}"),
                "version": "1.31", "status": "ACTIVE", "tags": {"team": "core"},
                "resourcesVpcConfig": {"subnetIds": ["subnet-1"], "endpointPublicAccess": true}
            }});
            return (200, json, cluster.to_string());
        }
        let page = json!({"clusters": ["platform", "gone", "data"]});
        (200, json, page.to_string())
    }

    #[tokio::test]
    async fn describes_each_cluster_and_skips_one_deleted_meanwhile() {
        let server = FakeAws::start(handler);
        let unit = TestUnit::new(
            Kind::parse("AWS::EKS::Cluster").unwrap(),
            "eu-west-1",
            server.sdk_config("eu-west-1"),
        );
        let (result, pages) = fetch_pages(&unit.ctx()).await;
        let stats = result.unwrap();
        assert_eq!((stats.objects, stats.api_calls), (2, 4));
        assert!(stats.warnings.is_empty(), "{:?}", stats.warnings);
        let first = &pages[0][0]["Properties"];
        assert_eq!(first["Name"], "platform");
        assert_eq!(
            first["Arn"],
            "arn:aws:eks:eu-west-1:123456789012:cluster/platform"
        );
        assert_eq!(first["Tags"], json!({"team": "core"}));
        assert_eq!(
            first["ResourcesVpcConfig"],
            json!({"subnetIds": ["subnet-1"], "endpointPublicAccess": true})
        );
        assert_eq!(pages[0][1]["Properties"]["Name"], "data");
    }

    #[test]
    fn properties_keep_nested_keys() {
        let cluster = json!({"name": "c", "accessConfig": {"authenticationMode": "API"}});
        assert_eq!(
            properties(&cluster),
            json!({"Name": "c", "AccessConfig": {"authenticationMode": "API"}})
        );
    }
}
