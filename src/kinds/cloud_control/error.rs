//! The error of a Cloud Control fetch. A type that Cloud Control does not serve in a region is its
//! own variant, so the caller can report the unit as skipped rather than failed.

use crate::aws::api::ApiError;

/// Error codes meaning "this type cannot be listed here": not in the region's CloudFormation
/// registry, or not supporting the operation
/// (<https://docs.aws.amazon.com/cloudcontrolapi/latest/APIReference/API_ListResources.html#API_ListResources_Errors>).
const TYPE_NOT_AVAILABLE_CODES: [&str; 2] = ["TypeNotFoundException", "UnsupportedActionException"];

/// A failed Cloud Control fetch. Any variant means the listing is incomplete: nothing of the type
/// may be deleted as stale in that account and region.
#[derive(Debug, thiserror::Error)]
pub enum CloudControlError {
    /// Cloud Control does not serve the type in this region (`TypeNotFoundException`,
    /// `UnsupportedActionException`): skip the unit rather than fail it.
    #[error("Cloud Control does not serve {type_name} in {region}: {code}: {message}")]
    TypeNotAvailable {
        type_name: String,
        region: String,
        code: String,
        message: String,
    },
    /// A call failed after the client's retries (throttling, access denied, a repeated
    /// pagination token, ...). Boxed: the client's error is large and errors are rare.
    #[error("{type_name}: {source}")]
    Api {
        type_name: String,
        #[source]
        source: Box<ApiError>,
    },
    /// Cloud Control answered something that is not a resource description we can use.
    #[error("{type_name}: Cloud Control returned an unusable resource ({identifier}): {message}")]
    BadResource {
        type_name: String,
        identifier: String,
        message: String,
    },
}

impl CloudControlError {
    /// Wraps a client error, telling "type not available here" apart.
    pub(super) fn from_api(type_name: &str, region: &str, source: ApiError) -> Self {
        if let ApiError::Service { code, message, .. } = &source {
            if TYPE_NOT_AVAILABLE_CODES.contains(&code.as_str()) {
                return CloudControlError::TypeNotAvailable {
                    type_name: type_name.to_owned(),
                    region: region.to_owned(),
                    code: code.clone(),
                    message: message.clone(),
                };
            }
        }
        CloudControlError::Api {
            type_name: type_name.to_owned(),
            source: Box::new(source),
        }
    }

    /// The type is not served in the region: report the unit as skipped, not failed.
    pub fn is_type_not_available(&self) -> bool {
        matches!(self, CloudControlError::TypeNotAvailable { .. })
    }

    /// The AWS error code, when AWS sent one.
    pub fn code(&self) -> Option<&str> {
        match self {
            CloudControlError::TypeNotAvailable { code, .. } => Some(code),
            CloudControlError::Api { source, .. } => source.code(),
            CloudControlError::BadResource { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::api::error::CallSite;

    fn service_error(code: &str) -> ApiError {
        ApiError::Service {
            call: CallSite {
                service: "CloudControl",
                operation: "ListResources",
                region: "eu-west-1".into(),
            },
            status: 400,
            code: code.into(),
            message: "nope".into(),
            request_id: None,
        }
    }

    #[test]
    fn type_not_found_and_unsupported_action_mean_not_available() {
        for code in ["TypeNotFoundException", "UnsupportedActionException"] {
            let err = CloudControlError::from_api("AWS::X::Y", "eu-west-1", service_error(code));
            assert!(err.is_type_not_available(), "{code}");
            assert_eq!(err.code(), Some(code));
            assert_eq!(
                err.to_string(),
                format!("Cloud Control does not serve AWS::X::Y in eu-west-1: {code}: nope")
            );
        }
    }

    #[test]
    fn other_errors_keep_the_client_error() {
        let err = CloudControlError::from_api(
            "AWS::X::Y",
            "eu-west-1",
            service_error("AccessDeniedException"),
        );
        assert!(!err.is_type_not_available());
        assert_eq!(
            err.to_string(),
            "AWS::X::Y: CloudControl ListResources failed in eu-west-1: AccessDeniedException: nope"
        );
        assert!(std::error::Error::source(&err).is_some());
    }
}
