//! [`SqliteStore`]: the embedded backend's file, connection and schema, the default path, and
//! running blocking statements off the async runtime.
//!
//! The file is in WAL mode with `synchronous=NORMAL`: a committed transaction survives the
//! process being killed at any point (a power loss may lose the last transactions, never tear
//! one). Every operation is one transaction (`BEGIN IMMEDIATE`), so a scope is always either
//! its old or its new complete version. Several processes may share the file; they wait for
//! each other's write lock up to [`BUSY_TIMEOUT`].

use crate::state::error::StateError;
use crate::state::store::StoreOptions;
use rusqlite::{Connection, Transaction, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long a statement waits for another process's write lock.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// The schema version this code writes (`PRAGMA user_version`).
pub const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS entities (
    scope TEXT NOT NULL, blueprint TEXT NOT NULL, identifier TEXT NOT NULL,
    fingerprint TEXT NOT NULL, written_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,
    PRIMARY KEY (scope, blueprint, identifier)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS scopes (
    scope TEXT PRIMARY KEY, installation TEXT NOT NULL, account_id TEXT NOT NULL,
    region TEXT NOT NULL, kind TEXT NOT NULL, updated_at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS scopes_by_installation ON scopes (installation);
CREATE TABLE IF NOT EXISTS leases (
    scope TEXT PRIMARY KEY, owner TEXT NOT NULL, expires_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    installation TEXT NOT NULL, run_id TEXT NOT NULL, started_at INTEGER NOT NULL,
    planned INTEGER NOT NULL, done INTEGER NOT NULL, failed INTEGER NOT NULL, closed_at INTEGER,
    PRIMARY KEY (installation, run_id));
CREATE TABLE IF NOT EXISTS units (
    installation TEXT NOT NULL, run_id TEXT NOT NULL, unit TEXT NOT NULL, ok INTEGER NOT NULL,
    reason TEXT, counts TEXT NOT NULL, finished_at INTEGER NOT NULL,
    PRIMARY KEY (installation, run_id, unit));
";

/// The embedded backend: one SQLite file, one connection per store (shared by its clones).
#[derive(Debug, Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
    pub(super) options: StoreOptions,
}

#[derive(Debug)]
struct Inner {
    path: PathBuf,
    conn: Mutex<Connection>,
}

impl SqliteStore {
    /// Opens (creating if needed) the state file at `path`, its directory with mode 0700.
    pub async fn open(path: impl Into<PathBuf>, options: StoreOptions) -> Result<Self, StateError> {
        let path = path.into();
        let opened = path.clone();
        let conn = tokio::task::spawn_blocking(move || open_blocking(&opened))
            .await
            .map_err(|source| StateError::Worker {
                action: "open the state".into(),
                path: path.clone(),
                source,
            })??;
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                path,
                conn: Mutex::new(conn),
            }),
            options,
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Where this store keeps state, for messages.
    pub fn location(&self) -> String {
        format!("the SQLite state file {}", self.inner.path.display())
    }

    /// Runs `work` in one `BEGIN IMMEDIATE` transaction (the write lock taken up front, so
    /// read-then-write cannot deadlock with another writer) on a blocking thread and commits it
    /// when it returns `Ok`; an error names `action` and the file.
    pub(super) async fn transaction<T, F>(&self, action: String, work: F) -> Result<T, StateError>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> rusqlite::Result<T> + Send + 'static,
    {
        self.run(TransactionBehavior::Immediate, action, work).await
    }

    /// [`Self::transaction`] for reads: a deferred transaction, one consistent snapshot that
    /// does not block writers of other processes (WAL).
    pub(super) async fn read<T, F>(&self, action: String, work: F) -> Result<T, StateError>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> rusqlite::Result<T> + Send + 'static,
    {
        self.run(TransactionBehavior::Deferred, action, work).await
    }

    async fn run<T, F>(
        &self,
        behavior: TransactionBehavior,
        action: String,
        work: F,
    ) -> Result<T, StateError>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> rusqlite::Result<T> + Send + 'static,
    {
        let inner = self.inner.clone();
        let task_action = action.clone();
        let joined = tokio::task::spawn_blocking(move || {
            let mut conn = match inner.conn.lock() {
                Ok(guard) => guard,
                Err(poisoned) => poisoned.into_inner(),
            };
            let tx = conn.transaction_with_behavior(behavior)?;
            let out = work(&tx)?;
            tx.commit()?;
            Ok(out)
        })
        .await;
        let path = self.inner.path.clone();
        match joined {
            Ok(result) => result.map_err(|source| StateError::Sqlite {
                action: task_action,
                path,
                source,
            }),
            Err(source) => Err(StateError::Worker {
                action,
                path,
                source,
            }),
        }
    }
}

fn open_blocking(path: &Path) -> Result<Connection, StateError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        create_private_dir(dir).map_err(|source| StateError::Directory {
            path: dir.to_owned(),
            source,
        })?;
    }
    let fail = |source| StateError::Sqlite {
        action: "open the state".into(),
        path: path.to_owned(),
        source,
    };
    let conn = Connection::open(path).map_err(fail)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(fail)?;
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(fail)?;
    if version > SCHEMA_VERSION {
        return Err(StateError::Schema {
            path: path.to_owned(),
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    let _mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .map_err(fail)?;
    conn.execute_batch("PRAGMA synchronous = NORMAL;")
        .map_err(fail)?;
    conn.execute_batch(&format!(
        "BEGIN IMMEDIATE; {SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
    ))
    .map_err(fail)?;
    Ok(conn)
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

/// The default state file: `$XDG_STATE_HOME/port-aws-sync/state.sqlite` when `xdg_state_home`
/// is an absolute path (the XDG spec ignores relative ones), else
/// `~/.local/state/port-aws-sync/state.sqlite`; `None` without either.
pub fn default_path(xdg_state_home: Option<&Path>, home: Option<&Path>) -> Option<PathBuf> {
    let base = match xdg_state_home.filter(|p| p.is_absolute()) {
        Some(state) => state.to_owned(),
        None => home
            .filter(|h| !h.as_os_str().is_empty())?
            .join(".local/state"),
    };
    Some(base.join("port-aws-sync").join("state.sqlite"))
}

/// [`default_path`] from `XDG_STATE_HOME` and `HOME`.
pub fn default_path_from_env() -> Option<PathBuf> {
    let xdg = std::env::var_os("XDG_STATE_HOME").map(PathBuf::from);
    let home = std::env::var_os("HOME").map(PathBuf::from);
    default_path(xdg.as_deref(), home.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_path_prefers_an_absolute_xdg_state_home() {
        let home = Path::new("/home/u");
        assert_eq!(
            default_path(Some(Path::new("/var/st")), Some(home)),
            Some(PathBuf::from("/var/st/port-aws-sync/state.sqlite"))
        );
        assert_eq!(
            default_path(Some(Path::new("rel")), Some(home)),
            Some(PathBuf::from(
                "/home/u/.local/state/port-aws-sync/state.sqlite"
            ))
        );
        assert_eq!(
            default_path(None, Some(home)),
            Some(PathBuf::from(
                "/home/u/.local/state/port-aws-sync/state.sqlite"
            ))
        );
        assert_eq!(default_path(None, None), None);
    }
}
