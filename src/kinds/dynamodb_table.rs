//! `AWS::DynamoDB::Table` (regional): `ListTables`, then per table (concurrently, under the unit's
//! bound) `DescribeTable`; with `ListTagsOfResourceAction`, `ListTagsOfResource` → `Tags`.
//!
//! `Properties` is the `Table` that `DescribeTable` returns, as it is (DynamoDB's JSON already has
//! aws-v3's names, so a new field appears without a code change), and `Tags` (`[{Key, Value}]`).
//!
//! Differences from aws-v3: aws-v3 calls `DescribeTable` a second time per table only to learn
//! its ARN for the tags, and merges tags by list position (a failed call shifts every later
//! table's tags). Here the ARN comes from the first `DescribeTable`, tags stay with their table,
//! and a table deleted since `ListTables` is left out.

use super::detail;
use super::live::{self, str_at, Found};
use super::{
    FetchContext, FetchError, FetchStats, KindScope, KindSpec, OptionalAction, PageSender,
};
use super::{LiveSpec, Refreshed};
use serde_json::{json, Value};

/// aws-v3's name for the optional `ListTagsOfResource` call.
pub const LIST_TAGS_ACTION: &str = "ListTagsOfResourceAction";

/// The aws-v3 `includeActions` of this kind.
pub const OPTIONAL_ACTIONS: &[OptionalAction] = &[
    OptionalAction::always("ListTablesAction", &["dynamodb:ListTables"]),
    OptionalAction::always("DescribeTableAction", &["dynamodb:DescribeTable"]),
    OptionalAction::optional(LIST_TAGS_ACTION, &["dynamodb:ListTagsOfResource"]),
];

/// The kind's registry entry.
pub static SPEC: KindSpec = KindSpec {
    name: "AWS::DynamoDB::Table",
    slug: "dynamodb-table",
    scope: KindScope::Regional,
    service: Some("dynamodb"),
    iam_actions: &["dynamodb:ListTables", "dynamodb:DescribeTable"],
    optional_actions: OPTIONAL_ACTIONS,
    identity: &["TableArn", "TableName"],
    fetch: |ctx, pages| Box::pin(fetch(ctx, pages)),
    live: Some(&LIVE),
    ..KindSpec::NATIVE
};

/// Live events: the calls that create, delete, change or tag a table.
pub static LIVE: LiveSpec = LiveSpec {
    source: "aws.dynamodb",
    api_calls: &[
        "CreateTable",
        "DeleteTable",
        "UpdateTable",
        "UpdateTimeToLive",
        "UpdateContinuousBackups",
        "TagResource",
        "UntagResource",
    ],
    service_events: &[],
    ids: event_ids,
    refresh: |ctx, ids, pages| Box::pin(refresh(ctx, ids, pages)),
};

/// The table name of an event: `tableName`, or the table of a tagged `resourceArn`
/// (`arn:aws:dynamodb:<region>:<account>:table/<name>`).
pub fn event_ids(event: &Value) -> Vec<String> {
    let request = live::request(event);
    let from_arn = str_at(request, "/resourceArn")
        .and_then(|arn| arn.split_once(":table/"))
        .map(|(_, rest)| rest.split('/').next().unwrap_or(rest));
    live::unique(
        [str_at(request, "/tableName"), from_arn]
            .into_iter()
            .flatten()
            .map(str::to_owned),
    )
}

/// `DescribeTable` per name: not found is gone, and so is a table `DELETING` (a deletion
/// cannot be undone; no later event would come).
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
            Ok(match table(ctx, name).await? {
                Some(raw) if raw["Properties"]["TableStatus"] == "DELETING" => {
                    Found::Gone(Some(raw))
                }
                described => Found::from_described(described),
            })
        },
        |name| {
            let arn = live::unit_arn(ctx, "dynamodb", &format!("table/{name}"));
            ctx.raw(json!({"TableName": name, "TableArn": arn}))
        },
    )
    .await
}

/// `ListTables` page size: the API's maximum.
const PAGE: u32 = 100;

/// Fetches every table of the unit's region, one page of raw objects per `ListTables` page.
pub async fn fetch(ctx: &FetchContext<'_>, pages: &PageSender) -> Result<FetchStats, FetchError> {
    let input = json!({ "Limit": PAGE });
    let names = |page: &Value| detail::strings(page, "TableNames");
    ctx.send_each(pages, "ListTables", input, names, |name| table(ctx, name))
        .await
}

/// The raw object of one table; `None` when it was deleted since `ListTables`.
async fn table(ctx: &FetchContext<'_>, name: String) -> Result<Option<Value>, FetchError> {
    let input = json!({ "TableName": name });
    let Some(answer) = detail::about(ctx, "DescribeTable", input, &name).await? else {
        return Ok(None);
    };
    let table = &answer["Table"];
    let tags = match table["TableArn"].as_str() {
        Some(arn) if ctx.wants(LIST_TAGS_ACTION) => tags(ctx, arn).await?,
        _ => None,
    };
    Ok(Some(ctx.raw(properties(table, tags))))
}

/// Every tag of one table (`ListTagsOfResource` pages); `None` when the table is gone or the
/// role may not read its tags.
async fn tags(ctx: &FetchContext<'_>, arn: &str) -> Result<Option<Value>, FetchError> {
    let mut all = Vec::new();
    let mut token: Option<Value> = None;
    loop {
        let mut input = json!({ "ResourceArn": arn });
        if let Some(token) = token.take() {
            input["NextToken"] = token;
        }
        let Some(page) = detail::optional(ctx, "ListTagsOfResource", input, arn).await? else {
            return Ok(None);
        };
        all.extend(detail::objects(&page, "Tags").iter().cloned());
        match page.get("NextToken") {
            Some(next) if !next.is_null() => token = Some(next.clone()),
            _ => return Ok(Some(Value::Array(all))),
        }
    }
}

/// aws-v3's `Properties` of one table: the described table and, when fetched, its tags.
pub fn properties(table: &Value, tags: Option<Value>) -> Value {
    detail::with_tags(table, "Tags", tags)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_ids_are_table_names() {
        let create = json!({"detail": {"eventName": "CreateTable",
            "requestParameters": {"tableName": "orders"}}});
        assert_eq!(event_ids(&create), ["orders"]);
        let tag = json!({"detail": {"eventName": "TagResource", "requestParameters": {
            "resourceArn": "arn:aws:dynamodb:us-east-1:123456789012:table/orders"}}});
        assert_eq!(event_ids(&tag), ["orders"]);
    }

    #[test]
    fn reproduces_the_aws_v3_vector() {
        let text =
            include_str!("../../tests/vectors/aws-v3/dynamodb-table/dynamodb-table-raw-data.json");
        let vector: Value = serde_json::from_str(text).unwrap();
        let mut table = vector["Properties"].clone();
        let tags = table.as_object_mut().unwrap().remove("Tags");
        assert_eq!(properties(&table, tags), vector["Properties"]);
        assert!(properties(&table, None).get("Tags").is_none());
    }
}

#[cfg(test)]
mod fetch_tests {
    use super::*;
    use crate::kinds::Kind;
    use crate::test_support::fake_aws::{fetch_pages, FakeAws, Request, Response};
    use crate::test_support::TestUnit;

    const JSON: &str = "application/x-amz-json-1.0";

    fn arn(name: &str) -> String {
        format!("arn:aws:dynamodb:eu-west-1:123456789012:table/{name}")
    }

    /// `orders`, `gone` (deleted after `ListTables`) and `carts`; `orders` has two tag pages.
    fn handler(request: &Request) -> Response {
        let target = request.header("x-amz-target").unwrap_or_default();
        let body: Value = serde_json::from_str(&request.body).unwrap_or(Value::Null);
        let ok = |v: Value| (200, JSON, v.to_string());
        match target.rsplit('.').next().unwrap_or_default() {
            "ListTables" if body.get("ExclusiveStartTableName").is_none() => {
                ok(json!({"TableNames": ["orders", "gone"], "LastEvaluatedTableName": "gone"}))
            }
            "ListTables" => ok(json!({"TableNames": ["carts"]})),
            "DescribeTable" if body["TableName"] == "gone" => {
                let error = json!({"__type": "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException", "message": "no"});
                (400, JSON, error.to_string())
            }
            "DescribeTable" => {
                let name = body["TableName"].as_str().unwrap_or_default();
                ok(json!({"Table": {"TableName": name, "TableArn": arn(name),
                                    "TableStatus": "ACTIVE", "ItemCount": 3,
                                    "CreationDateTime": 1710491400.5}}))
            }
            "ListTagsOfResource" if body["ResourceArn"] == arn("orders") => {
                if body.get("NextToken").is_none() {
                    ok(json!({"Tags": [{"Key": "a", "Value": "1"}], "NextToken": "t2"}))
                } else {
                    ok(json!({"Tags": [{"Key": "b", "Value": "2"}]}))
                }
            }
            "ListTagsOfResource" => ok(json!({"Tags": []})),
            _ => (
                400,
                JSON,
                json!({"__type": "UnknownOperationException"}).to_string(),
            ),
        }
    }

    #[tokio::test]
    async fn describes_every_table_with_all_its_tags() {
        let server = FakeAws::start(handler);
        let kind = Kind::parse("AWS::DynamoDB::Table").unwrap();
        let unit = TestUnit::new(kind, "eu-west-1", server.sdk_config("eu-west-1"))
            .with_actions(&[LIST_TAGS_ACTION]);
        let (result, pages) = fetch_pages(&unit.ctx()).await;
        let stats = result.unwrap();
        assert_eq!(stats.objects, 2);
        assert_eq!(
            stats.api_calls,
            2 + 3 + 3,
            "2 lists, 3 describes, 3 tag pages"
        );
        assert_eq!(
            pages[0][0],
            json!({
                "Type": "AWS::DynamoDB::Table",
                "Properties": {
                    "TableName": "orders", "TableArn": arn("orders"), "TableStatus": "ACTIVE",
                    "ItemCount": 3, "CreationDateTime": "2024-03-15T08:30:00.500Z",
                    "Tags": [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]
                },
                "__ExtraContext": {"AccountId": "123456789012", "Region": "eu-west-1", "Partition": "aws"}
            })
        );
        assert_eq!(pages[1][0]["Properties"]["Tags"], json!([]));
        let first: Value = serde_json::from_str(&server.requests()[0].body).unwrap();
        assert_eq!(first["Limit"], json!(100));
    }
}
