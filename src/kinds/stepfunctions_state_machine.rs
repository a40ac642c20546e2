//! `AWS::StepFunctions::StateMachine` (regional): `ListStateMachines`, then per state machine
//! (concurrently, under the unit's bound) `DescribeStateMachine` and `ListTagsForResource`.
//!
//! `Properties` is the `DescribeStateMachine` output as Step Functions returns it, in its own
//! camelCase (`stateMachineArn`, `name`, `status`, `type`, `roleArn`, `definition`,
//! `loggingConfiguration`, `tracingConfiguration`, `creationDate`, ...), plus `tags` as the API
//! gives them (`[{key, value}]`). A state machine deleted since the listing is left out; a denied
//! tag call leaves `tags` out with a warning (the unit then deletes nothing).

use super::detail;
use super::{FetchContext, FetchError, FetchStats, KindScope, KindSpec, PageSender};
use futures_util::StreamExt;
use serde_json::{json, Map, Value};

/// The kind's registry entry.
pub static SPEC: KindSpec = KindSpec {
    name: "AWS::StepFunctions::StateMachine",
    slug: "stepfunctions-state-machine",
    scope: KindScope::Regional,
    service: Some("stepfunctions"),
    iam_actions: &[
        "states:ListStateMachines",
        "states:DescribeStateMachine",
        "states:ListTagsForResource",
    ],
    identity: &["stateMachineArn", "name"],
    fetch: |ctx, pages| Box::pin(fetch(ctx, pages)),
    ..KindSpec::NATIVE
};

/// `ListStateMachines` page size (the API's maximum).
const PAGE: u32 = 1000;

/// Fetches every state machine of the unit's region, one page of raw objects per listing page.
pub async fn fetch(ctx: &FetchContext<'_>, pages: &PageSender) -> Result<FetchStats, FetchError> {
    let input = json!({ "maxResults": PAGE });
    let mut listed = std::pin::pin!(ctx.pages("ListStateMachines", input));
    while let Some(page) = listed.next().await {
        let arns: Vec<String> = detail::objects(&page?, "stateMachines")
            .iter()
            .filter_map(|m| m["stateMachineArn"].as_str().map(str::to_owned))
            .collect();
        let machines = ctx.each(arns, |arn| machine(ctx, arn)).await?;
        ctx.send(pages, machines.into_iter().flatten().collect())
            .await?;
    }
    Ok(ctx.stats())
}

/// The raw object of one state machine; `None` when it was deleted since it was listed.
async fn machine(ctx: &FetchContext<'_>, arn: String) -> Result<Option<Value>, FetchError> {
    let item = format!("state machine {arn}");
    let input = json!({ "stateMachineArn": arn });
    let Some(described) = detail::about(ctx, "DescribeStateMachine", input, &item).await? else {
        return Ok(None);
    };
    let input = json!({ "resourceArn": arn });
    let tags = detail::optional(ctx, "ListTagsForResource", input, &item)
        .await?
        .map(|t| t.get("tags").cloned().unwrap_or_else(|| json!([])));
    Ok(Some(ctx.raw(properties(&described, tags))))
}

/// The `Properties` of one state machine: its description and, when read, its tags.
pub fn properties(described: &Value, tags: Option<Value>) -> Value {
    let mut props: Map<String, Value> = described.as_object().cloned().unwrap_or_default();
    if let Some(tags) = tags {
        props.insert("tags".into(), tags);
    }
    Value::Object(props)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::Kind;
    use crate::test_support::fake_aws::{fetch_pages, FakeAws, Request, Response};
    use crate::test_support::TestUnit;

    const JSON: &str = "application/x-amz-json-1.0";
    const ARN: &str = "arn:aws:states:eu-west-1:123456789012:stateMachine:";

    #[test]
    fn properties_are_the_description_and_the_tags() {
        let text = include_str!(
            "../../tests/vectors/aws-v3/stepfunctions-state-machine/stepfunctions-state-machine-raw-data.json"
        );
        let raw: Value = serde_json::from_str(text).unwrap();
        let mut described = raw["Properties"].clone();
        let tags = described.as_object_mut().unwrap().remove("tags");
        assert!(tags.is_some());
        assert_eq!(properties(&described, tags), raw["Properties"]);
        assert!(properties(&json!({"name": "m"}), None)
            .get("tags")
            .is_none());
    }

    fn error(code: &str) -> Response {
        let body = json!({"__type": code, "message": "test"});
        (400, JSON, body.to_string())
    }

    /// Two listing pages: `orders`, `gone` (deleted since listed), `locked` (tags denied).
    fn handler(request: &Request) -> Response {
        let target = request.header("x-amz-target").unwrap_or_default();
        let body: Value = serde_json::from_str(&request.body).unwrap_or(Value::Null);
        let arn = body["stateMachineArn"]
            .as_str()
            .or(body["resourceArn"].as_str())
            .unwrap_or_default()
            .to_owned();
        let name = arn.rsplit(':').next().unwrap_or_default();
        let entry = |n: &str| json!({"stateMachineArn": format!("{ARN}{n}"), "name": n});
        match target.rsplit('.').next().unwrap_or_default() {
            "ListStateMachines" if body.get("nextToken").is_none() => {
                let page =
                    json!({"stateMachines": [entry("orders"), entry("gone")], "nextToken": "p2"});
                (200, JSON, page.to_string())
            }
            "ListStateMachines" => {
                let page = json!({"stateMachines": [entry("locked")]});
                (200, JSON, page.to_string())
            }
            "DescribeStateMachine" if name == "gone" => error("StateMachineDoesNotExist"),
            "DescribeStateMachine" => {
                let described = json!({"stateMachineArn": arn, "name": name, "status": "ACTIVE",
                                       "type": "STANDARD", "definition": "{}"});
                (200, JSON, described.to_string())
            }
            "ListTagsForResource" if name == "locked" => error("AccessDeniedException"),
            "ListTagsForResource" => {
                let tags = json!({"tags": [{"key": "team", "value": name}]});
                (200, JSON, tags.to_string())
            }
            _ => error("InvalidAction"),
        }
    }

    #[tokio::test]
    async fn describes_and_tags_every_machine_and_leaves_out_deleted_ones() {
        let server = FakeAws::start(handler);
        let kind = Kind::parse("AWS::StepFunctions::StateMachine").unwrap();
        let unit = TestUnit::new(kind, "eu-west-1", server.sdk_config("eu-west-1"));
        let (result, pages) = fetch_pages(&unit.ctx()).await;
        let stats = result.unwrap();
        assert_eq!(stats.objects, 2);
        assert_eq!(
            stats.api_calls, 7,
            "2 ListStateMachines + 3 DescribeStateMachine + 2 ListTagsForResource"
        );
        assert_eq!(
            stats.warnings,
            [format!(
                "state machine {ARN}locked: ListTagsForResource failed with AccessDeniedException"
            )]
        );
        let objects: Vec<&Value> = pages.iter().flatten().collect();
        assert_eq!(
            objects[0]["Properties"]["stateMachineArn"],
            format!("{ARN}orders")
        );
        assert_eq!(objects[0]["Properties"]["status"], "ACTIVE");
        assert_eq!(
            objects[0]["Properties"]["tags"],
            json!([{"key": "team", "value": "orders"}])
        );
        assert_eq!(objects[1]["Properties"]["name"], "locked");
        assert!(objects[1]["Properties"].get("tags").is_none());
        assert_eq!(objects[1]["__ExtraContext"]["AccountId"], "123456789012");
    }
}
