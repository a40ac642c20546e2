//! `AWS::CodePipeline::ActionExecution` (regional, history): `ListPipelines`, then per pipeline
//! (concurrently under the kind's bound) `ListActionExecutions` (newest first) until an action
//! execution started before `selector.historyDays` or [`HISTORY_ITEMS_PER_PARENT`] of them; one
//! page of raw objects per page of pipelines. One that leaves the window is deleted as stale.
//!
//! `Properties` is the `ActionExecutionDetail` with top-level keys in PascalCase
//! (`PipelineExecutionId`, `ActionExecutionId`, `PipelineVersion`, `StageName`, `ActionName`,
//! `StartTime`, `LastUpdateTime`, `UpdatedBy`, `Status`, `Input`, `Output`; nested keys as the API
//! has them), plus `PipelineName`. `Input.configuration` is the action's configuration as
//! CodePipeline returns it, as in aws-v3: a mapping should not copy it when actions carry secrets.
//!
//! Fixed aws-v3 bug: aws-v3 lists every action execution (unbounded).
//!
//! [`HISTORY_ITEMS_PER_PARENT`]: super::fetch::HISTORY_ITEMS_PER_PARENT

use super::codepipeline_pipeline_execution::{for_each_pipeline_names, recent};
use super::raw::pascal_keys;
use super::{FetchContext, FetchError, FetchStats, KindScope, KindSpec, PageSender};
use serde_json::{json, Value};

/// The kind's registry entry.
pub static SPEC: KindSpec = KindSpec {
    name: "AWS::CodePipeline::ActionExecution",
    slug: "codepipeline-action-execution",
    scope: KindScope::Regional,
    service: Some("codepipeline"),
    iam_actions: &[
        "codepipeline:ListActionExecutions",
        "codepipeline:ListPipelines",
    ],
    identity: &["ActionExecutionId"],
    history: true,
    fetch: |ctx, pages| Box::pin(fetch(ctx, pages)),
    ..KindSpec::NATIVE
};

/// Fetches the action executions of the window of every pipeline of the unit's region.
pub async fn fetch(ctx: &FetchContext<'_>, pages: &PageSender) -> Result<FetchStats, FetchError> {
    for_each_pipeline_names(ctx, |names| async move {
        let objects = ctx
            .each(names, |name| async move {
                let input = json!({ "pipelineName": name });
                let details = recent(ctx, "ListActionExecutions", input).await?;
                let raw = details.iter().map(|d| ctx.raw(properties(&name, d)));
                Ok(raw.collect::<Vec<_>>())
            })
            .await?;
        ctx.send(pages, objects.into_iter().flatten().collect())
            .await
    })
    .await?;
    Ok(ctx.stats())
}

/// aws-v3's `Properties` of one action execution of pipeline `name`.
pub fn properties(name: &str, detail: &Value) -> Value {
    let mut map = pascal_keys(detail);
    map.insert("PipelineName".into(), json!(name));
    Value::Object(map)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::Kind;
    use crate::test_support::fake_aws::{fetch_pages, FakeAws, Request, Response};
    use crate::test_support::TestUnit;

    const JSON: &str = "application/x-amz-json-1.1";

    #[test]
    fn keeps_nested_api_casing() {
        let detail = json!({"actionExecutionId": "a-1", "actionName": "Build",
            "input": {"actionTypeId": {"provider": "CodeBuild"}, "configuration": {"ProjectName": "p"}}});
        assert_eq!(
            properties("web", &detail),
            json!({"ActionExecutionId": "a-1", "ActionName": "Build", "PipelineName": "web",
                   "Input": {"actionTypeId": {"provider": "CodeBuild"}, "configuration": {"ProjectName": "p"}}})
        );
    }

    /// Pipelines `web` (an action execution every hour, newest first) and `gone` (deleted).
    fn handler(request: &Request) -> Response {
        let target = request.header("x-amz-target").unwrap_or_default();
        let body: Value = serde_json::from_str(&request.body).unwrap_or(Value::Null);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let answer = match target.rsplit('.').next().unwrap_or_default() {
            "ListPipelines" => json!({"pipelines": [{"name": "web"}, {"name": "gone"}]}),
            "ListActionExecutions" if body["pipelineName"] == "gone" => {
                let error = json!({"__type": "PipelineNotFoundException", "message": "gone"});
                return (400, JSON, error.to_string());
            }
            "ListActionExecutions" => {
                let details: Vec<Value> = (0..48)
                    .map(|i| {
                        json!({"actionExecutionId": format!("a-{i:02}"), "actionName": "Build",
                        "startTime": now - i * 3600 - 60, "status": "Succeeded"})
                    })
                    .collect();
                json!({ "actionExecutionDetails": details })
            }
            other => panic!("unexpected {other}"),
        };
        (200, JSON, answer.to_string())
    }

    #[tokio::test]
    async fn keeps_the_window_of_each_pipeline() {
        let server = FakeAws::start(handler);
        let kind = Kind::parse(SPEC.name).unwrap();
        let mut unit = TestUnit::new(kind, "eu-west-1", server.sdk_config("eu-west-1"));
        unit.history_days = 1;
        let (result, pages) = fetch_pages(&unit.ctx()).await;
        let stats = result.unwrap();
        assert!(stats.warnings.is_empty());
        assert_eq!((stats.objects, stats.api_calls), (24, 3));
        assert_eq!(pages[0][0]["Properties"]["PipelineName"], "web");
        assert_eq!(pages[0][23]["Properties"]["ActionExecutionId"], "a-23");
        assert_eq!(
            pages[0][0]["Properties"]["StartTime"]
                .as_str()
                .map(str::len),
            Some(24)
        );
    }
}
