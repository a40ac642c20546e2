//! `AWS::CodeBuild::Project` (regional): `ListProjects`, then `BatchGetProjects` per page of names
//! (100, the API's maximum), one raw object per project.
//!
//! `Properties` is the project as the CodeBuild API returns it, with the API's camelCase keys at
//! the top level too (`arn`, `name`, `source`, `webhook`, ...): aws-v3's mapping reads
//! `.Properties.arn`, so this kind is the exception to the PascalCase rule. aws-v3 emits a fixed
//! list of keys; newer API fields are kept here (additive). Environment variables of type
//! `PLAINTEXT` and webhook secrets go to Port as in aws-v3: they are never logged.
//!
//! aws-v3's `GetProjectWebhooksAction` calls an operation CodeBuild does not have, so it always
//! fails there; the name is accepted here and needs no call (`BatchGetProjects` already returns
//! `webhook`). A failed `BatchGetProjects` fails the unit (aws-v3 skips the batch silently, and
//! stale deletion then removes good entities); a project deleted since `ListProjects`
//! (`projectsNotFound`) is gone.

use super::detail;
use super::{
    FetchContext, FetchError, FetchStats, KindScope, KindSpec, OptionalAction, PageSender,
};
use futures_util::StreamExt;
use serde_json::json;

/// The aws-v3 `includeActions` of this kind.
pub const OPTIONAL_ACTIONS: &[OptionalAction] =
    &[OptionalAction::optional("GetProjectWebhooksAction", &[])];

/// The kind's registry entry.
pub static SPEC: KindSpec = KindSpec {
    name: "AWS::CodeBuild::Project",
    slug: "codebuild-project",
    scope: KindScope::Regional,
    service: Some("codebuild"),
    iam_actions: &["codebuild:ListProjects", "codebuild:BatchGetProjects"],
    optional_actions: OPTIONAL_ACTIONS,
    identity: &["arn", "name"],
    fetch: |ctx, pages| Box::pin(fetch(ctx, pages)),
    ..KindSpec::NATIVE
};

/// `BatchGetProjects` takes at most 100 names.
const BATCH: usize = 100;

/// Fetches every project of the unit's region, one page of raw objects per `BatchGetProjects`.
pub async fn fetch(ctx: &FetchContext<'_>, pages: &PageSender) -> Result<FetchStats, FetchError> {
    let mut stream = std::pin::pin!(ctx.pages("ListProjects", json!({})));
    while let Some(page) = stream.next().await {
        let page = page?;
        let names = detail::take_objects(page, "projects");
        let found = ctx
            .batched(&names, BATCH, |batch| async move {
                let got = ctx
                    .call("BatchGetProjects", json!({ "names": batch }))
                    .await?;
                if let Some(gone) = got["projectsNotFound"].as_array().filter(|g| !g.is_empty()) {
                    tracing::debug!(
                        region = ctx.region,
                        count = gone.len(),
                        "projects deleted while listing"
                    );
                }
                Ok(detail::take_objects(got, "projects"))
            })
            .await?;
        let objects = found.into_iter().map(|p| ctx.raw(p)).collect();
        ctx.send(pages, objects).await?;
    }
    Ok(ctx.stats())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::Kind;
    use crate::test_support::fake_aws::{fetch_pages, FakeAws, Request, Response};
    use crate::test_support::TestUnit;
    use serde_json::Value;

    const JSON: &str = "application/x-amz-json-1.1";

    /// 150 projects over two `ListProjects` pages; `p007` was deleted before `BatchGetProjects`.
    fn handler(request: &Request) -> Response {
        let target = request.header("x-amz-target").unwrap_or_default();
        let body: Value = serde_json::from_str(&request.body).unwrap_or(Value::Null);
        if target.ends_with(".ListProjects") {
            let (range, next) = match body.get("nextToken") {
                None => (0..100, Some("page-2")),
                Some(_) => (100..150, None),
            };
            let names: Vec<String> = range.map(|i| format!("p{i:03}")).collect();
            let mut page = json!({ "projects": names });
            if let Some(next) = next {
                page["nextToken"] = json!(next);
            }
            return (200, JSON, page.to_string());
        }
        let (mut projects, mut gone) = (Vec::new(), Vec::new());
        for name in body["names"].as_array().into_iter().flatten() {
            let name = name.as_str().unwrap_or_default();
            if name == "p007" {
                gone.push(json!(name));
                continue;
            }
            projects.push(json!({
                "name": name,
                "arn": format!("arn:aws:codebuild:eu-west-1:123456789012:project/{name}"),
                "tags": [{"key": "Team", "value": "web"}],
                "created": 1_710_491_400.123,
                "webhook": {"url": "https://example.com"},
                "autoRetryLimit": 2
            }));
        }
        let out = json!({"projects": projects, "projectsNotFound": gone});
        (200, JSON, out.to_string())
    }

    #[tokio::test]
    async fn batches_each_list_page_and_keeps_the_api_casing() {
        let server = FakeAws::start(handler);
        let kind = Kind::parse("AWS::CodeBuild::Project").unwrap();
        let unit = TestUnit::new(kind, "eu-west-1", server.sdk_config("eu-west-1"))
            .with_actions(&["GetProjectWebhooksAction"]);
        let (result, pages) = fetch_pages(&unit.ctx()).await;
        let stats = result.unwrap();
        assert_eq!((stats.objects, stats.api_calls), (149, 4));
        assert!(stats.warnings.is_empty(), "{:?}", stats.warnings);
        assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [99, 50]);
        assert_eq!(
            pages[0][0]["Properties"],
            json!({
                "name": "p000",
                "arn": "arn:aws:codebuild:eu-west-1:123456789012:project/p000",
                "tags": [{"key": "Team", "value": "web"}],
                "created": "2024-03-15T08:30:00.123Z",
                "webhook": {"url": "https://example.com"},
                "autoRetryLimit": 2
            })
        );
        let batch: Value = serde_json::from_str(&server.requests()[1].body).unwrap();
        assert_eq!(batch["names"].as_array().map(Vec::len), Some(100));
        assert!(server.requests().iter().all(|r| !r
            .header("x-amz-target")
            .unwrap_or_default()
            .contains("Webhook")));
    }

    #[tokio::test]
    async fn a_failing_batch_fails_the_fetch() {
        let server = FakeAws::start(|request: &Request| {
            if request
                .header("x-amz-target")
                .unwrap_or_default()
                .ends_with(".BatchGetProjects")
            {
                let error = json!({"__type": "AccessDeniedException", "message": "no"});
                return (400, JSON, error.to_string());
            }
            handler(request)
        });
        let kind = Kind::parse("AWS::CodeBuild::Project").unwrap();
        let unit = TestUnit::new(kind, "eu-west-1", server.sdk_config("eu-west-1"));
        let (result, pages) = fetch_pages(&unit.ctx()).await;
        assert!(matches!(
            result,
            Err(FetchError::Aws {
                operation: "BatchGetProjects",
                ..
            })
        ));
        assert!(pages.is_empty());
    }
}
