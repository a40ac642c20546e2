//! The per-kind boilerplate, once: the [`FetchContext`] a kind's fetch receives, with the
//! model-driven client of the kind's service ([`crate::aws::api`]), paging, bounded per-item
//! calls, batching, call counting, warnings, error mapping, the history window, the raw object
//! and page sending.
//!
//! The region policy a fetch filters with (S3 buckets outside it are skipped) is the configured
//! one, set by [`FetchContext::new`] from the [`Config`]: a caller narrowing a run to some
//! regions cannot hand a unit a narrower policy, which would make objects in the other regions
//! look stale.

use super::unavailable::{self, Unavailable};
use super::Kind;
use crate::aws::api::error::is_access_denied_code;
use crate::aws::api::xml_parts::XmlOutput;
use crate::aws::api::{ApiError, AwsApi, ServiceClient};
use crate::config::{Config, RegionPolicy};
use crate::discovery::Account;
use futures_util::{Stream, StreamExt, TryStreamExt};
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::BTreeSet;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, SystemTime};
use tokio::sync::mpsc;

/// What one fetch did, for the unit's report.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct FetchStats {
    /// Raw objects sent downstream.
    pub objects: usize,
    /// AWS API calls made.
    pub api_calls: usize,
    /// Missing data (e.g. AccessDenied on one optional call of one bucket): the objects are sent
    /// without it, and the unit is incomplete for deletion.
    pub warnings: Vec<String>,
}

impl FetchStats {
    /// Adds what another part of the fetch did.
    pub fn merge(&mut self, other: FetchStats) {
        self.objects += other.objects;
        self.api_calls += other.api_calls;
        self.warnings.extend(other.warnings);
    }
}

/// Pages of raw objects flow to the mapper through this channel, so a unit never holds a whole
/// account in memory.
pub type PageSender = mpsc::Sender<Vec<Value>>;

/// A failed fetch: the unit is incomplete and must not delete anything.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// An AWS call failed after retries.
    #[error("{operation} failed: {message}")]
    Aws {
        operation: &'static str,
        /// AWS's error code and message (see [`crate::aws_error::explain`]).
        message: String,
        /// The service's error code when known (`AccessDenied`, `RequestLimitExceeded`, ...).
        code: Option<String>,
    },
    /// The service is not available in the region, or not enabled for the account: the unit is
    /// skipped (not a failure) and deletes nothing.
    #[error(transparent)]
    Unavailable(#[from] Unavailable),
    /// The consumer of the pages went away (the unit was cancelled).
    #[error("the unit was cancelled while fetching")]
    Cancelled,
}

impl FetchError {
    /// Wraps an SDK error: its code, and its code and message in words (the full cause chain is
    /// logged at debug level).
    pub fn aws<E>(operation: &'static str, err: E) -> Self
    where
        E: std::error::Error + aws_smithy_types::error::metadata::ProvideErrorMetadata + 'static,
    {
        let reason = crate::aws_error::explain(&err);
        FetchError::Aws {
            operation,
            code: reason.code.clone(),
            message: reason.to_string(),
        }
    }

    /// Wraps an error of the model-driven client; an unavailable service becomes
    /// [`FetchError::Unavailable`].
    pub fn api(service: &str, operation: &'static str, err: ApiError) -> Self {
        if let Some(unavailable) = unavailable::classify(service, &err) {
            return FetchError::Unavailable(unavailable);
        }
        tracing::debug!(error = %err, "AWS call failed");
        let reason = crate::aws_error::AwsReason::from_api(&err);
        FetchError::Aws {
            operation,
            code: reason.code.clone(),
            message: reason.to_string(),
        }
    }
}

/// Sends one page of raw objects downstream.
pub async fn send_page(pages: &PageSender, page: Vec<Value>) -> Result<(), FetchError> {
    if page.is_empty() {
        return Ok(());
    }
    pages.send(page).await.map_err(|_| FetchError::Cancelled)
}

/// Builds the aws-v3 raw object `{"Type", "Properties", "__ExtraContext"}`.
pub fn raw_object(kind: Kind, properties: Value, extra: Map<String, Value>) -> Value {
    let mut obj = Map::with_capacity(3);
    obj.insert("Type".into(), Value::String(kind.name().into()));
    obj.insert("Properties".into(), properties);
    obj.insert("__ExtraContext".into(), Value::Object(extra));
    Value::Object(obj)
}

/// Which regions' objects an account-scoped fetch keeps: the configured policy, and the regions
/// the mapping's `selector.regionPolicy` wants for the kind.
pub type RegionFilter = dyn Fn(&str) -> bool + Send + Sync;

/// The default `selector.historyDays` of history kinds.
pub const DEFAULT_HISTORY_DAYS: u32 = 7;
/// Items kept per parent (a project, a pipeline) of a history kind.
pub const HISTORY_ITEMS_PER_PARENT: usize = 100;

/// Everything a kind's fetch needs for one unit `(account, region, kind)`.
pub struct FetchContext<'a> {
    pub kind: Kind,
    pub account: &'a Account,
    /// The unit's region; `global` for account-scoped kinds.
    pub region: &'a str,
    /// SDK config with the account's credentials, the unit's region (the partition's home region
    /// for account-scoped kinds) and any endpoint override.
    pub sdk: &'a aws_config::SdkConfig,
    /// Upper bound on concurrent per-resource calls.
    pub concurrency: usize,
    api: &'a AwsApi,
    actions: &'a BTreeSet<String>,
    regions: Box<RegionFilter>,
    history_days: u32,
    client: OnceLock<ServiceClient>,
    calls: AtomicUsize,
    objects: AtomicUsize,
    warnings: Mutex<Vec<String>>,
}

/// The parts of a [`FetchContext`] that come from the unit.
pub struct UnitParts<'a> {
    pub kind: Kind,
    pub account: &'a Account,
    pub region: &'a str,
    pub sdk: &'a aws_config::SdkConfig,
    /// Enabled optional actions (aws-v3 `includeActions` names).
    pub actions: &'a BTreeSet<String>,
    /// The regions the mapping wants for the kind (`selector.regionPolicy`).
    pub mapping_regions: Box<RegionFilter>,
    /// `selector.historyDays` for history kinds.
    pub history_days: u32,
}

impl<'a> FetchContext<'a> {
    /// The context of one unit: the region filter is the configured policy (and the mapping's),
    /// never one a caller passes.
    pub fn new(config: &Config, api: &'a AwsApi, unit: UnitParts<'a>) -> FetchContext<'a> {
        let policy: RegionPolicy = config.region_policy.clone();
        let mapping = unit.mapping_regions;
        FetchContext {
            kind: unit.kind,
            account: unit.account,
            region: unit.region,
            sdk: unit.sdk,
            concurrency: config.concurrency.per_unit_calls.max(1),
            api,
            actions: unit.actions,
            regions: Box::new(move |r| policy.allows(r) && mapping(r)),
            history_days: unit.history_days,
            client: OnceLock::new(),
            calls: AtomicUsize::new(0),
            objects: AtomicUsize::new(0),
            warnings: Mutex::new(Vec::new()),
        }
    }

    /// A context without a [`Config`], for tests.
    #[cfg(test)]
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn for_test(
        kind: Kind,
        account: &'a Account,
        region: &'a str,
        sdk: &'a aws_config::SdkConfig,
        api: &'a AwsApi,
        actions: &'a BTreeSet<String>,
        regions: Box<RegionFilter>,
        concurrency: usize,
        history_days: u32,
    ) -> FetchContext<'a> {
        FetchContext {
            kind,
            account,
            region,
            sdk,
            concurrency,
            api,
            actions,
            regions,
            history_days,
            client: OnceLock::new(),
            calls: AtomicUsize::new(0),
            objects: AtomicUsize::new(0),
            warnings: Mutex::new(Vec::new()),
        }
    }

    /// The 12-digit account id.
    pub fn account_id(&self) -> &str {
        &self.account.id
    }

    /// `aws`, `aws-us-gov` or `aws-cn`.
    pub fn partition(&self) -> &str {
        &self.account.partition
    }

    /// Whether the mapping asked for an optional action, or aws-v3 makes it by default.
    pub fn wants(&self, action: &str) -> bool {
        self.actions.contains(action)
            || self
                .kind
                .spec()
                .and_then(|s| s.action(action))
                .is_some_and(|a| a.default)
    }

    /// Whether objects in `region` are kept (account-scoped kinds with regional objects).
    pub fn region_allowed(&self, region: &str) -> bool {
        (self.regions)(region)
    }

    /// Where a history kind's window starts: `selector.historyDays` before now.
    pub fn history_since(&self) -> SystemTime {
        let days = u64::from(self.history_days);
        SystemTime::now() - Duration::from_secs(days * 86_400)
    }

    /// The region the unit's calls go to (the partition's home region for account-scoped kinds).
    pub fn call_region(&self) -> String {
        match self.sdk.region() {
            Some(r) if self.region == crate::sync::GLOBAL => r.to_string(),
            _ => self.region.to_owned(),
        }
    }

    /// The client of `service` for the unit's account and region.
    pub fn client_for(&self, service: &str) -> Result<ServiceClient, FetchError> {
        self.api
            .client(service, self.sdk, &self.call_region())
            .map_err(|e| FetchError::api(service, "client", e))
    }

    /// The client of the kind's own service.
    fn client(&self) -> Result<&ServiceClient, FetchError> {
        if let Some(client) = self.client.get() {
            return Ok(client);
        }
        let service = self.service();
        let client = self.client_for(service)?;
        Ok(self.client.get_or_init(|| client))
    }

    fn service(&self) -> &'static str {
        self.kind.spec().and_then(|s| s.service).unwrap_or("")
    }

    /// One call of the kind's service, counted; errors mapped.
    pub async fn call(&self, operation: &'static str, input: Value) -> Result<Value, FetchError> {
        let client = self.client()?;
        self.calls.fetch_add(1, Ordering::Relaxed);
        client
            .call(operation, input)
            .await
            .map_err(|e| FetchError::api(self.service(), operation, e))
    }

    /// The pages of a paginated call of the kind's service (the service's paginator; a repeated
    /// token ends the stream with an error), each counted.
    pub fn pages(
        &self,
        operation: &'static str,
        input: Value,
    ) -> impl Stream<Item = Result<Value, FetchError>> + Send + '_ {
        let service = self.service();
        let pages = match self.client() {
            Ok(client) => client
                .pages(operation, input)
                .map(move |page| page.map_err(|e| FetchError::api(service, operation, e)))
                .left_stream(),
            Err(e) => futures_util::stream::once(async move { Err(e) }).right_stream(),
        };
        pages.inspect(move |_| {
            self.calls.fetch_add(1, Ordering::Relaxed);
        })
    }

    /// [`FetchContext::pages`] with each page kept as XML text, read part by part by the
    /// caller ([`ServiceClient::pages_xml`]); `list` is the output's large list member.
    pub fn pages_xml(
        &self,
        operation: &'static str,
        input: Value,
        list: &'static str,
    ) -> impl Stream<Item = Result<XmlOutput, FetchError>> + Send + '_ {
        let service = self.service();
        let pages = match self.client() {
            Ok(client) => client
                .pages_xml(operation, input, list)
                .map(move |page| page.map_err(|e| FetchError::api(service, operation, e)))
                .left_stream(),
            Err(e) => futures_util::stream::once(async move { Err(e) }).right_stream(),
        };
        pages.inspect(move |_| {
            self.calls.fetch_add(1, Ordering::Relaxed);
        })
    }

    /// The whole fetch of a kind whose list call returns complete objects: every page of
    /// `operation`, the objects under `key` each moved out of the page through `properties`
    /// ([`as_is`] to keep them as they are), one page of raw objects sent per API page.
    pub async fn send_listed(
        &self,
        pages: &PageSender,
        operation: &'static str,
        input: Value,
        key: &str,
        properties: fn(Value) -> Value,
    ) -> Result<FetchStats, FetchError> {
        let mut listed = std::pin::pin!(self.pages(operation, input));
        while let Some(page) = listed.next().await {
            let objects = super::detail::take_objects(page?, key)
                .into_iter()
                .map(|item| self.raw(properties(item)))
                .collect();
            self.send(pages, objects).await?;
        }
        Ok(self.stats())
    }

    /// The whole fetch of a list-then-describe kind: every page of `operation`, the items
    /// `items` reads from each page, each through `describe` (at most
    /// [`FetchContext::concurrency`] at once; `None` leaves the item out, e.g. one deleted since
    /// it was listed), one page of raw objects sent per API page.
    pub async fn send_each<T, I, F, Fut>(
        &self,
        pages: &PageSender,
        operation: &'static str,
        input: Value,
        items: I,
        describe: F,
    ) -> Result<FetchStats, FetchError>
    where
        I: Fn(&Value) -> Vec<T>,
        F: Fn(T) -> Fut,
        Fut: Future<Output = Result<Option<Value>, FetchError>>,
    {
        let mut listed = std::pin::pin!(self.pages(operation, input));
        while let Some(page) = listed.next().await {
            let found = self.each(items(&page?), &describe).await?;
            self.send(pages, found.into_iter().flatten().collect())
                .await?;
        }
        Ok(self.stats())
    }

    /// The whole fetch of an EC2 `Describe*` kind whose objects are the raw `Properties` as the
    /// API gives them: every page of `operation` (at the API's largest page, whose presence
    /// makes the call paginated), the objects under `key`. A page of up to 1,000 objects is
    /// large: it takes a place in the page budget ([`crate::memory`]) before it is asked for, is
    /// kept as its XML text ([`crate::aws::api::xml_parts`]), and its objects are read one at a
    /// time and sent in parts of [`DESCRIBED_PART`], each taken downstream before the next is
    /// read.
    pub async fn send_described(
        &self,
        pages: &PageSender,
        operation: &'static str,
        key: &'static str,
    ) -> Result<FetchStats, FetchError> {
        let input = serde_json::json!({ "MaxResults": EC2_PAGE });
        let unreadable = |message| unreadable(operation, message);
        let mut listed = std::pin::pin!(self.pages_xml(operation, input, key));
        loop {
            let permit = crate::memory::page_permit().await;
            let Some(page) = listed.next().await else {
                break;
            };
            let page = page?;
            let mut part = Vec::new();
            for item in page.parse().and_then(|o| o.list(key)).map_err(unreadable)? {
                part.push(self.raw(as_is(item.read().map_err(unreadable)?)));
                if part.len() == DESCRIBED_PART {
                    self.send(pages, std::mem::take(&mut part)).await?;
                }
            }
            self.send(pages, part).await?;
            drop(permit);
        }
        Ok(self.stats())
    }

    /// Runs `f` on every item, at most [`FetchContext::concurrency`] at once, results in the
    /// items' order; the first error ends it.
    pub async fn each<T, R, F, Fut>(&self, items: Vec<T>, f: F) -> Result<Vec<R>, FetchError>
    where
        F: Fn(T) -> Fut,
        Fut: Future<Output = Result<R, FetchError>>,
    {
        futures_util::stream::iter(items)
            .map(f)
            .buffered(self.concurrency)
            .try_collect()
            .await
    }

    /// Runs `f` on chunks of at most `size` items (BatchGet and Describe-by-N APIs), at most
    /// [`FetchContext::concurrency`] chunks at once, results flattened in order.
    pub async fn batched<T, R, F, Fut>(
        &self,
        items: &[T],
        size: usize,
        f: F,
    ) -> Result<Vec<R>, FetchError>
    where
        T: Clone,
        F: Fn(Vec<T>) -> Fut,
        Fut: Future<Output = Result<Vec<R>, FetchError>>,
    {
        let chunks: Vec<Vec<T>> = items.chunks(size.max(1)).map(<[T]>::to_vec).collect();
        let done = self.each(chunks, f).await?;
        Ok(done.into_iter().flatten().collect())
    }

    /// A per-item call whose answer is optional data: `Ok(None)` when AWS answers one of
    /// `absent` (the item has no such configuration) or access is denied (then with a warning,
    /// so the unit deletes nothing); any other error fails the fetch.
    pub async fn optional_call(
        &self,
        operation: &'static str,
        input: Value,
        absent: &[&str],
        item: &str,
    ) -> Result<Option<Value>, FetchError> {
        match self.call(operation, input).await {
            Ok(answer) => Ok(Some(answer)),
            Err(FetchError::Aws {
                code: Some(code), ..
            }) if absent.contains(&code.as_str()) => Ok(None),
            Err(FetchError::Aws {
                code: Some(code),
                message,
                ..
            }) if is_access_denied_code(&code) => {
                self.warn(format!("{item}: {operation} failed: {message}"));
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Counts calls made without the helpers.
    pub fn count_calls(&self, n: usize) {
        self.calls.fetch_add(n, Ordering::Relaxed);
    }

    /// Records missing data: the unit still upserts what it has, and deletes nothing.
    pub fn warn(&self, warning: String) {
        tracing::warn!(account_id = %self.account.id, region = self.region, kind = %self.kind, "{warning}");
        match self.warnings.lock() {
            Ok(mut w) => w.push(warning),
            Err(poisoned) => poisoned.into_inner().push(warning),
        }
    }

    /// The `__ExtraContext` of an object of the unit in `region`.
    pub fn extra(&self, region: &str) -> Map<String, Value> {
        extra_context(self, region)
    }

    /// The raw object of `properties` in the unit's region.
    pub fn raw(&self, properties: Value) -> Value {
        raw_object(self.kind, properties, self.extra(self.region))
    }

    /// Sends one page of raw objects downstream, counted.
    pub async fn send(&self, pages: &PageSender, page: Vec<Value>) -> Result<(), FetchError> {
        self.objects.fetch_add(page.len(), Ordering::Relaxed);
        send_page(pages, page).await
    }

    /// What the helpers counted: calls, objects sent, warnings.
    pub fn stats(&self) -> FetchStats {
        let warnings = match self.warnings.lock() {
            Ok(w) => w.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        FetchStats {
            objects: self.objects.load(Ordering::Relaxed),
            api_calls: self.calls.load(Ordering::Relaxed),
            warnings,
        }
    }
}

/// The page size of EC2's `Describe*` calls (their maximum): passing it makes them paginated.
pub const EC2_PAGE: u32 = 1000;

/// The objects of a [`FetchContext::send_described`] page sent downstream at once: a multiple of
/// Port's 20 entities per bulk request, so the parts cost no extra request.
pub const DESCRIBED_PART: usize = 100;

/// An API object as the raw `Properties`, as it is (`{}` for anything but an object).
pub fn as_is(object: Value) -> Value {
    match object {
        Value::Object(_) => object,
        _ => Value::Object(Map::new()),
    }
}

/// An answer of `operation` that arrived but could not be read (broken XML, say): the unit
/// fails with the reason.
pub fn unreadable(operation: &'static str, message: String) -> FetchError {
    FetchError::Aws {
        operation,
        message: format!("the answer could not be read: {message}"),
        code: None,
    }
}

/// The `__ExtraContext` every regional object carries.
pub fn extra_context(ctx: &FetchContext<'_>, region: &str) -> Map<String, Value> {
    let mut extra = Map::new();
    extra.insert("AccountId".into(), Value::String(ctx.account.id.clone()));
    extra.insert("Region".into(), Value::String(region.into()));
    extra.insert(
        "Partition".into(),
        Value::String(ctx.account.partition.clone()),
    );
    extra
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::api::ApiOptions;
    use crate::config::Config;

    fn config(region_policy: &str) -> Config {
        let policy = region_policy.to_owned();
        Config::from_lookup(move |key| (key == "REGION_POLICY").then(|| policy.clone())).unwrap()
    }

    /// Whatever regions a run is narrowed to, an account-scoped unit keeps the objects of every
    /// region the configuration allows (narrowing must not make them look stale): the filter is
    /// built from the configuration, and no caller can pass another policy.
    #[test]
    fn the_region_filter_is_the_configured_policy_and_the_mapping() {
        let config = config(r#"{"allow": ["us-east-1", "eu-west-1"]}"#);
        let api = AwsApi::new(ApiOptions::default()).unwrap();
        let account = Account::bare("123456789012", "aws", None);
        let sdk = aws_config::SdkConfig::builder().build();
        let actions = BTreeSet::new();
        let ctx = FetchContext::new(
            &config,
            &api,
            UnitParts {
                kind: Kind::S3Bucket,
                account: &account,
                region: crate::sync::GLOBAL,
                sdk: &sdk,
                actions: &actions,
                mapping_regions: Box::new(|r: &str| r != "us-east-1"),
                history_days: DEFAULT_HISTORY_DAYS,
            },
        );
        assert!(ctx.region_allowed("eu-west-1"));
        assert!(!ctx.region_allowed("us-east-1"), "the mapping excludes it");
        assert!(
            !ctx.region_allowed("ap-south-1"),
            "the configuration excludes it"
        );
    }

    #[test]
    fn default_actions_are_always_wanted() {
        let unit = crate::test_support::TestUnit::new(
            Kind::S3Bucket,
            "global",
            aws_config::SdkConfig::builder().build(),
        )
        .with_actions(&["GetBucketEncryptionAction"]);
        let ctx = unit.ctx();
        assert!(ctx.wants("GetBucketTaggingAction"));
        assert!(ctx.wants("GetBucketEncryptionAction"));
        assert!(!ctx.wants("GetBucketOwnershipControlsAction"));
    }

    #[tokio::test]
    async fn batched_keeps_order_and_counts_warnings() {
        let unit = crate::test_support::TestUnit::new(
            Kind::Ec2Instance,
            "us-east-1",
            aws_config::SdkConfig::builder().build(),
        );
        let ctx = unit.ctx();
        let items: Vec<u32> = (0..25).collect();
        let out = ctx
            .batched(&items, 10, |chunk| async move { Ok(vec![chunk.len(); 1]) })
            .await
            .unwrap();
        assert_eq!(out, [10, 10, 5]);
        ctx.warn("one".into());
        assert_eq!(ctx.stats().warnings, ["one"]);
    }
}
