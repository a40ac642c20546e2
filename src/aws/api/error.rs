//! The client's one error type, and the classification callers branch on (throttled, access
//! denied, not found). Messages are one readable sentence and never carry credentials, signed
//! headers or request bodies.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// Which call failed: the service's readable name (`serviceId`: "EC2", "Route 53"), the
/// operation and the region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallSite {
    pub service: &'static str,
    pub operation: &'static str,
    pub region: Arc<str>,
}

impl fmt::Display for CallSite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} failed in {}",
            self.service, self.operation, self.region
        )
    }
}

/// An error of a call through [`super::ServiceClient`].
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The service answered with an error (HTTP status, code and message as the service sent
    /// them; the code as boto3 reports it in `Error.Code`).
    #[error("{call}: {code}: {message}")]
    Service {
        call: CallSite,
        status: u16,
        code: String,
        message: String,
        request_id: Option<String>,
    },
    /// Still throttled after every attempt.
    #[error("{call}: {code}: {message} (still throttled after {attempts} attempts)")]
    Throttled {
        call: CallSite,
        attempts: u32,
        code: String,
        message: String,
    },
    /// The request did not get an HTTP answer (connection refused or reset, DNS, TLS).
    #[error("{call}: could not reach the service: {source}")]
    Transport {
        call: CallSite,
        #[source]
        source: reqwest::Error,
    },
    /// An attempt, or the whole operation with its retries, took longer than allowed.
    #[error("{call}: no answer within {after:?}")]
    Timeout { call: CallSite, after: Duration },
    /// No credentials could be had for signing.
    #[error("{service} calls in {region} have no credentials: {message}")]
    Credentials {
        service: &'static str,
        region: String,
        message: String,
    },
    /// A successful answer that does not parse as the protocol says.
    #[error("{call}: the response does not parse: {message}")]
    Decode { call: CallSite, message: String },
    /// The service returned a pagination token it had already returned: a service-side bug that
    /// would otherwise page for ever.
    #[error("{call}: the service returned the same pagination token twice, stopping")]
    RepeatedToken { call: CallSite },
    /// A service or operation this client has no model for.
    #[error("{}", not_in_manifest(service, operation.as_deref()))]
    NotInManifest {
        service: String,
        operation: Option<String>,
    },
    /// The input does not fit the operation (unknown member, missing URI label, wrong type).
    #[error("{}{message}", call.as_ref().map(|c| format!("{c}: ")).unwrap_or_default())]
    InvalidRequest {
        call: Option<CallSite>,
        message: String,
    },
}

fn not_in_manifest(service: &str, operation: Option<&str>) -> String {
    let what = match operation {
        Some(op) => format!("AWS operation {service} {op} is"),
        None => format!("AWS service {service} is"),
    };
    format!(
        "{what} not in {}: add it there and run scripts/gen-aws-models",
        super::model::MANIFEST
    )
}

impl ApiError {
    /// The service's error code, when the service answered with one.
    pub fn code(&self) -> Option<&str> {
        match self {
            ApiError::Service { code, .. } | ApiError::Throttled { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The HTTP status of a service error.
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Service { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Throttled, whether or not retries were used up.
    pub fn is_throttling(&self) -> bool {
        match self {
            ApiError::Throttled { .. } => true,
            ApiError::Service { status, code, .. } => is_throttling_code(code) || *status == 429,
            _ => false,
        }
    }

    /// The caller may not do this (IAM policy, SCP, missing opt-in).
    pub fn is_access_denied(&self) -> bool {
        self.code().is_some_and(is_access_denied_code)
    }

    /// The named resource does not exist (`ResourceNotFoundException`, `NoSuchEntity`,
    /// `InvalidInstanceID.NotFound`, `DBInstanceNotFound`, SQS's `NonExistentQueue`, ...).
    pub fn is_not_found(&self) -> bool {
        self.code().is_some_and(is_not_found_code)
    }
}

/// Error codes that mean the caller may not make the call (IAM policy, SCP, missing opt-in).
pub fn is_access_denied_code(code: &str) -> bool {
    code.starts_with("AccessDenied")
        || matches!(
            code,
            "UnauthorizedOperation"
                | "AuthorizationError"
                | "AuthorizationErrorException"
                | "UnauthorizedException"
                | "Forbidden"
        )
}

/// Error codes that mean the named resource does not exist.
pub fn is_not_found_code(code: &str) -> bool {
    code.ends_with("NotFound")
        || code.ends_with("NotFoundException")
        || code.ends_with("NotFoundFault")
        || code.starts_with("NoSuch")
        || code.ends_with("DoesNotExist")
        || code.ends_with("DoesNotExistException")
        || code.contains("NonExistent")
}

/// Error codes that mean "slow down" across AWS services. `LimitExceededException` is a
/// request-rate limit for the read calls this client makes.
pub fn is_throttling_code(code: &str) -> bool {
    matches!(
        code,
        "Throttling"
            | "ThrottlingException"
            | "ThrottledException"
            | "RequestThrottledException"
            | "TooManyRequestsException"
            | "ProvisionedThroughputExceededException"
            | "TransactionInProgressException"
            | "RequestLimitExceeded"
            | "BandwidthLimitExceeded"
            | "LimitExceededException"
            | "RequestThrottled"
            | "SlowDown"
            | "PriorRequestNotComplete"
            | "EC2ThrottledException"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service_error(status: u16, code: &str) -> ApiError {
        ApiError::Service {
            call: CallSite {
                service: "EC2",
                operation: "DescribeInstances",
                region: "eu-west-1".into(),
            },
            status,
            code: code.into(),
            message: "boom".into(),
            request_id: Some("req-1".into()),
        }
    }

    #[test]
    fn displays_one_sentence_with_service_operation_region_code_and_message() {
        assert_eq!(
            service_error(400, "InvalidInstanceID.NotFound").to_string(),
            "EC2 DescribeInstances failed in eu-west-1: InvalidInstanceID.NotFound: boom"
        );
    }

    #[test]
    fn classifies_not_found_codes_of_several_services() {
        for code in [
            "InvalidInstanceID.NotFound",
            "ResourceNotFoundException",
            "NoSuchEntity",
            "DBInstanceNotFound",
            "DBInstanceNotFoundFault",
            "AWS.SimpleQueueService.NonExistentQueue",
            "QueueDoesNotExist",
            "ClusterNotFoundException",
        ] {
            assert!(service_error(404, code).is_not_found(), "{code}");
        }
        assert!(!service_error(400, "ValidationException").is_not_found());
    }

    #[test]
    fn classifies_access_denied_and_throttling() {
        assert!(service_error(403, "AccessDeniedException").is_access_denied());
        assert!(service_error(403, "UnauthorizedOperation").is_access_denied());
        assert!(!service_error(403, "ExpiredToken").is_access_denied());
        assert!(service_error(503, "RequestLimitExceeded").is_throttling());
        assert!(service_error(429, "Whatever").is_throttling());
        assert!(!service_error(500, "InternalError").is_throttling());
    }
}
