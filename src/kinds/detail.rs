//! Per-item calls of list-then-describe kinds (a queue's attributes, a table's description, a
//! resource's tags), with the two answers that are not failures of the unit:
//! - the item was deleted between the listing and the call (`QueueDoesNotExist`,
//!   `ResourceNotFoundException`, `NotFound`, ...): it is gone, and is left out;
//! - the role may not make an optional call (`AccessDenied`, `AuthorizationError`): the field is
//!   left out and a warning recorded, so the unit upserts what it has and deletes nothing.
//!
//! Results are kept with their item (never merged by list position, which shifts every later
//! item's data when one call is skipped, as aws-v3 does).

use super::{FetchContext, FetchError};
use crate::aws::api::error::{is_access_denied_code, is_not_found_code};
use serde_json::Value;

/// The error's service code, when AWS answered with one.
pub fn code(err: &FetchError) -> Option<&str> {
    match err {
        FetchError::Aws { code, .. } => code.as_deref(),
        _ => None,
    }
}

/// Whether `err` says the item does not exist (any more).
pub fn is_gone(err: &FetchError) -> bool {
    code(err).is_some_and(is_not_found_code)
}

/// A call about one listed item; `None` when the item was deleted since it was listed.
pub async fn about(
    ctx: &FetchContext<'_>,
    operation: &'static str,
    input: Value,
    item: &str,
) -> Result<Option<Value>, FetchError> {
    match ctx.call(operation, input).await {
        Ok(answer) => Ok(Some(answer)),
        Err(e) if is_gone(&e) => {
            tracing::debug!(region = ctx.region, item, operation, "deleted since listed");
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// An optional call about one item (`includeActions`): `None` when the item is gone or the role
/// may not make the call (then with a warning naming the item and the call).
pub async fn optional(
    ctx: &FetchContext<'_>,
    operation: &'static str,
    input: Value,
    item: &str,
) -> Result<Option<Value>, FetchError> {
    match about(ctx, operation, input, item).await {
        Err(e) if code(&e).is_some_and(is_access_denied_code) => {
            let code = code(&e).unwrap_or_default();
            ctx.warn(format!("{item}: {operation} failed with {code}"));
            Ok(None)
        }
        other => other,
    }
}

/// A kind's optional per-item tags call (`includeActions`).
pub struct TagsCall {
    /// aws-v3's name of the optional action.
    pub action: &'static str,
    /// The call.
    pub operation: &'static str,
    /// The input field naming the item (`ResourceArn`, `QueueUrl`, ...).
    pub input: &'static str,
}

impl TagsCall {
    /// The call's answer about `item` (its ARN or URL) when the mapping wants the action; `None`
    /// when it does not, when there is no item, or as [`optional`] (the item is gone, or the role
    /// may not read its tags).
    pub async fn about(
        &self,
        ctx: &FetchContext<'_>,
        item: Option<&str>,
    ) -> Result<Option<Value>, FetchError> {
        let Some(item) = item.filter(|_| ctx.wants(self.action)) else {
            return Ok(None);
        };
        let mut input = serde_json::Map::new();
        input.insert(self.input.into(), Value::String(item.to_owned()));
        optional(ctx, self.operation, Value::Object(input), item).await
    }
}

/// `answer[key]`, or `empty` when the answer has none (an item without tags).
pub fn field_or(answer: &Value, key: &str, empty: Value) -> Value {
    answer.get(key).cloned().unwrap_or(empty)
}

/// A described item (an object) as it is, with `tags` under `key` when they were fetched.
pub fn with_tags(item: &Value, key: &str, tags: Option<Value>) -> Value {
    let mut map = item.as_object().cloned().unwrap_or_default();
    if let Some(tags) = tags {
        map.insert(key.into(), tags);
    }
    Value::Object(map)
}

/// The strings of `value[key]` (list answers such as `QueueUrls`, `TableNames`).
pub fn strings(value: &Value, key: &str) -> Vec<String> {
    value[key]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_owned))
        .collect()
}

/// The objects of `value[key]` (`Topics`, `DBInstances`, ...).
pub fn objects<'v>(value: &'v Value, key: &str) -> &'v [Value] {
    value
        .get(key)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// The list `key` of an answer, moved out of it (empty when absent or not a list): for an answer
/// that is not needed afterwards, instead of copying [`objects`].
pub fn take_objects(mut value: Value, key: &str) -> Vec<Value> {
    match value.get_mut(key).map(Value::take) {
        Some(Value::Array(items)) => items,
        _ => Vec::new(),
    }
}

/// A string-valued attribute map (SQS `GetQueueAttributes`, SNS `GetTopicAttributes`) with the
/// attributes aws-v3 types as integers and booleans converted; any other attribute, and a value
/// that does not parse, stays the string AWS sent (a new attribute appears without a code change).
pub fn typed_attributes(
    attributes: &Value,
    integers: &[&str],
    booleans: &[&str],
) -> serde_json::Map<String, Value> {
    let typed = |key: &str, text: &str| -> Option<Value> {
        if integers.contains(&key) {
            return text.parse::<i64>().ok().map(Value::from);
        }
        if booleans.contains(&key) {
            return text.parse::<bool>().ok().map(Value::Bool);
        }
        None
    };
    let mut map = serde_json::Map::new();
    for (key, value) in attributes.as_object().into_iter().flatten() {
        let value = match value.as_str().and_then(|text| typed(key, text)) {
            Some(typed) => typed,
            None => value.clone(),
        };
        map.insert(key.clone(), value);
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn take_objects_moves_the_list_out_and_gives_nothing_for_anything_else() {
        let page = json!({"Items": [{"a": 1}, {"b": 2}], "NextToken": "t"});
        assert_eq!(
            take_objects(page, "Items"),
            [json!({"a": 1}), json!({"b": 2})]
        );
        assert!(take_objects(json!({"Items": "x"}), "Items").is_empty());
        assert!(take_objects(json!({}), "Items").is_empty());
        assert!(take_objects(json!(null), "Items").is_empty());
    }

    fn aws(code: &str) -> FetchError {
        FetchError::Aws {
            operation: "GetQueueAttributes",
            message: "no".into(),
            code: Some(code.into()),
        }
    }

    #[test]
    fn deleted_items_are_gone_other_errors_are_not() {
        assert!(is_gone(&aws("AWS.SimpleQueueService.NonExistentQueue")));
        assert!(is_gone(&aws("QueueDoesNotExist")));
        assert!(is_gone(&aws("ResourceNotFoundException")));
        assert!(is_gone(&aws("NotFound")));
        assert!(is_gone(&aws("CacheClusterNotFound")));
        assert!(!is_gone(&aws("AccessDenied")));
        assert!(!is_gone(&aws("ThrottlingException")));
        assert!(!is_gone(&FetchError::Cancelled));
    }

    #[test]
    fn list_answers_are_read_leniently() {
        let page = json!({"QueueUrls": ["a", 1, "b"], "Topics": [{"TopicArn": "t"}]});
        assert_eq!(strings(&page, "QueueUrls"), ["a", "b"]);
        assert!(strings(&page, "Missing").is_empty());
        assert_eq!(objects(&page, "Topics").len(), 1);
        assert!(objects(&page, "QueueUrls.x").is_empty());
    }

    #[test]
    fn attributes_aws_v3_types_are_converted_others_kept() {
        let attributes = json!({
            "DelaySeconds": "5", "FifoQueue": "true", "Policy": "{}",
            "VisibilityTimeout": "soon", "NewAttribute": "42"
        });
        let typed = typed_attributes(
            &attributes,
            &["DelaySeconds", "VisibilityTimeout"],
            &["FifoQueue"],
        );
        assert_eq!(
            Value::Object(typed),
            json!({
                "DelaySeconds": 5, "FifoQueue": true, "Policy": "{}",
                "VisibilityTimeout": "soon", "NewAttribute": "42"
            })
        );
    }
}
