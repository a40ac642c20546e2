//! Which accounts a sync covers and how it reaches them: single account, `ACCOUNT_ROLE_ARNS`, or
//! `ORGANIZATION_ROLE_ARN` (with `MEMBER_ROLE_NAME`, `ORGANIZATIONAL_UNIT_IDS`), plus
//! `EXCLUDED_ACCOUNT_IDS` and `EXTERNAL_ID`.

use super::env::{invalid, ConfigError, Vars};
use super::port::Secret;
use crate::arn::{is_account_id, is_role_name, RoleArn};
use std::collections::BTreeSet;

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

/// The accounts mode; the Organizations-only variables are refused outside it.
pub(super) fn mode(vars: &Vars) -> Result<AccountsMode, ConfigError> {
    let ous = vars.get("ORGANIZATIONAL_UNIT_IDS");
    let member = vars.get("MEMBER_ROLE_NAME");
    let only_in_org = |why: &'static str, fix: &'static str| {
        for (var, value) in [
            ("ORGANIZATIONAL_UNIT_IDS", &ous),
            ("MEMBER_ROLE_NAME", &member),
        ] {
            if value.is_some() {
                return Err(invalid(var, why, fix));
            }
        }
        Ok(())
    };
    match (vars.get("ACCOUNT_ROLE_ARNS"), vars.get("ORGANIZATION_ROLE_ARN")) {
        (Some(_), Some(_)) => Err(ConfigError::Conflict {
            first: "ACCOUNT_ROLE_ARNS",
            second: "ORGANIZATION_ROLE_ARN",
            fix: "use ACCOUNT_ROLE_ARNS for a fixed list of accounts or ORGANIZATION_ROLE_ARN to discover the accounts of an AWS Organization, not both",
        }),
        (Some(raw), None) => {
            only_in_org(
                "it only applies in Organizations mode (ORGANIZATION_ROLE_ARN) but ACCOUNT_ROLE_ARNS is set",
                "unset it, or switch to ORGANIZATION_ROLE_ARN",
            )?;
            explicit(&raw)
        }
        (None, Some(raw)) => organization(&raw, member, ous.as_deref()),
        (None, None) => {
            only_in_org(
                "it only applies in Organizations mode but ORGANIZATION_ROLE_ARN is not set",
                "set ORGANIZATION_ROLE_ARN to the management account's role, or unset it",
            )?;
            Ok(AccountsMode::Single)
        }
    }
}

/// `ACCOUNT_ROLE_ARNS`: a JSON array of role ARNs, one per account.
fn explicit(raw: &str) -> Result<AccountsMode, ConfigError> {
    let expected = r#"a JSON array of IAM role ARNs, e.g. ["arn:aws:iam::123456789012:role/PortAwsSyncReadRole"]"#;
    let list: Vec<String> = serde_json::from_str(raw).map_err(|e| {
        invalid(
            "ACCOUNT_ROLE_ARNS",
            format!("not a JSON array of strings ({e})"),
            expected,
        )
    })?;
    if list.is_empty() {
        return Err(invalid("ACCOUNT_ROLE_ARNS", "the array is empty", expected));
    }
    let mut role_arns = Vec::with_capacity(list.len());
    let mut seen = BTreeSet::new();
    for item in list {
        let arn: RoleArn = item.parse().map_err(|e: crate::arn::ArnError| {
            invalid("ACCOUNT_ROLE_ARNS", e.to_string(), expected)
        })?;
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

/// `ORGANIZATION_ROLE_ARN`, with `MEMBER_ROLE_NAME` and `ORGANIZATIONAL_UNIT_IDS`.
fn organization(
    raw: &str,
    member: Option<String>,
    ous: Option<&str>,
) -> Result<AccountsMode, ConfigError> {
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
    let organizational_unit_ids = split_list(ous);
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

/// `EXCLUDED_ACCOUNT_IDS`.
pub(super) fn excluded(vars: &Vars) -> Result<BTreeSet<String>, ConfigError> {
    let ids = split_list(vars.get("EXCLUDED_ACCOUNT_IDS").as_deref());
    if let Some(bad) = ids.iter().find(|id| !is_account_id(id)) {
        return Err(invalid(
            "EXCLUDED_ACCOUNT_IDS",
            format!("`{bad}` is not a 12-digit account id"),
            "a comma list of 12-digit account ids",
        ));
    }
    Ok(ids.into_iter().collect())
}

/// `EXTERNAL_ID`, passed to every AssumeRole.
pub(super) fn external_id(vars: &Vars) -> Result<Option<Secret>, ConfigError> {
    match vars.get("EXTERNAL_ID") {
        Some(id) if !(2..=1224).contains(&id.len()) => Err(invalid(
            "EXTERNAL_ID",
            format!("it has {} characters", id.len()),
            "2 to 1224 characters (e.g. the output of `openssl rand -hex 16`)",
        )),
        Some(id)
            if !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+=,.@:/-_".contains(c)) =>
        {
            Err(invalid(
                "EXTERNAL_ID",
                "it has characters STS does not accept",
                "characters from [A-Za-z0-9+=,.@:/_-]",
            ))
        }
        other => Ok(other.map(Secret::new)),
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

pub(super) fn split_list(raw: Option<&str>) -> Vec<String> {
    raw.unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}
