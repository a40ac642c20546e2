//! `AWS::SecretsManager::Secret` (regional): `ListSecrets`, one raw object per secret, one page
//! per API page. Metadata only: the kind never calls `GetSecretValue` (nor asks for the
//! permission), so no secret value can reach the catalog.
//!
//! `Properties` is the `SecretListEntry` as Secrets Manager returns it (`ARN`, `Name`,
//! `Description`, `KmsKeyId`, `RotationEnabled`, `RotationRules`, `LastChangedDate`,
//! `CreatedDate`, `PrimaryRegion`, `OwningService`, `Tags` as `[{Key, Value}]`, ...), with the
//! version ids of `SecretVersionsToStages` left out: they change on every rotation and say
//! nothing a catalog needs, so keeping them would rewrite the entity at each rotation. Secrets
//! scheduled for deletion are listed as Secrets Manager lists them by default (not at all).

use super::{FetchContext, FetchError, FetchStats, KindScope, KindSpec, PageSender};
use serde_json::{json, Value};

/// The kind's registry entry.
pub static SPEC: KindSpec = KindSpec {
    name: "AWS::SecretsManager::Secret",
    slug: "secretsmanager-secret",
    scope: KindScope::Regional,
    service: Some("secretsmanager"),
    iam_actions: &["secretsmanager:ListSecrets"],
    identity: &["ARN", "Name"],
    fetch: |ctx, pages| Box::pin(fetch(ctx, pages)),
    ..KindSpec::NATIVE
};

/// `ListSecrets` page size (the API's maximum).
const PAGE: u32 = 100;

/// Keys of a list entry that are not kept.
const LEFT_OUT: &[&str] = &["SecretVersionsToStages"];

/// Fetches every secret's metadata in the unit's region.
pub async fn fetch(ctx: &FetchContext<'_>, pages: &PageSender) -> Result<FetchStats, FetchError> {
    ctx.send_listed(
        pages,
        "ListSecrets",
        json!({ "MaxResults": PAGE }),
        "SecretList",
        properties,
    )
    .await
}

/// The `Properties` of one secret: its list entry without the version ids.
pub fn properties(entry: Value) -> Value {
    let Value::Object(mut props) = entry else {
        return Value::Object(serde_json::Map::new());
    };
    props.retain(|key, _| !LEFT_OUT.contains(&key.as_str()));
    Value::Object(props)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::Kind;
    use crate::test_support::fake_aws::{fetch_pages, FakeAws, Request, Response};
    use crate::test_support::TestUnit;

    const JSON: &str = "application/x-amz-json-1.1";

    fn vector() -> Value {
        let text = include_str!(
            "../../tests/vectors/aws-v3/secretsmanager-secret/secretsmanager-secret-raw-data.json"
        );
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn properties_are_the_list_entry_without_version_ids() {
        let mut entry = vector()["Properties"].clone();
        entry["SecretVersionsToStages"] = json!({"v-1": ["AWSCURRENT"]});
        assert_eq!(properties(entry), vector()["Properties"]);
    }

    fn secret(name: &str) -> Value {
        json!({"ARN": format!("arn:aws:secretsmanager:eu-west-1:123456789012:secret:{name}-AbCdEf"),
               "Name": name, "Tags": [{"Key": "team", "Value": name}],
               "SecretVersionsToStages": {"v": ["AWSCURRENT"]}})
    }

    /// Two listing pages; anything but `ListSecrets` is refused.
    fn handler(request: &Request) -> Response {
        let target = request.header("x-amz-target").unwrap_or_default();
        let body: Value = serde_json::from_str(&request.body).unwrap_or(Value::Null);
        if target != "secretsmanager.ListSecrets" {
            let error = json!({"__type": "AccessDeniedException", "message": "no"});
            return (400, JSON, error.to_string());
        }
        let page = if body["NextToken"] == "p2" {
            json!({"SecretList": [secret("db")]})
        } else {
            json!({"SecretList": [secret("api"), secret("ci")], "NextToken": "p2"})
        };
        (200, JSON, page.to_string())
    }

    #[tokio::test]
    async fn lists_every_secret_with_its_tags_and_only_lists() {
        let server = FakeAws::start(handler);
        let kind = Kind::parse("AWS::SecretsManager::Secret").unwrap();
        let unit = TestUnit::new(kind, "eu-west-1", server.sdk_config("eu-west-1"));
        let (result, pages) = fetch_pages(&unit.ctx()).await;
        let stats = result.unwrap();
        assert_eq!((stats.objects, stats.api_calls), (3, 2));
        assert!(stats.warnings.is_empty(), "{:?}", stats.warnings);
        assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [2, 1]);
        let db = &pages[1][0];
        assert_eq!(db["Type"], "AWS::SecretsManager::Secret");
        assert_eq!(
            db["Properties"]["Tags"],
            json!([{"Key": "team", "Value": "db"}])
        );
        assert!(db["Properties"].get("SecretVersionsToStages").is_none());
        assert_eq!(db["__ExtraContext"]["Region"], "eu-west-1");
        let first: Value = serde_json::from_str(&server.requests()[0].body).unwrap();
        assert_eq!(first["MaxResults"], json!(100));
    }

    #[test]
    fn never_asks_for_secret_values() {
        assert!(SPEC
            .all_iam_actions()
            .all(|a| a == "secretsmanager:ListSecrets"));
    }
}
