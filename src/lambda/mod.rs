//! AWS Lambda handlers: `fanout` (plan and enqueue work items) and `worker` (run SQS work items).
//!
//! Both are built once per container ([`load`]) and keep what is expensive across invocations:
//! the compiled mapping, AWS sessions per account, and the Port client with its token. The handlers are plain async functions over typed events, so they are tested
//! without a runtime; the binaries wrap them with `lambda_runtime`.

pub mod fanout;
pub mod worker;

use crate::config::Config;
use crate::mapping::source;
use crate::port::{self, PortClient};
use crate::sync::Engine;
use lambda_runtime::Diagnostic;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Configuration, credentials or mapping that cannot be used: the function cannot start.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Credentials(#[from] port::CredentialsError),
    #[error(transparent)]
    Mapping(#[from] Box<source::SourceError>),
    #[error("{var} must be set for the {function} function ({fix})")]
    Missing {
        var: &'static str,
        function: &'static str,
        fix: &'static str,
    },
}

/// What a function keeps for the life of its container: the engine (configuration, compiled
/// mapping, AWS sessions per account) and the Port client (credentials read once from Secrets
/// Manager, one token reused and refreshed on expiry).
pub struct Container {
    pub engine: Arc<Engine>,
    pub port: PortClient,
    /// The installation's integration in Port, as found when the mapping was resolved.
    pub integration: source::PortIntegration,
}

/// Reads the configuration, the Port credentials and the mapping (`MAPPING_CONFIG`, else the
/// integration's config in Port, else the built-in default), once per container.
pub async fn load() -> Result<Container, InitError> {
    let config = Config::from_env()?;
    let base = crate::aws::load_base_config().await;
    let port = port::client_from_config(&config, &base).await?;
    let resolved = source::resolve(
        config.mapping_config.as_deref(),
        &config.integration_identifier,
        &base,
        Some(&port),
    )
    .await
    .map_err(Box::new)?;
    for warning in resolved.mapper.warnings() {
        tracing::warn!(warning = %warning, "mapping configuration");
    }
    tracing::info!(
        mapping = %resolved.source,
        integration = %config.integration_identifier,
        "configuration loaded"
    );
    Ok(Container {
        engine: Arc::new(Engine::with_base(config, resolved.mapper, base)),
        port,
        integration: resolved.integration,
    })
}

/// A Lambda error response with a stable `errorType`.
pub fn diagnostic(error_type: &str, message: impl std::fmt::Display) -> Diagnostic {
    Diagnostic {
        error_type: error_type.to_owned(),
        error_message: message.to_string(),
    }
}

/// Deadlines below this (September 2001 in epoch milliseconds) are durations: local runtime
/// emulators send the time left (e.g. `600000`) rather than an epoch timestamp.
const EPOCH_DEADLINE_FLOOR_MS: u64 = 1_000_000_000_000;

/// The time left before `deadline_ms` (epoch milliseconds, from the runtime API), minus a safety
/// margin for reporting: 10% of what is left, at least 2 s and at most 20 s. `None` when the
/// deadline is unknown (0).
pub fn work_budget(deadline_ms: u64, now: SystemTime) -> Option<Duration> {
    if deadline_ms == 0 {
        return None;
    }
    let left = if deadline_ms < EPOCH_DEADLINE_FLOOR_MS {
        Duration::from_millis(deadline_ms)
    } else {
        let now_ms = now.duration_since(UNIX_EPOCH).ok()?.as_millis() as u64;
        Duration::from_millis(deadline_ms.saturating_sub(now_ms))
    };
    let margin = (left / 10).clamp(Duration::from_secs(2), Duration::from_secs(20));
    Some(left.saturating_sub(margin))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_keeps_a_margin_for_reporting() {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let at = |secs: u64| 1_700_000_000_000 + secs * 1000;
        assert_eq!(work_budget(0, now), None);
        // 900 s left: 20 s margin (the cap).
        assert_eq!(work_budget(at(900), now), Some(Duration::from_secs(880)));
        // 60 s left: 10% = 6 s.
        assert_eq!(work_budget(at(60), now), Some(Duration::from_secs(54)));
        // 5 s left: the 2 s floor.
        assert_eq!(work_budget(at(5), now), Some(Duration::from_secs(3)));
        // Already past the deadline: nothing left.
        assert_eq!(work_budget(1_699_999_999_000, now), Some(Duration::ZERO));
        // A local emulator's relative deadline (cargo lambda sends 600000).
        assert_eq!(work_budget(600_000, now), Some(Duration::from_secs(580)));
    }
}
