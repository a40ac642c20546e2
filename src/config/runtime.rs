//! How a sync runs: concurrency bounds, `UNIT_TIMEOUT_SECONDS`, `INITIALIZE_PORT_RESOURCES`, and
//! the fan-out's `WORK_QUEUE_URL`.

use super::env::{invalid, ConfigError, Vars};
use std::time::Duration;

/// Default of `UNIT_TIMEOUT_SECONDS`: as long as a Lambda invocation may last.
pub const DEFAULT_UNIT_TIMEOUT_SECONDS: u64 = 900;

/// Concurrency bounds of a sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Concurrency {
    /// Units running at once in the process (`MAX_CONCURRENT_UNITS`).
    pub units: usize,
    /// Units of one account running at once (`MAX_CONCURRENT_UNITS_PER_ACCOUNT`).
    pub per_account: usize,
    /// Per-resource calls in flight within one unit (S3 bucket configuration calls).
    pub per_unit_calls: usize,
    /// Large pages (a `DescribeInstances` answer) held at once across all units of the process
    /// (`MAX_PAGES_IN_FLIGHT`): the memory bound, see [`crate::memory`].
    pub pages: usize,
}

impl Default for Concurrency {
    fn default() -> Self {
        Concurrency {
            units: 16,
            per_account: 4,
            per_unit_calls: 8,
            pages: crate::memory::DEFAULT_PAGES_IN_FLIGHT,
        }
    }
}

/// `MAX_CONCURRENT_UNITS`, `MAX_CONCURRENT_UNITS_PER_ACCOUNT`, `MAX_CONCURRENT_CALLS_PER_UNIT`,
/// `MAX_PAGES_IN_FLIGHT`.
pub(super) fn concurrency(vars: &Vars) -> Result<Concurrency, ConfigError> {
    let defaults = Concurrency::default();
    Ok(Concurrency {
        units: parse_count(vars, "MAX_CONCURRENT_UNITS", defaults.units)?,
        per_account: parse_count(
            vars,
            "MAX_CONCURRENT_UNITS_PER_ACCOUNT",
            defaults.per_account,
        )?,
        per_unit_calls: parse_count(
            vars,
            "MAX_CONCURRENT_CALLS_PER_UNIT",
            defaults.per_unit_calls,
        )?,
        pages: parse_count(vars, "MAX_PAGES_IN_FLIGHT", defaults.pages)?,
    })
}

/// `UNIT_TIMEOUT_SECONDS`: 1 to 86400 seconds, default [`DEFAULT_UNIT_TIMEOUT_SECONDS`].
pub(super) fn unit_timeout(vars: &Vars) -> Result<Duration, ConfigError> {
    let var = "UNIT_TIMEOUT_SECONDS";
    let seconds = match vars.get(var) {
        None => DEFAULT_UNIT_TIMEOUT_SECONDS,
        Some(v) => v
            .parse::<u64>()
            .ok()
            .filter(|n| (1..=86_400).contains(n))
            .ok_or_else(|| {
                invalid(
                    var,
                    format!("`{v}`"),
                    "a whole number of seconds from 1 to 86400",
                )
            })?,
    };
    Ok(Duration::from_secs(seconds))
}

/// `INITIALIZE_PORT_RESOURCES`; default `true`.
pub(super) fn initialize_port_resources(vars: &Vars) -> Result<bool, ConfigError> {
    match vars.get("INITIALIZE_PORT_RESOURCES").as_deref() {
        None => Ok(true),
        Some(v) => parse_bool(v).ok_or_else(|| {
            invalid(
                "INITIALIZE_PORT_RESOURCES",
                format!("`{v}`"),
                "true or false",
            )
        }),
    }
}

/// `WORK_QUEUE_URL`.
pub(super) fn work_queue_url(vars: &Vars) -> Result<Option<String>, ConfigError> {
    match vars.get("WORK_QUEUE_URL") {
        Some(url) if !(url.starts_with("https://") || url.starts_with("http://")) => Err(invalid(
            "WORK_QUEUE_URL",
            format!("`{url}` is not a queue URL"),
            "the SQS queue URL, e.g. https://sqs.eu-west-1.amazonaws.com/123456789012/port-aws-sync-work",
        )),
        other => Ok(other),
    }
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Some(true),
        "false" | "0" | "no" => Some(false),
        _ => None,
    }
}

fn parse_count(vars: &Vars, var: &'static str, default: usize) -> Result<usize, ConfigError> {
    match vars.get(var) {
        None => Ok(default),
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| invalid(var, format!("`{v}`"), "a whole number from 1 to 1000")),
    }
}
