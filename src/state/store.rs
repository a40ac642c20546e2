//! [`StateStore`]: the one type the engine uses, dispatching to the DynamoDB or the SQLite
//! backend. DynamoDB is called directly; SQLite sits behind a trait object ([`Embedded`]) whose
//! vtable is made only by [`StateStore::sqlite`], which only the CLI calls: the Lambda binaries
//! never reference SQLite's code, so the linker leaves it (and the bundled C library) out of
//! them.

use super::dynamodb::DynamoStore;
use super::error::StateError;
use super::lease::Lease;
use super::model::{ScopeChanges, ScopeKey, ScopeState, ScopeSummary};
use super::runs::{RunProgress, RunRecord, UnitOutcome};
use super::sqlite::SqliteStore;
use crate::aws::api::ServiceClient;
use futures_util::future::BoxFuture;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Tuning shared by both backends.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// How long state outlives its last write: DynamoDB items carry a TTL this long after their
    /// expiry (entities) or start (runs); SQLite purges older runs. Default 90 days; keep it
    /// longer than the fingerprints' max age.
    pub retention: Duration,
    /// DynamoDB Query page size; `None` for DynamoDB's 1 MB pages.
    pub page_size: Option<u32>,
    /// BatchWriteItem attempts per chunk while items come back unprocessed. Default 8.
    pub batch_attempts: u32,
    /// Concurrent BatchWriteItem calls of one write. Default 4.
    pub batch_concurrency: usize,
    /// Backoff between attempts (full jitter, doubling up to the cap).
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            retention: Duration::from_secs(90 * 24 * 3600),
            page_size: None,
            batch_attempts: 8,
            batch_concurrency: 4,
            backoff_base: Duration::from_millis(50),
            backoff_cap: Duration::from_secs(5),
        }
    }
}

/// Where state is kept. Cheap to clone; clones share the connection (SQLite) or client.
// One store per process, moved rather than copied: the size difference does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum StateStore {
    /// The Lambdas' store, and the CLI's when the user names a table.
    DynamoDb(DynamoStore),
    /// The CLI's embedded default.
    Sqlite(Arc<dyn Embedded>),
}

type Fut<'a, T> = BoxFuture<'a, Result<T, StateError>>;

/// The operations of [`StateStore`], as a trait object for the embedded backend (see the module
/// documentation for why).
pub trait Embedded: std::fmt::Debug + Send + Sync {
    fn location(&self) -> String;
    fn read_scope<'a>(&'a self, scope: &'a ScopeKey) -> Fut<'a, ScopeState>;
    fn write_scope<'a>(
        &'a self,
        scope: &'a ScopeKey,
        base: &'a ScopeState,
        changes: ScopeChanges,
    ) -> Fut<'a, ()>;
    fn scopes<'a>(&'a self, installation: &'a str) -> Fut<'a, Vec<ScopeSummary>>;
    fn forget_scope<'a>(&'a self, scope: &'a ScopeKey) -> Fut<'a, ()>;
    fn start_run<'a>(&'a self, run: &'a RunRecord) -> Fut<'a, ()>;
    fn record_unit<'a>(
        &'a self,
        installation: &'a str,
        run_id: &'a str,
        outcome: UnitOutcome,
    ) -> Fut<'a, RunProgress>;
    fn recent_runs<'a>(&'a self, installation: &'a str, limit: usize) -> Fut<'a, Vec<RunRecord>>;
    fn run_units<'a>(&'a self, installation: &'a str, run_id: &'a str)
        -> Fut<'a, Vec<UnitOutcome>>;
    fn acquire_lease<'a>(
        &'a self,
        scope: &'a ScopeKey,
        owner: &'a str,
        ttl: Duration,
    ) -> Fut<'a, Lease>;
    fn renew_lease<'a>(&'a self, lease: &'a Lease, ttl: Duration) -> Fut<'a, Lease>;
    fn release_lease<'a>(&'a self, lease: &'a Lease) -> Fut<'a, bool>;
}

impl Embedded for SqliteStore {
    fn location(&self) -> String {
        SqliteStore::location(self)
    }
    fn read_scope<'a>(&'a self, scope: &'a ScopeKey) -> Fut<'a, ScopeState> {
        Box::pin(SqliteStore::read_scope(self, scope))
    }
    fn write_scope<'a>(
        &'a self,
        scope: &'a ScopeKey,
        base: &'a ScopeState,
        changes: ScopeChanges,
    ) -> Fut<'a, ()> {
        Box::pin(SqliteStore::write_scope(self, scope, base, changes))
    }
    fn scopes<'a>(&'a self, installation: &'a str) -> Fut<'a, Vec<ScopeSummary>> {
        Box::pin(SqliteStore::scopes(self, installation))
    }
    fn forget_scope<'a>(&'a self, scope: &'a ScopeKey) -> Fut<'a, ()> {
        Box::pin(SqliteStore::forget_scope(self, scope))
    }
    fn start_run<'a>(&'a self, run: &'a RunRecord) -> Fut<'a, ()> {
        Box::pin(SqliteStore::start_run(self, run))
    }
    fn record_unit<'a>(
        &'a self,
        installation: &'a str,
        run_id: &'a str,
        outcome: UnitOutcome,
    ) -> Fut<'a, RunProgress> {
        Box::pin(SqliteStore::record_unit(
            self,
            installation,
            run_id,
            outcome,
        ))
    }
    fn recent_runs<'a>(&'a self, installation: &'a str, limit: usize) -> Fut<'a, Vec<RunRecord>> {
        Box::pin(SqliteStore::recent_runs(self, installation, limit))
    }
    fn run_units<'a>(
        &'a self,
        installation: &'a str,
        run_id: &'a str,
    ) -> Fut<'a, Vec<UnitOutcome>> {
        Box::pin(SqliteStore::run_units(self, installation, run_id))
    }
    fn acquire_lease<'a>(
        &'a self,
        scope: &'a ScopeKey,
        owner: &'a str,
        ttl: Duration,
    ) -> Fut<'a, Lease> {
        Box::pin(SqliteStore::acquire_lease(self, scope, owner, ttl))
    }
    fn renew_lease<'a>(&'a self, lease: &'a Lease, ttl: Duration) -> Fut<'a, Lease> {
        Box::pin(SqliteStore::renew_lease(self, lease, ttl))
    }
    fn release_lease<'a>(&'a self, lease: &'a Lease) -> Fut<'a, bool> {
        Box::pin(SqliteStore::release_lease(self, lease))
    }
}

macro_rules! dispatch {
    ($self:ident, $store:ident => $call:expr) => {
        match $self {
            StateStore::DynamoDb($store) => $call,
            StateStore::Sqlite($store) => $call,
        }
    };
}

impl StateStore {
    /// A DynamoDB store over `table`, through a `dynamodb` client of the model-driven AWS client.
    pub fn dynamodb(
        client: ServiceClient,
        table: impl Into<String>,
        options: StoreOptions,
    ) -> Self {
        StateStore::DynamoDb(DynamoStore::new(client, table, options))
    }

    /// Opens (creating it and its 0700 directory if needed) the SQLite file at `path`; see
    /// [`super::sqlite::default_path`] for the default.
    pub async fn sqlite(
        path: impl Into<PathBuf>,
        options: StoreOptions,
    ) -> Result<Self, StateError> {
        Ok(StateStore::Sqlite(Arc::new(
            SqliteStore::open(path, options).await?,
        )))
    }

    /// Where state is kept, for messages ("DynamoDB table x", "the SQLite state file /p").
    pub fn location(&self) -> String {
        dispatch!(self, s => s.location())
    }

    /// Every record of `scope`.
    pub async fn read_scope(&self, scope: &ScopeKey) -> Result<ScopeState, StateError> {
        dispatch!(self, s => s.read_scope(scope).await)
    }

    /// Applies `changes` (Port-confirmed upserts and deletions) to `scope`, whose state before
    /// them is `base`, read under the same lease. DynamoDB derives the scope index's counts from
    /// `base`, which saves reading the scope again; a stale `base` only skews those counts until
    /// the scope's next write.
    pub async fn write_scope(
        &self,
        scope: &ScopeKey,
        base: &ScopeState,
        changes: ScopeChanges,
    ) -> Result<(), StateError> {
        dispatch!(self, s => s.write_scope(scope, base, changes).await)
    }

    /// The scopes of `installation` with state, and their per-blueprint counts, ordered by scope.
    pub async fn scopes(&self, installation: &str) -> Result<Vec<ScopeSummary>, StateError> {
        dispatch!(self, s => s.scopes(installation).await)
    }

    /// Deletes the state of `scope` (records and index entry).
    pub async fn forget_scope(&self, scope: &ScopeKey) -> Result<(), StateError> {
        dispatch!(self, s => s.forget_scope(scope).await)
    }

    /// Records a run the fan-out just planned (`done`, `failed` and `closed_at` of `run` are
    /// ignored: a run starts with none). A run of zero units is closed as it starts.
    pub async fn start_run(&self, run: &RunRecord) -> Result<(), StateError> {
        dispatch!(self, s => s.start_run(run).await)
    }

    /// Records a unit's outcome; `just_closed` is true for exactly one caller per run.
    pub async fn record_unit(
        &self,
        installation: &str,
        run_id: &str,
        outcome: UnitOutcome,
    ) -> Result<RunProgress, StateError> {
        dispatch!(self, s => s.record_unit(installation, run_id, outcome).await)
    }

    /// The `limit` latest runs of `installation`, newest first.
    pub async fn recent_runs(
        &self,
        installation: &str,
        limit: usize,
    ) -> Result<Vec<RunRecord>, StateError> {
        dispatch!(self, s => s.recent_runs(installation, limit).await)
    }

    /// The unit outcomes of a run, ordered by unit label.
    pub async fn run_units(
        &self,
        installation: &str,
        run_id: &str,
    ) -> Result<Vec<UnitOutcome>, StateError> {
        dispatch!(self, s => s.run_units(installation, run_id).await)
    }

    /// Takes the lease of `scope` for `owner` for `ttl`; [`StateError::LeaseHeld`] when another
    /// owner holds an unexpired one.
    pub async fn acquire_lease(
        &self,
        scope: &ScopeKey,
        owner: &str,
        ttl: Duration,
    ) -> Result<Lease, StateError> {
        dispatch!(self, s => s.acquire_lease(scope, owner, ttl).await)
    }

    /// Extends a lease this owner still holds; [`StateError::LeaseHeld`] when it was lost.
    pub async fn renew_lease(&self, lease: &Lease, ttl: Duration) -> Result<Lease, StateError> {
        dispatch!(self, s => s.renew_lease(lease, ttl).await)
    }

    /// Releases a lease; `false` when it was no longer held by this owner.
    pub async fn release_lease(&self, lease: &Lease) -> Result<bool, StateError> {
        dispatch!(self, s => s.release_lease(lease).await)
    }
}
