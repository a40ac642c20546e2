//! `AWS::CloudFront::Distribution` (per account, region `global`): `ListDistributions`, one page of
//! raw objects per API page (100 distributions); with `ListTagsForResourceAction` (off by default:
//! one call per distribution), `ListTagsForResource` per distribution → `Tags`.
//!
//! `Properties` is the `DistributionSummary` as boto3 parses it (`Id`, `ARN`, `Status`,
//! `LastModifiedTime`, `DomainName`, `Aliases`, `Origins`, `DefaultCacheBehavior`, `Comment`,
//! `PriceClass`, `Enabled`, `ViewerCertificate`, `WebACLId`, `HttpVersion`, ...; CloudFront's lists
//! keep their `{Quantity, Items}` form) plus, when fetched, `Tags` as `[{Key, Value}]` (the
//! answer's `Tags.Items`). The example identifies a distribution by its `ARN`.

use super::detail;
use super::{
    FetchContext, FetchError, FetchStats, KindScope, KindSpec, OptionalAction, PageSender,
};
use futures_util::StreamExt;
use serde_json::{json, Value};

/// The optional `ListTagsForResource` call per distribution.
pub const LIST_TAGS_ACTION: &str = "ListTagsForResourceAction";

/// The `includeActions` of this kind.
pub const OPTIONAL_ACTIONS: &[OptionalAction] = &[OptionalAction::optional(
    LIST_TAGS_ACTION,
    &["cloudfront:ListTagsForResource"],
)];

/// The kind's registry entry.
pub static SPEC: KindSpec = KindSpec {
    name: "AWS::CloudFront::Distribution",
    slug: "cloudfront-distribution",
    scope: KindScope::Account,
    service: Some("cloudfront"),
    iam_actions: &["cloudfront:ListDistributions"],
    optional_actions: OPTIONAL_ACTIONS,
    identity: &["ARN", "Id"],
    fetch: |ctx, pages| Box::pin(fetch(ctx, pages)),
    ..KindSpec::NATIVE
};

/// `ListDistributions` page size (the API's maximum; a string on the wire).
const PAGE: &str = "100";

/// Fetches every distribution of the unit's account (and, when asked, its tags).
pub async fn fetch(ctx: &FetchContext<'_>, pages: &PageSender) -> Result<FetchStats, FetchError> {
    let with_tags = ctx.wants(LIST_TAGS_ACTION);
    let mut listed = std::pin::pin!(ctx.pages("ListDistributions", json!({ "MaxItems": PAGE })));
    while let Some(page) = listed.next().await {
        let page = page?;
        let items = detail::objects(&page["DistributionList"], "Items").to_vec();
        let objects = ctx
            .each(items, |item| async move {
                let tags = match item["ARN"].as_str() {
                    Some(arn) if with_tags => tags(ctx, arn).await?,
                    _ => None,
                };
                Ok(ctx.raw(properties(&item, tags)))
            })
            .await?;
        ctx.send(pages, objects).await?;
    }
    Ok(ctx.stats())
}

/// One distribution's tags; `None` when it is gone (`NoSuchResource`) or the role may not list
/// them (then with a warning, so the unit deletes nothing).
async fn tags(ctx: &FetchContext<'_>, arn: &str) -> Result<Option<Value>, FetchError> {
    let input = json!({ "Resource": arn });
    let answer = detail::optional(ctx, "ListTagsForResource", input, arn).await?;
    Ok(answer.map(|a| a["Tags"].get("Items").cloned().unwrap_or_else(|| json!([]))))
}

/// The `Properties` of one distribution: its summary plus, when fetched, `Tags`.
pub fn properties(summary: &Value, tags: Option<Value>) -> Value {
    let mut props = summary.as_object().cloned().unwrap_or_default();
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

    const XMLNS: &str = "http://cloudfront.amazonaws.com/doc/2020-05-31/";
    const ARN: &str = "arn:aws:cloudfront::111111111111:distribution/";

    fn summary(id: &str) -> String {
        format!(
            "<DistributionSummary><Id>{id}</Id><ARN>{ARN}{id}</ARN><Status>Deployed</Status>\
             <DomainName>{id}.cloudfront.net</DomainName><Aliases><Quantity>1</Quantity>\
             <Items><CNAME>{id}.example.com</CNAME></Items></Aliases><Comment>{id}</Comment>\
             <Enabled>true</Enabled></DistributionSummary>"
        )
    }

    /// Two pages (`Marker`); `E2` is gone before its tags are asked for.
    fn handler(request: &Request) -> Response {
        if request.target.contains("/tagging") {
            if request.target.contains("E2") {
                let error = format!(
                    "<ErrorResponse xmlns=\"{XMLNS}\"><Error><Type>Sender</Type>\
                     <Code>NoSuchResource</Code><Message>gone</Message></Error>\
                     <RequestId>x</RequestId></ErrorResponse>"
                );
                return (404, "text/xml", error);
            }
            let body = format!(
                "<Tags xmlns=\"{XMLNS}\"><Items><Tag><Key>team</Key><Value>web</Value></Tag></Items></Tags>"
            );
            return (200, "text/xml", body);
        }
        let (items, more) = if request.target.contains("Marker=E2") {
            (summary("E3"), "<IsTruncated>false</IsTruncated>")
        } else {
            (
                format!("{}{}", summary("E1"), summary("E2")),
                "<IsTruncated>true</IsTruncated><NextMarker>E2</NextMarker>",
            )
        };
        let body = format!(
            "<DistributionList xmlns=\"{XMLNS}\"><Marker></Marker><MaxItems>100</MaxItems>{more}\
             <Quantity>2</Quantity><Items>{items}</Items></DistributionList>"
        );
        (200, "text/xml", body)
    }

    #[tokio::test]
    async fn lists_distributions_without_tags_by_default() {
        let server = FakeAws::start(handler);
        let kind = Kind::parse("AWS::CloudFront::Distribution").unwrap();
        let unit = TestUnit::new(kind, "global", server.sdk_config("us-east-1"));
        let (result, pages) = fetch_pages(&unit.ctx()).await;
        let stats = result.unwrap();
        assert_eq!((stats.objects, stats.api_calls), (3, 2));
        let e1 = &pages[0][0]["Properties"];
        assert_eq!(e1["ARN"], format!("{ARN}E1"));
        assert_eq!(e1["Aliases"]["Items"], json!(["E1.example.com"]));
        assert_eq!(e1["Enabled"], true);
        assert!(e1.get("Tags").is_none());
        assert!(server.requests()[0].target.contains("MaxItems=100"));
    }

    #[tokio::test]
    async fn lists_each_distributions_tags_when_asked() {
        let server = FakeAws::start(handler);
        let kind = Kind::parse("AWS::CloudFront::Distribution").unwrap();
        let unit = TestUnit::new(kind, "global", server.sdk_config("us-east-1"))
            .with_actions(&[LIST_TAGS_ACTION]);
        let (result, pages) = fetch_pages(&unit.ctx()).await;
        let stats = result.unwrap();
        assert_eq!((stats.objects, stats.api_calls), (3, 5));
        let objects: Vec<Value> = pages.into_iter().flatten().collect();
        assert_eq!(
            objects[0]["Properties"]["Tags"],
            json!([{"Key": "team", "Value": "web"}])
        );
        assert!(objects[1]["Properties"].get("Tags").is_none());
        assert_eq!(objects[2]["Properties"]["Tags"][0]["Key"], "team");
    }
}
