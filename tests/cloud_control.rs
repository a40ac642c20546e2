//! Cloud Control fetches (`port_aws_sync::kinds::cloud_control`) against
//! `tests/support/fake_cloud_control.py`, which speaks Cloud Control's wire protocol (moto does
//! not serve it): pagination, `Properties` parsed from JSON text, `GetResource` only where the
//! listing lacks properties, throttling, types a region does not serve, a repeated `NextToken`,
//! and the request-rate bound, counted from the fake's own request log.

mod common;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_credential_types::Credentials;
use common::FakeCloudControl;
use futures_util::StreamExt;
use port_aws_sync::aws::api::{ApiError, ApiOptions, AwsApi};
use port_aws_sync::kinds::cloud_control::{
    fetch, validate, CloudControlError, FetchOptions, Page, RateLimit, RateLimits, ReadPolicy,
};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

const ACCOUNT: &str = "123456789012";
const REGION: &str = "us-east-1";

fn sdk(fake: &FakeCloudControl) -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(&fake.url)
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "testing", "testing", None, None, "test",
        )))
        .build()
}

/// Quick retries, so throttling tests take milliseconds.
fn api(max_attempts: u32) -> AwsApi {
    AwsApi::new(ApiOptions {
        max_attempts,
        backoff_base: Duration::from_millis(5),
        backoff_cap: Duration::from_millis(20),
        ..ApiOptions::default()
    })
    .unwrap()
}

/// A bound far above what the tests send, for the tests that are not about the rate.
fn no_bound() -> RateLimits {
    RateLimits::new(RateLimit::new(10_000.0, 10_000).unwrap())
}

/// Every page of one fetch, stopping at the first error.
async fn run(
    api: &AwsApi,
    fake: &FakeCloudControl,
    limits: &RateLimits,
    type_name: &str,
    options: FetchOptions,
) -> (Vec<Page>, Option<CloudControlError>) {
    let client = api.client("cloudcontrol", &sdk(fake), REGION).unwrap();
    let cc_type = validate(type_name).unwrap();
    let bucket = limits.bucket(ACCOUNT, REGION);
    let mut pages = Vec::new();
    let mut stream = std::pin::pin!(fetch(&client, bucket, cc_type, options));
    while let Some(item) = stream.next().await {
        match item {
            Ok(page) => pages.push(page),
            Err(e) => return (pages, Some(e)),
        }
    }
    (pages, None)
}

fn log_groups(n: usize) -> Value {
    let resources: Vec<Value> = (0..n)
        .map(|i| {
            json!({"Identifier": format!("/app/{i}"), "Properties": {
                "LogGroupName": format!("/app/{i}"),
                "RetentionInDays": 7 * (i + 1),
                "Tags": [{"Key": "team", "Value": "core"}],
                "DataProtectionPolicy": {"Name": "p", "Statement": [{"Sid": "s"}]},
            }})
        })
        .collect();
    json!({"page_size": 2, "resources": resources})
}

fn streams(n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| json!({"Identifier": format!("s{i}"), "Properties": {"Name": format!("s{i}"), "ShardCount": i + 1, "Arn": format!("arn:aws:kinesis:us-east-1:123456789012:stream/s{i}")}}))
        .collect()
}

fn operations(log: &[Value], operation: &str) -> usize {
    log.iter().filter(|r| r["operation"] == operation).count()
}

#[tokio::test]
async fn pages_through_every_resource_and_parses_properties_from_json_text() {
    let fake = FakeCloudControl::start(&json!({"types": {"AWS::Logs::LogGroup": log_groups(5)}}));
    let (pages, err) = run(
        &api(3),
        &fake,
        &no_bound(),
        "AWS::Logs::LogGroup",
        FetchOptions::default(),
    )
    .await;
    assert!(err.is_none(), "{err:?}");
    let sizes: Vec<usize> = pages.iter().map(|p| p.properties.len()).collect();
    assert_eq!(sizes, [2, 2, 1]);
    let all: Vec<&Value> = pages.iter().flat_map(|p| &p.properties).collect();
    assert_eq!(
        *all[4],
        json!({"LogGroupName": "/app/4", "RetentionInDays": 35,
               "Tags": [{"Key": "team", "Value": "core"}],
               "DataProtectionPolicy": {"Name": "p", "Statement": [{"Sid": "s"}]}})
    );
    // Full listings need no GetResource.
    assert!(pages.iter().all(|p| p.reads == 0));
    let log = fake.log();
    assert_eq!(operations(&log, "ListResources"), 3);
    assert_eq!(operations(&log, "GetResource"), 0);

    // A page size is sent as MaxResults when asked for.
    let one = FetchOptions {
        page_size: Some(1),
        ..FetchOptions::default()
    };
    let (pages, err) = run(&api(3), &fake, &no_bound(), "AWS::Logs::LogGroup", one).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(pages.len(), 5);
}

#[tokio::test]
async fn reads_only_the_resources_whose_listing_is_just_the_identifier() {
    let fake = FakeCloudControl::start(&json!({"types": {
        "AWS::Kinesis::Stream": {"list": "identifier", "identifier_keys": ["Name"], "page_size": 3,
                                 "resources": streams(4), "vanished": ["s2"]},
        "AWS::Logs::LogGroup": log_groups(2),
    }}));
    let (pages, err) = run(
        &api(3),
        &fake,
        &no_bound(),
        "AWS::Kinesis::Stream",
        FetchOptions::default(),
    )
    .await;
    assert!(err.is_none(), "{err:?}");
    let names: Vec<&Value> = pages
        .iter()
        .flat_map(|p| &p.properties)
        .map(|p| &p["Name"])
        .collect();
    assert_eq!(
        names,
        [&json!("s0"), &json!("s1"), &json!("s3")],
        "s2 vanished before it was read"
    );
    assert_eq!(
        pages.iter().flat_map(|p| &p.properties).last().unwrap()["ShardCount"],
        json!(4)
    );
    assert_eq!(pages.iter().map(|p| p.reads).sum::<usize>(), 4);
    assert_eq!(pages.iter().map(|p| p.vanished).sum::<usize>(), 1);
    let log = fake.log();
    assert_eq!(operations(&log, "GetResource"), 4);

    let (pages, _) = run(
        &api(3),
        &fake,
        &no_bound(),
        "AWS::Logs::LogGroup",
        FetchOptions::default(),
    )
    .await;
    assert_eq!(pages.iter().map(|p| p.reads).sum::<usize>(), 0);
    let always = FetchOptions {
        read: ReadPolicy::Always,
        ..FetchOptions::default()
    };
    let (pages, _) = run(&api(3), &fake, &no_bound(), "AWS::Logs::LogGroup", always).await;
    assert_eq!(pages.iter().map(|p| p.reads).sum::<usize>(), 2);
    let never = FetchOptions {
        read: ReadPolicy::Never,
        ..FetchOptions::default()
    };
    let (pages, _) = run(&api(3), &fake, &no_bound(), "AWS::Kinesis::Stream", never).await;
    assert_eq!(pages.iter().map(|p| p.reads).sum::<usize>(), 0);
    assert_eq!(pages[0].properties[0], json!({"Name": "s0"}));
}

#[tokio::test]
async fn throttling_is_retried_and_counted() {
    let fake = FakeCloudControl::start(
        &json!({"throttle_first": 3, "types": {"AWS::Logs::LogGroup": log_groups(3)}}),
    );
    let api = api(6);
    let (pages, err) = run(
        &api,
        &fake,
        &no_bound(),
        "AWS::Logs::LogGroup",
        FetchOptions::default(),
    )
    .await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(pages.iter().map(|p| p.properties.len()).sum::<usize>(), 3);
    let counts = api.counts();
    assert_eq!((counts.throttled, counts.retries), (3, 3));
    let log = fake.log();
    let throttled = log
        .iter()
        .filter(|r| r["code"] == "ThrottlingException")
        .count();
    assert_eq!(throttled, 3);
    assert_eq!(log.len(), 3 + 2, "3 throttled answers, then 2 pages");
}

#[tokio::test]
async fn throttling_beyond_the_retries_fails_the_fetch() {
    let fake = FakeCloudControl::start(
        &json!({"throttle_first": 10, "types": {"AWS::Logs::LogGroup": log_groups(3)}}),
    );
    let (pages, err) = run(
        &api(2),
        &fake,
        &no_bound(),
        "AWS::Logs::LogGroup",
        FetchOptions::default(),
    )
    .await;
    assert!(pages.is_empty());
    let err = err.expect("still throttled after 2 attempts");
    assert!(!err.is_type_not_available());
    assert!(
        matches!(&err, CloudControlError::Api { source, .. } if matches!(**source, ApiError::Throttled { attempts: 2, .. })),
        "{err:?}"
    );
    assert_eq!(err.code(), Some("ThrottlingException"));
}

#[tokio::test]
async fn a_type_the_region_does_not_serve_is_reported_apart_from_failures() {
    let fake = FakeCloudControl::start(&json!({"types": {
        "AWS::Lambda::Function": {"regions": ["eu-west-1"], "resources": []},
        "AWS::SQS::Queue": {"error": "UnsupportedActionException"},
        "AWS::SNS::Topic": {"error": "AccessDeniedException"},
    }}));
    for (type_name, code) in [
        ("AWS::Lambda::Function", "TypeNotFoundException"),
        ("AWS::SQS::Queue", "UnsupportedActionException"),
    ] {
        let (_, err) = run(
            &api(3),
            &fake,
            &no_bound(),
            type_name,
            FetchOptions::default(),
        )
        .await;
        let err = err.unwrap_or_else(|| panic!("{type_name} must not be served in {REGION}"));
        assert!(err.is_type_not_available(), "{err:?}");
        assert_eq!(err.code(), Some(code));
        assert!(
            err.to_string().starts_with(&format!(
                "Cloud Control does not serve {type_name} in us-east-1: {code}:"
            )),
            "{err}"
        );
    }
    let (_, err) = run(
        &api(3),
        &fake,
        &no_bound(),
        "AWS::SNS::Topic",
        FetchOptions::default(),
    )
    .await;
    let err = err.expect("access denied fails");
    assert!(!err.is_type_not_available());
    assert_eq!(err.code(), Some("AccessDeniedException"));
}

#[tokio::test]
async fn a_repeated_next_token_ends_the_fetch_with_an_error() {
    let mut seed = log_groups(4);
    seed["repeat_token"] = json!(true);
    let fake = FakeCloudControl::start(&json!({"types": {"AWS::Logs::LogGroup": seed}}));
    let (pages, err) = run(
        &api(3),
        &fake,
        &no_bound(),
        "AWS::Logs::LogGroup",
        FetchOptions::default(),
    )
    .await;
    assert_eq!(
        pages.len(),
        2,
        "the first page, and the one that repeats its token"
    );
    let err = err.expect("a repeated token is an error");
    assert!(
        matches!(&err, CloudControlError::Api { source, .. } if matches!(**source, ApiError::RepeatedToken { .. })),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("the same pagination token twice"),
        "{err}"
    );
    assert_eq!(operations(&fake.log(), "ListResources"), 2);
}

/// The most requests that arrived within any one second.
fn busiest_second(log: &[Value]) -> usize {
    let times: Vec<f64> = log.iter().filter_map(|r| r["t"].as_f64()).collect();
    times
        .iter()
        .map(|&from| {
            times
                .iter()
                .filter(|&&t| t >= from && t < from + 1.0)
                .count()
        })
        .max()
        .unwrap_or(0)
}

#[tokio::test]
async fn every_request_of_an_account_region_passes_one_rate_bound() {
    let fake = FakeCloudControl::start(&json!({"types": {
        "AWS::Kinesis::Stream": {"list": "identifier", "identifier_keys": ["Name"], "page_size": 10,
                                 "resources": streams(24)},
        "AWS::Logs::LogGroup": log_groups(6),
    }}));
    let limits = Arc::new(RateLimits::new(RateLimit::new(10.0, 2).unwrap()));
    let api = api(3);
    let options = FetchOptions {
        read_concurrency: 8,
        ..FetchOptions::default()
    };
    // Two types of one account and region at once share the bucket.
    let (streams, groups) = tokio::join!(
        run(
            &api,
            &fake,
            &limits,
            "AWS::Kinesis::Stream",
            options.clone()
        ),
        run(&api, &fake, &limits, "AWS::Logs::LogGroup", options.clone()),
    );
    assert!(
        streams.1.is_none() && groups.1.is_none(),
        "{:?} {:?}",
        streams.1,
        groups.1
    );
    assert_eq!(
        streams.0.iter().map(|p| p.properties.len()).sum::<usize>(),
        24
    );
    let log = fake.log();
    assert_eq!(log.len(), 3 + 24 + 3, "3 + 3 pages and 24 reads");
    // 10 a second with a burst of 2 lets at most 12 through in a second; half a second of slack
    // absorbs scheduling jitter on a busy machine. Unbounded, all 30 arrive within a fraction of
    // a second.
    let busiest = busiest_second(&log);
    assert!(busiest <= 2 + 15, "{busiest} requests within one second");
}
