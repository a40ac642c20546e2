//! `AWS::CodeDeploy::DeploymentGroup` (regional): `ListApplications`, then per application
//! `ListDeploymentGroups` and `BatchGetDeploymentGroups` (by 100), then `ListTagsForResource` per
//! group; each step runs concurrently under the kind's bound, one page of raw objects per page of
//! applications.
//!
//! `Properties` is the `DeploymentGroupInfo` as CodeDeploy returns it with top-level keys in
//! PascalCase (nested objects keep the API's casing), plus `Tags` (`[{Key, Value}]`).
//!
//! Fixed aws-v3 bugs: tags merged by group name, not by list position (AWS does not promise the
//! batch answer's order); the tag ARN carries the account's partition, not `arn:aws:`; a failed
//! tag call is a warning. An application or group deleted between the listing and the batch call
//! is gone, not missing data.

use super::codedeploy_application::{arn, tags_or_warn};
use super::detail;
use super::raw::pascal_keys;
use super::{FetchContext, FetchError, FetchStats, KindScope, KindSpec, PageSender};
use futures_util::{StreamExt, TryStreamExt};
use serde_json::{json, Map, Value};

/// The kind's registry entry.
pub static SPEC: KindSpec = KindSpec {
    name: "AWS::CodeDeploy::DeploymentGroup",
    slug: "codedeploy-deployment-group",
    scope: KindScope::Regional,
    service: Some("codedeploy"),
    iam_actions: &[
        "codedeploy:BatchGetDeploymentGroups",
        "codedeploy:ListApplications",
        "codedeploy:ListDeploymentGroups",
        "codedeploy:ListTagsForResource",
    ],
    identity: &["DeploymentGroupId", "DeploymentGroupName"],
    fetch: |ctx, pages| Box::pin(fetch(ctx, pages)),
    ..KindSpec::NATIVE
};

/// `BatchGetDeploymentGroups` takes at most 100 names.
const BATCH: usize = 100;

/// Fetches every deployment group of the unit's region.
pub async fn fetch(ctx: &FetchContext<'_>, pages: &PageSender) -> Result<FetchStats, FetchError> {
    let mut stream = std::pin::pin!(ctx.pages("ListApplications", json!({})));
    while let Some(page) = stream.next().await {
        let apps: Vec<String> = page?["applications"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a.as_str().map(str::to_owned))
            .collect();
        let infos = ctx.each(apps, |app| groups_of(ctx, app)).await?;
        let infos: Vec<Value> = infos.into_iter().flatten().collect();
        let objects = ctx.each(infos, |info| with_tags(ctx, info)).await?;
        ctx.send(pages, objects).await?;
    }
    Ok(ctx.stats())
}

/// Every `DeploymentGroupInfo` of one application (none when it was deleted meanwhile).
async fn groups_of(ctx: &FetchContext<'_>, app: String) -> Result<Vec<Value>, FetchError> {
    let input = json!({ "applicationName": app });
    let listed: Result<Vec<Value>, FetchError> = ctx
        .pages("ListDeploymentGroups", input)
        .map_ok(|p| detail::take_objects(p, "deploymentGroups"))
        .try_concat()
        .await;
    let names = match listed {
        Err(err) if is_gone(&err) => return Ok(Vec::new()),
        other => other?,
    };
    let mut infos = Vec::new();
    for batch in names.chunks(BATCH) {
        let input = json!({"applicationName": app, "deploymentGroupNames": batch});
        let answer = match ctx.call("BatchGetDeploymentGroups", input).await {
            Err(err) if is_gone(&err) => return Ok(Vec::new()),
            other => other?,
        };
        if let Some(message) = answer["errorMessage"].as_str().filter(|m| !m.is_empty()) {
            tracing::debug!(region = ctx.region, application = %app, "{message}");
        }
        infos.extend(detail::take_objects(answer, "deploymentGroupsInfo"));
    }
    Ok(infos)
}

/// Whether an error says the application no longer exists.
fn is_gone(err: &FetchError) -> bool {
    matches!(err, FetchError::Aws { code: Some(code), .. } if code == "ApplicationDoesNotExistException")
}

/// The raw object of one group, with its tags.
async fn with_tags(ctx: &FetchContext<'_>, info: Value) -> Result<Value, FetchError> {
    let app = info["applicationName"].as_str().unwrap_or_default();
    let group = info["deploymentGroupName"].as_str().unwrap_or_default();
    let arn = arn(ctx, &format!("deploymentgroup:{app}/{group}"));
    let tags = tags_or_warn(ctx, &arn).await;
    Ok(ctx.raw(properties(&info, tags)))
}

/// aws-v3's `Properties` of one group: the API's keys in PascalCase, and `Tags` when known.
pub fn properties(info: &Value, tags: Option<Value>) -> Value {
    let mut map: Map<String, Value> = pascal_keys(info);
    if let Some(tags) = tags {
        map.insert("Tags".into(), tags);
    }
    Value::Object(map)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::Kind;
    use crate::test_support::fake_aws::{fetch_pages, FakeAws, Request, Response};
    use crate::test_support::TestUnit;

    const JSON: &str = "application/x-amz-json-1.1";

    fn error(code: &str) -> Response {
        let body = json!({"__type": code, "message": "test"});
        (400, JSON, body.to_string())
    }

    /// Apps `web` (groups `prod`, `gone`, `stage`) and `deleted` (removed after the listing).
    fn handler(request: &Request) -> Response {
        let target = request.header("x-amz-target").unwrap_or_default();
        let body: Value = serde_json::from_str(&request.body).unwrap_or(Value::Null);
        let app = body["applicationName"].as_str().unwrap_or_default();
        let answer = match target.rsplit('.').next().unwrap_or_default() {
            "ListApplications" => json!({"applications": ["web", "deleted"]}),
            "ListDeploymentGroups" if app == "deleted" => {
                return error("ApplicationDoesNotExistException")
            }
            "ListDeploymentGroups" => match body.get("nextToken") {
                None => {
                    json!({"applicationName": app, "deploymentGroups": ["prod", "gone"], "nextToken": "n"})
                }
                Some(_) => {
                    json!({"applicationName": app, "deploymentGroups": ["stage"], "nextToken": ""})
                }
            },
            "BatchGetDeploymentGroups" => json!({
                "deploymentGroupsInfo": [
                    {"applicationName": app, "deploymentGroupName": "stage", "deploymentGroupId": "g-s",
                     "deploymentStyle": {"deploymentType": "IN_PLACE"}},
                    {"applicationName": app, "deploymentGroupName": "prod", "deploymentGroupId": "g-p"}
                ],
                "errorMessage": "Deployment groups do not exist: gone"
            }),
            "ListTagsForResource" => {
                let arn = body["ResourceArn"].as_str().unwrap_or_default();
                json!({"Tags": [{"Key": "arn", "Value": arn}]})
            }
            other => panic!("unexpected {other}"),
        };
        (200, JSON, answer.to_string())
    }

    #[tokio::test]
    async fn lists_groups_per_application_and_merges_tags_by_name() {
        let server = FakeAws::start(handler);
        let kind = Kind::parse(SPEC.name).unwrap();
        let unit = TestUnit::new(kind, "eu-west-1", server.sdk_config("eu-west-1"));
        let (result, pages) = fetch_pages(&unit.ctx()).await;
        let stats = result.unwrap();
        assert!(stats.warnings.is_empty(), "{:?}", stats.warnings);
        assert_eq!(stats.objects, 2);
        assert_eq!(stats.api_calls, 7);
        assert_eq!(
            pages[0][0]["Properties"],
            json!({
                "ApplicationName": "web",
                "DeploymentGroupName": "stage",
                "DeploymentGroupId": "g-s",
                "DeploymentStyle": {"deploymentType": "IN_PLACE"},
                "Tags": [{"Key": "arn", "Value": "arn:aws:codedeploy:eu-west-1:123456789012:deploymentgroup:web/stage"}]
            })
        );
        assert_eq!(
            pages[0][1]["Properties"]["Tags"][0]["Value"],
            "arn:aws:codedeploy:eu-west-1:123456789012:deploymentgroup:web/prod"
        );
        let batch = server
            .requests()
            .into_iter()
            .find(|r| r.body.contains("deploymentGroupNames"))
            .unwrap();
        let batch: Value = serde_json::from_str(&batch.body).unwrap();
        assert_eq!(
            batch["deploymentGroupNames"],
            json!(["prod", "gone", "stage"])
        );
    }

    #[tokio::test]
    async fn a_failing_batch_fails_the_fetch() {
        let server = FakeAws::start(|request: &Request| {
            if request.body.contains("deploymentGroupNames") {
                return error("AccessDeniedException");
            }
            handler(request)
        });
        let kind = Kind::parse(SPEC.name).unwrap();
        let unit = TestUnit::new(kind, "eu-west-1", server.sdk_config("eu-west-1"));
        let (result, pages) = fetch_pages(&unit.ctx()).await;
        assert!(
            matches!(
                result,
                Err(FetchError::Aws {
                    operation: "BatchGetDeploymentGroups",
                    ..
                })
            ),
            "{result:?}"
        );
        assert!(pages.is_empty());
    }
}
