//! JSON bodies, for the `json` (awsJson 1.0/1.1) and `rest-json` protocols: inputs written with
//! wire names, outputs read back as boto3 returns them, and the error code and message.
//!
//! Reading differs from boto3 on purpose in one way: keys the model does not know are kept as
//! they came, so fields AWS adds after our models were generated still reach the raw objects.

use super::model::{Ref, ServiceModel, Shape, ShapeType};
use super::protocol::{header, WireError};
use super::timestamp::{self, InputFormat};
use reqwest::header::HeaderMap;
use serde_json::{Map, Value};

/// The JSON body of a structure: the members the caller gave that travel in the body (members
/// bound to the URI, query string or headers are left to the caller), with wire names.
pub fn write_structure(
    model: &ServiceModel,
    shape: &Shape,
    input: &Map<String, Value>,
    timestamps: InputFormat,
) -> Result<Map<String, Value>, String> {
    let mut out = Map::new();
    for (name, value) in input {
        let r = shape
            .member(name)
            .ok_or_else(|| format!("unknown input member {name}"))?;
        if r.location.is_some() || value.is_null() {
            continue;
        }
        let wire = r.location_name.as_deref().unwrap_or(name);
        out.insert(wire.to_owned(), write_value(model, r, value, timestamps)?);
    }
    Ok(out)
}

/// One input value of the shape `r` points to.
pub fn write_value(
    model: &ServiceModel,
    r: &Ref,
    value: &Value,
    timestamps: InputFormat,
) -> Result<Value, String> {
    let shape = model.target(r)?;
    if shape.document {
        return Ok(value.clone());
    }
    match (shape.kind, value) {
        (ShapeType::Structure, Value::Object(obj)) => Ok(Value::Object(write_structure(
            model, shape, obj, timestamps,
        )?)),
        (ShapeType::List, Value::Array(items)) => {
            let member = list_member(shape)?;
            let items: Result<Vec<Value>, String> = items
                .iter()
                .map(|item| write_value(model, member, item, timestamps))
                .collect();
            Ok(Value::Array(items?))
        }
        (ShapeType::Map, Value::Object(obj)) => {
            let value_ref = shape.value.as_ref().ok_or("map shape without value")?;
            let mut out = Map::new();
            for (key, item) in obj {
                out.insert(
                    key.clone(),
                    write_value(model, value_ref, item, timestamps)?,
                );
            }
            Ok(Value::Object(out))
        }
        (ShapeType::Timestamp, v) => {
            let format = r.timestamp_format.as_deref();
            let format =
                InputFormat::from_trait(format.or(shape.timestamp_format.as_deref()), timestamps);
            timestamp::to_input(v, format).ok_or_else(|| format!("{v} is not a timestamp"))
        }
        (ShapeType::Structure | ShapeType::List | ShapeType::Map, v) => {
            Err(format!("{} expects a {:?}, got {v}", r.shape, shape.kind))
        }
        (_, v) => Ok(v.clone()),
    }
}

pub fn list_member(shape: &Shape) -> Result<&Ref, String> {
    shape
        .member
        .as_ref()
        .ok_or_else(|| "list shape without member".to_owned())
}

/// An output value read as boto3 returns it: members renamed from wire names to API names,
/// `null` members left out, timestamps as ISO-8601 millis; unknown keys kept unchanged.
pub fn read_value(model: &ServiceModel, shape: &Shape, value: Value) -> Value {
    if shape.document {
        return value;
    }
    match (shape.kind, value) {
        (ShapeType::Structure, Value::Object(obj)) => {
            let mut out = Map::with_capacity(obj.len());
            for (key, item) in obj {
                match member_by_wire_name(shape, &key) {
                    Some(_) if item.is_null() => {}
                    Some((name, r)) => {
                        let item = match model.target(r) {
                            Ok(target) => read_value(model, target, item),
                            Err(_) => item,
                        };
                        out.insert(name.clone(), item);
                    }
                    None => {
                        out.insert(key, item);
                    }
                }
            }
            Value::Object(out)
        }
        (ShapeType::List, Value::Array(items)) => {
            match shape.member.as_ref().map(|m| model.target(m)) {
                Some(Ok(member)) => Value::Array(
                    items
                        .into_iter()
                        .map(|item| read_value(model, member, item))
                        .collect(),
                ),
                _ => Value::Array(items),
            }
        }
        (ShapeType::Map, Value::Object(obj)) => {
            match shape.value.as_ref().map(|v| model.target(v)) {
                Some(Ok(value_shape)) => Value::Object(
                    obj.into_iter()
                        .map(|(k, v)| (k, read_value(model, value_shape, v)))
                        .collect(),
                ),
                _ => Value::Object(obj),
            }
        }
        (ShapeType::Timestamp, v) => timestamp::to_output(v),
        (_, v) => v,
    }
}

/// The member whose wire name (`locationName`, else its own name) is `key`.
fn member_by_wire_name<'a>(shape: &'a Shape, key: &str) -> Option<(&'a String, &'a Ref)> {
    if let Some((name, r)) = shape.members.get_key_value(key) {
        if r.location_name.as_deref().is_none_or(|wire| wire == key) {
            return Some((name, r));
        }
    }
    shape
        .members
        .iter()
        .find(|(_, r)| r.location_name.as_deref() == Some(key))
}

/// The error of a JSON protocol answer. The code comes from the `x-amzn-ErrorType` header, else
/// the body's `__type`, `code` or `Code`, with any `namespace#` prefix and `:detail` suffix
/// removed; a service that kept its query-protocol codes (`x-amzn-query-error: Code;Sender`)
/// reports that code, as boto3 does.
pub fn read_error(
    status: u16,
    headers: &HeaderMap,
    body: &[u8],
    query_compatible: bool,
) -> WireError {
    let body: Map<String, Value> = serde_json::from_slice(body).unwrap_or_default();
    let text = |key: &str| body.get(key).and_then(Value::as_str).map(str::to_owned);
    let raw_code = header(headers, "x-amzn-errortype")
        .or_else(|| text("__type"))
        .or_else(|| text("code"))
        .or_else(|| text("Code"))
        .unwrap_or_else(|| status.to_string());
    let mut code = raw_code.split(':').next().unwrap_or_default();
    code = code.rsplit('#').next().unwrap_or(code);
    let mut code = code.to_owned();
    if query_compatible {
        if let Some(query_code) = header(headers, "x-amzn-query-error")
            .and_then(|h| h.split_once(';').map(|(c, _)| c.to_owned()))
            .filter(|c| !c.is_empty())
        {
            code = query_code;
        }
    }
    WireError {
        code,
        message: text("message")
            .or_else(|| text("Message"))
            .unwrap_or_default(),
        request_id: header(headers, "x-amzn-requestid")
            .or_else(|| header(headers, "x-amz-request-id")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::api::model::service;
    use reqwest::header::HeaderValue;
    use serde_json::json;

    fn read(service_name: &str, shape: &str, wire: Value) -> Value {
        let model = service(service_name).unwrap();
        read_value(model, model.shape(shape).unwrap(), wire)
    }

    #[test]
    fn reads_json_1_0_timestamps_and_drops_null_members() {
        let out = read(
            "dynamodb",
            "DescribeTableOutput",
            json!({"Table": {
                "TableName": "t",
                "CreationDateTime": 1_710_491_400.5,
                "TableSizeBytes": 0,
                "LatestStreamArn": null,
                "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                "BrandNewField": {"Since": 1}
            }}),
        );
        assert_eq!(
            out,
            json!({"Table": {
                "TableName": "t",
                "CreationDateTime": "2024-03-15T08:30:00.500Z",
                "TableSizeBytes": 0,
                "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                "BrandNewField": {"Since": 1}
            }})
        );
    }

    #[test]
    fn renames_location_names_to_member_names() {
        // Kafka's rest-json model names members in PascalCase and the wire in camelCase.
        let out = read(
            "kafka",
            "ListClustersV2Response",
            json!({"clusterInfoList": [{"clusterName": "c", "creationTime": "2024-03-15T08:30:00.123456Z", "tags": {"a": "b"}}], "nextToken": "n"}),
        );
        assert_eq!(
            out,
            json!({"ClusterInfoList": [{"ClusterName": "c", "CreationTime": "2024-03-15T08:30:00.123Z", "Tags": {"a": "b"}}], "NextToken": "n"})
        );
    }

    #[test]
    fn writes_wire_names_and_epoch_timestamps_and_rejects_unknown_members() {
        let model = service("kafka").unwrap();
        let shape = model.shape("ListClustersV2Request").unwrap();
        let input = json!({"ClusterNameFilter": "x", "MaxResults": 5});
        // All of ListClustersV2's members are query-string members: nothing goes in the body.
        let body = write_structure(
            model,
            shape,
            input.as_object().unwrap(),
            InputFormat::UnixTimestamp,
        );
        assert_eq!(body.unwrap(), Map::new());
        let bad = json!({"ClusterNameFiltre": "x"});
        let err = write_structure(
            model,
            shape,
            bad.as_object().unwrap(),
            InputFormat::UnixTimestamp,
        );
        assert!(err.unwrap_err().contains("ClusterNameFiltre"));

        let ddb = service("dynamodb").unwrap();
        let query = ddb.shape("QueryInput").unwrap();
        let input = json!({"TableName": "t", "KeyConditionExpression": "pk = :v",
            "ExpressionAttributeValues": {":v": {"S": "a"}}, "Limit": 2});
        let body = write_structure(
            ddb,
            query,
            input.as_object().unwrap(),
            InputFormat::UnixTimestamp,
        );
        assert_eq!(Value::Object(body.unwrap()), input);
    }

    #[test]
    fn reads_error_codes_of_each_json_flavour() {
        let none = HeaderMap::new();
        let e = read_error(
            400,
            &none,
            br#"{"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException","message":"Requested resource not found"}"#,
            false,
        );
        assert_eq!(e.code, "ResourceNotFoundException");
        assert_eq!(e.message, "Requested resource not found");

        let mut headers = HeaderMap::new();
        headers.insert(
            "x-amzn-ErrorType",
            HeaderValue::from_static("ResourceNotFoundException:http://internal.amazon.com/"),
        );
        headers.insert("x-amzn-RequestId", HeaderValue::from_static("req-7"));
        let e = read_error(404, &headers, br#"{"Message":"Function not found"}"#, false);
        assert_eq!(
            (e.code.as_str(), e.message.as_str(), e.request_id.as_deref()),
            (
                "ResourceNotFoundException",
                "Function not found",
                Some("req-7")
            )
        );

        let mut sqs = HeaderMap::new();
        sqs.insert(
            "x-amzn-query-error",
            HeaderValue::from_static("AWS.SimpleQueueService.NonExistentQueue;Sender"),
        );
        let body = br#"{"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":"gone"}"#;
        assert_eq!(
            read_error(400, &sqs, body, true).code,
            "AWS.SimpleQueueService.NonExistentQueue"
        );
        assert_eq!(read_error(400, &sqs, body, false).code, "QueueDoesNotExist");

        let e = read_error(502, &none, b"<html>bad gateway</html>", false);
        assert_eq!((e.code.as_str(), e.message.as_str()), ("502", ""));
    }
}
