//! XML bodies, for the `query`, `ec2` and `rest-xml` protocols: outputs read as boto3 returns
//! them, the error code and message, and rest-xml request bodies.
//!
//! Reading follows the output shape, never the document: a structure member is the child
//! element named by its `locationName` (or its own name); a list is the children of its element
//! whatever their names (`<member>`, `<item>`, ...) or, flattened, the repeated elements
//! themselves; a map is `entry` elements with key and value children (or flattened entries).
//! Absent elements leave the member out; an empty list element gives `[]`, an empty structure
//! `{}`, an empty string element `""`. Scalars follow the shape's type.

use super::model::{Operation, Ref, ServiceModel, Shape, ShapeType};
use super::protocol::{header, scalar_text, WireError};
use super::timestamp::{self, InputFormat};
use reqwest::header::HeaderMap;
use roxmltree::{Document, Node};
use serde_json::{Map, Number, Value};
use std::collections::HashMap;

/// Reads `text` as the output `shape`. The root element is the output itself (rest-xml, ec2),
/// or holds it in the child named by the operation's `resultWrapper` (query).
pub fn read_document(
    model: &ServiceModel,
    shape: &Shape,
    text: &str,
    wrapper: Option<&str>,
) -> Result<Value, String> {
    if text.trim().is_empty() {
        return Ok(Value::Object(Map::new()));
    }
    let doc = Document::parse(text).map_err(|e| format!("invalid XML: {e}"))?;
    let root = doc.root_element();
    let start = match wrapper {
        None => root,
        Some(name) => match elements(root).find(|n| n.tag_name().name() == name) {
            Some(node) => node,
            None => return Ok(Value::Object(Map::new())),
        },
    };
    Ok(read_nodes(model, shape, false, &[start]))
}

pub(super) fn elements<'a, 'i>(node: Node<'a, 'i>) -> impl Iterator<Item = Node<'a, 'i>> {
    node.children().filter(Node::is_element)
}

/// One value of `shape` from its element(s): several only for a flattened list or map.
pub(super) fn read_nodes(
    model: &ServiceModel,
    shape: &Shape,
    flattened: bool,
    nodes: &[Node],
) -> Value {
    let Some(first) = nodes.first() else {
        return Value::Null;
    };
    match shape.kind {
        ShapeType::Structure => read_structure(model, shape, *first),
        ShapeType::List => {
            let Some(member) = shape.member.as_ref().and_then(|m| model.target(m).ok()) else {
                return Value::Array(Vec::new());
            };
            let items: Vec<Node> = if flattened {
                nodes.to_vec()
            } else {
                elements(*first).collect()
            };
            Value::Array(
                items
                    .iter()
                    .map(|item| read_nodes(model, member, false, std::slice::from_ref(item)))
                    .collect(),
            )
        }
        ShapeType::Map => read_map(model, shape, flattened, nodes),
        _ => read_scalar(shape, first.text().unwrap_or_default()),
    }
}

fn read_structure(model: &ServiceModel, shape: &Shape, node: Node) -> Value {
    read_structure_without(model, shape, node, None)
}

/// [`read_structure`] leaving member `skip` out.
pub(super) fn read_structure_without(
    model: &ServiceModel,
    shape: &Shape,
    node: Node,
    skip: Option<&str>,
) -> Value {
    let mut children: HashMap<&str, Vec<Node>> = HashMap::new();
    for child in elements(node) {
        children
            .entry(child.tag_name().name())
            .or_default()
            .push(child);
    }
    let mut out = Map::new();
    for (name, r) in &shape.members {
        if skip == Some(name.as_str()) {
            continue;
        }
        let Ok(target) = model.target(r) else {
            continue;
        };
        if r.location.is_some() {
            continue;
        }
        let wire = r.location_name.as_deref().unwrap_or(name);
        if r.xml_attribute {
            let local = wire.rsplit(':').next().unwrap_or(wire);
            if let Some(attr) = node.attributes().find(|a| a.name() == local) {
                out.insert(name.clone(), read_scalar(target, attr.value()));
            }
            continue;
        }
        let flattened = r.flattened || target.flattened;
        let key = match (&target.member, target.kind, flattened) {
            // A flattened list repeats its member's element name, when the model gives one.
            (Some(member), ShapeType::List, true) => {
                member.location_name.as_deref().unwrap_or(wire)
            }
            _ => wire,
        };
        if let Some(nodes) = children.get(key) {
            out.insert(name.clone(), read_nodes(model, target, flattened, nodes));
        }
    }
    Value::Object(out)
}

fn read_map(model: &ServiceModel, shape: &Shape, flattened: bool, nodes: &[Node]) -> Value {
    let (Some(key_ref), Some(value_ref)) = (&shape.key, &shape.value) else {
        return Value::Object(Map::new());
    };
    let Ok(value_shape) = model.target(value_ref) else {
        return Value::Object(Map::new());
    };
    let key_name = key_ref.location_name.as_deref().unwrap_or("key");
    let value_name = value_ref.location_name.as_deref().unwrap_or("value");
    let entries: Vec<Node> = if flattened {
        nodes.to_vec()
    } else {
        nodes.iter().flat_map(|n| elements(*n)).collect()
    };
    let mut out = Map::new();
    for entry in entries {
        let key = elements(entry).find(|n| n.tag_name().name() == key_name);
        let value = elements(entry).find(|n| n.tag_name().name() == value_name);
        if let (Some(key), Some(value)) = (key, value) {
            let key = key.text().unwrap_or_default().to_owned();
            out.insert(key, read_nodes(model, value_shape, false, &[value]));
        }
    }
    Value::Object(out)
}

/// A scalar by the shape's type; text that does not parse as the type is kept as text.
fn read_scalar(shape: &Shape, text: &str) -> Value {
    let parsed = match shape.kind {
        ShapeType::Integer | ShapeType::Long => text.trim().parse::<i64>().ok().map(Value::from),
        ShapeType::Float | ShapeType::Double => text
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map(Value::Number),
        ShapeType::Boolean => Some(Value::Bool(text.trim() == "true")),
        ShapeType::Timestamp => {
            timestamp::parse_str(text).map(|t| Value::String(timestamp::iso8601_millis(&t)))
        }
        _ => None,
    };
    parsed.unwrap_or_else(|| Value::String(text.to_owned()))
}

/// The error of an XML answer: the first `Code` and `Message` elements, wherever the protocol
/// puts them (`<ErrorResponse><Error>`, EC2's `<Response><Errors><Error>`, S3's `<Error>`). An
/// answer without a body reports its HTTP status as the code, as boto3 does.
pub fn read_error(status: u16, headers: &HeaderMap, body: &[u8]) -> WireError {
    let text = std::str::from_utf8(body).unwrap_or_default();
    let doc = Document::parse(text).ok();
    let find = |name: &str| {
        doc.as_ref().and_then(|d| {
            d.descendants()
                .find(|n| n.is_element() && n.tag_name().name() == name)
                .map(|n| n.text().unwrap_or_default().to_owned())
        })
    };
    let reason = reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or_default();
    WireError {
        code: find("Code").unwrap_or_else(|| status.to_string()),
        message: find("Message").unwrap_or_else(|| reason.to_owned()),
        request_id: find("RequestId")
            .or_else(|| find("RequestID"))
            .or_else(|| header(headers, "x-amzn-requestid"))
            .or_else(|| header(headers, "x-amz-request-id")),
    }
}

/// The rest-xml request body: the payload member alone when the model names one, else the
/// body members inside the operation's root element (`locationName` and `xmlNamespace` of its
/// input). Nothing when no body member was given.
pub fn write_body(
    model: &ServiceModel,
    op: &Operation,
    shape: &Shape,
    input: &Map<String, Value>,
) -> Result<Vec<u8>, String> {
    let mut out = String::new();
    if let Some(payload) = &shape.payload {
        let r = shape.member(payload).ok_or("payload member missing")?;
        match input.get(payload) {
            None | Some(Value::Null) => {}
            Some(Value::String(raw)) => return Ok(raw.clone().into_bytes()),
            Some(value) => {
                let target = model.target(r)?;
                let name = r.location_name.as_deref().unwrap_or(payload);
                let ns = target.xml_namespace.as_ref().map(|ns| ns.uri.as_str());
                write_element(model, &mut out, name, ns, r, value)?;
            }
        }
        return Ok(out.into_bytes());
    }
    let body: Map<String, Value> = input
        .iter()
        .filter(|(name, v)| {
            !v.is_null() && shape.member(name).is_some_and(|r| r.location.is_none())
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if body.is_empty() {
        return Ok(Vec::new());
    }
    let input_ref = op.input.as_ref().ok_or("no input")?;
    let root = input_ref
        .location_name
        .as_deref()
        .unwrap_or(&input_ref.shape);
    let ns = input_ref.xml_namespace.as_ref().map(|ns| ns.uri.as_str());
    open(&mut out, root, ns);
    write_members(model, &mut out, shape, &body)?;
    close(&mut out, root);
    Ok(out.into_bytes())
}

fn write_members(
    model: &ServiceModel,
    out: &mut String,
    shape: &Shape,
    input: &Map<String, Value>,
) -> Result<(), String> {
    for (name, value) in input {
        let r = shape
            .member(name)
            .ok_or_else(|| format!("unknown input member {name}"))?;
        if value.is_null() || r.location.is_some() {
            continue;
        }
        if r.xml_attribute {
            return Err(format!(
                "{name}: XML attributes in requests are not supported"
            ));
        }
        let target = model.target(r)?;
        let element = r.location_name.as_deref().unwrap_or(name);
        match (target.kind, value, r.flattened || target.flattened) {
            (ShapeType::List, Value::Array(items), true) => {
                let member = target.member.as_ref().ok_or("list shape without member")?;
                let item_name = member.location_name.as_deref().unwrap_or(element);
                for item in items {
                    write_element(model, out, item_name, None, member, item)?;
                }
            }
            _ => write_element(model, out, element, None, r, value)?,
        }
    }
    Ok(())
}

fn write_element(
    model: &ServiceModel,
    out: &mut String,
    name: &str,
    ns: Option<&str>,
    r: &Ref,
    value: &Value,
) -> Result<(), String> {
    let shape = model.target(r)?;
    open(out, name, ns);
    match (shape.kind, value) {
        (ShapeType::Structure, Value::Object(obj)) => write_members(model, out, shape, obj)?,
        (ShapeType::List, Value::Array(items)) => {
            let member = shape.member.as_ref().ok_or("list shape without member")?;
            let item_name = member.location_name.as_deref().unwrap_or("member");
            for item in items {
                write_element(model, out, item_name, None, member, item)?;
            }
        }
        (ShapeType::Map, Value::Object(map)) => {
            let key_ref = shape.key.as_ref().ok_or("map shape without key")?;
            let value_ref = shape.value.as_ref().ok_or("map shape without value")?;
            for (key, item) in map {
                open(out, "entry", None);
                let key_name = key_ref.location_name.as_deref().unwrap_or("key");
                write_element(
                    model,
                    out,
                    key_name,
                    None,
                    key_ref,
                    &Value::String(key.clone()),
                )?;
                let value_name = value_ref.location_name.as_deref().unwrap_or("value");
                write_element(model, out, value_name, None, value_ref, item)?;
                close(out, "entry");
            }
        }
        _ => escape_into(out, &scalar_text(model, r, value, InputFormat::Iso8601)?),
    }
    close(out, name);
    Ok(())
}

fn open(out: &mut String, name: &str, ns: Option<&str>) {
    out.push('<');
    out.push_str(name);
    if let Some(ns) = ns {
        out.push_str(" xmlns=\"");
        escape_into(out, ns);
        out.push('"');
    }
    out.push('>');
}

fn close(out: &mut String, name: &str) {
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::aws::api::model::service;
    use crate::aws::api::protocol::read_output;
    use serde_json::json;

    pub(in crate::aws::api) fn output(service_name: &str, op: &str, body: &str) -> Value {
        let model = service(service_name).unwrap();
        let op = model.operation(service_name, op).unwrap();
        read_output(model, op, 200, &HeaderMap::new(), body.as_bytes()).unwrap()
    }

    #[test]
    fn reads_ec2_item_lists_and_camel_case_wire_names() {
        let body = r#"<?xml version="1.0" encoding="UTF-8"?>
<DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
  <requestId>r-1</requestId>
  <reservationSet>
    <item>
      <reservationId>r-0abc</reservationId>
      <ownerId>123456789012</ownerId>
      <groupSet/>
      <instancesSet>
        <item>
          <instanceId>i-0123</instanceId>
          <instanceState><code>16</code><name>running</name></instanceState>
          <dnsName>ec2-1-2-3-4.compute.amazonaws.com</dnsName>
          <privateDnsName></privateDnsName>
          <launchTime>2024-03-15T08:30:00.000Z</launchTime>
          <ebsOptimized>false</ebsOptimized>
          <groupSet>
            <item><groupId>sg-1</groupId><groupName>default</groupName></item>
          </groupSet>
          <tagSet>
            <item><key>Name</key><value>web &amp; api</value></item>
          </tagSet>
          <blockDeviceMapping>
            <item><deviceName>/dev/xvda</deviceName>
              <ebs><volumeId>vol-1</volumeId><status>attached</status>
                <attachTime>2024-03-15T08:30:01.5Z</attachTime><deleteOnTermination>true</deleteOnTermination></ebs>
            </item>
          </blockDeviceMapping>
          <productCodes/>
          <cpuOptions/>
          <someFutureField>ignored</someFutureField>
        </item>
      </instancesSet>
    </item>
  </reservationSet>
  <nextToken>tok</nextToken>
</DescribeInstancesResponse>"#;
        assert_eq!(
            output("ec2", "DescribeInstances", body),
            json!({
                "Reservations": [{
                    "ReservationId": "r-0abc",
                    "OwnerId": "123456789012",
                    "Groups": [],
                    "Instances": [{
                        "InstanceId": "i-0123",
                        "State": {"Code": 16, "Name": "running"},
                        "PublicDnsName": "ec2-1-2-3-4.compute.amazonaws.com",
                        "PrivateDnsName": "",
                        "LaunchTime": "2024-03-15T08:30:00.000Z",
                        "EbsOptimized": false,
                        "SecurityGroups": [{"GroupId": "sg-1", "GroupName": "default"}],
                        "Tags": [{"Key": "Name", "Value": "web & api"}],
                        "BlockDeviceMappings": [{"DeviceName": "/dev/xvda", "Ebs": {
                            "VolumeId": "vol-1", "Status": "attached",
                            "AttachTime": "2024-03-15T08:30:01.500Z", "DeleteOnTermination": true}}],
                        "ProductCodes": [],
                        "CpuOptions": {}
                    }]
                }],
                "NextToken": "tok"
            })
        );
    }

    #[test]
    fn reads_query_outputs_inside_the_result_wrapper() {
        let body = r#"<DescribeDBInstancesResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/">
  <DescribeDBInstancesResult>
    <DBInstances>
      <DBInstance>
        <DBInstanceIdentifier>db1</DBInstanceIdentifier>
        <AllocatedStorage>20</AllocatedStorage>
        <MultiAZ>true</MultiAZ>
        <InstanceCreateTime>2024-03-15T08:30:00Z</InstanceCreateTime>
        <Endpoint><Address>db1.x.rds.amazonaws.com</Address><Port>5432</Port></Endpoint>
        <VpcSecurityGroups>
          <VpcSecurityGroupMembership><VpcSecurityGroupId>sg-1</VpcSecurityGroupId><Status>active</Status></VpcSecurityGroupMembership>
        </VpcSecurityGroups>
        <TagList><Tag><Key>env</Key><Value>prod</Value></Tag></TagList>
        <ReadReplicaDBInstanceIdentifiers/>
      </DBInstance>
    </DBInstances>
    <Marker>m2</Marker>
  </DescribeDBInstancesResult>
  <ResponseMetadata><RequestId>req</RequestId></ResponseMetadata>
</DescribeDBInstancesResponse>"#;
        assert_eq!(
            output("rds", "DescribeDBInstances", body),
            json!({
                "DBInstances": [{
                    "DBInstanceIdentifier": "db1",
                    "AllocatedStorage": 20,
                    "MultiAZ": true,
                    "InstanceCreateTime": "2024-03-15T08:30:00.000Z",
                    "Endpoint": {"Address": "db1.x.rds.amazonaws.com", "Port": 5432},
                    "VpcSecurityGroups": [{"VpcSecurityGroupId": "sg-1", "Status": "active"}],
                    "TagList": [{"Key": "env", "Value": "prod"}],
                    "ReadReplicaDBInstanceIdentifiers": []
                }],
                "Marker": "m2"
            })
        );
    }

    #[test]
    fn reads_query_maps_with_entry_key_value() {
        let body = r#"<GetTopicAttributesResponse><GetTopicAttributesResult><Attributes>
            <entry><key>Owner</key><value>123</value></entry>
            <entry><key>DisplayName</key><value/></entry>
        </Attributes></GetTopicAttributesResult></GetTopicAttributesResponse>"#;
        assert_eq!(
            output("sns", "GetTopicAttributes", body),
            json!({"Attributes": {"Owner": "123", "DisplayName": ""}})
        );
    }

    #[test]
    fn reads_rest_xml_with_the_output_as_root() {
        let body = r#"<?xml version="1.0"?>
<ListHostedZonesResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/">
  <HostedZones>
    <HostedZone><Id>/hostedzone/Z1</Id><Name>example.com.</Name><CallerReference>c1</CallerReference>
      <Config><PrivateZone>false</PrivateZone></Config><ResourceRecordSetCount>2</ResourceRecordSetCount></HostedZone>
  </HostedZones>
  <IsTruncated>false</IsTruncated><MaxItems>100</MaxItems>
</ListHostedZonesResponse>"#;
        assert_eq!(
            output("route53", "ListHostedZones", body),
            json!({"HostedZones": [{"Id": "/hostedzone/Z1", "Name": "example.com.", "CallerReference": "c1",
                "Config": {"PrivateZone": false}, "ResourceRecordSetCount": 2}],
                "IsTruncated": false, "MaxItems": "100"})
        );
    }

    /// A `query` service model of these shapes, with no operations.
    pub(in crate::aws::api) fn query_model(shapes: Value) -> &'static ServiceModel {
        let model = json!({
            "metadata": {"protocol": "query", "apiVersion": "1", "endpointPrefix": "x",
                "signingName": "x", "serviceId": "X"},
            "operations": {},
            "shapes": shapes
        });
        Box::leak(Box::new(serde_json::from_value(model).unwrap()))
    }

    #[test]
    fn reads_flattened_lists_and_maps() {
        let model = query_model(json!({
            "Out": {"type": "structure", "members": {
                "Items": {"shape": "L", "flattened": true},
                "Named": {"shape": "NamedL"},
                "Attrs": {"shape": "M", "locationName": "Attr"},
                "Ratio": {"shape": "D"}}},
            "L": {"type": "list", "member": {"shape": "S"}},
            "NamedL": {"type": "list", "flattened": true, "member": {"shape": "S", "locationName": "Name"}},
            "M": {"type": "map", "flattened": true, "key": {"shape": "S", "locationName": "Name"},
                "value": {"shape": "S", "locationName": "Value"}},
            "S": {"type": "string"}, "D": {"type": "double"}
        }));
        let body = "<R><Items>a</Items><Items>b</Items><Name>n1</Name><Name>n2</Name>\
            <Attr><Name>k1</Name><Value>v1</Value></Attr><Attr><Name>k2</Name><Value>v2</Value></Attr>\
            <Ratio>1</Ratio></R>";
        let shape = model.shape("Out").unwrap();
        assert_eq!(
            read_document(model, shape, body, None).unwrap(),
            json!({"Items": ["a", "b"], "Named": ["n1", "n2"], "Attrs": {"k1": "v1", "k2": "v2"}, "Ratio": 1.0})
        );
    }

    #[test]
    fn reads_xml_errors_of_each_protocol() {
        let none = HeaderMap::new();
        let query = br#"<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type>
            <Code>NoSuchEntity</Code><Message>The role with name x cannot be found.</Message></Error>
            <RequestId>req-q</RequestId></ErrorResponse>"#;
        let e = read_error(404, &none, query);
        assert_eq!(
            (e.code.as_str(), e.message.as_str(), e.request_id.as_deref()),
            (
                "NoSuchEntity",
                "The role with name x cannot be found.",
                Some("req-q")
            )
        );
        let ec2 = br#"<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>InvalidInstanceID.NotFound</Code>
            <Message>The instance ID 'i-1' does not exist</Message></Error></Errors><RequestID>req-e</RequestID></Response>"#;
        let e = read_error(400, &none, ec2);
        assert_eq!(
            (e.code.as_str(), e.request_id.as_deref()),
            ("InvalidInstanceID.NotFound", Some("req-e"))
        );
        let e = read_error(404, &none, b"");
        assert_eq!((e.code.as_str(), e.message.as_str()), ("404", "Not Found"));
    }

    #[test]
    fn refuses_documents_with_entity_declarations() {
        let model = service("sns").unwrap();
        let shape = model.shape("ListTopicsResponse").unwrap();
        let evil = r#"<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">]><R>&a;</R>"#;
        assert!(read_document(model, shape, evil, None).is_err());
    }
}
