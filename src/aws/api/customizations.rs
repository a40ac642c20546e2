//! What boto3 changes in code on top of the models (botocore's `handlers.py`), where it changes
//! what callers send or see. Only the handlers that touch operations in the manifest are here:
//!
//! - IAM returns policy documents URL-encoded; boto3 decodes them and parses the JSON, so
//!   `AssumeRolePolicyDocument` is an object, not a string.
//! - Route 53 takes ids without their prefix; boto3 accepts `/hostedzone/Z123` (as `ListHostedZones`
//!   returns it) and sends `Z123`.

use super::model::{ServiceModel, Shape, ShapeType};
use percent_encoding::percent_decode_str;
use serde_json::Value;

/// Adjusts a caller's input before it is serialized.
pub fn input(service: &str, shape: Option<&Shape>, input: &mut Value) {
    if service != "route53" {
        return;
    }
    let (Some(shape), Value::Object(obj)) = (shape, input) else {
        return;
    };
    for (name, r) in &shape.members {
        if !matches!(
            r.shape.as_str(),
            "ResourceId" | "DelegationSetId" | "ChangeId"
        ) {
            continue;
        }
        if let Some(Value::String(id)) = obj.get_mut(name) {
            if let Some((_, last)) = id.rsplit_once('/') {
                *id = last.to_owned();
            }
        }
    }
}

/// Adjusts a parsed output.
/// Whether [`output`] changes the outputs of `service`.
pub fn changes_outputs(service: &str) -> bool {
    service == "iam"
}

pub fn output(service: &str, model: &ServiceModel, shape: &Shape, output: &mut Value) {
    if changes_outputs(service) {
        decode_policies(model, shape, output);
    }
}

/// IAM's policy documents (shape `policyDocumentType`), wherever they are in the output.
fn decode_policies(model: &ServiceModel, shape: &Shape, value: &mut Value) {
    match (shape.kind, value) {
        (ShapeType::Structure, Value::Object(obj)) => {
            for (name, r) in &shape.members {
                let Some(item) = obj.get_mut(name) else {
                    continue;
                };
                if r.shape == "policyDocumentType" {
                    if let Value::String(text) = item {
                        if let Some(doc) = decode_document(text) {
                            *item = doc;
                        }
                    }
                } else if let Ok(target) = model.target(r) {
                    decode_policies(model, target, item);
                }
            }
        }
        (ShapeType::List, Value::Array(items)) => {
            if let Some(Ok(member)) = shape.member.as_ref().map(|m| model.target(m)) {
                for item in items {
                    decode_policies(model, member, item);
                }
            }
        }
        _ => {}
    }
}

fn decode_document(text: &str) -> Option<Value> {
    let decoded = percent_decode_str(text).decode_utf8().ok()?;
    serde_json::from_str(&decoded).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::api::model::service;
    use serde_json::json;

    #[test]
    fn decodes_url_encoded_iam_policy_documents() {
        let iam = service("iam").unwrap();
        let shape = iam.shape("ListRolesResponse").unwrap();
        let mut out = json!({"Roles": [
            {"RoleName": "a", "AssumeRolePolicyDocument": "%7B%22Version%22%3A%222012-10-17%22%7D"},
            {"RoleName": "b", "AssumeRolePolicyDocument": "not json"}
        ]});
        output("iam", iam, shape, &mut out);
        assert_eq!(
            out,
            json!({"Roles": [
                {"RoleName": "a", "AssumeRolePolicyDocument": {"Version": "2012-10-17"}},
                {"RoleName": "b", "AssumeRolePolicyDocument": "not json"}
            ]})
        );
    }

    #[test]
    fn strips_route53_id_prefixes_from_top_level_id_members() {
        let model: ServiceModel = serde_json::from_value(json!({
            "metadata": {"protocol": "rest-xml", "apiVersion": "1", "endpointPrefix": "route53",
                "signingName": "route53", "serviceId": "Route 53"},
            "operations": {},
            "shapes": {"In": {"type": "structure", "members": {
                "Id": {"shape": "ResourceId", "location": "uri", "locationName": "Id"},
                "Name": {"shape": "S"}}},
                "ResourceId": {"type": "string"}, "S": {"type": "string"}}
        }))
        .unwrap();
        let mut input = json!({"Id": "/hostedzone/Z1", "Name": "a/b"});
        super::input("route53", model.shapes.get("In"), &mut input);
        assert_eq!(input, json!({"Id": "Z1", "Name": "a/b"}));
    }
}
