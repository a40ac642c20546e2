//! `AWS::CloudFormation::Stack` (regional): `DescribeStacks`, one raw object per stack, one page
//! per API page; with `ListStackResourcesAction` (off by default: one paginated call per stack),
//! `ListStackResources` per stack → `StackResources`.
//!
//! `Properties` is the `Stack` as boto3 parses it (`StackId`, `StackName`, `StackStatus`,
//! `CreationTime`, `LastUpdatedTime`, `Description`, `Parameters`, `Outputs`, `Capabilities`,
//! `RoleARN`, `ParentId`, `RootId`, `Tags` as `[{Key, Value}]`, ...): the call returns the tags.
//! `StackResources`, when asked for, is the stack's `StackResourceSummaries` (`LogicalResourceId`,
//! `PhysicalResourceId`, `ResourceType`, `ResourceStatus`, ...). Deleted stacks are not listed
//! (`DescribeStacks` without a name leaves them out). The example identifies a stack by its
//! `StackId` (the stack's ARN).

use super::detail;
use super::fetch::as_is;
use super::{
    FetchContext, FetchError, FetchStats, KindScope, KindSpec, OptionalAction, PageSender,
};
use futures_util::StreamExt;
use serde_json::{json, Value};

/// The optional `ListStackResources` call per stack.
pub const LIST_STACK_RESOURCES_ACTION: &str = "ListStackResourcesAction";

/// The `includeActions` of this kind.
pub const OPTIONAL_ACTIONS: &[OptionalAction] = &[OptionalAction::optional(
    LIST_STACK_RESOURCES_ACTION,
    &["cloudformation:ListStackResources"],
)];

/// The kind's registry entry.
pub static SPEC: KindSpec = KindSpec {
    name: "AWS::CloudFormation::Stack",
    slug: "cloudformation-stack",
    scope: KindScope::Regional,
    service: Some("cloudformation"),
    iam_actions: &["cloudformation:DescribeStacks"],
    optional_actions: OPTIONAL_ACTIONS,
    identity: &["StackId", "StackName"],
    fetch: |ctx, pages| Box::pin(fetch(ctx, pages)),
    ..KindSpec::NATIVE
};

/// Fetches every stack of the unit's region (and, when asked, its resources).
pub async fn fetch(ctx: &FetchContext<'_>, pages: &PageSender) -> Result<FetchStats, FetchError> {
    if !ctx.wants(LIST_STACK_RESOURCES_ACTION) {
        return ctx
            .send_listed(pages, "DescribeStacks", json!({}), "Stacks", as_is)
            .await;
    }
    let mut listed = std::pin::pin!(ctx.pages("DescribeStacks", json!({})));
    while let Some(page) = listed.next().await {
        let stacks = detail::take_objects(page?, "Stacks");
        let objects = ctx
            .each(stacks, |stack| async move {
                let resources = stack_resources(ctx, &stack).await?;
                Ok(ctx.raw(properties(&stack, resources)))
            })
            .await?;
        ctx.send(pages, objects).await?;
    }
    Ok(ctx.stats())
}

/// Every resource summary of one stack; `None` when the stack is gone since it was listed
/// (CloudFormation answers `ValidationError`: "Stack with id ... does not exist") or the role may
/// not list its resources (then with a warning, so the unit deletes nothing).
async fn stack_resources(
    ctx: &FetchContext<'_>,
    stack: &Value,
) -> Result<Option<Value>, FetchError> {
    let Some(id) = stack["StackId"].as_str() else {
        return Ok(None);
    };
    let mut resources = Vec::new();
    let input = json!({ "StackName": id });
    let mut listed = std::pin::pin!(ctx.pages("ListStackResources", input));
    while let Some(page) = listed.next().await {
        match page {
            Ok(page) => {
                resources.extend_from_slice(detail::objects(&page, "StackResourceSummaries"))
            }
            Err(e) if detail::code(&e) == Some("ValidationError") => {
                tracing::debug!(region = ctx.region, stack = id, "deleted since listed");
                return Ok(None);
            }
            Err(e)
                if detail::code(&e).is_some_and(crate::aws::api::error::is_access_denied_code) =>
            {
                let code = detail::code(&e).unwrap_or_default();
                ctx.warn(format!("{id}: ListStackResources failed with {code}"));
                return Ok(None);
            }
            Err(e) => return Err(e),
        }
    }
    Ok(Some(Value::Array(resources)))
}

/// The `Properties` of one stack: the API object plus, when fetched, `StackResources`.
pub fn properties(stack: &Value, resources: Option<Value>) -> Value {
    let mut props = stack.as_object().cloned().unwrap_or_default();
    if let Some(resources) = resources {
        props.insert("StackResources".into(), resources);
    }
    Value::Object(props)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::Kind;
    use crate::test_support::fake_aws::{fetch_pages, FakeAws, Request, Response};
    use crate::test_support::TestUnit;

    const XMLNS: &str = "http://cloudformation.amazonaws.com/doc/2010-05-15/";

    fn xml(op: &str, result: &str) -> Response {
        let body = format!(
            "<{op}Response xmlns=\"{XMLNS}\"><{op}Result>{result}</{op}Result>\
             <ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></{op}Response>"
        );
        (200, "text/xml", body)
    }

    fn id(name: &str) -> String {
        format!("arn:aws:cloudformation:eu-west-1:111111111111:stack/{name}/1")
    }

    fn stack(name: &str) -> String {
        format!(
            "<member><StackId>{}</StackId><StackName>{name}</StackName>\
             <StackStatus>CREATE_COMPLETE</StackStatus><CreationTime>2024-03-15T08:30:00Z</CreationTime>\
             <Tags><member><Key>team</Key><Value>orders</Value></member></Tags></member>",
            id(name)
        )
    }

    fn handler(request: &Request) -> Response {
        let body = &request.body;
        if body.contains("Action=DescribeStacks") {
            return xml(
                "DescribeStacks",
                &format!("<Stacks>{}{}</Stacks>", stack("api"), stack("gone")),
            );
        }
        if body.contains("%2Fgone%2F") {
            let error = "<ErrorResponse><Error><Type>Sender</Type><Code>ValidationError</Code>\
                         <Message>Stack with id gone does not exist</Message></Error>\
                         <RequestId>x</RequestId></ErrorResponse>";
            return (400, "text/xml", error.to_owned());
        }
        let (logical, next) = if body.contains("NextToken=t2") {
            ("Queue", "")
        } else {
            ("Function", "<NextToken>t2</NextToken>")
        };
        let summaries = format!(
            "<StackResourceSummaries><member><LogicalResourceId>{logical}</LogicalResourceId>\
             <PhysicalResourceId>{logical}-1</PhysicalResourceId><ResourceType>AWS::X::{logical}</ResourceType>\
             <ResourceStatus>CREATE_COMPLETE</ResourceStatus>\
             <LastUpdatedTimestamp>2024-03-15T08:30:00Z</LastUpdatedTimestamp></member></StackResourceSummaries>{next}"
        );
        xml("ListStackResources", &summaries)
    }

    #[tokio::test]
    async fn lists_stacks_without_their_resources_by_default() {
        let server = FakeAws::start(handler);
        let kind = Kind::parse("AWS::CloudFormation::Stack").unwrap();
        let unit = TestUnit::new(kind, "eu-west-1", server.sdk_config("eu-west-1"));
        let (result, pages) = fetch_pages(&unit.ctx()).await;
        let stats = result.unwrap();
        assert_eq!((stats.objects, stats.api_calls), (2, 1));
        let api = &pages[0][0]["Properties"];
        assert_eq!(api["StackId"], id("api"));
        assert_eq!(api["Tags"], json!([{"Key": "team", "Value": "orders"}]));
        assert!(api.get("StackResources").is_none());
    }

    #[tokio::test]
    async fn lists_each_stacks_resources_when_asked() {
        let server = FakeAws::start(handler);
        let kind = Kind::parse("AWS::CloudFormation::Stack").unwrap();
        let unit = TestUnit::new(kind, "eu-west-1", server.sdk_config("eu-west-1"))
            .with_actions(&[LIST_STACK_RESOURCES_ACTION]);
        let (result, pages) = fetch_pages(&unit.ctx()).await;
        let stats = result.unwrap();
        // DescribeStacks, 2 pages of api's resources, 1 failed call for the gone stack.
        assert_eq!((stats.objects, stats.api_calls), (2, 4));
        let api = &pages[0][0]["Properties"];
        let ids: Vec<&str> = api["StackResources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["PhysicalResourceId"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["Function-1", "Queue-1"]);
        assert!(pages[0][1]["Properties"].get("StackResources").is_none());
        assert_eq!(pages[0][1]["Properties"]["StackName"], "gone");
    }
}
