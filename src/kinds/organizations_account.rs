//! `AWS::Organizations::Account` (organization scope: one unit per run, in the account of the
//! Organizations discovery role, region `global`): `ListAccounts`, one raw object per account,
//! one page per API page. Optional per account, concurrently under the kind's bound:
//! `ListParentsAction` (`Parents`, `[{Id, Type}]`) and `ListTagsForResourceAction` (`Tags`,
//! `[{Key, Value}]`).
//!
//! `Properties` is the API's `Account` as it is (`Id`, `Arn`, `Name`, `Email`, `State`, `Status`,
//! `JoinedMethod`, `JoinedTimestamp`, and any later field). Differences from aws-v3: the raw object
//! has an `__ExtraContext` (the organization account's `AccountId`, `Region` `global`,
//! `Partition`), which aws-v3 leaves out; and two bugs are fixed: aws-v3 merged parents and tags
//! by list index, so a failed or duplicated entry (`ListParents` appended twice on
//! `ResourceNotFound`) shifted every later account's data. Here each result is merged into its
//! own account; an account gone meanwhile gets no `Parents`/`Tags`, a denied call is a warning.

use super::detail;
use super::{
    FetchContext, FetchError, FetchStats, KindScope, KindSpec, OptionalAction, PageSender,
};
use futures_util::StreamExt;
use serde_json::{json, Map, Value};

/// aws-v3's name for the optional `ListParents` call.
pub const LIST_PARENTS_ACTION: &str = "ListParentsAction";
/// aws-v3's name for the optional `ListTagsForResource` call.
pub const LIST_TAGS_ACTION: &str = "ListTagsForResourceAction";

/// The aws-v3 `includeActions` of this kind.
pub const OPTIONAL_ACTIONS: &[OptionalAction] = &[
    OptionalAction::always("ListAccountsAction", &["organizations:ListAccounts"]),
    OptionalAction::optional(LIST_PARENTS_ACTION, &["organizations:ListParents"]),
    OptionalAction::optional(LIST_TAGS_ACTION, &["organizations:ListTagsForResource"]),
];

/// The kind's registry entry.
pub static SPEC: KindSpec = KindSpec {
    name: "AWS::Organizations::Account",
    slug: "organizations-account",
    scope: KindScope::Organization,
    service: Some("organizations"),
    iam_actions: &["organizations:ListAccounts"],
    optional_actions: OPTIONAL_ACTIONS,
    identity: &["Id", "Name"],
    fetch: |ctx, pages| Box::pin(fetch(ctx, pages)),
    ..KindSpec::NATIVE
};

/// `ListAccounts` page size (the API's maximum).
const PAGE: usize = 20;
/// Error codes of an account that left the organization since `ListAccounts`.
const GONE: &[&str] = &[
    "AccountNotFoundException",
    "ChildNotFoundException",
    "TargetNotFoundException",
];

/// Fetches every account of the organization.
pub async fn fetch(ctx: &FetchContext<'_>, pages: &PageSender) -> Result<FetchStats, FetchError> {
    let parents = ctx.wants(LIST_PARENTS_ACTION);
    let tags = ctx.wants(LIST_TAGS_ACTION);
    let mut listed = std::pin::pin!(ctx.pages("ListAccounts", json!({"MaxResults": PAGE})));
    while let Some(page) = listed.next().await {
        let accounts = detail::take_objects(page?, "Accounts");
        let objects = ctx
            .each(accounts, |account| async move {
                let mut details = Map::new();
                let id = account["Id"].clone();
                if parents {
                    let input = json!({"ChildId": id});
                    if let Some(found) =
                        all_pages(ctx, "ListParents", input, "Parents", &id).await?
                    {
                        details.insert("Parents".into(), found);
                    }
                }
                if tags {
                    let input = json!({"ResourceId": id});
                    if let Some(found) =
                        all_pages(ctx, "ListTagsForResource", input, "Tags", &id).await?
                    {
                        details.insert("Tags".into(), found);
                    }
                }
                Ok(ctx.raw(properties(&account, details)))
            })
            .await?;
        ctx.send(pages, objects).await?;
    }
    Ok(ctx.stats())
}

/// Every item of `key` over a per-account call's pages; `None` when the account is gone or the
/// call is denied (with a warning).
async fn all_pages(
    ctx: &FetchContext<'_>,
    operation: &'static str,
    mut input: Value,
    key: &str,
    account_id: &Value,
) -> Result<Option<Value>, FetchError> {
    let item = format!("account {}", account_id.as_str().unwrap_or_default());
    let mut items = Vec::new();
    loop {
        let Some(page) = ctx
            .optional_call(operation, input.clone(), GONE, &item)
            .await?
        else {
            return Ok(None);
        };
        items.extend(page[key].as_array().into_iter().flatten().cloned());
        match page["NextToken"].as_str() {
            Some(token) if !token.is_empty() && input["NextToken"] != json!(token) => {
                input["NextToken"] = json!(token);
            }
            _ => return Ok(Some(Value::Array(items))),
        }
    }
}

/// aws-v3's `Properties` of one account, with its optional `Parents` and `Tags`.
pub fn properties(account: &Value, details: Map<String, Value>) -> Value {
    let mut props = account.as_object().cloned().unwrap_or_default();
    props.extend(details);
    Value::Object(props)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::Kind;
    use crate::test_support::fake_aws::{fetch_pages, FakeAws, Request, Response};
    use crate::test_support::TestUnit;

    const JSON: &str = "application/x-amz-json-1.1";

    fn account(id: &str) -> Value {
        json!({"Id": id, "Arn": format!("arn:aws:organizations::111111111111:account/o-1/{id}"),
               "Name": format!("a{id}"), "Email": format!("{id}@example.com"),
               "State": "ACTIVE", "Status": "ACTIVE", "JoinedMethod": "CREATED",
               "JoinedTimestamp": "2024-03-15T08:30:00.000Z"})
    }

    /// Two `ListAccounts` pages; account `222222222222` left the organization before its
    /// `ListParents`; tags of `333333333333` come in two pages.
    fn handler(request: &Request) -> Response {
        let target = request.header("x-amz-target").unwrap_or_default();
        let body: Value = serde_json::from_str(&request.body).unwrap_or(Value::Null);
        let answer = if target.ends_with(".ListAccounts") {
            match body.get("NextToken") {
                None => {
                    json!({"Accounts": [account("111111111111"), account("222222222222")], "NextToken": "p2"})
                }
                Some(_) => json!({"Accounts": [account("333333333333")]}),
            }
        } else if target.ends_with(".ListParents") {
            if body["ChildId"] == "222222222222" {
                let error = json!({"__type": "ChildNotFoundException", "Message": "gone"});
                return (400, JSON, error.to_string());
            }
            json!({"Parents": [{"Id": format!("ou-{}", body["ChildId"].as_str().unwrap()), "Type": "ORGANIZATIONAL_UNIT"}]})
        } else if target.ends_with(".ListTagsForResource") {
            let id = body["ResourceId"].as_str().unwrap_or_default();
            match (id, body.get("NextToken")) {
                ("333333333333", None) => {
                    json!({"Tags": [{"Key": "a", "Value": "1"}], "NextToken": "t2"})
                }
                ("333333333333", Some(_)) => json!({"Tags": [{"Key": "b", "Value": "2"}]}),
                _ => json!({"Tags": []}),
            }
        } else {
            let error = json!({"__type": "InvalidInputException", "Message": "test"});
            return (400, JSON, error.to_string());
        };
        (200, JSON, answer.to_string())
    }

    async fn run(actions: &[&str]) -> (Vec<Value>, FetchStats) {
        let server = FakeAws::start(handler);
        let unit = TestUnit::new(
            Kind::parse("AWS::Organizations::Account").unwrap(),
            crate::sync::GLOBAL,
            server.sdk_config("us-east-1"),
        )
        .with_actions(actions);
        let (result, pages) = fetch_pages(&unit.ctx()).await;
        (pages.into_iter().flatten().collect(), result.unwrap())
    }

    #[tokio::test]
    async fn lists_every_account_as_the_api_returns_it() {
        let (objects, stats) = run(&[]).await;
        assert_eq!((stats.objects, stats.api_calls), (3, 2));
        assert_eq!(
            objects[0],
            json!({
                "Type": "AWS::Organizations::Account",
                "Properties": account("111111111111"),
                "__ExtraContext": {"AccountId": "123456789012", "Region": "global", "Partition": "aws"}
            })
        );
    }

    #[tokio::test]
    async fn parents_and_tags_merge_into_their_own_account() {
        let (objects, stats) = run(&[LIST_PARENTS_ACTION, LIST_TAGS_ACTION]).await;
        assert!(stats.warnings.is_empty(), "{:?}", stats.warnings);
        assert_eq!(stats.api_calls, 2 + 3 + 4);
        let props = |i: usize| &objects[i]["Properties"];
        assert_eq!(props(0)["Parents"][0]["Id"], "ou-111111111111");
        assert!(props(1).get("Parents").is_none(), "left the organization");
        assert_eq!(props(1)["Tags"], json!([]));
        assert_eq!(props(2)["Parents"][0]["Id"], "ou-333333333333");
        assert_eq!(
            props(2)["Tags"],
            json!([{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}])
        );
    }
}
