//! What a function keeps for the life of its container, built once by [`load`] through
//! [`crate::setup::load`] (the same set-up as the CLI's), and how its errors become Lambda error
//! responses.

use crate::config::Config;
use crate::mapping::source::PortIntegration;
use crate::port::{CredentialsError, PortClient};
use crate::setup::{self, PortUse, SetupError};
use crate::sync::state_sync::{open_table, OpenStateError, StateSync};
use crate::sync::Engine;
use lambda_runtime::Diagnostic;
use std::sync::Arc;

/// Configuration, credentials or mapping that cannot be used: the function cannot start.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error(transparent)]
    Setup(#[from] SetupError),
    #[error(transparent)]
    State(#[from] OpenStateError),
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
    pub integration: PortIntegration,
    /// The sync state (`STATE_TABLE`, required by both functions).
    pub state: StateSync,
}

/// Reads the configuration, the Port credentials and the mapping (`MAPPING_CONFIG`, else the
/// integration's config in Port, else the built-in default), once per container.
pub async fn load() -> Result<Container, InitError> {
    let config = Config::from_env().map_err(SetupError::from)?;
    let setup = setup::load(config, PortUse::Required).await?;
    let port = setup
        .port
        .ok_or(SetupError::Credentials(CredentialsError::Missing))?;
    let state = open_state(&setup.engine).await?;
    Ok(Container {
        engine: setup.engine,
        port,
        integration: setup.integration,
        state,
    })
}

/// The DynamoDB state table `STATE_TABLE` (a Lambda has no disk to keep an SQLite file on).
async fn open_state(engine: &Engine) -> Result<StateSync, InitError> {
    let config = &engine.config;
    let Some(table) = &config.state.table else {
        return Err(InitError::Missing {
            var: "STATE_TABLE",
            function: "Lambda",
            fix: "the DynamoDB table of the sync state; the SAM template creates it and sets the variable",
        });
    };
    let store = open_table(table, engine.sessions.base())?;
    Ok(StateSync::new(
        store,
        &config.integration_identifier,
        config.state.max_age(),
    ))
}

/// A Lambda error response with a stable `errorType`.
pub fn diagnostic(error_type: &str, message: impl std::fmt::Display) -> Diagnostic {
    Diagnostic {
        error_type: error_type.to_owned(),
        error_message: message.to_string(),
    }
}
