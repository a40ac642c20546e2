//! `AWS::SNS::Topic` (regional): `ListTopics`, then per topic (concurrently, under the unit's
//! bound) `GetTopicAttributes`; with `GetTopicTagsAction`, `ListTagsForResource` → `Tags`.
//!
//! `Properties` is `TopicName` plus every attribute SNS returned, with the attributes aws-v3 types
//! as numbers and booleans converted; `Tags` is SNS's `[{Key, Value}]`.
//!
//! Differences from aws-v3, all bugs there:
//! - aws-v3 never sets `TopicName` (neither call returns it), so its example's title is always
//!   null; here it is the topic ARN's last part.
//! - aws-v3's model rejects any attribute it does not declare (`extra="forbid"`); here a new
//!   attribute is kept as SNS sends it.
//! - aws-v3 merges tags by list position after skipping failed topics; here each answer stays
//!   with its topic, and a topic deleted since `ListTopics` is left out.

use super::detail;
use super::live::{self, str_at, Found};
use super::{
    FetchContext, FetchError, FetchStats, KindScope, KindSpec, OptionalAction, PageSender,
};
use super::{LiveSpec, Refreshed};
use serde_json::{json, Value};

/// aws-v3's name for the optional `ListTagsForResource` call.
pub const GET_TOPIC_TAGS_ACTION: &str = "GetTopicTagsAction";

/// The aws-v3 `includeActions` of this kind.
pub const OPTIONAL_ACTIONS: &[OptionalAction] = &[
    OptionalAction::always("ListTopicsAction", &["sns:ListTopics"]),
    OptionalAction::always("GetTopicAttributesAction", &["sns:GetTopicAttributes"]),
    OptionalAction::optional(GET_TOPIC_TAGS_ACTION, &["sns:ListTagsForResource"]),
];

/// The kind's registry entry.
pub static SPEC: KindSpec = KindSpec {
    name: "AWS::SNS::Topic",
    slug: "sns-topic",
    scope: KindScope::Regional,
    service: Some("sns"),
    iam_actions: &["sns:ListTopics", "sns:GetTopicAttributes"],
    optional_actions: OPTIONAL_ACTIONS,
    identity: &["TopicArn", "TopicName"],
    fetch: |ctx, pages| Box::pin(fetch(ctx, pages)),
    live: Some(&LIVE),
    ..KindSpec::NATIVE
};

/// Live events: the calls that create, delete, configure or tag a topic.
pub static LIVE: LiveSpec = LiveSpec {
    source: "aws.sns",
    api_calls: &[
        "CreateTopic",
        "DeleteTopic",
        "SetTopicAttributes",
        "TagResource",
        "UntagResource",
        "Subscribe",
        "Unsubscribe",
    ],
    service_events: &[],
    ids: event_ids,
    refresh: |ctx, ids, pages| Box::pin(refresh(ctx, ids, pages)),
};

/// The topic ARN of an event: `topicArn` of the request or response, a tagged `resourceArn`,
/// or the topic part of an unsubscribed `subscriptionArn`.
pub fn event_ids(event: &Value) -> Vec<String> {
    let request = live::request(event);
    let response = live::response(event);
    let subscription_topic = str_at(request, "/subscriptionArn")
        .and_then(|arn| arn.rsplit_once(':'))
        .map(|(topic, _)| topic);
    let candidates = [
        str_at(request, "/topicArn"),
        str_at(response, "/topicArn"),
        str_at(request, "/resourceArn"),
        subscription_topic,
    ];
    live::unique(
        candidates
            .into_iter()
            .flatten()
            .filter(|arn| arn.starts_with("arn:") && arn.contains(":sns:"))
            .map(str::to_owned),
    )
}

/// `GetTopicAttributes` per topic ARN; `NotFound` is gone.
pub async fn refresh(
    ctx: &FetchContext<'_>,
    ids: &[String],
    pages: &PageSender,
) -> Result<Refreshed, FetchError> {
    live::refresh_each(
        ctx,
        ids,
        pages,
        |arn| async move { Ok(Found::from_described(topic(ctx, arn).await?)) },
        |arn| ctx.raw(properties(arn, &json!({"TopicArn": arn}), None)),
    )
    .await
}

/// The optional `ListTagsForResource` call, per topic ARN.
const TAGS: detail::TagsCall = detail::TagsCall {
    action: GET_TOPIC_TAGS_ACTION,
    operation: "ListTagsForResource",
    input: "ResourceArn",
};

/// Attributes aws-v3 gives as integers.
const INTEGERS: &[&str] = &[
    "SubscriptionsConfirmed",
    "SubscriptionsDeleted",
    "SubscriptionsPending",
];

/// Attributes aws-v3 gives as booleans.
const BOOLEANS: &[&str] = &["FifoTopic", "ContentBasedDeduplication"];

/// Fetches every topic of the unit's region, one page of raw objects per `ListTopics` page.
pub async fn fetch(ctx: &FetchContext<'_>, pages: &PageSender) -> Result<FetchStats, FetchError> {
    let arns = |page: &Value| -> Vec<String> {
        detail::objects(page, "Topics")
            .iter()
            .filter_map(|t| t["TopicArn"].as_str().map(str::to_owned))
            .collect()
    };
    ctx.send_each(pages, "ListTopics", json!({}), arns, |arn| topic(ctx, arn))
        .await
}

/// The raw object of one topic; `None` when it was deleted since `ListTopics`.
async fn topic(ctx: &FetchContext<'_>, arn: String) -> Result<Option<Value>, FetchError> {
    let input = json!({ "TopicArn": arn });
    let Some(answer) = detail::about(ctx, "GetTopicAttributes", input, &arn).await? else {
        return Ok(None);
    };
    let tags = TAGS.about(ctx, Some(&arn)).await?;
    let tags = tags.map(|t| detail::field_or(&t, "Tags", json!([])));
    Ok(Some(ctx.raw(properties(&arn, &answer["Attributes"], tags))))
}

/// aws-v3's `Properties` of one topic: its name (from the ARN), its attributes (typed as aws-v3
/// types them) and, when fetched, its tags.
pub fn properties(arn: &str, attributes: &Value, tags: Option<Value>) -> Value {
    let mut map = serde_json::Map::new();
    map.insert("TopicArn".into(), Value::String(arn.to_owned()));
    map.extend(detail::typed_attributes(attributes, INTEGERS, BOOLEANS));
    let name = arn.rsplit(':').next().unwrap_or(arn);
    map.insert("TopicName".into(), Value::String(name.to_owned()));
    if let Some(tags) = tags {
        map.insert("Tags".into(), tags);
    }
    Value::Object(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_ids_are_topic_arns() {
        let arn = "arn:aws:sns:us-east-1:123456789012:orders";
        let create = json!({"detail": {"eventName": "CreateTopic",
            "requestParameters": {"name": "orders"}, "responseElements": {"topicArn": arn}}});
        assert_eq!(event_ids(&create), [arn]);
        let tag = json!({"detail": {"eventName": "TagResource",
            "requestParameters": {"resourceArn": arn, "tags": [{"key": "team", "value": "a"}]}}});
        assert_eq!(event_ids(&tag), [arn]);
        let unsubscribe = json!({"detail": {"eventName": "Unsubscribe",
            "requestParameters": {"subscriptionArn": format!("{arn}:0f1e2d3c-aaaa-bbbb-cccc-0123456789ab")}}});
        assert_eq!(event_ids(&unsubscribe), [arn]);
        let other =
            json!({"detail": {"requestParameters": {"resourceArn": "arn:aws:sqs:us-east-1:1:q"}}});
        assert!(event_ids(&other).is_empty());
    }

    fn vector() -> Value {
        let text = include_str!("../../tests/vectors/aws-v3/sns-topic/sns-topic-raw-data.json");
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn reproduces_the_aws_v3_vector_with_the_topic_name() {
        let arn = "arn:aws:sns:eu-west-1:123456789012:order-events";
        let attributes = json!({
            "TopicArn": arn,
            "Owner": "123456789012",
            "DisplayName": "Order events",
            "Policy": "{\"Version\":\"2008-10-17\",\"Id\":\"__default_policy_ID\",\"Statement\":[]}",
            "SubscriptionsConfirmed": "3",
            "SubscriptionsDeleted": "0",
            "SubscriptionsPending": "1",
            "EffectiveDeliveryPolicy": "{\"http\":{\"defaultHealthyRetryPolicy\":{\"numRetries\":3}}}",
            "TracingConfig": "PassThrough",
            "FifoTopic": "false"
        });
        let tags = Some(json!([{"Key": "team", "Value": "orders"}]));
        let mut expected = vector()["Properties"].clone();
        expected["TopicName"] = json!("order-events");
        assert_eq!(properties(arn, &attributes, tags), expected);
    }

    #[test]
    fn the_name_comes_from_the_arn_even_without_attributes() {
        let props = properties("arn:aws:sns:us-east-1:1:alerts.fifo", &json!({}), None);
        assert_eq!(
            props,
            json!({"TopicArn": "arn:aws:sns:us-east-1:1:alerts.fifo", "TopicName": "alerts.fifo"})
        );
    }
}

#[cfg(test)]
mod fetch_tests {
    use super::*;
    use crate::kinds::Kind;
    use crate::test_support::fake_aws::{fetch_pages, FakeAws, Request, Response};
    use crate::test_support::TestUnit;

    const XMLNS: &str = "http://sns.amazonaws.com/doc/2010-03-31/";

    fn arn(name: &str) -> String {
        format!("arn:aws:sns:eu-west-1:123456789012:{name}")
    }

    fn xml(action: &str, result: &str) -> Response {
        let body = format!(
            "<{action}Response xmlns=\"{XMLNS}\"><{action}Result>{result}</{action}Result>\
             <ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></{action}Response>"
        );
        (200, "text/xml", body)
    }

    fn error(code: &str) -> Response {
        let body = format!(
            "<ErrorResponse xmlns=\"{XMLNS}\"><Error><Type>Sender</Type><Code>{code}</Code>\
             <Message>no</Message></Error><RequestId>r</RequestId></ErrorResponse>"
        );
        (if code == "NotFound" { 404 } else { 403 }, "text/xml", body)
    }

    fn member(arn: &str) -> String {
        format!("<member><TopicArn>{arn}</TopicArn></member>")
    }

    /// Three topics over two pages; `gone` was deleted after `ListTopics`; `locked` denies tags.
    fn handler(request: &Request) -> Response {
        let body = &request.body;
        if body.contains("Action=ListTopics") && !body.contains("NextToken") {
            let topics = member(&arn("orders")) + &member(&arn("gone"));
            xml(
                "ListTopics",
                &format!("<Topics>{topics}</Topics><NextToken>p2</NextToken>"),
            )
        } else if body.contains("Action=ListTopics") {
            xml(
                "ListTopics",
                &format!("<Topics>{}</Topics>", member(&arn("locked"))),
            )
        } else if body.contains("Action=GetTopicAttributes") && body.contains("gone") {
            error("NotFound")
        } else if body.contains("Action=GetTopicAttributes") {
            xml(
                "GetTopicAttributes",
                "<Attributes><entry><key>SubscriptionsPending</key><value>2</value></entry>\
                 <entry><key>FifoTopic</key><value>false</value></entry></Attributes>",
            )
        } else if body.contains("Action=ListTagsForResource") && body.contains("locked") {
            error("AuthorizationError")
        } else if body.contains("Action=ListTagsForResource") {
            xml(
                "ListTagsForResource",
                "<Tags><member><Key>team</Key><Value>a</Value></member></Tags>",
            )
        } else {
            error("InvalidAction")
        }
    }

    #[tokio::test]
    async fn gets_every_topic_s_attributes_and_tags_with_the_action() {
        let server = FakeAws::start(handler);
        let kind = Kind::parse("AWS::SNS::Topic").unwrap();
        let unit = TestUnit::new(kind, "eu-west-1", server.sdk_config("eu-west-1"))
            .with_actions(&[GET_TOPIC_TAGS_ACTION]);
        let (result, pages) = fetch_pages(&unit.ctx()).await;
        let stats = result.unwrap();
        assert_eq!(stats.objects, 2);
        assert_eq!(stats.api_calls, 2 + 3 + 2);
        assert_eq!(
            pages[0][0],
            json!({
                "Type": "AWS::SNS::Topic",
                "Properties": {
                    "TopicArn": arn("orders"),
                    "TopicName": "orders",
                    "SubscriptionsPending": 2,
                    "FifoTopic": false,
                    "Tags": [{"Key": "team", "Value": "a"}]
                },
                "__ExtraContext": {"AccountId": "123456789012", "Region": "eu-west-1", "Partition": "aws"}
            })
        );
        assert!(pages[1][0]["Properties"].get("Tags").is_none());
        assert_eq!(
            stats.warnings,
            [format!(
                "{}: ListTagsForResource failed with AuthorizationError",
                arn("locked")
            )]
        );
    }

    #[tokio::test]
    async fn without_the_action_no_tag_call_is_made() {
        let server = FakeAws::start(handler);
        let kind = Kind::parse("AWS::SNS::Topic").unwrap();
        let unit = TestUnit::new(kind, "eu-west-1", server.sdk_config("eu-west-1"));
        let (result, _) = fetch_pages(&unit.ctx()).await;
        assert_eq!(result.unwrap().api_calls, 5);
        assert!(server
            .requests()
            .iter()
            .all(|r| !r.body.contains("ListTagsForResource")));
    }
}
