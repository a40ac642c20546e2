//! `AWS::CodePipeline::Action` (regional): `ListPipelines`, then `GetPipeline` per pipeline
//! (concurrently under the kind's bound); one raw object per action of every stage.
//!
//! `Properties` is the `ActionDeclaration` with top-level keys in PascalCase (`Name`, `RunOrder`,
//! `Configuration`, `InputArtifacts`, `OutputArtifacts`, `RoleArn`, `Region`, `Namespace`, ...;
//! nested keys as the API has them) except `ActionTypeId`, whose keys are PascalCase too
//! (`Category`, `Owner`, `Provider`, `Version`: aws-v3's mapping reads `.ActionTypeId.Provider`),
//! plus `PipelineName`, `PipelineArn`, `PipelineVersion` and `StageName`.
//!
//! Fixed aws-v3 bugs: aws-v3 sets `PipelineArn` to the pipeline's role ARN and names the action
//! `ActionName` while its mapping reads `Name`, so every action's identifier is
//! `<role ARN>/<stage>/` and they collide; here `PipelineArn` is the pipeline's ARN and `Name`
//! is set. A pipeline that fails to load fails the unit instead of crashing the page.

use super::codepipeline_pipeline::for_each_pipeline_page;
use super::raw::pascal_keys;
use super::{FetchContext, FetchError, FetchStats, KindScope, KindSpec, PageSender};
use serde_json::Value;

/// The kind's registry entry.
pub static SPEC: KindSpec = KindSpec {
    name: "AWS::CodePipeline::Action",
    slug: "codepipeline-action",
    scope: KindScope::Regional,
    service: Some("codepipeline"),
    iam_actions: &["codepipeline:GetPipeline", "codepipeline:ListPipelines"],
    identity: &["PipelineArn", "StageName", "Name"],
    fetch: |ctx, pages| Box::pin(fetch(ctx, pages)),
    ..KindSpec::NATIVE
};

/// Fetches every action of every pipeline of the unit's region.
pub async fn fetch(ctx: &FetchContext<'_>, pages: &PageSender) -> Result<FetchStats, FetchError> {
    for_each_pipeline_page(ctx, pages, |got| async move {
        Ok(actions(&got).into_iter().map(|p| ctx.raw(p)).collect())
    })
    .await?;
    Ok(ctx.stats())
}

/// aws-v3's `Properties` of every action of a `GetPipeline` answer, stage by stage.
pub fn actions(got: &Value) -> Vec<Value> {
    let pipeline = &got["pipeline"];
    let mut out = Vec::new();
    for stage in pipeline["stages"].as_array().into_iter().flatten() {
        for action in stage["actions"].as_array().into_iter().flatten() {
            let mut map = pascal_keys(action);
            if let Some(type_id) = map.get_mut("ActionTypeId") {
                *type_id = Value::Object(pascal_keys(type_id));
            }
            map.insert("PipelineName".into(), pipeline["name"].clone());
            map.insert("PipelineArn".into(), got["metadata"]["pipelineArn"].clone());
            map.insert("PipelineVersion".into(), pipeline["version"].clone());
            map.insert("StageName".into(), stage["name"].clone());
            out.push(Value::Object(map));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::codepipeline_pipeline::tests::{got, handler};
    use crate::kinds::Kind;
    use crate::test_support::fake_aws::{fetch_pages, FakeAws};
    use crate::test_support::TestUnit;
    use serde_json::json;

    #[test]
    fn action_type_id_is_recased_and_the_pipeline_arn_is_the_pipeline_s() {
        let all = actions(&got("web"));
        assert_eq!(all.len(), 2);
        assert_eq!(
            all[1],
            json!({
                "Name": "Build", "RunOrder": 1,
                "ActionTypeId": {"Category": "Build", "Owner": "AWS", "Provider": "CodeBuild", "Version": "1"},
                "Configuration": {"ProjectName": "p"},
                "PipelineName": "web",
                "PipelineArn": "arn:aws:codepipeline:eu-west-1:123456789012:web",
                "PipelineVersion": 3,
                "StageName": "Build"
            })
        );
    }

    #[tokio::test]
    async fn one_object_per_action() {
        let server = FakeAws::start(handler);
        let kind = Kind::parse(SPEC.name).unwrap();
        let unit = TestUnit::new(kind, "eu-west-1", server.sdk_config("eu-west-1"));
        let (result, pages) = fetch_pages(&unit.ctx()).await;
        let stats = result.unwrap();
        assert_eq!((stats.objects, stats.api_calls), (2, 3));
        assert_eq!(pages[0][0]["Properties"]["StageName"], "Source");
        assert_eq!(pages[0][0]["__ExtraContext"]["Region"], "eu-west-1");
    }
}
