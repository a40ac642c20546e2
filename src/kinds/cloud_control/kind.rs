//! A Cloud Control type as a kind: the unit's fetch through [`super::fetch()`], with the
//! process's per-account-region rate bound, its pages as raw objects. A type the region does
//! not serve skips the unit (nothing fetched, nothing deleted).

use super::error::CloudControlError;
use super::fetch::{fetch, FetchOptions};
use super::rate::{RateLimit, RateLimits};
use crate::kinds::unavailable::Unavailable;
use crate::kinds::{FetchContext, FetchError, FetchStats, PageSender};
use futures_util::StreamExt;
use std::sync::OnceLock;

/// The process's rate bounds, one bucket per account and region, shared by every Cloud Control
/// kind synced there.
fn limits() -> &'static RateLimits {
    static LIMITS: OnceLock<RateLimits> = OnceLock::new();
    LIMITS.get_or_init(|| RateLimits::new(RateLimit::default()))
}

/// Fetches every resource of the unit's Cloud Control type, one page of raw objects per
/// `ListResources` page.
pub async fn fetch_kind(
    ctx: &FetchContext<'_>,
    pages: &PageSender,
) -> Result<FetchStats, FetchError> {
    let Some(cc_type) = ctx.kind.cloud_control_type() else {
        return Ok(ctx.stats());
    };
    let unavailable = |reason: String| Unavailable {
        service: format!("Cloud Control type {}", cc_type.name),
        region: ctx.region.to_owned(),
        reason,
    };
    if cc_type.in_region(ctx.region) == Some(false) {
        return Err(unavailable("the type does not exist in the region".into()).into());
    }
    let client = ctx.client_for("cloudcontrol")?;
    let bucket = limits().bucket(ctx.account_id(), ctx.region);
    let options = FetchOptions {
        read_concurrency: ctx.concurrency,
        ..FetchOptions::default()
    };
    let mut stream = std::pin::pin!(fetch(&client, bucket, cc_type, options));
    while let Some(page) = stream.next().await {
        let page = match page {
            Ok(page) => page,
            Err(CloudControlError::TypeNotAvailable { code, .. }) => {
                return Err(unavailable(code).into())
            }
            Err(e) => {
                return Err(FetchError::Aws {
                    operation: "ListResources",
                    message: e.to_string(),
                    code: None,
                })
            }
        };
        ctx.count_calls(1 + page.reads);
        let objects = page.properties.into_iter().map(|p| ctx.raw(p)).collect();
        ctx.send(pages, objects).await?;
    }
    Ok(ctx.stats())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::Kind;
    use crate::test_support::fake_aws::{fetch_pages, FakeAws, Request, Response};
    use crate::test_support::TestUnit;
    use serde_json::{json, Value};

    const JSON: &str = "application/x-amz-json-1.0";

    fn log_groups(_: &Request) -> Response {
        let page = json!({
            "TypeName": "AWS::Logs::LogGroup",
            "ResourceDescriptions": [
                {"Identifier": "app", "Properties": "{\"LogGroupName\":\"app\",\"RetentionInDays\":7}"},
                {"Identifier": "web", "Properties": "{\"LogGroupName\":\"web\",\"RetentionInDays\":30}"}
            ]
        });
        (200, JSON, page.to_string())
    }

    async fn run(server: &FakeAws) -> (Result<FetchStats, FetchError>, Vec<Vec<Value>>) {
        let kind = Kind::resolve("AWS::Logs::LogGroup").unwrap();
        let unit = TestUnit::new(kind, "us-east-1", server.sdk_config("us-east-1"));
        fetch_pages(&unit.ctx()).await
    }

    #[tokio::test]
    async fn a_cloud_control_kind_sends_aws_v3_raw_objects() {
        let server = FakeAws::start(log_groups);
        let (result, pages) = run(&server).await;
        let stats = result.unwrap();
        assert_eq!((stats.objects, stats.api_calls), (2, 1));
        assert_eq!(
            pages[0][1],
            json!({
                "Type": "AWS::Logs::LogGroup",
                "Properties": {"LogGroupName": "web", "RetentionInDays": 30},
                "__ExtraContext": {"AccountId": "123456789012", "Region": "us-east-1", "Partition": "aws"}
            })
        );
        let target = server.requests()[0]
            .header("x-amz-target")
            .map(str::to_owned);
        assert_eq!(target.as_deref(), Some("CloudApiService.ListResources"));
    }

    #[tokio::test]
    async fn a_type_the_region_does_not_serve_skips_the_unit() {
        let server = FakeAws::start(|_: &Request| {
            let error = json!({"__type": "TypeNotFoundException", "Message": "not here"});
            (400, JSON, error.to_string())
        });
        match run(&server).await.0 {
            Err(FetchError::Unavailable(u)) => assert_eq!(u.reason, "TypeNotFoundException"),
            other => panic!("expected the unit to be skipped, got {other:?}"),
        }
    }
}
