//! Request parameters of the `query` and `ec2` protocols: the input flattened into
//! `Name=value` pairs with dotted paths
//! (<https://smithy.io/2.0/aws/protocols/aws-query-protocol.html>,
//! <https://smithy.io/2.0/aws/protocols/aws-ec2-query-protocol.html>).
//!
//! - query: a member's name is its `locationName` or its own name; lists are
//!   `Name.member.N` (`Name.N` when flattened, `member` replaced by the list member's
//!   `locationName`), maps `Name.entry.N.key` / `.value`; an empty list is sent as `Name=`.
//! - ec2: a member's name is its `queryName`, else its `locationName` capitalised, else its own
//!   name; lists are always `Name.N`, and empty lists are not sent.

use super::model::{Ref, ServiceModel, Shape, ShapeType};
use super::protocol::scalar_text;
use super::timestamp::InputFormat;
use serde_json::{Map, Value};

/// Appends the parameters of `input` (a structure of shape `shape`) to `out`.
pub fn write_params(
    model: &ServiceModel,
    shape: &Shape,
    input: &Map<String, Value>,
    ec2: bool,
    out: &mut Vec<(String, String)>,
) -> Result<(), String> {
    write_structure(model, shape, input, "", ec2, out)
}

fn write_structure(
    model: &ServiceModel,
    shape: &Shape,
    input: &Map<String, Value>,
    prefix: &str,
    ec2: bool,
    out: &mut Vec<(String, String)>,
) -> Result<(), String> {
    for (name, value) in input {
        let r = shape
            .member(name)
            .ok_or_else(|| format!("unknown input member {name}"))?;
        if value.is_null() {
            continue;
        }
        let key = member_name(r, name, ec2);
        let path = if prefix.is_empty() {
            key
        } else {
            format!("{prefix}.{key}")
        };
        write_value(model, r, value, &path, ec2, out)?;
    }
    Ok(())
}

fn member_name(r: &Ref, name: &str, ec2: bool) -> String {
    if !ec2 {
        return r.location_name.clone().unwrap_or_else(|| name.to_owned());
    }
    if let Some(query_name) = &r.query_name {
        return query_name.clone();
    }
    match &r.location_name {
        Some(loc) => {
            let mut chars = loc.chars();
            chars
                .next()
                .map(|first| first.to_uppercase().chain(chars).collect())
                .unwrap_or_default()
        }
        None => name.to_owned(),
    }
}

fn write_value(
    model: &ServiceModel,
    r: &Ref,
    value: &Value,
    path: &str,
    ec2: bool,
    out: &mut Vec<(String, String)>,
) -> Result<(), String> {
    let shape = model.target(r)?;
    match (shape.kind, value) {
        (ShapeType::Structure, Value::Object(obj)) => {
            write_structure(model, shape, obj, path, ec2, out)
        }
        (ShapeType::List, Value::Array(items)) => {
            let member = shape.member.as_ref().ok_or("list shape without member")?;
            if items.is_empty() {
                if !ec2 {
                    out.push((path.to_owned(), String::new()));
                }
                return Ok(());
            }
            let list_path = if ec2 {
                path.to_owned()
            } else if r.flattened || shape.flattened {
                match &member.location_name {
                    // The list's own name is replaced by its member's name.
                    Some(name) => match path.rsplit_once('.') {
                        Some((parent, _)) => format!("{parent}.{name}"),
                        None => name.clone(),
                    },
                    None => path.to_owned(),
                }
            } else {
                let item = member.location_name.as_deref().unwrap_or("member");
                format!("{path}.{item}")
            };
            for (i, item) in items.iter().enumerate() {
                write_value(
                    model,
                    member,
                    item,
                    &format!("{list_path}.{}", i + 1),
                    ec2,
                    out,
                )?;
            }
            Ok(())
        }
        (ShapeType::Map, Value::Object(map)) => {
            let key_ref = shape.key.as_ref().ok_or("map shape without key")?;
            let value_ref = shape.value.as_ref().ok_or("map shape without value")?;
            let entries = if r.flattened || shape.flattened {
                path.to_owned()
            } else {
                format!("{path}.entry")
            };
            let key_name = key_ref.location_name.as_deref().unwrap_or("key");
            let value_name = value_ref.location_name.as_deref().unwrap_or("value");
            for (i, (key, item)) in map.iter().enumerate() {
                let n = i + 1;
                out.push((format!("{entries}.{n}.{key_name}"), key.clone()));
                write_value(
                    model,
                    value_ref,
                    item,
                    &format!("{entries}.{n}.{value_name}"),
                    ec2,
                    out,
                )?;
            }
            Ok(())
        }
        _ => {
            out.push((
                path.to_owned(),
                scalar_text(model, r, value, InputFormat::Iso8601)?,
            ));
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::aws::api::model::service;
    use crate::aws::api::protocol::build_request;
    use serde_json::json;

    fn body(service_name: &str, op: &str, input: serde_json::Value) -> String {
        let model = service(service_name).unwrap();
        let op = model.operation(service_name, op).unwrap();
        let req = build_request(model, op, &input).unwrap();
        assert_eq!(
            (req.method.as_str(), req.path_and_query.as_str()),
            ("POST", "/")
        );
        String::from_utf8(req.body).unwrap()
    }

    #[test]
    fn ec2_lists_are_numbered_and_names_come_from_query_or_location_names() {
        assert_eq!(
            body(
                "ec2",
                "DescribeInstances",
                json!({"InstanceIds": ["i-1", "i-2"], "Filters": [{"Name": "tag:Env", "Values": ["prod", "a b"]}],
                    "MaxResults": 5, "DryRun": false}),
            ),
            "Action=DescribeInstances&Version=2016-11-15&InstanceId.1=i-1&InstanceId.2=i-2\
             &Filter.1.Name=tag%3AEnv&Filter.1.Value.1=prod&Filter.1.Value.2=a%20b&MaxResults=5&DryRun=false"
        );
        assert_eq!(
            body(
                "ec2",
                "DescribeRegions",
                json!({"AllRegions": true, "RegionNames": []})
            ),
            "Action=DescribeRegions&Version=2016-11-15&AllRegions=true"
        );
    }

    #[test]
    fn query_lists_use_member_and_empty_lists_are_sent() {
        assert_eq!(
            body(
                "rds",
                "DescribeDBInstances",
                json!({"Filters": [{"Name": "engine", "Values": ["postgres"]}], "MaxRecords": 20}),
            ),
            "Action=DescribeDBInstances&Version=2014-10-31&Filters.Filter.1.Name=engine\
             &Filters.Filter.1.Values.Value.1=postgres&MaxRecords=20"
        );
        assert_eq!(
            body("rds", "DescribeDBClusters", json!({"Filters": []})),
            "Action=DescribeDBClusters&Version=2014-10-31&Filters="
        );
    }

    #[test]
    fn rejects_unknown_members() {
        let model = service("iam").unwrap();
        let op = model.operation("iam", "ListRoles").unwrap();
        let err = build_request(model, op, &json!({"MaxItem": 1})).unwrap_err();
        assert!(err.contains("MaxItem"), "{err}");
    }
}
