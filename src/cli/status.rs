//! `status`: the latest runs of this installation and their failed units, read from the sync
//! state (`STATE_TABLE`, else the CLI's SQLite file). Needs neither Port nor the mapping.

use super::args::StatusArgs;
use super::commands::{fail, EXIT_CONFIG, EXIT_FAILED};
use crate::config::Config;
use crate::state::{RunRecord, StateStore, UnitOutcome};
use crate::sync::state_sync::open_store;
use std::fmt::Write as _;
use std::process::ExitCode;

pub(super) async fn status(args: StatusArgs) -> ExitCode {
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(e) => return fail(EXIT_CONFIG, e),
    };
    let base = crate::aws::load_base_config().await;
    let store = match open_store(&config.state, &base).await {
        Ok(store) => store,
        Err(e) => return fail(EXIT_CONFIG, e),
    };
    let installation = &config.integration_identifier;
    match render(&store, installation, args.limit).await {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => fail(EXIT_FAILED, e),
    }
}

/// The report: one block per run, newest first, with its failed units.
pub async fn render(
    store: &StateStore,
    installation: &str,
    limit: usize,
) -> Result<String, crate::state::StateError> {
    let runs = store.recent_runs(installation, limit).await?;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "installation {installation}, state in {}",
        store.location()
    );
    if runs.is_empty() {
        out.push_str("no runs recorded yet\n");
    }
    for run in &runs {
        let failed: Vec<UnitOutcome> = if run.failed > 0 {
            store
                .run_units(installation, &run.run_id)
                .await?
                .into_iter()
                .filter(|u| !u.ok)
                .collect()
        } else {
            Vec::new()
        };
        run_block(&mut out, run, &failed);
    }
    Ok(out)
}

fn run_block(out: &mut String, run: &RunRecord, failed: &[UnitOutcome]) {
    let state = match run.closed_at {
        Some(t) => format!("closed {}", t.iso()),
        None => "open".to_owned(),
    };
    let _ = writeln!(
        out,
        "run {} started {}: {} of {} units done, {} failed, {state}",
        run.run_id,
        run.started_at.iso(),
        run.done,
        run.planned_units,
        run.failed
    );
    for unit in failed {
        let _ = writeln!(
            out,
            "  failed {}: {}",
            unit.unit,
            unit.reason.as_deref().unwrap_or("no reason recorded")
        );
    }
}
