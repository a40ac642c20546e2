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

use super::detail;
use super::live::{self, str_at};
use super::raw::pascal_keys;
use super::{
    FetchContext, FetchError, FetchStats, KindScope, KindSpec, OptionalAction, PageSender,
};
use super::{LiveSpec, Refreshed};
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
    live: Some(&LIVE),
    ..KindSpec::NATIVE
};

/// Live events: the calls that create, change, delete or tag a service, and ECS's own service
/// events (which name the service's ARN in `resources`).
pub static LIVE: LiveSpec = LiveSpec {
    source: "aws.ecs",
    api_calls: &[
        "CreateService",
        "UpdateService",
        "DeleteService",
        "TagResource",
        "UntagResource",
    ],
    service_events: &["ECS Service Action", "ECS Deployment State Change"],
    ids: event_ids,
    refresh: |ctx, ids, pages| Box::pin(refresh(ctx, ids, pages)),
};

/// The cluster ECS assumes when a call names none.
const DEFAULT_CLUSTER: &str = "default";

/// `<cluster>/<service>` of a service ARN in the long format
/// (`arn:aws:ecs:<region>:<account>:service/<cluster>/<service>`); the short format names no
/// cluster and gives nothing.
fn from_arn(arn: &str) -> Option<String> {
    let (_, rest) = arn.split_once(":service/")?;
    let (cluster, service) = rest.split_once('/')?;
    Some(format!("{cluster}/{service}"))
}

/// The `<cluster>/<service>` ids of an event: the call's `cluster` (a name or an ARN, `default`
/// when absent) with its `serviceName` or `service` (a name or an ARN), the response's service
/// ARN, a tagged service `resourceArn`, or the service ARNs of an ECS service event.
pub fn event_ids(event: &Value) -> Vec<String> {
    let request = live::request(event);
    let response = live::response(event);
    let mut ids = Vec::new();
    if !request.is_null() {
        let cluster = str_at(request, "/cluster").unwrap_or(DEFAULT_CLUSTER);
        let cluster = cluster.rsplit_once(":cluster/").map_or(cluster, |(_, c)| c);
        let service = str_at(request, "/serviceName").or_else(|| str_at(request, "/service"));
        if let Some(service) = service {
            match from_arn(service) {
                Some(id) => ids.push(id),
                None if !service.starts_with("arn:") => ids.push(format!("{cluster}/{service}")),
                None => {}
            }
        }
        ids.extend(str_at(request, "/resourceArn").and_then(from_arn));
    }
    ids.extend(str_at(response, "/service/serviceArn").and_then(from_arn));
    if event["detail-type"] != live::API_CALL {
        ids.extend(
            live::resource_arns(event)
                .iter()
                .filter_map(|a| from_arn(a)),
        );
    }
    live::unique(ids)
}

/// `DescribeServices` per cluster, 10 services per call: `MISSING`, `INACTIVE` or a cluster that
/// is gone (`ClusterNotFoundException`) is gone.
pub async fn refresh(
    ctx: &FetchContext<'_>,
    ids: &[String],
    pages: &PageSender,
) -> Result<Refreshed, FetchError> {
    let mut by_cluster: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for id in ids {
        if let Some((cluster, service)) = id.split_once('/') {
            by_cluster
                .entry(cluster.to_owned())
                .or_default()
                .push(service.to_owned());
        }
    }
    let mut objects = Vec::new();
    let mut gone = Vec::new();
    for (cluster, services) in by_cluster {
        let described: Vec<Value> = ctx
            .batched(&services, DESCRIBE_BATCH, |batch| {
                let cluster = cluster.clone();
                async move {
                    let input = json!({"cluster": cluster, "services": batch, "include": ["TAGS"]});
                    let answer = detail::about(ctx, "DescribeServices", input, &cluster).await?;
                    Ok(answer
                        .map(|a| detail::objects(&a, "services").to_vec())
                        .unwrap_or_default())
                }
            })
            .await?;
        for name in &services {
            match described.iter().find(|s| s["serviceName"] == name.as_str()) {
                Some(service) if exists(service) => objects.push(to_raw(ctx, &cluster, service)),
                Some(service) => gone.push(to_raw(ctx, &cluster, service)),
                None => {
                    let arn = live::unit_arn(ctx, "ecs", &format!("service/{cluster}/{name}"));
                    let cluster_arn = live::unit_arn(ctx, "ecs", &format!("cluster/{cluster}"));
                    let service = json!({"serviceName": name, "serviceArn": arn,
                        "clusterArn": cluster_arn});
                    gone.push(to_raw(ctx, &cluster, &service));
                }
            }
        }
    }
    ctx.send(pages, objects).await?;
    Ok(Refreshed {
        stats: ctx.stats(),
        gone,
    })
}

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

    #[test]
    fn event_ids_are_cluster_and_service() {
        let create = json!({"detail": {"eventName": "CreateService",
            "requestParameters": {"cluster": "web", "serviceName": "api", "desiredCount": 2},
            "responseElements": {"service": {"serviceName": "api",
                "serviceArn": "arn:aws:ecs:us-east-1:123456789012:service/web/api"}}}});
        assert_eq!(event_ids(&create), ["web/api"]);
        let update = json!({"detail": {"eventName": "UpdateService", "requestParameters": {
            "cluster": "arn:aws:ecs:us-east-1:123456789012:cluster/web", "service": "api"}}});
        assert_eq!(event_ids(&update), ["web/api"]);
        let default_cluster = json!({"detail": {"eventName": "DeleteService",
            "requestParameters": {"service": "worker"}}});
        assert_eq!(event_ids(&default_cluster), ["default/worker"]);
        let cluster_tag = json!({"detail": {"eventName": "TagResource", "requestParameters": {
            "resourceArn": "arn:aws:ecs:us-east-1:123456789012:cluster/web"}}});
        assert!(event_ids(&cluster_tag).is_empty());
        let action = json!({"detail-type": "ECS Service Action", "source": "aws.ecs",
            "resources": ["arn:aws:ecs:us-east-1:123456789012:service/web/api"],
            "detail": {"eventType": "INFO", "eventName": "SERVICE_STEADY_STATE",
                "clusterArn": "arn:aws:ecs:us-east-1:123456789012:cluster/web"}});
        assert_eq!(event_ids(&action), ["web/api"]);
    }
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
