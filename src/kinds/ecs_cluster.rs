//! `AWS::ECS::Cluster` (regional): `ListClusters`, then `DescribeClusters` per page of ARNs with
//! every optional field included, one raw object per cluster.
//!
//! `Properties` is the cluster as the ECS API returns it (so a new ECS field appears without a
//! code change), with aws-v3's PascalCase top-level keys (`clusterName` → `ClusterName`,
//! `settings` → `ClusterSettings`); nested objects keep the ECS API's camelCase (`{key, value}`
//! tags).

use super::detail;
use super::live::{self, str_at};
use super::{
    FetchContext, FetchError, FetchStats, KindScope, KindSpec, OptionalAction, PageSender,
};
use super::{LiveSpec, Refreshed};
use futures_util::StreamExt;
use serde_json::{json, Map, Value};

/// The aws-v3 `includeActions` of this kind.
pub const OPTIONAL_ACTIONS: &[OptionalAction] = &[OptionalAction::always(
    "ECSClusterDetailsAction",
    &["ecs:DescribeClusters"],
)];

/// The kind's registry entry.
pub static SPEC: KindSpec = KindSpec {
    name: "AWS::ECS::Cluster",
    slug: "ecs-cluster",
    scope: KindScope::Regional,
    service: Some("ecs"),
    iam_actions: &["ecs:ListClusters", "ecs:DescribeClusters"],
    optional_actions: OPTIONAL_ACTIONS,
    identity: &["ClusterArn", "ClusterName"],
    fetch: |ctx, pages| Box::pin(fetch(ctx, pages)),
    live: Some(&LIVE),
    ..KindSpec::NATIVE
};

/// Live events: the calls that create, delete, configure or tag a cluster.
pub static LIVE: LiveSpec = LiveSpec {
    source: "aws.ecs",
    api_calls: &[
        "CreateCluster",
        "DeleteCluster",
        "UpdateCluster",
        "UpdateClusterSettings",
        "PutClusterCapacityProviders",
        "TagResource",
        "UntagResource",
    ],
    service_events: &[],
    ids: event_ids,
    refresh: |ctx, ids, pages| Box::pin(refresh(ctx, ids, pages)),
};

/// The cluster name of an event: `clusterName` (`CreateCluster`), `cluster` (a name or an ARN),
/// the response's cluster, or a tagged cluster `resourceArn`.
pub fn event_ids(event: &Value) -> Vec<String> {
    let request = live::request(event);
    let response = live::response(event);
    let name = |s: &str| match s.split_once(":cluster/") {
        Some((_, name)) => name.to_owned(),
        None => s.to_owned(),
    };
    let tagged = str_at(request, "/resourceArn").filter(|arn| arn.contains(":cluster/"));
    live::unique(
        [
            str_at(request, "/clusterName"),
            str_at(request, "/cluster"),
            str_at(response, "/cluster/clusterName"),
            tagged,
        ]
        .into_iter()
        .flatten()
        .map(name),
    )
}

/// `DescribeClusters` by name, 100 at a time: an `INACTIVE` cluster or a `MISSING` one is gone.
pub async fn refresh(
    ctx: &FetchContext<'_>,
    ids: &[String],
    pages: &PageSender,
) -> Result<Refreshed, FetchError> {
    let described = ctx
        .batched(ids, BATCH, |batch| async move {
            let input = json!({"clusters": batch, "include": INCLUDE});
            let described = ctx.call("DescribeClusters", input).await?;
            for failure in described["failures"].as_array().into_iter().flatten() {
                note_failure(ctx, failure);
            }
            Ok(detail::take_objects(described, "clusters"))
        })
        .await?;
    let mut objects = Vec::new();
    let mut gone = Vec::new();
    for name in ids {
        match described.iter().find(|c| c["clusterName"] == name.as_str()) {
            Some(cluster) if exists(cluster) => objects.push(ctx.raw(properties(cluster))),
            Some(cluster) => gone.push(ctx.raw(properties(cluster))),
            None => {
                let arn = live::unit_arn(ctx, "ecs", &format!("cluster/{name}"));
                gone.push(ctx.raw(json!({"ClusterName": name, "ClusterArn": arn})));
            }
        }
    }
    ctx.send(pages, objects).await?;
    Ok(Refreshed {
        stats: ctx.stats(),
        gone,
    })
}

/// `ListClusters` page size and `DescribeClusters` batch size: both APIs' maximum (100).
const BATCH: usize = 100;

/// Everything `DescribeClusters` can add to a cluster, as aws-v3 requests it.
const INCLUDE: [&str; 5] = [
    "TAGS",
    "SETTINGS",
    "STATISTICS",
    "CONFIGURATIONS",
    "ATTACHMENTS",
];

/// Fetches every cluster of the unit's region and sends one page of raw objects per
/// `DescribeClusters` batch.
pub async fn fetch(ctx: &FetchContext<'_>, pages: &PageSender) -> Result<FetchStats, FetchError> {
    let mut stream = std::pin::pin!(ctx.pages("ListClusters", json!({"maxResults": BATCH})));
    while let Some(page) = stream.next().await {
        let page = page?;
        let arns = detail::take_objects(page, "clusterArns");
        for batch in arns.chunks(BATCH) {
            let input = json!({"clusters": batch, "include": INCLUDE});
            let described = ctx.call("DescribeClusters", input).await?;
            for failure in described["failures"].as_array().into_iter().flatten() {
                note_failure(ctx, failure);
            }
            let objects: Vec<Value> = described["clusters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|c| exists(c))
                .map(|cluster| ctx.raw(properties(cluster)))
                .collect();
            ctx.send(pages, objects).await?;
        }
    }
    Ok(ctx.stats())
}

/// A `DescribeClusters` failure: `MISSING` is a cluster deleted since `ListClusters` (gone, not
/// missing data); any other reason is a cluster we could not describe, a warning.
fn note_failure(ctx: &FetchContext<'_>, failure: &Value) {
    let warning = failure_warning(failure);
    if failure["reason"].as_str() == Some("MISSING") {
        tracing::debug!(region = ctx.region, "{warning}");
    } else {
        ctx.warn(warning);
    }
}

/// Whether a cluster still exists: deleted clusters stay listed as `INACTIVE` for a while (for
/// ever in moto), so their entities must leave the catalog.
pub fn exists(cluster: &Value) -> bool {
    cluster["status"].as_str() != Some("INACTIVE")
}

/// aws-v3's `Properties` of one cluster: the API's top-level keys in PascalCase, `settings` as
/// `ClusterSettings`, nested values as the API returned them.
pub fn properties(cluster: &Value) -> Value {
    let map: Map<String, Value> = cluster
        .as_object()
        .into_iter()
        .flatten()
        .map(|(key, value)| (top_level_key(key), value.clone()))
        .collect();
    Value::Object(map)
}

fn top_level_key(key: &str) -> String {
    if key == "settings" {
        return "ClusterSettings".to_owned();
    }
    super::raw::pascal(key)
}

/// A `DescribeClusters` failure in words.
pub fn failure_warning(failure: &Value) -> String {
    let mut warning = format!(
        "DescribeClusters failed for {}: {}",
        failure["arn"].as_str().unwrap_or("an unknown cluster"),
        failure["reason"].as_str().unwrap_or("no reason given")
    );
    if let Some(detail) = failure["detail"].as_str().filter(|d| !d.is_empty()) {
        warning.push_str(" (");
        warning.push_str(detail);
        warning.push(')');
    }
    warning
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_ids_are_cluster_names() {
        let create = json!({"detail": {"eventName": "CreateCluster",
            "requestParameters": {"clusterName": "web"},
            "responseElements": {"cluster": {"clusterName": "web"}}}});
        assert_eq!(event_ids(&create), ["web"]);
        let delete = json!({"detail": {"eventName": "DeleteCluster", "requestParameters": {
            "cluster": "arn:aws:ecs:us-east-1:123456789012:cluster/web"}}});
        assert_eq!(event_ids(&delete), ["web"]);
        let service_tag = json!({"detail": {"eventName": "TagResource", "requestParameters": {
            "resourceArn": "arn:aws:ecs:us-east-1:123456789012:service/web/api"}}});
        assert!(event_ids(&service_tag).is_empty());
    }

    #[test]
    fn inactive_clusters_do_not_exist() {
        let with_status = |s: &str| json!({ "status": s });
        assert!(!exists(&with_status("INACTIVE")));
        assert!(exists(&with_status("ACTIVE")));
        assert!(exists(&with_status("PROVISIONING")));
        assert!(exists(&json!({})));
    }

    #[test]
    fn reproduces_the_aws_v3_example() {
        let cluster = json!({
            "clusterName": "my-production-cluster",
            "clusterArn": "arn:aws:ecs:eu-west-1:123456789012:cluster/my-cluster",
            "capacityProviders": ["FARGATE", "FARGATE_SPOT"],
            "settings": [],
            "defaultCapacityProviderStrategy": [],
            "tags": [
                {"key": "Environment", "value": "production"},
                {"key": "Team", "value": "platform"},
                {"key": "CostCenter", "value": "engineering"}
            ],
            "status": "ACTIVE",
            "runningTasksCount": 12,
            "activeServicesCount": 5,
            "pendingTasksCount": 2,
            "registeredContainerInstancesCount": 8
        });
        // aws-v3's example also has `"Configuration": null` and `"ServiceConnectDefaults": null`
        // (pydantic defaults); here fields the API left out are absent, which JQ reads as null too.
        assert_eq!(
            properties(&cluster),
            json!({
                "ClusterName": "my-production-cluster",
                "ClusterArn": "arn:aws:ecs:eu-west-1:123456789012:cluster/my-cluster",
                "CapacityProviders": ["FARGATE", "FARGATE_SPOT"],
                "ClusterSettings": [],
                "DefaultCapacityProviderStrategy": [],
                "Tags": [
                    {"key": "Environment", "value": "production"},
                    {"key": "Team", "value": "platform"},
                    {"key": "CostCenter", "value": "engineering"}
                ],
                "Status": "ACTIVE",
                "RunningTasksCount": 12,
                "ActiveServicesCount": 5,
                "PendingTasksCount": 2,
                "RegisteredContainerInstancesCount": 8
            })
        );
    }

    #[test]
    fn nested_objects_keep_the_api_camel_case() {
        let nested = json!({
            "executeCommandConfiguration": {
                "logging": "OVERRIDE",
                "logConfiguration": {"cloudWatchLogGroupName": "/ecs/exec", "s3EncryptionEnabled": false}
            }
        });
        let cluster = json!({
            "clusterName": "c",
            "settings": [{"name": "containerInsights", "value": "enhanced"}],
            "attachments": [{"id": "att-1", "type": "as_policy", "details": [{"name": "n", "value": "v"}]}],
            "configuration": nested,
            "serviceConnectDefaults": {"namespace": "arn:aws:servicediscovery:eu-west-1:123456789012:namespace/ns-1"}
        });
        assert_eq!(
            properties(&cluster),
            json!({
                "ClusterName": "c",
                "ClusterSettings": [{"name": "containerInsights", "value": "enhanced"}],
                "Attachments": [{"id": "att-1", "type": "as_policy", "details": [{"name": "n", "value": "v"}]}],
                "Configuration": nested,
                "ServiceConnectDefaults": {
                    "namespace": "arn:aws:servicediscovery:eu-west-1:123456789012:namespace/ns-1"
                }
            })
        );
    }

    #[test]
    fn failures_become_readable_warnings() {
        let failure = json!({
            "arn": "arn:aws:ecs:eu-west-1:123456789012:cluster/gone",
            "reason": "MISSING"
        });
        assert_eq!(
            failure_warning(&failure),
            "DescribeClusters failed for arn:aws:ecs:eu-west-1:123456789012:cluster/gone: MISSING"
        );
        let failure = json!({"reason": "ACCESS_DENIED", "detail": "no"});
        assert_eq!(
            failure_warning(&failure),
            "DescribeClusters failed for an unknown cluster: ACCESS_DENIED (no)"
        );
    }
}

#[cfg(test)]
mod fetch_tests {
    use super::*;
    use crate::kinds::Kind;
    use crate::test_support::fake_aws::{fetch_pages, FakeAws, Request, Response};
    use crate::test_support::TestUnit;
    use serde_json::json;

    const JSON: &str = "application/x-amz-json-1.1";

    fn arn(name: &str) -> String {
        format!("arn:aws:ecs:eu-west-1:123456789012:cluster/{name}")
    }

    /// 150 clusters over two `ListClusters` pages; `c007` was deleted before `DescribeClusters`.
    fn handler(request: &Request) -> Response {
        let target = request.header("x-amz-target").unwrap_or_default();
        let body: Value = serde_json::from_str(&request.body).unwrap_or(Value::Null);
        if target.ends_with(".ListClusters") {
            let (range, next) = match body.get("nextToken") {
                None => (0..100, json!("page-2")),
                Some(_) => (100..150, Value::Null),
            };
            let arns: Vec<String> = range.map(|i| arn(&format!("c{i:03}"))).collect();
            let mut page = json!({"clusterArns": arns});
            if !next.is_null() {
                page["nextToken"] = next;
            }
            (200, JSON, page.to_string())
        } else if target.ends_with(".DescribeClusters") {
            let mut clusters = Vec::new();
            let mut failures = Vec::new();
            for arn in body["clusters"].as_array().into_iter().flatten() {
                let arn = arn.as_str().unwrap_or_default();
                if arn.ends_with("/c007") {
                    failures.push(json!({"arn": arn, "reason": "MISSING"}));
                    continue;
                }
                clusters.push(json!({
                    "clusterArn": arn,
                    "clusterName": arn.rsplit('/').next(),
                    "status": "ACTIVE",
                    "registeredContainerInstancesCount": 0,
                    "runningTasksCount": 3,
                    "pendingTasksCount": 0,
                    "activeServicesCount": 1,
                    "statistics": [],
                    "tags": [{"key": "team", "value": "platform"}],
                    "settings": [{"name": "containerInsights", "value": "disabled"}],
                    "capacityProviders": [],
                    "defaultCapacityProviderStrategy": []
                }));
            }
            let page = json!({"clusters": clusters, "failures": failures});
            (200, JSON, page.to_string())
        } else {
            let error = json!({"__type": "InvalidParameterException", "message": "test"});
            (400, JSON, error.to_string())
        }
    }

    async fn run(server: &FakeAws) -> (Result<FetchStats, FetchError>, Vec<Vec<Value>>) {
        let unit = TestUnit::new(
            Kind::EcsCluster,
            "eu-west-1",
            server.sdk_config("eu-west-1"),
        );
        fetch_pages(&unit.ctx()).await
    }

    #[tokio::test]
    async fn describes_each_list_page_with_every_include() {
        let server = FakeAws::start(handler);
        let (result, pages) = run(&server).await;
        let stats = result.unwrap();
        assert_eq!(stats.objects, 149);
        assert_eq!(stats.api_calls, 4);
        assert!(
            stats.warnings.is_empty(),
            "a cluster deleted since ListClusters is gone, not missing data: {:?}",
            stats.warnings
        );
        assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [99, 50]);
        assert_eq!(
            pages[0][0],
            json!({
                "Type": "AWS::ECS::Cluster",
                "Properties": {
                    "ClusterArn": arn("c000"),
                    "ClusterName": "c000",
                    "Status": "ACTIVE",
                    "RegisteredContainerInstancesCount": 0,
                    "RunningTasksCount": 3,
                    "PendingTasksCount": 0,
                    "ActiveServicesCount": 1,
                    "Statistics": [],
                    "Tags": [{"key": "team", "value": "platform"}],
                    "ClusterSettings": [{"name": "containerInsights", "value": "disabled"}],
                    "CapacityProviders": [],
                    "DefaultCapacityProviderStrategy": []
                },
                "__ExtraContext": {"AccountId": "123456789012", "Region": "eu-west-1", "Partition": "aws"}
            })
        );
        let requests = server.requests();
        let list: Value = serde_json::from_str(&requests[0].body).unwrap();
        assert_eq!(list["maxResults"], json!(100));
        let describe: Value = serde_json::from_str(&requests[1].body).unwrap();
        assert_eq!(describe["clusters"].as_array().map(Vec::len), Some(100));
        assert_eq!(
            describe["include"],
            json!([
                "TAGS",
                "SETTINGS",
                "STATISTICS",
                "CONFIGURATIONS",
                "ATTACHMENTS"
            ])
        );
    }

    /// Any failure reason but `MISSING` means a cluster exists that we could not describe: a
    /// warning, which makes the unit incomplete for deletion.
    #[tokio::test]
    async fn a_failure_other_than_missing_is_a_warning() {
        let server = FakeAws::start(|request: &Request| {
            let (status, content, body) = handler(request);
            (
                status,
                content,
                body.replace("\"MISSING\"", "\"ACCESS_DENIED\""),
            )
        });
        let (result, _) = run(&server).await;
        let stats = result.unwrap();
        assert_eq!(
            stats.warnings,
            [format!(
                "DescribeClusters failed for {}: ACCESS_DENIED",
                arn("c007")
            )]
        );
    }

    /// A region where the account has not enabled the service: the unit is skipped, not failed.
    #[tokio::test]
    async fn a_service_not_enabled_for_the_account_is_unavailable() {
        let server = FakeAws::start(|_: &Request| {
            let error = json!({"__type": "SubscriptionRequiredException", "message": "no"});
            (400, JSON, error.to_string())
        });
        let (result, pages) = run(&server).await;
        match result {
            Err(FetchError::Unavailable(u)) => {
                assert_eq!(
                    (u.service.as_str(), u.region.as_str()),
                    ("ecs", "eu-west-1")
                );
                assert_eq!(u.reason, "SubscriptionRequiredException");
            }
            other => panic!("expected the service to be unavailable, got {other:?}"),
        }
        assert!(pages.is_empty());
    }

    #[tokio::test]
    async fn a_failing_describe_fails_the_fetch() {
        let server = FakeAws::start(|request: &Request| {
            if request
                .header("x-amz-target")
                .unwrap_or_default()
                .ends_with(".DescribeClusters")
            {
                let error = json!({"__type": "AccessDeniedException", "message": "no"});
                (400, JSON, error.to_string())
            } else {
                handler(request)
            }
        });
        let (result, pages) = run(&server).await;
        match result {
            Err(FetchError::Aws {
                operation, code, ..
            }) => {
                assert_eq!(operation, "DescribeClusters");
                assert_eq!(code.as_deref(), Some("AccessDeniedException"));
            }
            other => panic!("expected a DescribeClusters failure, got {other:?}"),
        }
        assert!(pages.is_empty());
    }
}
