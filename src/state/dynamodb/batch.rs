//! BatchWriteItem in chunks of 25 (DynamoDB's limit), a few chunks at a time, retrying the
//! items DynamoDB returns as `UnprocessedItems` with exponential backoff
//! (<https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchWriteItem.html>).

use super::client::DynamoStore;
use crate::aws::api::retry::backoff;
use crate::state::error::StateError;
use futures_util::{StreamExt, TryStreamExt};
use serde_json::{json, Value};

/// DynamoDB's maximum of requests per BatchWriteItem.
pub const BATCH_LIMIT: usize = 25;

impl DynamoStore {
    /// Writes `requests` (`{"PutRequest": ..}` / `{"DeleteRequest": ..}`, one per key). Each
    /// request is applied on its own: on failure some chunks may be written and others not.
    pub(super) async fn write_batches(
        &self,
        requests: Vec<Value>,
        action: &(dyn Fn() -> String + Sync),
    ) -> Result<(), StateError> {
        let mut chunks = Vec::new();
        let mut rest = requests;
        while !rest.is_empty() {
            let tail = rest.split_off(rest.len().min(BATCH_LIMIT));
            chunks.push(std::mem::replace(&mut rest, tail));
        }
        futures_util::stream::iter(chunks)
            .map(|chunk| self.write_chunk(chunk, action))
            .buffer_unordered(self.options.batch_concurrency.max(1))
            .try_collect::<Vec<()>>()
            .await?;
        Ok(())
    }

    async fn write_chunk(
        &self,
        mut chunk: Vec<Value>,
        action: &(dyn Fn() -> String + Sync),
    ) -> Result<(), StateError> {
        let attempts = self.options.batch_attempts.max(1);
        for attempt in 1..=attempts {
            let input = json!({ "RequestItems": { &*self.table: chunk } });
            let out = self.call("BatchWriteItem", input, &action).await?;
            chunk = unprocessed(&out, &self.table);
            if chunk.is_empty() {
                return Ok(());
            }
            if attempt < attempts {
                let wait = backoff(attempt, self.options.backoff_base, self.options.backoff_cap);
                tokio::time::sleep(wait).await;
            }
        }
        Err(StateError::Unprocessed {
            action: action(),
            table: self.table.to_string(),
            remaining: chunk.len(),
            attempts,
        })
    }
}

/// The requests of `table` a BatchWriteItem answer left unprocessed.
pub fn unprocessed(output: &Value, table: &str) -> Vec<Value> {
    output["UnprocessedItems"][table]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// A put request.
pub fn put(item: Value) -> Value {
    json!({ "PutRequest": { "Item": item } })
}

/// A delete request.
pub fn delete(key: Value) -> Value {
    json!({ "DeleteRequest": { "Key": key } })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_unprocessed_items_of_the_table_only() {
        let out = json!({"UnprocessedItems": {
            "state": [put(json!({"pk": {"S": "a"}}))],
            "other": [put(json!({"pk": {"S": "b"}}))],
        }});
        assert_eq!(unprocessed(&out, "state").len(), 1);
        assert!(unprocessed(&json!({"UnprocessedItems": {}}), "state").is_empty());
        assert!(unprocessed(&json!({}), "state").is_empty());
    }
}
