//! The embedded backend for the CLI: one SQLite file (bundled SQLite, nothing to install), by
//! default under the user's state directory ([`default_path`]).
//!
//! - [`conn`]: [`SqliteStore`], opening, schema, WAL, blocking work off the runtime.
//! - [`scopes`]: scope state and the scope index.
//! - [`runs`]: runs and unit outcomes.
//! - [`lease`]: per-scope leases.

pub mod conn;
pub mod lease;
pub mod runs;
pub mod scopes;

pub use conn::{default_path, default_path_from_env, SqliteStore};
