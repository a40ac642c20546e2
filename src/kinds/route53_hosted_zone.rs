//! `AWS::Route53::HostedZone` (per account, region `global`): `ListHostedZones`, one page of raw
//! objects per API page (100 zones), and `ListTagsForResources` for the page's zones by 10 (the
//! API's maximum), as `Tags`.
//!
//! `Properties` is the `HostedZone` as boto3 parses it (`Id` as Route 53 returns it,
//! `/hostedzone/Z123`; `Name` with its trailing dot; `CallerReference`, `Config` with `Comment`
//! and `PrivateZone`, `ResourceRecordSetCount`, `LinkedService`) plus `Tags` (`[{Key, Value}]`).
//! The example identifies a zone by its `Id`. A zone deleted between the listing and its tags has
//! no `Tags`.

use super::detail;
use super::{FetchContext, FetchError, FetchStats, KindScope, KindSpec, PageSender};
use futures_util::StreamExt;
use serde_json::{json, Value};
use std::collections::HashMap;

/// The kind's registry entry.
pub static SPEC: KindSpec = KindSpec {
    name: "AWS::Route53::HostedZone",
    slug: "route53-hosted-zone",
    scope: KindScope::Account,
    service: Some("route53"),
    iam_actions: &["route53:ListHostedZones", "route53:ListTagsForResources"],
    identity: &["Id", "Name"],
    fetch: |ctx, pages| Box::pin(fetch(ctx, pages)),
    ..KindSpec::NATIVE
};

/// `ListHostedZones` page size (the API's maximum; a string on the wire).
const PAGE: &str = "100";

/// `ListTagsForResources` takes at most 10 zone ids.
pub const TAG_BATCH: usize = 10;

/// Fetches every hosted zone of the unit's account, with its tags.
pub async fn fetch(ctx: &FetchContext<'_>, pages: &PageSender) -> Result<FetchStats, FetchError> {
    let mut listed = std::pin::pin!(ctx.pages("ListHostedZones", json!({ "MaxItems": PAGE })));
    while let Some(page) = listed.next().await {
        let zones = detail::take_objects(page?, "HostedZones");
        let ids: Vec<String> = zones.iter().filter_map(bare_id).collect();
        let tags = tags_by_id(ctx, &ids).await?;
        let objects = zones
            .iter()
            .map(|zone| ctx.raw(properties(zone, bare_id(zone).and_then(|id| tags.get(&id)))))
            .collect();
        ctx.send(pages, objects).await?;
    }
    Ok(ctx.stats())
}

/// A zone's id without its `/hostedzone/` prefix, as the tagging API takes and returns it.
fn bare_id(zone: &Value) -> Option<String> {
    let id = zone["Id"].as_str()?;
    Some(id.rsplit('/').next().unwrap_or(id).to_owned())
}

/// The tags of the zones `ids` by bare id, by [`TAG_BATCH`]. When a zone of a batch is gone
/// (`NoSuchHostedZone`), the batch's zones are asked one by one, and a gone zone has no tags.
async fn tags_by_id(
    ctx: &FetchContext<'_>,
    ids: &[String],
) -> Result<HashMap<String, Value>, FetchError> {
    let found = ctx
        .batched(ids, TAG_BATCH, |batch| async move {
            match list_tags(ctx, &batch).await? {
                Some(tags) => Ok(tags),
                None => {
                    let alone = ctx.each(batch, |id| async move { list_tags(ctx, &[id]).await });
                    Ok(alone.await?.into_iter().flatten().flatten().collect())
                }
            }
        })
        .await?;
    Ok(found.into_iter().collect())
}

/// One `ListTagsForResources` call: `(id, Tags)` pairs, `None` when one of `ids` is gone.
async fn list_tags(
    ctx: &FetchContext<'_>,
    ids: &[String],
) -> Result<Option<Vec<(String, Value)>>, FetchError> {
    let input = json!({ "ResourceType": "hostedzone", "ResourceIds": ids });
    let answer = match ctx.call("ListTagsForResources", input).await {
        Ok(answer) => answer,
        Err(e) if detail::is_gone(&e) => return Ok(None),
        Err(e) => return Err(e),
    };
    let pairs = detail::objects(&answer, "ResourceTagSets")
        .iter()
        .filter_map(|set| {
            let id = set["ResourceId"].as_str()?.to_owned();
            Some((id, set.get("Tags").cloned().unwrap_or_else(|| json!([]))))
        });
    Ok(Some(pairs.collect()))
}

/// The `Properties` of one zone: the API object plus its `Tags`.
pub fn properties(zone: &Value, tags: Option<&Value>) -> Value {
    let mut props = zone.as_object().cloned().unwrap_or_default();
    if let Some(tags) = tags {
        props.insert("Tags".into(), tags.clone());
    }
    Value::Object(props)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::Kind;
    use crate::test_support::fake_aws::{fetch_pages, FakeAws, Request, Response};
    use crate::test_support::TestUnit;

    const XMLNS: &str = "https://route53.amazonaws.com/doc/2013-04-01/";

    fn zone(n: usize) -> String {
        format!(
            "<HostedZone><Id>/hostedzone/Z{n}</Id><Name>z{n}.example.com.</Name>\
             <CallerReference>ref-{n}</CallerReference><Config><Comment>zone {n}</Comment>\
             <PrivateZone>false</PrivateZone></Config><ResourceRecordSetCount>2</ResourceRecordSetCount>\
             </HostedZone>"
        )
    }

    /// 12 zones on two pages; zone 5 disappears before its tags are asked for.
    fn handler(request: &Request) -> Response {
        if request.method == "GET" {
            let (range, more) = if request.target.contains("marker=Z11") {
                (11..13, "<IsTruncated>false</IsTruncated>")
            } else {
                (
                    1..11,
                    "<IsTruncated>true</IsTruncated><NextMarker>Z11</NextMarker>",
                )
            };
            let zones: String = range.map(zone).collect();
            let body = format!(
                "<ListHostedZonesResponse xmlns=\"{XMLNS}\"><HostedZones>{zones}</HostedZones>\
                 <Marker></Marker>{more}<MaxItems>100</MaxItems></ListHostedZonesResponse>"
            );
            return (200, "text/xml", body);
        }
        if request.body.contains("<ResourceId>Z5</ResourceId>") {
            let error = format!(
                "<ErrorResponse xmlns=\"{XMLNS}\"><Error><Type>Sender</Type>\
                 <Code>NoSuchHostedZone</Code><Message>No hosted zone found with ID: Z5</Message>\
                 </Error><RequestId>x</RequestId></ErrorResponse>"
            );
            return (404, "text/xml", error);
        }
        let sets: String = request
            .body
            .split("<ResourceId>")
            .skip(1)
            .filter_map(|rest| rest.split_once("</ResourceId>"))
            .map(|(id, _)| {
                format!(
                    "<ResourceTagSet><ResourceType>hostedzone</ResourceType><ResourceId>{id}</ResourceId>\
                     <Tags><Tag><Key>zone</Key><Value>{id}</Value></Tag></Tags></ResourceTagSet>"
                )
            })
            .collect();
        let body = format!(
            "<ListTagsForResourcesResponse xmlns=\"{XMLNS}\"><ResourceTagSets>{sets}</ResourceTagSets>\
             </ListTagsForResourcesResponse>"
        );
        (200, "text/xml", body)
    }

    #[tokio::test]
    async fn zones_get_their_tags_by_ten_and_a_gone_one_none() {
        let server = FakeAws::start(handler);
        let kind = Kind::parse("AWS::Route53::HostedZone").unwrap();
        let unit = TestUnit::new(kind, "global", server.sdk_config("us-east-1"));
        let (result, pages) = fetch_pages(&unit.ctx()).await;
        let stats = result.unwrap();
        // 2 listing pages; page 1: 1 failed batch of 10 + 10 single calls; page 2: 1 batch.
        assert_eq!((stats.objects, stats.api_calls), (12, 14));
        assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [10, 2]);
        let objects: Vec<Value> = pages.into_iter().flatten().collect();
        let z1 = &objects[0]["Properties"];
        assert_eq!(z1["Id"], "/hostedzone/Z1");
        assert_eq!(z1["Config"]["PrivateZone"], false);
        assert_eq!(z1["Tags"], json!([{"Key": "zone", "Value": "Z1"}]));
        assert!(objects[4]["Properties"].get("Tags").is_none());
        assert_eq!(objects[11]["Properties"]["Tags"][0]["Value"], "Z12");
        assert_eq!(objects[0]["__ExtraContext"]["Region"], "global");
        let requests = server.requests();
        assert!(requests[0].target.contains("maxitems=100"));
        let tag_calls = requests.iter().filter(|r| r.method == "POST");
        assert!(tag_calls
            .map(|r| r.body.matches("<ResourceId>").count())
            .all(|n| n <= 10));
    }
}
