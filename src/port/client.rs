//! The Port HTTP client: access token cached until shortly before expiry (replaced once when Port
//! rejects it with 401, one refresh for all the requests it rejected), retries of 429/5xx/timeouts
//! on [`super::retry::schedule`] honouring the wait Port asks for on 429 and 503, and a bound on
//! concurrent requests.

use super::clock::PortClock;
use super::retry::{is_retryable, requested_wait, schedule};
use crate::config::Secret;
use backon::Retryable;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::{Mutex, Semaphore};

/// This build's version, part of the User-Agent.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// Characters of an error body that is not Port's JSON kept in the error message.
const BODY_EXCERPT: usize = 300;
/// Establishing a connection to Port.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// One request to Port, the answer's body included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

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
    #[error("Port's search of {path} returned the same page cursor twice, so the list of entities may be incomplete: stopped rather than page for ever or take missing entities for gone. Retry, and report it if it persists")]
    RepeatedCursor { path: String },
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
    /// Held by the one token request in flight (see [`PortClient::token`]).
    refresh: Mutex<()>,
    permits: Semaphore,
    stats: PortStats,
    clock: PortClock,
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
            .tls_backend_preconfigured(crate::tls::client_config())
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
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
                refresh: Mutex::new(()),
                permits: Semaphore::new(max_concurrent.max(1)),
                stats: PortStats::default(),
                clock: PortClock::default(),
            }),
        }
    }

    pub fn stats(&self) -> &PortStats {
        &self.inner.stats
    }

    /// Port's time now, from the `Date` of its answers (see [`PortClock`]), for comparing with
    /// the `$updatedAt` Port stamps. When Port has not answered yet, the access token is fetched
    /// first (its answer carries Port's time); if that fails, the clock's fallback applies.
    pub async fn port_now(&self) -> SystemTime {
        if !self.inner.clock.known() {
            if let Err(e) = self.token(None).await {
                tracing::debug!(error = %e, "Port's time unknown: our clock less the margin stands in");
            }
        }
        self.inner.clock.now()
    }

    /// Port's time now as its last answer told it, without asking (see [`PortClock`]).
    pub fn port_clock(&self) -> SystemTime {
        self.inner.clock.now()
    }

    /// The access token: the cached one while fresh, else a new one. `rejected` is a token Port
    /// answered 401 to: it is replaced once, however many requests were rejected with it (they
    /// wait for the one refresh and share its result). The token state is locked only to read or
    /// store it, never while a token request (and its retries) is in flight.
    async fn token(&self, rejected: Option<&str>) -> Result<String, PortError> {
        if let Some(token) = self.usable_token(rejected).await {
            return Ok(token);
        }
        let _refreshing = self.inner.refresh.lock().await;
        // Another request may have refreshed while this one waited.
        if let Some(token) = self.usable_token(rejected).await {
            return Ok(token);
        }
        let token = self.fetch_token().await?;
        let value = token.value.clone();
        *self.inner.token.lock().await = Some(token);
        Ok(value)
    }

    /// The cached token when fresh and not the rejected one.
    async fn usable_token(&self, rejected: Option<&str>) -> Option<String> {
        let guard = self.inner.token.lock().await;
        guard
            .as_ref()
            .filter(|t| Instant::now() < t.refresh_at && Some(t.value.as_str()) != rejected)
            .map(|t| t.value.clone())
    }

    /// `POST /v1/auth/access_token`, retried on throttling and transient failures.
    async fn fetch_token(&self) -> Result<Token, PortError> {
        let path = "/auth/access_token";
        let body = json!({"clientId": self.inner.client_id, "clientSecret": self.inner.client_secret.expose()});
        let stats = &self.inner.stats;
        let attempt = || async {
            stats.token_requests.fetch_add(1, Ordering::Relaxed);
            let sent_at = SystemTime::now();
            let sent = self
                .inner
                .http
                .post(format!("{}{path}", self.inner.api))
                .json(&body)
                .send()
                .await;
            self.observe(sent_at, &sent);
            classify(Method::POST, path, sent)
        };
        let response = with_retries(attempt, stats, path).await?;
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
        Ok(Token {
            value: token,
            refresh_at: Instant::now() + Duration::from_secs_f64(expires_in - margin),
        })
    }

    /// Sends one request and returns its JSON body (for 2xx, including 207). Retries throttling and
    /// transient failures; on 401, replaces the rejected token once and sends again.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
        user_agent: Option<&str>,
    ) -> Result<Value, PortError> {
        let encoded = body.map(|b| serde_json::to_vec(b).expect("JSON values serialize"));
        let call = Call {
            method,
            path,
            query,
            body: encoded.as_deref(),
            user_agent,
        };
        let mut refreshed = false;
        loop {
            let token = self.token(None).await?;
            let attempt = || self.send(&call, &token);
            let response = with_retries(attempt, &self.inner.stats, path).await?;
            let status = response.status();
            if status == StatusCode::UNAUTHORIZED && !refreshed {
                refreshed = true;
                self.token(Some(&token)).await?;
                continue;
            }
            if status.is_success() {
                return read_json(call.method, path, response).await;
            }
            return Err(api_error(call.method, path, response).await);
        }
    }

    /// One attempt of a request with `token`, holding one of the concurrency permits.
    async fn send(&self, call: &Call<'_>, token: &str) -> Result<reqwest::Response, Box<Retry>> {
        let _permit = self
            .inner
            .permits
            .acquire()
            .await
            .expect("semaphore is never closed");
        let mut req = self
            .inner
            .http
            .request(
                call.method.clone(),
                format!("{}{}", self.inner.api, call.path),
            )
            .bearer_auth(token)
            .query(call.query);
        if let Some(ua) = call.user_agent {
            req = req.header(reqwest::header::USER_AGENT, ua);
        }
        if let Some(bytes) = call.body {
            self.inner
                .stats
                .bytes_sent
                .fetch_add(bytes.len() as u64, Ordering::Relaxed);
            req = req
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(bytes.to_vec());
        }
        self.inner.stats.requests.fetch_add(1, Ordering::Relaxed);
        let sent_at = SystemTime::now();
        let sent = req.send().await;
        self.observe(sent_at, &sent);
        classify(call.method.clone(), call.path, sent)
    }

    /// Learns Port's time from an answer to a request sent at `sent_at`.
    fn observe(&self, sent_at: SystemTime, sent: &Result<reqwest::Response, reqwest::Error>) {
        if let Ok(response) = sent {
            self.inner
                .clock
                .observe(response.headers(), sent_at, SystemTime::now());
        }
    }
}

/// One request's parts, sent again on each attempt.
struct Call<'a> {
    method: Method,
    path: &'a str,
    query: &'a [(&'a str, String)],
    body: Option<&'a [u8]>,
    user_agent: Option<&'a str>,
}

/// Why an attempt is worth another one: a throttling or transient answer (with the wait Port
/// asked for, if any), or a transient transport failure. Anything else ends the attempts.
enum Retry {
    Answer(reqwest::Response, Option<Duration>),
    Transport(PortError),
    Final(PortError),
}

/// Sorts an attempt's outcome: an answer to keep, or a [`Retry`].
fn classify(
    method: Method,
    path: &str,
    sent: Result<reqwest::Response, reqwest::Error>,
) -> Result<reqwest::Response, Box<Retry>> {
    match sent {
        Ok(r) if is_retryable(r.status()) => {
            let wait = requested_wait(r.status(), r.headers(), SystemTime::now());
            Err(Box::new(Retry::Answer(r, wait)))
        }
        Ok(r) => Ok(r),
        Err(source) => {
            let transient = source.is_timeout() || source.is_connect() || source.is_request();
            let error = PortError::Transport {
                method,
                path: path.into(),
                source,
            };
            Err(Box::new(if transient {
                Retry::Transport(error)
            } else {
                Retry::Final(error)
            }))
        }
    }
}

/// Runs `attempt` on [`schedule`] until it gives an answer to keep or the attempts run out: the
/// last retryable answer is then returned as it is (the caller reads its status), a transport
/// failure as the error.
async fn with_retries<F, Fut>(
    attempt: F,
    stats: &PortStats,
    path: &str,
) -> Result<reqwest::Response, PortError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<reqwest::Response, Box<Retry>>>,
{
    let outcome = attempt
        .retry(schedule())
        .sleep(tokio::time::sleep)
        .when(|e| !matches!(**e, Retry::Final(_)))
        .adjust(|e, backoff| match **e {
            Retry::Answer(_, Some(wait)) if backoff.is_some() => Some(wait),
            _ => backoff,
        })
        .notify(|e, wait| {
            stats.retries.fetch_add(1, Ordering::Relaxed);
            match &**e {
                Retry::Answer(r, _) => {
                    tracing::debug!(path, status = %r.status(), wait_ms = wait.as_millis() as u64, "Port throttled or failed, retrying")
                }
                Retry::Transport(e) | Retry::Final(e) => {
                    tracing::debug!(path, error = %e, "Port request failed, retrying")
                }
            }
        })
        .await;
    match outcome {
        Ok(response) => Ok(response),
        Err(retry) => match *retry {
            Retry::Answer(response, _) => Ok(response),
            Retry::Transport(e) | Retry::Final(e) => Err(e),
        },
    }
}

/// The error of a non-success answer: Port's code and message, and its trace id.
async fn api_error(method: Method, path: &str, response: reqwest::Response) -> PortError {
    let status = response.status();
    let trace_id = response
        .headers()
        .get("x-trace-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_owned();
    let bytes = response.bytes().await.unwrap_or_default();
    let (code, message) = error_fields(&bytes);
    PortError::Api {
        method,
        path: path.into(),
        status,
        code,
        message,
        trace_id,
    }
}

/// Port's error code and message from its JSON error body; a body that is not (a proxy's HTML
/// page, a gateway's text) is kept as the message, shortened.
fn error_fields(bytes: &[u8]) -> (String, String) {
    let body: Value = serde_json::from_slice(bytes).unwrap_or(Value::Null);
    let field = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_owned);
    match (field("error"), field("message")) {
        (None, None) if !body.is_object() => {
            let text = String::from_utf8_lossy(bytes);
            let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
            let mut excerpt: String = text.chars().take(BODY_EXCERPT).collect();
            if excerpt.is_empty() {
                excerpt = "no message (empty body)".into();
            } else if text.chars().count() > BODY_EXCERPT {
                excerpt.push('…');
            }
            (
                "unknown".into(),
                format!("the answer is not Port's JSON: {excerpt}"),
            )
        }
        (code, message) => (
            code.unwrap_or_else(|| "unknown".into()),
            message.unwrap_or_else(|| "no message".into()),
        ),
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

/// Characters escaped in a path segment: all but RFC 3986's unreserved ones.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Percent-encodes one path segment (identifiers such as ARNs contain `/` and `:`).
pub fn encode_segment(s: &str) -> String {
    utf8_percent_encode(s, SEGMENT).to_string()
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
    fn an_error_body_that_is_not_json_is_kept_shortened() {
        let (code, message) =
            error_fields(br#"{"error": "not_found", "message": "no such blueprint"}"#);
        assert_eq!(
            (code.as_str(), message.as_str()),
            ("not_found", "no such blueprint")
        );
        let html = format!(
            "<html><body><h1>502 Bad Gateway</h1>\n{}</body></html>",
            "x".repeat(1000)
        );
        let (code, message) = error_fields(html.as_bytes());
        assert_eq!(code, "unknown");
        assert!(message.contains("<h1>502 Bad Gateway</h1>"), "{message}");
        assert!(message.chars().count() < 360, "{}", message.len());
        assert!(message.ends_with('…'));
        let (_, message) = error_fields(b"");
        assert!(message.contains("empty"), "{message}");
    }

    #[test]
    fn encodes_arns_in_paths() {
        assert_eq!(
            encode_segment("arn:aws:s3:::b/x"),
            "arn%3Aaws%3As3%3A%3A%3Ab%2Fx"
        );
    }
}
