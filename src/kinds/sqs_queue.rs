//! `AWS::SQS::Queue` (regional): `ListQueues`, then per queue (concurrently, under the unit's
//! bound) `GetQueueAttributes(All)`; with `ListQueueTagsAction`, `ListQueueTags` → `Tags`.
//!
//! `Properties` is `QueueUrl` plus every attribute SQS returned, with the attributes aws-v3 types
//! as numbers and booleans converted (`CreatedTimestamp` and `LastModifiedTimestamp` stay the
//! epoch-seconds strings aws-v3 gives); `Tags` is SQS's `{key: value}` object.
//!
//! Differences from aws-v3, all bugs there:
//! - aws-v3's model rejects any attribute it does not declare (`extra="forbid"`), so a new SQS
//!   attribute fails the queue; here it is kept as SQS sends it.
//! - aws-v3's own example asks for `GetQueueTagsAction`, a name it does not know (so its tags
//!   never come); it is accepted here as another name of `ListQueueTagsAction`.
//! - aws-v3 merges attributes and tags with the queues by list position, and skips failed
//!   queues, so one failure gives every later queue its neighbour's data; here each answer stays
//!   with its queue, and a queue deleted since `ListQueues` is left out.

use super::detail;
use super::live::{self, str_at, Found};
use super::{
    FetchContext, FetchError, FetchStats, KindScope, KindSpec, OptionalAction, PageSender,
};
use super::{LiveSpec, Refreshed};
use futures_util::StreamExt;
use serde_json::{json, Value};

/// aws-v3's name for the optional `ListQueueTags` call.
pub const LIST_QUEUE_TAGS_ACTION: &str = "ListQueueTagsAction";

/// The aws-v3 `includeActions` of this kind.
pub const OPTIONAL_ACTIONS: &[OptionalAction] = &[
    OptionalAction::always("ListQueuesAction", &["sqs:ListQueues"]),
    OptionalAction::always("GetQueueAttributesAction", &["sqs:GetQueueAttributes"]),
    OptionalAction::optional(LIST_QUEUE_TAGS_ACTION, &["sqs:ListQueueTags"])
        .aka(&["GetQueueTagsAction"]),
];

/// The kind's registry entry.
pub static SPEC: KindSpec = KindSpec {
    name: "AWS::SQS::Queue",
    slug: "sqs-queue",
    scope: KindScope::Regional,
    service: Some("sqs"),
    iam_actions: &["sqs:ListQueues", "sqs:GetQueueAttributes"],
    optional_actions: OPTIONAL_ACTIONS,
    identity: &["QueueArn", "QueueUrl"],
    fetch: |ctx, pages| Box::pin(fetch(ctx, pages)),
    live: Some(&LIVE),
    ..KindSpec::NATIVE
};

/// Live events: the calls that create, delete, configure or tag a queue.
pub static LIVE: LiveSpec = LiveSpec {
    source: "aws.sqs",
    api_calls: &[
        "CreateQueue",
        "DeleteQueue",
        "SetQueueAttributes",
        "TagQueue",
        "UntagQueue",
    ],
    service_events: &[],
    ids: event_ids,
    refresh: |ctx, ids, pages| Box::pin(refresh(ctx, ids, pages)),
};

/// The queue name of an event: `queueName` (`CreateQueue`) or the last part of `queueUrl`.
/// Names, not URLs: the URL in an event may be another form of the queue's URL than the one
/// `ListQueues` gives (and the entity was written with).
pub fn event_ids(event: &Value) -> Vec<String> {
    let request = live::request(event);
    let response = live::response(event);
    fn from_url(v: &Value) -> Option<&str> {
        str_at(v, "/queueUrl").map(live::last_part)
    }
    live::unique(
        [
            str_at(request, "/queueName"),
            from_url(request),
            from_url(response),
        ]
        .into_iter()
        .flatten()
        .map(str::to_owned),
    )
}

/// Per name: `ListQueues` with the name as prefix (the queue's URL as SQS gives it), then the
/// fetch's `GetQueueAttributes`; a name SQS does not list, or `QueueDoesNotExist`, is gone.
pub async fn refresh(
    ctx: &FetchContext<'_>,
    ids: &[String],
    pages: &PageSender,
) -> Result<Refreshed, FetchError> {
    live::refresh_each(
        ctx,
        ids,
        pages,
        |name| async move {
            let input = json!({"QueueNamePrefix": name, "MaxResults": PAGE});
            let mut listed = std::pin::pin!(ctx.pages("ListQueues", input));
            let mut url = None;
            while let Some(page) = listed.next().await {
                let urls = detail::strings(&page?, "QueueUrls");
                if url.is_none() {
                    url = urls.into_iter().find(|u| live::last_part(u) == name);
                }
            }
            Ok(match url {
                Some(url) => Found::from_described(queue(ctx, url).await?),
                None => Found::Gone(None),
            })
        },
        |name| {
            let arn = live::unit_arn(ctx, "sqs", name);
            let url = format!(
                "https://sqs.{}.amazonaws.com/{}/{name}",
                ctx.region,
                ctx.account_id()
            );
            ctx.raw(json!({"QueueUrl": url, "QueueArn": arn}))
        },
    )
    .await
}

/// The optional `ListQueueTags` call, per queue URL.
const TAGS: detail::TagsCall = detail::TagsCall {
    action: LIST_QUEUE_TAGS_ACTION,
    operation: "ListQueueTags",
    input: "QueueUrl",
};

/// `ListQueues` page size: the API's maximum.
const PAGE: u32 = 1000;

/// Attributes aws-v3 gives as integers.
const INTEGERS: &[&str] = &[
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
    "VisibilityTimeout",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "DelaySeconds",
    "ReceiveMessageWaitTimeSeconds",
    "KmsDataKeyReusePeriodSeconds",
];

/// Attributes aws-v3 gives as booleans.
const BOOLEANS: &[&str] = &[
    "SqsManagedSseEnabled",
    "FifoQueue",
    "ContentBasedDeduplication",
];

/// Fetches every queue of the unit's region, one page of raw objects per `ListQueues` page.
pub async fn fetch(ctx: &FetchContext<'_>, pages: &PageSender) -> Result<FetchStats, FetchError> {
    let input = json!({ "MaxResults": PAGE });
    let urls = |page: &Value| detail::strings(page, "QueueUrls");
    ctx.send_each(pages, "ListQueues", input, urls, |url| queue(ctx, url))
        .await
}

/// The raw object of one queue; `None` when it was deleted since `ListQueues`.
async fn queue(ctx: &FetchContext<'_>, url: String) -> Result<Option<Value>, FetchError> {
    let input = json!({"QueueUrl": url, "AttributeNames": ["All"]});
    let Some(answer) = detail::about(ctx, "GetQueueAttributes", input, &url).await? else {
        return Ok(None);
    };
    let tags = TAGS.about(ctx, Some(&url)).await?;
    let tags = tags.map(|t| detail::field_or(&t, "Tags", json!({})));
    Ok(Some(ctx.raw(properties(&url, &answer["Attributes"], tags))))
}

/// aws-v3's `Properties` of one queue: its URL, its attributes (typed as aws-v3 types them) and,
/// when fetched, its tags.
pub fn properties(url: &str, attributes: &Value, tags: Option<Value>) -> Value {
    let mut map = serde_json::Map::new();
    map.insert("QueueUrl".into(), Value::String(url.to_owned()));
    map.extend(detail::typed_attributes(attributes, INTEGERS, BOOLEANS));
    if let Some(tags) = tags {
        map.insert("Tags".into(), tags);
    }
    Value::Object(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_ids_are_queue_names() {
        let create = json!({"detail": {"eventName": "CreateQueue",
            "requestParameters": {"queueName": "orders"},
            "responseElements": {"queueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/orders"}}});
        assert_eq!(event_ids(&create), ["orders"]);
        let tag = json!({"detail": {"eventName": "TagQueue", "requestParameters": {
            "queueUrl": "https://queue.amazonaws.com/123456789012/orders", "tags": {"team": "a"}}}});
        assert_eq!(event_ids(&tag), ["orders"]);
    }

    fn vector() -> Value {
        let text = include_str!("../../tests/vectors/aws-v3/sqs-queue/sqs-queue-raw-data.json");
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn reproduces_the_aws_v3_vector_from_the_api_answer() {
        let attributes = json!({
            "QueueArn": "arn:aws:sqs:eu-west-1:123456789012:orders",
            "ApproximateNumberOfMessages": "12",
            "ApproximateNumberOfMessagesNotVisible": "2",
            "ApproximateNumberOfMessagesDelayed": "0",
            "CreatedTimestamp": "1710491400",
            "LastModifiedTimestamp": "1710491400",
            "VisibilityTimeout": "30",
            "MaximumMessageSize": "262144",
            "MessageRetentionPeriod": "345600",
            "DelaySeconds": "0",
            "ReceiveMessageWaitTimeSeconds": "20",
            "RedrivePolicy": "{\"deadLetterTargetArn\":\"arn:aws:sqs:eu-west-1:123456789012:orders-dlq\",\"maxReceiveCount\":5}",
            "SqsManagedSseEnabled": "true"
        });
        let url = "https://sqs.eu-west-1.amazonaws.com/123456789012/orders";
        let tags = Some(json!({"team": "orders"}));
        assert_eq!(properties(url, &attributes, tags), vector()["Properties"]);
    }

    #[test]
    fn without_the_tags_action_there_is_no_tags_key() {
        let props = properties("u", &json!({"FifoQueue": "true"}), None);
        assert_eq!(props, json!({"QueueUrl": "u", "FifoQueue": true}));
    }

    #[test]
    fn the_example_s_tags_action_name_switches_on_the_tags() {
        let action = SPEC.action("GetQueueTagsAction").unwrap();
        assert_eq!(action.name, LIST_QUEUE_TAGS_ACTION);
        assert!(!action.default);
        assert!(SPEC.action("GetQueueAttributesAction").unwrap().default);
    }
}

#[cfg(test)]
mod fetch_tests {
    use super::*;
    use crate::kinds::Kind;
    use crate::test_support::fake_aws::{fetch_pages, FakeAws, Request, Response};
    use crate::test_support::TestUnit;

    const JSON: &str = "application/x-amz-json-1.0";

    fn url(name: &str) -> String {
        format!("https://sqs.eu-west-1.amazonaws.com/123456789012/{name}")
    }

    fn error(code: &str) -> Response {
        (
            400,
            JSON,
            json!({"__type": code, "message": "no"}).to_string(),
        )
    }

    /// Three queues over two pages; `gone` was deleted after `ListQueues`; `locked` denies tags.
    fn handler(request: &Request) -> Response {
        let target = request.header("x-amz-target").unwrap_or_default();
        let body: Value = serde_json::from_str(&request.body).unwrap_or(Value::Null);
        let queue = body["QueueUrl"].as_str().unwrap_or_default().to_owned();
        match target.rsplit('.').next().unwrap_or_default() {
            "ListQueues" if body.get("NextToken").is_none() => {
                let page = json!({"QueueUrls": [url("orders"), url("gone")], "NextToken": "p2"});
                (200, JSON, page.to_string())
            }
            "ListQueues" => (200, JSON, json!({"QueueUrls": [url("locked")]}).to_string()),
            "GetQueueAttributes" if queue.ends_with("/gone") => {
                error("com.amazonaws.sqs#QueueDoesNotExist")
            }
            "GetQueueAttributes" => {
                let name = queue.rsplit('/').next().unwrap_or_default();
                let arn = format!("arn:aws:sqs:eu-west-1:123456789012:{name}");
                let attributes =
                    json!({"QueueArn": arn, "DelaySeconds": "0", "FifoQueue": "false"});
                (200, JSON, json!({ "Attributes": attributes }).to_string())
            }
            "ListQueueTags" if queue.ends_with("/locked") => error("AccessDenied"),
            "ListQueueTags" => (200, JSON, json!({"Tags": {"team": "a"}}).to_string()),
            _ => error("InvalidAction"),
        }
    }

    async fn run(server: &FakeAws, actions: &[&str]) -> (FetchStats, Vec<Vec<Value>>) {
        let kind = Kind::parse("AWS::SQS::Queue").unwrap();
        let unit =
            TestUnit::new(kind, "eu-west-1", server.sdk_config("eu-west-1")).with_actions(actions);
        let (result, pages) = fetch_pages(&unit.ctx()).await;
        (result.unwrap(), pages)
    }

    #[tokio::test]
    async fn gets_every_queue_s_attributes_and_leaves_out_deleted_ones() {
        let server = FakeAws::start(handler);
        let (stats, pages) = run(&server, &[]).await;
        assert_eq!(stats.objects, 2);
        assert_eq!(stats.api_calls, 5, "2 ListQueues + 3 GetQueueAttributes");
        assert!(stats.warnings.is_empty(), "{:?}", stats.warnings);
        assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [1, 1]);
        assert_eq!(
            pages[0][0],
            json!({
                "Type": "AWS::SQS::Queue",
                "Properties": {
                    "QueueUrl": url("orders"),
                    "QueueArn": "arn:aws:sqs:eu-west-1:123456789012:orders",
                    "DelaySeconds": 0,
                    "FifoQueue": false
                },
                "__ExtraContext": {"AccountId": "123456789012", "Region": "eu-west-1", "Partition": "aws"}
            })
        );
        let requests = server.requests();
        let first: Value = serde_json::from_str(&requests[0].body).unwrap();
        assert_eq!(first["MaxResults"], json!(1000));
        let get: Value = serde_json::from_str(&requests[1].body).unwrap();
        assert_eq!(get["AttributeNames"], json!(["All"]));
    }

    #[tokio::test]
    async fn tags_come_with_the_action_and_a_denied_tag_call_is_a_warning() {
        let server = FakeAws::start(handler);
        let (stats, pages) = run(&server, &[LIST_QUEUE_TAGS_ACTION]).await;
        assert_eq!(pages[0][0]["Properties"]["Tags"], json!({"team": "a"}));
        assert!(pages[1][0]["Properties"].get("Tags").is_none());
        assert_eq!(
            stats.warnings,
            [format!(
                "{}: ListQueueTags failed with AccessDenied",
                url("locked")
            )]
        );
    }

    #[tokio::test]
    async fn a_failing_attribute_call_fails_the_fetch() {
        let server = FakeAws::start(|request: &Request| {
            if request.body.contains("/orders") {
                return error("InvalidSecurity");
            }
            handler(request)
        });
        let kind = Kind::parse("AWS::SQS::Queue").unwrap();
        let unit = TestUnit::new(kind, "eu-west-1", server.sdk_config("eu-west-1"));
        let (result, _) = fetch_pages(&unit.ctx()).await;
        match result {
            Err(FetchError::Aws { operation, .. }) => assert_eq!(operation, "GetQueueAttributes"),
            other => panic!("expected a GetQueueAttributes failure, got {other:?}"),
        }
    }
}
