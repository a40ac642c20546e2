//! `AWS::Account::Info`: one object per account, from what discovery already knows (no API call).
//! Organizations mode adds Email, Arn, State and JoinedTimestamp.

use super::{
    raw_object, FetchContext, FetchError, FetchStats, Kind, KindScope, KindSpec, PageSender,
};
use crate::discovery::Account;
use serde_json::{Map, Value};

/// The kind's registry entry.
pub static SPEC: KindSpec = KindSpec {
    name: "AWS::Account::Info",
    slug: "account-info",
    scope: KindScope::Account,
    identity: &["Id", "Name"],
    fetch: |ctx, pages| Box::pin(fetch(ctx, pages)),
    ..KindSpec::NATIVE
};

/// Sends the account's one object.
pub async fn fetch(ctx: &FetchContext<'_>, pages: &PageSender) -> Result<FetchStats, FetchError> {
    ctx.send(pages, vec![account_to_raw(ctx.account)]).await?;
    Ok(ctx.stats())
}

/// The raw object of an account.
pub fn account_to_raw(account: &Account) -> Value {
    let mut props = Map::new();
    props.insert("Id".into(), Value::String(account.id.clone()));
    let optional = [
        ("Name", &account.name),
        ("Email", &account.email),
        ("Arn", &account.arn),
        ("State", &account.state),
        ("JoinedTimestamp", &account.joined_timestamp),
    ];
    for (key, value) in optional {
        if let Some(v) = value {
            props.insert(key.into(), Value::String(v.clone()));
        }
    }
    let mut extra = Map::new();
    extra.insert("AccountId".into(), Value::String(account.id.clone()));
    extra.insert("Partition".into(), Value::String(account.partition.clone()));
    raw_object(Kind::AccountInfo, Value::Object(props), extra)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn organization_fields_appear_only_when_known() {
        let mut account = Account::bare("123456789012", "aws", None);
        assert_eq!(
            account_to_raw(&account),
            json!({"Type": "AWS::Account::Info", "Properties": {"Id": "123456789012"},
                   "__ExtraContext": {"AccountId": "123456789012", "Partition": "aws"}})
        );
        account.name = Some("prod".into());
        account.state = Some("ACTIVE".into());
        let raw = account_to_raw(&account);
        assert_eq!(
            raw["Properties"],
            json!({"Id": "123456789012", "Name": "prod", "State": "ACTIVE"})
        );
    }
}
