//! `AWS::KMS::Key` (regional): `ListKeys`, then per key (concurrently, under the unit's bound)
//! `DescribeKey`, and for customer managed keys `ListResourceTags`.
//!
//! `Properties` is the key's `KeyMetadata` as KMS returns it (`Arn`, `KeyId`, `KeyState`,
//! `KeyManager`, `KeyUsage`, `KeySpec`, `CreationDate`, ...) plus, for customer managed keys,
//! `Tags` as KMS gives them (`[{TagKey, TagValue}]`). AWS managed keys cannot carry tags, so no
//! tag call is made for them. A key deleted between the listing and `DescribeKey` is left out; a
//! denied tag call leaves `Tags` out with a warning (the unit then deletes nothing).

use super::detail;
use super::{FetchContext, FetchError, FetchStats, KindScope, KindSpec, PageSender};
use futures_util::StreamExt;
use serde_json::{json, Map, Value};

/// The kind's registry entry.
pub static SPEC: KindSpec = KindSpec {
    name: "AWS::KMS::Key",
    slug: "kms-key",
    scope: KindScope::Regional,
    service: Some("kms"),
    iam_actions: &["kms:ListKeys", "kms:DescribeKey", "kms:ListResourceTags"],
    identity: &["Arn", "KeyId"],
    fetch: |ctx, pages| Box::pin(fetch(ctx, pages)),
    ..KindSpec::NATIVE
};

/// `ListKeys` page size (the API's maximum).
const PAGE: u32 = 1000;

/// Fetches every key of the unit's region, one page of raw objects per `ListKeys` page.
pub async fn fetch(ctx: &FetchContext<'_>, pages: &PageSender) -> Result<FetchStats, FetchError> {
    let mut listed = std::pin::pin!(ctx.pages("ListKeys", json!({ "Limit": PAGE })));
    while let Some(page) = listed.next().await {
        let ids: Vec<String> = detail::objects(&page?, "Keys")
            .iter()
            .filter_map(|k| k["KeyArn"].as_str().or(k["KeyId"].as_str()))
            .map(str::to_owned)
            .collect();
        let keys = ctx.each(ids, |id| key(ctx, id)).await?;
        ctx.send(pages, keys.into_iter().flatten().collect())
            .await?;
    }
    Ok(ctx.stats())
}

/// The raw object of one key; `None` when it was deleted since `ListKeys`.
async fn key(ctx: &FetchContext<'_>, id: String) -> Result<Option<Value>, FetchError> {
    let item = format!("KMS key {id}");
    let input = json!({ "KeyId": id });
    let Some(described) = detail::about(ctx, "DescribeKey", input, &item).await? else {
        return Ok(None);
    };
    let metadata = &described["KeyMetadata"];
    let tags = if is_customer_managed(metadata) {
        let input = json!({ "KeyId": id, "Limit": 50 });
        detail::optional(ctx, "ListResourceTags", input, &item)
            .await?
            .map(|t| t.get("Tags").cloned().unwrap_or_else(|| json!([])))
    } else {
        None
    };
    Ok(Some(ctx.raw(properties(metadata, tags))))
}

/// Whether the key is customer managed (only those can carry tags).
fn is_customer_managed(metadata: &Value) -> bool {
    metadata["KeyManager"] == "CUSTOMER"
}

/// The `Properties` of one key: its metadata and, when fetched, its tags.
pub fn properties(metadata: &Value, tags: Option<Value>) -> Value {
    let mut props: Map<String, Value> = metadata.as_object().cloned().unwrap_or_default();
    if let Some(tags) = tags {
        props.insert("Tags".into(), tags);
    }
    Value::Object(props)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::Kind;
    use crate::test_support::fake_aws::{fetch_pages, FakeAws, Request, Response};
    use crate::test_support::TestUnit;

    const JSON: &str = "application/x-amz-json-1.1";
    const ARN: &str = "arn:aws:kms:eu-west-1:123456789012:key/";

    fn vector() -> Value {
        let text = include_str!("../../tests/vectors/aws-v3/kms-key/kms-key-raw-data.json");
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn properties_are_the_metadata_and_the_tags() {
        let raw = vector();
        let mut metadata = raw["Properties"].clone();
        let tags = metadata.as_object_mut().unwrap().remove("Tags");
        assert_eq!(properties(&metadata, tags), raw["Properties"]);
        assert!(properties(&json!({"KeyId": "k"}), None)
            .get("Tags")
            .is_none());
    }

    fn error(status: u16, code: &str) -> Response {
        let body = json!({"__type": code, "message": "test"});
        (status, JSON, body.to_string())
    }

    /// Two listing pages: `cmk` (customer managed), `aws` (AWS managed), `gone` (deleted since
    /// listed) and `locked` (customer managed, tags denied).
    fn handler(request: &Request) -> Response {
        let target = request.header("x-amz-target").unwrap_or_default();
        let body: Value = serde_json::from_str(&request.body).unwrap_or(Value::Null);
        let id = body["KeyId"].as_str().unwrap_or_default();
        let name = id.rsplit('/').next().unwrap_or_default();
        let entry = |n: &str| json!({"KeyId": n, "KeyArn": format!("{ARN}{n}")});
        match target.rsplit('.').next().unwrap_or_default() {
            "ListKeys" if body.get("Marker").is_none() => {
                let page = json!({"Keys": [entry("cmk"), entry("aws")], "NextMarker": "m", "Truncated": true});
                (200, JSON, page.to_string())
            }
            "ListKeys" => {
                let page = json!({"Keys": [entry("gone"), entry("locked")], "Truncated": false});
                (200, JSON, page.to_string())
            }
            "DescribeKey" if name == "gone" => error(400, "NotFoundException"),
            "DescribeKey" => {
                let manager = if name == "aws" { "AWS" } else { "CUSTOMER" };
                let metadata = json!({"KeyId": name, "Arn": id, "KeyManager": manager,
                                      "KeyState": "Enabled", "CreationDate": 1.7e9});
                (200, JSON, json!({ "KeyMetadata": metadata }).to_string())
            }
            "ListResourceTags" if name == "locked" => error(400, "AccessDeniedException"),
            "ListResourceTags" => {
                let tags =
                    json!({"Tags": [{"TagKey": "team", "TagValue": name}], "Truncated": false});
                (200, JSON, tags.to_string())
            }
            _ => error(400, "InvalidAction"),
        }
    }

    #[tokio::test]
    async fn describes_every_key_and_tags_only_customer_managed_ones() {
        let server = FakeAws::start(handler);
        let kind = Kind::parse("AWS::KMS::Key").unwrap();
        let unit = TestUnit::new(kind, "eu-west-1", server.sdk_config("eu-west-1"));
        let (result, pages) = fetch_pages(&unit.ctx()).await;
        let stats = result.unwrap();
        assert_eq!(stats.objects, 3);
        assert_eq!(
            stats.api_calls, 8,
            "2 ListKeys + 4 DescribeKey + 2 ListResourceTags"
        );
        assert_eq!(
            stats.warnings,
            [format!(
                "KMS key {ARN}locked: ListResourceTags failed with AccessDeniedException"
            )]
        );
        let objects: Vec<&Value> = pages.iter().flatten().collect();
        assert_eq!(
            objects[0]["Properties"]["Tags"],
            json!([{"TagKey": "team", "TagValue": "cmk"}])
        );
        assert_eq!(objects[0]["Properties"]["Arn"], format!("{ARN}cmk"));
        assert!(
            objects[1]["Properties"].get("Tags").is_none(),
            "AWS managed"
        );
        assert_eq!(objects[2]["Properties"]["KeyId"], "locked");
        assert!(objects[2]["Properties"].get("Tags").is_none());
        assert_eq!(
            objects[0]["__ExtraContext"],
            json!({"AccountId": "123456789012", "Region": "eu-west-1", "Partition": "aws"})
        );
    }

    #[tokio::test]
    async fn a_failing_describe_fails_the_fetch() {
        let server = FakeAws::start(|request: &Request| {
            if request.body.contains("/cmk") {
                return error(400, "KMSInvalidStateException");
            }
            handler(request)
        });
        let kind = Kind::parse("AWS::KMS::Key").unwrap();
        let unit = TestUnit::new(kind, "eu-west-1", server.sdk_config("eu-west-1"));
        let (result, _) = fetch_pages(&unit.ctx()).await;
        match result {
            Err(FetchError::Aws { operation, .. }) => assert_eq!(operation, "DescribeKey"),
            other => panic!("expected a DescribeKey failure, got {other:?}"),
        }
    }
}
