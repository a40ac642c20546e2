//! The port-app-config model (Ocean's mapping file), as aws-v3 users write it.

use crate::config::RegionPolicy;
use serde::{Deserialize, Serialize};
use serde_json::Value;

fn yes() -> bool {
    true
}

fn default_threshold() -> f64 {
    0.9
}

fn threshold<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or_else(default_threshold))
}

fn default_query() -> String {
    "true".into()
}

/// The whole mapping file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PortAppConfig {
    #[serde(default = "yes")]
    pub delete_dependent_entities: bool,
    #[serde(default = "yes")]
    pub create_missing_related_entities: bool,
    #[serde(default = "yes")]
    pub enable_merge_entity: bool,
    /// `null` (as Ocean writes it) means the default.
    #[serde(default = "default_threshold", deserialize_with = "threshold")]
    pub entity_deletion_threshold: f64,
    #[serde(default)]
    pub resources: Vec<ResourceConfig>,
}

/// One `resources[]` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceConfig {
    pub kind: String,
    #[serde(default)]
    pub selector: Selector,
    pub port: PortSection,
}

/// `selector`: which raw objects a resource maps, and which optional calls it needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Selector {
    #[serde(default = "default_query")]
    pub query: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region_policy: Option<RegionPolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_actions: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrent_accounts: Option<usize>,
    /// History kinds (build runs, deployments): how many days back to fetch (1–365, default 7).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history_days: Option<u32>,
}

impl Default for Selector {
    fn default() -> Self {
        Selector {
            query: default_query(),
            region_policy: None,
            include_actions: None,
            max_concurrent_accounts: None,
            history_days: None,
        }
    }
}

/// `port`: the entity mapping(s).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PortSection {
    pub entity: EntitySection,
    /// Fans an array of the raw object out into one input per item (available as `.item`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items_to_parse: Option<String>,
}

/// `port.entity`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntitySection {
    pub mappings: OneOrMany<EntityMapping>,
}

/// One object or a list of them.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

impl<'de, T: serde::de::DeserializeOwned> Deserialize<'de> for OneOrMany<T> {
    /// Chooses by shape first, so an error names what is wrong inside the mapping (e.g. a missing
    /// `identifier`) instead of "no variant matched".
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        match Value::deserialize(d)? {
            Value::Array(items) => items
                .into_iter()
                .enumerate()
                .map(|(i, item)| {
                    serde_json::from_value(item)
                        .map_err(|e| D::Error::custom(format!("mappings[{i}]: {e}")))
                })
                .collect::<Result<Vec<T>, _>>()
                .map(OneOrMany::Many),
            other => serde_json::from_value(other)
                .map(OneOrMany::One)
                .map_err(|e| D::Error::custom(format!("mappings: {e}"))),
        }
    }
}

impl<T> OneOrMany<T> {
    pub fn as_slice(&self) -> &[T] {
        match self {
            OneOrMany::One(t) => std::slice::from_ref(t),
            OneOrMany::Many(v) => v,
        }
    }
}

/// `port.entity.mappings`: JQ expressions producing the entity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntityMapping {
    pub identifier: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub blueprint: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icon: Option<String>,
    #[serde(default)]
    pub properties: indexmap_like::Map,
    #[serde(default)]
    pub relations: indexmap_like::Map,
}

/// Insertion-ordered `name -> expression` maps (serde_json's map keeps order with
/// `preserve_order`); values must be strings (JQ expressions).
pub mod indexmap_like {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Debug, Clone, Default, PartialEq)]
    pub struct Map(pub Vec<(String, String)>);

    impl Serialize for Map {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let m: serde_json::Map<String, serde_json::Value> = self
                .0
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                .collect();
            m.serialize(s)
        }
    }

    impl<'de> Deserialize<'de> for Map {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            let m = serde_json::Map::<String, serde_json::Value>::deserialize(d)?;
            let mut out = Vec::with_capacity(m.len());
            for (k, v) in m {
                match v {
                    serde_json::Value::String(s) => out.push((k, s)),
                    other => {
                        return Err(serde::de::Error::custom(format!(
                            "`{k}` must be a JQ expression string, found {other}"
                        )))
                    }
                }
            }
            Ok(Map(out))
        }
    }
}

impl PortAppConfig {
    /// Parses YAML (or JSON, which is YAML).
    pub fn from_yaml(text: &str) -> Result<PortAppConfig, yaml_serde::Error> {
        yaml_serde::from_str(text)
    }

    /// Parses a JSON value (e.g. an integration's `config` in Port).
    pub fn from_json(value: Value) -> Result<PortAppConfig, serde_json::Error> {
        serde_json::from_value(value)
    }
}
