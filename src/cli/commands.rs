//! Dispatching a command, the exit codes, and what the commands that touch AWS share: the set-up
//! and `plan`.

use super::args::{Cli, Command, ScopeArgs};
use crate::config::Config;
use crate::setup::{self, PortUse, Setup};
use crate::sync::{start_run, PortMode, Scope};
use std::io::Write;
use std::process::ExitCode;

/// Exit code of a run where something failed.
pub const EXIT_FAILED: u8 = 1;
/// Exit code of bad configuration or arguments.
pub const EXIT_CONFIG: u8 = 2;

/// Runs the CLI and returns the process exit code.
pub async fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Sync(args) => super::sync::sync(args).await,
        Command::Plan(args) => plan(args).await,
        Command::Map(args) => super::playground::map(args).await,
        Command::Validate(args) => super::playground::validate(args).await,
        Command::Permissions(args) => super::permissions::permissions(args).await,
        Command::Status(args) => super::status::status(args).await,
        Command::LiveEvents(command) => super::live_events::live_events(command).await,
    }
}

/// Prints `error: message` and returns `code`.
pub(super) fn fail(code: u8, message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(code)
}

/// The configuration, the narrowed scope, and the set-up ([`crate::setup::load`]); a failure is
/// the exit code (2 for configuration, 1 for a failed call), already reported.
pub(super) async fn prepare(
    scope: &ScopeArgs,
    port_use: PortUse,
) -> Result<(Setup, Scope), ExitCode> {
    let config = Config::from_env().map_err(|e| fail(EXIT_CONFIG, e))?;
    let scope = scope.to_scope().map_err(|e| fail(EXIT_CONFIG, e))?;
    let setup = setup::load(config, port_use).await.map_err(|e| {
        let code = if e.is_config_error() {
            EXIT_CONFIG
        } else {
            EXIT_FAILED
        };
        fail(code, e)
    })?;
    Ok((setup, scope))
}

/// Writes one JSON value and a newline.
pub(super) fn write_json_line(
    out: &mut impl Write,
    value: &impl serde::Serialize,
) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, value)?;
    out.write_all(b"\n")
}

/// `plan`: the units a sync would run, as JSON lines, without fetching or writing.
async fn plan(args: ScopeArgs) -> ExitCode {
    let (setup, scope) = match prepare(&args, PortUse::MappingOnly).await {
        Ok(prepared) => prepared,
        Err(code) => return code,
    };
    let engine = &setup.engine;
    let start = match start_run(engine, &setup.integration, &scope, &PortMode::Offline).await {
        Ok(start) => start,
        Err(e) => return fail(EXIT_FAILED, e),
    };
    let discovery = &start.discovery;
    let mut out = std::io::stdout().lock();
    for unit in start.plan.units() {
        if write_json_line(&mut out, &unit).is_err() {
            return ExitCode::from(EXIT_FAILED);
        }
    }
    eprintln!(
        "{} unit(s) for {} account(s); {} skipped, {} unreachable",
        start.plan.unit_count(),
        discovery.targets.len(),
        discovery.skipped.len(),
        discovery.failed.len()
    );
    for a in &discovery.failed {
        eprintln!("  unreachable {}: {}", a.id, a.reason);
    }
    if discovery.failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_FAILED)
    }
}
