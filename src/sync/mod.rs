//! Planning units `(account, region, kind)` and running them: the engine shared by the CLI and
//! the Lambdas.

pub mod datasource;
pub mod engine;
pub mod plan;
pub mod reconcile;
pub mod run;
pub mod scopes;
pub mod sink;
pub mod stale;
pub mod summary;
pub mod unit;

pub use engine::{new_sync_id, Engine};
pub use plan::{plan_units, Scope, ScopeError, Unit, GLOBAL};
pub use reconcile::{reconcile_scopes, ScopeReport};
pub use run::{run_isolated, run_isolated_until, run_units};
pub use sink::Sink;
pub use stale::{Cleanup, Deletion};
pub use summary::Summary;
pub use unit::{run_unit, UnitReport};
