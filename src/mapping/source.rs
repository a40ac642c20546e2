//! Where the mapping comes from, and which source wins.
//!
//! `MAPPING_CONFIG` (or `--config`) takes one of these forms, recognised in this order:
//! - `s3://bucket/key`: an S3 object, read with the installation's own credentials;
//! - `ssm:NAME` (e.g. `ssm:/port-aws-sync/mapping`) or an SSM parameter ARN
//!   (`arn:aws:ssm:<region>:<account>:parameter/...`): an SSM parameter (SecureString decrypted);
//! - text that starts with `{` or spans several lines: the configuration itself (YAML or JSON);
//! - anything else: a file path. A bare `/port-aws-sync/mapping` is a file, never guessed to be a
//!   parameter, so a missing file cannot silently turn into an AWS call (or the reverse).
//!
//! Precedence when a sync starts: an explicit `MAPPING_CONFIG` wins (configuration as code: what
//! the operator deployed is what runs); without it, the `config` of the installation's
//! integration in Port (`GET /v1/integration/{INTEGRATION_IDENTIFIER}`), so the mapping can be
//! edited in Port's UI as for aws-v3; without either, the built-in default. When both exist and
//! differ, a warning says which one is in effect.

use super::{Mapper, MappingConfigError, PortAppConfig};
use crate::aws_error::explain;
use crate::port::{PortClient, PortError};
use aws_config::SdkConfig;
use serde_json::{json, Value};
use std::fmt;
use std::path::PathBuf;

/// `installationAppType` of the integration this installation registers in Port.
pub const INSTALLATION_APP_TYPE: &str = "port-aws-sync";

/// Where a mapping was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MappingSource {
    /// A local file.
    File(PathBuf),
    /// The configuration text itself (`MAPPING_CONFIG` holds YAML or JSON).
    Inline(String),
    /// An S3 object.
    S3 { bucket: String, key: String },
    /// An SSM parameter, by name or ARN; `region` comes from an ARN.
    Ssm {
        name: String,
        region: Option<String>,
    },
    /// The `config` of the installation's integration in Port.
    PortIntegration(String),
    /// The mapping shipped in this binary.
    BuiltIn,
}

impl MappingSource {
    /// Recognises the form of a `MAPPING_CONFIG` value (see the module documentation).
    pub fn classify(value: &str) -> Result<MappingSource, String> {
        let trimmed = value.trim();
        if let Some(rest) = trimmed.strip_prefix("s3://") {
            return match rest.split_once('/') {
                Some((bucket, key)) if !bucket.is_empty() && !key.is_empty() => {
                    Ok(MappingSource::S3 {
                        bucket: bucket.to_owned(),
                        key: key.to_owned(),
                    })
                }
                _ => Err(format!("`{trimmed}` names no object")),
            };
        }
        if let Some(name) = trimmed.strip_prefix("ssm:") {
            if name.is_empty() || name.contains(char::is_whitespace) {
                return Err(format!("`{trimmed}` names no parameter"));
            }
            return Ok(MappingSource::Ssm {
                name: name.to_owned(),
                region: None,
            });
        }
        let arn: Vec<&str> = trimmed.splitn(6, ':').collect();
        if arn.len() == 6 && arn[0] == "arn" && arn[2] == "ssm" {
            if arn[3].is_empty() || !arn[5].starts_with("parameter/") {
                return Err(format!(
                    "`{trimmed}` is not an SSM parameter ARN (arn:<partition>:ssm:<region>:<account>:parameter/<name>)"
                ));
            }
            return Ok(MappingSource::Ssm {
                name: trimmed.to_owned(),
                region: Some(arn[3].to_owned()),
            });
        }
        if trimmed.starts_with('{') || value.contains('\n') {
            return Ok(MappingSource::Inline(value.to_owned()));
        }
        Ok(MappingSource::File(PathBuf::from(trimmed)))
    }

    /// Whether reading the source needs AWS credentials.
    pub fn needs_aws(&self) -> bool {
        matches!(self, MappingSource::S3 { .. } | MappingSource::Ssm { .. })
    }
}

impl fmt::Display for MappingSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MappingSource::File(path) => write!(f, "file {}", path.display()),
            MappingSource::Inline(_) => f.write_str("inline configuration"),
            MappingSource::S3 { bucket, key } => write!(f, "s3://{bucket}/{key}"),
            MappingSource::Ssm { name, .. } => write!(f, "SSM parameter {name}"),
            MappingSource::PortIntegration(id) => write!(f, "Port integration `{id}` config"),
            MappingSource::BuiltIn => f.write_str("built-in default"),
        }
    }
}

/// The mapping could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// `MAPPING_CONFIG` has no recognisable form.
    #[error("MAPPING_CONFIG is invalid: {0}")]
    Form(String),
    /// The source could not be read (missing file, object or parameter; access denied).
    #[error("mapping configuration ({source_name}) could not be read: {message}")]
    Unreadable {
        source_name: String,
        message: String,
    },
    /// The source was read but is not a valid mapping.
    #[error("mapping configuration ({source_name}): {error}")]
    Invalid {
        source_name: String,
        #[source]
        error: MappingConfigError,
    },
    /// Port could not be asked for the integration's configuration; using another mapping instead
    /// could write (and delete) entities the user did not map.
    #[error("reading the mapping of Port integration `{integration}` failed: {source}. Set MAPPING_CONFIG to run without Port's copy")]
    Port {
        integration: String,
        #[source]
        source: PortError,
    },
}

impl SourceError {
    /// Whether the error is bad configuration (exit 2) rather than a failed call (exit 1).
    pub fn is_config_error(&self) -> bool {
        !matches!(self, SourceError::Port { .. })
    }
}

/// Reads and compiles the mapping of a `MAPPING_CONFIG`-style value. `sdk` is needed only for
/// S3 and SSM sources.
pub async fn load(
    value: &str,
    sdk: Option<&SdkConfig>,
) -> Result<(Mapper, MappingSource), SourceError> {
    let source = MappingSource::classify(value).map_err(SourceError::Form)?;
    let unreadable = |message: String| SourceError::Unreadable {
        source_name: source.to_string(),
        message,
    };
    let text = match &source {
        MappingSource::File(path) => {
            std::fs::read_to_string(path).map_err(|e| unreadable(e.to_string()))?
        }
        MappingSource::Inline(text) => text.clone(),
        MappingSource::S3 { bucket, key } => {
            let sdk = sdk.ok_or_else(|| unreadable("no AWS configuration".into()))?;
            read_s3(sdk, bucket, key).await.map_err(unreadable)?
        }
        MappingSource::Ssm { name, region } => {
            let sdk = sdk.ok_or_else(|| unreadable("no AWS configuration".into()))?;
            read_ssm(sdk, name, region.as_deref())
                .await
                .map_err(unreadable)?
        }
        MappingSource::PortIntegration(_) | MappingSource::BuiltIn => {
            return Err(unreadable("not a MAPPING_CONFIG form".into()))
        }
    };
    let mapper = Mapper::from_yaml(&text).map_err(|error| SourceError::Invalid {
        source_name: source.to_string(),
        error,
    })?;
    Ok((mapper, source))
}

async fn read_s3(sdk: &SdkConfig, bucket: &str, key: &str) -> Result<String, String> {
    let region = sdk.region().map(|r| r.to_string());
    let region = region.as_deref().unwrap_or("us-east-1");
    let get = |region: &str| {
        crate::aws::s3_client(sdk, region)
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
    };
    let output = match get(region).await {
        Ok(output) => output,
        Err(err) => {
            // A bucket in another region answers with a redirect naming its region.
            let bucket_region = err
                .raw_response()
                .and_then(|r| r.headers().get("x-amz-bucket-region"))
                .filter(|r| *r != region)
                .map(str::to_owned);
            match bucket_region {
                Some(other) => get(&other)
                    .await
                    .map_err(|e| format!("GetObject: {}", explain(&e)))?,
                None => return Err(format!("GetObject: {}", explain(&err))),
            }
        }
    };
    let bytes = output
        .body
        .collect()
        .await
        .map_err(|e| format!("reading the object failed: {e}"))?
        .into_bytes();
    String::from_utf8(bytes.to_vec()).map_err(|_| "the object is not UTF-8 text".to_owned())
}

async fn read_ssm(sdk: &SdkConfig, name: &str, region: Option<&str>) -> Result<String, String> {
    let sdk = match region {
        Some(r) => crate::aws::in_region(sdk, r),
        None => sdk.clone(),
    };
    let output = aws_sdk_ssm::Client::new(&sdk)
        .get_parameter()
        .name(name)
        .with_decryption(true)
        .send()
        .await
        .map_err(|e| format!("GetParameter: {}", explain(&e)))?;
    output
        .parameter
        .and_then(|p| p.value)
        .ok_or_else(|| "the parameter has no value".to_owned())
}

/// What Port knows of this installation's integration.
#[derive(Debug, Clone, PartialEq)]
pub enum PortIntegration {
    /// Port was not asked (no credentials, or `MAPPING_CONFIG` made it unnecessary and the call failed).
    NotConsulted,
    /// No integration with this identifier: the installation is not registered.
    Missing,
    /// Registered; `config` is its port-app-config when it has one (`resources` present).
    Found { config: Option<Value> },
}

/// The mapping in effect, where it came from, and the integration's state in Port.
#[derive(Debug)]
pub struct Resolved {
    pub mapper: Mapper,
    pub source: MappingSource,
    pub integration: PortIntegration,
}

/// Resolves the mapping of a sync: `MAPPING_CONFIG`, else Port's integration config, else the
/// built-in default (see the module documentation). `port` is `None` when no Port credentials
/// are configured.
pub async fn resolve(
    mapping_config: Option<&str>,
    integration_id: &str,
    sdk: &SdkConfig,
    port: Option<&PortClient>,
) -> Result<Resolved, SourceError> {
    let integration = match port {
        None => PortIntegration::NotConsulted,
        Some(client) => read_integration(client, integration_id, mapping_config.is_some()).await?,
    };
    let port_config = match &integration {
        PortIntegration::Found { config: Some(c) } => Some(c),
        _ => None,
    };
    let (mapper, source) = match (mapping_config, port_config) {
        (Some(value), _) => {
            let (mapper, source) = load(value, Some(sdk)).await?;
            if port_config.is_some_and(|theirs| {
                PortAppConfig::from_json(theirs.clone()).map_or(true, |c| c != *mapper.config())
            }) {
                tracing::warn!(
                    integration = integration_id,
                    "the mapping of the integration in Port differs from MAPPING_CONFIG, which takes precedence; unset MAPPING_CONFIG to use the mapping edited in Port"
                );
            }
            (mapper, source)
        }
        (None, Some(config)) => {
            let source = MappingSource::PortIntegration(integration_id.to_owned());
            let mapper =
                Mapper::from_json(config.clone()).map_err(|error| SourceError::Invalid {
                    source_name: source.to_string(),
                    error,
                })?;
            (mapper, source)
        }
        (None, None) => (Mapper::builtin(), MappingSource::BuiltIn),
    };
    Ok(Resolved {
        mapper,
        source,
        integration,
    })
}

/// The installation's integration in Port. When `MAPPING_CONFIG` is set (`has_mapping_config`),
/// a failure to ask is only a warning; otherwise it is an error (the mapping would be a guess).
async fn read_integration(
    client: &PortClient,
    integration_id: &str,
    has_mapping_config: bool,
) -> Result<PortIntegration, SourceError> {
    match client.get_integration(integration_id).await {
        Ok(None) => Ok(PortIntegration::Missing),
        Ok(Some(found)) => Ok(PortIntegration::Found {
            config: found
                .get("config")
                .filter(|c| c.get("resources").is_some())
                .cloned(),
        }),
        Err(e) if has_mapping_config => {
            tracing::warn!(integration = integration_id, error = %e, "could not read the integration from Port; MAPPING_CONFIG is used anyway");
            Ok(PortIntegration::NotConsulted)
        }
        Err(source) => Err(SourceError::Port {
            integration: integration_id.to_owned(),
            source,
        }),
    }
}

/// Registers the installation in Port as an integration (so it shows as a data source), with the
/// mapping in effect as its config when it has none yet. Best effort: a failure is a warning.
pub async fn register(
    client: &PortClient,
    integration_id: &str,
    mapping: &PortAppConfig,
    integration: &PortIntegration,
) {
    let config = match serde_json::to_value(mapping) {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "the mapping could not be serialised for Port");
            return;
        }
    };
    let version = crate::port::VERSION;
    let result = match integration {
        PortIntegration::Missing => client
            .create_integration(&json!({
                "installationId": integration_id,
                "title": integration_id,
                "installationAppType": INSTALLATION_APP_TYPE,
                "version": version,
                "config": config,
            }))
            .await
            .map(|()| "registered the installation as an integration in Port"),
        PortIntegration::Found { config: None } => client
            .patch_integration(
                integration_id,
                &json!({"version": version, "config": config}),
            )
            .await
            .map(|()| "stored the mapping in effect as the integration's config in Port"),
        PortIntegration::Found { config: Some(_) } | PortIntegration::NotConsulted => return,
    };
    match result {
        Ok(what) => tracing::info!(integration = integration_id, "{what}"),
        Err(e) => tracing::warn!(
            integration = integration_id,
            error = %e,
            "registering the installation in Port failed; the sync goes on (it only affects Port's data sources page)"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_every_form() {
        let cases = [
            (
                "s3://my-bucket/path/mapping.yaml",
                MappingSource::S3 {
                    bucket: "my-bucket".into(),
                    key: "path/mapping.yaml".into(),
                },
            ),
            (
                "ssm:/port-aws-sync/mapping",
                MappingSource::Ssm {
                    name: "/port-aws-sync/mapping".into(),
                    region: None,
                },
            ),
            (
                "arn:aws:ssm:eu-west-1:123456789012:parameter/port/mapping",
                MappingSource::Ssm {
                    name: "arn:aws:ssm:eu-west-1:123456789012:parameter/port/mapping".into(),
                    region: Some("eu-west-1".into()),
                },
            ),
            (
                "{\"resources\": []}",
                MappingSource::Inline("{\"resources\": []}".into()),
            ),
            (
                "resources:\n  - kind: x\n",
                MappingSource::Inline("resources:\n  - kind: x\n".into()),
            ),
            (
                "/port-aws-sync/mapping",
                MappingSource::File("/port-aws-sync/mapping".into()),
            ),
            ("mapping.yaml", MappingSource::File("mapping.yaml".into())),
        ];
        for (value, expected) in cases {
            assert_eq!(MappingSource::classify(value).unwrap(), expected, "{value}");
        }
        for bad in [
            "s3://bucket",
            "s3://bucket/",
            "ssm:",
            "arn:aws:ssm:::parameter/x",
        ] {
            assert!(MappingSource::classify(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn file_and_inline_sources_need_no_aws() {
        let (mapper, source) = load("{\"resources\": []}", None).await.unwrap();
        assert!(matches!(source, MappingSource::Inline(_)));
        assert!(mapper.kinds().is_empty());
        let err = load("/nonexistent/mapping.yaml", None).await.unwrap_err();
        assert!(err.is_config_error());
        assert!(
            err.to_string().contains("file /nonexistent/mapping.yaml"),
            "{err}"
        );
        let err = load("resources:\n  - kind: AWS::Nope\n", None)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("inline configuration"), "{err}");
    }
}
