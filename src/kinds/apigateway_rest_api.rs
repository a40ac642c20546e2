//! `AWS::ApiGateway::RestApi` (regional): `GetRestApis`, one raw object per REST API, one page per
//! API page (500 APIs, the API's maximum; `position` continues).
//!
//! `Properties` is the `RestApi` as boto3 parses it (`id`, `name`, `description`, `createdDate`,
//! `version`, `apiKeySource`, `endpointConfiguration`, `binaryMediaTypes`,
//! `disableExecuteApiEndpoint`, `rootResourceId`, `policy` as API Gateway returns it (an escaped
//! JSON string), `tags` as a map): the call returns the tags. API Gateway returns no ARN; the
//! example builds the identifier `arn:{partition}:apigateway:{region}::/restapis/{id}` (the
//! REST API's ARN as IAM and tagging name it) from `__ExtraContext` and `id`.

use super::fetch::as_is;
use super::{FetchContext, FetchError, FetchStats, KindScope, KindSpec, PageSender};
use serde_json::json;

/// The kind's registry entry.
pub static SPEC: KindSpec = KindSpec {
    name: "AWS::ApiGateway::RestApi",
    slug: "apigateway-rest-api",
    scope: KindScope::Regional,
    service: Some("apigateway"),
    iam_actions: &["apigateway:GET"],
    identity: &["id", "name"],
    fetch: |ctx, pages| Box::pin(fetch(ctx, pages)),
    ..KindSpec::NATIVE
};

/// `GetRestApis` page size (the API's maximum).
const PAGE: u32 = 500;

/// Fetches every REST API of the unit's region, with its tags.
pub async fn fetch(ctx: &FetchContext<'_>, pages: &PageSender) -> Result<FetchStats, FetchError> {
    ctx.send_listed(
        pages,
        "GetRestApis",
        json!({ "limit": PAGE }),
        "items",
        as_is,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::Kind;
    use crate::test_support::fake_aws::{fetch_pages, FakeAws, Request, Response};
    use crate::test_support::TestUnit;
    use serde_json::Value;

    fn api(id: &str) -> Value {
        json!({
            "id": id, "name": format!("api-{id}"), "createdDate": 1710491400,
            "apiKeySource": "HEADER", "endpointConfiguration": {"types": ["REGIONAL"]},
            "tags": {"team": "orders"}, "disableExecuteApiEndpoint": false
        })
    }

    /// Two pages (`position`), REST-JSON.
    fn handler(request: &Request) -> Response {
        let body = if request.target.contains("position=p2") {
            json!({ "item": [api("c")] })
        } else {
            json!({ "item": [api("a"), api("b")], "position": "p2" })
        };
        (200, "application/json", body.to_string())
    }

    #[tokio::test]
    async fn lists_every_rest_api_with_its_tags_page_by_page() {
        let server = FakeAws::start(handler);
        let kind = Kind::parse("AWS::ApiGateway::RestApi").unwrap();
        let unit = TestUnit::new(kind, "eu-west-1", server.sdk_config("eu-west-1"));
        let (result, pages) = fetch_pages(&unit.ctx()).await;
        let stats = result.unwrap();
        assert_eq!((stats.objects, stats.api_calls), (3, 2));
        assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [2, 1]);
        let a = &pages[0][0]["Properties"];
        assert_eq!(a["id"], "a");
        assert_eq!(a["tags"], json!({"team": "orders"}));
        assert_eq!(a["endpointConfiguration"]["types"], json!(["REGIONAL"]));
        assert_eq!(a["createdDate"], "2024-03-15T08:30:00.000Z");
        let first = &server.requests()[0];
        assert!(first.target.starts_with("/restapis") && first.target.contains("limit=500"));
    }
}
