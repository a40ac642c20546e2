//! A service that is not available in a region, or not enabled for the account, is not a failure
//! of the run: the unit is reported once as skipped and deletes nothing (what the catalog holds
//! for that scope stays until the service answers again).
//!
//! Recognised answers: the endpoint does not resolve (no DNS name for the service in the region),
//! `SubscriptionRequiredException` and `OptInRequired` (the account has not signed up or the
//! region is not opted in), `UnrecognizedClientException` (services answer it for a region they
//! do not serve).

use crate::aws::api::ApiError;

/// Error codes that mean "not here", not "failed".
const UNAVAILABLE_CODES: &[&str] = &[
    "SubscriptionRequiredException",
    "OptInRequired",
    "UnrecognizedClientException",
];

/// Why a unit was skipped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{service} is not available in {region} for this account ({reason})")]
pub struct Unavailable {
    pub service: String,
    pub region: String,
    pub reason: String,
}

/// `Some` when `err` says the service is not available here.
pub fn classify(service: &str, err: &ApiError) -> Option<Unavailable> {
    let (region, reason) = match err {
        ApiError::Service { call, code, .. } if UNAVAILABLE_CODES.contains(&code.as_str()) => {
            (call.region.to_string(), code.clone())
        }
        ApiError::Transport { call, source } if unresolved(source) => (
            call.region.to_string(),
            "the service endpoint does not resolve".to_owned(),
        ),
        _ => return None,
    };
    Some(Unavailable {
        service: service.to_owned(),
        region,
        reason,
    })
}

/// Whether a transport error is a failed DNS lookup (a service without an endpoint in the region).
fn unresolved(err: &reqwest::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = source {
        let text = e.to_string();
        if text.contains("dns error") || text.contains("failed to lookup address") {
            return true;
        }
        source = e.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::api::error::CallSite;
    use std::sync::Arc;

    fn service_error(code: &str) -> ApiError {
        ApiError::Service {
            call: CallSite {
                service: "Lambda",
                operation: "ListFunctions",
                region: Arc::from("ap-east-1"),
            },
            status: 403,
            code: code.to_owned(),
            message: "no".to_owned(),
            request_id: None,
        }
    }

    #[test]
    fn subscription_and_opt_in_answers_are_unavailable() {
        for code in [
            "SubscriptionRequiredException",
            "OptInRequired",
            "UnrecognizedClientException",
        ] {
            let u = classify("lambda", &service_error(code)).unwrap();
            assert_eq!(u.region, "ap-east-1");
            assert_eq!(u.reason, code);
        }
    }

    #[test]
    fn access_denied_is_a_failure_not_a_skip() {
        assert_eq!(
            classify("lambda", &service_error("AccessDeniedException")),
            None
        );
        assert_eq!(
            classify("lambda", &service_error("ThrottlingException")),
            None
        );
    }
}
