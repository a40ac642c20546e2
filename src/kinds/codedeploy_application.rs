//! `AWS::CodeDeploy::Application` (regional): `ListApplications`, `BatchGetApplications` per page
//! of names (the API takes at most 100, a page holds at most 100), and `ListTagsForResource` per
//! application, concurrently under the kind's bound.
//!
//! `Properties` is the `ApplicationInfo` as CodeDeploy returns it with top-level keys in
//! PascalCase (`ApplicationName`, `ApplicationId`, `CreateTime`, `LinkedToGitHub`,
//! `GitHubAccountName`, `ComputePlatform`), plus `Tags` as CodeDeploy's `[{Key, Value}]`.
//!
//! Fixed aws-v3 bugs: aws-v3 merges the tags into the applications by list position (an
//! application missing from the batch answer shifts every later application's tags); here they are
//! merged by name. aws-v3 builds the tag ARN with `arn:aws:`; here it carries the account's
//! partition. A failed tag call is a warning (the unit then deletes nothing), not a silent `{}`.

use super::detail;
use super::raw::pascal_keys;
use super::{FetchContext, FetchError, FetchStats, KindScope, KindSpec, PageSender};
use futures_util::StreamExt;
use serde_json::{json, Map, Value};

/// The kind's registry entry.
pub static SPEC: KindSpec = KindSpec {
    name: "AWS::CodeDeploy::Application",
    slug: "codedeploy-application",
    scope: KindScope::Regional,
    service: Some("codedeploy"),
    iam_actions: &[
        "codedeploy:BatchGetApplications",
        "codedeploy:ListApplications",
        "codedeploy:ListTagsForResource",
    ],
    identity: &["ApplicationId", "ApplicationName"],
    fetch: |ctx, pages| Box::pin(fetch(ctx, pages)),
    ..KindSpec::NATIVE
};

/// `BatchGetApplications` takes at most 100 names.
const BATCH: usize = 100;

/// Fetches every application of the unit's region, one page of raw objects per batch.
pub async fn fetch(ctx: &FetchContext<'_>, pages: &PageSender) -> Result<FetchStats, FetchError> {
    let mut stream = std::pin::pin!(ctx.pages("ListApplications", json!({})));
    while let Some(page) = stream.next().await {
        let names = detail::take_objects(page?, "applications");
        for batch in names.chunks(BATCH) {
            let input = json!({ "applicationNames": batch });
            let infos = ctx.call("BatchGetApplications", input).await?;
            let infos = detail::take_objects(infos, "applicationsInfo");
            let objects = ctx.each(infos, |info| with_tags(ctx, info)).await?;
            ctx.send(pages, objects).await?;
        }
    }
    Ok(ctx.stats())
}

/// The raw object of one application, with its tags.
async fn with_tags(ctx: &FetchContext<'_>, info: Value) -> Result<Value, FetchError> {
    let name = info["applicationName"].as_str().unwrap_or_default();
    let arn = arn(ctx, &format!("application:{name}"));
    let tags = tags_or_warn(ctx, &arn).await;
    Ok(ctx.raw(properties(&info, tags)))
}

/// aws-v3's `Properties` of one application: the API's keys in PascalCase, and `Tags` when known.
pub fn properties(info: &Value, tags: Option<Value>) -> Value {
    let mut map: Map<String, Value> = pascal_keys(info);
    if let Some(tags) = tags {
        map.insert("Tags".into(), tags);
    }
    Value::Object(map)
}

/// The ARN of a CodeDeploy resource of the unit (`application:<name>`,
/// `deploymentgroup:<app>/<group>`), in the account's partition.
pub fn arn(ctx: &FetchContext<'_>, resource: &str) -> String {
    format!(
        "arn:{}:codedeploy:{}:{}:{resource}",
        ctx.partition(),
        ctx.region,
        ctx.account_id()
    )
}

/// Every tag of a CodeDeploy resource (`[{Key, Value}]`); `None`, and a warning, when the call
/// fails.
pub async fn tags_or_warn(ctx: &FetchContext<'_>, arn: &str) -> Option<Value> {
    match list_tags(ctx, arn).await {
        Ok(tags) => Some(Value::Array(tags)),
        Err(err) => {
            ctx.warn(format!("the tags of {arn} are missing: {err}"));
            None
        }
    }
}

/// `ListTagsForResource`, following `NextToken` (the model has no paginator for it).
async fn list_tags(ctx: &FetchContext<'_>, arn: &str) -> Result<Vec<Value>, FetchError> {
    let mut tags = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut input = json!({ "ResourceArn": arn });
        if let Some(token) = &token {
            input["NextToken"] = json!(token);
        }
        let page = ctx.call("ListTagsForResource", input).await?;
        tags.extend(page["Tags"].as_array().into_iter().flatten().cloned());
        match page["NextToken"].as_str().filter(|t| !t.is_empty()) {
            Some(next) if token.as_deref() != Some(next) => token = Some(next.to_owned()),
            _ => return Ok(tags),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discovery::Account;
    use crate::kinds::Kind;
    use crate::test_support::fake_aws::{fetch_pages, FakeAws, Request, Response};
    use crate::test_support::TestUnit;

    const JSON: &str = "application/x-amz-json-1.1";

    #[test]
    fn reproduces_the_aws_v3_example() {
        let info = json!({
            "applicationId": "0c4e8a2f-6b1d-4f3a-9e7c-5d2b8a1f4e6c",
            "applicationName": "web-app",
            "createTime": "2026-01-21T09:30:11.204Z",
            "linkedToGitHub": false,
            "computePlatform": "Server"
        });
        let tags = json!([{"Key": "Team", "Value": "web"}]);
        assert_eq!(
            properties(&info, Some(tags)),
            json!({
                "ApplicationId": "0c4e8a2f-6b1d-4f3a-9e7c-5d2b8a1f4e6c",
                "ApplicationName": "web-app",
                "CreateTime": "2026-01-21T09:30:11.204Z",
                "LinkedToGitHub": false,
                "ComputePlatform": "Server",
                "Tags": [{"Key": "Team", "Value": "web"}]
            })
        );
    }

    /// Three applications; the batch answer omits `gone` (deleted since the listing) and comes in
    /// another order; `secret`'s tags are denied.
    fn handler(request: &Request) -> Response {
        let target = request.header("x-amz-target").unwrap_or_default();
        let body: Value = serde_json::from_str(&request.body).unwrap_or(Value::Null);
        let answer = match target.rsplit('.').next().unwrap_or_default() {
            "ListApplications" => json!({"applications": ["web", "gone", "secret"]}),
            "BatchGetApplications" => json!({"applicationsInfo": [
                {"applicationName": "secret", "applicationId": "id-s", "createTime": 1_767_225_600.5},
                {"applicationName": "web", "applicationId": "id-w", "computePlatform": "Server"}
            ]}),
            "ListTagsForResource" => {
                let arn = body["ResourceArn"].as_str().unwrap_or_default();
                if arn.ends_with(":secret") {
                    let error = json!({"__type": "AccessDeniedException", "message": "no"});
                    return (400, JSON, error.to_string());
                }
                match body.get("NextToken") {
                    None => json!({"Tags": [{"Key": "arn", "Value": arn}], "NextToken": "t2"}),
                    Some(_) => json!({"Tags": [{"Key": "page", "Value": "2"}]}),
                }
            }
            other => panic!("unexpected {other}"),
        };
        (200, JSON, answer.to_string())
    }

    #[tokio::test]
    async fn merges_tags_by_name_in_the_partition_and_warns_on_failed_tags() {
        let server = FakeAws::start(handler);
        let kind = Kind::parse(SPEC.name).unwrap();
        let mut unit = TestUnit::new(kind, "cn-north-1", server.sdk_config("cn-north-1"));
        unit.account = Account::bare("123456789012", "aws-cn", None);
        let (result, pages) = fetch_pages(&unit.ctx()).await;
        let stats = result.unwrap();
        assert_eq!(stats.objects, 2);
        assert_eq!(stats.api_calls, 5);
        assert_eq!(
            stats.warnings.len(),
            1,
            "the denied tags are a warning: {:?}",
            stats.warnings
        );
        assert!(stats.warnings[0].contains("application:secret"));
        let objects = &pages[0];
        assert_eq!(objects[0]["Properties"]["ApplicationName"], "secret");
        assert_eq!(
            objects[0]["Properties"]["CreateTime"],
            "2026-01-01T00:00:00.500Z"
        );
        assert!(objects[0]["Properties"].get("Tags").is_none());
        assert_eq!(
            objects[1],
            json!({
                "Type": "AWS::CodeDeploy::Application",
                "Properties": {
                    "ApplicationName": "web",
                    "ApplicationId": "id-w",
                    "ComputePlatform": "Server",
                    "Tags": [
                        {"Key": "arn", "Value": "arn:aws-cn:codedeploy:cn-north-1:123456789012:application:web"},
                        {"Key": "page", "Value": "2"}
                    ]
                },
                "__ExtraContext": {"AccountId": "123456789012", "Region": "cn-north-1", "Partition": "aws-cn"}
            })
        );
        let batch: Value = serde_json::from_str(&server.requests()[1].body).unwrap();
        assert_eq!(
            batch,
            json!({"applicationNames": ["web", "gone", "secret"]})
        );
    }
}
