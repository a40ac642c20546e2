//! Which failures are worth another attempt, and how long to wait before it: exponential
//! backoff with full jitter (<https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/>).

use super::error::{is_throttling_code, ApiError};
use std::time::Duration;

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// The service asks us to slow down.
    Throttled,
    /// A passing failure: server error, dropped connection, attempt timeout.
    Transient,
    /// Retrying cannot help (bad input, access denied, not found, ...).
    No,
}

/// Classifies a failed attempt.
pub fn classify(err: &ApiError) -> Retry {
    match err {
        ApiError::Service { status, code, .. } => {
            if is_throttling_code(code) || *status == 429 {
                Retry::Throttled
            } else if matches!(status, 500 | 502 | 503 | 504) || is_transient_code(code) {
                Retry::Transient
            } else {
                Retry::No
            }
        }
        ApiError::Transport { .. } | ApiError::Timeout { .. } => Retry::Transient,
        _ => Retry::No,
    }
}

fn is_transient_code(code: &str) -> bool {
    matches!(
        code,
        "RequestTimeout"
            | "RequestTimeoutException"
            | "InternalError"
            | "InternalFailure"
            | "InternalServerError"
            | "ServiceUnavailable"
            | "ServiceUnavailableException"
    )
}

/// The wait before attempt `attempt + 1` (`attempt` counts from 1): a uniformly random duration
/// between zero and `min(cap, base * 2^(attempt - 1))`.
pub fn backoff(attempt: u32, base: Duration, cap: Duration) -> Duration {
    let ceiling = base
        .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)))
        .min(cap);
    ceiling.mul_f64(fastrand::f64())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::api::error::CallSite;

    fn service_error(status: u16, code: &str) -> ApiError {
        ApiError::Service {
            call: CallSite {
                service: "ECS",
                operation: "ListClusters",
                region: "eu-west-1".into(),
            },
            status,
            code: code.into(),
            message: String::new(),
            request_id: None,
        }
    }

    #[test]
    fn classifies_throttling_transient_and_final_errors() {
        assert_eq!(
            classify(&service_error(400, "ThrottlingException")),
            Retry::Throttled
        );
        assert_eq!(
            classify(&service_error(503, "RequestLimitExceeded")),
            Retry::Throttled
        );
        assert_eq!(classify(&service_error(400, "SlowDown")), Retry::Throttled);
        assert_eq!(classify(&service_error(429, "")), Retry::Throttled);
        assert_eq!(
            classify(&service_error(500, "InternalError")),
            Retry::Transient
        );
        assert_eq!(
            classify(&service_error(503, "Unavailable")),
            Retry::Transient
        );
        assert_eq!(
            classify(&service_error(400, "RequestTimeout")),
            Retry::Transient
        );
        assert_eq!(
            classify(&service_error(400, "ValidationException")),
            Retry::No
        );
        assert_eq!(
            classify(&service_error(403, "AccessDeniedException")),
            Retry::No
        );
        let timeout = ApiError::Timeout {
            call: CallSite {
                service: "ECS",
                operation: "ListClusters",
                region: "eu-west-1".into(),
            },
            after: Duration::from_secs(30),
        };
        assert_eq!(classify(&timeout), Retry::Transient);
    }

    #[test]
    fn backoff_is_bounded_by_the_doubling_ceiling_and_the_cap() {
        let base = Duration::from_millis(100);
        let cap = Duration::from_secs(20);
        for _ in 0..200 {
            assert!(backoff(1, base, cap) <= base);
            assert!(backoff(4, base, cap) <= Duration::from_millis(800));
            assert!(backoff(30, base, cap) <= cap);
        }
        // Full jitter spreads waits over the whole range rather than bunching at the ceiling.
        let waits: Vec<Duration> = (0..200).map(|_| backoff(8, base, cap)).collect();
        assert!(waits.iter().any(|w| *w < Duration::from_secs(5)));
        assert!(waits.iter().any(|w| *w > Duration::from_secs(10)));
    }
}
