//! The accounts this installation may sync, as its own configuration says, for checking work
//! items: the accounts of `ACCOUNT_ROLE_ARNS`, the ACTIVE accounts of the organization that pass
//! the OU and exclusion filters, or the caller's own account. The list comes from
//! [`list_accounts`] (the same as the fan-out's), kept per container: for [`DIRECTORY_TTL`] in
//! Organizations mode (accounts join, leave and are suspended), for the container's life
//! otherwise (the configuration, or the caller's identity, cannot change under it).
//!
//! A work item's account is looked up here and only here: the role to reach it, and its
//! partition, come from this list, never from the message.

use super::accounts::{list_accounts, Account, AccountList, AccountsError};
use super::session::Sessions;
use crate::config::{AccountsMode, Config};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;
use tokio::time::Instant;

/// How long an organization's account list is trusted before it is listed again.
pub const DIRECTORY_TTL: Duration = Duration::from_secs(300);

/// What the directory says about an account id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// An account to sync, with the role (or the ambient credentials) to reach it.
    Member(Account),
    /// Known, but left out on purpose: `SUSPENDED`, `excluded by EXCLUDED_ACCOUNT_IDS`, ...
    Skipped(String),
    /// Not an account of this installation.
    Unknown,
}

/// The cached account list of one container.
#[derive(Debug, Default)]
pub struct Directory {
    cached: Mutex<Option<(Instant, Arc<AccountList>)>>,
}

impl Directory {
    pub fn new() -> Directory {
        Directory::default()
    }

    /// What the configuration says about `account_id`. Lists the accounts at most once per
    /// [`DIRECTORY_TTL`] (one listing at a time; concurrent lookups wait for it).
    pub async fn lookup(
        &self,
        config: &Config,
        sessions: &Sessions,
        account_id: &str,
    ) -> Result<Lookup, AccountsError> {
        let list = self.accounts(config, sessions).await?;
        Ok(find(&list, account_id))
    }

    async fn accounts(
        &self,
        config: &Config,
        sessions: &Sessions,
    ) -> Result<Arc<AccountList>, AccountsError> {
        let mut cached = self.cached.lock().await;
        let expires = matches!(config.accounts, AccountsMode::Organization { .. });
        if let Some((at, list)) = cached.as_ref() {
            if !expires || at.elapsed() < DIRECTORY_TTL {
                return Ok(list.clone());
            }
        }
        let list = Arc::new(list_accounts(config, sessions).await?);
        tracing::debug!(
            accounts = list.accounts.len(),
            skipped = list.skipped.len(),
            "account directory listed"
        );
        *cached = Some((Instant::now(), list.clone()));
        Ok(list)
    }
}

fn find(list: &AccountList, account_id: &str) -> Lookup {
    if let Some(account) = list.accounts.iter().find(|a| a.id == account_id) {
        return Lookup::Member(account.clone());
    }
    match list.skipped.iter().find(|s| s.id == account_id) {
        Some(skipped) => Lookup::Skipped(skipped.reason.clone()),
        None => Lookup::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::fake_aws::FakeAws;
    use serde_json::json;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn config(vars: &[(&str, &str)]) -> Config {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())).unwrap()
    }

    #[tokio::test]
    async fn explicit_mode_knows_only_the_listed_accounts() {
        let server = FakeAws::start(|_| (500, "text/plain", String::new()));
        let sessions = Sessions::new(server.sdk_config("us-east-1"), None, "s");
        let config = config(&[
            (
                "ACCOUNT_ROLE_ARNS",
                r#"["arn:aws:iam::111111111111:role/R","arn:aws:iam::222222222222:role/R"]"#,
            ),
            ("EXCLUDED_ACCOUNT_IDS", "222222222222"),
        ]);
        let directory = Directory::new();
        let Lookup::Member(account) = directory
            .lookup(&config, &sessions, "111111111111")
            .await
            .unwrap()
        else {
            panic!("a listed account")
        };
        assert_eq!(
            account.role_arn.as_deref(),
            Some("arn:aws:iam::111111111111:role/R")
        );
        assert!(matches!(
            directory.lookup(&config, &sessions, "222222222222").await,
            Ok(Lookup::Skipped(reason)) if reason.contains("EXCLUDED_ACCOUNT_IDS")
        ));
        assert_eq!(
            directory
                .lookup(&config, &sessions, "333333333333")
                .await
                .unwrap(),
            Lookup::Unknown
        );
        assert!(server.requests().is_empty(), "no AWS call in explicit mode");
    }

    #[tokio::test]
    async fn the_organization_is_listed_once_per_ttl_not_once_per_item() {
        let calls = Arc::new(AtomicUsize::new(0));
        let counted = calls.clone();
        let server = FakeAws::start(move |request| {
            let target = request.header("x-amz-target").unwrap_or_default();
            if request.body.contains("Action=AssumeRole&") {
                let xml = "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><AssumeRoleResult>\
                    <Credentials><AccessKeyId>AK</AccessKeyId><SecretAccessKey>s</SecretAccessKey>\
                    <SessionToken>t</SessionToken><Expiration>2099-01-01T00:00:00Z</Expiration></Credentials>\
                    <AssumedRoleUser><Arn>arn:aws:sts::999999999999:assumed-role/R/s</Arn><AssumedRoleId>AROA:s</AssumedRoleId></AssumedRoleUser>\
                    </AssumeRoleResult></AssumeRoleResponse>";
                return (200, "text/xml", xml.to_owned());
            }
            let body = if target.ends_with("DescribeOrganization") {
                json!({"Organization": {"MasterAccountId": "999999999999"}})
            } else {
                counted.fetch_add(1, Ordering::SeqCst);
                json!({"Accounts": [
                    {"Id": "999999999999", "State": "ACTIVE"},
                    {"Id": "111111111111", "State": "ACTIVE"},
                    {"Id": "222222222222", "State": "SUSPENDED"}
                ]})
            };
            (200, "application/x-amz-json-1.1", body.to_string())
        });
        let sessions = Sessions::new(server.sdk_config("us-east-1"), None, "s");
        let config = config(&[(
            "ORGANIZATION_ROLE_ARN",
            "arn:aws:iam::999999999999:role/Reader",
        )]);
        let directory = Directory::new();
        let member = directory
            .lookup(&config, &sessions, "111111111111")
            .await
            .unwrap();
        assert!(
            matches!(&member, Lookup::Member(a) if a.role_arn.as_deref() == Some("arn:aws:iam::111111111111:role/Reader")),
            "{member:?}"
        );
        let management = directory
            .lookup(&config, &sessions, "999999999999")
            .await
            .unwrap();
        assert!(
            matches!(&management, Lookup::Member(a) if a.role_arn.as_deref() == Some("arn:aws:iam::999999999999:role/Reader")),
            "{management:?}"
        );
        assert_eq!(
            directory
                .lookup(&config, &sessions, "222222222222")
                .await
                .unwrap(),
            Lookup::Skipped("SUSPENDED".into())
        );
        assert_eq!(
            directory
                .lookup(&config, &sessions, "444444444444")
                .await
                .unwrap(),
            Lookup::Unknown
        );
        assert_eq!(calls.load(Ordering::SeqCst), 1, "listed once");
    }
}
