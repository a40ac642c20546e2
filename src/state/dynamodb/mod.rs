//! The DynamoDB backend: one table (`pk`/`sk` strings, on-demand, encrypted, TTL on `ttl`)
//! through the model-driven client [`crate::aws::api`]. The item layout is in [`items`] and in
//! the [`crate::state`] module doc.
//!
//! - [`client`]: [`DynamoStore`], its error mapping, paging and [`create_table`].
//! - [`items`]: keys and item conversions.
//! - [`batch`]: BatchWriteItem in chunks of 25 with retry of unprocessed items.
//! - [`scopes`]: scope state and the scope index.
//! - [`runs`]: runs, unit outcomes and closing a run once.
//! - [`lease`]: per-scope leases.

pub mod batch;
pub mod client;
pub mod items;
pub mod lease;
pub mod runs;
pub mod scopes;

pub use client::{create_table, DynamoStore};
