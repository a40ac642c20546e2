//! `AWS::CodePipeline::Stage` (regional): `ListPipelines`, then `GetPipeline` per pipeline
//! (concurrently under the kind's bound); one raw object per stage of each pipeline (CodePipeline
//! has no stage API).
//!
//! `Properties` is the `StageDeclaration` with top-level keys in PascalCase (`Name`, `Actions`,
//! `Blockers`, `OnFailure`, `OnSuccess`, `BeforeEntry`; nested keys as the API has them), plus
//! `PipelineName`, `PipelineArn` and `Order` (the stage's 1-based position).

use super::codepipeline_pipeline::for_each_pipeline_page;
use super::raw::pascal_keys;
use super::{FetchContext, FetchError, FetchStats, KindScope, KindSpec, PageSender};
use serde_json::{json, Value};

/// The kind's registry entry.
pub static SPEC: KindSpec = KindSpec {
    name: "AWS::CodePipeline::Stage",
    slug: "codepipeline-stage",
    scope: KindScope::Regional,
    service: Some("codepipeline"),
    iam_actions: &["codepipeline:GetPipeline", "codepipeline:ListPipelines"],
    identity: &["PipelineArn", "Name"],
    fetch: |ctx, pages| Box::pin(fetch(ctx, pages)),
    ..KindSpec::NATIVE
};

/// Fetches every stage of every pipeline of the unit's region.
pub async fn fetch(ctx: &FetchContext<'_>, pages: &PageSender) -> Result<FetchStats, FetchError> {
    for_each_pipeline_page(ctx, pages, |got| async move {
        Ok(stages(&got).into_iter().map(|p| ctx.raw(p)).collect())
    })
    .await?;
    Ok(ctx.stats())
}

/// aws-v3's `Properties` of every stage of a `GetPipeline` answer, in order.
pub fn stages(got: &Value) -> Vec<Value> {
    let stages = got["pipeline"]["stages"].as_array().into_iter().flatten();
    stages
        .enumerate()
        .map(|(i, stage)| {
            let mut map = pascal_keys(stage);
            map.insert("PipelineName".into(), got["pipeline"]["name"].clone());
            map.insert("PipelineArn".into(), got["metadata"]["pipelineArn"].clone());
            map.insert("Order".into(), json!(i + 1));
            Value::Object(map)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::codepipeline_pipeline::tests::handler;
    use crate::kinds::Kind;
    use crate::test_support::fake_aws::{fetch_pages, FakeAws};
    use crate::test_support::TestUnit;

    #[tokio::test]
    async fn one_object_per_stage_in_order() {
        let server = FakeAws::start(handler);
        let kind = Kind::parse(SPEC.name).unwrap();
        let unit = TestUnit::new(kind, "eu-west-1", server.sdk_config("eu-west-1"));
        let (result, pages) = fetch_pages(&unit.ctx()).await;
        let stats = result.unwrap();
        assert_eq!((stats.objects, stats.api_calls), (2, 3));
        let build = &pages[0][1];
        assert_eq!(build["Type"], "AWS::CodePipeline::Stage");
        assert_eq!(
            build["Properties"],
            json!({
                "Name": "Build",
                "Actions": [{"name": "Build", "runOrder": 1,
                    "actionTypeId": {"category": "Build", "owner": "AWS", "provider": "CodeBuild", "version": "1"},
                    "configuration": {"ProjectName": "p"}}],
                "PipelineName": "web",
                "PipelineArn": "arn:aws:codepipeline:eu-west-1:123456789012:web",
                "Order": 2
            })
        );
    }
}
