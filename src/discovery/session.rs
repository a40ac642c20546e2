//! Per-account AWS sessions. [`aws_config::sts::AssumeRoleProvider`] makes the STS call (external
//! id, traceable session name, the partition's home region); [`CachedRole`] keeps its
//! credentials for the life of the process, shared by every client of the account.
//!
//! `AssumeRoleProvider` does not cache on its own: SDK clients cache credentials in their identity
//! cache, one per client, and a sync builds many clients per account (one per unit and region).
//! So one small cache per account stands in front of it: credentials are reused until 5 minutes
//! before they expire, and one refresh runs at a time (the others wait for its result).

use crate::aws::{home_region, in_region};
use crate::aws_error::{explain, AwsReason};
use aws_config::sts::AssumeRoleProvider;
use aws_config::{Region, SdkConfig};
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{self, ProvideCredentials, SharedCredentialsProvider};
use aws_credential_types::Credentials;
use aws_sdk_sts::error::SdkError;
use aws_sdk_sts::operation::assume_role::AssumeRoleError as StsAssumeRoleError;
use std::collections::HashMap;
use std::error::Error;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};
use tokio::sync::{Mutex as AsyncMutex, OnceCell};

/// Credentials are renewed this long before they expire.
const REFRESH_MARGIN: Duration = Duration::from_secs(300);
/// How long assumed credentials last.
const SESSION_LENGTH: Duration = Duration::from_secs(3600);

/// Why a role could not be assumed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("Unable to assume role {role_arn} (region {region}): {reason}. Hint: {hint}")]
pub struct AssumeRoleError {
    pub role_arn: String,
    pub region: String,
    pub reason: AwsReason,
    pub hint: &'static str,
}

impl AssumeRoleError {
    /// AWS's error code (`AccessDenied`, ...), when STS answered with one.
    pub fn code(&self) -> Option<&str> {
        self.reason.code.as_deref()
    }
}

const ASSUME_ROLE_HINT: &str = "check that the role exists in that account with the same name, that its trust policy allows this sync's IAM role, and that EXTERNAL_ID matches the role's sts:ExternalId condition";

/// One role's credentials, assumed by an [`AssumeRoleProvider`] and cached until shortly before
/// they expire. Cheap to clone: clones share the cache.
#[derive(Debug, Clone)]
pub struct CachedRole {
    inner: Arc<CachedRoleInner>,
}

#[derive(Debug)]
struct CachedRoleInner {
    role_arn: String,
    region: String,
    provider: AssumeRoleProvider,
    cached: AsyncMutex<Option<Credentials>>,
}

impl CachedRole {
    async fn new(
        base: &SdkConfig,
        role_arn: &str,
        external_id: Option<&str>,
        session_name: &str,
        region: &str,
    ) -> CachedRole {
        let mut builder = AssumeRoleProvider::builder(role_arn)
            .session_name(session_name)
            .session_length(SESSION_LENGTH)
            .configure(base)
            .region(Region::new(region.to_owned()));
        if let Some(id) = external_id {
            builder = builder.external_id(id);
        }
        CachedRole {
            inner: Arc::new(CachedRoleInner {
                role_arn: role_arn.to_owned(),
                region: region.to_owned(),
                provider: builder.build().await,
                cached: AsyncMutex::new(None),
            }),
        }
    }

    /// The cached credentials while fresh, else new ones (one refresh at a time).
    pub async fn credentials(&self) -> Result<Credentials, AssumeRoleError> {
        let inner = &self.inner;
        let mut cached = inner.cached.lock().await;
        if let Some(creds) = cached.as_ref() {
            let fresh = creds
                .expiry()
                .is_none_or(|exp| exp > SystemTime::now() + REFRESH_MARGIN);
            if fresh {
                return Ok(creds.clone());
            }
        }
        let creds = inner
            .provider
            .provide_credentials()
            .await
            .map_err(|e| self.error(&e))?;
        *cached = Some(creds.clone());
        Ok(creds)
    }

    /// The STS error behind the provider's, said for people.
    fn error(&self, err: &CredentialsError) -> AssumeRoleError {
        let sts = err
            .source()
            .and_then(|s| s.downcast_ref::<SdkError<StsAssumeRoleError>>());
        let reason = match sts {
            Some(sts) => explain(sts),
            None => explain_credentials(err),
        };
        AssumeRoleError {
            role_arn: self.inner.role_arn.clone(),
            region: self.inner.region.clone(),
            reason,
            hint: ASSUME_ROLE_HINT,
        }
    }
}

/// A credentials error that is not STS's (no code): its chain, without `Debug`.
fn explain_credentials(err: &CredentialsError) -> AwsReason {
    tracing::debug!(error = ?err, "AssumeRole failed");
    let mut message = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        message.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    AwsReason {
        code: None,
        message,
    }
}

impl ProvideCredentials for CachedRole {
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
    roles: Arc<Mutex<HashMap<String, Arc<OnceCell<CachedRole>>>>>,
    api: Arc<std::sync::OnceLock<crate::aws::api::AwsApi>>,
}

impl Sessions {
    /// `session_name` shows in the member accounts' CloudTrail (e.g. `port-aws-sync-<sync id>`).
    pub fn new(base: SdkConfig, external_id: Option<String>, session_name: &str) -> Sessions {
        Sessions {
            base,
            external_id,
            session_name: sanitize_session_name(session_name),
            roles: Arc::default(),
            api: Arc::default(),
        }
    }

    /// The process's model-driven AWS client ([`crate::aws::api`]), made on first use; it
    /// fails only when TLS cannot be set up.
    pub fn api(&self) -> Result<&crate::aws::api::AwsApi, reqwest::Error> {
        if let Some(api) = self.api.get() {
            return Ok(api);
        }
        let api = crate::aws::api::AwsApi::new(crate::aws::api::ApiOptions::default())?;
        Ok(self.api.get_or_init(|| api))
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
        let in_home = in_region(&self.base, home);
        let Some(role_arn) = role_arn else {
            return Ok(in_home);
        };
        let cell = self
            .roles
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(role_arn.to_owned())
            .or_default()
            .clone();
        let role = cell
            .get_or_init(|| {
                CachedRole::new(
                    &in_home,
                    role_arn,
                    self.external_id.as_deref(),
                    &self.session_name,
                    home,
                )
            })
            .await
            .clone();
        role.credentials().await?;
        Ok(in_home
            .to_builder()
            .credentials_provider(SharedCredentialsProvider::new(role))
            .build())
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
    use crate::discovery::{Discovery, FailedAccount};
    use crate::sync::Summary;
    use crate::test_support::fake_aws::FakeAws;

    #[tokio::test]
    async fn an_unassumable_role_is_said_in_a_sentence_or_two() {
        let server = FakeAws::start(|_| {
            let body = "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type>\
                <Code>AccessDenied</Code><Message>User: arn:aws:sts::999999999999:assumed-role/sync/x is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::111111111111:role/R</Message>\
                </Error><RequestId>req-1</RequestId></ErrorResponse>";
            (403, "text/xml", body.to_owned())
        });
        let sessions = Sessions::new(server.sdk_config("us-east-1"), Some("ext-id".into()), "s");
        let role = "arn:aws:iam::111111111111:role/R";
        let err = sessions.config_for(Some(role), "aws").await.unwrap_err();
        assert_eq!(err.code(), Some("AccessDenied"));
        let discovery = Discovery {
            failed: vec![FailedAccount {
                id: "111111111111".into(),
                role_arn: Some(role.into()),
                reason: err.to_string(),
            }],
            ..Default::default()
        };
        let summary = Summary::new("s", false, &discovery, &[], 1).render();
        let line = summary
            .lines()
            .find(|l| l.contains("failed  111111111111"))
            .unwrap();
        assert!(
            line.starts_with("    failed  111111111111: Unable to assume role arn:aws:iam::111111111111:role/R (region us-east-1): AccessDenied: User: arn:aws:sts::999999999999:assumed-role/sync/x is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::111111111111:role/R. Hint: "),
            "{line}"
        );
        for noise in ["Error {", "headers", "body", "raw", "ServiceError"] {
            assert!(!line.contains(noise), "{noise:?} in {line}");
        }
        assert!(line.split(". ").count() <= 2, "{line}");
    }

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
