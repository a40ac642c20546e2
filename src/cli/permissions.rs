//! `permissions`: the read-only IAM policy a member account's role needs for the mapping in
//! effect ([`crate::permissions`]); `scripts/gen-iam-policies` writes the templates from it.

use super::args::{PermissionsArgs, PermissionsFormat};
use super::commands::{fail, EXIT_CONFIG, EXIT_FAILED};
use super::playground::load_cli_mapping;
use crate::permissions::Permissions;
use std::io::Write;
use std::process::ExitCode;

/// Prints the policy (or its actions) on stdout and what it cannot grant on stderr.
pub(super) async fn permissions(args: PermissionsArgs) -> ExitCode {
    let mapping = args.config.clone().or_else(|| {
        std::env::var("MAPPING_CONFIG")
            .ok()
            .filter(|s| !s.trim().is_empty())
    });
    let permissions = match mapping.filter(|_| !args.all_kinds) {
        None => Permissions::all_kinds(),
        Some(value) => {
            let mapper = match load_cli_mapping(Some(&value)).await {
                Ok((mapper, _)) => mapper,
                Err(code) => return code,
            };
            match Permissions::for_mapper(&mapper) {
                Ok(permissions) => permissions,
                Err(e) => return fail(EXIT_CONFIG, e),
            }
        }
    };
    let text = match args.format {
        PermissionsFormat::Policy => {
            let policy = permissions.policy(args.part);
            format!("{:#}\n", policy)
        }
        PermissionsFormat::Actions => permissions
            .actions(args.part)
            .iter()
            .map(|a| format!("{a}\n"))
            .collect(),
    };
    if std::io::stdout().lock().write_all(text.as_bytes()).is_err() {
        return ExitCode::from(EXIT_FAILED);
    }
    for note in permissions.notes() {
        eprintln!("note: {note}");
    }
    ExitCode::SUCCESS
}
