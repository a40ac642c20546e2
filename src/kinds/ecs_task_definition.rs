//! `AWS::ECS::TaskDefinition` (regional): `ListTaskDefinitions(status=ACTIVE)`, then
//! `DescribeTaskDefinition(include=[TAGS])` per ARN (ECS has no batch call for it), concurrently
//! under the kind's bound; one raw object per ACTIVE revision, one page per list page.
//!
//! `Properties` is the response's `taskDefinition` with PascalCase top-level keys and the
//! response's `tags` as `Tags` (`{key, value}`), as aws-v3 builds it. aws-v3 drops keys its model
//! does not declare (`registeredBy`, `compatibilities`, `runtimePlatform`, ...); they are kept
//! here, so a new ECS field appears without a code change.

use super::detail;
use super::raw::pascal_keys;
use super::{
    FetchContext, FetchError, FetchStats, KindScope, KindSpec, OptionalAction, PageSender,
};
use futures_util::StreamExt;
use serde_json::{json, Value};

/// The aws-v3 `includeActions` of this kind (both made by default).
pub const OPTIONAL_ACTIONS: &[OptionalAction] = &[
    OptionalAction::always("ListTaskDefinitionsAction", &["ecs:ListTaskDefinitions"]),
    OptionalAction::always(
        "DescribeTaskDefinitionsAction",
        &["ecs:DescribeTaskDefinition"],
    ),
];

/// The kind's registry entry.
pub static SPEC: KindSpec = KindSpec {
    name: "AWS::ECS::TaskDefinition",
    slug: "ecs-task-definition",
    scope: KindScope::Regional,
    service: Some("ecs"),
    iam_actions: &["ecs:ListTaskDefinitions", "ecs:DescribeTaskDefinition"],
    optional_actions: OPTIONAL_ACTIONS,
    identity: &["TaskDefinitionArn"],
    fetch: |ctx, pages| Box::pin(fetch(ctx, pages)),
    ..KindSpec::NATIVE
};

/// `ListTaskDefinitions` page size (the API's maximum).
const LIST_PAGE: usize = 100;

/// Fetches every ACTIVE task definition revision of the unit's region.
pub async fn fetch(ctx: &FetchContext<'_>, pages: &PageSender) -> Result<FetchStats, FetchError> {
    let input = json!({"status": "ACTIVE", "maxResults": LIST_PAGE});
    let mut listed = std::pin::pin!(ctx.pages("ListTaskDefinitions", input));
    while let Some(page) = listed.next().await {
        let arns: Vec<Value> = detail::take_objects(page?, "taskDefinitionArns");
        let described = ctx
            .each(arns, |arn| async move {
                let input = json!({"taskDefinition": arn, "include": ["TAGS"]});
                ctx.call("DescribeTaskDefinition", input).await
            })
            .await?;
        let objects: Vec<Value> = described
            .iter()
            .filter(|d| d["taskDefinition"].is_object())
            .map(|d| ctx.raw(properties(d)))
            .collect();
        ctx.send(pages, objects).await?;
    }
    Ok(ctx.stats())
}

/// aws-v3's `Properties` of one `DescribeTaskDefinition` response.
pub fn properties(described: &Value) -> Value {
    let mut props = pascal_keys(&described["taskDefinition"]);
    let tags = described.get("tags").cloned().unwrap_or(json!([]));
    props.insert("Tags".into(), tags);
    Value::Object(props)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::Kind;
    use crate::test_support::fake_aws::{fetch_pages, FakeAws, Request, Response};
    use crate::test_support::TestUnit;

    const JSON: &str = "application/x-amz-json-1.1";

    #[test]
    fn tags_come_from_the_response_top_level() {
        let described = json!({
            "taskDefinition": {"taskDefinitionArn": "arn:td/api:3", "family": "api", "revision": 3,
                               "containerDefinitions": [{"name": "app", "essential": true}]},
            "tags": [{"key": "team", "value": "core"}]
        });
        assert_eq!(
            properties(&described),
            json!({"TaskDefinitionArn": "arn:td/api:3", "Family": "api", "Revision": 3,
                   "ContainerDefinitions": [{"name": "app", "essential": true}],
                   "Tags": [{"key": "team", "value": "core"}]})
        );
        let untagged = properties(&json!({"taskDefinition": {"family": "x"}}));
        assert_eq!(untagged["Tags"], json!([]));
    }

    fn handler(request: &Request) -> Response {
        let target = request.header("x-amz-target").unwrap_or_default();
        let body: Value = serde_json::from_str(&request.body).unwrap_or(Value::Null);
        let page = if target.ends_with(".ListTaskDefinitions") {
            match body.get("nextToken") {
                None => {
                    json!({"taskDefinitionArns": ["arn:td/api:1", "arn:td/api:2"], "nextToken": "t"})
                }
                Some(_) => json!({"taskDefinitionArns": ["arn:td/worker:1"]}),
            }
        } else if target.ends_with(".DescribeTaskDefinition") {
            let arn = body["taskDefinition"].as_str().unwrap_or_default();
            json!({"taskDefinition": {"taskDefinitionArn": arn, "status": "ACTIVE"},
                   "tags": [{"key": "arn", "value": arn}]})
        } else {
            let error = json!({"__type": "ClientException", "message": "test"});
            return (400, JSON, error.to_string());
        };
        (200, JSON, page.to_string())
    }

    #[tokio::test]
    async fn describes_each_listed_revision_with_tags() {
        let server = FakeAws::start(handler);
        let unit = TestUnit::new(
            Kind::parse("AWS::ECS::TaskDefinition").unwrap(),
            "eu-west-1",
            server.sdk_config("eu-west-1"),
        );
        let (result, pages) = fetch_pages(&unit.ctx()).await;
        let stats = result.unwrap();
        assert_eq!((stats.objects, stats.api_calls), (3, 5));
        assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [2, 1]);
        for object in pages.iter().flatten() {
            let arn = &object["Properties"]["TaskDefinitionArn"];
            assert_eq!(object["Properties"]["Tags"][0]["value"], *arn);
        }
        let requests = server.requests();
        let list: Value = serde_json::from_str(&requests[0].body).unwrap();
        assert_eq!(list["status"], "ACTIVE");
        let describe: Value = serde_json::from_str(&requests[1].body).unwrap();
        assert_eq!(describe["include"], json!(["TAGS"]));
    }
}
