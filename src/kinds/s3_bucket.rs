//! `AWS::S3::Bucket` (account-scoped): one `ListBuckets` per account, then per bucket, in the
//! bucket's region, `GetBucketTagging` and the optional configuration calls the mapping asked for.
//!
//! `Properties`: `BucketName`, `Arn`, `CreationDate`, `BucketRegion`, `Tags` and, when asked for,
//! `LocationConstraint`, `BucketEncryption`, `PublicAccessBlockConfiguration`, `OwnershipControls`
//! (boto3's shapes). `__ExtraContext.Region` is the bucket's region.

use super::live::{self, str_at};
use super::raw::{object, ToRaw};
use super::{
    extra_context, raw_object, send_page, FetchContext, FetchError, FetchStats, Kind, KindScope,
    KindSpec, LiveSpec, OptionalAction, PageSender, Refreshed,
};
use crate::aws::{home_region, s3_client};
use crate::{raw_enum, raw_struct};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::types as s3;
use futures_util::StreamExt;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

/// aws-v3's name for the optional `GetBucketLocation` call (`LocationConstraint`).
pub const GET_BUCKET_LOCATION_ACTION: &str = "GetBucketLocationAction";
/// aws-v3's name for the optional `GetBucketEncryption` call (`BucketEncryption`).
pub const GET_BUCKET_ENCRYPTION_ACTION: &str = "GetBucketEncryptionAction";
/// aws-v3's name for the optional `GetPublicAccessBlock` call (`PublicAccessBlockConfiguration`).
pub const GET_PUBLIC_ACCESS_BLOCK_ACTION: &str = "GetPublicAccessBlockAction";
/// aws-v3's name for the optional `GetBucketOwnershipControls` call (`OwnershipControls`).
pub const GET_BUCKET_OWNERSHIP_CONTROLS_ACTION: &str = "GetBucketOwnershipControlsAction";

/// The optional calls of this kind (aws-v3 `includeActions`), after the two aws-v3 always makes.
pub const OPTIONAL_ACTIONS: &[OptionalAction] = &[
    OptionalAction::always("ListBucketsAction", &["s3:ListAllMyBuckets"]),
    OptionalAction::always("GetBucketTaggingAction", &["s3:GetBucketTagging"]),
    OptionalAction::optional(GET_BUCKET_LOCATION_ACTION, &["s3:GetBucketLocation"]),
    OptionalAction::optional(
        GET_BUCKET_ENCRYPTION_ACTION,
        &["s3:GetEncryptionConfiguration"],
    ),
    OptionalAction::optional(
        GET_PUBLIC_ACCESS_BLOCK_ACTION,
        &["s3:GetBucketPublicAccessBlock"],
    )
    .aka(&["GetBucketPublicAccessBlockAction"]),
    OptionalAction::optional(
        GET_BUCKET_OWNERSHIP_CONTROLS_ACTION,
        &["s3:GetBucketOwnershipControls"],
    ),
];

/// The kind's registry entry.
pub static SPEC: KindSpec = KindSpec {
    name: "AWS::S3::Bucket",
    slug: "s3-bucket",
    scope: KindScope::Account,
    service: Some("s3"),
    iam_actions: &["s3:ListAllMyBuckets", "s3:GetBucketTagging"],
    optional_actions: OPTIONAL_ACTIONS,
    identity: &["Arn", "BucketName"],
    fetch: |ctx, pages| Box::pin(fetch(ctx, pages)),
    live: Some(&LIVE),
    ..KindSpec::NATIVE
};

/// Live events: the bucket-level calls that create, delete, tag or change what the kind reads
/// (CloudTrail management events of `s3.amazonaws.com`).
pub static LIVE: LiveSpec = LiveSpec {
    source: "aws.s3",
    api_calls: &[
        "CreateBucket",
        "DeleteBucket",
        "PutBucketTagging",
        "DeleteBucketTagging",
        "PutBucketEncryption",
        "DeleteBucketEncryption",
        "PutBucketPublicAccessBlock",
        "DeleteBucketPublicAccessBlock",
        "PutBucketOwnershipControls",
        "DeleteBucketOwnershipControls",
    ],
    service_events: &[],
    ids: event_ids,
    refresh: |ctx, ids, pages| Box::pin(refresh(ctx, ids, pages)),
};

/// The bucket name of an event (`requestParameters.bucketName`).
pub fn event_ids(event: &Value) -> Vec<String> {
    let request = live::request(event);
    live::unique(str_at(request, "/bucketName").map(str::to_owned))
}

/// Re-reads buckets by name: one `ListBuckets` (the only call that gives a bucket's creation
/// date and region for any bucket of the account), then the same per-bucket calls as a fetch
/// for the named ones. A name the account does not list, or that answers `NoSuchBucket`, is
/// gone; a bucket outside the region policy is left alone.
pub async fn refresh(
    ctx: &FetchContext<'_>,
    ids: &[String],
    pages: &PageSender,
) -> Result<Refreshed, FetchError> {
    let clients = Clients::new(ctx.sdk);
    let home = clients.get(home_region(ctx.partition()));
    let mut stats = FetchStats::default();
    let listed = list_buckets(&home, &mut stats).await?;
    let wanted = Wanted::from_ctx(ctx);
    let mut objects = Vec::new();
    let mut gone = Vec::new();
    for name in ids {
        let Some(bucket) = listed.iter().find(|b| b.name.as_deref() == Some(name)) else {
            gone.push(gone_bucket(ctx, name));
            continue;
        };
        let mut out = BucketOutcome::default();
        let details = bucket_details(ctx, &clients, wanted, bucket, &mut out).await;
        stats.api_calls += out.api_calls;
        stats.warnings.extend(out.warnings);
        match details {
            Ok(Some(details)) => {
                let extra = extra_context(ctx, &details.region);
                objects.push(bucket_to_raw(extra, ctx.partition(), bucket, &details));
            }
            Ok(None) => {}
            Err(Stop::Gone) => gone.push(gone_bucket(ctx, name)),
            Err(Stop::Failed(e)) => return Err(e),
        }
    }
    stats.objects += objects.len();
    send_page(pages, objects).await?;
    Ok(Refreshed { stats, gone })
}

/// The identity of a bucket that is gone: its name and ARN.
fn gone_bucket(ctx: &FetchContext<'_>, name: &str) -> Value {
    let arn = format!("arn:{}:s3:::{name}", ctx.partition());
    let properties = live::identity_properties(&[("BucketName", name), ("Arn", &arn)]);
    raw_object(Kind::S3Bucket, properties, extra_context(ctx, ctx.region))
}

/// `ListBuckets` page size (`MaxBuckets`, 1–10,000). Passing it also makes every bucket carry
/// `BucketRegion`.
const LIST_PAGE: i32 = 1000;

/// Raw objects per page sent downstream.
const PAGE_SIZE: usize = 100;

/// Lists the account's buckets and sends pages of raw objects for those in allowed regions.
pub async fn fetch(ctx: &FetchContext<'_>, pages: &PageSender) -> Result<FetchStats, FetchError> {
    let clients = Clients::new(ctx.sdk);
    let home = clients.get(home_region(ctx.partition()));
    let mut stats = FetchStats::default();
    let buckets = list_buckets(&home, &mut stats).await?;
    let wanted = Wanted::from_ctx(ctx);
    let mut outcomes = futures_util::stream::iter(buckets)
        .map(|bucket| fetch_bucket(ctx, &clients, wanted, bucket))
        .buffered(ctx.concurrency.max(1));
    let mut page = Vec::with_capacity(PAGE_SIZE);
    while let Some(outcome) = outcomes.next().await {
        let outcome = outcome?;
        stats.api_calls += outcome.api_calls;
        stats.warnings.extend(outcome.warnings);
        page.extend(outcome.object);
        if page.len() >= PAGE_SIZE {
            stats.objects += page.len();
            send_page(
                pages,
                std::mem::replace(&mut page, Vec::with_capacity(PAGE_SIZE)),
            )
            .await?;
        }
    }
    stats.objects += page.len();
    send_page(pages, page).await?;
    Ok(stats)
}

async fn list_buckets(
    client: &aws_sdk_s3::Client,
    stats: &mut FetchStats,
) -> Result<Vec<s3::Bucket>, FetchError> {
    let mut buckets = Vec::new();
    let mut stream = client
        .list_buckets()
        .max_buckets(LIST_PAGE)
        .into_paginator()
        .send();
    while let Some(page) = stream.next().await {
        stats.api_calls += 1;
        let page = page.map_err(|e| FetchError::aws("ListBuckets", e))?;
        buckets.extend(page.buckets.unwrap_or_default());
    }
    Ok(buckets)
}

/// One S3 client per region, built on first use (calls must go to the bucket's region).
struct Clients<'a> {
    sdk: &'a aws_config::SdkConfig,
    by_region: Mutex<HashMap<String, aws_sdk_s3::Client>>,
}

impl<'a> Clients<'a> {
    fn new(sdk: &'a aws_config::SdkConfig) -> Self {
        Clients {
            sdk,
            by_region: Mutex::new(HashMap::new()),
        }
    }

    fn get(&self, region: &str) -> aws_sdk_s3::Client {
        let mut by_region = self
            .by_region
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        by_region
            .entry(region.to_owned())
            .or_insert_with(|| s3_client(self.sdk, region))
            .clone()
    }
}

/// The optional calls the mapping asked for.
#[derive(Debug, Clone, Copy, Default)]
struct Wanted {
    location: bool,
    encryption: bool,
    public_access_block: bool,
    ownership_controls: bool,
}

impl Wanted {
    fn from_ctx(ctx: &FetchContext<'_>) -> Self {
        Wanted {
            location: ctx.wants(GET_BUCKET_LOCATION_ACTION),
            encryption: ctx.wants(GET_BUCKET_ENCRYPTION_ACTION),
            public_access_block: ctx.wants(GET_PUBLIC_ACCESS_BLOCK_ACTION),
            ownership_controls: ctx.wants(GET_BUCKET_OWNERSHIP_CONTROLS_ACTION),
        }
    }
}

/// What one bucket's calls produced: its raw object (`None` when skipped) and what to add to the
/// unit's stats.
#[derive(Debug, Default)]
struct BucketOutcome {
    object: Option<Value>,
    api_calls: usize,
    warnings: Vec<String>,
}

/// Why a bucket's calls stopped early.
enum Stop {
    /// The bucket was deleted since `ListBuckets` (`NoSuchBucket`): it is left out, as it is gone.
    Gone,
    /// Any other error: the unit is incomplete.
    Failed(FetchError),
}

/// A per-bucket call's result once its expected errors are handled.
enum Fetched<T> {
    Got(T),
    /// The bucket has no such configuration (e.g. `NoSuchTagSet`).
    NotConfigured,
    /// `AccessDenied`: the field is left out and a warning recorded.
    Denied,
}

impl<T> Fetched<T> {
    fn got(self) -> Option<T> {
        match self {
            Fetched::Got(value) => Some(value),
            Fetched::NotConfigured | Fetched::Denied => None,
        }
    }
}

/// How an error code of a per-bucket call is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorHandling {
    /// The operation's "no such configuration" code: the bucket simply has none.
    NotConfigured,
    /// The role may not read this configuration: leave the field out, warn.
    AccessDenied,
    /// The bucket was deleted meanwhile: leave the bucket out.
    BucketGone,
    /// Anything else fails the unit.
    Fatal,
}

/// Classifies a per-bucket call's error code; `not_configured` is the operation's "this bucket has
/// no such configuration" code.
pub fn classify_error(code: Option<&str>, not_configured: Option<&str>) -> ErrorHandling {
    match code {
        Some(code) if Some(code) == not_configured => ErrorHandling::NotConfigured,
        Some("AccessDenied") => ErrorHandling::AccessDenied,
        Some("NoSuchBucket") => ErrorHandling::BucketGone,
        _ => ErrorHandling::Fatal,
    }
}

/// Counts a per-bucket call and handles its expected errors.
fn handle<T, E>(
    result: Result<T, SdkError<E>>,
    bucket: &str,
    operation: &'static str,
    not_configured: Option<&str>,
    out: &mut BucketOutcome,
) -> Result<Fetched<T>, Stop>
where
    E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
{
    out.api_calls += 1;
    let err = match result {
        Ok(value) => return Ok(Fetched::Got(value)),
        Err(err) => err,
    };
    match classify_error(err.code(), not_configured) {
        ErrorHandling::NotConfigured => Ok(Fetched::NotConfigured),
        ErrorHandling::AccessDenied => {
            let warning = format!("S3 bucket {bucket}: {operation} failed with AccessDenied");
            tracing::warn!(bucket, operation, "{warning}; the field is left out");
            out.warnings.push(warning);
            Ok(Fetched::Denied)
        }
        ErrorHandling::BucketGone => {
            tracing::debug!(bucket, operation, "bucket deleted since ListBuckets");
            Err(Stop::Gone)
        }
        ErrorHandling::Fatal => Err(Stop::Failed(FetchError::aws(operation, err))),
    }
}

async fn fetch_bucket(
    ctx: &FetchContext<'_>,
    clients: &Clients<'_>,
    wanted: Wanted,
    bucket: s3::Bucket,
) -> Result<BucketOutcome, FetchError> {
    let mut out = BucketOutcome::default();
    match bucket_details(ctx, clients, wanted, &bucket, &mut out).await {
        Ok(Some(details)) => {
            let extra = extra_context(ctx, &details.region);
            out.object = Some(bucket_to_raw(extra, ctx.partition(), &bucket, &details));
            Ok(out)
        }
        Ok(None) | Err(Stop::Gone) => Ok(out),
        Err(Stop::Failed(err)) => Err(err),
    }
}

/// The bucket's region and configuration; `None` when its region is outside the region policy.
async fn bucket_details(
    ctx: &FetchContext<'_>,
    clients: &Clients<'_>,
    wanted: Wanted,
    bucket: &s3::Bucket,
    out: &mut BucketOutcome,
) -> Result<Option<BucketDetails>, Stop> {
    let Some(name) = bucket.name.as_deref() else {
        return Ok(None);
    };
    // `Some(constraint)` once GetBucketLocation ran, so the optional action can reuse it.
    let (region, location) = bucket_region(ctx, clients, bucket, name, out).await?;
    if !ctx.region_allowed(&region) {
        tracing::debug!(bucket = name, region, "bucket outside the region policy");
        return Ok(None);
    }
    let client = clients.get(&region);
    let mut details = BucketDetails {
        region,
        ..BucketDetails::default()
    };

    let result = client.get_bucket_tagging().bucket(name).send().await;
    details.tags = match handle(result, name, "GetBucketTagging", Some("NoSuchTagSet"), out)? {
        Fetched::Got(output) => Some(output.tag_set),
        Fetched::NotConfigured => Some(Vec::new()),
        Fetched::Denied => None,
    };
    optional_details(&client, name, wanted, location, &mut details, out).await?;
    Ok(Some(details))
}

/// The bucket's region: from `ListBuckets`, else `GetBucketLocation` (whose constraint is
/// returned too, for the optional action to reuse). Without its region the bucket cannot be
/// checked against the region policy, so AccessDenied here fails the unit.
async fn bucket_region(
    ctx: &FetchContext<'_>,
    clients: &Clients<'_>,
    bucket: &s3::Bucket,
    name: &str,
    out: &mut BucketOutcome,
) -> Result<(String, Option<Option<String>>), Stop> {
    if let Some(region) = bucket.bucket_region.as_deref().filter(|r| !r.is_empty()) {
        return Ok((region.to_owned(), None));
    }
    let home = clients.get(home_region(ctx.partition()));
    let result = home.get_bucket_location().bucket(name).send().await;
    out.api_calls += 1;
    let output = match result {
        Ok(output) => output,
        Err(err) if err.code() == Some("NoSuchBucket") => return Err(Stop::Gone),
        Err(err) => return Err(Stop::Failed(FetchError::aws("GetBucketLocation", err))),
    };
    let constraint = location_constraint(output.location_constraint.as_ref());
    let region = region_from_location(constraint.as_deref(), ctx.partition());
    Ok((region, Some(constraint)))
}

/// The configuration calls the mapping asked for (`includeActions`).
async fn optional_details(
    client: &aws_sdk_s3::Client,
    name: &str,
    wanted: Wanted,
    location: Option<Option<String>>,
    details: &mut BucketDetails,
    out: &mut BucketOutcome,
) -> Result<(), Stop> {
    if wanted.location {
        details.location_constraint = match location {
            Some(constraint) => constraint,
            None => {
                let result = client.get_bucket_location().bucket(name).send().await;
                handle(result, name, "GetBucketLocation", None, out)?
                    .got()
                    .and_then(|o| location_constraint(o.location_constraint.as_ref()))
            }
        };
    }
    if wanted.encryption {
        let result = client.get_bucket_encryption().bucket(name).send().await;
        let not_found = Some("ServerSideEncryptionConfigurationNotFoundError");
        details.encryption = handle(result, name, "GetBucketEncryption", not_found, out)?
            .got()
            .and_then(|o| o.server_side_encryption_configuration);
    }
    if wanted.public_access_block {
        let result = client.get_public_access_block().bucket(name).send().await;
        let not_found = Some("NoSuchPublicAccessBlockConfiguration");
        details.public_access_block = handle(result, name, "GetPublicAccessBlock", not_found, out)?
            .got()
            .and_then(|o| o.public_access_block_configuration);
    }
    if wanted.ownership_controls {
        let result = client
            .get_bucket_ownership_controls()
            .bucket(name)
            .send()
            .await;
        let not_found = Some("OwnershipControlsNotFoundError");
        details.ownership_controls =
            handle(result, name, "GetBucketOwnershipControls", not_found, out)?
                .got()
                .and_then(|o| o.ownership_controls);
    }
    Ok(())
}

/// `GetBucketLocation`'s `LocationConstraint` as the API returned it; `None` when empty
/// (us-east-1).
fn location_constraint(constraint: Option<&s3::BucketLocationConstraint>) -> Option<String> {
    constraint
        .map(|c| c.as_str().to_owned())
        .filter(|c| !c.is_empty())
}

/// The region a `LocationConstraint` stands for: empty means the partition's first region
/// (us-east-1), the legacy `EU` means eu-west-1.
pub fn region_from_location(constraint: Option<&str>, partition: &str) -> String {
    match constraint {
        None | Some("") => home_region(partition).to_owned(),
        Some("EU") => "eu-west-1".to_owned(),
        Some(region) => region.to_owned(),
    }
}

/// What a bucket's own calls returned. `None` fields are left out of the raw object (not asked
/// for, not configured or access denied); `tags` is `Some(vec![])` for `NoSuchTagSet`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BucketDetails {
    /// The bucket's region (`BucketRegion`, or from `GetBucketLocation`).
    pub region: String,
    pub tags: Option<Vec<s3::Tag>>,
    /// `GetBucketLocation`'s raw `LocationConstraint` (absent for us-east-1).
    pub location_constraint: Option<String>,
    pub encryption: Option<s3::ServerSideEncryptionConfiguration>,
    pub public_access_block: Option<s3::PublicAccessBlockConfiguration>,
    pub ownership_controls: Option<s3::OwnershipControls>,
}

/// The raw object of one bucket; `extra` is [`extra_context`] for the bucket's region.
pub fn bucket_to_raw(
    extra: Map<String, Value>,
    partition: &str,
    bucket: &s3::Bucket,
    details: &BucketDetails,
) -> Value {
    let name = bucket.name.as_deref().unwrap_or_default();
    let properties = object([
        ("BucketName", bucket.name.to_raw()),
        (
            "Arn",
            Some(Value::String(format!("arn:{partition}:s3:::{name}"))),
        ),
        ("CreationDate", bucket.creation_date.to_raw()),
        ("BucketRegion", details.region.to_raw()),
        ("Tags", details.tags.to_raw()),
        ("LocationConstraint", details.location_constraint.to_raw()),
        ("BucketEncryption", details.encryption.to_raw()),
        (
            "PublicAccessBlockConfiguration",
            details.public_access_block.to_raw(),
        ),
        ("OwnershipControls", details.ownership_controls.to_raw()),
    ]);
    raw_object(Kind::S3Bucket, properties, extra)
}

// boto3's names for the configuration shapes, as read from the SDK's XML deserializers
// (`protocol_serde/shape_*.rs`); e.g. the XML's repeated `Rule` element is boto3's `Rules` list.
raw_struct!(s3::Tag {
    "Key" => key,
    "Value" => value,
});
raw_struct!(s3::ServerSideEncryptionConfiguration {
    "Rules" => rules,
});
raw_struct!(s3::PublicAccessBlockConfiguration {
    "BlockPublicAcls" => block_public_acls,
    "IgnorePublicAcls" => ignore_public_acls,
    "BlockPublicPolicy" => block_public_policy,
    "RestrictPublicBuckets" => restrict_public_buckets,
});
raw_struct!(s3::OwnershipControls {
    "Rules" => rules,
});
raw_struct!(s3::ServerSideEncryptionRule {
    "ApplyServerSideEncryptionByDefault" => apply_server_side_encryption_by_default,
    "BucketKeyEnabled" => bucket_key_enabled,
    "BlockedEncryptionTypes" => blocked_encryption_types,
});
raw_struct!(s3::OwnershipControlsRule {
    "ObjectOwnership" => object_ownership,
});
raw_struct!(s3::ServerSideEncryptionByDefault {
    "SSEAlgorithm" => sse_algorithm,
    "KMSMasterKeyID" => kms_master_key_id,
});
raw_struct!(s3::BlockedEncryptionTypes {
    "EncryptionType" => encryption_type,
});
raw_enum!(
    s3::EncryptionType,
    s3::ObjectOwnership,
    s3::ServerSideEncryption
);
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_ids_are_bucket_names() {
        let tag = serde_json::json!({"detail": {"eventName": "PutBucketTagging",
            "requestParameters": {"bucketName": "logs", "Host": "logs.s3.amazonaws.com", "tagging": ""}}});
        assert_eq!(event_ids(&tag), ["logs"]);
        assert!(event_ids(&serde_json::json!({"detail": {}})).is_empty());
    }
    use crate::kinds::raw::{assert_covers_all_fields, debug_field_names};
    use aws_sdk_s3::primitives::DateTime;
    use serde_json::json;

    fn extra(region: &str) -> Map<String, Value> {
        let Value::Object(map) = json!({"AccountId": "123456789012", "Region": region}) else {
            unreachable!()
        };
        map
    }

    fn tag(key: &str, value: &str) -> s3::Tag {
        s3::Tag::builder().key(key).value(value).build().unwrap()
    }

    fn bucket(name: &str) -> s3::Bucket {
        s3::Bucket::builder()
            .name(name)
            .creation_date(DateTime::from_secs(1_697_380_200))
            .bucket_region("us-west-2")
            .build()
    }

    fn details() -> BucketDetails {
        BucketDetails {
            region: "us-west-2".into(),
            tags: Some(Vec::new()),
            ..BucketDetails::default()
        }
    }

    #[test]
    fn reproduces_the_aws_v3_example() {
        let encryption = s3::ServerSideEncryptionConfiguration::builder()
            .rules(
                s3::ServerSideEncryptionRule::builder()
                    .apply_server_side_encryption_by_default(
                        s3::ServerSideEncryptionByDefault::builder()
                            .sse_algorithm(s3::ServerSideEncryption::AwsKms)
                            .kms_master_key_id(
                                "arn:aws:kms:us-west-2:123456789012:key/12345678-1234-1234-1234-123456789012",
                            )
                            .build()
                            .unwrap(),
                    )
                    .bucket_key_enabled(true)
                    .build(),
            )
            .build()
            .unwrap();
        let details = BucketDetails {
            region: "us-west-2".into(),
            tags: Some(vec![
                tag("Environment", "production"),
                tag("Team", "platform"),
                tag("CostCenter", "engineering"),
            ]),
            location_constraint: None,
            encryption: Some(encryption),
            public_access_block: Some(
                s3::PublicAccessBlockConfiguration::builder()
                    .block_public_acls(true)
                    .ignore_public_acls(true)
                    .block_public_policy(true)
                    .restrict_public_buckets(true)
                    .build(),
            ),
            ownership_controls: Some(
                s3::OwnershipControls::builder()
                    .rules(
                        s3::OwnershipControlsRule::builder()
                            .object_ownership(s3::ObjectOwnership::BucketOwnerPreferred)
                            .build()
                            .unwrap(),
                    )
                    .build()
                    .unwrap(),
            ),
        };
        let raw = bucket_to_raw(
            extra("us-west-2"),
            "aws",
            &bucket("my-production-bucket"),
            &details,
        );
        assert_eq!(
            raw,
            json!({
                "Type": "AWS::S3::Bucket",
                "Properties": {
                    "BucketName": "my-production-bucket",
                    "Arn": "arn:aws:s3:::my-production-bucket",
                    "CreationDate": "2023-10-15T14:30:00.000Z",
                    "BucketRegion": "us-west-2",
                    "Tags": [
                        {"Key": "Environment", "Value": "production"},
                        {"Key": "Team", "Value": "platform"},
                        {"Key": "CostCenter", "Value": "engineering"}
                    ],
                    "BucketEncryption": {
                        "Rules": [{
                            "ApplyServerSideEncryptionByDefault": {
                                "SSEAlgorithm": "aws:kms",
                                "KMSMasterKeyID": "arn:aws:kms:us-west-2:123456789012:key/12345678-1234-1234-1234-123456789012"
                            },
                            "BucketKeyEnabled": true
                        }]
                    },
                    "PublicAccessBlockConfiguration": {
                        "BlockPublicAcls": true,
                        "IgnorePublicAcls": true,
                        "BlockPublicPolicy": true,
                        "RestrictPublicBuckets": true
                    },
                    "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerPreferred"}]}
                },
                "__ExtraContext": {"AccountId": "123456789012", "Region": "us-west-2"}
            })
        );
    }

    #[test]
    fn empty_tag_set_is_an_empty_list_and_unfetched_fields_are_absent() {
        let raw = bucket_to_raw(extra("us-west-2"), "aws-cn", &bucket("b"), &details());
        assert_eq!(
            raw["Properties"],
            json!({
                "BucketName": "b",
                "Arn": "arn:aws-cn:s3:::b",
                "CreationDate": "2023-10-15T14:30:00.000Z",
                "BucketRegion": "us-west-2",
                "Tags": []
            })
        );
    }

    #[test]
    fn denied_tags_are_left_out_and_location_constraint_is_kept_raw() {
        let details = BucketDetails {
            region: "eu-west-1".into(),
            tags: None,
            location_constraint: Some("EU".into()),
            ..BucketDetails::default()
        };
        let raw = bucket_to_raw(extra("eu-west-1"), "aws", &bucket("b"), &details);
        assert_eq!(raw["Properties"].get("Tags"), None);
        assert_eq!(raw["Properties"]["LocationConstraint"], json!("EU"));
        assert_eq!(raw["Properties"]["BucketRegion"], json!("eu-west-1"));
    }

    #[test]
    fn blocked_encryption_types_use_boto3_names() {
        let rule = s3::ServerSideEncryptionRule::builder()
            .blocked_encryption_types(
                s3::BlockedEncryptionTypes::builder()
                    .encryption_type(s3::EncryptionType::SseC)
                    .build(),
            )
            .build();
        assert_eq!(
            rule.to_raw(),
            Some(json!({"BlockedEncryptionTypes": {"EncryptionType": ["SSE-C"]}}))
        );
    }

    #[test]
    fn location_constraint_maps_to_a_region() {
        assert_eq!(region_from_location(None, "aws"), "us-east-1");
        assert_eq!(region_from_location(Some(""), "aws"), "us-east-1");
        assert_eq!(region_from_location(Some("EU"), "aws"), "eu-west-1");
        assert_eq!(
            region_from_location(Some("ap-south-2"), "aws"),
            "ap-south-2"
        );
        assert_eq!(region_from_location(None, "aws-us-gov"), "us-gov-west-1");
        let empty = s3::BucketLocationConstraint::from("");
        assert_eq!(location_constraint(Some(&empty)), None);
        let eu = s3::BucketLocationConstraint::Eu;
        assert_eq!(location_constraint(Some(&eu)), Some("EU".to_owned()));
    }

    #[test]
    fn classifies_per_bucket_errors() {
        let tags = Some("NoSuchTagSet");
        assert_eq!(
            classify_error(Some("NoSuchTagSet"), tags),
            ErrorHandling::NotConfigured
        );
        assert_eq!(
            classify_error(Some("AccessDenied"), tags),
            ErrorHandling::AccessDenied
        );
        assert_eq!(
            classify_error(Some("NoSuchBucket"), tags),
            ErrorHandling::BucketGone
        );
        assert_eq!(classify_error(Some("SlowDown"), tags), ErrorHandling::Fatal);
        assert_eq!(classify_error(None, tags), ErrorHandling::Fatal);
        assert_eq!(
            classify_error(Some("NoSuchTagSet"), None),
            ErrorHandling::Fatal
        );
    }

    #[test]
    fn optional_actions_match_aws_v3_names_and_iam() {
        let actions: Vec<(&str, &str)> = OPTIONAL_ACTIONS
            .iter()
            .filter(|a| !a.default)
            .map(|a| (a.name, a.iam_actions[0]))
            .collect();
        assert_eq!(
            actions,
            [
                ("GetBucketLocationAction", "s3:GetBucketLocation"),
                ("GetBucketEncryptionAction", "s3:GetEncryptionConfiguration"),
                (
                    "GetPublicAccessBlockAction",
                    "s3:GetBucketPublicAccessBlock"
                ),
                (
                    "GetBucketOwnershipControlsAction",
                    "s3:GetBucketOwnershipControls"
                ),
            ]
        );
    }

    /// `bucket_to_raw` picks the bucket's fields by hand (`BucketArn` is only returned for
    /// directory buckets, which ListBuckets does not list): a new SDK field must be noticed.
    #[test]
    fn bucket_fields_are_all_known() {
        let names = debug_field_names(&format!("{:?}", s3::Bucket::builder().build()));
        assert_eq!(
            names,
            ["name", "creation_date", "bucket_region", "bucket_arn"]
        );
    }

    /// One test per converted SDK structure: the conversion reads every field the type has.
    macro_rules! covers_all_fields {
        ($($test:ident: $value:expr),* $(,)?) => {
            mod covers_all_fields {
                use super::*;
                $(
                    #[test]
                    fn $test() {
                        assert_covers_all_fields(&$value);
                    }
                )*
            }
        };
    }

    covers_all_fields! {
        tag: s3::Tag::builder().key("k").value("v").build().unwrap(),
        server_side_encryption_configuration: s3::ServerSideEncryptionConfiguration::builder()
            .set_rules(Some(Vec::new()))
            .build()
            .unwrap(),
        public_access_block_configuration: s3::PublicAccessBlockConfiguration::builder().build(),
        ownership_controls: s3::OwnershipControls::builder()
            .set_rules(Some(Vec::new()))
            .build()
            .unwrap(),
        server_side_encryption_rule: s3::ServerSideEncryptionRule::builder().build(),
        ownership_controls_rule: s3::OwnershipControlsRule::builder()
            .object_ownership(s3::ObjectOwnership::BucketOwnerEnforced)
            .build()
            .unwrap(),
        server_side_encryption_by_default: s3::ServerSideEncryptionByDefault::builder()
            .sse_algorithm(s3::ServerSideEncryption::Aes256)
            .build()
            .unwrap(),
        blocked_encryption_types: s3::BlockedEncryptionTypes::builder().build(),
    }
}

#[cfg(test)]
mod fetch_tests {
    use super::*;
    use crate::test_support::fake_aws::{fetch_pages, FakeAws, Request, Response};
    use crate::test_support::TestUnit;
    use serde_json::json;

    const XMLNS: &str = "http://s3.amazonaws.com/doc/2006-03-01/";

    fn xml(body: &str) -> Response {
        (200, "application/xml", body.to_owned())
    }

    fn s3_error(status: u16, code: &str) -> Response {
        let body = format!("<Error><Code>{code}</Code><Message>test</Message></Error>");
        (status, "application/xml", body)
    }

    fn list_buckets() -> Response {
        let bucket = |name: &str, region: Option<&str>| {
            let region = region
                .map(|r| format!("<BucketRegion>{r}</BucketRegion>"))
                .unwrap_or_default();
            format!(
                "<Bucket><Name>{name}</Name><CreationDate>2023-10-15T14:30:00.000Z</CreationDate>{region}</Bucket>"
            )
        };
        xml(&format!(
            "<ListAllMyBucketsResult xmlns=\"{XMLNS}\"><Owner><ID>owner</ID></Owner><Buckets>{}{}{}{}{}</Buckets></ListAllMyBucketsResult>",
            bucket("b-east", Some("us-east-1")),
            bucket("b-west", Some("eu-west-1")),
            bucket("b-denied-region", Some("ap-south-1")),
            bucket("b-legacy", None),
            bucket("b-gone", Some("us-east-1")),
        ))
    }

    /// Bucket and subresource of a path-style S3 request (`/b-east/?tagging` → `("b-east", "tagging")`).
    fn route(request: &Request) -> (String, String) {
        let (path, query) = request
            .target
            .split_once('?')
            .unwrap_or((&request.target, ""));
        let subresource = query.split('&').next().unwrap_or_default();
        let subresource = subresource.split('=').next().unwrap_or_default();
        (path.trim_matches('/').to_owned(), subresource.to_owned())
    }

    fn handler(request: &Request) -> Response {
        let (bucket, sub) = route(request);
        match (bucket.as_str(), sub.as_str()) {
            ("", _) => list_buckets(),
            ("b-east", "tagging") => xml(
                "<Tagging><TagSet><Tag><Key>Team</Key><Value>platform</Value></Tag></TagSet></Tagging>",
            ),
            ("b-east", "location") => xml(&format!("<LocationConstraint xmlns=\"{XMLNS}\"/>")),
            ("b-east", "encryption") => xml(
                "<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault><BucketKeyEnabled>false</BucketKeyEnabled></Rule></ServerSideEncryptionConfiguration>",
            ),
            ("b-east", "publicAccessBlock") => s3_error(403, "AccessDenied"),
            ("b-east", "ownershipControls") => xml(
                "<OwnershipControls><Rule><ObjectOwnership>BucketOwnerEnforced</ObjectOwnership></Rule></OwnershipControls>",
            ),
            ("b-west", "tagging") => s3_error(404, "NoSuchTagSet"),
            ("b-west", "location") => xml(&format!(
                "<LocationConstraint xmlns=\"{XMLNS}\">eu-west-1</LocationConstraint>"
            )),
            ("b-legacy", "location") => xml(&format!(
                "<LocationConstraint xmlns=\"{XMLNS}\">EU</LocationConstraint>"
            )),
            ("b-legacy", "tagging") => s3_error(403, "AccessDenied"),
            ("b-gone", _) => s3_error(404, "NoSuchBucket"),
            ("b-fails", _) => s3_error(409, "OperationAborted"),
            (_, "encryption") => s3_error(404, "ServerSideEncryptionConfigurationNotFoundError"),
            (_, "publicAccessBlock") => s3_error(404, "NoSuchPublicAccessBlockConfiguration"),
            (_, "ownershipControls") => s3_error(404, "OwnershipControlsNotFoundError"),
            _ => s3_error(400, "UnexpectedRequest"),
        }
    }

    async fn run(
        server: &FakeAws,
        actions: &[&str],
    ) -> (Result<FetchStats, FetchError>, Vec<Vec<Value>>) {
        let mut unit = TestUnit::new(Kind::S3Bucket, "global", server.sdk_config("us-east-1"))
            .with_actions(actions);
        unit.regions = |region| region != "ap-south-1";
        unit.concurrency = 3;
        fetch_pages(&unit.ctx()).await
    }

    fn calls(server: &FakeAws) -> Vec<(String, String, String)> {
        let mut calls: Vec<_> = server
            .requests()
            .iter()
            .map(|r| {
                let (bucket, sub) = route(r);
                (
                    bucket,
                    sub,
                    r.signing_region().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        calls.sort();
        calls
    }

    #[tokio::test]
    async fn fetches_tags_in_each_bucket_region_and_skips_denied_regions() {
        let server = FakeAws::start(handler);
        let (result, pages) = run(&server, &[]).await;
        let stats = result.unwrap();
        assert_eq!(pages.len(), 1);
        let objects = &pages[0];
        let names: Vec<&str> = objects
            .iter()
            .map(|o| o["Properties"]["BucketName"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["b-east", "b-west", "b-legacy"]);
        assert_eq!(
            objects[0],
            json!({
                "Type": "AWS::S3::Bucket",
                "Properties": {
                    "BucketName": "b-east",
                    "Arn": "arn:aws:s3:::b-east",
                    "CreationDate": "2023-10-15T14:30:00.000Z",
                    "BucketRegion": "us-east-1",
                    "Tags": [{"Key": "Team", "Value": "platform"}]
                },
                "__ExtraContext": {"AccountId": "123456789012", "Region": "us-east-1", "Partition": "aws"}
            })
        );
        assert_eq!(objects[1]["Properties"]["Tags"], json!([]));
        assert_eq!(objects[1]["__ExtraContext"]["Region"], json!("eu-west-1"));
        // No BucketRegion: GetBucketLocation (`EU`) places it; its tags were denied.
        assert_eq!(objects[2]["Properties"]["BucketRegion"], json!("eu-west-1"));
        assert_eq!(objects[2]["Properties"].get("Tags"), None);
        assert_eq!(objects[2]["Properties"].get("LocationConstraint"), None);
        assert_eq!(
            stats.warnings,
            ["S3 bucket b-legacy: GetBucketTagging failed with AccessDenied"]
        );
        assert_eq!(stats.objects, 3);
        assert_eq!(
            calls(&server),
            [
                ("".into(), "x-id".into(), "us-east-1".into()),
                ("b-east".into(), "tagging".into(), "us-east-1".into()),
                ("b-gone".into(), "tagging".into(), "us-east-1".into()),
                ("b-legacy".into(), "location".into(), "us-east-1".into()),
                ("b-legacy".into(), "tagging".into(), "eu-west-1".into()),
                ("b-west".into(), "tagging".into(), "eu-west-1".into()),
            ]
        );
        assert_eq!(stats.api_calls, 6);
        assert!(server.requests().iter().all(|r| r.method == "GET"));
        let list = &server.requests()[0];
        assert!(list.target.contains("max-buckets=1000"), "{}", list.target);
    }

    #[tokio::test]
    async fn optional_actions_add_configuration_and_reuse_the_location() {
        let server = FakeAws::start(handler);
        let all: Vec<&str> = OPTIONAL_ACTIONS.iter().map(|a| a.name).collect();
        let (result, pages) = run(&server, &all).await;
        let stats = result.unwrap();
        let objects = &pages[0];
        assert_eq!(
            objects[0]["Properties"],
            json!({
                "BucketName": "b-east",
                "Arn": "arn:aws:s3:::b-east",
                "CreationDate": "2023-10-15T14:30:00.000Z",
                "BucketRegion": "us-east-1",
                "Tags": [{"Key": "Team", "Value": "platform"}],
                "BucketEncryption": {
                    "Rules": [{
                        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
                        "BucketKeyEnabled": false
                    }]
                },
                "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
            })
        );
        assert_eq!(
            objects[1]["Properties"]["LocationConstraint"],
            json!("eu-west-1")
        );
        assert_eq!(objects[1]["Properties"].get("BucketEncryption"), None);
        assert_eq!(
            objects[1]["Properties"].get("PublicAccessBlockConfiguration"),
            None
        );
        assert_eq!(objects[2]["Properties"]["LocationConstraint"], json!("EU"));
        assert_eq!(
            stats.warnings,
            [
                "S3 bucket b-east: GetPublicAccessBlock failed with AccessDenied",
                "S3 bucket b-legacy: GetBucketTagging failed with AccessDenied",
            ]
        );
        let legacy_location_calls = calls(&server)
            .iter()
            .filter(|(b, sub, _)| b == "b-legacy" && sub == "location")
            .count();
        assert_eq!(legacy_location_calls, 1, "the location is fetched once");
        // ListBuckets + b-gone's tagging + 5 calls for each of the 3 buckets.
        assert_eq!(stats.api_calls, 2 + 3 * 5);
        assert_eq!(stats.api_calls, server.requests().len());
    }

    #[tokio::test]
    async fn other_errors_fail_the_fetch() {
        let server = FakeAws::start(|request: &Request| {
            if route(request).0.is_empty() {
                xml(&format!(
                    "<ListAllMyBucketsResult xmlns=\"{XMLNS}\"><Buckets><Bucket><Name>b-fails</Name><BucketRegion>us-east-1</BucketRegion></Bucket></Buckets></ListAllMyBucketsResult>"
                ))
            } else {
                handler(request)
            }
        });
        let (result, pages) = run(&server, &[]).await;
        match result {
            Err(FetchError::Aws {
                operation, code, ..
            }) => {
                assert_eq!(operation, "GetBucketTagging");
                assert_eq!(code.as_deref(), Some("OperationAborted"));
            }
            other => panic!("expected a GetBucketTagging failure, got {other:?}"),
        }
        assert!(pages.is_empty());
    }

    #[tokio::test]
    async fn sends_pages_of_at_most_100_buckets() {
        let server = FakeAws::start(|request: &Request| {
            let (bucket, _) = route(request);
            if bucket.is_empty() {
                let buckets: String = (0..250)
                    .map(|i| format!("<Bucket><Name>b{i:03}</Name><BucketRegion>us-east-1</BucketRegion></Bucket>"))
                    .collect();
                xml(&format!(
                    "<ListAllMyBucketsResult xmlns=\"{XMLNS}\"><Buckets>{buckets}</Buckets></ListAllMyBucketsResult>"
                ))
            } else {
                s3_error(404, "NoSuchTagSet")
            }
        });
        let (result, pages) = run(&server, &[]).await;
        assert_eq!(result.unwrap().objects, 250);
        let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
        assert_eq!(sizes, [100, 100, 50]);
    }
}
