//! [`Config`]: the whole configuration, read from the environment by [`Config::from_env`], one
//! group of variables at a time (`port`, `accounts`, `coverage`, `runtime`).

use super::accounts::{self, AccountsMode};
use super::coverage;
use super::port::{self, PortCredentialsSource, Secret};
use super::region_policy::RegionPolicy;
use super::runtime::{self, Concurrency};
use super::state::{self, StateConfig};
use crate::kinds::Kind;
use std::collections::BTreeSet;
use std::time::Duration;

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
    /// `UNIT_TIMEOUT_SECONDS`: the time one unit may take before it is stopped and failed.
    pub unit_timeout: Duration,
    /// `WORK_QUEUE_URL`: the SQS queue the `fanout` Lambda sends work items to.
    pub work_queue_url: Option<String>,
    /// `STATE_TABLE`, `STATE_PATH`, `STATE_MAX_AGE_DAYS`.
    pub state: StateConfig,
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

pub(super) fn invalid(
    var: &'static str,
    problem: impl Into<String>,
    expected: &'static str,
) -> ConfigError {
    ConfigError::Invalid {
        var,
        problem: problem.into(),
        expected,
    }
}

/// The variables, through a lookup (the environment, or a map in tests). Empty values count as
/// unset.
pub(super) struct Vars<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
}

impl Vars<'_> {
    /// The value, trimmed; `None` when unset or blank.
    pub(super) fn get(&self, name: &str) -> Option<String> {
        (self.lookup)(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    /// The value as given (secrets are not trimmed); `None` when unset or empty.
    pub(super) fn untrimmed(&self, name: &str) -> Option<String> {
        (self.lookup)(name).filter(|v| !v.is_empty())
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
        let vars = Vars { lookup: &lookup };
        // Field by field, in the order errors are reported.
        Ok(Config {
            port_base_url: port::base_url(&vars)?,
            port_credentials: port::credentials(&vars)?,
            integration_identifier: port::integration_identifier(&vars)?,
            accounts: accounts::mode(&vars)?,
            excluded_account_ids: accounts::excluded(&vars)?,
            external_id: accounts::external_id(&vars)?,
            region_policy: coverage::region_policy(&vars)?,
            kinds: coverage::kinds(&vars)?,
            initialize_port_resources: runtime::initialize_port_resources(&vars)?,
            mapping_config: coverage::mapping_config(&vars)?,
            concurrency: runtime::concurrency(&vars)?,
            unit_timeout: runtime::unit_timeout(&vars)?,
            work_queue_url: runtime::work_queue_url(&vars)?,
            state: state::state(&vars)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DEFAULT_PORT_BASE_URL;
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
        assert_eq!(config.kinds, Kind::all().to_vec());
        assert_eq!(config.port_credentials, PortCredentialsSource::Missing);
        assert!(config.initialize_port_resources);
        assert_eq!(config.unit_timeout, Duration::from_secs(900));
        let short = load(&[("UNIT_TIMEOUT_SECONDS", "3")]).unwrap();
        assert_eq!(short.unit_timeout, Duration::from_secs(3));
        assert_eq!(config.state.max_age_days, 7);
        assert_eq!(config.state.table, None);
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
                &[("KINDS", "AWS::EC2::Instance,AWS::EC2::InternetGateway")],
                "KINDS",
                "AWS::EC2::InternetGateway",
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
                &[("MAX_PAGES_IN_FLIGHT", "0")],
                "MAX_PAGES_IN_FLIGHT",
                "1 to 1000",
            ),
            (
                &[("UNIT_TIMEOUT_SECONDS", "0")],
                "UNIT_TIMEOUT_SECONDS",
                "1 to 86400",
            ),
            (
                &[("UNIT_TIMEOUT_SECONDS", "15m")],
                "UNIT_TIMEOUT_SECONDS",
                "seconds",
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
                &[("STATE_MAX_AGE_DAYS", "91")],
                "STATE_MAX_AGE_DAYS",
                "1 to 90",
            ),
            (&[("STATE_TABLE", "a b")], "STATE_TABLE", "state table"),
            (
                &[("STATE_PATH", "/tmp/")],
                "STATE_PATH",
                "SQLite state file",
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
