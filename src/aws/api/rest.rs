//! The HTTP binding of the REST protocols (`rest-json`, `rest-xml`): members bound to URI labels
//! (`{Name}`, greedy `{Name+}`), the query string and headers; the body is left to the JSON or
//! XML writer. On the way back, members bound to headers or to the status code.

use super::model::{Location, Operation, Protocol, Ref, ServiceModel, Shape, ShapeType};
use super::protocol::{header, scalar_text, HttpRequest};
use super::timestamp::{self, InputFormat};
use super::{json, xml};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use reqwest::header::HeaderMap;
use serde_json::{Map, Value};

/// Everything but RFC 3986's unreserved characters is percent-encoded.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');
/// Greedy labels keep their slashes.
const UNRESERVED_AND_SLASH: &AsciiSet = &UNRESERVED.remove(b'/');

/// Percent-encodes a query parameter name or value, or a URI label.
pub fn encode(text: &str) -> String {
    utf8_percent_encode(text, UNRESERVED).to_string()
}

pub fn build_request(
    model: &ServiceModel,
    op: &Operation,
    shape: Option<&Shape>,
    input: &Map<String, Value>,
) -> Result<HttpRequest, String> {
    let (mut path, mut query) = match op.http.request_uri.split_once('?') {
        Some((path, query)) => (path.to_owned(), vec![query.to_owned()]),
        None => (op.http.request_uri.clone(), Vec::new()),
    };
    let mut headers = Vec::new();
    if let Some(shape) = shape {
        for (name, value) in input {
            let r = shape
                .member(name)
                .ok_or_else(|| format!("unknown input member {name}"))?;
            if value.is_null() {
                continue;
            }
            let wire = r.location_name.as_deref().unwrap_or(name);
            match r.location {
                Some(Location::Uri) => {
                    let text = scalar_text(model, r, value, InputFormat::Iso8601)?;
                    path = fill_label(&path, wire, &text)?;
                }
                Some(Location::Querystring) => add_query(model, r, wire, value, &mut query)?,
                Some(Location::Header) => {
                    headers.push((wire.to_owned(), header_text(model, r, value)?))
                }
                Some(Location::Headers) => {
                    let Value::Object(map) = value else {
                        return Err(format!("{name} expects a map"));
                    };
                    for (key, v) in map {
                        let v = v
                            .as_str()
                            .ok_or_else(|| format!("{name} expects strings"))?;
                        headers.push((format!("{wire}{key}"), v.to_owned()));
                    }
                }
                Some(Location::StatusCode) | None => {}
            }
        }
    }
    if let Some(label) = path
        .split('{')
        .nth(1)
        .and_then(|rest| rest.split('}').next())
    {
        return Err(format!("the URI label {label} is missing from the input"));
    }
    let body = match (shape, model.metadata.protocol) {
        (Some(shape), Protocol::RestJson) => json_body(model, shape, input, &mut headers)?,
        (Some(shape), _) => xml::write_body(model, op, shape, input)?,
        (None, _) => Vec::new(),
    };
    let query = query.join("&");
    Ok(HttpRequest {
        method: op.http.method.clone(),
        path_and_query: if query.is_empty() {
            path
        } else {
            format!("{path}?{query}")
        },
        headers,
        body,
    })
}

/// Replaces `{wire}` or `{wire+}` in the path.
fn fill_label(path: &str, wire: &str, text: &str) -> Result<String, String> {
    if text.is_empty() {
        return Err(format!("the URI label {wire} is empty"));
    }
    let plain = format!("{{{wire}}}");
    let greedy = format!("{{{wire}+}}");
    if path.contains(&greedy) {
        let encoded = utf8_percent_encode(text, UNRESERVED_AND_SLASH).to_string();
        Ok(path.replace(&greedy, &encoded))
    } else {
        Ok(path.replace(&plain, &encode(text)))
    }
}

/// A query-string member: lists repeat the key, maps put each entry as its own key.
fn add_query(
    model: &ServiceModel,
    r: &Ref,
    wire: &str,
    value: &Value,
    query: &mut Vec<String>,
) -> Result<(), String> {
    let shape = model.target(r)?;
    let mut push = |key: &str, r: &Ref, v: &Value| -> Result<(), String> {
        let text = scalar_text(model, r, v, InputFormat::Iso8601)?;
        query.push(format!("{}={}", encode(key), encode(&text)));
        Ok(())
    };
    match (shape.kind, value) {
        (ShapeType::List, Value::Array(items)) => {
            let member = json::list_member(shape)?;
            items.iter().try_for_each(|item| push(wire, member, item))
        }
        (ShapeType::Map, Value::Object(map)) => {
            let value_ref = shape.value.as_ref().ok_or("map shape without value")?;
            let value_shape = model.target(value_ref)?;
            for (key, v) in map {
                match (value_shape.kind, v) {
                    (ShapeType::List, Value::Array(items)) => {
                        let member = json::list_member(value_shape)?;
                        items.iter().try_for_each(|item| push(key, member, item))?;
                    }
                    _ => push(key, value_ref, v)?,
                }
            }
            Ok(())
        }
        _ => push(wire, r, value),
    }
}

/// A header member: timestamps as HTTP dates, lists comma-joined, JSON values base64-encoded.
fn header_text(model: &ServiceModel, r: &Ref, value: &Value) -> Result<String, String> {
    let shape = model.target(r)?;
    if r.jsonvalue || shape.jsonvalue {
        return Ok(aws_smithy_types::base64::encode(value.to_string()));
    }
    match (shape.kind, value) {
        (ShapeType::List, Value::Array(items)) => {
            let member = json::list_member(shape)?;
            let texts: Result<Vec<String>, String> = items
                .iter()
                .map(|item| scalar_text(model, member, item, InputFormat::Rfc822))
                .collect();
            Ok(texts?.join(","))
        }
        _ => scalar_text(model, r, value, InputFormat::Rfc822),
    }
}

/// The rest-json body: the payload member alone when the model names one, else the body members
/// as a JSON object (`{}` when the shape has body members but none were given).
fn json_body(
    model: &ServiceModel,
    shape: &Shape,
    input: &Map<String, Value>,
    headers: &mut Vec<(String, String)>,
) -> Result<Vec<u8>, String> {
    let body = if let Some(payload) = &shape.payload {
        let r = shape.member(payload).ok_or("payload member missing")?;
        match input.get(payload) {
            None | Some(Value::Null) => return Ok(Vec::new()),
            Some(Value::String(raw)) => return Ok(raw.clone().into_bytes()),
            Some(v) => json::write_value(model, r, v, InputFormat::UnixTimestamp)?,
        }
    } else if shape.members.values().any(|r| r.location.is_none()) {
        Value::Object(json::write_structure(
            model,
            shape,
            input,
            InputFormat::UnixTimestamp,
        )?)
    } else {
        return Ok(Vec::new());
    };
    headers.push(("content-type".to_owned(), "application/json".to_owned()));
    Ok(body.to_string().into_bytes())
}

/// The output's payload member, read from the whole body; a string or blob payload is the body
/// itself.
pub fn read_payload(
    model: &ServiceModel,
    shape: &Shape,
    payload: &str,
    text: &str,
    read: impl Fn(&Shape, &str) -> Result<Value, String>,
) -> Result<Map<String, Value>, String> {
    let mut out = Map::new();
    let r = shape.member(payload).ok_or("payload member missing")?;
    let target = model.target(r)?;
    let value = match target.kind {
        ShapeType::String | ShapeType::Blob => Value::String(text.to_owned()),
        _ if text.trim().is_empty() => return Ok(out),
        _ => read(target, text)?,
    };
    out.insert(payload.to_owned(), value);
    Ok(out)
}

/// Output members bound to headers, a header prefix or the HTTP status code.
pub fn read_located(
    model: &ServiceModel,
    shape: &Shape,
    status: u16,
    headers: &HeaderMap,
    out: &mut Map<String, Value>,
) {
    for (name, r) in &shape.members {
        let wire = r.location_name.as_deref().unwrap_or(name);
        let Ok(target) = model.target(r) else {
            continue;
        };
        let value = match r.location {
            Some(Location::StatusCode) => Some(Value::from(status)),
            Some(Location::Header) => {
                header(headers, wire).map(|text| header_value(target, r, &text))
            }
            Some(Location::Headers) => {
                let prefix = wire.to_ascii_lowercase();
                let map: Map<String, Value> = headers
                    .iter()
                    .filter_map(|(k, v)| {
                        let key = k.as_str().strip_prefix(&prefix)?;
                        Some((key.to_owned(), Value::String(v.to_str().ok()?.to_owned())))
                    })
                    .collect();
                (!map.is_empty()).then_some(Value::Object(map))
            }
            Some(Location::Uri | Location::Querystring) | None => None,
        };
        if let Some(value) = value {
            out.insert(name.clone(), value);
        }
    }
}

fn header_value(shape: &Shape, r: &Ref, text: &str) -> Value {
    if r.jsonvalue || shape.jsonvalue {
        let decoded = aws_smithy_types::base64::decode(text).ok();
        if let Some(v) = decoded.and_then(|bytes| serde_json::from_slice(&bytes).ok()) {
            return v;
        }
    }
    match shape.kind {
        ShapeType::Integer | ShapeType::Long => text.trim().parse::<i64>().map(Value::from).ok(),
        ShapeType::Float | ShapeType::Double => text.trim().parse::<f64>().ok().map(Value::from),
        ShapeType::Boolean => Some(Value::Bool(text.trim() == "true")),
        ShapeType::Timestamp => {
            timestamp::parse_str(text).map(|t| Value::String(timestamp::iso8601_millis(&t)))
        }
        ShapeType::List => Some(Value::Array(
            text.split(',')
                .map(|s| Value::String(s.trim().to_owned()))
                .collect(),
        )),
        _ => None,
    }
    .unwrap_or_else(|| Value::String(text.to_owned()))
}

#[cfg(test)]
mod tests {
    use crate::aws::api::model::{service, ServiceModel};
    use crate::aws::api::protocol::{build_request, read_output};
    use reqwest::header::{HeaderMap, HeaderValue};
    use serde_json::json;

    #[test]
    fn fills_uri_labels_percent_encoded() {
        let lambda = service("lambda").unwrap();
        let op = lambda.operation("lambda", "GetFunction").unwrap();
        let arn = "arn:aws:lambda:eu-west-1:123456789012:function:my fn";
        let req = build_request(
            lambda,
            op,
            &json!({"FunctionName": arn, "Qualifier": "$LATEST"}),
        )
        .unwrap();
        assert_eq!(req.method, "GET");
        assert_eq!(
            req.path_and_query,
            "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aeu-west-1%3A123456789012%3Afunction%3Amy%20fn?Qualifier=%24LATEST"
        );
        assert!(req.body.is_empty());
        let err = build_request(lambda, op, &json!({})).unwrap_err();
        assert!(err.contains("FunctionName"), "{err}");
    }

    #[test]
    fn puts_querystring_members_and_repeats_list_keys() {
        let eks = service("eks").unwrap();
        let op = eks.operation("eks", "ListClusters").unwrap();
        let req = build_request(
            eks,
            op,
            &json!({"maxResults": 10, "include": ["all", "a b"]}),
        )
        .unwrap();
        assert_eq!(
            req.path_and_query,
            "/clusters?maxResults=10&include=all&include=a%20b"
        );
    }

    #[test]
    fn reads_rest_json_outputs_with_timestamps() {
        let eks = service("eks").unwrap();
        let op = eks.operation("eks", "DescribeCluster").unwrap();
        let body = br#"{"cluster":{"name":"c","arn":"arn:aws:eks:eu-west-1:1:cluster/c","createdAt":1710491400.123,"tags":{"k":"v"},"status":"ACTIVE"}}"#;
        let out = read_output(eks, op, 200, &HeaderMap::new(), body).unwrap();
        assert_eq!(
            out,
            json!({"cluster": {"name": "c", "arn": "arn:aws:eks:eu-west-1:1:cluster/c",
                "createdAt": "2024-03-15T08:30:00.123Z", "tags": {"k": "v"}, "status": "ACTIVE"}})
        );
    }

    /// A made-up rest-json service with header, status-code and payload members (none of the
    /// seeded operations has them yet).
    fn synthetic() -> ServiceModel {
        serde_json::from_value(json!({
            "metadata": {"protocol": "rest-json", "apiVersion": "2020-01-01", "endpointPrefix": "x",
                "signingName": "x", "serviceId": "X"},
            "operations": {"GetThing": {"name": "GetThing",
                "http": {"method": "PUT", "requestUri": "/things/{Key+}?tagging"},
                "input": {"shape": "In"}, "output": {"shape": "Out"}}},
            "shapes": {
                "In": {"type": "structure", "payload": "Doc", "members": {
                    "Key": {"shape": "S", "location": "uri", "locationName": "Key"},
                    "Since": {"shape": "T", "location": "header", "locationName": "X-Since"},
                    "Meta": {"shape": "M", "location": "headers", "locationName": "x-meta-"},
                    "Doc": {"shape": "Doc"}}},
                "Out": {"type": "structure", "payload": "Doc", "members": {
                    "Status": {"shape": "I", "location": "statusCode"},
                    "Count": {"shape": "I", "location": "header", "locationName": "X-Count"},
                    "Seen": {"shape": "T", "location": "header", "locationName": "X-Seen"},
                    "Doc": {"shape": "Doc"}}},
                "Doc": {"type": "structure", "members": {"At": {"shape": "T", "locationName": "at"}}},
                "M": {"type": "map", "key": {"shape": "S"}, "value": {"shape": "S"}},
                "S": {"type": "string"}, "I": {"type": "integer"}, "T": {"type": "timestamp"}
            }
        }))
        .unwrap()
    }

    #[test]
    fn binds_headers_greedy_labels_and_a_payload() {
        let model = synthetic();
        let op = model.operation("x", "GetThing").unwrap();
        let input = json!({"Key": "a b/c.txt", "Since": "2024-03-15T08:30:00Z",
            "Meta": {"owner": "me"}, "Doc": {"At": 1710491400}});
        let req = build_request(&model, op, &input).unwrap();
        assert_eq!(req.path_and_query, "/things/a%20b/c.txt?tagging");
        assert_eq!(
            req.headers,
            vec![
                (
                    "X-Since".to_owned(),
                    "Fri, 15 Mar 2024 08:30:00 GMT".to_owned()
                ),
                ("x-meta-owner".to_owned(), "me".to_owned()),
                ("content-type".to_owned(), "application/json".to_owned()),
            ]
        );
        assert_eq!(String::from_utf8(req.body).unwrap(), r#"{"at":1710491400}"#);

        let mut headers = HeaderMap::new();
        headers.insert("x-count", HeaderValue::from_static("7"));
        headers.insert(
            "x-seen",
            HeaderValue::from_static("Fri, 15 Mar 2024 08:30:00 GMT"),
        );
        let out = read_output(
            &model,
            op,
            201,
            &headers,
            br#"{"at":"2024-03-15T08:30:00Z"}"#,
        )
        .unwrap();
        assert_eq!(
            out,
            json!({"Doc": {"At": "2024-03-15T08:30:00.000Z"}, "Status": 201, "Count": 7,
                "Seen": "2024-03-15T08:30:00.000Z"})
        );
    }

    #[test]
    fn writes_rest_xml_bodies_with_the_operation_root_and_namespace() {
        let r53 = service("route53").unwrap();
        let op = r53.operation("route53", "ListTagsForResources").unwrap();
        let req = build_request(
            r53,
            op,
            &json!({"ResourceType": "hostedzone", "ResourceIds": ["Z1", "Z<2>"]}),
        )
        .unwrap();
        assert_eq!(
            (req.method.as_str(), req.path_and_query.as_str()),
            ("POST", "/2013-04-01/tags/hostedzone")
        );
        assert_eq!(
            String::from_utf8(req.body).unwrap(),
            r#"<ListTagsForResourcesRequest xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><ResourceIds><ResourceId>Z1</ResourceId><ResourceId>Z&lt;2&gt;</ResourceId></ResourceIds></ListTagsForResourcesRequest>"#
        );
        let list = r53.operation("route53", "ListHostedZones").unwrap();
        let req = build_request(r53, list, &json!({"MaxItems": "2", "Marker": "Z/1"})).unwrap();
        assert_eq!(
            req.path_and_query,
            "/2013-04-01/hostedzone?maxitems=2&marker=Z%2F1"
        );
        assert!(req.body.is_empty());
    }
}
