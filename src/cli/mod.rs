//! The `port-aws-sync` command line: one-time sync, dry run, plan, mapping playground, validate,
//! and the IAM policy a mapping needs.
//! Each command is a thin layer over the library: [`crate::setup`] builds the engine,
//! [`crate::sync::start_run`] starts a run, [`crate::sync::run_units`] runs it.

mod args;
mod commands;
mod live_events;
mod permissions;
mod playground;
mod status;
mod sync;

pub use args::{
    Cli, Command, LiveEventsCommand, LivePatternArgs, LivePatternFormat, MapArgs, PermissionsArgs,
    PermissionsFormat, ScopeArgs, StatusArgs, SyncArgs, ValidateArgs,
};
pub use commands::{run, EXIT_CONFIG, EXIT_FAILED};
pub use playground::read_raw_objects;
