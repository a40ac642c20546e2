//! One run's discovery: list the accounts, reach each (AssumeRole) and list its enabled regions.

use super::accounts::{list_accounts, Account, AccountsError, SkippedAccount};
use super::regions;
use super::session::Sessions;
use crate::config::{Config, RegionPolicy};
use futures_util::stream::{self, StreamExt};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Accounts discovered at once (AssumeRole + DescribeRegions each).
const DISCOVERY_CONCURRENCY: usize = 16;

/// An account that can be synced, with its enabled regions (after the region policy).
#[derive(Debug, Clone, Serialize)]
pub struct AccountTarget {
    pub account: Account,
    pub regions: Vec<String>,
}

/// An account that could not be reached, with the reason and a hint.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FailedAccount {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    pub reason: String,
}

/// Everything discovery learned in one run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Discovery {
    pub targets: Vec<AccountTarget>,
    pub skipped: Vec<SkippedAccount>,
    pub failed: Vec<FailedAccount>,
    /// Organizations mode: every member account id and its state.
    #[serde(skip)]
    pub organization_members: Option<BTreeMap<String, String>>,
    /// Organizations mode: where organization-scoped kinds run (the discovery role's account,
    /// reached with that role); `None` in the other modes, or when the run is narrowed to other
    /// accounts.
    #[serde(skip)]
    pub organization_account: Option<Account>,
}

/// Lists the accounts, then reaches each one (AssumeRole) and lists its enabled regions. An
/// account that cannot be reached is reported in `failed`; the others continue.
/// `only_accounts` narrows the run to some account ids (manual one-time syncs).
pub async fn discover(
    config: &Config,
    sessions: &Sessions,
    only_accounts: Option<&BTreeSet<String>>,
    policy: &RegionPolicy,
) -> Result<Discovery, AccountsError> {
    let list = list_accounts(config, sessions).await?;
    let mut discovery = Discovery {
        skipped: list.skipped,
        organization_members: list.organization_members,
        organization_account: list
            .organization_account
            .filter(|a| only_accounts.is_none_or(|only| only.contains(&a.id))),
        ..Default::default()
    };
    let accounts: Vec<Account> = list
        .accounts
        .into_iter()
        .filter(|a| only_accounts.is_none_or(|only| only.contains(&a.id)))
        .collect();
    let results: Vec<Result<AccountTarget, FailedAccount>> = stream::iter(accounts)
        .map(|account| reach(sessions, account, policy))
        .buffered(DISCOVERY_CONCURRENCY)
        .collect()
        .await;
    for result in results {
        match result {
            Ok(target) => discovery.targets.push(target),
            Err(failed) => {
                tracing::warn!(account_id = %failed.id, reason = %failed.reason, "account skipped: cannot be reached");
                discovery.failed.push(failed);
            }
        }
    }
    Ok(discovery)
}

async fn reach(
    sessions: &Sessions,
    account: Account,
    policy: &RegionPolicy,
) -> Result<AccountTarget, FailedAccount> {
    let fail = |reason: String| FailedAccount {
        id: account.id.clone(),
        role_arn: account.role_arn.clone(),
        reason,
    };
    let sdk = sessions
        .config_for(account.role_arn.as_deref(), &account.partition)
        .await
        .map_err(|e| fail(e.to_string()))?;
    let api = sessions.api().map_err(|e| fail(e.to_string()))?;
    let regions = regions::enabled_regions(api, &sdk, &account.id, policy)
        .await
        .map_err(|e| fail(e.to_string()))?;
    Ok(AccountTarget { account, regions })
}
