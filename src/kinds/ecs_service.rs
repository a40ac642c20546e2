//! `AWS::ECS::Service` (regional): `ListClusters`, then per cluster `ListServices` and
//! `DescribeServices` by 10 (the API's maximum) with `include=[TAGS]`, clusters concurrently under
//! the kind's bound; one raw object per service, one page per `DescribeServices` batch.
//!
//! `Properties` is the service as the ECS API returns it with PascalCase top-level keys (nested
//! values keep the API's camelCase, tags are `{key, value}`); `__ExtraContext` adds the service's
//! `ClusterArn`, as aws-v3 does. aws-v3 drops API keys its model does not declare
//! (`serviceConnectConfiguration`, `volumeConfigurations`, ...); they are kept here, so a new ECS
//! field appears without a code change. Fixed aws-v3 bug: `DescribeServices` failures were
//! ignored; here a failure other than `MISSING` is a warning (the unit then deletes nothing).

use super::raw::pascal_keys;
use super::{
    FetchContext, FetchError, FetchStats, KindScope, KindSpec, OptionalAction, PageSender,
};
use futures_util::StreamExt;
use serde_json::{json, Value};

/// The aws-v3 `includeActions` of this kind (both made by default).
pub const OPTIONAL_ACTIONS: &[OptionalAction] = &[
    OptionalAction::always("ListServicesAction", &["ecs:ListServices"]),
    OptionalAction::always("DescribeServicesAction", &["ecs:DescribeServices"]),
];

/// The kind's registry entry.
pub static SPEC: KindSpec = KindSpec {
    name: "AWS::ECS::Service",
    slug: "ecs-service",
    scope: KindScope::Regional,
    service: Some("ecs"),
    iam_actions: &[
        "ecs:ListClusters",
        "ecs:ListServices",
        "ecs:DescribeServices",
    ],
    optional_actions: OPTIONAL_ACTIONS,
    identity: &["ServiceArn", "ServiceName"],
    fetch: |ctx, pages| Box::pin(fetch(ctx, pages)),
    ..KindSpec::NATIVE
};

/// `ListClusters` and `ListServices` page size (both APIs' maximum).
const LIST_PAGE: usize = 100;
/// `DescribeServices` accepts at most 10 services per call.
const DESCRIBE_BATCH: usize = 10;

/// Fetches every service of every cluster of the unit's region.
pub async fn fetch(ctx: &FetchContext<'_>, pages: &PageSender) -> Result<FetchStats, FetchError> {
    let mut clusters = std::pin::pin!(ctx.pages("ListClusters", json!({"maxResults": LIST_PAGE})));
    while let Some(page) = clusters.next().await {
        let arns: Vec<String> = strings(&page?["clusterArns"]);
        ctx.each(arns, |cluster| fetch_cluster(ctx, pages, cluster))
            .await?;
    }
    Ok(ctx.stats())
}

/// The services of one cluster, a page sent per `DescribeServices` batch.
async fn fetch_cluster(
    ctx: &FetchContext<'_>,
    pages: &PageSender,
    cluster: String,
) -> Result<(), FetchError> {
    let input = json!({"cluster": cluster, "maxResults": LIST_PAGE});
    let mut listed = std::pin::pin!(ctx.pages("ListServices", input));
    while let Some(page) = listed.next().await {
        let arns = strings(&page?["serviceArns"]);
        for batch in arns.chunks(DESCRIBE_BATCH) {
            let input = json!({"cluster": cluster, "services": batch, "include": ["TAGS"]});
            let described = ctx.call("DescribeServices", input).await?;
            for failure in described["failures"].as_array().into_iter().flatten() {
                note_failure(ctx, failure);
            }
            let objects: Vec<Value> = described["services"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|s| exists(s))
                .map(|service| to_raw(ctx, &cluster, service))
                .collect();
            ctx.send(pages, objects).await?;
        }
    }
    Ok(())
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
}

/// The raw object of one service: `__ExtraContext` carries its cluster's ARN.
fn to_raw(ctx: &FetchContext<'_>, cluster: &str, service: &Value) -> Value {
    let mut extra = ctx.extra(ctx.region);
    let cluster_arn = service["clusterArn"].as_str().unwrap_or(cluster);
    extra.insert("ClusterArn".into(), Value::String(cluster_arn.to_owned()));
    super::raw_object(ctx.kind, properties(service), extra)
}

/// A `DescribeServices` failure: `MISSING` is a service deleted since `ListServices` (gone);
/// anything else is a service we could not describe, a warning.
fn note_failure(ctx: &FetchContext<'_>, failure: &Value) {
    let warning = format!(
        "DescribeServices failed for {}: {}",
        failure["arn"].as_str().unwrap_or("an unknown service"),
        failure["reason"].as_str().unwrap_or("no reason given")
    );
    if failure["reason"].as_str() == Some("MISSING") {
        tracing::debug!(region = ctx.region, "{warning}");
    } else {
        ctx.warn(warning);
    }
}

/// Whether a service still exists: a deleted service is `INACTIVE` for a while.
pub fn exists(service: &Value) -> bool {
    service["status"].as_str() != Some("INACTIVE")
}

/// aws-v3's `Properties` of one service.
pub fn properties(service: &Value) -> Value {
    Value::Object(pascal_keys(service))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::Kind;
    use crate::test_support::fake_aws::{fetch_pages, FakeAws, Request, Response};
    use crate::test_support::TestUnit;

    const JSON: &str = "application/x-amz-json-1.1";

    #[test]
    fn properties_are_pascal_case_at_the_top_only() {
        let service = json!({
            "serviceArn": "arn:aws:ecs:eu-west-1:123456789012:service/prod/web",
            "serviceName": "web",
            "enableECSManagedTags": true,
            "deploymentConfiguration": {"maximumPercent": 200, "minimumHealthyPercent": 100},
            "tags": [{"key": "team", "value": "platform"}]
        });
        assert_eq!(
            properties(&service),
            json!({
                "ServiceArn": "arn:aws:ecs:eu-west-1:123456789012:service/prod/web",
                "ServiceName": "web",
                "EnableECSManagedTags": true,
                "DeploymentConfiguration": {"maximumPercent": 200, "minimumHealthyPercent": 100},
                "Tags": [{"key": "team", "value": "platform"}]
            })
        );
        assert!(!exists(&json!({"status": "INACTIVE"})));
        assert!(exists(&json!({"status": "DRAINING"})));
    }

    fn cluster(name: &str) -> String {
        format!("arn:aws:ecs:eu-west-1:123456789012:cluster/{name}")
    }

    /// Two clusters; `a` has 25 services (one deleted before `DescribeServices`), `b` none.
    fn handler(request: &Request) -> Response {
        let target = request.header("x-amz-target").unwrap_or_default();
        let body: Value = serde_json::from_str(&request.body).unwrap_or(Value::Null);
        let page = if target.ends_with(".ListClusters") {
            json!({"clusterArns": [cluster("a"), cluster("b")]})
        } else if target.ends_with(".ListServices") {
            let n = if body["cluster"] == json!(cluster("a")) {
                25
            } else {
                0
            };
            let arns: Vec<String> = (0..n)
                .map(|i| format!("arn:aws:ecs:eu-west-1:123456789012:service/a/s{i:02}"))
                .collect();
            json!({"serviceArns": arns})
        } else if target.ends_with(".DescribeServices") {
            let mut services = Vec::new();
            let mut failures = Vec::new();
            for arn in strings(&body["services"]) {
                if arn.ends_with("/s07") {
                    failures.push(json!({"arn": arn, "reason": "MISSING"}));
                    continue;
                }
                services.push(json!({
                    "serviceArn": arn, "serviceName": arn.rsplit('/').next(),
                    "clusterArn": body["cluster"], "status": "ACTIVE", "desiredCount": 1,
                    "tags": [{"key": "team", "value": "core"}]
                }));
            }
            json!({"services": services, "failures": failures})
        } else {
            let error = json!({"__type": "InvalidParameterException", "message": "test"});
            return (400, JSON, error.to_string());
        };
        (200, JSON, page.to_string())
    }

    #[tokio::test]
    async fn describes_services_by_ten_with_tags_and_cluster_context() {
        let server = FakeAws::start(handler);
        let unit = TestUnit::new(
            Kind::parse("AWS::ECS::Service").unwrap(),
            "eu-west-1",
            server.sdk_config("eu-west-1"),
        );
        let (result, pages) = fetch_pages(&unit.ctx()).await;
        let stats = result.unwrap();
        assert_eq!(stats.objects, 24);
        assert!(stats.warnings.is_empty(), "{:?}", stats.warnings);
        assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [9, 10, 5]);
        let first = &pages[0][0];
        assert_eq!(first["Type"], "AWS::ECS::Service");
        assert_eq!(first["Properties"]["ServiceName"], "s00");
        assert_eq!(
            first["Properties"]["Tags"],
            json!([{"key": "team", "value": "core"}])
        );
        assert_eq!(
            first["__ExtraContext"],
            json!({"AccountId": "123456789012", "Region": "eu-west-1", "Partition": "aws",
                   "ClusterArn": cluster("a")})
        );
        let describes: Vec<Value> = server
            .requests()
            .iter()
            .filter(|r| {
                r.header("x-amz-target")
                    .unwrap_or_default()
                    .ends_with(".DescribeServices")
            })
            .map(|r| serde_json::from_str(&r.body).unwrap())
            .collect();
        assert_eq!(describes.len(), 3);
        assert!(describes.iter().all(|d| d["include"] == json!(["TAGS"])));
        assert_eq!(describes[0]["services"].as_array().map(Vec::len), Some(10));
    }

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
        let unit = TestUnit::new(
            Kind::parse("AWS::ECS::Service").unwrap(),
            "eu-west-1",
            server.sdk_config("eu-west-1"),
        );
        let (result, _) = fetch_pages(&unit.ctx()).await;
        let warnings = result.unwrap().warnings;
        assert_eq!(warnings.len(), 1);
        assert!(
            warnings[0].ends_with("/a/s07: ACCESS_DENIED"),
            "{warnings:?}"
        );
    }
}
