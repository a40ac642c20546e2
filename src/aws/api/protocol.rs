//! From an operation and its input to an HTTP request, and from the HTTP answer to boto3's
//! parsed output or the service's error, for each protocol of
//! <https://smithy.io/2.0/aws/protocols/index.html> that AWS services speak:
//! `json` (awsJson 1.0/1.1), `rest-json`, `query`, `ec2` and `rest-xml`.

use super::model::{Operation, Protocol, Ref, ServiceModel, ShapeType};
use super::timestamp::{self, InputFormat};
use super::{json, query, rest, xml};
use reqwest::header::HeaderMap;
use serde_json::{Map, Value};

/// A request before signing: the path with its query string, headers and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: String,
    pub path_and_query: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// The error a service answered with, as boto3 reads it (`Error.Code`, `Error.Message`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireError {
    pub code: String,
    pub message: String,
    pub request_id: Option<String>,
}

/// The request for `op` with `input` (API member names, as boto3 takes them).
pub fn build_request(
    model: &ServiceModel,
    op: &Operation,
    input: &Value,
) -> Result<HttpRequest, String> {
    let empty = Map::new();
    let input = match input {
        Value::Object(obj) => obj,
        Value::Null => &empty,
        other => return Err(format!("the input must be a JSON object, got {other}")),
    };
    let shape = match &op.input {
        Some(i) => Some(model.shape(&i.shape)?),
        None if input.is_empty() => None,
        None => return Err(format!("{} takes no input", op.name)),
    };
    let meta = &model.metadata;
    match meta.protocol {
        Protocol::Json => {
            let body = match shape {
                Some(shape) => {
                    json::write_structure(model, shape, input, InputFormat::UnixTimestamp)?
                }
                None => Map::new(),
            };
            let target = meta.target_prefix.as_deref().unwrap_or_default();
            let version = meta.json_version.as_deref().unwrap_or("1.0");
            let mut headers = vec![
                ("x-amz-target".to_owned(), format!("{target}.{}", op.name)),
                (
                    "content-type".to_owned(),
                    format!("application/x-amz-json-{version}"),
                ),
            ];
            if meta.aws_query_compatible {
                headers.push(("x-amzn-query-mode".to_owned(), "true".to_owned()));
            }
            Ok(HttpRequest {
                method: "POST".to_owned(),
                path_and_query: "/".to_owned(),
                headers,
                body: Value::Object(body).to_string().into_bytes(),
            })
        }
        Protocol::Query | Protocol::Ec2 => {
            let mut params = vec![
                ("Action".to_owned(), op.name.clone()),
                ("Version".to_owned(), meta.api_version.clone()),
            ];
            if let Some(shape) = shape {
                let ec2 = meta.protocol == Protocol::Ec2;
                query::write_params(model, shape, input, ec2, &mut params)?;
            }
            let body = params
                .iter()
                .map(|(k, v)| format!("{}={}", rest::encode(k), rest::encode(v)))
                .collect::<Vec<_>>()
                .join("&");
            Ok(HttpRequest {
                method: "POST".to_owned(),
                path_and_query: "/".to_owned(),
                headers: vec![(
                    "content-type".to_owned(),
                    "application/x-www-form-urlencoded; charset=utf-8".to_owned(),
                )],
                body: body.into_bytes(),
            })
        }
        Protocol::RestJson | Protocol::RestXml => rest::build_request(model, op, shape, input),
    }
}

/// The parsed output of a successful answer (`{}` for operations without output).
pub fn read_output(
    model: &ServiceModel,
    op: &Operation,
    status: u16,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Value, String> {
    let Some(output) = &op.output else {
        return Ok(Value::Object(Map::new()));
    };
    let shape = model.shape(&output.shape)?;
    let text = std::str::from_utf8(body).map_err(|e| format!("the body is not UTF-8: {e}"))?;
    match model.metadata.protocol {
        Protocol::Json => json_body(text).map(|v| json::read_value(model, shape, v)),
        Protocol::RestJson => {
            let mut out = match &shape.payload {
                Some(name) => rest::read_payload(model, shape, name, text, |target, text| {
                    json_body(text).map(|v| json::read_value(model, target, v))
                })?,
                None => match json::read_value(model, shape, json_body(text)?) {
                    Value::Object(obj) => obj,
                    _ => Map::new(),
                },
            };
            rest::read_located(model, shape, status, headers, &mut out);
            Ok(Value::Object(out))
        }
        Protocol::RestXml => {
            let mut out = match &shape.payload {
                Some(name) => rest::read_payload(model, shape, name, text, |target, text| {
                    xml::read_document(model, target, text, None)
                })?,
                None => match xml::read_document(model, shape, text, None)? {
                    Value::Object(obj) => obj,
                    _ => Map::new(),
                },
            };
            rest::read_located(model, shape, status, headers, &mut out);
            Ok(Value::Object(out))
        }
        Protocol::Query | Protocol::Ec2 => {
            xml::read_document(model, shape, text, output.result_wrapper.as_deref())
        }
    }
}

/// The error of an unsuccessful answer.
pub fn read_error(
    model: &ServiceModel,
    status: u16,
    headers: &HeaderMap,
    body: &[u8],
) -> WireError {
    match model.metadata.protocol {
        Protocol::Json | Protocol::RestJson => {
            json::read_error(status, headers, body, model.metadata.aws_query_compatible)
        }
        Protocol::Query | Protocol::Ec2 | Protocol::RestXml => {
            xml::read_error(status, headers, body)
        }
    }
}

fn json_body(text: &str) -> Result<Value, String> {
    if text.trim().is_empty() {
        return Ok(Value::Object(Map::new()));
    }
    serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"))
}

/// A header's value as text, when present and readable.
pub fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// A scalar input as text (query parameters, URI labels, headers, XML): strings as given,
/// numbers and booleans in JSON form, timestamps in `default` unless the model says otherwise.
pub fn scalar_text(
    model: &ServiceModel,
    r: &Ref,
    value: &Value,
    default: InputFormat,
) -> Result<String, String> {
    let shape = model.target(r)?;
    let value = if shape.kind == ShapeType::Timestamp {
        let format = r.timestamp_format.as_deref();
        let format = InputFormat::from_trait(format.or(shape.timestamp_format.as_deref()), default);
        timestamp::to_input(value, format).ok_or_else(|| format!("{value} is not a timestamp"))?
    } else {
        value.clone()
    };
    match value {
        Value::String(s) => Ok(s),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(format!("{} expects a single value, got {other}", r.shape)),
    }
}
