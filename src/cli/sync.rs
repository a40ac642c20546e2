//! `sync`: start the run ([`crate::sync::start_run`]), run its units in this process with a
//! progress bar, print the summary.

use super::args::SyncArgs;
use super::commands::{fail, prepare, EXIT_CONFIG, EXIT_FAILED};
use crate::deletion::Cleanup;
use crate::port::{CredentialsError, PortClient};
use crate::setup::{PortUse, Setup};
use crate::sync::state_sync::{open_store, StateSync, CLI_LEASE_TTL};
use crate::sync::tracking;
use crate::sync::verify::verify_if_needed;
use crate::sync::{run_units, start_run, Batch, PortMode, RunStart, Sink, Summary, UnitReport};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

pub(super) async fn sync(args: SyncArgs) -> ExitCode {
    let started = Instant::now();
    let port_use = if args.dry_run {
        PortUse::IfConfigured
    } else {
        PortUse::Required
    };
    let (setup, scope) = match prepare(&args.scope, port_use).await {
        Ok(prepared) => prepared,
        Err(code) => return code,
    };
    // A dry run neither reads nor writes the sync state.
    let state = match args.dry_run {
        true => None,
        false => match open_state(&setup).await {
            Ok(state) => Some(state),
            Err(code) => return code,
        },
    };
    let (sink, mode) = match sink(&args, &setup) {
        Ok(sink) => sink,
        Err(code) => return code,
    };
    let sink = sink.with_state(state.clone());
    let start = match start_run(&setup.engine, &setup.integration, &scope, &mode).await {
        Ok(start) => start,
        Err(e) => return fail(EXIT_FAILED, e),
    };
    let installation = &setup.engine.config.integration_identifier;
    if let (Some(state), PortMode::Write(client)) = (&state, &mode) {
        verify_if_needed(&setup.engine, client, state, &start.plan, args.verify).await;
        tracking::start(&state.store, installation, &start, &scope).await;
    }
    let reports = run_with_progress(&setup, &start, sink).await;
    if let Some(state) = &state {
        for report in &reports {
            tracking::record(&state.store, installation, &start.sync_id, report).await;
        }
    }
    let mut summary = Summary::new(
        &start.sync_id,
        args.dry_run,
        &start.discovery,
        &reports,
        started.elapsed().as_millis() as u64,
    );
    summary.scopes = start.scopes;
    if let PortMode::Write(client) = &mode {
        summary.port = Some(client.stats().into());
    }
    finish(&args, &summary)
}

/// The sync state of a real run: `STATE_TABLE`, else the SQLite file.
async fn open_state(setup: &Setup) -> Result<StateSync, ExitCode> {
    let config = &setup.engine.config;
    let store = open_store(&config.state, setup.engine.sessions.base())
        .await
        .map_err(|e| fail(EXIT_CONFIG, e))?;
    tracing::info!(state = %store.location(), "sync state");
    let mut state = StateSync::new(
        store,
        &config.integration_identifier,
        config.state.max_age(),
    );
    state.lease_ttl = CLI_LEASE_TTL;
    Ok(state)
}

/// Where the entities go, and how the run uses Port: Port itself, or JSON lines (with a
/// read-only deletion preview when Port credentials are configured and the output is entities).
fn sink(args: &SyncArgs, setup: &Setup) -> Result<(Sink, PortMode), ExitCode> {
    let engine = &setup.engine;
    let config = &engine.config;
    if !args.dry_run {
        let client: PortClient = setup
            .port
            .clone()
            .ok_or_else(|| fail(EXIT_CONFIG, CredentialsError::Missing))?;
        let sink = Sink::port(
            client.clone(),
            &config.integration_identifier,
            engine.mapper.config(),
        );
        return Ok((sink, PortMode::Write(client)));
    }
    let out: Box<dyn Write + Send> = match &args.output {
        Some(path) => match std::fs::File::create(path) {
            Ok(f) => Box::new(std::io::BufWriter::new(f)),
            Err(e) => {
                return Err(fail(
                    EXIT_CONFIG,
                    format!("--output {}: {e}", path.display()),
                ))
            }
        },
        None => Box::new(std::io::stdout()),
    };
    let sink = Sink::json_lines(out, args.raw);
    Ok(match &setup.port {
        Some(client) if !args.raw => (
            sink.with_deletion_preview(Cleanup::for_engine(engine, client.clone())),
            PortMode::Preview(client.clone()),
        ),
        Some(_) => {
            tracing::info!("--raw: no deletion preview (it needs the mapped entities)");
            (sink, PortMode::Offline)
        }
        None => (sink, PortMode::Offline),
    })
}

/// Runs the planned units in this process, with a progress bar on a terminal and one log line
/// per unit.
async fn run_with_progress(setup: &Setup, start: &RunStart, sink: Sink) -> Vec<UnitReport> {
    let bar = (std::io::stderr().is_terminal() && !crate::telemetry::json_logs()).then(|| {
        let bar = ProgressBar::new(start.plan.unit_count() as u64);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} units {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    });
    crate::telemetry::set_progress_bar(bar.clone());
    let on_done = |_: &(), r: &UnitReport| {
        if let Some(bar) = &bar {
            bar.inc(1);
            bar.set_message(r.label());
        }
        log_unit(r);
    };
    // --regions narrows the regional units (discovery); account-scoped kinds (S3 buckets) filter
    // with the configured policy (see `kinds::FetchContext::new`), so a narrowed run never treats
    // buckets of other regions as stale.
    let unit_timeout = setup.engine.config.unit_timeout;
    let batch = Batch::untagged(start.plan.units().collect(), unit_timeout);
    let reports = run_units(setup.engine.clone(), Arc::new(sink), batch, &on_done).await;
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    crate::telemetry::set_progress_bar(None);
    reports.into_iter().map(|(_, r)| r).collect()
}

fn log_unit(r: &UnitReport) {
    let (deleted, kept) = r
        .deletion
        .as_ref()
        .map_or((0, 0), |d| (d.deleted_total(), d.kept));
    match r.reason() {
        None => {
            tracing::info!(unit = %r.label(), fetched = r.fetched, written = r.upserted, deleted, kept, ms = r.duration_ms, "unit done")
        }
        Some(reason) => tracing::warn!(unit = %r.label(), reason = %reason, "unit failed"),
    }
}

/// Prints the summary (and writes it as JSON when asked), and gives the exit code.
fn finish(args: &SyncArgs, summary: &Summary) -> ExitCode {
    if crate::telemetry::json_logs() {
        tracing::info!(summary = %serde_json::to_string(summary).unwrap_or_default(), "sync finished");
    }
    eprint!("{}", summary.render());
    if args.dry_run {
        let target = args
            .output
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "stdout".into());
        eprintln!(
            "  {} written to {target} as JSON lines",
            if args.raw { "raw objects" } else { "entities" }
        );
    }
    if let Some(path) = &args.summary_json {
        let written = std::fs::File::create(path)
            .map_err(|e| e.to_string())
            .and_then(|f| serde_json::to_writer_pretty(f, summary).map_err(|e| e.to_string()));
        if let Err(e) = written {
            return fail(
                EXIT_FAILED,
                format!("--summary-json {}: {e}", path.display()),
            );
        }
    }
    if summary.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_FAILED)
    }
}
