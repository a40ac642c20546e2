//! AWS SDK configuration shared by every client: the base config (default credential chain,
//! `AWS_ENDPOINT_URL`), retry sizing, per-account configs and per-service client builders.
//! [`api`] is the model-driven client that resource kinds call AWS with.

pub mod api;

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use std::time::Duration;

/// The region used for global calls (STS, Organizations, DescribeRegions, ListBuckets) of a partition.
pub fn home_region(partition: &str) -> &'static str {
    match partition {
        "aws-us-gov" => "us-gov-west-1",
        "aws-cn" => "cn-north-1",
        _ => "us-east-1",
    }
}

/// Retries sized for a sync that runs many calls per account at once: more attempts than the SDK's
/// default 3 so that throttling slows a unit down instead of failing it.
pub fn retry_config() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(8)
        .with_initial_backoff(Duration::from_millis(200))
        .with_max_backoff(Duration::from_secs(20))
}

/// Loads the base config from the environment: the default credential chain (access keys,
/// profile, web identity, ECS task or EC2 instance role) and `AWS_ENDPOINT_URL`.
pub async fn load_base_config() -> SdkConfig {
    let loader = aws_config::defaults(BehaviorVersion::latest()).retry_config(retry_config());
    let config = loader.load().await;
    if config.region().is_none() {
        // Global calls need some region; the partition's home region is set per client later.
        return config
            .into_builder()
            .region(Region::new(home_region("aws")))
            .build();
    }
    config
}

/// The same config in another region.
pub fn in_region(sdk: &SdkConfig, region: &str) -> SdkConfig {
    sdk.to_builder()
        .region(Region::new(region.to_owned()))
        .build()
}

/// An S3 client for a bucket's region; path-style addressing when an endpoint override is set
/// (local emulators cannot serve virtual-hosted buckets).
pub fn s3_client(sdk: &SdkConfig, region: &str) -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::config::Builder::from(sdk)
        .region(Region::new(region.to_owned()))
        .force_path_style(sdk.endpoint_url().is_some())
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}
