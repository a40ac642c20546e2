//! Configuration: one typed [`Config`] read from the environment by [`Config::from_env`], shared
//! by the CLI and both Lambdas. Every malformed value is rejected before any work with a
//! [`ConfigError`] that names the variable and the expected form, and never echoes a secret.
//!
//! One file per group of variables: [`port`] (Port API, credentials, installation id),
//! [`accounts`] (which accounts and how to reach them), [`coverage`] (regions, kinds, mapping),
//! [`runtime`] (concurrency, Port resources, work queue), [`state`] (sync state); [`env`](self::env)
//! puts them together.

pub mod accounts;
pub mod coverage;
pub mod env;
pub mod port;
mod region_policy;
pub mod runtime;
pub mod state;

pub use accounts::AccountsMode;
pub use coverage::{parse_kinds, parse_region_policy};
pub use env::{Config, ConfigError};
pub use port::{
    PortCredentialsSource, Secret, DEFAULT_INTEGRATION_IDENTIFIER, DEFAULT_PORT_BASE_URL,
};
pub use region_policy::{is_known_region, RegionPolicy, KNOWN_REGIONS};
pub use runtime::Concurrency;
pub use state::StateConfig;
