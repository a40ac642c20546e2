//! port-aws-sync: keeps a Port software catalog in sync with AWS, from one account up to a whole
//! AWS Organization. The same engine serves the CLI (`port-aws-sync`) and the Lambdas (`fanout`,
//! `worker`).
//!
//! - [`setup`]: the one set-up of every process (configuration, Port client, mapping, engine).
//! - [`config`]: one typed [`config::Config`] from the environment.
//! - [`discovery`]: accounts, sessions (AssumeRole) and enabled regions.
//! - [`kinds`]: one file per resource kind, AWS calls and raw objects.
//! - [`mapping`]: the Ocean-compatible port-app-config and its JQ mappings.
//! - [`memory`]: the bound on large pages held at once across units.
//! - [`permissions`]: the read-only IAM policy a mapping needs, from the kind registry.
//! - [`port`]: the Port REST API client.
//! - [`state`]: what was last written per scope (DynamoDB or SQLite), leases and runs.
//! - [`sync`]: starting a run, planning units `(account, region, kind)` and running them.
//! - [`deletion`]: stale-entity deletion, per unit and for scopes that are gone.
//! - [`lambda`] and [`cli`]: the two ways to run it; [`aws_error`]: AWS errors for people.
//!
//! `docs/architecture.md` follows one unit from the schedule to Port.

pub mod arn;
pub mod aws;
pub mod aws_error;
pub mod cli;
pub mod config;
pub mod deletion;
pub mod discovery;
pub mod kinds;
pub mod lambda;
pub mod mapping;
pub mod memory;
pub mod permissions;
pub mod port;
pub mod setup;
pub mod state;
pub mod sync;
pub mod telemetry;
#[cfg(test)]
pub mod test_support;
pub mod tls;
