//! Configuration: one typed [`Config`] read from the environment by [`Config::from_env`], shared
//! by the CLI and both Lambdas. Every malformed value is rejected before any work with a
//! [`ConfigError`] that names the variable and the expected form, and never echoes a secret.

mod region_policy;

pub use region_policy::{is_known_region, RegionPolicy, KNOWN_REGIONS};

use crate::arn::{is_account_id, is_role_name, RoleArn};
use crate::kinds::Kind;
use std::collections::BTreeSet;
use std::fmt;

/// Default Port API (EU). The US region is `https://api.us.getport.io`.
pub const DEFAULT_PORT_BASE_URL: &str = "https://api.getport.io";
/// Default installation id, also part of the User-Agent that marks entity ownership.
pub const DEFAULT_INTEGRATION_IDENTIFIER: &str = "port-aws-sync";

/// A string that must never be printed (Port client secret).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret value, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Where the Port client id and secret come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortCredentialsSource {
    /// `PORT_CLIENT_ID` and `PORT_CLIENT_SECRET`.
    Static {
        client_id: String,
        client_secret: Secret,
    },
    /// `PORT_CREDENTIALS_SECRET_ARN`: a Secrets Manager secret `{"clientId", "clientSecret"}`.
    SecretsManager { secret_arn: String },
    /// Not configured: only dry runs and planning work.
    Missing,
}

/// Which accounts a sync covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountsMode {
    /// The account of the ambient credentials (default AWS credential chain).
    Single,
    /// `ACCOUNT_ROLE_ARNS`: one role per account.
    Explicit { role_arns: Vec<RoleArn> },
    /// `ORGANIZATION_ROLE_ARN`: discover the accounts of an AWS Organization.
    Organization {
        role_arn: RoleArn,
        /// Path/name of the role in every member account.
        member_role_name: String,
        /// OUs to walk recursively; empty = the whole organization.
        organizational_unit_ids: Vec<String>,
    },
}

/// Concurrency bounds of a sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Concurrency {
    /// Units running at once in the process (`MAX_CONCURRENT_UNITS`).
    pub units: usize,
    /// Units of one account running at once (`MAX_CONCURRENT_UNITS_PER_ACCOUNT`).
    pub per_account: usize,
    /// Per-resource calls in flight within one unit (S3 bucket configuration calls).
    pub per_unit_calls: usize,
}

impl Default for Concurrency {
    fn default() -> Self {
        Concurrency {
            units: 16,
            per_account: 4,
            per_unit_calls: 8,
        }
    }
}

/// The whole configuration of a sync.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub port_base_url: String,
    pub port_credentials: PortCredentialsSource,
    pub integration_identifier: String,
    pub accounts: AccountsMode,
    pub excluded_account_ids: BTreeSet<String>,
    /// Passed to every AssumeRole; never logged.
    pub external_id: Option<Secret>,
    pub region_policy: RegionPolicy,
    pub kinds: Vec<Kind>,
    /// `MAPPING_CONFIG`: the port-app-config as a file path, `s3://bucket/key`, `ssm:NAME` (or an
    /// SSM parameter ARN) or inline YAML/JSON (see [`crate::mapping::source`]). `None` = the
    /// integration's config in Port when registered, else the built-in default.
    pub mapping_config: Option<String>,
    pub initialize_port_resources: bool,
    pub concurrency: Concurrency,
    /// `WORK_QUEUE_URL`: the SQS queue the `fanout` Lambda sends work items to.
    pub work_queue_url: Option<String>,
}

/// A variable that is missing, malformed or contradicts another.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{var} is invalid: {problem}. Expected {expected}")]
    Invalid {
        var: &'static str,
        problem: String,
        expected: &'static str,
    },
    #[error("{first} and {second} are both set: {fix}")]
    Conflict {
        first: &'static str,
        second: &'static str,
        fix: &'static str,
    },
}

fn invalid(var: &'static str, problem: impl Into<String>, expected: &'static str) -> ConfigError {
    ConfigError::Invalid {
        var,
        problem: problem.into(),
        expected,
    }
}

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup` (the environment, or a map in tests).
    /// Empty values count as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };

        let port_base_url = get("PORT_BASE_URL").unwrap_or_else(|| DEFAULT_PORT_BASE_URL.into());
        let port_base_url = parse_base_url(&port_base_url)?;

        let port_credentials = match (
            get("PORT_CLIENT_ID"),
            lookup("PORT_CLIENT_SECRET").filter(|v| !v.is_empty()),
            get("PORT_CREDENTIALS_SECRET_ARN"),
        ) {
            (Some(_), _, Some(_)) | (_, Some(_), Some(_)) => {
                return Err(ConfigError::Conflict {
                    first: "PORT_CLIENT_ID/PORT_CLIENT_SECRET",
                    second: "PORT_CREDENTIALS_SECRET_ARN",
                    fix: "set either the client id and secret or the Secrets Manager secret ARN, not both",
                })
            }
            (Some(client_id), Some(secret), None) => PortCredentialsSource::Static {
                client_id,
                client_secret: Secret::new(secret),
            },
            (Some(_), None, None) => {
                return Err(invalid(
                    "PORT_CLIENT_SECRET",
                    "it is not set while PORT_CLIENT_ID is",
                    "the client secret of the same Port credentials (Port > Settings > Credentials)",
                ))
            }
            (None, Some(_), None) => {
                return Err(invalid(
                    "PORT_CLIENT_ID",
                    "it is not set while PORT_CLIENT_SECRET is",
                    "the client id of the same Port credentials (Port > Settings > Credentials)",
                ))
            }
            (None, None, Some(arn)) => {
                if !arn.starts_with("arn:") || !arn.contains(":secretsmanager:") {
                    return Err(invalid(
                        "PORT_CREDENTIALS_SECRET_ARN",
                        format!("`{arn}` is not a Secrets Manager ARN"),
                        "arn:<partition>:secretsmanager:<region>:<account-id>:secret:<name>",
                    ));
                }
                PortCredentialsSource::SecretsManager { secret_arn: arn }
            }
            (None, None, None) => PortCredentialsSource::Missing,
        };

        let integration_identifier =
            get("INTEGRATION_IDENTIFIER").unwrap_or_else(|| DEFAULT_INTEGRATION_IDENTIFIER.into());
        if !is_integration_identifier(&integration_identifier) {
            return Err(invalid(
                "INTEGRATION_IDENTIFIER",
                format!("`{integration_identifier}` has characters other than letters, digits, `-`, `_` and `.`"),
                "1-100 characters from [A-Za-z0-9._-], e.g. port-aws-sync-prod",
            ));
        }

        let accounts = parse_accounts_mode(&get)?;

        let excluded_account_ids = parse_account_list(get("EXCLUDED_ACCOUNT_IDS"))?;

        let external_id = match get("EXTERNAL_ID") {
            Some(id) if !(2..=1224).contains(&id.len()) => {
                return Err(invalid(
                    "EXTERNAL_ID",
                    format!("it has {} characters", id.len()),
                    "2 to 1224 characters (e.g. the output of `openssl rand -hex 16`)",
                ))
            }
            Some(id)
                if !id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+=,.@:/-_".contains(c)) =>
            {
                return Err(invalid(
                    "EXTERNAL_ID",
                    "it has characters STS does not accept",
                    "characters from [A-Za-z0-9+=,.@:/_-]",
                ))
            }
            other => other.map(Secret::new),
        };

        let region_policy = match get("REGION_POLICY") {
            None => RegionPolicy::default(),
            Some(raw) => parse_region_policy(&raw)?,
        };

        let kinds = match get("KINDS") {
            None => Kind::ALL.to_vec(),
            Some(raw) => parse_kinds(&raw).map_err(|problem| {
                invalid(
                    "KINDS",
                    problem,
                    "a comma list of AWS::Account::Info, AWS::S3::Bucket, AWS::EC2::Instance, AWS::ECS::Cluster",
                )
            })?,
        };

        let initialize_port_resources = match get("INITIALIZE_PORT_RESOURCES").as_deref() {
            None => true,
            Some(v) => parse_bool(v).ok_or_else(|| {
                invalid(
                    "INITIALIZE_PORT_RESOURCES",
                    format!("`{v}`"),
                    "true or false",
                )
            })?,
        };

        let mapping_config = get("MAPPING_CONFIG");
        if let Some(value) = &mapping_config {
            crate::mapping::MappingSource::classify(value).map_err(|problem| {
                invalid(
                    "MAPPING_CONFIG",
                    problem,
                    "a file path, s3://bucket/key, ssm:NAME (or an SSM parameter ARN), or the YAML/JSON itself",
                )
            })?;
        }

        let defaults = Concurrency::default();
        let concurrency = Concurrency {
            units: parse_count(&get, "MAX_CONCURRENT_UNITS", defaults.units)?,
            per_account: parse_count(
                &get,
                "MAX_CONCURRENT_UNITS_PER_ACCOUNT",
                defaults.per_account,
            )?,
            per_unit_calls: parse_count(
                &get,
                "MAX_CONCURRENT_CALLS_PER_UNIT",
                defaults.per_unit_calls,
            )?,
        };

        let work_queue_url = match get("WORK_QUEUE_URL") {
            Some(url) if !(url.starts_with("https://") || url.starts_with("http://")) => {
                return Err(invalid(
                    "WORK_QUEUE_URL",
                    format!("`{url}` is not a queue URL"),
                    "the SQS queue URL, e.g. https://sqs.eu-west-1.amazonaws.com/123456789012/port-aws-sync-work",
                ))
            }
            other => other,
        };

        Ok(Config {
            port_base_url,
            port_credentials,
            integration_identifier,
            accounts,
            excluded_account_ids,
            external_id,
            region_policy,
            kinds,
            mapping_config,
            initialize_port_resources,
            concurrency,
            work_queue_url,
        })
    }
}

fn parse_base_url(raw: &str) -> Result<String, ConfigError> {
    let expected =
        "an http(s) URL such as https://api.getport.io (EU) or https://api.us.getport.io (US)";
    let rest = raw
        .strip_prefix("https://")
        .or_else(|| raw.strip_prefix("http://"))
        .ok_or_else(|| {
            invalid(
                "PORT_BASE_URL",
                format!("`{raw}` is not an http(s) URL"),
                expected,
            )
        })?;
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty() || host.contains(' ') || rest.contains('?') || rest.contains('#') {
        return Err(invalid(
            "PORT_BASE_URL",
            format!("`{raw}` has no valid host"),
            expected,
        ));
    }
    let trimmed = raw.trim_end_matches('/');
    Ok(trimmed.strip_suffix("/v1").unwrap_or(trimmed).to_owned())
}

fn is_integration_identifier(s: &str) -> bool {
    (1..=100).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
}

fn parse_accounts_mode(get: &impl Fn(&str) -> Option<String>) -> Result<AccountsMode, ConfigError> {
    let explicit = get("ACCOUNT_ROLE_ARNS");
    let organization = get("ORGANIZATION_ROLE_ARN");
    let ous = get("ORGANIZATIONAL_UNIT_IDS");
    let member = get("MEMBER_ROLE_NAME");
    match (explicit, organization) {
        (Some(_), Some(_)) => Err(ConfigError::Conflict {
            first: "ACCOUNT_ROLE_ARNS",
            second: "ORGANIZATION_ROLE_ARN",
            fix: "use ACCOUNT_ROLE_ARNS for a fixed list of accounts or ORGANIZATION_ROLE_ARN to discover the accounts of an AWS Organization, not both",
        }),
        (Some(raw), None) => {
            for (var, value) in [("ORGANIZATIONAL_UNIT_IDS", &ous), ("MEMBER_ROLE_NAME", &member)] {
                if value.is_some() {
                    return Err(invalid(
                        var,
                        "it only applies in Organizations mode (ORGANIZATION_ROLE_ARN) but ACCOUNT_ROLE_ARNS is set",
                        "unset it, or switch to ORGANIZATION_ROLE_ARN",
                    ));
                }
            }
            let expected = r#"a JSON array of IAM role ARNs, e.g. ["arn:aws:iam::123456789012:role/PortAwsSyncReadRole"]"#;
            let list: Vec<String> = serde_json::from_str(&raw).map_err(|e| {
                invalid("ACCOUNT_ROLE_ARNS", format!("not a JSON array of strings ({e})"), expected)
            })?;
            if list.is_empty() {
                return Err(invalid("ACCOUNT_ROLE_ARNS", "the array is empty", expected));
            }
            let mut role_arns = Vec::with_capacity(list.len());
            let mut seen = BTreeSet::new();
            for item in list {
                let arn: RoleArn = item
                    .parse()
                    .map_err(|e: crate::arn::ArnError| invalid("ACCOUNT_ROLE_ARNS", e.to_string(), expected))?;
                if !seen.insert(arn.account_id().to_owned()) {
                    return Err(invalid(
                        "ACCOUNT_ROLE_ARNS",
                        format!("account {} is listed twice", arn.account_id()),
                        "one role ARN per account",
                    ));
                }
                role_arns.push(arn);
            }
            Ok(AccountsMode::Explicit { role_arns })
        }
        (None, Some(raw)) => {
            let role_arn: RoleArn = raw.parse().map_err(|e: crate::arn::ArnError| {
                invalid(
                    "ORGANIZATION_ROLE_ARN",
                    e.to_string(),
                    "the role ARN in the management (or delegated-admin) account, arn:aws:iam::<account-id>:role/<name>",
                )
            })?;
            let member_role_name = match member {
                None => role_arn.name().to_owned(),
                Some(name) => {
                    let name = name.trim_start_matches('/').to_owned();
                    if !is_role_name(&name) {
                        return Err(invalid(
                            "MEMBER_ROLE_NAME",
                            format!("`{name}` is not an IAM role name"),
                            "a role name with optional path, e.g. PortAwsSyncReadRole or port/PortAwsSyncReadRole",
                        ));
                    }
                    name
                }
            };
            let organizational_unit_ids = split_list(ous.as_deref());
            if let Some(bad) = organizational_unit_ids.iter().find(|id| !is_ou_id(id)) {
                return Err(invalid(
                    "ORGANIZATIONAL_UNIT_IDS",
                    format!("`{bad}` is not an organizational unit id"),
                    "a comma list of OU ids such as ou-ab12-cdefgh34 (or a root id r-ab12)",
                ));
            }
            Ok(AccountsMode::Organization {
                role_arn,
                member_role_name,
                organizational_unit_ids,
            })
        }
        (None, None) => {
            for (var, value) in [("ORGANIZATIONAL_UNIT_IDS", &ous), ("MEMBER_ROLE_NAME", &member)] {
                if value.is_some() {
                    return Err(invalid(
                        var,
                        "it only applies in Organizations mode but ORGANIZATION_ROLE_ARN is not set",
                        "set ORGANIZATION_ROLE_ARN to the management account's role, or unset it",
                    ));
                }
            }
            Ok(AccountsMode::Single)
        }
    }
}

fn is_ou_id(id: &str) -> bool {
    let ok = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    };
    if let Some(rest) = id.strip_prefix("ou-") {
        let mut parts = rest.splitn(2, '-');
        matches!((parts.next(), parts.next()), (Some(a), Some(b)) if ok(a) && ok(b))
    } else {
        id.strip_prefix("r-").is_some_and(ok)
    }
}

fn split_list(raw: Option<&str>) -> Vec<String> {
    raw.unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn parse_account_list(raw: Option<String>) -> Result<BTreeSet<String>, ConfigError> {
    let ids = split_list(raw.as_deref());
    if let Some(bad) = ids.iter().find(|id| !is_account_id(id)) {
        return Err(invalid(
            "EXCLUDED_ACCOUNT_IDS",
            format!("`{bad}` is not a 12-digit account id"),
            "a comma list of 12-digit account ids",
        ));
    }
    Ok(ids.into_iter().collect())
}

/// Parses `{"allow": [...], "deny": [...]}` and rejects regions this release does not know.
pub fn parse_region_policy(raw: &str) -> Result<RegionPolicy, ConfigError> {
    let expected =
        r#"JSON {"allow": ["us-east-1", ...], "deny": [...]} (both optional; deny wins)"#;
    let policy: RegionPolicy = serde_json::from_str(raw).map_err(|e| {
        invalid(
            "REGION_POLICY",
            format!("not valid JSON of that shape ({e})"),
            expected,
        )
    })?;
    let unknown = policy.unknown_regions();
    if !unknown.is_empty() {
        return Err(invalid(
            "REGION_POLICY",
            format!("unknown region(s) {}", unknown.join(", ")),
            "region names such as us-east-1, eu-west-1, ap-southeast-2",
        ));
    }
    Ok(policy)
}

/// Parses a comma list of kind names.
pub fn parse_kinds(raw: &str) -> Result<Vec<Kind>, String> {
    let mut kinds = Vec::new();
    for name in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let kind = Kind::parse(name).ok_or_else(|| format!("unknown kind `{name}`"))?;
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    if kinds.is_empty() {
        return Err("no kind listed".into());
    }
    Ok(kinds)
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Some(true),
        "false" | "0" | "no" => Some(false),
        _ => None,
    }
}

fn parse_count(
    get: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    default: usize,
) -> Result<usize, ConfigError> {
    match get(var) {
        None => Ok(default),
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| invalid(var, format!("`{v}`"), "a whole number from 1 to 1000")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn load(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    fn error_of(vars: &[(&str, &str)]) -> String {
        load(vars).unwrap_err().to_string()
    }

    #[test]
    fn defaults_to_single_account_and_all_kinds() {
        let config = load(&[]).unwrap();
        assert_eq!(config.accounts, AccountsMode::Single);
        assert_eq!(config.port_base_url, DEFAULT_PORT_BASE_URL);
        assert_eq!(config.integration_identifier, "port-aws-sync");
        assert_eq!(config.kinds, Kind::ALL.to_vec());
        assert_eq!(config.port_credentials, PortCredentialsSource::Missing);
        assert!(config.initialize_port_resources);
    }

    #[test]
    fn explicit_mode_parses_role_arns() {
        let config = load(&[(
            "ACCOUNT_ROLE_ARNS",
            r#"["arn:aws:iam::111111111111:role/R", "arn:aws-us-gov:iam::222222222222:role/p/R"]"#,
        )])
        .unwrap();
        let AccountsMode::Explicit { role_arns } = config.accounts else {
            panic!("not explicit mode")
        };
        assert_eq!(role_arns[1].partition(), "aws-us-gov");
    }

    #[test]
    fn organization_mode_defaults_member_role_to_management_role_name() {
        let config = load(&[
            (
                "ORGANIZATION_ROLE_ARN",
                "arn:aws:iam::123456789012:role/port/Reader",
            ),
            ("ORGANIZATIONAL_UNIT_IDS", "ou-ab12-cdefgh34, r-ab12"),
        ])
        .unwrap();
        let AccountsMode::Organization {
            member_role_name,
            organizational_unit_ids,
            ..
        } = config.accounts
        else {
            panic!("not organization mode")
        };
        assert_eq!(member_role_name, "port/Reader");
        assert_eq!(organizational_unit_ids, vec!["ou-ab12-cdefgh34", "r-ab12"]);
    }

    /// (environment, variable the error must name, hint it must contain)
    type ErrorCase<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);

    #[test]
    fn errors_name_the_variable_and_the_expected_form() {
        let cases: &[ErrorCase] = &[
            (
                &[("ACCOUNT_ROLE_ARNS", "arn:aws:iam::1:role/x")],
                "ACCOUNT_ROLE_ARNS",
                "JSON array",
            ),
            (
                &[("ACCOUNT_ROLE_ARNS", r#"["arn:aws:iam::1:role/x"]"#)],
                "ACCOUNT_ROLE_ARNS",
                "12 digits",
            ),
            (
                &[
                    (
                        "ACCOUNT_ROLE_ARNS",
                        r#"["arn:aws:iam::111111111111:role/R"]"#,
                    ),
                    ("ORGANIZATION_ROLE_ARN", "arn:aws:iam::111111111111:role/R"),
                ],
                "ACCOUNT_ROLE_ARNS and ORGANIZATION_ROLE_ARN",
                "not both",
            ),
            (
                &[("WORK_QUEUE_URL", "port-aws-sync-work")],
                "WORK_QUEUE_URL",
                "SQS queue URL",
            ),
            (
                &[("ORGANIZATION_ROLE_ARN", "nope")],
                "ORGANIZATION_ROLE_ARN",
                "management",
            ),
            (
                &[("REGION_POLICY", "{\"allow\": \"us-east-1\"}")],
                "REGION_POLICY",
                "JSON",
            ),
            (
                &[("REGION_POLICY", "{\"allow\": [\"us-east1\"]}")],
                "REGION_POLICY",
                "us-east1",
            ),
            (
                &[("REGION_POLICY", "{\"alow\": []}")],
                "REGION_POLICY",
                "alow",
            ),
            (
                &[("KINDS", "AWS::EC2::Instance,AWS::Lambda::Function")],
                "KINDS",
                "AWS::Lambda::Function",
            ),
            (
                &[("PORT_BASE_URL", "api.getport.io")],
                "PORT_BASE_URL",
                "https://api.us.getport.io",
            ),
            (
                &[("EXCLUDED_ACCOUNT_IDS", "12")],
                "EXCLUDED_ACCOUNT_IDS",
                "12-digit",
            ),
            (&[("EXTERNAL_ID", "x")], "EXTERNAL_ID", "2 to 1224"),
            (
                &[("ORGANIZATIONAL_UNIT_IDS", "ou-1-2")],
                "ORGANIZATIONAL_UNIT_IDS",
                "ORGANIZATION_ROLE_ARN",
            ),
            (
                &[("MAX_CONCURRENT_UNITS", "0")],
                "MAX_CONCURRENT_UNITS",
                "1 to 1000",
            ),
            (
                &[("INITIALIZE_PORT_RESOURCES", "maybe")],
                "INITIALIZE_PORT_RESOURCES",
                "true or false",
            ),
            (
                &[("PORT_CLIENT_ID", "id")],
                "PORT_CLIENT_SECRET",
                "client secret",
            ),
            (
                &[("MAPPING_CONFIG", "s3://bucket-without-key")],
                "MAPPING_CONFIG",
                "ssm:NAME",
            ),
        ];
        for (vars, var, hint) in cases {
            let message = error_of(vars);
            assert!(message.contains(var), "{message:?} does not name {var}");
            assert!(message.contains(hint), "{message:?} lacks {hint:?}");
        }
    }

    #[test]
    fn secrets_never_appear_in_errors_or_debug() {
        let secret = "s3cr3t-value-that-must-not-leak";
        let message = error_of(&[
            ("PORT_CLIENT_ID", "id"),
            ("PORT_CLIENT_SECRET", secret),
            (
                "PORT_CREDENTIALS_SECRET_ARN",
                "arn:aws:secretsmanager:us-east-1:123456789012:secret:x",
            ),
        ]);
        assert!(!message.contains(secret));
        let config = load(&[
            ("PORT_CLIENT_ID", "id"),
            ("PORT_CLIENT_SECRET", secret),
            ("EXTERNAL_ID", "ext-1234"),
        ])
        .unwrap();
        let debug = format!("{config:?}");
        assert!(
            !debug.contains(secret) && !debug.contains("ext-1234"),
            "{debug}"
        );
    }

    #[test]
    fn base_url_accepts_http_for_local_servers_and_drops_v1() {
        let config = load(&[("PORT_BASE_URL", "http://127.0.0.1:8080/v1/")]).unwrap();
        assert_eq!(config.port_base_url, "http://127.0.0.1:8080");
    }
}
