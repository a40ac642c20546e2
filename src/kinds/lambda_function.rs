//! `AWS::Lambda::Function` (regional): `ListFunctions`, one raw object per function, one page per
//! API page. Optional `ListTagsAction`: `ListTags` per function, concurrently under the kind's
//! bound, as `Tags` (a `{key: value}` map).
//!
//! `Properties` is the function configuration as the Lambda API returns it (already PascalCase),
//! with `KMSKeyArn` named `KmsKeyArn` as aws-v3's model does. Fixed aws-v3 bug: a failed
//! `ListTags` was skipped in a list merged by index, so later functions got their neighbours'
//! tags; here each function's tags are merged into it, and a denied call is a warning.
//! Note: `Environment.Variables` reach the catalog when a mapping reads them, as in aws-v3.

use super::detail;
use super::live::{self, str_at};
use super::{
    FetchContext, FetchError, FetchStats, KindScope, KindSpec, OptionalAction, PageSender,
};
use super::{LiveSpec, Refreshed};
use futures_util::StreamExt;
use serde_json::{json, Map, Value};

/// aws-v3's name for the optional `ListTags` call.
pub const LIST_TAGS_ACTION: &str = "ListTagsAction";

/// The aws-v3 `includeActions` of this kind.
pub const OPTIONAL_ACTIONS: &[OptionalAction] = &[
    OptionalAction::always("ListFunctionsAction", &["lambda:ListFunctions"]),
    OptionalAction::optional(LIST_TAGS_ACTION, &["lambda:ListTags"]),
];

/// The kind's registry entry.
pub static SPEC: KindSpec = KindSpec {
    name: "AWS::Lambda::Function",
    slug: "lambda-function",
    scope: KindScope::Regional,
    service: Some("lambda"),
    iam_actions: &["lambda:ListFunctions"],
    optional_actions: OPTIONAL_ACTIONS,
    identity: &["FunctionArn", "FunctionName"],
    fetch: |ctx, pages| Box::pin(fetch(ctx, pages)),
    live: Some(&LIVE),
    ..KindSpec::NATIVE
};

/// Live events: the calls that create, delete, configure or tag a function (CloudTrail names
/// Lambda's calls with their API version, `CreateFunction20150331`).
pub static LIVE: LiveSpec = LiveSpec {
    source: "aws.lambda",
    api_calls: &[
        "CreateFunction20150331",
        "DeleteFunction20150331",
        "UpdateFunctionConfiguration20150331v2",
        "UpdateFunctionCode20150331v2",
        "TagResource20170331v2",
        "UntagResource20170331v2",
    ],
    service_events: &[],
    ids: event_ids,
    refresh: |ctx, ids, pages| Box::pin(refresh(ctx, ids, pages)),
};

/// The function name of an event: `functionName` of the request (a name or an ARN) or of the
/// response, or the function of a tagged `resource` ARN.
pub fn event_ids(event: &Value) -> Vec<String> {
    let request = live::request(event);
    let response = live::response(event);
    let name = |s: &str| {
        // arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]
        match s.split_once(":function:") {
            Some((_, rest)) => rest.split(':').next().unwrap_or(rest).to_owned(),
            None => s.to_owned(),
        }
    };
    let resource = str_at(request, "/resource").filter(|r| r.contains(":function:"));
    live::unique(
        [
            str_at(request, "/functionName"),
            str_at(response, "/functionName"),
            resource,
        ]
        .into_iter()
        .flatten()
        .map(name),
    )
}

/// `ListFunctions` (the kind's only call besides the optional `ListTags`), keeping the named
/// functions; a name not listed is gone.
pub async fn refresh(
    ctx: &FetchContext<'_>,
    ids: &[String],
    pages: &PageSender,
) -> Result<Refreshed, FetchError> {
    let mut found = Vec::new();
    let mut listed = std::pin::pin!(ctx.pages("ListFunctions", json!({"MaxItems": PAGE})));
    while let Some(page) = listed.next().await {
        found.extend(
            detail::take_objects(page?, "Functions")
                .into_iter()
                .filter(|f| {
                    f["FunctionName"]
                        .as_str()
                        .is_some_and(|n| ids.iter().any(|id| id == n))
                }),
        );
    }
    let gone = ids
        .iter()
        .filter(|id| !found.iter().any(|f| f["FunctionName"] == id.as_str()))
        .map(|name| {
            let arn = live::unit_arn(ctx, "lambda", &format!("function:{name}"));
            ctx.raw(json!({"FunctionName": name, "FunctionArn": arn}))
        })
        .collect();
    let objects = ctx.each(found, |function| object(ctx, function)).await?;
    ctx.send(pages, objects).await?;
    Ok(Refreshed {
        stats: ctx.stats(),
        gone,
    })
}

/// `ListFunctions` page size (the API's maximum).
const PAGE: usize = 50;

/// Fetches every function of the unit's region.
pub async fn fetch(ctx: &FetchContext<'_>, pages: &PageSender) -> Result<FetchStats, FetchError> {
    let mut listed = std::pin::pin!(ctx.pages("ListFunctions", json!({"MaxItems": PAGE})));
    while let Some(page) = listed.next().await {
        let functions = detail::take_objects(page?, "Functions");
        let objects = ctx
            .each(functions, |function| object(ctx, function))
            .await?;
        ctx.send(pages, objects).await?;
    }
    Ok(ctx.stats())
}

/// One function's raw object, with its tags when the mapping enables `ListTags`.
async fn object(ctx: &FetchContext<'_>, function: Value) -> Result<Value, FetchError> {
    let tags = if ctx.wants(LIST_TAGS_ACTION) {
        tags(ctx, &function).await?
    } else {
        None
    };
    Ok(ctx.raw(properties(&function, tags)))
}

/// The function's tags; `None` when it is gone or the call is denied.
async fn tags(ctx: &FetchContext<'_>, function: &Value) -> Result<Option<Value>, FetchError> {
    let arn = function["FunctionArn"].clone();
    let item = format!(
        "Lambda function {}",
        function["FunctionName"].as_str().unwrap_or_default()
    );
    let gone = ["ResourceNotFoundException"];
    let answer = ctx
        .optional_call("ListTags", json!({ "Resource": arn }), &gone, &item)
        .await?;
    Ok(answer.map(|a| a.get("Tags").cloned().unwrap_or(json!({}))))
}

/// aws-v3's `Properties` of one function.
pub fn properties(function: &Value, tags: Option<Value>) -> Value {
    let mut props: Map<String, Value> = function
        .as_object()
        .into_iter()
        .flatten()
        .map(|(key, value)| {
            let key = if key == "KMSKeyArn" { "KmsKeyArn" } else { key };
            (key.to_owned(), value.clone())
        })
        .collect();
    if let Some(tags) = tags {
        props.insert("Tags".into(), tags);
    }
    Value::Object(props)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_ids_are_function_names() {
        let create = json!({"detail": {"eventName": "CreateFunction20150331",
            "requestParameters": {"functionName": "fn-1", "runtime": "python3.12"},
            "responseElements": {"functionName": "fn-1",
                "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:fn-1"}}});
        assert_eq!(event_ids(&create), ["fn-1"]);
        let delete = json!({"detail": {"eventName": "DeleteFunction20150331",
            "requestParameters": {"functionName": "arn:aws:lambda:us-east-1:123456789012:function:fn-2:prod"}}});
        assert_eq!(event_ids(&delete), ["fn-2"]);
        let tag = json!({"detail": {"eventName": "TagResource20170331v2", "requestParameters": {
            "resource": "arn:aws:lambda:us-east-1:123456789012:function:fn-3", "tags": {"a": "b"}}}});
        assert_eq!(event_ids(&tag), ["fn-3"]);
    }
    use crate::kinds::Kind;
    use crate::test_support::fake_aws::{fetch_pages, FakeAws, Request, Response};
    use crate::test_support::TestUnit;

    const JSON: &str = "application/json";

    #[test]
    fn kms_key_arn_takes_aws_v3_casing() {
        let function = json!({"FunctionName": "f", "KMSKeyArn": "arn:kms", "MemorySize": 128});
        assert_eq!(
            properties(&function, Some(json!({"team": "core"}))),
            json!({"FunctionName": "f", "KmsKeyArn": "arn:kms", "MemorySize": 128,
                   "Tags": {"team": "core"}})
        );
        assert_eq!(properties(&function, None).get("Tags"), None);
    }

    fn function(name: &str) -> Value {
        json!({"FunctionName": name, "Runtime": "python3.12",
               "FunctionArn": format!("arn:aws:lambda:eu-west-1:123456789012:function:{name}")})
    }

    /// Two pages (`Marker`); `f2`'s tags are denied.
    fn handler(request: &Request) -> Response {
        let path = request.target.split('?').next().unwrap_or_default();
        if path.starts_with("/2015-03-31/functions") {
            let page = if request.target.contains("Marker=") {
                json!({"Functions": [function("f3")]})
            } else {
                json!({"Functions": [function("f1"), function("f2")], "NextMarker": "m"})
            };
            return (200, JSON, page.to_string());
        }
        if path.contains("function%3Af2") || path.contains("function:f2") {
            let error = json!({"__type": "AccessDeniedException", "Message": "no"});
            return (403, JSON, error.to_string());
        }
        let arn = path.rsplit('/').next().unwrap_or_default();
        (200, JSON, json!({"Tags": {"path": arn}}).to_string())
    }

    #[tokio::test]
    async fn tags_merge_into_their_own_function_and_denied_ones_warn() {
        let server = FakeAws::start(handler);
        let unit = TestUnit::new(
            Kind::parse("AWS::Lambda::Function").unwrap(),
            "eu-west-1",
            server.sdk_config("eu-west-1"),
        )
        .with_actions(&[LIST_TAGS_ACTION]);
        let (result, pages) = fetch_pages(&unit.ctx()).await;
        let stats = result.unwrap();
        assert_eq!((stats.objects, stats.api_calls), (3, 5));
        assert_eq!(stats.warnings.len(), 1, "{:?}", stats.warnings);
        assert!(stats.warnings[0].starts_with("Lambda function f2: ListTags failed"));
        assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [2, 1]);
        let objects: Vec<&Value> = pages.iter().flatten().collect();
        assert!(objects[0]["Properties"]["Tags"]["path"]
            .as_str()
            .unwrap()
            .contains("f1"));
        assert!(objects[1]["Properties"].get("Tags").is_none());
        assert!(objects[2]["Properties"]["Tags"]["path"]
            .as_str()
            .unwrap()
            .contains("f3"));
        assert!(server.requests()[0].target.contains("MaxItems=50"));
    }

    #[tokio::test]
    async fn without_the_action_only_lists() {
        let server = FakeAws::start(handler);
        let unit = TestUnit::new(
            Kind::parse("AWS::Lambda::Function").unwrap(),
            "eu-west-1",
            server.sdk_config("eu-west-1"),
        );
        let (result, _) = fetch_pages(&unit.ctx()).await;
        assert_eq!(result.unwrap().api_calls, 2);
        assert_eq!(server.requests().len(), 2);
    }
}
