//! The composition root, the same for the CLI and both Lambdas: from the configuration, the AWS
//! base config, the Port client when one is needed, the mapping in effect (`MAPPING_CONFIG`, else
//! the integration's config in Port, else built in; its warnings logged once) and the [`Engine`].
//! Built once per process (per Lambda container).

use crate::config::{Config, ConfigError, PortCredentialsSource};
use crate::mapping::source::{self, MappingSource, PortIntegration, SourceError};
use crate::port::{self, CredentialsError, PortClient};
use crate::sync::Engine;
use std::sync::Arc;

/// How much the caller needs Port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortUse {
    /// A real sync and the Lambdas: a Port client is required.
    Required,
    /// A dry run: a client when credentials are configured (to read the mapping from Port and to
    /// preview deletion); unusable credentials only cost the preview, unless the mapping must be
    /// read from Port.
    IfConfigured,
    /// Planning: a client only to read the mapping from Port (no `MAPPING_CONFIG`).
    MappingOnly,
}

/// What a process keeps for its life.
#[derive(Debug)]
pub struct Setup {
    /// Configuration, compiled mapping, AWS sessions per account.
    pub engine: Arc<Engine>,
    /// The Port client (credentials read once, one token reused and refreshed on expiry).
    pub port: Option<PortClient>,
    /// The installation's integration in Port, as found when the mapping was resolved.
    pub integration: PortIntegration,
    /// Where the mapping in effect came from.
    pub mapping_source: MappingSource,
}

/// The process cannot start: bad configuration, unusable credentials, or no usable mapping.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Credentials(#[from] CredentialsError),
    #[error(transparent)]
    Mapping(#[from] Box<SourceError>),
}

impl SetupError {
    /// Whether this is bad configuration (nothing was tried, exit 2) rather than a failed call
    /// (exit 1).
    pub fn is_config_error(&self) -> bool {
        match self {
            SetupError::Config(_) | SetupError::Credentials(CredentialsError::Missing) => true,
            SetupError::Credentials(_) => false,
            SetupError::Mapping(e) => e.is_config_error(),
        }
    }
}

/// Builds what the process needs from `config` (see the module documentation).
pub async fn load(config: Config, port_use: PortUse) -> Result<Setup, SetupError> {
    let base = crate::aws::load_base_config().await;
    let port = port_client(&config, &base, port_use).await?;
    // The integration is read to find the mapping, and by a real sync to register it and warn
    // when its copy differs from MAPPING_CONFIG; a dry run with MAPPING_CONFIG does not ask.
    let consult = port_use == PortUse::Required || config.mapping_config.is_none();
    let resolved = source::resolve(
        config.mapping_config.as_deref(),
        &config.integration_identifier,
        &base,
        port.as_ref().filter(|_| consult),
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
    Ok(Setup {
        engine: Arc::new(Engine::with_base(config, resolved.mapper, base)),
        port,
        integration: resolved.integration,
        mapping_source: resolved.source,
    })
}

async fn port_client(
    config: &Config,
    base: &aws_config::SdkConfig,
    port_use: PortUse,
) -> Result<Option<PortClient>, CredentialsError> {
    let configured = config.port_credentials != PortCredentialsSource::Missing;
    let mapping_from_port = config.mapping_config.is_none() && configured;
    match port_use {
        PortUse::Required => port::client_from_config(config, base).await.map(Some),
        _ if mapping_from_port => port::client_from_config(config, base).await.map(Some),
        PortUse::IfConfigured if configured => match port::client_from_config(config, base).await {
            Ok(client) => Ok(Some(client)),
            Err(e) => {
                tracing::warn!(error = %e, "no deletion preview: Port credentials unusable");
                Ok(None)
            }
        },
        _ => Ok(None),
    }
}
