//! `AWS::MemoryDB::User` (regional): `DescribeUsers`; with `ListTagsForMemoryDbUserAction`,
//! `ListTags` per user (concurrently, under the unit's bound) → `TagList`.
//!
//! `Properties` is the user as MemoryDB returns it (every field, MemoryDB's names, as aws-v3's
//! `extra="allow"` model keeps them) and, when fetched, `TagList`. Every account and region has
//! MemoryDB's built-in `default` user, listed like any other.
//!
//! Differences from aws-v3:
//! - aws-v3 keeps a fixed list of MemoryDB regions and skips the others; here a region where
//!   MemoryDB has no endpoint (or answers that the account may not use it) is skipped through
//!   the shared rule (`kinds::unavailable`), so a region MemoryDB opens later is covered without
//!   a release.
//! - aws-v3's example titles users with `.Properties.UserName`, which never exists (the field is
//!   `Name`); `docs/examples/memorydb-user/` uses `.Properties.Name`.
//! - tags stay with their user (aws-v3 merges them by list position after skipping failures).

use super::detail;
use super::{
    FetchContext, FetchError, FetchStats, KindScope, KindSpec, OptionalAction, PageSender,
};
use serde_json::{json, Value};

/// aws-v3's name for the optional `ListTags` call.
pub const LIST_TAGS_ACTION: &str = "ListTagsForMemoryDbUserAction";

/// The aws-v3 `includeActions` of this kind.
pub const OPTIONAL_ACTIONS: &[OptionalAction] = &[
    OptionalAction::always("DescribeUsersAction", &["memorydb:DescribeUsers"]),
    OptionalAction::optional(LIST_TAGS_ACTION, &["memorydb:ListTags"]),
];

/// The kind's registry entry.
pub static SPEC: KindSpec = KindSpec {
    name: "AWS::MemoryDB::User",
    slug: "memorydb-user",
    scope: KindScope::Regional,
    service: Some("memorydb"),
    iam_actions: &["memorydb:DescribeUsers"],
    optional_actions: OPTIONAL_ACTIONS,
    identity: &["ARN", "Name"],
    fetch: |ctx, pages| Box::pin(fetch(ctx, pages)),
    ..KindSpec::NATIVE
};

/// The optional `ListTags` call, per user ARN.
const TAGS: detail::TagsCall = detail::TagsCall {
    action: LIST_TAGS_ACTION,
    operation: "ListTags",
    input: "ResourceArn",
};

/// `DescribeUsers` page size.
const PAGE: u32 = 100;

/// Fetches every user of the unit's region, one page of raw objects per API page.
pub async fn fetch(ctx: &FetchContext<'_>, pages: &PageSender) -> Result<FetchStats, FetchError> {
    let input = json!({ "MaxResults": PAGE });
    let users = |page: &Value| detail::objects(page, "Users").to_vec();
    ctx.send_each(pages, "DescribeUsers", input, users, |user| async move {
        let tags = TAGS.about(ctx, user["ARN"].as_str()).await?;
        Ok(Some(ctx.raw(properties(&user, tags.as_ref()))))
    })
    .await
}

/// aws-v3's `Properties` of one user: the described user and, when fetched, the `TagList` of
/// the `ListTags` answer.
pub fn properties(user: &Value, tags: Option<&Value>) -> Value {
    let list = tags.map(|answer| detail::field_or(answer, "TagList", json!([])));
    detail::with_tags(user, "TagList", list)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reproduces_the_aws_v3_vector() {
        let text =
            include_str!("../../tests/vectors/aws-v3/memorydb-user/memorydb-user-raw-data.json");
        let vector: Value = serde_json::from_str(text).unwrap();
        let mut user = vector["Properties"].clone();
        let tags = user.as_object_mut().unwrap().remove("TagList").unwrap();
        let answer = json!({ "TagList": tags });
        assert_eq!(properties(&user, Some(&answer)), vector["Properties"]);
        assert!(properties(&user, None).get("TagList").is_none());
    }
}

#[cfg(test)]
mod fetch_tests {
    use super::*;
    use crate::kinds::Kind;
    use crate::test_support::fake_aws::{fetch_pages, FakeAws, Request, Response};
    use crate::test_support::TestUnit;

    const JSON: &str = "application/x-amz-json-1.1";

    fn arn(name: &str) -> String {
        format!("arn:aws:memorydb:eu-west-1:123456789012:user/{name}")
    }

    fn user(name: &str) -> Value {
        json!({"Name": name, "ARN": arn(name), "Status": "active", "AccessString": "on ~* +@all",
               "Authentication": {"Type": "no-password"}})
    }

    /// `default` and `reader` over two pages; `reader`'s tags are denied.
    fn handler(request: &Request) -> Response {
        let target = request.header("x-amz-target").unwrap_or_default();
        let body: Value = serde_json::from_str(&request.body).unwrap_or(Value::Null);
        let ok = |v: Value| (200, JSON, v.to_string());
        match target.rsplit('.').next().unwrap_or_default() {
            "DescribeUsers" if body.get("NextToken").is_none() => {
                ok(json!({"Users": [user("default")], "NextToken": "p2"}))
            }
            "DescribeUsers" => ok(json!({"Users": [user("reader")]})),
            "ListTags" if body["ResourceArn"] == arn("reader") => {
                let error = json!({"__type": "AccessDeniedException", "message": "no"});
                (400, JSON, error.to_string())
            }
            "ListTags" => ok(json!({"TagList": [{"Key": "team", "Value": "a"}]})),
            _ => (
                400,
                JSON,
                json!({"__type": "InvalidParameterValueException"}).to_string(),
            ),
        }
    }

    #[tokio::test]
    async fn pages_through_every_user_with_tags_and_warns_on_denied_tags() {
        let server = FakeAws::start(handler);
        let kind = Kind::parse("AWS::MemoryDB::User").unwrap();
        let unit = TestUnit::new(kind, "eu-west-1", server.sdk_config("eu-west-1"))
            .with_actions(&[LIST_TAGS_ACTION]);
        let (result, pages) = fetch_pages(&unit.ctx()).await;
        let stats = result.unwrap();
        assert_eq!((stats.objects, stats.api_calls), (2, 4));
        let mut expected = user("default");
        expected["TagList"] = json!([{"Key": "team", "Value": "a"}]);
        assert_eq!(pages[0][0]["Properties"], expected);
        assert_eq!(pages[1][0]["Properties"], user("reader"));
        assert_eq!(
            stats.warnings,
            [format!(
                "{}: ListTags failed with AccessDeniedException",
                arn("reader")
            )]
        );
        let first: Value = serde_json::from_str(&server.requests()[0].body).unwrap();
        assert_eq!(first["MaxResults"], json!(100));
    }

    /// MemoryDB not offered to the account here: the unit is skipped, not failed.
    #[tokio::test]
    async fn a_region_without_memorydb_is_unavailable() {
        let server = FakeAws::start(|_: &Request| {
            let error = json!({"__type": "UnrecognizedClientException", "message": "no"});
            (400, JSON, error.to_string())
        });
        let kind = Kind::parse("AWS::MemoryDB::User").unwrap();
        let unit = TestUnit::new(kind, "eu-west-1", server.sdk_config("eu-west-1"));
        let (result, pages) = fetch_pages(&unit.ctx()).await;
        assert!(
            matches!(result, Err(FetchError::Unavailable(ref u)) if u.service == "memorydb"),
            "{result:?}"
        );
        assert!(pages.is_empty());
    }
}
