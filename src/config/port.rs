//! Port: where its API is (`PORT_BASE_URL`), the credentials (`PORT_CLIENT_ID` and
//! `PORT_CLIENT_SECRET`, or `PORT_CREDENTIALS_SECRET_ARN`) and this installation's identity
//! (`INTEGRATION_IDENTIFIER`).

use super::env::{invalid, ConfigError, Vars};
use std::fmt;

/// Default Port API (EU). The US region is `https://api.us.getport.io`.
pub const DEFAULT_PORT_BASE_URL: &str = "https://api.getport.io";
/// Default installation id, also part of the User-Agent that marks entity ownership.
pub const DEFAULT_INTEGRATION_IDENTIFIER: &str = "port-aws-sync";

/// A string that must never be printed (Port client secret).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret value, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Where the Port client id and secret come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortCredentialsSource {
    /// `PORT_CLIENT_ID` and `PORT_CLIENT_SECRET`.
    Static {
        client_id: String,
        client_secret: Secret,
    },
    /// `PORT_CREDENTIALS_SECRET_ARN`: a Secrets Manager secret `{"clientId", "clientSecret"}`.
    SecretsManager { secret_arn: String },
    /// Not configured: only dry runs and planning work.
    Missing,
}

/// `PORT_BASE_URL`, without a trailing `/` or `/v1`.
pub(super) fn base_url(vars: &Vars) -> Result<String, ConfigError> {
    let raw = vars
        .get("PORT_BASE_URL")
        .unwrap_or_else(|| DEFAULT_PORT_BASE_URL.into());
    parse_base_url(&raw)
}

/// The Port credentials: static, from Secrets Manager, or none.
pub(super) fn credentials(vars: &Vars) -> Result<PortCredentialsSource, ConfigError> {
    Ok(match (
        vars.get("PORT_CLIENT_ID"),
        vars.untrimmed("PORT_CLIENT_SECRET"),
        vars.get("PORT_CREDENTIALS_SECRET_ARN"),
    ) {
        (Some(_), _, Some(_)) | (_, Some(_), Some(_)) => {
            return Err(ConfigError::Conflict {
                first: "PORT_CLIENT_ID/PORT_CLIENT_SECRET",
                second: "PORT_CREDENTIALS_SECRET_ARN",
                fix: "set either the client id and secret or the Secrets Manager secret ARN, not both",
            })
        }
        (Some(client_id), Some(secret), None) => PortCredentialsSource::Static {
            client_id,
            client_secret: Secret::new(secret),
        },
        (Some(_), None, None) => {
            return Err(invalid(
                "PORT_CLIENT_SECRET",
                "it is not set while PORT_CLIENT_ID is",
                "the client secret of the same Port credentials (Port > Settings > Credentials)",
            ))
        }
        (None, Some(_), None) => {
            return Err(invalid(
                "PORT_CLIENT_ID",
                "it is not set while PORT_CLIENT_SECRET is",
                "the client id of the same Port credentials (Port > Settings > Credentials)",
            ))
        }
        (None, None, Some(arn)) => secret_arn(arn)?,
        (None, None, None) => PortCredentialsSource::Missing,
    })
}

fn secret_arn(arn: String) -> Result<PortCredentialsSource, ConfigError> {
    if !arn.starts_with("arn:") || !arn.contains(":secretsmanager:") {
        return Err(invalid(
            "PORT_CREDENTIALS_SECRET_ARN",
            format!("`{arn}` is not a Secrets Manager ARN"),
            "arn:<partition>:secretsmanager:<region>:<account-id>:secret:<name>",
        ));
    }
    Ok(PortCredentialsSource::SecretsManager { secret_arn: arn })
}

/// `INTEGRATION_IDENTIFIER`.
pub(super) fn integration_identifier(vars: &Vars) -> Result<String, ConfigError> {
    let id = vars
        .get("INTEGRATION_IDENTIFIER")
        .unwrap_or_else(|| DEFAULT_INTEGRATION_IDENTIFIER.into());
    if !is_integration_identifier(&id) {
        return Err(invalid(
            "INTEGRATION_IDENTIFIER",
            format!("`{id}` has characters other than letters, digits, `-`, `_` and `.`"),
            "1-100 characters from [A-Za-z0-9._-], e.g. port-aws-sync-prod",
        ));
    }
    Ok(id)
}

fn parse_base_url(raw: &str) -> Result<String, ConfigError> {
    let expected =
        "an http(s) URL such as https://api.getport.io (EU) or https://api.us.getport.io (US)";
    let rest = raw
        .strip_prefix("https://")
        .or_else(|| raw.strip_prefix("http://"))
        .ok_or_else(|| {
            invalid(
                "PORT_BASE_URL",
                format!("`{raw}` is not an http(s) URL"),
                expected,
            )
        })?;
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty() || host.contains(' ') || rest.contains('?') || rest.contains('#') {
        return Err(invalid(
            "PORT_BASE_URL",
            format!("`{raw}` has no valid host"),
            expected,
        ));
    }
    let trimmed = raw.trim_end_matches('/');
    Ok(trimmed.strip_suffix("/v1").unwrap_or(trimmed).to_owned())
}

fn is_integration_identifier(s: &str) -> bool {
    (1..=100).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
}
