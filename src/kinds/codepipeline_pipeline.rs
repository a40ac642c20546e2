//! `AWS::CodePipeline::Pipeline` (regional): `ListPipelines`, then per pipeline, concurrently under
//! the kind's bound, `GetPipeline` and `ListTagsForResource`; one page of raw objects per page of
//! pipelines. The stage and action kinds read the same `GetPipeline` answers
//! ([`for_each_pipeline_page`]).
//!
//! `Properties` is the `PipelineDeclaration` with top-level keys in PascalCase (`Name`, `RoleArn`,
//! `ArtifactStore`, `Stages`, `Version`, `ExecutionMode`, `PipelineType`, `Variables`,
//! `Triggers`; nested keys as the API has them), the `metadata` likewise (`PipelineArn`,
//! `Created`, `Updated`, `PollingDisabledAt`), and `Tags` as a `{key: value}` map.
//!
//! Fixed aws-v3 bugs: aws-v3 calls `GetPipeline` twice per pipeline; a failed tag call became
//! `{}` silently (here a warning, and no `Tags`). A pipeline deleted since the listing is gone.

use super::detail;
use super::raw::pascal_keys;
use super::{FetchContext, FetchError, FetchStats, KindScope, KindSpec, PageSender};
use futures_util::{StreamExt, TryStreamExt};
use serde_json::{json, Map, Value};

/// The kind's registry entry.
pub static SPEC: KindSpec = KindSpec {
    name: "AWS::CodePipeline::Pipeline",
    slug: "codepipeline-pipeline",
    scope: KindScope::Regional,
    service: Some("codepipeline"),
    iam_actions: &[
        "codepipeline:GetPipeline",
        "codepipeline:ListPipelines",
        "codepipeline:ListTagsForResource",
    ],
    identity: &["PipelineArn", "Name"],
    fetch: |ctx, pages| Box::pin(fetch(ctx, pages)),
    ..KindSpec::NATIVE
};

/// Fetches every pipeline of the unit's region, with its tags.
pub async fn fetch(ctx: &FetchContext<'_>, pages: &PageSender) -> Result<FetchStats, FetchError> {
    for_each_pipeline_page(ctx, pages, |got| async move {
        let arn = got["metadata"]["pipelineArn"].as_str().unwrap_or_default();
        let tags = match tags(ctx, arn).await {
            Ok(tags) => Some(tags),
            Err(err) => {
                ctx.warn(format!("the tags of {arn} are missing: {err}"));
                None
            }
        };
        Ok(vec![ctx.raw(properties(&got, tags))])
    })
    .await?;
    Ok(ctx.stats())
}

/// For each page of `ListPipelines`: `GetPipeline` per pipeline (concurrently, pipelines deleted
/// meanwhile left out), `objects` on each answer (concurrently), and the objects sent as a page.
pub async fn for_each_pipeline_page<F, Fut>(
    ctx: &FetchContext<'_>,
    pages: &PageSender,
    objects: F,
) -> Result<(), FetchError>
where
    F: Fn(Value) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<Value>, FetchError>>,
{
    let mut stream = std::pin::pin!(ctx.pages("ListPipelines", json!({})));
    while let Some(page) = stream.next().await {
        let names: Vec<String> = page?["pipelines"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p["name"].as_str().map(str::to_owned))
            .collect();
        let got = ctx.each(names, |name| get_pipeline(ctx, name)).await?;
        let made = ctx
            .each(got.into_iter().flatten().collect(), &objects)
            .await?;
        ctx.send(pages, made.into_iter().flatten().collect())
            .await?;
    }
    Ok(())
}

/// `GetPipeline`; `None` when the pipeline was deleted since the listing.
async fn get_pipeline(ctx: &FetchContext<'_>, name: String) -> Result<Option<Value>, FetchError> {
    match ctx.call("GetPipeline", json!({ "name": name })).await {
        Err(err) if is_not_found(&err) => Ok(None),
        other => other.map(Some),
    }
}

/// Whether an error says a pipeline (or its execution) no longer exists.
pub fn is_not_found(err: &FetchError) -> bool {
    matches!(err, FetchError::Aws { code: Some(code), .. }
        if code == "PipelineNotFoundException" || code == "PipelineExecutionNotFoundException")
}

/// A pipeline's tags as a `{key: value}` map.
async fn tags(ctx: &FetchContext<'_>, arn: &str) -> Result<Value, FetchError> {
    let input = json!({ "resourceArn": arn });
    let tags: Vec<Value> = ctx
        .pages("ListTagsForResource", input)
        .map_ok(|p| detail::take_objects(p, "tags"))
        .try_concat()
        .await?;
    Ok(Value::Object(tag_map(&tags)))
}

/// `[{key, value}]` as `{key: value}`.
pub fn tag_map(tags: &[Value]) -> Map<String, Value> {
    tags.iter()
        .filter_map(|t| Some((t["key"].as_str()?.to_owned(), t["value"].clone())))
        .collect()
}

/// aws-v3's `Properties` of one pipeline, from a `GetPipeline` answer and its tags.
pub fn properties(got: &Value, tags: Option<Value>) -> Value {
    let mut map = pascal_keys(&got["pipeline"]);
    map.extend(pascal_keys(&got["metadata"]));
    if let Some(tags) = tags {
        map.insert("Tags".into(), tags);
    }
    Value::Object(map)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::kinds::Kind;
    use crate::test_support::fake_aws::{fetch_pages, FakeAws, Request, Response};
    use crate::test_support::TestUnit;

    const JSON: &str = "application/x-amz-json-1.1";

    pub(crate) fn got(name: &str) -> Value {
        json!({
            "pipeline": {
                "name": name, "roleArn": "arn:aws:iam::123456789012:role/r", "version": 3,
                "artifactStore": {"type": "S3", "location": "artifacts"},
                "stages": [
                    {"name": "Source", "actions": [{"name": "Src", "runOrder": 1,
                        "actionTypeId": {"category": "Source", "owner": "AWS", "provider": "S3", "version": "1"}}]},
                    {"name": "Build", "actions": [{"name": "Build", "runOrder": 1,
                        "actionTypeId": {"category": "Build", "owner": "AWS", "provider": "CodeBuild", "version": "1"},
                        "configuration": {"ProjectName": "p"}}]}
                ]
            },
            "metadata": {
                "pipelineArn": format!("arn:aws:codepipeline:eu-west-1:123456789012:{name}"),
                "created": 1_767_225_600.0, "updated": 1_767_225_600.0
            }
        })
    }

    /// A fake CodePipeline: pipelines `web` and `gone` (deleted after the listing).
    pub(crate) fn handler(request: &Request) -> Response {
        let target = request.header("x-amz-target").unwrap_or_default();
        let body: Value = serde_json::from_str(&request.body).unwrap_or(Value::Null);
        let answer = match target.rsplit('.').next().unwrap_or_default() {
            "ListPipelines" => {
                json!({"pipelines": [{"name": "web", "version": 3}, {"name": "gone"}]})
            }
            "GetPipeline" if body["name"] == "gone" => {
                let error = json!({"__type": "PipelineNotFoundException", "message": "gone"});
                return (400, JSON, error.to_string());
            }
            "GetPipeline" => got(body["name"].as_str().unwrap_or_default()),
            "ListTagsForResource" => json!({"tags": [{"key": "Team", "value": "web"}]}),
            other => panic!("unexpected {other}"),
        };
        (200, JSON, answer.to_string())
    }

    #[tokio::test]
    async fn reads_each_pipeline_once_with_its_tags_as_a_map() {
        let server = FakeAws::start(handler);
        let kind = Kind::parse(SPEC.name).unwrap();
        let unit = TestUnit::new(kind, "eu-west-1", server.sdk_config("eu-west-1"));
        let (result, pages) = fetch_pages(&unit.ctx()).await;
        let stats = result.unwrap();
        assert!(stats.warnings.is_empty(), "{:?}", stats.warnings);
        assert_eq!((stats.objects, stats.api_calls), (1, 4));
        let p = &pages[0][0]["Properties"];
        assert_eq!(p["Name"], "web");
        assert_eq!(
            p["PipelineArn"],
            "arn:aws:codepipeline:eu-west-1:123456789012:web"
        );
        assert_eq!(p["Created"], "2026-01-01T00:00:00.000Z");
        assert_eq!(
            p["ArtifactStore"],
            json!({"type": "S3", "location": "artifacts"})
        );
        assert_eq!(
            p["Stages"][1]["actions"][0]["actionTypeId"]["provider"],
            "CodeBuild"
        );
        assert_eq!(p["Tags"], json!({"Team": "web"}));
        assert_eq!(p["Version"], 3);
    }
}
