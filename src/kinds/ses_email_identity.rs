//! `AWS::SES::EmailIdentity` (regional, SES v2): `ListEmailIdentities`, then `GetEmailIdentity`
//! per identity (at most the unit's call bound at once), one raw object per identity.
//!
//! `Properties` is `{"EmailIdentity": <name>}` plus the `GetEmailIdentity` output as boto3 parses
//! it (`IdentityType`, `DkimAttributes`, `Policies`, `Tags` as `[{Key, Value}]`, ...). aws-v3 keeps
//! a fixed list of keys; the API's other fields (`VerificationStatus`, `VerificationInfo`) are
//! kept here too (additive).
//!
//! Differences from aws-v3, which are bug fixes: an identity whose `GetEmailIdentity` fails is
//! reported as a warning (the unit then deletes nothing) instead of being sent as an empty object;
//! an identity deleted between the two calls (`NotFoundException`) is gone, not missing data.
//! As in aws-v3, the identifier is the bare identity name, so the same identity in two regions or
//! accounts is one entity in Port.

use super::{FetchContext, FetchError, FetchStats, KindScope, KindSpec, PageSender};
use serde_json::{json, Map, Value};

/// The kind's registry entry.
pub static SPEC: KindSpec = KindSpec {
    name: "AWS::SES::EmailIdentity",
    slug: "ses-email-identity",
    scope: KindScope::Regional,
    service: Some("sesv2"),
    iam_actions: &["ses:ListEmailIdentities", "ses:GetEmailIdentity"],
    identity: &["EmailIdentity"],
    fetch: |ctx, pages| Box::pin(fetch(ctx, pages)),
    ..KindSpec::NATIVE
};

/// `ListEmailIdentities` page size (the API's maximum).
const PAGE: u32 = 1000;

/// Fetches every identity of the unit's region, one page of raw objects per listing page. SES v2
/// has no botocore paginator, so the `NextToken` loop is here.
pub async fn fetch(ctx: &FetchContext<'_>, pages: &PageSender) -> Result<FetchStats, FetchError> {
    let mut token: Option<String> = None;
    loop {
        let mut input = json!({"PageSize": PAGE});
        if let Some(t) = &token {
            input["NextToken"] = json!(t);
        }
        let page = ctx.call("ListEmailIdentities", input).await?;
        let names: Vec<String> = page["EmailIdentities"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|i| i["IdentityName"].as_str().map(str::to_owned))
            .collect();
        let described = ctx.each(names, |name| describe(ctx, name)).await?;
        ctx.send(pages, described.into_iter().flatten().collect())
            .await?;
        token = next_token(&page, token.as_deref())?;
        if token.is_none() {
            return Ok(ctx.stats());
        }
    }
}

/// The raw object of one identity; `None` when it is gone or could not be read (a warning).
async fn describe(ctx: &FetchContext<'_>, name: String) -> Result<Option<Value>, FetchError> {
    match ctx
        .call("GetEmailIdentity", json!({"EmailIdentity": name}))
        .await
    {
        Ok(identity) => Ok(Some(ctx.raw(properties(&name, &identity)))),
        Err(FetchError::Aws { code, message, .. }) => {
            if code.as_deref() == Some("NotFoundException") {
                tracing::debug!(region = ctx.region, "email identity deleted while listing");
            } else {
                ctx.warn(format!("GetEmailIdentity failed for {name}: {message}"));
            }
            Ok(None)
        }
        Err(other) => Err(other),
    }
}

/// The listing's next token; a token seen just before is an error rather than a loop.
fn next_token(page: &Value, previous: Option<&str>) -> Result<Option<String>, FetchError> {
    let next = page["NextToken"].as_str().filter(|t| !t.is_empty());
    if next.is_some() && next == previous {
        return Err(FetchError::Aws {
            operation: "ListEmailIdentities",
            message: "the service returned the same NextToken twice".to_owned(),
            code: None,
        });
    }
    Ok(next.map(str::to_owned))
}

/// aws-v3's `Properties` of one identity: its name, then what `GetEmailIdentity` returned.
pub fn properties(name: &str, identity: &Value) -> Value {
    let mut map = Map::new();
    map.insert("EmailIdentity".into(), Value::String(name.to_owned()));
    for (key, value) in identity.as_object().into_iter().flatten() {
        map.entry(key.clone()).or_insert_with(|| value.clone());
    }
    Value::Object(map)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::Kind;
    use crate::test_support::fake_aws::{fetch_pages, FakeAws, Request, Response};
    use crate::test_support::TestUnit;

    const JSON: &str = "application/json";

    #[test]
    fn the_name_comes_first_and_the_api_fields_follow() {
        let got = properties(
            "example.com",
            &json!({"IdentityType": "DOMAIN", "Tags": [{"Key": "Team", "Value": "mail"}]}),
        );
        assert_eq!(
            got,
            json!({
                "EmailIdentity": "example.com",
                "IdentityType": "DOMAIN",
                "Tags": [{"Key": "Team", "Value": "mail"}]
            })
        );
    }

    /// Two listing pages; `gone.example.com` was deleted, `denied.example.com` cannot be read.
    fn handler(request: &Request) -> Response {
        let body: Value = serde_json::from_str(&request.body).unwrap_or(Value::Null);
        if request.target == "/v2/email/list-identities" {
            let page = if body["NextToken"] == "p2" {
                json!({"EmailIdentities": [{"IdentityName": "gone.example.com"}, {"IdentityName": "denied.example.com"}]})
            } else {
                json!({"EmailIdentities": [{"IdentityName": "a.example.com", "IdentityType": "DOMAIN"}], "NextToken": "p2"})
            };
            return (200, JSON, page.to_string());
        }
        let name = request.target.rsplit('/').next().unwrap_or_default();
        match name {
            "gone.example.com" => error(404, "NotFoundException"),
            "denied.example.com" => error(403, "AccessDeniedException"),
            _ => {
                let identity = json!({
                    "IdentityType": "DOMAIN",
                    "VerifiedForSendingStatus": false,
                    "DkimAttributes": {"SigningEnabled": false, "Status": "NOT_STARTED"},
                    "Policies": {},
                    "Tags": [{"Key": "Team", "Value": "mail"}],
                    "VerificationStatus": "PENDING"
                });
                (200, JSON, identity.to_string())
            }
        }
    }

    /// A rest-json error: the code in the body's `__type`.
    fn error(status: u16, code: &str) -> Response {
        let body = json!({"__type": code, "message": "test"});
        (status, JSON, body.to_string())
    }

    #[tokio::test]
    async fn gets_each_identity_and_warns_about_unreadable_ones() {
        let server = FakeAws::start(handler);
        let kind = Kind::parse("AWS::SES::EmailIdentity").unwrap();
        let unit = TestUnit::new(kind, "eu-west-1", server.sdk_config("eu-west-1"));
        let (result, pages) = fetch_pages(&unit.ctx()).await;
        let stats = result.unwrap();
        assert_eq!((stats.objects, stats.api_calls), (1, 5));
        assert_eq!(stats.warnings.len(), 1, "{:?}", stats.warnings);
        assert!(stats.warnings[0].starts_with("GetEmailIdentity failed for denied.example.com"));
        let a = &pages[0][0];
        assert_eq!(a["Type"], "AWS::SES::EmailIdentity");
        assert_eq!(a["Properties"]["EmailIdentity"], "a.example.com");
        assert_eq!(a["Properties"]["DkimAttributes"]["Status"], "NOT_STARTED");
        assert_eq!(a["Properties"]["VerificationStatus"], "PENDING");
        assert_eq!(a["__ExtraContext"]["Region"], "eu-west-1");
        let list: Value = serde_json::from_str(&server.requests()[0].body).unwrap();
        assert_eq!(list["PageSize"], 1000);
    }

    #[test]
    fn a_repeated_token_is_an_error() {
        let page = json!({"NextToken": "t"});
        assert!(next_token(&page, Some("t")).is_err());
        assert_eq!(next_token(&page, None).unwrap().as_deref(), Some("t"));
        assert_eq!(next_token(&json!({}), Some("t")).unwrap(), None);
    }
}
