//! The state store's one error type. Each message is one sentence naming what was being done
//! and where (DynamoDB table or SQLite file); the underlying error stays reachable as the
//! source.

use super::lease::LeaseHeld;
use crate::aws::api::ApiError;
use std::path::PathBuf;

/// An error of the state store.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// A DynamoDB call failed (after the client's own retries).
    #[error("could not {action} in DynamoDB table {table}: {source}")]
    Dynamo {
        action: String,
        table: String,
        #[source]
        source: Box<ApiError>,
    },
    /// BatchWriteItem kept returning items as unprocessed.
    #[error("could not {action} in DynamoDB table {table}: {remaining} items were still unprocessed after {attempts} attempts")]
    Unprocessed {
        action: String,
        table: String,
        remaining: usize,
        attempts: u32,
    },
    /// An SQLite statement failed.
    #[error("could not {action} in the SQLite state file {}: {source}", path.display())]
    Sqlite {
        action: String,
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    /// The SQLite file was written by a newer version of port-aws-sync.
    #[error("the SQLite state file {} has schema version {found}, newer than the {supported} this version understands", path.display())]
    Schema {
        path: PathBuf,
        found: i64,
        supported: i64,
    },
    /// The state directory could not be created.
    #[error("could not create the state directory {}: {source}", path.display())]
    Directory {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The blocking SQLite task panicked or was cancelled.
    #[error("could not {action} in the SQLite state file {}: the worker thread stopped ({source})", path.display())]
    Worker {
        action: String,
        path: PathBuf,
        #[source]
        source: tokio::task::JoinError,
    },
    /// A stored item or row does not have the expected shape.
    #[error("could not {action} in {location}: a stored item does not parse ({message})")]
    Corrupt {
        action: String,
        location: String,
        message: String,
    },
    /// A key part the store cannot keep apart from others.
    #[error("the {what} `{value}` cannot be stored: {reason}")]
    InvalidKey {
        what: &'static str,
        value: String,
        reason: &'static str,
    },
    /// Another worker holds the scope's lease.
    #[error(transparent)]
    LeaseHeld(Box<LeaseHeld>),
    /// `record_unit` for a run that was never started.
    #[error("run {run_id} of installation {installation} was not started in {location}")]
    RunNotFound {
        installation: String,
        run_id: String,
        location: String,
    },
    /// `start_run` with a run id that already exists.
    #[error("run {run_id} of installation {installation} already exists in {location}")]
    RunExists {
        installation: String,
        run_id: String,
        location: String,
    },
    /// A unit's outcome kept changing under concurrent deliveries of the same unit.
    #[error(
        "could not record unit {unit} of run {run_id} in {location}: it kept changing concurrently"
    )]
    Contended {
        unit: String,
        run_id: String,
        location: String,
    },
}

impl From<LeaseHeld> for StateError {
    fn from(held: LeaseHeld) -> Self {
        StateError::LeaseHeld(Box::new(held))
    }
}

impl StateError {
    /// Whether another worker holds the lease (the caller should fail its message so that SQS
    /// delivers it again later).
    pub fn is_lease_held(&self) -> bool {
        matches!(self, StateError::LeaseHeld(_))
    }
}
