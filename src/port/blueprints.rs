//! Default blueprints: create the missing ones (targets before relations) and add missing default
//! properties and relations to existing ones, never changing anything a user set.

use super::client::{encode_segment, PortClient, PortError, VERSION};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde_json::{json, Map, Value};

/// The built-in default blueprints (aws-v3's, enriched).
pub const DEFAULT_BLUEPRINTS: &str = include_str!("default_blueprints.json");

/// The default blueprints as JSON values.
pub fn default_blueprints() -> Vec<Value> {
    serde_json::from_str(DEFAULT_BLUEPRINTS).expect("the built-in blueprints are valid JSON")
}

/// What blueprint initialisation did.
#[derive(Debug, Default, Clone, Serialize)]
pub struct BlueprintReport {
    pub created: Vec<String>,
    pub extended: Vec<String>,
    pub unchanged: Vec<String>,
}

fn id_of(bp: &Value) -> &str {
    bp.get("identifier")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// The keys of `defaults[section]` missing from `existing[section]`, added to a copy of the
/// existing section. `None` when nothing is missing.
fn missing_keys(existing: Option<&Value>, defaults: Option<&Value>) -> Option<Map<String, Value>> {
    let defaults = defaults.and_then(Value::as_object)?;
    let mut merged = existing
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut changed = false;
    for (k, v) in defaults {
        if !merged.contains_key(k) {
            merged.insert(k.clone(), v.clone());
            changed = true;
        }
    }
    changed.then_some(merged)
}

/// Creates missing default blueprints and extends existing ones with missing default properties
/// and relations. Blueprints are created without relations first, so relation targets exist.
pub async fn ensure_blueprints(
    client: &PortClient,
    defaults: &[Value],
) -> Result<BlueprintReport, PortError> {
    let ua = format!("port-aws-sync/{VERSION}");
    let mut report = BlueprintReport::default();
    let mut created = Vec::new();
    for bp in defaults {
        let id = id_of(bp);
        let path = format!("/blueprints/{}", encode_segment(id));
        match client
            .request(Method::GET, &path, &[], None, Some(&ua))
            .await
        {
            Ok(existing) => {
                let existing = existing.get("blueprint").cloned().unwrap_or(Value::Null);
                match extension(&existing, bp) {
                    None => report.unchanged.push(id.to_owned()),
                    Some(patch) => {
                        client
                            .request(Method::PATCH, &path, &[], Some(&patch), Some(&ua))
                            .await?;
                        report.extended.push(id.to_owned());
                    }
                }
            }
            Err(PortError::Api { status, .. }) if status == StatusCode::NOT_FOUND => {
                let mut bare = bp.clone();
                bare["relations"] = json!({});
                client
                    .request(Method::POST, "/blueprints", &[], Some(&bare), Some(&ua))
                    .await?;
                created.push(bp);
                report.created.push(id.to_owned());
            }
            Err(e) => return Err(e),
        }
    }
    add_relations(client, &created, &ua).await?;
    Ok(report)
}

/// The patch adding the default's missing properties and relations to an existing blueprint;
/// `None` when it has them all.
fn extension(existing: &Value, default: &Value) -> Option<Value> {
    let mut patch = Map::new();
    if let Some(props) = missing_keys(
        existing.pointer("/schema/properties"),
        default.pointer("/schema/properties"),
    ) {
        let mut schema = existing
            .get("schema")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        schema.insert("properties".into(), Value::Object(props));
        patch.insert("schema".into(), Value::Object(schema));
    }
    if let Some(relations) = missing_keys(existing.get("relations"), default.get("relations")) {
        patch.insert("relations".into(), Value::Object(relations));
    }
    (!patch.is_empty()).then_some(Value::Object(patch))
}

/// Adds the relations of the blueprints just created (their targets exist now).
async fn add_relations(client: &PortClient, created: &[&Value], ua: &str) -> Result<(), PortError> {
    for bp in created {
        let relations = bp.get("relations").cloned().unwrap_or_else(|| json!({}));
        if relations.as_object().is_some_and(|r| !r.is_empty()) {
            let path = format!("/blueprints/{}", encode_segment(id_of(bp)));
            client
                .request(
                    Method::PATCH,
                    &path,
                    &[],
                    Some(&json!({"relations": relations})),
                    Some(ua),
                )
                .await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_blueprints_have_valid_identifiers_and_known_targets() {
        let bps = default_blueprints();
        let ids: Vec<&str> = bps.iter().map(id_of).collect();
        assert_eq!(
            ids,
            vec!["awsAccount", "s3Bucket", "ec2Instance", "ecsCluster"]
        );
        for bp in &bps {
            for rel in bp["relations"].as_object().unwrap().values() {
                assert!(ids.contains(&rel["target"].as_str().unwrap()));
            }
        }
    }

    #[test]
    fn only_missing_keys_are_added_and_user_values_kept() {
        let existing = json!({"a": {"type": "number", "title": "mine"}});
        let defaults = json!({"a": {"type": "string"}, "b": {"type": "string"}});
        let merged = missing_keys(Some(&existing), Some(&defaults)).unwrap();
        assert_eq!(merged["a"], json!({"type": "number", "title": "mine"}));
        assert_eq!(merged["b"], json!({"type": "string"}));
        assert!(missing_keys(Some(&defaults), Some(&existing)).is_none());
    }
}
