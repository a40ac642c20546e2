//! `AWS::IAM::Role` (per account, region `global`): `ListRoles`, one raw object per role, one page
//! per API page.
//!
//! `Properties` is the role as `ListRoles` returns it (`RoleName`, `RoleId`, `Arn`, `Path`,
//! `CreateDate`, `Description`, `MaxSessionDuration`, `AssumeRolePolicyDocument` as a JSON object,
//! as boto3 gives it). `ListRoles` returns neither tags nor `RoleLastUsed` (only `GetRole` per
//! role does), so they are not fetched: an account holds hundreds of roles and IAM's request rate
//! is low. The trust policy is what a catalog needs to answer "who can assume this role".

use super::fetch::as_is;
use super::{FetchContext, FetchError, FetchStats, KindScope, KindSpec, PageSender};
use serde_json::json;

/// The kind's registry entry.
pub static SPEC: KindSpec = KindSpec {
    name: "AWS::IAM::Role",
    slug: "iam-role",
    scope: KindScope::Account,
    service: Some("iam"),
    iam_actions: &["iam:ListRoles"],
    identity: &["Arn", "RoleName"],
    fetch: |ctx, pages| Box::pin(fetch(ctx, pages)),
    ..KindSpec::NATIVE
};

/// `ListRoles` page size (the API's maximum).
const PAGE: u32 = 1000;

/// Fetches every role of the unit's account.
pub async fn fetch(ctx: &FetchContext<'_>, pages: &PageSender) -> Result<FetchStats, FetchError> {
    ctx.send_listed(
        pages,
        "ListRoles",
        json!({ "MaxItems": PAGE }),
        "Roles",
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

    const XML: &str = "text/xml";

    fn role(name: &str) -> String {
        let trust = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%5D%7D";
        format!(
            "<member><Path>/</Path><RoleName>{name}</RoleName><RoleId>AROA{name}</RoleId>\
             <Arn>arn:aws:iam::123456789012:role/{name}</Arn>\
             <CreateDate>2024-03-15T08:30:00Z</CreateDate>\
             <AssumeRolePolicyDocument>{trust}</AssumeRolePolicyDocument>\
             <MaxSessionDuration>3600</MaxSessionDuration></member>"
        )
    }

    /// Two pages (`Marker`), the IAM query protocol's XML.
    fn handler(request: &Request) -> Response {
        let (roles, more) = if request.body.contains("Marker=") {
            (role("reader"), "<IsTruncated>false</IsTruncated>")
        } else {
            (
                format!("{}{}", role("admin"), role("deployer")),
                "<IsTruncated>true</IsTruncated><Marker>m2</Marker>",
            )
        };
        let body = format!(
            "<ListRolesResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">\
             <ListRolesResult><Roles>{roles}</Roles>{more}</ListRolesResult>\
             <ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></ListRolesResponse>"
        );
        (200, XML, body)
    }

    #[tokio::test]
    async fn lists_every_role_with_its_trust_policy_as_an_object() {
        let server = FakeAws::start(handler);
        let kind = Kind::parse("AWS::IAM::Role").unwrap();
        let unit = TestUnit::new(kind, "global", server.sdk_config("us-east-1"));
        let (result, pages) = fetch_pages(&unit.ctx()).await;
        let stats = result.unwrap();
        assert_eq!((stats.objects, stats.api_calls), (3, 2));
        assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [2, 1]);
        let reader = &pages[1][0];
        assert_eq!(reader["Type"], "AWS::IAM::Role");
        let p = &reader["Properties"];
        assert_eq!(p["Arn"], "arn:aws:iam::123456789012:role/reader");
        assert_eq!(p["MaxSessionDuration"], 3600);
        assert_eq!(
            p["AssumeRolePolicyDocument"],
            json!({"Version": "2012-10-17", "Statement": []})
        );
        assert_eq!(reader["__ExtraContext"]["Region"], "global");
        let first = &server.requests()[0].body;
        assert!(first.contains("Action=ListRoles") && first.contains("MaxItems=1000"));
    }
}
