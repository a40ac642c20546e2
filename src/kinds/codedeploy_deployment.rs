//! `AWS::CodeDeploy::Deployment` (regional, history): `ListDeployments` created within
//! `selector.historyDays` (the window is a server-side `createTimeRange`), then
//! `BatchGetDeployments` by 25, concurrently under the kind's bound. At most
//! [`HISTORY_ITEMS_PER_PARENT`] deployments per deployment group are kept, the newest by
//! `createTime`; a deployment that leaves the window (or the newest 100) is deleted as stale.
//!
//! `Properties` is the `DeploymentInfo` as CodeDeploy returns it with top-level keys in PascalCase
//! (nested objects keep the API's casing: `DeploymentOverview.Succeeded`, `Revision.s3Location`).
//!
//! Fixed aws-v3 bugs: aws-v3 lists every deployment ever made (unbounded) and calls
//! `GetDeployment` one by one; a failed call gave an object with only `DeploymentId`, which
//! overwrote the entity's data. Here a failed batch fails the unit.

use super::detail;
use super::fetch::HISTORY_ITEMS_PER_PARENT;
use super::raw::{iso8601_millis, pascal_keys};
use super::{FetchContext, FetchError, FetchStats, KindScope, KindSpec, PageSender};
use futures_util::TryStreamExt;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The kind's registry entry.
pub static SPEC: KindSpec = KindSpec {
    name: "AWS::CodeDeploy::Deployment",
    slug: "codedeploy-deployment",
    scope: KindScope::Regional,
    service: Some("codedeploy"),
    iam_actions: &[
        "codedeploy:BatchGetDeployments",
        "codedeploy:ListDeployments",
    ],
    identity: &["DeploymentId"],
    history: true,
    fetch: |ctx, pages| Box::pin(fetch(ctx, pages)),
    ..KindSpec::NATIVE
};

/// `BatchGetDeployments` takes at most 25 ids.
const BATCH: usize = 25;
/// Raw objects per page sent downstream.
const PAGE: usize = 100;

/// Fetches the deployments of the window and sends them in pages.
pub async fn fetch(ctx: &FetchContext<'_>, pages: &PageSender) -> Result<FetchStats, FetchError> {
    for page in windowed(ctx).await?.chunks(PAGE) {
        let objects = page.iter().map(|d| ctx.raw(properties(d))).collect();
        ctx.send(pages, objects).await?;
    }
    Ok(ctx.stats())
}

/// The `DeploymentInfo`s of the unit's window: created since `history_since()`, at most
/// [`HISTORY_ITEMS_PER_PARENT`] per deployment group (the newest), newest first.
pub async fn windowed(ctx: &FetchContext<'_>) -> Result<Vec<Value>, FetchError> {
    let since = iso8601_millis(&ctx.history_since().into());
    let input = json!({ "createTimeRange": { "start": since } });
    let ids: Vec<Value> = ctx
        .pages("ListDeployments", input)
        .map_ok(|p| detail::take_objects(p, "deployments"))
        .try_concat()
        .await?;
    let infos = ctx
        .batched(&ids, BATCH, |batch| async move {
            let answer = ctx
                .call("BatchGetDeployments", json!({ "deploymentIds": batch }))
                .await?;
            Ok(detail::take_objects(answer, "deploymentsInfo"))
        })
        .await?;
    Ok(keep_window(infos, &since, HISTORY_ITEMS_PER_PARENT))
}

/// The deployments created at or after `since` (ISO-8601 millis compare as text), at most
/// `per_group` per deployment group, newest first.
pub fn keep_window(mut infos: Vec<Value>, since: &str, per_group: usize) -> Vec<Value> {
    infos.retain(|d| d["createTime"].as_str().is_none_or(|t| t >= since));
    infos.sort_by(|a, b| {
        let key = |d: &Value| d["createTime"].as_str().unwrap_or_default().to_owned();
        key(b).cmp(&key(a))
    });
    let mut seen: BTreeMap<(String, String), usize> = BTreeMap::new();
    infos.retain(|d| {
        let group = (
            d["applicationName"].as_str().unwrap_or_default().to_owned(),
            d["deploymentGroupName"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
        let count = seen.entry(group).or_default();
        *count += 1;
        *count <= per_group
    });
    infos
}

/// aws-v3's `Properties` of one deployment: the API's keys in PascalCase.
pub fn properties(info: &Value) -> Value {
    Value::Object(pascal_keys(info))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::Kind;
    use crate::test_support::fake_aws::{fetch_pages, FakeAws, Request, Response};
    use crate::test_support::TestUnit;

    const JSON: &str = "application/x-amz-json-1.1";

    fn deployment(id: &str, group: &str, created: &str) -> Value {
        json!({"deploymentId": id, "applicationName": "web", "deploymentGroupName": group,
               "createTime": created, "deploymentOverview": {"Succeeded": 2}})
    }

    #[test]
    fn keeps_the_newest_per_group_inside_the_window() {
        let infos = vec![
            deployment("d-old", "prod", "2026-01-01T00:00:00.000Z"),
            deployment("d-1", "prod", "2026-05-01T00:00:00.000Z"),
            deployment("d-3", "prod", "2026-05-03T00:00:00.000Z"),
            deployment("d-2", "prod", "2026-05-02T00:00:00.000Z"),
            deployment("d-s", "stage", "2026-05-01T00:00:00.000Z"),
        ];
        let kept = keep_window(infos, "2026-04-01T00:00:00.000Z", 2);
        let ids: Vec<&str> = kept
            .iter()
            .filter_map(|d| d["deploymentId"].as_str())
            .collect();
        assert_eq!(ids, ["d-3", "d-2", "d-s"]);
    }

    #[test]
    fn properties_recase_the_top_level_only() {
        let info = deployment("d-1", "prod", "2026-05-01T00:00:00.000Z");
        assert_eq!(
            properties(&info),
            json!({"DeploymentId": "d-1", "ApplicationName": "web", "DeploymentGroupName": "prod",
                   "CreateTime": "2026-05-01T00:00:00.000Z", "DeploymentOverview": {"Succeeded": 2}})
        );
    }

    /// 30 deployments over two pages, created an hour ago (epoch seconds on the wire).
    fn handler(request: &Request) -> Response {
        let target = request.header("x-amz-target").unwrap_or_default();
        let body: Value = serde_json::from_str(&request.body).unwrap_or(Value::Null);
        let recent = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            - 3600;
        let answer = match target.rsplit('.').next().unwrap_or_default() {
            "ListDeployments" => match body.get("nextToken") {
                None => {
                    json!({"deployments": (0..20).map(|i| format!("d-{i:02}")).collect::<Vec<_>>(), "nextToken": "2"})
                }
                Some(_) => {
                    json!({"deployments": (20..30).map(|i| format!("d-{i:02}")).collect::<Vec<_>>()})
                }
            },
            "BatchGetDeployments" => {
                let infos: Vec<Value> = body["deploymentIds"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|id| {
                        json!({"deploymentId": id, "applicationName": "web",
                        "deploymentGroupName": "prod", "createTime": recent, "status": "Succeeded"})
                    })
                    .collect();
                json!({ "deploymentsInfo": infos })
            }
            other => panic!("unexpected {other}"),
        };
        (200, JSON, answer.to_string())
    }

    #[tokio::test]
    async fn lists_the_window_and_batches_by_25() {
        let server = FakeAws::start(handler);
        let kind = Kind::parse(SPEC.name).unwrap();
        let unit = TestUnit::new(kind, "eu-west-1", server.sdk_config("eu-west-1"));
        let (result, pages) = fetch_pages(&unit.ctx()).await;
        let stats = result.unwrap();
        assert_eq!((stats.objects, stats.api_calls), (30, 4));
        assert_eq!(pages[0][0]["Type"], "AWS::CodeDeploy::Deployment");
        assert_eq!(pages[0][0]["Properties"]["Status"], "Succeeded");
        let requests = server.requests();
        let list: Value = serde_json::from_str(&requests[0].body).unwrap();
        let start = list["createTimeRange"]["start"].as_f64().unwrap();
        let week_ago = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64()
            - 7.0 * 86_400.0;
        assert!((start - week_ago).abs() < 60.0, "{start} vs {week_ago}");
        let batches: Vec<usize> = requests[2..]
            .iter()
            .map(|r| {
                serde_json::from_str::<Value>(&r.body).unwrap()["deploymentIds"]
                    .as_array()
                    .unwrap()
                    .len()
            })
            .collect();
        let mut sizes = batches.clone();
        sizes.sort_unstable();
        assert_eq!(sizes, [5, 25]);
    }
}
