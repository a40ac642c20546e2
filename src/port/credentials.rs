//! The Port credentials (static, or a Secrets Manager secret read once per process) and the
//! client built from them.

use super::client::PortClient;
use crate::config::{Config, PortCredentialsSource, Secret};
use aws_config::SdkConfig;

/// Requests in flight to Port at once from one process.
pub const MAX_CONCURRENT_REQUESTS: usize = 16;

/// Port credentials could not be obtained.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error("Port credentials are not configured: set PORT_CLIENT_ID and PORT_CLIENT_SECRET, or PORT_CREDENTIALS_SECRET_ARN (or use --dry-run)")]
    Missing,
    #[error("reading the Port credentials secret {secret_arn} failed: {message}")]
    SecretUnreadable { secret_arn: String, message: String },
    #[error("the secret {secret_arn} is not JSON of the form {{\"clientId\": \"...\", \"clientSecret\": \"...\"}}")]
    SecretMalformed { secret_arn: String },
}

/// Resolves the Port credentials (once per process) and builds the client.
pub async fn client_from_config(
    config: &Config,
    sdk: &SdkConfig,
) -> Result<PortClient, CredentialsError> {
    let (id, secret) = match &config.port_credentials {
        PortCredentialsSource::Missing => return Err(CredentialsError::Missing),
        PortCredentialsSource::Static {
            client_id,
            client_secret,
        } => (client_id.clone(), client_secret.clone()),
        PortCredentialsSource::SecretsManager { secret_arn } => {
            let region = secret_arn.split(':').nth(3).filter(|r| !r.is_empty());
            let sdk = match region {
                Some(r) => crate::aws::in_region(sdk, r),
                None => sdk.clone(),
            };
            let out = aws_sdk_secretsmanager::Client::new(&sdk)
                .get_secret_value()
                .secret_id(secret_arn)
                .send()
                .await
                .map_err(|e| CredentialsError::SecretUnreadable {
                    secret_arn: secret_arn.clone(),
                    message: crate::aws_error::explain(&e).to_string(),
                })?;
            let malformed = || CredentialsError::SecretMalformed {
                secret_arn: secret_arn.clone(),
            };
            let parsed: serde_json::Value = out
                .secret_string()
                .and_then(|s| serde_json::from_str(s).ok())
                .ok_or_else(malformed)?;
            let field = |k: &str| {
                parsed
                    .get(k)
                    .and_then(|v| v.as_str())
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
            };
            match (field("clientId"), field("clientSecret")) {
                (Some(id), Some(secret)) => (id, Secret::new(secret)),
                _ => return Err(malformed()),
            }
        }
    };
    Ok(PortClient::new(
        &config.port_base_url,
        id,
        secret,
        MAX_CONCURRENT_REQUESTS,
    ))
}
