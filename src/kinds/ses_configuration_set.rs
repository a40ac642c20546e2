//! `AWS::SES::ConfigurationSet` (regional, SES v2): `ListConfigurationSets`, then
//! `GetConfigurationSet` per set (at most the unit's call bound at once), one raw object per set.
//!
//! `Properties` is the `GetConfigurationSet` output as boto3 parses it (`ConfigurationSetName`,
//! `DeliveryOptions`, `SendingOptions`, `Tags` as `[{Key, Value}]`, ...), as aws-v3 has it; fields
//! aws-v3's model drops (`ArchivingOptions`, newer ones) are kept (additive).
//!
//! Differences from aws-v3, which are bug fixes: a set whose `GetConfigurationSet` fails is
//! reported as a warning (the unit then deletes nothing) instead of being skipped silently; a set
//! deleted between the two calls (`NotFoundException`) is gone, not missing data. As in aws-v3,
//! the identifier is the bare name, so sets of the same name in two regions or accounts are one
//! entity in Port.

use super::{FetchContext, FetchError, FetchStats, KindScope, KindSpec, PageSender};
use serde_json::{json, Value};

/// The kind's registry entry.
pub static SPEC: KindSpec = KindSpec {
    name: "AWS::SES::ConfigurationSet",
    slug: "ses-configuration-set",
    scope: KindScope::Regional,
    service: Some("sesv2"),
    iam_actions: &["ses:ListConfigurationSets", "ses:GetConfigurationSet"],
    identity: &["ConfigurationSetName"],
    fetch: |ctx, pages| Box::pin(fetch(ctx, pages)),
    ..KindSpec::NATIVE
};

/// `ListConfigurationSets` page size (the API's maximum).
const PAGE: u32 = 1000;

/// Fetches every configuration set of the unit's region, one page of raw objects per listing
/// page. SES v2 has no botocore paginator, so the `NextToken` loop is here.
pub async fn fetch(ctx: &FetchContext<'_>, pages: &PageSender) -> Result<FetchStats, FetchError> {
    let mut token: Option<String> = None;
    loop {
        let mut input = json!({"PageSize": PAGE});
        if let Some(t) = &token {
            input["NextToken"] = json!(t);
        }
        let page = ctx.call("ListConfigurationSets", input).await?;
        let names = names(&page);
        let described = ctx.each(names, |name| describe(ctx, name)).await?;
        ctx.send(pages, described.into_iter().flatten().collect())
            .await?;
        let next = page["NextToken"].as_str().filter(|t| !t.is_empty());
        if next.is_some() && next == token.as_deref() {
            return Err(FetchError::Aws {
                operation: "ListConfigurationSets",
                message: "the service returned the same NextToken twice".to_owned(),
                code: None,
            });
        }
        match next {
            Some(next) => token = Some(next.to_owned()),
            None => return Ok(ctx.stats()),
        }
    }
}

/// The set names of a listing page.
pub fn names(page: &Value) -> Vec<String> {
    page["ConfigurationSets"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| n.as_str().map(str::to_owned))
        .collect()
}

/// The raw object of one set; `None` when it is gone or could not be read (a warning).
async fn describe(ctx: &FetchContext<'_>, name: String) -> Result<Option<Value>, FetchError> {
    let input = json!({"ConfigurationSetName": name});
    match ctx.call("GetConfigurationSet", input).await {
        Ok(set) => Ok(Some(ctx.raw(set))),
        Err(FetchError::Aws { code, message, .. }) => {
            if code.as_deref() == Some("NotFoundException") {
                tracing::debug!(
                    region = ctx.region,
                    "configuration set deleted while listing"
                );
            } else {
                ctx.warn(format!("GetConfigurationSet failed for {name}: {message}"));
            }
            Ok(None)
        }
        Err(other) => Err(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::Kind;
    use crate::test_support::fake_aws::{fetch_pages, FakeAws, Request, Response};
    use crate::test_support::TestUnit;

    const JSON: &str = "application/json";

    /// Two listing pages; `gone` was deleted, `denied` cannot be read.
    fn handler(request: &Request) -> Response {
        let body: Value = serde_json::from_str(&request.body).unwrap_or(Value::Null);
        if request.target == "/v2/email/list-configuration-sets" {
            let page = if body["NextToken"] == "p2" {
                json!({"ConfigurationSets": ["gone", "denied"]})
            } else {
                json!({"ConfigurationSets": ["transactional"], "NextToken": "p2"})
            };
            return (200, JSON, page.to_string());
        }
        let error = |status: u16, code: &str| {
            let body = json!({"__type": code, "message": "test"});
            (status, JSON, body.to_string())
        };
        match request.target.rsplit('/').next().unwrap_or_default() {
            "gone" => error(404, "NotFoundException"),
            "denied" => error(403, "AccessDeniedException"),
            name => {
                let set = json!({
                    "ConfigurationSetName": name,
                    "DeliveryOptions": {"TlsPolicy": "REQUIRE"},
                    "SendingOptions": {"SendingEnabled": true},
                    "Tags": [{"Key": "Team", "Value": "mail"}],
                    "ArchivingOptions": {}
                });
                (200, JSON, set.to_string())
            }
        }
    }

    #[tokio::test]
    async fn gets_each_set_and_warns_about_unreadable_ones() {
        let server = FakeAws::start(handler);
        let kind = Kind::parse("AWS::SES::ConfigurationSet").unwrap();
        let unit = TestUnit::new(kind, "eu-west-1", server.sdk_config("eu-west-1"));
        let (result, pages) = fetch_pages(&unit.ctx()).await;
        let stats = result.unwrap();
        assert_eq!((stats.objects, stats.api_calls), (1, 5));
        assert_eq!(stats.warnings.len(), 1, "{:?}", stats.warnings);
        assert!(stats.warnings[0].starts_with("GetConfigurationSet failed for denied"));
        assert_eq!(
            pages[0][0],
            json!({
                "Type": "AWS::SES::ConfigurationSet",
                "Properties": {
                    "ConfigurationSetName": "transactional",
                    "DeliveryOptions": {"TlsPolicy": "REQUIRE"},
                    "SendingOptions": {"SendingEnabled": true},
                    "Tags": [{"Key": "Team", "Value": "mail"}],
                    "ArchivingOptions": {}
                },
                "__ExtraContext": {"AccountId": "123456789012", "Region": "eu-west-1", "Partition": "aws"}
            })
        );
    }

    #[tokio::test]
    async fn a_repeated_token_fails_the_fetch() {
        let server = FakeAws::start(|_: &Request| {
            let page = json!({"ConfigurationSets": [], "NextToken": "same"});
            (200, JSON, page.to_string())
        });
        let kind = Kind::parse("AWS::SES::ConfigurationSet").unwrap();
        let unit = TestUnit::new(kind, "eu-west-1", server.sdk_config("eu-west-1"));
        let (result, _) = fetch_pages(&unit.ctx()).await;
        assert!(matches!(
            result,
            Err(FetchError::Aws {
                operation: "ListConfigurationSets",
                ..
            })
        ));
    }
}
