//! Planning units `(account, region, kind)` and running them: the engine shared by the CLI and
//! the Lambdas. [`orchestrate`] starts every run; [`run`] runs units (the CLI's whole plan, or a
//! worker's SQS batch); [`unit`](self::unit) is one unit from fetch to sink.

pub mod account_gate;
pub mod engine;
pub mod orchestrate;
pub mod plan;
pub mod refresh;
pub mod run;
pub mod sink;
pub mod state_sync;
pub mod summary;
pub mod tracking;
pub mod unit;
pub mod verify;

pub use engine::{new_sync_id, Engine};
pub use orchestrate::{start_run, PortMode, RunStart, StartError};
pub use plan::{plan_units, Plan, Scope, ScopeError, Unit, GLOBAL};
pub use run::{run_units, Batch};
pub use sink::Sink;
pub use summary::Summary;
pub use unit::{run_unit, UnitReport};
