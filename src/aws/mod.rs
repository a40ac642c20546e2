//! AWS SDK configuration shared by every client: the base config (default credential chain,
//! `AWS_ENDPOINT_URL`), retry sizing, per-account configs and per-service client builders.
//! [`api`] is the model-driven client that resource kinds call AWS with.

pub mod api;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use std::time::Duration;

/// Establishing a connection to an AWS endpoint.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// One HTTP attempt of an AWS call, the answer included.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);
/// One AWS call with all its attempts and waits.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(120);

/// The region used for global calls (STS, Organizations, DescribeRegions, ListBuckets) of a partition.
pub fn home_region(partition: &str) -> &'static str {
    match partition {
        "aws-us-gov" => "us-gov-west-1",
        "aws-cn" => "cn-north-1",
        _ => "us-east-1",
    }
}

/// The partition a region belongs to.
pub fn region_partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// The region STS is called in for `partition`: this process's own region (the Lambda's) when it
/// is in that partition, so the call goes to the regional endpoint next to it; the partition's
/// home region otherwise.
pub fn sts_region(own_region: Option<&str>, partition: &str) -> String {
    match own_region {
        Some(region) if region_partition(region) == partition => region.to_owned(),
        _ => home_region(partition).to_owned(),
    }
}

/// Timeouts of every SDK client: a half-open connection or a silent endpoint fails the call
/// (and its retries) instead of holding a unit for ever.
pub fn timeout_config() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
        .operation_timeout(OPERATION_TIMEOUT)
        .build()
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
    let loader = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(retry_config())
        .timeout_config(timeout_config());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sts_is_called_next_to_the_function_within_its_partition() {
        assert_eq!(sts_region(Some("eu-west-1"), "aws"), "eu-west-1");
        assert_eq!(
            sts_region(Some("us-gov-east-1"), "aws-us-gov"),
            "us-gov-east-1"
        );
        assert_eq!(sts_region(Some("eu-west-1"), "aws-us-gov"), "us-gov-west-1");
        assert_eq!(sts_region(Some("eu-west-1"), "aws-cn"), "cn-north-1");
        assert_eq!(sts_region(None, "aws"), "us-east-1");
    }

    #[test]
    fn sdk_clients_have_every_timeout() {
        let t = timeout_config();
        assert_eq!(t.connect_timeout(), Some(CONNECT_TIMEOUT));
        assert_eq!(t.operation_attempt_timeout(), Some(ATTEMPT_TIMEOUT));
        assert_eq!(t.operation_timeout(), Some(OPERATION_TIMEOUT));
    }
}
