//! [`DynamoStore`]: the DynamoDB backend's handle (client, table, options), its error mapping,
//! and [`create_table`] for the table's one-time set-up.

use super::items;
use crate::aws::api::{ApiError, ServiceClient};
use crate::state::error::StateError;
use crate::state::store::StoreOptions;
use futures_util::StreamExt;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

/// The DynamoDB backend: one table shared by every installation, CLI and Lambdas alike.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    pub(super) client: ServiceClient,
    pub(super) table: Arc<str>,
    pub(super) options: StoreOptions,
}

impl DynamoStore {
    /// A store over `table` through `client` (a `dynamodb` client of [`crate::aws::api::AwsApi`]).
    pub fn new(client: ServiceClient, table: impl Into<String>, options: StoreOptions) -> Self {
        DynamoStore {
            client,
            table: Arc::from(table.into()),
            options,
        }
    }

    /// The table's name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Where this store keeps state, for messages.
    pub fn location(&self) -> String {
        format!("DynamoDB table {}", self.table)
    }

    /// One call; a failure becomes [`StateError::Dynamo`] naming `action`.
    pub(super) async fn call(
        &self,
        operation: &str,
        input: Value,
        action: &(dyn Fn() -> String + Sync),
    ) -> Result<Value, StateError> {
        self.client
            .call(operation, input)
            .await
            .map_err(|source| self.error(action(), source))
    }

    pub(super) fn error(&self, action: String, source: ApiError) -> StateError {
        StateError::Dynamo {
            action,
            table: self.table.to_string(),
            source: Box::new(source),
        }
    }

    pub(super) fn corrupt(&self, action: String, message: String) -> StateError {
        StateError::Corrupt {
            action,
            location: self.location(),
            message,
        }
    }

    /// Every item of a partition whose sort key begins with `prefix`, with consistent reads,
    /// following `LastEvaluatedKey`.
    pub(super) async fn query_all(
        &self,
        pk: &str,
        prefix: Option<&str>,
        action: &(dyn Fn() -> String + Sync),
    ) -> Result<Vec<Value>, StateError> {
        let mut input = json!({
            "TableName": &*self.table,
            "ConsistentRead": true,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": { ":pk": items::s(pk) },
        });
        if let Some(prefix) = prefix {
            input["KeyConditionExpression"] = json!("pk = :pk AND begins_with(sk, :prefix)");
            input["ExpressionAttributeValues"][":prefix"] = items::s(prefix);
        }
        if let Some(limit) = self.options.page_size {
            input["Limit"] = json!(limit);
        }
        let mut pages = std::pin::pin!(self.client.pages("Query", input));
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|source| self.error(action(), source))?;
            if let Some(Value::Array(found)) = page.get("Items") {
                out.extend(found.iter().cloned());
            }
        }
        Ok(out)
    }

    /// One item by key, read consistently.
    pub(super) async fn get(
        &self,
        pk: &str,
        sk: &str,
        action: &(dyn Fn() -> String + Sync),
    ) -> Result<Option<Value>, StateError> {
        let input = json!({
            "TableName": &*self.table,
            "Key": items::key(pk, sk),
            "ConsistentRead": true,
        });
        let out = self.call("GetItem", input, action).await?;
        Ok(out.get("Item").filter(|i| i.is_object()).cloned())
    }
}

/// Whether an error is DynamoDB's answer to a failed condition.
pub(super) fn is_condition_failed(err: &ApiError) -> bool {
    err.code() == Some("ConditionalCheckFailedException")
}

/// Creates the state table as the Lambdas' stack does: `pk`/`sk` string keys, on-demand
/// billing, encryption at rest, TTL on the `ttl` attribute; waits until it is active. For tests
/// and for a CLI user who names a table that does not exist yet.
pub async fn create_table(client: &ServiceClient, table: &str) -> Result<(), StateError> {
    let action = || format!("create the state table {table}");
    let fail = |source| StateError::Dynamo {
        action: action(),
        table: table.to_owned(),
        source: Box::new(source),
    };
    let key = |name: &str, kind: &str| json!({"AttributeName": name, "KeyType": kind});
    let input = json!({
        "TableName": table,
        "AttributeDefinitions": [
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        "KeySchema": [key("pk", "HASH"), key("sk", "RANGE")],
        "BillingMode": "PAY_PER_REQUEST",
        "SSESpecification": {"Enabled": true},
    });
    client.call("CreateTable", input).await.map_err(fail)?;
    for _ in 0..120 {
        let out = client
            .call("DescribeTable", json!({"TableName": table}))
            .await
            .map_err(fail)?;
        if out["Table"]["TableStatus"] == "ACTIVE" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let ttl = json!({
        "TableName": table,
        "TimeToLiveSpecification": {"Enabled": true, "AttributeName": "ttl"},
    });
    client.call("UpdateTimeToLive", ttl).await.map_err(fail)?;
    Ok(())
}
