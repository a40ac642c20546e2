//! `live-events pattern`: the EventBridge event pattern of the live-events forwarding rules
//! ([`crate::kinds::live`]), for the kinds of the mapping in effect or of the whole registry;
//! the templates' forwarding rule is generated from `--all-kinds`.

use super::args::{LiveEventsCommand, LivePatternArgs, LivePatternFormat};
use super::commands::{fail, EXIT_CONFIG, EXIT_FAILED};
use super::playground::load_cli_mapping;
use crate::kinds::{live, Kind};
use std::io::Write;
use std::process::ExitCode;

/// Runs a `live-events` subcommand.
pub(super) async fn live_events(command: LiveEventsCommand) -> ExitCode {
    match command {
        LiveEventsCommand::Pattern(args) => pattern(args).await,
    }
}

async fn pattern(args: LivePatternArgs) -> ExitCode {
    let mapping = args.config.clone().or_else(|| {
        std::env::var("MAPPING_CONFIG")
            .ok()
            .filter(|s| !s.trim().is_empty())
    });
    let kinds: Vec<Kind> = match mapping.filter(|_| !args.all_kinds) {
        None => Kind::all().to_vec(),
        Some(value) => match load_cli_mapping(Some(&value)).await {
            Ok((mapper, _)) => mapper.kinds(),
            Err(code) => return code,
        },
    };
    let text = match args.format {
        LivePatternFormat::Names => names_table(&live::rows(&kinds)),
        LivePatternFormat::Pattern | LivePatternFormat::Compact => {
            let Some(pattern) = live::pattern(&kinds) else {
                return fail(
                    EXIT_CONFIG,
                    "none of the mapped kinds follows live events, so there is no event pattern",
                );
            };
            if args.format == LivePatternFormat::Compact {
                format!("{pattern}\n")
            } else {
                format!("{pattern:#}\n")
            }
        }
    };
    if std::io::stdout().lock().write_all(text.as_bytes()).is_err() {
        return ExitCode::from(EXIT_FAILED);
    }
    ExitCode::SUCCESS
}

/// A Markdown table, one row per kind.
fn names_table(rows: &[live::LiveRow]) -> String {
    let mut out = String::from("| kind | source | API calls (CloudTrail) | service events |\n");
    out.push_str("|---|---|---|---|\n");
    for row in rows {
        out.push_str(&format!(
            "| `{}` | `{}` | {} | {} |\n",
            row.kind,
            row.source,
            row.api_calls.join(", "),
            row.service_events.join(", ")
        ));
    }
    out
}
