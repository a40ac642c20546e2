//! Where the sync state is kept (`STATE_TABLE`, `STATE_PATH`) and how long a fingerprint vouches
//! for an entity (`STATE_MAX_AGE_DAYS`). See [`crate::state`].

use super::env::{invalid, ConfigError, Vars};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Default of `STATE_MAX_AGE_DAYS`.
pub const DEFAULT_MAX_AGE_DAYS: u32 = 7;

/// The state settings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StateConfig {
    /// `STATE_TABLE`: the DynamoDB table (required by the Lambdas; the CLI uses it when set, so
    /// both share state).
    pub table: Option<String>,
    /// `STATE_PATH`: the CLI's SQLite file when no table is named; `None` = the default under
    /// the user's state directory ([`crate::state::sqlite::default_path`]).
    pub path: Option<PathBuf>,
    /// `STATE_MAX_AGE_DAYS` (1–90, default 7): every entity is rewritten at least this often.
    pub max_age_days: u32,
}

impl StateConfig {
    /// The largest age of a fingerprint.
    pub fn max_age(&self) -> Duration {
        Duration::from_secs(u64::from(self.max_age_days.max(1)) * 24 * 3600)
    }
}

/// `STATE_TABLE`, `STATE_PATH`, `STATE_MAX_AGE_DAYS`.
pub(super) fn state(vars: &Vars) -> Result<StateConfig, ConfigError> {
    Ok(StateConfig {
        table: table(vars)?,
        path: path(vars)?,
        max_age_days: max_age_days(vars)?,
    })
}

fn table(vars: &Vars) -> Result<Option<String>, ConfigError> {
    let Some(name) = vars.get("STATE_TABLE") else {
        return Ok(None);
    };
    // DynamoDB table names: 3–255 of [A-Za-z0-9_.-]. An ARN is accepted by the API too.
    let plain = (3..=255).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    let arn = name.starts_with("arn:") && name.contains(":table/");
    if plain || arn {
        Ok(Some(name))
    } else {
        Err(invalid(
            "STATE_TABLE",
            format!("`{name}` is not a DynamoDB table name"),
            "the name (3 to 255 letters, digits, '_', '.', '-') or ARN of the state table; the SAM template sets it",
        ))
    }
}

fn path(vars: &Vars) -> Result<Option<PathBuf>, ConfigError> {
    let Some(raw) = vars.get("STATE_PATH") else {
        return Ok(None);
    };
    let path = PathBuf::from(&raw);
    if path.is_dir() || raw.ends_with('/') {
        return Err(invalid(
            "STATE_PATH",
            format!("`{raw}` is a directory"),
            "the path of the SQLite state file, e.g. ./state.sqlite (its directory is created if needed)",
        ));
    }
    Ok(Some(absolute(&path)))
}

fn absolute(path: &Path) -> PathBuf {
    if path.is_absolute() {
        return path.to_owned();
    }
    std::env::current_dir()
        .map(|d| d.join(path))
        .unwrap_or_else(|_| path.to_owned())
}

fn max_age_days(vars: &Vars) -> Result<u32, ConfigError> {
    let Some(raw) = vars.get("STATE_MAX_AGE_DAYS") else {
        return Ok(DEFAULT_MAX_AGE_DAYS);
    };
    match raw.parse::<u32>() {
        Ok(n) if (1..=90).contains(&n) => Ok(n),
        _ => Err(invalid(
            "STATE_MAX_AGE_DAYS",
            format!("`{raw}`"),
            "a whole number of days from 1 to 90 (default 7): how often an unchanged entity is written again",
        )),
    }
}
