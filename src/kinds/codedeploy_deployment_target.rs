//! `AWS::CodeDeploy::DeploymentTarget` (regional, history): the targets of the deployments in
//! the window of `AWS::CodeDeploy::Deployment` (created within `selector.historyDays`, at most
//! [`HISTORY_ITEMS_PER_PARENT`] per deployment group): per deployment, concurrently under the
//! kind's bound, `ListDeploymentTargets` then `BatchGetDeploymentTargets` by 25. At most
//! [`HISTORY_ITEMS_PER_PARENT`] targets per deployment are kept (the first target ids in order).
//! A deployment that has not started yet (`DeploymentNotStartedException`) has no targets.
//!
//! `Properties`: `DeploymentId`, `DeploymentTargetType`, the type's object under its PascalCase
//! name (`InstanceTarget`, `LambdaTarget`, `EcsTarget`, `CloudFormationTarget`; nested keys as the
//! API has them), and that object's `targetId`, `targetArn`, `status`, `lastUpdatedAt` and
//! `lifecycleEvents` flattened to the top level (`TargetId`, ...), as aws-v3's example shows.
//!
//! Fixed aws-v3 bug: aws-v3's raw object has no `TargetId`, so its identifier
//! (`DeploymentId + "/" + TargetId`) is the same for every target of a deployment and they
//! collapse into one entity; here `TargetId` is set. aws-v3 lists deployments without a window.

use super::codedeploy_deployment::windowed;
use super::detail;
use super::fetch::HISTORY_ITEMS_PER_PARENT;
use super::raw::pascal;
use super::{FetchContext, FetchError, FetchStats, KindScope, KindSpec, PageSender};
use futures_util::TryStreamExt;
use serde_json::{json, Map, Value};

/// The kind's registry entry.
pub static SPEC: KindSpec = KindSpec {
    name: "AWS::CodeDeploy::DeploymentTarget",
    slug: "codedeploy-deployment-target",
    scope: KindScope::Regional,
    service: Some("codedeploy"),
    iam_actions: &[
        "codedeploy:BatchGetDeploymentTargets",
        "codedeploy:BatchGetDeployments",
        "codedeploy:ListDeploymentTargets",
        "codedeploy:ListDeployments",
    ],
    identity: &["DeploymentId", "TargetId"],
    history: true,
    fetch: |ctx, pages| Box::pin(fetch(ctx, pages)),
    ..KindSpec::NATIVE
};

/// `BatchGetDeploymentTargets` takes at most 25 ids.
const BATCH: usize = 25;
/// The members of a target object that aws-v3 also shows at the top level.
const FLATTENED: [&str; 5] = [
    "targetId",
    "targetArn",
    "status",
    "lastUpdatedAt",
    "lifecycleEvents",
];

/// Fetches the targets of the window's deployments, one page of raw objects per deployment.
pub async fn fetch(ctx: &FetchContext<'_>, pages: &PageSender) -> Result<FetchStats, FetchError> {
    let ids: Vec<String> = windowed(ctx)
        .await?
        .iter()
        .filter_map(|d| d["deploymentId"].as_str().map(str::to_owned))
        .collect();
    ctx.each(ids, |id| async move {
        let objects = targets_of(ctx, &id).await?;
        ctx.send(pages, objects).await
    })
    .await?;
    Ok(ctx.stats())
}

/// The raw objects of one deployment's targets.
async fn targets_of(ctx: &FetchContext<'_>, id: &str) -> Result<Vec<Value>, FetchError> {
    let listed: Result<Vec<Value>, FetchError> = ctx
        .pages("ListDeploymentTargets", json!({ "deploymentId": id }))
        .map_ok(|p| detail::take_objects(p, "targetIds"))
        .try_concat()
        .await;
    let mut target_ids = match listed {
        Err(FetchError::Aws {
            code: Some(code), ..
        }) if code == "DeploymentNotStartedException" => return Ok(Vec::new()),
        other => other?,
    };
    target_ids.truncate(HISTORY_ITEMS_PER_PARENT);
    let mut objects = Vec::new();
    for batch in target_ids.chunks(BATCH) {
        let input = json!({"deploymentId": id, "targetIds": batch});
        let answer = ctx.call("BatchGetDeploymentTargets", input).await?;
        let targets = answer["deploymentTargets"].as_array().into_iter().flatten();
        objects.extend(targets.map(|t| ctx.raw(properties(id, t))));
    }
    Ok(objects)
}

/// aws-v3's `Properties` of one target of deployment `deployment_id`.
pub fn properties(deployment_id: &str, target: &Value) -> Value {
    let mut map = Map::new();
    map.insert("DeploymentId".into(), json!(deployment_id));
    for (key, value) in target.as_object().into_iter().flatten() {
        if let Some(fields) = value.as_object().filter(|_| key.ends_with("Target")) {
            for name in FLATTENED {
                if let Some(v) = fields.get(name) {
                    map.insert(pascal(name), v.clone());
                }
            }
        }
        map.insert(pascal(key), value.clone());
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

    fn instance_target(id: &str) -> Value {
        json!({"deploymentTargetType": "InstanceTarget", "instanceTarget": {
            "deploymentId": "d-1", "targetId": id,
            "targetArn": format!("arn:aws:ec2:eu-west-1:123456789012:instance/{id}"),
            "status": "Succeeded", "lastUpdatedAt": "2026-05-04T10:28:40.512Z",
            "lifecycleEvents": [], "instanceLabel": "Blue"}})
    }

    #[test]
    fn flattens_the_target_object_like_aws_v3() {
        let p = properties("d-1", &instance_target("i-1"));
        assert_eq!(
            p,
            json!({
                "DeploymentId": "d-1",
                "DeploymentTargetType": "InstanceTarget",
                "TargetId": "i-1",
                "TargetArn": "arn:aws:ec2:eu-west-1:123456789012:instance/i-1",
                "Status": "Succeeded",
                "LastUpdatedAt": "2026-05-04T10:28:40.512Z",
                "LifecycleEvents": [],
                "InstanceTarget": instance_target("i-1")["instanceTarget"]
            })
        );
        let lambda = json!({"deploymentTargetType": "LambdaTarget",
            "lambdaTarget": {"targetId": "f:live", "lambdaFunctionInfo": {"functionName": "f"}}});
        let p = properties("d-2", &lambda);
        assert_eq!(p["TargetId"], "f:live");
        assert_eq!(p["LambdaTarget"]["lambdaFunctionInfo"]["functionName"], "f");
    }

    /// Deployment `d-1` has 30 targets; `d-2` has not started.
    fn handler(request: &Request) -> Response {
        let target = request.header("x-amz-target").unwrap_or_default();
        let body: Value = serde_json::from_str(&request.body).unwrap_or(Value::Null);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let answer = match target.rsplit('.').next().unwrap_or_default() {
            "ListDeployments" => json!({"deployments": ["d-1", "d-2"]}),
            "BatchGetDeployments" => json!({"deploymentsInfo": [
                {"deploymentId": "d-1", "applicationName": "a", "deploymentGroupName": "g", "createTime": now},
                {"deploymentId": "d-2", "applicationName": "a", "deploymentGroupName": "g", "createTime": now}
            ]}),
            "ListDeploymentTargets" if body["deploymentId"] == "d-2" => {
                let error =
                    json!({"__type": "DeploymentNotStartedException", "message": "not yet"});
                return (400, JSON, error.to_string());
            }
            "ListDeploymentTargets" => {
                json!({"targetIds": (0..30).map(|i| format!("i-{i:02}")).collect::<Vec<_>>()})
            }
            "BatchGetDeploymentTargets" => {
                let targets: Vec<Value> = body["targetIds"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|id| instance_target(id.as_str().unwrap_or_default()))
                    .collect();
                json!({ "deploymentTargets": targets })
            }
            other => panic!("unexpected {other}"),
        };
        (200, JSON, answer.to_string())
    }

    #[tokio::test]
    async fn fetches_targets_of_started_deployments_by_25() {
        let server = FakeAws::start(handler);
        let kind = Kind::parse(SPEC.name).unwrap();
        let unit = TestUnit::new(kind, "eu-west-1", server.sdk_config("eu-west-1"));
        let (result, pages) = fetch_pages(&unit.ctx()).await;
        let stats = result.unwrap();
        assert!(stats.warnings.is_empty());
        assert_eq!((stats.objects, stats.api_calls), (30, 6));
        assert_eq!(pages.len(), 1);
        assert_eq!(pages[0][29]["Properties"]["TargetId"], "i-29");
        assert_eq!(pages[0][29]["Properties"]["DeploymentId"], "d-1");
    }
}
