//! The public surface: [`AwsApi`] (one per process: the HTTP client, options, credential caches,
//! counters) and [`ServiceClient`] (one service in one account and region), whose
//! [`ServiceClient::call`] signs, sends, retries and parses one operation.

use super::credentials::CredentialCache;
use super::customizations;
use super::endpoint::{self, Endpoint};
use super::error::{ApiError, CallSite};
use super::model::{self, Operation, Protocol, ServiceModel};
use super::protocol::{self, HttpRequest};
use super::retry::{self, Retry};
use super::xml_parts::XmlOutput;
use aws_config::SdkConfig;
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4::SigningParams;
use aws_smithy_runtime_api::client::identity::{Identity, IdentityCachePartition, ResolveIdentity};
use reqwest::header::HeaderMap;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// Turns a successful answer (status, headers, body) into an output.
type Decoder<'a, T> = dyn Fn(u16, &HeaderMap, &[u8]) -> Result<T, String> + Send + Sync + 'a;

/// Timeouts and retries of every call. Defaults suit a sync: a slow answer is retried rather
/// than waited for, and throttling slows a call down for a while before it fails.
#[derive(Debug, Clone)]
pub struct ApiOptions {
    pub connect_timeout: Duration,
    /// One HTTP attempt, body included.
    pub attempt_timeout: Duration,
    /// One operation with all its attempts and waits.
    pub operation_timeout: Duration,
    /// Attempts per operation, the first included.
    pub max_attempts: u32,
    /// First backoff ceiling, doubled after each attempt up to `backoff_cap`.
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
}

impl Default for ApiOptions {
    fn default() -> Self {
        ApiOptions {
            connect_timeout: crate::aws::CONNECT_TIMEOUT,
            attempt_timeout: crate::aws::ATTEMPT_TIMEOUT,
            operation_timeout: crate::aws::OPERATION_TIMEOUT,
            max_attempts: 6,
            backoff_base: Duration::from_millis(100),
            backoff_cap: Duration::from_secs(20),
        }
    }
}

/// Counts of one [`AwsApi`] since it was made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallCounts {
    /// Operations called (each page of a paginated call is one).
    pub calls: u64,
    /// Attempts beyond the first, for any reason.
    pub retries: u64,
    /// Answers that asked us to slow down.
    pub throttled: u64,
}

#[derive(Debug, Default)]
struct Counters {
    calls: AtomicU64,
    retries: AtomicU64,
    throttled: AtomicU64,
}

/// Bounds the credential caches kept for providers: far more than the accounts of a large
/// organization, and a process that somehow made more starts over rather than growing.
const MAX_CACHED_PROVIDERS: usize = 20_000;

#[derive(Debug)]
struct Shared {
    http: reqwest::Client,
    options: ApiOptions,
    counters: Counters,
    credentials: Mutex<HashMap<IdentityCachePartition, Arc<CredentialCache>>>,
}

/// The model-driven AWS client of a process. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AwsApi {
    shared: Arc<Shared>,
}

impl AwsApi {
    /// Builds the HTTP client (rustls); fails only when TLS cannot be set up.
    pub fn new(options: ApiOptions) -> Result<AwsApi, reqwest::Error> {
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(crate::tls::client_config())
            .connect_timeout(options.connect_timeout)
            .user_agent(concat!("port-aws-sync/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(AwsApi {
            shared: Arc::new(Shared {
                http,
                options,
                counters: Counters::default(),
                credentials: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// A client for `service` (botocore name: `ec2`, `lambda`, `sesv2`, ...) with the
    /// credentials and endpoint override of `sdk`, in `region`. Cheap: make one per account and
    /// region as needed. Fails for a service not in the manifest or a malformed region.
    pub fn client(
        &self,
        service: &str,
        sdk: &SdkConfig,
        region: &str,
    ) -> Result<ServiceClient, ApiError> {
        let model = model::service(service)?;
        let endpoint = endpoint::resolve(service, &model.metadata, region, sdk.endpoint_url())
            .map_err(|message| ApiError::InvalidRequest {
                call: None,
                message,
            })?;
        let credentials = sdk
            .credentials_provider()
            .map(|provider| self.credential_cache(provider));
        Ok(ServiceClient {
            shared: self.shared.clone(),
            service: service.to_owned(),
            model,
            region: Arc::from(region),
            endpoint,
            credentials,
        })
    }

    /// Calls, retries and throttled answers so far.
    pub fn counts(&self) -> CallCounts {
        let c = &self.shared.counters;
        CallCounts {
            calls: c.calls.load(Ordering::Relaxed),
            retries: c.retries.load(Ordering::Relaxed),
            throttled: c.throttled.load(Ordering::Relaxed),
        }
    }

    /// The one cache of a provider, shared by all its clients. Providers are told apart by the
    /// identity-cache partition every `SharedCredentialsProvider` carries: unique per provider
    /// and kept by its clones.
    fn credential_cache(
        &self,
        provider: aws_credential_types::provider::SharedCredentialsProvider,
    ) -> Arc<CredentialCache> {
        let Some(partition) = provider.cache_partition() else {
            return Arc::new(CredentialCache::new(provider));
        };
        let mut caches = match self.shared.credentials.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        if caches.len() >= MAX_CACHED_PROVIDERS {
            caches.clear();
        }
        caches
            .entry(partition)
            .or_insert_with(|| Arc::new(CredentialCache::new(provider)))
            .clone()
    }
}

/// One service, in one account (credentials) and region.
#[derive(Debug, Clone)]
pub struct ServiceClient {
    shared: Arc<Shared>,
    service: String,
    model: &'static ServiceModel,
    region: Arc<str>,
    endpoint: Endpoint,
    credentials: Option<Arc<CredentialCache>>,
}

impl ServiceClient {
    /// The region this client calls.
    pub fn region(&self) -> &str {
        &self.region
    }

    pub(crate) fn service_name(&self) -> &str {
        &self.service
    }

    pub(crate) fn model(&self) -> &'static ServiceModel {
        self.model
    }

    pub(crate) fn call_site(&self, operation: &'static str) -> CallSite {
        CallSite {
            service: &self.model.metadata.service_id,
            operation,
            region: self.region.clone(),
        }
    }

    /// Calls `operation` with `input` (API member names, as boto3 takes them; `Value::Null` for
    /// none) and returns the output as boto3 parses it, without `ResponseMetadata`. Throttling
    /// and passing failures are retried with backoff within [`ApiOptions`]' bounds.
    pub async fn call(&self, operation: &str, input: Value) -> Result<Value, ApiError> {
        let op = self.model.operation(&self.service, operation)?;
        let model = self.model;
        let decode = |status: u16, headers: &HeaderMap, body: &[u8]| {
            protocol::read_output(model, op, status, headers, body)
        };
        let mut output = self.send(op, input, &decode).await?;
        if let Some(output_shape) = op.output.as_ref().and_then(|o| model.shapes.get(&o.shape)) {
            customizations::output(&self.service, model, output_shape, &mut output);
        }
        Ok(output)
    }

    /// Calls `operation` as [`ServiceClient::call`] does, but keeps the XML output as text, to
    /// be read part by part ([`XmlOutput`]). Only for the `query` and `ec2` protocols, and
    /// services whose outputs boto3 does not change in code.
    pub async fn call_xml(&self, operation: &str, input: Value) -> Result<XmlOutput, ApiError> {
        let op = self.model.operation(&self.service, operation)?;
        let call = self.call_site(&op.name);
        let model = self.model;
        let refuse = |message: &str| ApiError::InvalidRequest {
            call: Some(call.clone()),
            message: message.to_owned(),
        };
        if !matches!(model.metadata.protocol, Protocol::Query | Protocol::Ec2)
            || customizations::changes_outputs(&self.service)
        {
            return Err(refuse(
                "only query and ec2 outputs without customizations are read lazily: use call",
            ));
        }
        let Some(output) = op.output.as_ref() else {
            return Err(refuse("the operation has no output: use call"));
        };
        let output_shape = model.shape(&output.shape).map_err(|m| refuse(&m))?;
        let wrapper = output.result_wrapper.as_deref();
        let decode = |_: u16, _: &HeaderMap, body: &[u8]| {
            let text =
                std::str::from_utf8(body).map_err(|e| format!("the body is not UTF-8: {e}"))?;
            Ok(XmlOutput::new(
                model,
                output_shape,
                wrapper,
                text.to_owned(),
            ))
        };
        self.send(op, input, &decode).await
    }

    /// One call of `op`: the input as boto3 changes it, the request, then its attempts within
    /// the operation timeout, the answer read by `decode`.
    async fn send<T>(
        &self,
        op: &'static Operation,
        mut input: Value,
        decode: &Decoder<'_, T>,
    ) -> Result<T, ApiError> {
        let call = self.call_site(&op.name);
        let input_shape = op
            .input
            .as_ref()
            .and_then(|i| self.model.shapes.get(&i.shape));
        customizations::input(&self.service, input_shape, &mut input);
        let request = protocol::build_request(self.model, op, &input).map_err(|message| {
            ApiError::InvalidRequest {
                call: Some(call.clone()),
                message,
            }
        })?;
        self.shared.counters.calls.fetch_add(1, Ordering::Relaxed);
        let limit = self.shared.options.operation_timeout;
        let send = self.send_with_retries(&call, &request, decode);
        match tokio::time::timeout(limit, send).await {
            Ok(result) => result,
            Err(_) => Err(ApiError::Timeout { call, after: limit }),
        }
    }

    async fn send_with_retries<T>(
        &self,
        call: &CallSite,
        request: &HttpRequest,
        decode: &Decoder<'_, T>,
    ) -> Result<T, ApiError> {
        let options = &self.shared.options;
        let counters = &self.shared.counters;
        let mut attempt = 1;
        loop {
            let err = match self.attempt(call, request, decode).await {
                Ok(value) => return Ok(value),
                Err(err) => err,
            };
            let class = retry::classify(&err);
            if class == Retry::Throttled {
                counters.throttled.fetch_add(1, Ordering::Relaxed);
            }
            if class == Retry::No || attempt >= options.max_attempts.max(1) {
                return Err(match (class, err) {
                    (Retry::Throttled, ApiError::Service { code, message, .. }) => {
                        ApiError::Throttled {
                            call: call.clone(),
                            attempts: attempt,
                            code,
                            message,
                        }
                    }
                    (_, err) => err,
                });
            }
            tracing::debug!(service = call.service, operation = %call.operation, region = %call.region,
                attempt, error = %err, "retrying AWS call");
            tokio::time::sleep(retry::backoff(
                attempt,
                options.backoff_base,
                options.backoff_cap,
            ))
            .await;
            counters.retries.fetch_add(1, Ordering::Relaxed);
            attempt += 1;
        }
    }

    /// One signed HTTP exchange.
    async fn attempt<T>(
        &self,
        call: &CallSite,
        request: &HttpRequest,
        decode: &Decoder<'_, T>,
    ) -> Result<T, ApiError> {
        let no_credentials = |message: String| ApiError::Credentials {
            service: call.service,
            region: call.region.to_string(),
            message,
        };
        let cache = self
            .credentials
            .as_ref()
            .ok_or_else(|| no_credentials("no credentials provider is configured".into()))?;
        let creds = cache.get().await.map_err(no_credentials)?;
        let url = format!("{}{}", self.endpoint.url, request.path_and_query);
        let headers = self
            .signed_headers(&url, request, creds)
            .map_err(|message| ApiError::InvalidRequest {
                call: Some(call.clone()),
                message,
            })?;
        let method = reqwest::Method::from_bytes(request.method.as_bytes()).map_err(|e| {
            ApiError::InvalidRequest {
                call: Some(call.clone()),
                message: e.to_string(),
            }
        })?;
        let mut builder = self
            .shared
            .http
            .request(method, &url)
            .timeout(self.shared.options.attempt_timeout)
            .body(request.body.clone());
        for (name, value) in &headers {
            builder = builder.header(name, value);
        }
        let transport = |source: reqwest::Error| {
            if source.is_timeout() {
                ApiError::Timeout {
                    call: call.clone(),
                    after: self.shared.options.attempt_timeout,
                }
            } else {
                ApiError::Transport {
                    call: call.clone(),
                    source: source.without_url(),
                }
            }
        };
        let response = builder.send().await.map_err(transport)?;
        let status = response.status().as_u16();
        let response_headers = response.headers().clone();
        let body = response.bytes().await.map_err(transport)?;
        if (200..300).contains(&status) {
            return decode(status, &response_headers, &body).map_err(|message| ApiError::Decode {
                call: call.clone(),
                message,
            });
        }
        let wire = protocol::read_error(self.model, status, &response_headers, &body);
        Err(ApiError::Service {
            call: call.clone(),
            status,
            code: wire.code,
            message: wire.message,
            request_id: wire.request_id,
        })
    }

    /// The request's headers plus the SigV4 ones
    /// (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv.html>).
    fn signed_headers(
        &self,
        url: &str,
        request: &HttpRequest,
        creds: Credentials,
    ) -> Result<Vec<(String, String)>, String> {
        let host = url
            .split_once("://")
            .map(|(_, rest)| rest.split('/').next().unwrap_or(rest))
            .ok_or("the endpoint has no scheme")?;
        let mut headers = request.headers.clone();
        headers.push(("host".to_owned(), host.to_owned()));
        let identity = Identity::from(creds);
        let params = SigningParams::builder()
            .identity(&identity)
            .region(&self.endpoint.signing_region)
            .name(&self.endpoint.signing_name)
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| e.to_string())?
            .into();
        let signable = SignableRequest::new(
            &request.method,
            url,
            headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            SignableBody::Bytes(&request.body),
        )
        .map_err(|e| e.to_string())?;
        let (instructions, _signature) = sign(signable, &params)
            .map_err(|e| e.to_string())?
            .into_parts();
        for (name, value) in instructions.headers() {
            headers.push((name.to_owned(), value.to_owned()));
        }
        Ok(headers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_config::{BehaviorVersion, Region};
    use aws_credential_types::provider::SharedCredentialsProvider;

    fn sdk(endpoint: Option<&str>) -> SdkConfig {
        let mut builder = SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                "AKIDEXAMPLE",
                "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                Some("session-token".into()),
                None,
                "test",
            )));
        if let Some(url) = endpoint {
            builder = builder.endpoint_url(url);
        }
        builder.build()
    }

    #[test]
    fn clients_of_one_provider_share_one_credential_cache() {
        let api = AwsApi::new(ApiOptions::default()).unwrap();
        let config = sdk(None);
        let a = api.client("ec2", &config, "eu-west-1").unwrap();
        let b = api.client("lambda", &config, "us-east-1").unwrap();
        let (Some(ca), Some(cb)) = (&a.credentials, &b.credentials) else {
            panic!("no cache")
        };
        assert!(Arc::ptr_eq(ca, cb));
        let other = api.client("ec2", &sdk(None), "eu-west-1").unwrap();
        assert!(!Arc::ptr_eq(ca, other.credentials.as_ref().unwrap()));
    }

    #[test]
    fn signs_with_the_service_signing_name_and_region_and_the_session_token() {
        let api = AwsApi::new(ApiOptions::default()).unwrap();
        let client = api.client("sesv2", &sdk(None), "eu-west-1").unwrap();
        let model = client.model;
        let op = model.operation("sesv2", "ListEmailIdentities").unwrap();
        let request = protocol::build_request(model, op, &Value::Null).unwrap();
        let creds = Credentials::new("AKIDEXAMPLE", "secret", Some("tok".into()), None, "t");
        let url = format!("{}{}", client.endpoint.url, request.path_and_query);
        let headers = client.signed_headers(&url, &request, creds).unwrap();
        let get = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("host"), Some("email.eu-west-1.amazonaws.com"));
        assert_eq!(get("x-amz-security-token"), Some("tok"));
        let auth = get("authorization").unwrap();
        assert!(
            auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"),
            "{auth}"
        );
        assert!(auth.contains("/eu-west-1/ses/aws4_request"), "{auth}");
        assert!(!auth.contains("secret"));
    }

    #[tokio::test]
    async fn unreachable_endpoints_fail_as_transport_errors_after_retries() {
        let options = ApiOptions {
            max_attempts: 2,
            backoff_base: Duration::from_millis(1),
            ..ApiOptions::default()
        };
        let api = AwsApi::new(options).unwrap();
        // A port nothing listens on: bind, read the port, close.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("http://127.0.0.1:{port}");
        let client = api
            .client("dynamodb", &sdk(Some(&url)), "eu-west-1")
            .unwrap();
        let err = client.call("ListTables", Value::Null).await.unwrap_err();
        assert!(matches!(err, ApiError::Transport { .. }), "{err:?}");
        assert!(
            err.to_string()
                .starts_with("DynamoDB ListTables failed in eu-west-1: could not reach"),
            "{err}"
        );
        assert_eq!(
            api.counts(),
            CallCounts {
                calls: 1,
                retries: 1,
                throttled: 0
            }
        );
    }

    #[test]
    fn unknown_services_and_bad_regions_are_refused() {
        let api = AwsApi::new(ApiOptions::default()).unwrap();
        assert!(matches!(
            api.client("nosuch", &sdk(None), "eu-west-1"),
            Err(ApiError::NotInManifest { .. })
        ));
        assert!(api
            .client("ec2", &sdk(None), "eu-west-1.evil.com/")
            .is_err());
    }
}
