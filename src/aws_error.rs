//! AWS errors said for people: what failed (operation, account, region), AWS's error code and
//! message, and a hint, in one or two sentences. The SDK's own `Display` of a service error says
//! only "service error", and its `DisplayErrorContext` ends with the whole error's `Debug` (raw
//! response, headers, body), so that full chain goes to the `debug!` log only.

use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use std::error::Error;
use std::fmt;

/// An AWS error reduced to what a person needs: its code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsReason {
    /// The service's error code (`AccessDenied`, `ThrottlingException`, ...) when it gave one.
    pub code: Option<String>,
    /// The service's message, or the error chain (each cause's `Display`, no `Debug`) when the
    /// call failed before the service answered (a timeout, a connection refused).
    pub message: String,
}

impl fmt::Display for AwsReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.code {
            Some(code) => write!(f, "{code}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl AwsReason {
    /// The code and message of an error of the model-driven client ([`crate::aws::api`]).
    pub fn from_api(err: &crate::aws::api::ApiError) -> AwsReason {
        use crate::aws::api::ApiError;
        match err {
            ApiError::Service { code, message, .. } | ApiError::Throttled { code, message, .. } => {
                let message = match message.trim_end_matches('.') {
                    "" => "no message".to_owned(),
                    m => m.to_owned(),
                };
                AwsReason {
                    code: Some(code.clone()),
                    message,
                }
            }
            other => AwsReason {
                code: None,
                message: other.to_string(),
            },
        }
    }
}

/// Reduces an SDK error to its code and message, logging the full chain at debug level.
pub fn explain<E>(err: &E) -> AwsReason
where
    E: Error + ProvideErrorMetadata + 'static,
{
    tracing::debug!(error = %DisplayErrorContext(err), "AWS call failed");
    let code = err.code().map(str::to_owned);
    let message = match err.message() {
        Some(m) if !m.is_empty() => m.trim_end_matches('.').to_owned(),
        _ if code.is_some() => "no message".to_owned(),
        _ => chain(err),
    };
    AwsReason { code, message }
}

/// The error and its causes, by their `Display`, joined with `: `.
fn chain(err: &(dyn Error + 'static)) -> String {
    let mut parts = vec![err.to_string()];
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if parts.last() != Some(&text) {
            parts.push(text);
        }
        source = cause.source();
    }
    parts.join(": ")
}

/// A failed AWS call in the words of [`AwsCallError::new`]: "`operation` failed in account `A`
/// (region `R`): `Code`: `message`. Hint: ...".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{operation} failed in account {account_id}{}: {reason}{}", region.as_ref().map(|r| format!(" (region {r})")).unwrap_or_default(), hint.as_ref().map(|h| format!(". Hint: {h}")).unwrap_or_default())]
pub struct AwsCallError {
    pub operation: &'static str,
    pub account_id: String,
    pub region: Option<String>,
    pub reason: AwsReason,
    pub hint: Option<String>,
}

impl AwsCallError {
    /// The error of `operation` in `account_id` (and `region`, for regional calls).
    pub fn new<E>(operation: &'static str, account_id: &str, region: Option<&str>, err: &E) -> Self
    where
        E: Error + ProvideErrorMetadata + 'static,
    {
        AwsCallError {
            operation,
            account_id: account_id.to_owned(),
            region: region.map(str::to_owned),
            reason: explain(err),
            hint: None,
        }
    }

    /// The same error, with a hint on what to check.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// The service's error code, when it gave one.
    pub fn code(&self) -> Option<&str> {
        self.reason.code.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_types::error::ErrorMetadata;

    #[derive(Debug)]
    struct Fake(ErrorMetadata);

    impl fmt::Display for Fake {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("service error")
        }
    }

    impl Error for Fake {}

    impl ProvideErrorMetadata for Fake {
        fn meta(&self) -> &ErrorMetadata {
            &self.0
        }
    }

    #[test]
    fn says_operation_account_region_code_message_and_hint() {
        let err = Fake(
            ErrorMetadata::builder()
                .code("AccessDenied")
                .message("User: x is not authorized to perform: ec2:DescribeRegions.")
                .build(),
        );
        let e = AwsCallError::new("DescribeRegions", "111111111111", Some("us-east-1"), &err)
            .with_hint("the role needs ec2:DescribeRegions");
        assert_eq!(
            e.to_string(),
            "DescribeRegions failed in account 111111111111 (region us-east-1): AccessDenied: User: x is not authorized to perform: ec2:DescribeRegions. Hint: the role needs ec2:DescribeRegions"
        );
        assert_eq!(e.code(), Some("AccessDenied"));
        let bare = Fake(ErrorMetadata::builder().build());
        assert_eq!(explain(&bare).to_string(), "service error");
    }
}
