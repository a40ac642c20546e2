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
