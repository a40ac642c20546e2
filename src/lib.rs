//! port-aws-sync: keeps a Port software catalog in sync with AWS, from one account up to a whole
//! AWS Organization. The same engine serves the CLI (`port-aws-sync`) and the Lambdas (`fanout`,
//! `worker`).
//!
//! - [`config`]: one typed [`config::Config`] from the environment.
//! - [`discovery`]: accounts, sessions (AssumeRole) and enabled regions.
//! - [`kinds`]: one file per resource kind, AWS calls and raw objects.
//! - [`mapping`]: the Ocean-compatible port-app-config and its JQ mappings.
//! - [`port`]: the Port REST API client.
//! - [`state`]: what was last written per scope (DynamoDB or SQLite), leases and runs.
//! - [`sync`]: planning units `(account, region, kind)` and running them.

pub mod arn;
pub mod aws;
pub mod cli;
pub mod config;
pub mod discovery;
pub mod kinds;
pub mod lambda;
pub mod mapping;
pub mod port;
pub mod state;
pub mod sync;
pub mod telemetry;
