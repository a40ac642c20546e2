//! Stale-entity deletion: what may be deleted, and the proof of it. Nothing this installation did
//! not write is ever touched, and nothing that may still exist is deleted (`docs/deletion.md`).
//!
//! Two steps, shared by the CLI and the Lambdas:
//! - **Per unit** ([`per_unit`]): after a unit `(account, region, kind)` completed, the entities
//!   this installation owns in that scope that the unit did not produce are deleted. Only a
//!   [`proof::CompleteUnit`] (obtainable only from a [`proof::Completeness::Complete`] outcome)
//!   gets there.
//! - **Scopes that are gone** ([`gone_scopes`]): at planning time, entities of scopes the plan no
//!   longer covers are deleted when the scope is known to be gone (account closed or left the
//!   organization, region denied, kind removed), and kept when it may merely be unreachable or
//!   unsynced. The run's facts are in [`gone_scope_facts`], the classes and their verdicts in
//!   [`gone_scope_classes`].
//!
//! Both select entities by their `$datasource` ([`datasource`]: conditions that become Port search
//! queries and are also evaluated locally, so a class that would match a planned unit is refused),
//! apply `entityDeletionThreshold` and the `$updatedAt` guard ([`proof`]), and delete through
//! [`cleanup::Cleanup`] in batches (or only count, in a dry run's preview).

pub mod cleanup;
pub mod datasource;
pub mod from_state;
pub mod gone_scope_classes;
pub mod gone_scope_facts;
pub mod gone_scopes;
pub mod per_unit;
pub mod proof;

pub use cleanup::Cleanup;
pub use datasource::owned_scope_query;
pub use gone_scopes::{delete_gone_scopes, GoneScopeReport};
pub use per_unit::Deletion;
pub use proof::{CompleteUnit, Completeness, IncompleteReason};
