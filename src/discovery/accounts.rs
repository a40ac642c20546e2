//! Which accounts a sync covers: the ambient account, an explicit list of roles, or the accounts
//! of an AWS Organization (optionally under some OUs, walked recursively).

use crate::aws_error::{explain, AwsCallError, AwsReason};
use crate::config::{AccountsMode, Config};
use crate::discovery::organization::list_organization;
use crate::discovery::session::{AssumeRoleError, Sessions};
use crate::kinds::raw::iso8601_millis;
use aws_sdk_organizations::types::Account as OrgAccount;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// An account to sync and how to reach it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    pub id: String,
    pub partition: String,
    /// The role to assume; `None` = the ambient credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    /// From Organizations when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub joined_timestamp: Option<String>,
}

impl Account {
    /// An account known only by its id (and the role to reach it).
    pub fn bare(id: &str, partition: &str, role_arn: Option<String>) -> Account {
        Account {
            id: id.to_owned(),
            partition: partition.to_owned(),
            role_arn,
            name: None,
            email: None,
            arn: None,
            state: None,
            joined_timestamp: None,
        }
    }
}

/// An account left out of the sync on purpose, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SkippedAccount {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `SUSPENDED`, `CLOSED`, `excluded`, ...
    pub reason: String,
}

/// The accounts of one run.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountList {
    pub accounts: Vec<Account>,
    pub skipped: Vec<SkippedAccount>,
    /// Every account id the organization has, whatever its state (Organizations mode only):
    /// lets stale-entity cleanup tell "left the organization" from "could not be reached".
    #[serde(skip)]
    pub organization_members: Option<BTreeMap<String, String>>,
    /// Organizations mode: the account of the discovery role, reached with that role, where
    /// organization-scoped kinds (`AWS::Organizations::Account`) are fetched once per run.
    #[serde(skip)]
    pub organization_account: Option<Account>,
}

/// Discovery cannot start: no account can be listed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AccountsError {
    #[error(transparent)]
    AssumeManagementRole(#[from] AssumeRoleError),
    #[error(transparent)]
    Organizations(Box<AwsCallError>),
    #[error("{operation} in account {account_id} returned the same page token twice, so the account list may be incomplete: discovery stopped rather than take missing accounts for gone. Retry the sync, and report it if it persists")]
    RepeatedToken {
        operation: &'static str,
        account_id: String,
    },
    #[error("could not identify the ambient AWS credentials (sts:GetCallerIdentity): {reason}. Hint: configure AWS credentials (AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or an instance/task role)")]
    Identity { reason: AwsReason },
}

/// State of an organization account: `State`, falling back to the retired `Status`.
#[allow(deprecated)]
pub fn account_state(account: &OrgAccount) -> Option<String> {
    account
        .state()
        .map(|s| s.as_str().to_owned())
        .or_else(|| account.status().map(|s| s.as_str().to_owned()))
}

pub(super) fn from_org(account: &OrgAccount, partition: &str, role_arn: String) -> Option<Account> {
    Some(Account {
        id: account.id()?.to_owned(),
        partition: partition.to_owned(),
        role_arn: Some(role_arn),
        name: account.name().map(str::to_owned),
        email: account.email().map(str::to_owned),
        arn: account.arn().map(str::to_owned),
        state: account_state(account),
        joined_timestamp: account.joined_timestamp().map(iso8601_millis),
    })
}

/// The account of the ambient credentials (`sts:GetCallerIdentity`), asked in this process's own
/// region: its regional STS endpoint answers in every partition (GovCloud and China included).
async fn ambient_account(sessions: &Sessions) -> Result<Account, AccountsError> {
    let me = aws_sdk_sts::Client::new(sessions.base())
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| AccountsError::Identity {
            reason: explain(&e),
        })?;
    let id = me.account().unwrap_or_default();
    let partition = me.arn().and_then(|a| a.split(':').nth(1)).unwrap_or("aws");
    Ok(Account::bare(id, partition, None))
}

/// Lists the accounts of the configured mode. Fails only when nothing can be listed at all
/// (Organizations not enabled, access denied, ambient credentials missing).
pub async fn list_accounts(
    config: &Config,
    sessions: &Sessions,
) -> Result<AccountList, AccountsError> {
    let mut list = match &config.accounts {
        AccountsMode::Single => AccountList {
            accounts: vec![ambient_account(sessions).await?],
            ..Default::default()
        },
        AccountsMode::Explicit { role_arns } => AccountList {
            accounts: role_arns
                .iter()
                .map(|arn| Account::bare(arn.account_id(), arn.partition(), Some(arn.to_string())))
                .collect(),
            ..Default::default()
        },
        AccountsMode::Organization {
            role_arn,
            member_role_name,
            organizational_unit_ids,
        } => {
            list_organization(
                sessions,
                role_arn,
                member_role_name,
                organizational_unit_ids,
            )
            .await?
        }
    };
    let (kept, excluded): (Vec<Account>, Vec<Account>) = list
        .accounts
        .into_iter()
        .partition(|a| !config.excluded_account_ids.contains(&a.id));
    list.accounts = kept;
    list.skipped
        .extend(excluded.into_iter().map(|a| SkippedAccount {
            id: a.id,
            name: a.name,
            reason: "excluded by EXCLUDED_ACCOUNT_IDS".into(),
        }));
    list.skipped.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(list)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_organizations::types::{AccountState, AccountStatus};

    #[test]
    #[allow(deprecated)]
    fn state_falls_back_to_status() {
        let with_state = OrgAccount::builder()
            .state(AccountState::Suspended)
            .status(AccountStatus::Active)
            .build();
        assert_eq!(account_state(&with_state).as_deref(), Some("SUSPENDED"));
        let status_only = OrgAccount::builder()
            .status(AccountStatus::Suspended)
            .build();
        assert_eq!(account_state(&status_only).as_deref(), Some("SUSPENDED"));
        assert_eq!(account_state(&OrgAccount::builder().build()), None);
    }
}
