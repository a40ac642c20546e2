//! The Port REST API client (`https://api.getport.io/v1`): auth, retries, bulk upsert, search,
//! bulk delete, default blueprints. See Port's API reference for the contract.

pub mod blueprints;
pub mod client;
pub mod clock;
pub mod credentials;
pub mod entities;
pub mod integration;
pub mod retry;

pub use client::{datasource_prefix, user_agent, PortClient, PortError, VERSION};
pub use credentials::{client_from_config, CredentialsError, MAX_CONCURRENT_REQUESTS};
pub use entities::{EntityFailure, UpsertOptions, UpsertReport};
