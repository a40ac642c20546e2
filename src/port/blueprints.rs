//! Default blueprints: create the missing ones (targets before relations) and add missing default
//! properties and relations to existing ones, never changing anything a user set.
//!
//! Which blueprints ([`for_kinds`]): the built-in defaults of the four seed kinds, plus the example
//! blueprint (`docs/examples/<slug>/<slug>-blueprint.json`, embedded by `build.rs`) of every other
//! native kind the mapping names, plus the example blueprints their relations point to.

use super::client::{encode_segment, PortClient, PortError, VERSION};
use crate::kinds::Kind;
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::collections::{BTreeSet, HashMap};

mod examples {
    include!(concat!(env!("OUT_DIR"), "/example_blueprints.rs"));
}

/// The built-in default blueprints (aws-v3's, enriched).
pub const DEFAULT_BLUEPRINTS: &str = include_str!("default_blueprints.json");

/// The default blueprints as JSON values.
pub fn default_blueprints() -> Vec<Value> {
    serde_json::from_str(DEFAULT_BLUEPRINTS).expect("the built-in blueprints are valid JSON")
}

/// The example blueprint of a kind (by slug), from `docs/examples/<slug>/`.
pub fn example_blueprint(slug: &str) -> Option<Value> {
    examples::EXAMPLE_BLUEPRINTS
        .iter()
        .find(|(s, _)| *s == slug)
        .map(|(_, json)| parse_example(json))
}

fn parse_example(json: &str) -> Value {
    serde_json::from_str(json)
        .expect("the example blueprints are valid JSON (a unit test reads them all)")
}

fn example_with_identifier(identifier: &str) -> Option<Value> {
    examples::EXAMPLE_BLUEPRINTS
        .iter()
        .map(|(_, json)| parse_example(json))
        .find(|bp| id_of(bp) == identifier)
}

fn relation_targets(bp: &Value) -> Vec<String> {
    bp["relations"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(_, rel)| rel["target"].as_str().map(str::to_owned))
        .collect()
}

/// The blueprints `INITIALIZE_PORT_RESOURCES` ensures for a mapping naming `kinds`: the built-in
/// defaults, the example blueprint of every other native kind named, and the example blueprints
/// their relations point to. A relation to a blueprint that is none of these is left out (and
/// logged), since creating it would fail on Port's side.
pub fn for_kinds(kinds: impl IntoIterator<Item = Kind>) -> Vec<Value> {
    let mut chosen = default_blueprints();
    let mut wanted: Vec<Value> = kinds
        .into_iter()
        .filter(|kind| kind.spec().is_some())
        .filter_map(|kind| example_blueprint(&kind.slug()))
        .collect();
    while let Some(bp) = wanted.pop() {
        if chosen.iter().any(|c| id_of(c) == id_of(&bp)) {
            continue;
        }
        wanted.extend(
            relation_targets(&bp)
                .iter()
                .filter_map(|t| example_with_identifier(t)),
        );
        chosen.push(bp);
    }
    drop_unknown_relations(&mut chosen);
    chosen
}

/// Removes relations whose target is not one of `blueprints`.
fn drop_unknown_relations(blueprints: &mut [Value]) {
    let known: BTreeSet<String> = blueprints.iter().map(|bp| id_of(bp).to_owned()).collect();
    for bp in blueprints.iter_mut() {
        let id = id_of(bp).to_owned();
        if let Some(relations) = bp.get_mut("relations").and_then(Value::as_object_mut) {
            relations.retain(|name, rel| {
                let target = rel["target"].as_str().unwrap_or_default();
                let keep = known.contains(target);
                if !keep {
                    tracing::warn!(blueprint = %id, relation = %name, target, "relation left out: its target blueprint is not created by this tool");
                }
                keep
            });
        }
    }
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
///
/// Reads the organization's blueprints once (`GET /v1/blueprints`): when they are all there and
/// complete, that is the only request, whatever the number of kinds.
pub async fn ensure_blueprints(
    client: &PortClient,
    defaults: &[Value],
) -> Result<BlueprintReport, PortError> {
    let ua = format!("port-aws-sync/{VERSION}");
    let listed = client
        .request(Method::GET, "/blueprints", &[], None, Some(&ua))
        .await?;
    let existing: HashMap<&str, &Value> = listed
        .get("blueprints")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|bp| (id_of(bp), bp))
        .collect();
    let mut report = BlueprintReport::default();
    let mut created = Vec::new();
    for bp in defaults {
        let id = id_of(bp);
        match existing.get(id) {
            Some(current) => match extension(current, bp) {
                None => report.unchanged.push(id.to_owned()),
                Some(patch) => {
                    let path = format!("/blueprints/{}", encode_segment(id));
                    client
                        .request(Method::PATCH, &path, &[], Some(&patch), Some(&ua))
                        .await?;
                    report.extended.push(id.to_owned());
                }
            },
            None => {
                let mut bare = bp.clone();
                bare["relations"] = json!({});
                match client
                    .request(Method::POST, "/blueprints", &[], Some(&bare), Some(&ua))
                    .await
                {
                    Ok(_) => {
                        created.push(bp);
                        report.created.push(id.to_owned());
                    }
                    // Created meanwhile by another process (listed before it was): extend it.
                    Err(PortError::Api { status, .. }) if status == StatusCode::CONFLICT => {
                        extend_one(client, bp, &ua, &mut report).await?;
                    }
                    Err(e) => return Err(e),
                }
            }
        }
    }
    add_relations(client, &created, &ua).await?;
    Ok(report)
}

/// Reads one blueprint and adds what it misses of `default`.
async fn extend_one(
    client: &PortClient,
    default: &Value,
    ua: &str,
    report: &mut BlueprintReport,
) -> Result<(), PortError> {
    let id = id_of(default);
    let path = format!("/blueprints/{}", encode_segment(id));
    let current = client
        .request(Method::GET, &path, &[], None, Some(ua))
        .await?;
    let current = current.get("blueprint").cloned().unwrap_or(Value::Null);
    match extension(&current, default) {
        None => report.unchanged.push(id.to_owned()),
        Some(patch) => {
            client
                .request(Method::PATCH, &path, &[], Some(&patch), Some(ua))
                .await?;
            report.extended.push(id.to_owned());
        }
    }
    Ok(())
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
    fn every_example_blueprint_parses_and_every_native_kind_has_one() {
        for (slug, json) in examples::EXAMPLE_BLUEPRINTS {
            let bp: Value = serde_json::from_str(json).unwrap_or_else(|e| panic!("{slug}: {e}"));
            assert!(!id_of(&bp).is_empty(), "{slug}: no identifier");
        }
        for &kind in Kind::all() {
            assert!(
                example_blueprint(&kind.slug()).is_some(),
                "{kind} has no docs/examples/{}/{}-blueprint.json",
                kind.slug(),
                kind.slug()
            );
        }
    }

    #[test]
    fn a_mapping_gets_its_kinds_blueprints_and_their_relation_targets() {
        let service = Kind::all()
            .iter()
            .copied()
            .find(|k| k.slug() == "ecs-service");
        let Some(service) = service else {
            // Until the ECS service kind is registered, check with the seed kinds only.
            let ids: Vec<String> = for_kinds([Kind::Ec2Instance])
                .iter()
                .map(|b| id_of(b).to_owned())
                .collect();
            assert_eq!(ids, ["awsAccount", "s3Bucket", "ec2Instance", "ecsCluster"]);
            return;
        };
        let chosen = for_kinds([service]);
        let ids: Vec<&str> = chosen.iter().map(id_of).collect();
        assert!(
            ids.contains(&"ecsService") && ids.contains(&"ecsCluster"),
            "{ids:?}"
        );
        for bp in &chosen {
            for target in relation_targets(bp) {
                assert!(ids.contains(&target.as_str()), "{}: {target}", id_of(bp));
            }
        }
    }

    #[test]
    fn relations_to_unknown_blueprints_are_left_out() {
        let mut bps = vec![
            json!({"identifier": "awsAccount", "relations": {}}),
            json!({"identifier": "x", "relations": {"a": {"target": "awsAccount"}, "b": {"target": "nowhere"}}}),
        ];
        assert_eq!(relation_targets(&bps[1]), ["awsAccount", "nowhere"]);
        drop_unknown_relations(&mut bps);
        assert_eq!(relation_targets(&bps[1]), ["awsAccount"]);
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
