//! Per-account AWS sessions. [`CachedRole`] calls `sts:AssumeRole` (external id, traceable
//! session name) through one STS client per STS region, shared by every account of the
//! partition, and keeps the credentials for the life of the process, shared by every client of
//! the account.
//!
//! One STS client per partition rather than one per account (as an `AssumeRoleProvider` each
//! would build): at 1,000 accounts those clients were most of the fan-out's memory. SDK clients
//! cache credentials in their identity cache, one per client, and a sync builds many clients per
//! account (one per unit and region), so one small cache per account stands in front of STS:
//! credentials are reused until 5 minutes before they expire, and one refresh runs at a time (the
//! others wait for its result).

use crate::aws::{home_region, in_region, sts_region};
use crate::aws_error::{explain, AwsReason};
use crate::config::Secret;
use aws_config::{Region, SdkConfig};
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{self, ProvideCredentials, SharedCredentialsProvider};
use aws_credential_types::Credentials;
use std::collections::HashMap;
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
/// they expire. Cheap to clone: clones share the cache. Its `Debug` names the role only (the
/// provider holds the external id, the cache the credentials).
#[derive(Clone)]
pub struct CachedRole {
    inner: Arc<CachedRoleInner>,
}

impl std::fmt::Debug for CachedRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedRole")
            .field("role_arn", &self.inner.role_arn)
            .field("region", &self.inner.region)
            .finish_non_exhaustive()
    }
}

struct CachedRoleInner {
    role_arn: String,
    region: String,
    /// The partition's STS client, shared by every role of the process.
    sts: aws_sdk_sts::Client,
    external_id: Option<Secret>,
    session_name: String,
    cached: AsyncMutex<Option<Credentials>>,
}

impl CachedRole {
    fn new(
        sts: aws_sdk_sts::Client,
        role_arn: &str,
        external_id: Option<Secret>,
        session_name: &str,
        region: &str,
    ) -> CachedRole {
        CachedRole {
            inner: Arc::new(CachedRoleInner {
                role_arn: role_arn.to_owned(),
                region: region.to_owned(),
                sts,
                external_id,
                session_name: session_name.to_owned(),
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
        let creds = self.assume().await?;
        *cached = Some(creds.clone());
        Ok(creds)
    }

    /// One `sts:AssumeRole` call.
    async fn assume(&self) -> Result<Credentials, AssumeRoleError> {
        let inner = &self.inner;
        let answer = inner
            .sts
            .assume_role()
            .role_arn(&inner.role_arn)
            .role_session_name(&inner.session_name)
            .duration_seconds(SESSION_LENGTH.as_secs() as i32)
            .set_external_id(inner.external_id.as_ref().map(|s| s.expose().to_owned()))
            .send()
            .await
            .map_err(|e| self.error(explain(&e)))?;
        let Some(creds) = answer.credentials else {
            return Err(self.error(AwsReason {
                code: None,
                message: "STS answered without credentials".to_owned(),
            }));
        };
        let expiry = SystemTime::try_from(creds.expiration).ok();
        Ok(Credentials::new(
            creds.access_key_id,
            creds.secret_access_key,
            Some(creds.session_token),
            expiry,
            "AssumeRole",
        ))
    }

    /// The STS error, said for people.
    fn error(&self, reason: AwsReason) -> AssumeRoleError {
        AssumeRoleError {
            role_arn: self.inner.role_arn.clone(),
            region: self.inner.region.clone(),
            reason,
            hint: ASSUME_ROLE_HINT,
        }
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
/// Its `Debug` shows neither the external id nor any credentials.
#[derive(Clone)]
pub struct Sessions {
    base: SdkConfig,
    external_id: Option<Secret>,
    session_name: String,
    roles: Arc<Mutex<HashMap<String, Arc<OnceCell<CachedRole>>>>>,
    /// One STS client per STS region (in practice, per partition).
    sts: Arc<Mutex<HashMap<String, aws_sdk_sts::Client>>>,
    api: Arc<std::sync::OnceLock<crate::aws::api::AwsApi>>,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let roles = self.roles.lock().map(|r| r.len()).unwrap_or_default();
        f.debug_struct("Sessions")
            .field("region", &self.base.region())
            .field("external_id", &self.external_id)
            .field("session_name", &self.session_name)
            .field("roles", &roles)
            .finish()
    }
}

impl Sessions {
    /// `session_name` shows in the member accounts' CloudTrail (e.g. `port-aws-sync-<sync id>`).
    pub fn new(base: SdkConfig, external_id: Option<Secret>, session_name: &str) -> Sessions {
        Sessions {
            base,
            external_id,
            session_name: sanitize_session_name(session_name),
            roles: Arc::default(),
            sts: Arc::default(),
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
    /// and reuses the cached credentials afterwards. The config is in the partition's home region;
    /// STS is called in this process's region when it is in the partition ([`sts_region`]).
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
        let sts = sts_region(self.base.region().map(|r| r.as_ref()), partition);
        let role = cell
            .get_or_init(|| async {
                CachedRole::new(
                    self.sts_client(&in_home, &sts),
                    role_arn,
                    self.external_id.clone(),
                    &self.session_name,
                    &sts,
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

impl Sessions {
    /// The STS client of `region` (made once, with the base credentials).
    fn sts_client(&self, in_home: &SdkConfig, region: &str) -> aws_sdk_sts::Client {
        self.sts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(region.to_owned())
            .or_insert_with(|| {
                let conf = aws_sdk_sts::config::Builder::from(in_home)
                    .region(Region::new(region.to_owned()))
                    .build();
                aws_sdk_sts::Client::from_conf(conf)
            })
            .clone()
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
        let sessions = Sessions::new(
            server.sdk_config("us-east-1"),
            Some(Secret::new("ext-id")),
            "s",
        );
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

    #[tokio::test]
    async fn neither_the_external_id_nor_credentials_reach_debug() {
        let server = FakeAws::start(|_| {
            let xml = "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><AssumeRoleResult>\
                <Credentials><AccessKeyId>AKIDSECRETLOOKING</AccessKeyId><SecretAccessKey>very-secret-key</SecretAccessKey>\
                <SessionToken>session-token-value</SessionToken><Expiration>2099-01-01T00:00:00Z</Expiration></Credentials>\
                <AssumedRoleUser><Arn>arn:aws:sts::111111111111:assumed-role/R/s</Arn><AssumedRoleId>AROA:s</AssumedRoleId></AssumedRoleUser>\
                </AssumeRoleResult></AssumeRoleResponse>";
            (200, "text/xml", xml.to_owned())
        });
        let sessions = Sessions::new(
            server.sdk_config("eu-west-1"),
            Some(Secret::new("external-id-4711")),
            "s",
        );
        let role = "arn:aws:iam::111111111111:role/R";
        let sdk = sessions.config_for(Some(role), "aws").await.unwrap();
        let cell = sessions.roles.lock().unwrap()[role].clone();
        let cached = cell.get().unwrap().clone();
        let creds = cached.credentials().await.unwrap();
        // STS was called in the process's own region (its regional endpoint).
        let requests = server.requests();
        let auth = requests[0].header("authorization").unwrap_or_default();
        assert!(auth.contains("/eu-west-1/sts/"), "{auth}");
        for debug in [
            format!("{sessions:?}"),
            format!("{cached:?}"),
            format!("{creds:?}"),
            format!("{sdk:?}"),
        ] {
            for secret in ["external-id-4711", "very-secret-key", "session-token-value"] {
                assert!(!debug.contains(secret), "{secret} in {debug}");
            }
        }
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
