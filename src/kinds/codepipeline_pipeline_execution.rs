//! `AWS::CodePipeline::PipelineExecution` (regional, history): `ListPipelines`, then per pipeline
//! `ListPipelineExecutions` (newest first) until an execution started before
//! `selector.historyDays` or [`HISTORY_ITEMS_PER_PARENT`] executions, then
//! `GetPipelineExecution` per execution; each step concurrently under the kind's bound, one page
//! of raw objects per page of pipelines. An execution that leaves the window is deleted as stale.
//!
//! `Properties`: the execution summary and the `PipelineExecution` merged (the details win), top
//! -level keys in PascalCase (`PipelineName`, `PipelineVersion`, `PipelineExecutionId`, `Status`,
//! `StatusSummary`, `ArtifactRevisions`, `Variables`, `Trigger`, `ExecutionMode`,
//! `ExecutionType`, `RollbackMetadata`, and from the summary `StartTime`, `LastUpdateTime`,
//! `SourceRevisions`, `StopTrigger`), nested keys as the API has them.
//!
//! Fixed aws-v3 bugs: aws-v3 reads every execution of the last 12 months (unbounded), and leaves
//! the summary's keys in camelCase next to PascalCase details; here every top-level key is
//! PascalCase.

use super::codepipeline_pipeline::is_not_found;
use super::fetch::HISTORY_ITEMS_PER_PARENT;
use super::raw::{iso8601_millis, pascal_keys};
use super::{FetchContext, FetchError, FetchStats, KindScope, KindSpec, PageSender};
use futures_util::StreamExt;
use serde_json::{json, Value};

/// The kind's registry entry.
pub static SPEC: KindSpec = KindSpec {
    name: "AWS::CodePipeline::PipelineExecution",
    slug: "codepipeline-pipeline-execution",
    scope: KindScope::Regional,
    service: Some("codepipeline"),
    iam_actions: &[
        "codepipeline:GetPipelineExecution",
        "codepipeline:ListPipelineExecutions",
        "codepipeline:ListPipelines",
    ],
    identity: &["PipelineExecutionId"],
    history: true,
    fetch: |ctx, pages| Box::pin(fetch(ctx, pages)),
    ..KindSpec::NATIVE
};

/// Fetches the executions of the window of every pipeline of the unit's region.
pub async fn fetch(ctx: &FetchContext<'_>, pages: &PageSender) -> Result<FetchStats, FetchError> {
    for_each_pipeline_names(ctx, |names| async move {
        let recent = ctx
            .each(names, |name| async move {
                let input = json!({ "pipelineName": name });
                let summaries = recent(ctx, "ListPipelineExecutions", input).await?;
                Ok(summaries.into_iter().map(move |s| (name.clone(), s)))
            })
            .await?;
        let pairs: Vec<(String, Value)> = recent.into_iter().flatten().collect();
        let objects = ctx.each(pairs, |(name, s)| detailed(ctx, name, s)).await?;
        ctx.send(pages, objects.into_iter().flatten().collect())
            .await
    })
    .await?;
    Ok(ctx.stats())
}

/// Runs `f` on the names of each page of `ListPipelines`.
pub async fn for_each_pipeline_names<F, Fut>(ctx: &FetchContext<'_>, f: F) -> Result<(), FetchError>
where
    F: Fn(Vec<String>) -> Fut,
    Fut: std::future::Future<Output = Result<(), FetchError>>,
{
    let mut stream = std::pin::pin!(ctx.pages("ListPipelines", json!({})));
    while let Some(page) = stream.next().await {
        let names = page?["pipelines"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p["name"].as_str().map(str::to_owned))
            .collect();
        f(names).await?;
    }
    Ok(())
}

/// The items of a newest-first history listing (`ListPipelineExecutions`,
/// `ListActionExecutions`) that started inside the window, at most
/// [`HISTORY_ITEMS_PER_PARENT`]; paging stops at the first older item. A pipeline deleted
/// meanwhile has none.
pub async fn recent(
    ctx: &FetchContext<'_>,
    operation: &'static str,
    mut input: Value,
) -> Result<Vec<Value>, FetchError> {
    let since = iso8601_millis(&ctx.history_since().into());
    input["maxResults"] = json!(HISTORY_ITEMS_PER_PARENT);
    let mut stream = std::pin::pin!(ctx.pages(operation, input));
    let mut kept = Vec::new();
    while let Some(page) = stream.next().await {
        let page = match page {
            Err(err) if is_not_found(&err) => return Ok(Vec::new()),
            other => other?,
        };
        let items = page
            .as_object()
            .and_then(|o| o.values().find_map(Value::as_array));
        for item in items.into_iter().flatten() {
            let old = item["startTime"]
                .as_str()
                .is_some_and(|t| t < since.as_str());
            if old || kept.len() == HISTORY_ITEMS_PER_PARENT {
                return Ok(kept);
            }
            kept.push(item.clone());
        }
    }
    Ok(kept)
}

/// The raw object of one execution: `GetPipelineExecution` over its summary (`None` when it is
/// gone).
async fn detailed(
    ctx: &FetchContext<'_>,
    name: String,
    summary: Value,
) -> Result<Option<Value>, FetchError> {
    let id = summary["pipelineExecutionId"].clone();
    let input = json!({"pipelineName": name, "pipelineExecutionId": id});
    match ctx.call("GetPipelineExecution", input).await {
        Err(err) if is_not_found(&err) => Ok(None),
        Err(err) => Err(err),
        Ok(got) => Ok(Some(ctx.raw(properties(
            &name,
            &summary,
            &got["pipelineExecution"],
        )))),
    }
}

/// aws-v3's `Properties` of one execution of pipeline `name`.
pub fn properties(name: &str, summary: &Value, execution: &Value) -> Value {
    let mut map = pascal_keys(summary);
    map.insert("PipelineName".into(), json!(name));
    map.extend(pascal_keys(execution));
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
    fn details_win_over_the_summary_and_keys_are_pascal() {
        let summary = json!({"pipelineExecutionId": "e-1", "status": "InProgress",
            "startTime": "2026-05-04T10:17:30.000Z", "trigger": {"triggerType": "Webhook"}});
        let execution = json!({"pipelineExecutionId": "e-1", "pipelineName": "web",
            "pipelineVersion": 3, "status": "Succeeded", "executionMode": "QUEUED"});
        assert_eq!(
            properties("web", &summary, &execution),
            json!({"PipelineExecutionId": "e-1", "Status": "Succeeded", "StartTime": "2026-05-04T10:17:30.000Z",
                   "Trigger": {"triggerType": "Webhook"}, "PipelineName": "web", "PipelineVersion": 3,
                   "ExecutionMode": "QUEUED"})
        );
    }

    fn now() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    }

    /// Pipeline `web` ran every 6 hours for 30 days, newest first, 10 per page.
    fn handler(request: &Request) -> Response {
        let target = request.header("x-amz-target").unwrap_or_default();
        let body: Value = serde_json::from_str(&request.body).unwrap_or(Value::Null);
        let answer = match target.rsplit('.').next().unwrap_or_default() {
            "ListPipelines" => json!({"pipelines": [{"name": "web"}]}),
            "ListPipelineExecutions" => {
                let start: u64 = body["nextToken"].as_str().map_or(0, |t| t.parse().unwrap());
                let summaries: Vec<Value> = (start..start + 10)
                    .map(|i| {
                        json!({"pipelineExecutionId": format!("e-{i:03}"), "status": "Succeeded",
                        "startTime": now() - i * 6 * 3600 - 60})
                    })
                    .collect();
                json!({"pipelineExecutionSummaries": summaries, "nextToken": (start + 10).to_string()})
            }
            "GetPipelineExecution" => json!({"pipelineExecution": {
                "pipelineExecutionId": body["pipelineExecutionId"], "pipelineName": "web", "status": "Succeeded"}}),
            other => panic!("unexpected {other}"),
        };
        (200, JSON, answer.to_string())
    }

    #[tokio::test]
    async fn stops_listing_at_the_window() {
        let server = FakeAws::start(handler);
        let kind = Kind::parse(SPEC.name).unwrap();
        let mut unit = TestUnit::new(kind, "eu-west-1", server.sdk_config("eu-west-1"));
        unit.history_days = 2;
        let (result, pages) = fetch_pages(&unit.ctx()).await;
        let stats = result.unwrap();
        // 2 days = executions 0..=7; one ListPipelines, one listing page, 8 details.
        assert_eq!((stats.objects, stats.api_calls), (8, 10));
        assert_eq!(pages[0][7]["Properties"]["PipelineExecutionId"], "e-007");
        assert_eq!(pages[0][0]["Properties"]["PipelineName"], "web");
        let list: Value = serde_json::from_str(&server.requests()[1].body).unwrap();
        assert_eq!(list["maxResults"], 100);
    }

    #[tokio::test]
    async fn keeps_at_most_100_per_pipeline() {
        let server = FakeAws::start(handler);
        let kind = Kind::parse(SPEC.name).unwrap();
        let mut unit = TestUnit::new(kind, "eu-west-1", server.sdk_config("eu-west-1"));
        unit.history_days = 365;
        let (result, _) = fetch_pages(&unit.ctx()).await;
        assert_eq!(result.unwrap().objects, 100);
    }
}
