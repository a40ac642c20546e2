//! Per-account AWS sessions: AssumeRole from the base identity (external id, traceable session
//! name), credentials cached per account for the life of the process and refreshed before expiry.

use crate::aws::{home_region, in_region};
use aws_config::SdkConfig;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_credential_types::provider::{self, error::CredentialsError, ProvideCredentials};
use aws_credential_types::Credentials;
use aws_sdk_sts::error::{DisplayErrorContext, ProvideErrorMetadata};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tokio::sync::Mutex as AsyncMutex;

/// Credentials are renewed this long before they expire.
const REFRESH_MARGIN: Duration = Duration::from_secs(300);

/// Why a role could not be assumed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("Unable to assume role {role_arn}: {message}. Hint: {hint}")]
pub struct AssumeRoleError {
    pub role_arn: String,
    pub code: Option<String>,
    pub message: String,
    pub hint: &'static str,
}

const ASSUME_ROLE_HINT: &str = "check that the role exists in that account with the same name, that its trust policy allows this sync's IAM role, and that EXTERNAL_ID matches the role's sts:ExternalId condition";

/// A credentials provider that assumes one role and caches the result until shortly before expiry.
#[derive(Debug)]
struct AssumedRole {
    sts: aws_sdk_sts::Client,
    role_arn: String,
    external_id: Option<String>,
    session_name: String,
    cached: AsyncMutex<Option<Credentials>>,
}

impl AssumedRole {
    async fn credentials(&self) -> Result<Credentials, AssumeRoleError> {
        let mut cached = self.cached.lock().await;
        if let Some(creds) = cached.as_ref() {
            let fresh = creds
                .expiry()
                .is_none_or(|exp| exp > SystemTime::now() + REFRESH_MARGIN);
            if fresh {
                return Ok(creds.clone());
            }
        }
        let out = self
            .sts
            .assume_role()
            .role_arn(&self.role_arn)
            .role_session_name(&self.session_name)
            .set_external_id(self.external_id.clone())
            .duration_seconds(3600)
            .send()
            .await
            .map_err(|err| AssumeRoleError {
                role_arn: self.role_arn.clone(),
                code: err.code().map(str::to_owned),
                message: DisplayErrorContext(&err).to_string(),
                hint: ASSUME_ROLE_HINT,
            })?;
        let c = out.credentials().ok_or_else(|| AssumeRoleError {
            role_arn: self.role_arn.clone(),
            code: None,
            message: "STS returned no credentials".into(),
            hint: ASSUME_ROLE_HINT,
        })?;
        let expiry = SystemTime::try_from(*c.expiration()).ok();
        let creds = Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().to_owned()),
            expiry,
            "port-aws-sync-assume-role",
        );
        *cached = Some(creds.clone());
        Ok(creds)
    }
}

impl ProvideCredentials for AssumedRole {
    fn provide_credentials<'a>(&'a self) -> provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        provider::future::ProvideCredentials::new(async move {
            self.credentials()
                .await
                .map_err(CredentialsError::provider_error)
        })
    }
}

/// The cache of per-account SDK configs, built once per process (container) and shared by units.
#[derive(Debug, Clone)]
pub struct Sessions {
    base: SdkConfig,
    external_id: Option<String>,
    session_name: String,
    cache: Arc<Mutex<HashMap<String, Arc<AssumedRole>>>>,
}

impl Sessions {
    /// `session_name` shows in the member accounts' CloudTrail (e.g. `port-aws-sync-<sync id>`).
    pub fn new(base: SdkConfig, external_id: Option<String>, session_name: &str) -> Sessions {
        Sessions {
            base,
            external_id,
            session_name: sanitize_session_name(session_name),
            cache: Arc::default(),
        }
    }

    /// The base config (ambient credentials).
    pub fn base(&self) -> &SdkConfig {
        &self.base
    }

    /// The SDK config for an account: the ambient credentials when `role_arn` is `None`, else the
    /// assumed role's. Assumes the role now (so a trust problem surfaces here, once per account)
    /// and reuses the cached credentials afterwards. The config is in the partition's home region.
    pub async fn config_for(
        &self,
        role_arn: Option<&str>,
        partition: &str,
    ) -> Result<SdkConfig, AssumeRoleError> {
        let home = home_region(partition);
        let Some(role_arn) = role_arn else {
            return Ok(in_region(&self.base, home));
        };
        let provider = {
            let mut cache = self.cache.lock().expect("session cache lock");
            cache
                .entry(role_arn.to_owned())
                .or_insert_with(|| {
                    let sts = aws_sdk_sts::Client::new(&in_region(&self.base, home));
                    Arc::new(AssumedRole {
                        sts,
                        role_arn: role_arn.to_owned(),
                        external_id: self.external_id.clone(),
                        session_name: self.session_name.clone(),
                        cached: AsyncMutex::new(None),
                    })
                })
                .clone()
        };
        provider.credentials().await?;
        let shared = SharedCredentialsProvider::new(ArcProvider(provider));
        Ok(in_region(&self.base, home)
            .to_builder()
            .credentials_provider(shared)
            .build())
    }
}

/// Lets the cached `Arc<AssumedRole>` serve as an SDK credentials provider.
#[derive(Debug)]
struct ArcProvider(Arc<AssumedRole>);

impl ProvideCredentials for ArcProvider {
    fn provide_credentials<'a>(&'a self) -> provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        self.0.provide_credentials()
    }
}

/// STS session names allow `[\w+=,.@-]`, 2 to 64 characters.
fn sanitize_session_name(name: &str) -> String {
    let mut s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_+=,.@-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(64)
        .collect();
    while s.len() < 2 {
        s.push('-');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_names_are_valid_for_sts() {
        assert_eq!(
            sanitize_session_name("port-aws-sync/abc 1"),
            "port-aws-sync-abc-1"
        );
        assert_eq!(sanitize_session_name(&"x".repeat(100)).len(), 64);
        assert_eq!(sanitize_session_name(""), "--");
    }
}
