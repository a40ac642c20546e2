//! The accounts of an AWS Organization: the whole organization, or the accounts under some OUs
//! (walked recursively), with the SDK's paginators. A paginator that stops because the service
//! repeated a page token is an error here: an incomplete account list must never look complete,
//! since "left the organization" deletes entities.

use super::accounts::{account_state, AccountList, AccountsError, SkippedAccount};
use super::session::Sessions;
use crate::arn::RoleArn;
use crate::aws_error::AwsCallError;
use aws_sdk_organizations::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_organizations::types::Account as OrgAccount;
use std::collections::{BTreeMap, BTreeSet};

/// Accounts by id.
type OrgAccounts = BTreeMap<String, OrgAccount>;

/// Runs a paginator to the end, binding each page to `$page` for `$body`; fails on an SDK error
/// or when the last page still carries a `NextToken` (the paginator stopped on a repeated token).
macro_rules! all_pages {
    ($org:expr, $operation:literal, $paginator:expr, |$page:ident| $body:block) => {{
        let mut pages = $paginator.send();
        let mut last_token: Option<String> = None;
        while let Some(page) = pages.next().await {
            let $page = page.map_err(|e| $org.error($operation, &e))?;
            last_token = $page.next_token().map(str::to_owned);
            $body
        }
        $org.check_complete($operation, last_token)
    }};
}

/// An Organizations client with the role it was reached with, for errors and hints.
pub struct Organization<'a> {
    pub client: aws_sdk_organizations::Client,
    /// The account of the discovery role.
    pub account_id: &'a str,
    /// The discovery role, named in hints.
    pub role: &'a str,
}

impl Organization<'_> {
    fn error<E>(&self, operation: &'static str, err: &SdkError<E>) -> AccountsError
    where
        E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
    {
        let action = format!("organizations:{operation}");
        let (account_id, role) = (self.account_id, self.role);
        let hint = match err.code() {
            Some("AWSOrganizationsNotInUseException") => format!(
                "account {account_id} is not in an AWS Organization; use ACCOUNT_ROLE_ARNS for a list of accounts instead"
            ),
            Some("AccessDeniedException") | Some("AccessDenied") => format!(
                "the role {role} needs {action}, and must be in the management account or a delegated administrator for AWS Organizations"
            ),
            _ => format!("the role {role} needs {action}"),
        };
        AccountsError::Organizations(Box::new(
            AwsCallError::new(operation, account_id, None, err).with_hint(hint),
        ))
    }

    fn check_complete(
        &self,
        operation: &'static str,
        last_token: Option<String>,
    ) -> Result<(), AccountsError> {
        match last_token {
            Some(token) if !token.is_empty() => Err(AccountsError::RepeatedToken {
                operation,
                account_id: self.account_id.to_owned(),
            }),
            _ => Ok(()),
        }
    }

    /// The management account's id (`DescribeOrganization`).
    async fn management_account(&self) -> Result<String, AccountsError> {
        let description = self
            .client
            .describe_organization()
            .send()
            .await
            .map_err(|e| self.error("DescribeOrganization", &e))?;
        Ok(description
            .organization()
            .and_then(|o| o.master_account_id())
            .unwrap_or(self.account_id)
            .to_owned())
    }

    /// Every account of the organization, whatever its state.
    pub async fn list_all(&self) -> Result<OrgAccounts, AccountsError> {
        let mut all = OrgAccounts::new();
        // Pages can be empty while NextToken continues: the paginator follows the token.
        all_pages!(
            self,
            "ListAccounts",
            self.client.list_accounts().max_results(20).into_paginator(),
            |page| {
                for a in page.accounts() {
                    if let Some(id) = a.id() {
                        all.insert(id.to_owned(), a.clone());
                    }
                }
            }
        )?;
        Ok(all)
    }

    /// The accounts under the OUs (and roots), walked recursively.
    pub async fn list_under(&self, ou_ids: &[String]) -> Result<OrgAccounts, AccountsError> {
        let mut found = OrgAccounts::new();
        let mut pending: Vec<String> = ou_ids.to_vec();
        let mut visited = BTreeSet::new();
        while let Some(parent) = pending.pop() {
            if !visited.insert(parent.clone()) {
                continue;
            }
            let accounts = self
                .client
                .list_accounts_for_parent()
                .parent_id(&parent)
                .max_results(20)
                .into_paginator();
            all_pages!(self, "ListAccountsForParent", accounts, |page| {
                for a in page.accounts() {
                    if let Some(id) = a.id() {
                        found.insert(id.to_owned(), a.clone());
                    }
                }
            })?;
            let children = self
                .client
                .list_organizational_units_for_parent()
                .parent_id(&parent)
                .max_results(20)
                .into_paginator();
            all_pages!(self, "ListOrganizationalUnitsForParent", children, |page| {
                pending.extend(
                    page.organizational_units()
                        .iter()
                        .filter_map(|ou| ou.id().map(str::to_owned)),
                );
            })?;
        }
        Ok(found)
    }

    /// Adds the management account when the OUs do not hold it (`DescribeAccount`).
    async fn add_management(
        &self,
        found: &mut OrgAccounts,
        management_id: &str,
    ) -> Result<(), AccountsError> {
        if found.contains_key(management_id) {
            return Ok(());
        }
        let out = self
            .client
            .describe_account()
            .account_id(management_id)
            .send()
            .await
            .map_err(|e| self.error("DescribeAccount", &e))?;
        if let Some(a) = out.account() {
            found.insert(management_id.to_owned(), a.clone());
        }
        Ok(())
    }

    /// The accounts to sync (all, or under the OUs plus the management account), and every
    /// account of the organization (`None` when it could not be listed).
    async fn accounts(
        &self,
        ou_ids: &[String],
    ) -> Result<(String, OrgAccounts, Option<OrgAccounts>), AccountsError> {
        let management_id = self.management_account().await?;
        if ou_ids.is_empty() {
            let all = self.list_all().await?;
            return Ok((management_id, all.clone(), Some(all)));
        }
        let mut found = self.list_under(ou_ids).await?;
        self.add_management(&mut found, &management_id).await?;
        // Every account of the organization, not only those under the OUs, so that stale-entity
        // cleanup can tell "left the organization" from "outside the OUs".
        let whole = match self.list_all().await {
            Ok(all) => Some(all),
            Err(e) => {
                tracing::warn!(error = %e, "the whole organization could not be listed: entities of accounts that left it will not be deleted");
                None
            }
        };
        Ok((management_id, found, whole))
    }
}

/// Lists the accounts of the organization of `role_arn` (under `ou_ids` when given): the ACTIVE
/// ones to sync, each reached through `member_role_name` (the management account through the
/// discovery role itself), the others skipped with their state.
pub async fn list_organization(
    sessions: &Sessions,
    role_arn: &RoleArn,
    member_role_name: &str,
    ou_ids: &[String],
) -> Result<AccountList, AccountsError> {
    let partition = role_arn.partition();
    let role = role_arn.as_str();
    let sdk = sessions.config_for(Some(role), partition).await?;
    let org = Organization {
        client: aws_sdk_organizations::Client::new(&sdk),
        account_id: role_arn.account_id(),
        role,
    };
    let (management_id, found, whole) = org.accounts(ou_ids).await?;
    let mut list = AccountList::default();
    for (id, org_account) in &found {
        let state = account_state(org_account).unwrap_or_else(|| "UNKNOWN".into());
        // The management account is reached with the discovery role itself: StackSets do not
        // deploy the member role there.
        let reach = if *id == management_id && org.account_id == management_id {
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
        if let Some(account) = super::accounts::from_org(org_account, partition, reach) {
            list.accounts.push(account);
        }
    }
    // Organization-scoped kinds run once, with the discovery role itself (the management account
    // or a delegated administrator), whether or not its account is synced.
    let organization_account = found
        .get(org.account_id)
        .and_then(|a| super::accounts::from_org(a, partition, role.to_owned()));
    list.organization_account = Some(organization_account.unwrap_or_else(|| {
        super::accounts::Account::bare(org.account_id, partition, Some(role.to_owned()))
    }));
    list.organization_members = whole.map(|all| {
        all.iter()
            .map(|(id, a)| {
                let state = account_state(a).unwrap_or_else(|| "UNKNOWN".into());
                (id.clone(), state)
            })
            .collect()
    });
    Ok(list)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::fake_aws::{FakeAws, Request, Response};
    use serde_json::{json, Value};

    fn account(id: &str) -> Value {
        json!({"Id": id, "Name": format!("a{id}"), "State": "ACTIVE"})
    }

    /// `ListAccounts` pages: no token → page "a" → page "b" → end; `repeat` answers "b" again.
    fn handler(repeat: bool) -> impl Fn(&Request) -> Response + Send + Sync + 'static {
        move |request: &Request| {
            let body: Value = serde_json::from_str(&request.body).unwrap_or_default();
            let (accounts, next) = match body["NextToken"].as_str() {
                None => (vec![account("111111111111")], Some("a")),
                Some("a") => (vec![], Some("b")),
                Some(_) if repeat => (vec![account("333333333333")], Some("b")),
                Some(_) => (vec![account("222222222222")], None),
            };
            let mut out = json!({"Accounts": accounts});
            if let Some(next) = next {
                out["NextToken"] = json!(next);
            }
            (200, "application/x-amz-json-1.1", out.to_string())
        }
    }

    fn organization(server: &FakeAws) -> Organization<'static> {
        Organization {
            client: aws_sdk_organizations::Client::new(&server.sdk_config("us-east-1")),
            account_id: "999999999999",
            role: "arn:aws:iam::999999999999:role/R",
        }
    }

    #[tokio::test]
    async fn follows_every_page_including_empty_ones() {
        let server = FakeAws::start(handler(false));
        let all = organization(&server).list_all().await.unwrap();
        assert_eq!(
            all.keys().collect::<Vec<_>>(),
            vec!["111111111111", "222222222222"]
        );
        assert_eq!(server.requests().len(), 3);
    }

    #[tokio::test]
    async fn a_repeated_page_token_fails_discovery_instead_of_a_short_list() {
        let server = FakeAws::start(handler(true));
        let err = organization(&server).list_all().await.unwrap_err();
        let text = err.to_string();
        assert!(
            matches!(
                err,
                AccountsError::RepeatedToken {
                    operation: "ListAccounts",
                    ..
                }
            ),
            "{text}"
        );
        assert!(text.contains("ListAccounts"), "{text}");
        assert!(text.contains("incomplete"), "{text}");
    }
}
