//! Which accounts a sync covers: the ambient account, an explicit list of roles, or the accounts
//! of an AWS Organization (optionally under some OUs, walked recursively).

use crate::arn::RoleArn;
use crate::config::{AccountsMode, Config};
use crate::discovery::session::{AssumeRoleError, Sessions};
use crate::kinds::raw::iso8601_millis;
use aws_sdk_organizations::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_organizations::types::Account as OrgAccount;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

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
}

/// Discovery cannot start: no account can be listed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AccountsError {
    #[error(transparent)]
    AssumeManagementRole(#[from] AssumeRoleError),
    #[error("{operation} failed in account {account_id}: {message}. Hint: {hint}")]
    Organizations {
        account_id: String,
        operation: &'static str,
        code: Option<String>,
        message: String,
        hint: String,
    },
    #[error("could not identify the ambient AWS credentials (sts:GetCallerIdentity): {message}. Hint: configure AWS credentials (AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or an instance/task role)")]
    Identity { message: String },
}

fn org_error<E>(
    account_id: &str,
    role: &str,
    operation: &'static str,
    err: SdkError<E>,
) -> AccountsError
where
    E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
{
    let code = err.code().map(str::to_owned);
    let action = format!("organizations:{operation}");
    let hint = match code.as_deref() {
        Some("AWSOrganizationsNotInUseException") => format!(
            "account {account_id} is not in an AWS Organization; use ACCOUNT_ROLE_ARNS for a list of accounts instead"
        ),
        Some("AccessDeniedException") | Some("AccessDenied") => format!(
            "the role {role} needs {action}, and must be in the management account or a delegated administrator for AWS Organizations"
        ),
        _ => format!("the role {role} needs {action}"),
    };
    AccountsError::Organizations {
        account_id: account_id.to_owned(),
        operation,
        code,
        message: DisplayErrorContext(&err).to_string(),
        hint,
    }
}

/// State of an organization account: `State`, falling back to the retired `Status`.
#[allow(deprecated)]
pub fn account_state(account: &OrgAccount) -> Option<String> {
    account
        .state()
        .map(|s| s.as_str().to_owned())
        .or_else(|| account.status().map(|s| s.as_str().to_owned()))
}

fn from_org(account: &OrgAccount, partition: &str, role_arn: String) -> Option<Account> {
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

/// Lists the accounts of the configured mode. Fails only when nothing can be listed at all
/// (Organizations not enabled, access denied, ambient credentials missing).
pub async fn list_accounts(
    config: &Config,
    sessions: &Sessions,
) -> Result<AccountList, AccountsError> {
    let mut list = match &config.accounts {
        AccountsMode::Single => {
            let sdk = sessions.config_for(None, "aws").await?;
            let me = aws_sdk_sts::Client::new(&sdk)
                .get_caller_identity()
                .send()
                .await
                .map_err(|e| AccountsError::Identity {
                    message: aws_sdk_sts::error::DisplayErrorContext(&e).to_string(),
                })?;
            let id = me.account().unwrap_or_default().to_owned();
            let partition = me
                .arn()
                .and_then(|a| a.split(':').nth(1))
                .unwrap_or("aws")
                .to_owned();
            AccountList {
                accounts: vec![Account::bare(&id, &partition, None)],
                ..Default::default()
            }
        }
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

async fn list_organization(
    sessions: &Sessions,
    role_arn: &RoleArn,
    member_role_name: &str,
    ou_ids: &[String],
) -> Result<AccountList, AccountsError> {
    let partition = role_arn.partition();
    let mgmt_id = role_arn.account_id();
    let role = role_arn.as_str();
    let sdk = sessions.config_for(Some(role), partition).await?;
    let org = aws_sdk_organizations::Client::new(&sdk);

    let description = org
        .describe_organization()
        .send()
        .await
        .map_err(|e| org_error(mgmt_id, role, "DescribeOrganization", e))?;
    let management_id = description
        .organization()
        .and_then(|o| o.master_account_id())
        .unwrap_or(mgmt_id)
        .to_owned();

    let list_all = || async {
        let mut all: BTreeMap<String, OrgAccount> = BTreeMap::new();
        let mut token = None;
        loop {
            // Pages can be empty while NextToken continues: always follow the token.
            let page = org
                .list_accounts()
                .set_next_token(token)
                .max_results(20)
                .send()
                .await
                .map_err(|e| org_error(mgmt_id, role, "ListAccounts", e))?;
            for a in page.accounts() {
                if let Some(id) = a.id() {
                    all.insert(id.to_owned(), a.clone());
                }
            }
            token = page.next_token().map(str::to_owned);
            if token.is_none() {
                return Ok::<_, AccountsError>(all);
            }
        }
    };
    let mut found: BTreeMap<String, OrgAccount> = BTreeMap::new();
    // Every account of the organization, not only those under the OUs, so that stale-entity
    // cleanup can tell "left the organization" from "outside the OUs" (`None`: not listable).
    let whole_org: Option<BTreeMap<String, OrgAccount>>;
    if ou_ids.is_empty() {
        found = list_all().await?;
        whole_org = Some(found.clone());
    } else {
        let mut pending: Vec<String> = ou_ids.to_vec();
        let mut visited = BTreeSet::new();
        while let Some(parent) = pending.pop() {
            if !visited.insert(parent.clone()) {
                continue;
            }
            let mut token = None;
            loop {
                let page = org
                    .list_accounts_for_parent()
                    .parent_id(&parent)
                    .set_next_token(token)
                    .max_results(20)
                    .send()
                    .await
                    .map_err(|e| org_error(mgmt_id, role, "ListAccountsForParent", e))?;
                for a in page.accounts() {
                    if let Some(id) = a.id() {
                        found.insert(id.to_owned(), a.clone());
                    }
                }
                token = page.next_token().map(str::to_owned);
                if token.is_none() {
                    break;
                }
            }
            let mut token = None;
            loop {
                let page = org
                    .list_organizational_units_for_parent()
                    .parent_id(&parent)
                    .set_next_token(token)
                    .max_results(20)
                    .send()
                    .await
                    .map_err(|e| org_error(mgmt_id, role, "ListOrganizationalUnitsForParent", e))?;
                pending.extend(
                    page.organizational_units()
                        .iter()
                        .filter_map(|ou| ou.id().map(str::to_owned)),
                );
                token = page.next_token().map(str::to_owned);
                if token.is_none() {
                    break;
                }
            }
        }
        if !found.contains_key(&management_id) {
            let out = org
                .describe_account()
                .account_id(&management_id)
                .send()
                .await
                .map_err(|e| org_error(mgmt_id, role, "DescribeAccount", e))?;
            if let Some(a) = out.account() {
                found.insert(management_id.clone(), a.clone());
            }
        }
        whole_org = match list_all().await {
            Ok(all) => Some(all),
            Err(e) => {
                tracing::warn!(error = %e, "the whole organization could not be listed: entities of accounts that left it will not be deleted");
                None
            }
        };
    }

    let mut list = AccountList::default();
    for (id, org_account) in &found {
        let state = account_state(org_account).unwrap_or_else(|| "UNKNOWN".into());
        // The management account is reached with the discovery role itself: StackSets do not
        // deploy the member role there.
        let reach = if *id == management_id && mgmt_id == management_id {
            role.to_owned()
        } else {
            RoleArn::for_account(partition, id, member_role_name).to_string()
        };
        if state != "ACTIVE" {
            list.skipped.push(SkippedAccount {
                id: id.clone(),
                name: org_account.name().map(str::to_owned),
                reason: state,
            });
            continue;
        }
        if let Some(account) = from_org(org_account, partition, reach) {
            list.accounts.push(account);
        }
    }
    list.organization_members = whole_org.map(|all| {
        all.iter()
            .map(|(id, a)| {
                (
                    id.clone(),
                    account_state(a).unwrap_or_else(|| "UNKNOWN".into()),
                )
            })
            .collect()
    });
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
