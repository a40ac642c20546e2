//! A small model-driven AWS API client that returns what boto3 returns.
//!
//! # Why
//! The raw objects we send to Port follow Port's Ocean `aws-v3` integration, whose `Properties`
//! are boto3's parse of each API response. boto3 is driven by botocore's service models (data,
//! not code), so this client is too: it reads trimmed copies of those models and walks their
//! shapes to build requests and parse responses. One client then serves every service and
//! protocol, a new operation is a line in a manifest rather than a new SDK crate (each
//! `aws-sdk-*` crate costs minutes of cold build), and the output keeps boto3's names and
//! structure by construction.
//!
//! The SDK crates stay for plumbing (credentials chain, STS, Organizations, SQS, Secrets
//! Manager, SSM, S3); resource kinds call AWS through this client.
//!
//! # Use
//! ```no_run
//! # async fn demo(sdk: &aws_config::SdkConfig) -> Result<(), Box<dyn std::error::Error>> {
//! use futures_util::StreamExt;
//! use port_aws_sync::aws::api::{ApiOptions, AwsApi};
//! use serde_json::json;
//!
//! let api = AwsApi::new(ApiOptions::default())?; // once per process
//! let lambda = api.client("lambda", sdk, "eu-west-1")?; // per service, account and region
//! let function = lambda.call("GetFunction", json!({"FunctionName": "f"})).await?;
//! let mut pages = std::pin::pin!(lambda.pages("ListFunctions", json!({"MaxItems": 50})));
//! while let Some(page) = pages.next().await {
//!     for f in page?["Functions"].as_array().into_iter().flatten() { /* ... */ }
//! }
//! # let _ = function; Ok(()) }
//! ```
//! Inputs and outputs are `serde_json::Value`s with API member names (`InstanceId`,
//! `FunctionName`, EKS's `arn`), timestamps as ISO-8601 millis in UTC. Outputs match boto3's
//! except that keys the model does not know are kept (new AWS fields arrive without a change)
//! and blobs stay base64 text.
//!
//! # Adding an operation
//! Add its name to the service's line in `src/aws/api/models/MANIFEST` (a new service is a new
//! line, botocore's service name first), run `scripts/gen-aws-models`, commit the regenerated
//! `models/`. `scripts/test` runs `scripts/gen-aws-models --check`. The generator refuses what
//! the client cannot do (streams, host prefixes, paginators with expressions other than member
//! paths).
//!
//! # Map
//! - [`model`] holds the models' serde types; each model is parsed on first use, never at
//!   start-up.
//! - [`protocol`] turns an input into a request and a response into output or error, per
//!   protocol, with [`json`], [`rest`], [`query`] and [`xml`]; [`timestamp`] converts times;
//!   [`customizations`] adds what boto3 does in code rather than in its models (IAM policy
//!   documents, Route 53 ids).
//! - [`client`] has [`AwsApi`] and [`ServiceClient::call`]: endpoint ([`endpoint`]),
//!   credentials ([`credentials`]), SigV4 signing, timeouts, retries ([`retry`]), counters.
//! - [`pages`] has [`ServiceClient::pages`]; [`xml_parts`] reads a large XML page part by part
//!   ([`ServiceClient::pages_xml`]).
//! - [`error`] has [`ApiError`].

pub mod client;
pub mod credentials;
pub mod customizations;
pub mod endpoint;
pub mod error;
pub mod json;
pub mod model;
pub mod pages;
pub mod protocol;
pub mod query;
pub mod rest;
pub mod retry;
pub mod timestamp;
pub mod xml;
pub mod xml_parts;

pub use client::{ApiOptions, AwsApi, CallCounts, ServiceClient};
pub use error::ApiError;
