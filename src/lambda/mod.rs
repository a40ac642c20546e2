//! AWS Lambda handlers: `fanout` (plan and enqueue work items) and `worker` (run SQS work items).
//!
//! Both are built once per container ([`load_engine`]) and keep what is expensive across
//! invocations: the compiled mapping, AWS sessions per account, and the Port client with its token
//! ([`PortCell`]). The handlers are plain async functions over typed events, so they are tested
//! without a runtime; the binaries wrap them with `lambda_runtime`.

pub mod fanout;
pub mod worker;

use crate::config::Config;
use crate::port::{self, PortClient};
use crate::sync::Engine;
use lambda_runtime::Diagnostic;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::OnceCell;

/// Configuration or mapping that cannot be used: the function cannot start.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("{0}")]
    Mapping(String),
    #[error("{var} must be set for the {function} function ({fix})")]
    Missing {
        var: &'static str,
        function: &'static str,
        fix: &'static str,
    },
}

/// Reads the configuration and the mapping and builds the engine, once per container.
pub async fn load_engine() -> Result<Arc<Engine>, InitError> {
    let config = Config::from_env()?;
    let mapper =
        crate::cli::load_mapper(config.mapping_config.as_deref()).map_err(InitError::Mapping)?;
    tracing::info!(
        mapping = config.mapping_config.as_deref().unwrap_or("built-in default"),
        integration = %config.integration_identifier,
        "configuration loaded"
    );
    Ok(Arc::new(Engine::new(config, mapper).await))
}

/// The Port client, created on first use and then reused by every invocation of the container:
/// the credentials secret is read once and the token is fetched once (and refreshed on expiry).
#[derive(Debug, Default)]
pub struct PortCell(OnceCell<PortClient>);

impl PortCell {
    /// The client, reading the credentials (Secrets Manager) on the first call. A failure is not
    /// cached: the next invocation tries again.
    pub async fn get(&self, engine: &Engine) -> Result<PortClient, port::CredentialsError> {
        self.0
            .get_or_try_init(|| port::client_from_config(&engine.config, engine.sessions.base()))
            .await
            .cloned()
    }
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
