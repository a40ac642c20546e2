//! The Port HTTP client: access token cached until shortly before expiry (refreshed once on 401),
//! retries of 429/5xx/timeouts with exponential backoff and jitter honouring `Retry-After` and
//! `x-ratelimit-reset`, and a bound on concurrent requests.

use super::retry::{backoff, is_retryable, server_wait, MAX_ATTEMPTS};
use crate::config::Secret;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::{Mutex, Semaphore};

/// This build's version, part of the User-Agent.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// A Port API failure.
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    #[error("Port answered {status} to {method} {path}: {message} (error `{code}`, trace id {trace_id})")]
    Api {
        method: Method,
        path: String,
        status: StatusCode,
        code: String,
        message: String,
        trace_id: String,
    },
    #[error("Port could not be reached ({method} {path}): {source}")]
    Transport {
        method: Method,
        path: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("Invalid credentials: Port refused the client id and secret ({status}). Check PORT_CLIENT_ID and PORT_CLIENT_SECRET (or the secret behind PORT_CREDENTIALS_SECRET_ARN) and PORT_BASE_URL's region (EU https://api.getport.io, US https://api.us.getport.io)")]
    InvalidCredentials { status: StatusCode },
    #[error("Port answered {method} {path} with a body that is not the expected JSON: {message}")]
    Decode {
        method: Method,
        path: String,
        message: String,
    },
}

impl PortError {
    /// The HTTP status Port answered, when it answered.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            PortError::Api { status, .. } | PortError::InvalidCredentials { status } => {
                Some(*status)
            }
            _ => None,
        }
    }
}

/// Counters of what the client did, for summaries and benchmarks.
#[derive(Debug, Default)]
pub struct PortStats {
    pub requests: AtomicU64,
    pub token_requests: AtomicU64,
    pub retries: AtomicU64,
    pub bytes_sent: AtomicU64,
}

struct Token {
    value: String,
    refresh_at: Instant,
}

struct Inner {
    http: reqwest::Client,
    api: String,
    client_id: String,
    client_secret: Secret,
    token: Mutex<Option<Token>>,
    permits: Semaphore,
    stats: PortStats,
}

/// A cheap-to-clone handle to one Port client (one connection pool, one token).
#[derive(Clone)]
pub struct PortClient {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for PortClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PortClient")
            .field("api", &self.inner.api)
            .finish_non_exhaustive()
    }
}

/// The User-Agent of writes: Port records it as the entity's `$datasource`, which ownership and
/// stale-entity deletion rely on.
pub fn user_agent(integration: &str, account_id: &str, region: &str) -> String {
    format!("port-aws-sync/{VERSION} (integration/{integration}; account/{account_id}; region/{region})")
}

/// The `$datasource` prefix shared by every entity this installation writes.
pub fn datasource_prefix() -> &'static str {
    "port-aws-sync/"
}

impl PortClient {
    /// `base_url` without `/v1`; `max_concurrent` bounds requests in flight.
    pub fn new(
        base_url: &str,
        client_id: String,
        client_secret: Secret,
        max_concurrent: usize,
    ) -> PortClient {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .pool_idle_timeout(Duration::from_secs(50))
            .user_agent(format!("port-aws-sync/{VERSION}"))
            .build()
            .expect("the HTTP client builds");
        PortClient {
            inner: Arc::new(Inner {
                http,
                api: format!("{}/v1", base_url.trim_end_matches('/')),
                client_id,
                client_secret,
                token: Mutex::new(None),
                permits: Semaphore::new(max_concurrent.max(1)),
                stats: PortStats::default(),
            }),
        }
    }

    pub fn stats(&self) -> &PortStats {
        &self.inner.stats
    }

    async fn token(&self, force_refresh: bool) -> Result<String, PortError> {
        let mut guard = self.inner.token.lock().await;
        if !force_refresh {
            if let Some(t) = guard.as_ref().filter(|t| Instant::now() < t.refresh_at) {
                return Ok(t.value.clone());
            }
        }
        let path = "/auth/access_token";
        let body = json!({"clientId": self.inner.client_id, "clientSecret": self.inner.client_secret.expose()});
        let mut attempt = 0;
        let response = loop {
            attempt += 1;
            self.inner
                .stats
                .token_requests
                .fetch_add(1, Ordering::Relaxed);
            let sent = self
                .inner
                .http
                .post(format!("{}{path}", self.inner.api))
                .json(&body)
                .send()
                .await;
            match sent {
                Ok(r) if is_retryable(r.status()) && attempt < MAX_ATTEMPTS => {
                    let wait = server_wait(r.headers(), SystemTime::now())
                        .unwrap_or_else(|| backoff(attempt));
                    self.inner.stats.retries.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(wait).await;
                }
                Ok(r) => break r,
                Err(e) if attempt < MAX_ATTEMPTS && (e.is_timeout() || e.is_connect()) => {
                    self.inner.stats.retries.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(backoff(attempt)).await;
                }
                Err(source) => {
                    return Err(PortError::Transport {
                        method: Method::POST,
                        path: path.into(),
                        source,
                    })
                }
            }
        };
        let status = response.status();
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return Err(PortError::InvalidCredentials { status });
        }
        let value = read_json(Method::POST, path, response).await?;
        let token = value
            .get("accessToken")
            .and_then(Value::as_str)
            .ok_or_else(|| PortError::Decode {
                method: Method::POST,
                path: path.into(),
                message: "no accessToken".into(),
            })?
            .to_owned();
        let expires_in = value
            .get("expiresIn")
            .and_then(Value::as_f64)
            .unwrap_or(600.0)
            .max(0.0);
        // Refresh a minute (or a tenth of the lifetime) before expiry.
        let margin = (expires_in / 10.0).min(60.0);
        *guard = Some(Token {
            value: token.clone(),
            refresh_at: Instant::now() + Duration::from_secs_f64(expires_in - margin),
        });
        Ok(token)
    }

    /// Sends one request and returns its JSON body (for 2xx, including 207). Retries throttling and
    /// transient failures; refreshes the token once on 401.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
        user_agent: Option<&str>,
    ) -> Result<Value, PortError> {
        let encoded = body.map(|b| serde_json::to_vec(b).expect("JSON values serialize"));
        let mut refreshed = false;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let token = self.token(false).await?;
            let _permit = self
                .inner
                .permits
                .acquire()
                .await
                .expect("semaphore is never closed");
            let mut req = self
                .inner
                .http
                .request(method.clone(), format!("{}{path}", self.inner.api))
                .bearer_auth(&token)
                .query(query);
            if let Some(ua) = user_agent {
                req = req.header(reqwest::header::USER_AGENT, ua);
            }
            if let Some(bytes) = &encoded {
                self.inner
                    .stats
                    .bytes_sent
                    .fetch_add(bytes.len() as u64, Ordering::Relaxed);
                req = req
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(bytes.clone());
            }
            self.inner.stats.requests.fetch_add(1, Ordering::Relaxed);
            let response = match req.send().await {
                Ok(r) => r,
                Err(e)
                    if attempt < MAX_ATTEMPTS
                        && (e.is_timeout() || e.is_connect() || e.is_request()) =>
                {
                    tracing::debug!(path, attempt, error = %e, "Port request failed, retrying");
                    self.inner.stats.retries.fetch_add(1, Ordering::Relaxed);
                    drop(_permit);
                    tokio::time::sleep(backoff(attempt)).await;
                    continue;
                }
                Err(source) => {
                    return Err(PortError::Transport {
                        method,
                        path: path.into(),
                        source,
                    })
                }
            };
            let status = response.status();
            if status == StatusCode::UNAUTHORIZED && !refreshed {
                refreshed = true;
                drop(_permit);
                self.token(true).await?;
                continue;
            }
            if is_retryable(status) && attempt < MAX_ATTEMPTS {
                let wait = server_wait(response.headers(), SystemTime::now())
                    .unwrap_or_else(|| backoff(attempt));
                tracing::debug!(path, %status, attempt, wait_ms = wait.as_millis() as u64, "Port throttled or failed, retrying");
                self.inner.stats.retries.fetch_add(1, Ordering::Relaxed);
                drop(_permit);
                tokio::time::sleep(wait).await;
                continue;
            }
            if status.is_success() {
                return read_json(method, path, response).await;
            }
            let trace_id = response
                .headers()
                .get("x-trace-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-")
                .to_owned();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            return Err(PortError::Api {
                method,
                path: path.into(),
                status,
                code: body
                    .get("error")
                    .and_then(Value::as_str)
                    .unwrap_or("unknown")
                    .to_owned(),
                message: body
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("no message")
                    .to_owned(),
                trace_id,
            });
        }
    }
}

async fn read_json(
    method: Method,
    path: &str,
    response: reqwest::Response,
) -> Result<Value, PortError> {
    let bytes = response
        .bytes()
        .await
        .map_err(|source| PortError::Transport {
            method: method.clone(),
            path: path.into(),
            source,
        })?;
    if bytes.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_slice(&bytes).map_err(|e| PortError::Decode {
        method,
        path: path.into(),
        message: e.to_string(),
    })
}

/// Percent-encodes one path segment (identifiers such as ARNs contain `/` and `:`).
pub fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_agent_names_integration_account_and_region() {
        assert_eq!(
            user_agent("prod", "123456789012", "global"),
            format!(
                "port-aws-sync/{VERSION} (integration/prod; account/123456789012; region/global)"
            )
        );
        assert!(user_agent("prod", "1", "r").starts_with(datasource_prefix()));
    }

    #[test]
    fn encodes_arns_in_paths() {
        assert_eq!(
            encode_segment("arn:aws:s3:::b/x"),
            "arn%3Aaws%3As3%3A%3A%3Ab%2Fx"
        );
    }
}
