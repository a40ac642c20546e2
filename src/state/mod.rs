//! What this installation last wrote to Port, per scope, so that a sync costs what changed
//! rather than what exists (issue 14), and run tracking for `port-aws-sync status`.
//!
//! # What is stored
//! - **Scope state.** Per scope [`ScopeKey`] `(installation, account, region, kind)`, one
//!   [`EntityRecord`] per entity the installation wrote there: `(blueprint, identifier)`, the
//!   [`Fingerprint`] of what was written (SHA-256 of canonical JSON and the upsert options, 128
//!   bits) and when it expires. A unit upserts only entities whose fingerprint is new, changed
//!   or expired ([`ScopeState::needs_write`]), and deletes (on proof) recorded entities it did
//!   not produce ([`ScopeState::not_produced`]), without searching Port.
//! - **Scope index.** Per installation, the scopes that have state and their per-blueprint
//!   counts ([`StateStore::scopes`]): the fan-out finds scopes that are gone from it.
//! - **Runs.** Per installation, [`RunRecord`]s (planned, done and failed units, closed time)
//!   and per run one [`UnitOutcome`] per unit.
//! - **Leases.** Per scope, who is syncing it until when ([`Lease`]).
//!
//! # Backends ([`StateStore`])
//! - **DynamoDB** (Lambdas; the CLI when the user names a table, so both share state): one
//!   table, string keys `pk`/`sk`, on-demand, encrypted, TTL on `ttl`:
//!
//!   | item | `pk` | `sk` | attributes |
//!   |---|---|---|---|
//!   | entity record | `S#{inst}#{account}#{region}#{kind}` | `E#{blueprint}#{identifier}` | `fp`, `written`, `expires` (ms), `ttl` |
//!   | scope lease | `S#{inst}#{account}#{region}#{kind}` | `LEASE` | `owner`, `expires` (ms), `ttl` |
//!   | scope index | `SCOPES#{inst}` | `{account}#{region}#{kind}` | `account`, `region`, `kind`, `counts` (map blueprint → n), `updated`, `ttl` |
//!   | run listing | `RUNS#{inst}` | `{started ISO}#{run_id}` | `run_id`, `ttl` |
//!   | run header | `RUN#{inst}#{run_id}` | `RUN` | `installation`, `run_id`, `started`, `planned`, `done`, `failed`, `closed`, `ttl` |
//!   | unit outcome | `RUN#{inst}#{run_id}` | `U#{unit label}` | `ok`, `reason`, `counts`, `finished`, `ttl` |
//!
//!   Blueprint identifiers cannot contain `#` (Port forbids it), identifiers can: an entity
//!   sort key splits at its first separators only. Scope key parts must not contain `#`
//!   ([`ScopeKey::validate`]). Reads are consistent; writes are BatchWriteItem in chunks of 25
//!   with retry of unprocessed items.
//! - **SQLite** (the CLI's default, no set-up): one file, by default
//!   `$XDG_STATE_HOME/port-aws-sync/state.sqlite` or `~/.local/state/port-aws-sync/state.sqlite`
//!   ([`sqlite::default_path`]), directory mode 0700, WAL; every operation is one transaction.
//!
//! # Consistency
//! - A unit takes its scope's lease before reading the scope's state and releases it after
//!   writing it, so two workers never interleave on one scope (SQS redelivers a message while
//!   its first delivery still runs). A worker that cannot take the lease fails its message and
//!   SQS delivers it again later. A lease that expired is taken over: its holder crashed. The
//!   lease TTL must exceed the holder's longest life (the worker Lambda's timeout), so a live
//!   holder never loses its lease; [`StateStore::renew_lease`] extends it for long units.
//! - State is written only after Port confirmed the writes it records, and each record is a
//!   fact on its own: a record says "Port holds this entity as fingerprinted", a removed record
//!   says "deleted". A crash or failure between the Port write and the state write, or in the
//!   middle of a DynamoDB write (records are written independently), leaves records that are
//!   missing or old: the next run sees an unrecorded or changed fingerprint and rewrites, or
//!   sees a recorded entity it did not produce and deletes it again. Either way it converges;
//!   nothing is lost, at worst re-checked. SQLite writes a scope atomically.
//! - The scope index item is written before a scope's records and deleted only after its last
//!   record, so every scope with records is listed.
//! - A run closes once: recording a unit counts it once however often it is delivered (a
//!   DynamoDB transaction puts the outcome only if absent and adds to the counters), and the
//!   closing write is conditioned on `closed` being absent and `done >= planned`.
//!
//! # Expiry
//! A record vouches for its entity until `expires_at = written_at + max_age * (1 - j)`, `j`
//! uniform in `[0, jitter)` ([`ExpiryPolicy`], default 7 days and 0.2): every entity is
//! rewritten at least that often, so an edit in Port's UI or a lost write heals, and entities
//! written together do not all expire together. DynamoDB's TTL removes records
//! [`StoreOptions::retention`] after they expire (and runs after they start), which only
//! matters for scopes no longer synced at all.
//!
//! # Map
//! - [`model`]: [`ScopeKey`], [`EntityRecord`], [`ScopeState`], [`ScopeChanges`],
//!   [`ScopeSummary`].
//! - [`time`]: the time type, [`Timestamp`].
//! - [`mod@fingerprint`]: [`fingerprint()`], [`ExpiryPolicy`].
//! - [`runs`]: [`RunRecord`], [`UnitOutcome`], [`RunProgress`].
//! - [`lease`]: [`Lease`], [`LeaseHeld`].
//! - [`store`]: [`StateStore`], [`StoreOptions`].
//! - [`dynamodb`], [`sqlite`]: the backends.
//! - [`error`]: the error type, [`StateError`].

pub mod dynamodb;
pub mod error;
pub mod fingerprint;
pub mod lease;
pub mod model;
pub mod runs;
pub mod sqlite;
pub mod store;
pub mod time;

pub use error::StateError;
pub use fingerprint::{fingerprint, fingerprint_entity, ExpiryPolicy, Fingerprint};
pub use lease::{Lease, LeaseHeld};
pub use model::{
    EntityKey, EntityRecord, ScopeChanges, ScopeKey, ScopeState, ScopeSummary, Timestamp,
};
pub use runs::{RunProgress, RunRecord, UnitCounts, UnitOutcome};
pub use store::{StateStore, StoreOptions};
