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

/// `requests` in chunks of [`BATCH_LIMIT`], each made when it is asked for: a scope's records
/// become request items only a few chunks at a time, not all at once.
fn chunks<I: IntoIterator<Item = Value>>(requests: I) -> impl Iterator<Item = Vec<Value>> {
    let mut requests = requests.into_iter();
    std::iter::from_fn(move || {
        let chunk: Vec<Value> = requests.by_ref().take(BATCH_LIMIT).collect();
        (!chunk.is_empty()).then_some(chunk)
    })
}

impl DynamoStore {
    /// Writes `requests` (`{"PutRequest": ..}` / `{"DeleteRequest": ..}`, one per key). Each
    /// request is applied on its own: on failure some chunks may be written and others not.
    pub(super) async fn write_batches(
        &self,
        requests: impl IntoIterator<Item = Value, IntoIter: Send>,
        action: &(dyn Fn() -> String + Sync),
    ) -> Result<(), StateError> {
        futures_util::stream::iter(chunks(requests))
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
    fn chunks_of_25_are_made_only_when_asked_for() {
        let made = std::cell::Cell::new(0);
        let requests = (0..60).map(|i| {
            made.set(made.get() + 1);
            put(json!({"pk": {"S": i.to_string()}}))
        });
        let mut chunks = chunks(requests);
        assert_eq!(made.get(), 0, "nothing made before the first chunk");
        assert_eq!(chunks.next().map(|c| c.len()), Some(BATCH_LIMIT));
        assert_eq!(made.get(), BATCH_LIMIT, "one chunk made at a time");
        let rest: Vec<usize> = chunks.map(|c| c.len()).collect();
        assert_eq!(rest, [25, 10]);
        assert_eq!(made.get(), 60);
        assert_eq!(super::chunks(Vec::new()).count(), 0);
    }

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
