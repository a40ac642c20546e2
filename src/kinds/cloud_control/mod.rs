//! Any CloudFormation resource type as a kind, through the AWS Cloud Control API.
//!
//! A mapping whose `kind` is a CloudFormation type name (`AWS::Lambda::Function`) that no native
//! kind implements is synced with Cloud Control's `ListResources`, plus `GetResource` where the
//! listing lacks properties. `Properties` are what Cloud Control returns: the resource model of
//! the type's CloudFormation schema, with the schema's property names and casing (`FunctionName`,
//! `MemorySize`), which is not always the casing of the service's own API.
//!
//! # Surface
//! - [`support`], [`validate()`], [`closest`], [`required_iam_actions`]: what Cloud Control can list,
//!   from a table generated out of the CloudFormation schemas inside the pinned cfn-lint
//!   (`types.tsv`, written by `scripts/gen-cloud-control-types`, checked by `scripts/test`). A type
//!   that cannot be listed is a configuration error at `validate` time, naming the closest
//!   listable types; the table also says in which regions each type exists.
//! - [`fetch()`]: a stream of [`Page`]s of `Properties` for one type in one account and region.
//! - [`RateLimits`]: one [`TokenBucket`] per account and region that every request passes.
//! - [`CloudControlError`]: [`CloudControlError::TypeNotAvailable`] (the region does not serve the
//!   type: skip, do not fail) apart from real failures.
//!
//! Native kinds win over Cloud Control for the same type name: the kind registry looks a name up
//! among its native kinds first and asks this module only for the rest. Stale entities of a Cloud
//! Control kind are deleted as for native kinds, and only after a fetch that ended without error.
//!
//! # Limits, and why requests are rate-bound
//! - AWS publishes Cloud Control's endpoints and quotas at
//!   <https://docs.aws.amazon.com/general/latest/gr/cloudcontrolapi.html>; we found no published
//!   request-rate quota for `ListResources` or `GetResource`. Measured, Cloud Control throttles
//!   (`ThrottlingException: Rate exceeded`) from about 30 requests a second, and aws-nuke settled
//!   on 25 a second for all its Cloud Control calls
//!   (<https://github.com/ekristen/aws-nuke/issues/508>,
//!   <https://github.com/ekristen/aws-nuke/pull/510>).
//! - Each request runs the type's handler, which calls the service itself with our credentials
//!   (`lambda:ListFunctions`, ...), so it also spends that service's API rate, shared with the
//!   account's other callers.
//! - `MaxResults` is "Reserved" (not supported yet, <https://github.com/aws/aws-sdk/issues/764>);
//!   pages are as large as Cloud Control makes them, so large types take many pages.
//!
//! Hence a strict bound: [`RateLimit::default`] is 5 requests a second with a burst of 5 per
//! account and region, shared by every Cloud Control type synced there. Throttling answers are
//! still retried by the client with backoff ([`crate::aws::api::ApiOptions`]); those retries come
//! on top of the bucket's requests.
//!
//! # IAM
//! The member role needs `cloudformation:ListResources` and `cloudformation:GetResource` plus the
//! type's list and read handler permissions ([`required_iam_actions`]); see docs/cloud-control.md.

pub mod error;
pub mod fetch;
pub mod kind;
pub mod rate;
pub mod table;
pub mod validate;

pub use error::CloudControlError;
pub use fetch::{fetch, FetchOptions, Page, ReadPolicy};
pub use kind::fetch_kind;
pub use rate::{RateLimit, RateLimits, TokenBucket};
pub use table::{
    listable_types, required_iam_actions, support, CloudControlType, NotListable, Support,
    CLOUD_CONTROL_ACTIONS,
};
pub use validate::{closest, validate, UnsupportedType};
