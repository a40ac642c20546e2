//! Mapping raw objects to Port entities with the Ocean-compatible port-app-config: every JQ
//! expression is compiled once at load time; mapping one object is a pure function.

mod actions;
pub mod config;
pub mod entity;
pub mod jq;
mod keys;
pub mod source;

pub use config::PortAppConfig;
pub use entity::{
    is_valid_blueprint_identifier, is_valid_entity_identifier, is_valid_property_identifier, Entity,
};
pub use source::{MappingSource, SourceError};

use crate::config::RegionPolicy;
use crate::kinds::Kind;
use jaq_json::Val;
use jq::{to_json, to_val, Expr};
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::BTreeSet;

/// The built-in mapping (aws-v3's default, fixed and enriched).
pub const DEFAULT_PORT_APP_CONFIG: &str = include_str!("default_port_app_config.yml");

/// A mapping file that cannot be used, with where the problem is.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MappingConfigError {
    #[error("the mapping configuration is not valid YAML/JSON of the port-app-config shape: {0}")]
    Parse(String),
    #[error("resources[{index}] ({kind}) {field}: {message}{}", expression.as_ref().map(|e| format!(" in expression `{e}`")).unwrap_or_default())]
    Invalid {
        index: usize,
        kind: String,
        field: String,
        expression: Option<String>,
        message: String,
    },
    #[error("entityDeletionThreshold must be between 0 and 1, found {0}")]
    Threshold(f64),
}

/// A raw object that could not be mapped: which object, which expression, why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MapError {
    pub kind: Kind,
    pub resource_index: usize,
    /// The object's identity (ARN, id or name).
    pub object: String,
    pub field: String,
    pub expression: String,
    pub message: String,
}

impl std::fmt::Display for MapError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "resources[{}] ({}) {} of {}: {} (expression `{}`)",
            self.resource_index, self.kind, self.field, self.object, self.message, self.expression
        )
    }
}

/// Entities and errors from mapping one raw object.
#[derive(Debug, Default)]
pub struct Mapped {
    pub entities: Vec<Entity>,
    pub errors: Vec<MapError>,
}

struct CompiledMapping {
    identifier: Expr,
    title: Option<Expr>,
    blueprint: Expr,
    team: Option<Expr>,
    icon: Option<Expr>,
    properties: Vec<(String, Expr)>,
    relations: Vec<(String, Expr)>,
}

struct CompiledResource {
    index: usize,
    kind: Kind,
    query: Expr,
    /// `true` when the query is the literal `true` (no evaluation needed).
    query_always: bool,
    items_to_parse: Option<Expr>,
    mappings: Vec<CompiledMapping>,
    region_policy: RegionPolicy,
    include_actions: BTreeSet<String>,
    max_concurrent_accounts: Option<usize>,
}

/// A loaded, compiled port-app-config.
pub struct Mapper {
    config: PortAppConfig,
    resources: Vec<CompiledResource>,
    /// Things that work but are probably not what the author meant (unknown keys, aws-v3 action
    /// names that have no effect here).
    warnings: Vec<String>,
}

impl std::fmt::Debug for Mapper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mapper")
            .field("resources", &self.resources.len())
            .finish()
    }
}

impl Mapper {
    /// The built-in default mapping.
    pub fn builtin() -> Mapper {
        Mapper::from_yaml(DEFAULT_PORT_APP_CONFIG).expect("the built-in mapping compiles")
    }

    /// Parses and compiles a mapping file (YAML or JSON).
    pub fn from_yaml(text: &str) -> Result<Mapper, MappingConfigError> {
        let config =
            PortAppConfig::from_yaml(text).map_err(|e| MappingConfigError::Parse(e.to_string()))?;
        let mut mapper = Mapper::new(config)?;
        if let Ok(tree) = yaml_serde::from_str::<Value>(text) {
            mapper.warnings.splice(0..0, keys::unknown_keys(&tree));
        }
        Ok(mapper)
    }

    /// Compiles a configuration given as JSON (an integration's `config` in Port).
    pub fn from_json(value: Value) -> Result<Mapper, MappingConfigError> {
        let unknown = keys::unknown_keys(&value);
        let config = PortAppConfig::from_json(value)
            .map_err(|e| MappingConfigError::Parse(e.to_string()))?;
        let mut mapper = Mapper::new(config)?;
        mapper.warnings.splice(0..0, unknown);
        Ok(mapper)
    }

    /// Warnings found while loading (unknown keys, action names without effect).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Compiles a parsed configuration, validating every field.
    pub fn new(config: PortAppConfig) -> Result<Mapper, MappingConfigError> {
        if !(0.0..=1.0).contains(&config.entity_deletion_threshold) {
            return Err(MappingConfigError::Threshold(
                config.entity_deletion_threshold,
            ));
        }
        let mut resources = Vec::with_capacity(config.resources.len());
        let mut warnings = Vec::new();
        for (index, res) in config.resources.iter().enumerate() {
            let invalid = |field: &str, expression: Option<&str>, message: String| {
                MappingConfigError::Invalid {
                    index,
                    kind: res.kind.clone(),
                    field: field.to_owned(),
                    expression: expression.map(str::to_owned),
                    message,
                }
            };
            let kind = Kind::parse(&res.kind).ok_or_else(|| {
                invalid(
                    "kind",
                    None,
                    format!(
                        "unknown kind; supported kinds are {}",
                        Kind::ALL.map(Kind::name).join(", ")
                    ),
                )
            })?;
            let compile = |field: &str, source: &str| {
                Expr::compile(source).map_err(|e| invalid(field, Some(source), e.message))
            };
            let mut include_actions = BTreeSet::new();
            for action in res.selector.include_actions.iter().flatten() {
                match actions::resolve(kind, action) {
                    actions::Resolved::Optional(name) => {
                        if name != action {
                            warnings.push(format!(
                                "resources[{index}] ({kind}) selector.includeActions: `{action}` is aws-v3's older name of `{name}`; treated as `{name}`"
                            ));
                        }
                        include_actions.insert(name.to_owned());
                    }
                    actions::Resolved::AlwaysMade => warnings.push(format!(
                        "resources[{index}] ({kind}) selector.includeActions: `{action}` is always made for {kind}; listing it has no effect"
                    )),
                    actions::Resolved::Unknown => {
                        let known: Vec<&str> =
                            kind.optional_actions().iter().map(|a| a.name).collect();
                        return Err(invalid(
                            "selector.includeActions",
                            None,
                            format!(
                                "unknown action `{action}`; {} supports {}",
                                kind,
                                if known.is_empty() {
                                    "none".to_owned()
                                } else {
                                    known.join(", ")
                                }
                            ),
                        ));
                    }
                }
            }
            let region_policy = res.selector.region_policy.clone().unwrap_or_default();
            let unknown = region_policy.unknown_regions();
            if !unknown.is_empty() {
                return Err(invalid(
                    "selector.regionPolicy",
                    None,
                    format!("unknown region(s) {}", unknown.join(", ")),
                ));
            }
            if res.selector.max_concurrent_accounts == Some(0) {
                return Err(invalid(
                    "selector.maxConcurrentAccounts",
                    None,
                    "must be at least 1".into(),
                ));
            }
            let mut mappings = Vec::new();
            for (m_index, m) in res.port.entity.mappings.as_slice().iter().enumerate() {
                let prefix = if matches!(res.port.entity.mappings, config::OneOrMany::Many(_)) {
                    format!("port.entity.mappings[{m_index}]")
                } else {
                    "port.entity.mappings".to_owned()
                };
                let field = |name: &str| format!("{prefix}.{name}");
                let blueprint = compile(&field("blueprint"), &m.blueprint)?;
                if let Some(literal) = blueprint.literal_string() {
                    if !is_valid_blueprint_identifier(&literal) {
                        return Err(invalid(
                            &field("blueprint"),
                            Some(&m.blueprint),
                            format!("`{literal}` is not a valid Port blueprint identifier"),
                        ));
                    }
                }
                let optional = |name: &str,
                                source: &Option<String>|
                 -> Result<Option<Expr>, MappingConfigError> {
                    source
                        .as_deref()
                        .map(|s| compile(&field(name), s))
                        .transpose()
                };
                let named = |group: &str,
                             map: &config::indexmap_like::Map|
                 -> Result<Vec<(String, Expr)>, MappingConfigError> {
                    map.0
                        .iter()
                        .map(|(name, source)| {
                            let at = field(&format!("{group}.{name}"));
                            if !is_valid_property_identifier(name) {
                                return Err(invalid(
                                    &at,
                                    None,
                                    format!("`{name}` is not a valid Port {} identifier (letters, digits and @_=- only, at most 100 characters)", if group == "properties" { "property" } else { "relation" }),
                                ));
                            }
                            Ok((name.clone(), compile(&at, source)?))
                        })
                        .collect()
                };
                mappings.push(CompiledMapping {
                    identifier: compile(&field("identifier"), &m.identifier)?,
                    title: optional("title", &m.title)?,
                    blueprint,
                    team: optional("team", &m.team)?,
                    icon: optional("icon", &m.icon)?,
                    properties: named("properties", &m.properties)?,
                    relations: named("relations", &m.relations)?,
                });
            }
            resources.push(CompiledResource {
                index,
                kind,
                query_always: res.selector.query.trim() == "true",
                query: compile("selector.query", &res.selector.query)?,
                items_to_parse: res
                    .port
                    .items_to_parse
                    .as_deref()
                    .map(|s| compile("port.itemsToParse", s))
                    .transpose()?,
                mappings,
                region_policy,
                include_actions,
                max_concurrent_accounts: res.selector.max_concurrent_accounts,
            });
        }
        Ok(Mapper {
            config,
            resources,
            warnings,
        })
    }

    /// The parsed configuration (top-level options).
    pub fn config(&self) -> &PortAppConfig {
        &self.config
    }

    /// The kinds the configuration maps, in registry order.
    pub fn kinds(&self) -> Vec<Kind> {
        Kind::ALL
            .into_iter()
            .filter(|k| self.resources.iter().any(|r| r.kind == *k))
            .collect()
    }

    /// The optional actions any resource of the kind asks for.
    pub fn include_actions(&self, kind: Kind) -> BTreeSet<String> {
        self.resources
            .iter()
            .filter(|r| r.kind == kind)
            .flat_map(|r| r.include_actions.iter().cloned())
            .collect()
    }

    /// Whether any resource of the kind maps objects of the region.
    pub fn region_wanted(&self, kind: Kind, region: &str) -> bool {
        self.resources
            .iter()
            .any(|r| r.kind == kind && r.region_policy.allows(region))
    }

    /// The smallest `selector.maxConcurrentAccounts` of the kind's resources.
    pub fn max_concurrent_accounts(&self, kind: Kind) -> Option<usize> {
        self.resources
            .iter()
            .filter(|r| r.kind == kind)
            .filter_map(|r| r.max_concurrent_accounts)
            .min()
    }

    /// Blueprints the kind's mappings write, when they are literals (`'"ec2Instance"'`).
    /// `None` when a blueprint is computed per object.
    pub fn blueprints(&self, kind: Kind) -> Option<BTreeSet<String>> {
        let mut out = BTreeSet::new();
        for r in self.resources.iter().filter(|r| r.kind == kind) {
            for m in &r.mappings {
                out.insert(m.blueprint.literal_string()?);
            }
        }
        Some(out)
    }

    /// Maps one raw object of `kind` through every resource of that kind.
    pub fn map(&self, kind: Kind, raw: &Value) -> Mapped {
        let mut out = Mapped::default();
        let mut input: Option<Val> = None;
        let region = raw
            .get("__ExtraContext")
            .and_then(|e| e.get("Region"))
            .and_then(Value::as_str);
        for res in self.resources.iter().filter(|r| r.kind == kind) {
            if let Some(region) = region {
                if region != "global" && !res.region_policy.allows(region) {
                    continue;
                }
            }
            let val = input.get_or_insert_with(|| to_val(raw));
            res.map_into(val, raw, &mut out);
        }
        out
    }
}

impl CompiledResource {
    fn error(&self, raw: &Value, field: &str, expr: &Expr, message: String) -> MapError {
        MapError {
            kind: self.kind,
            resource_index: self.index,
            object: object_identity(raw),
            field: field.to_owned(),
            expression: expr.source().to_owned(),
            message,
        }
    }

    /// Whether `selector.query` selects the input; a query that fails or gives a non-boolean is
    /// reported and selects nothing.
    fn selects(&self, val: &Val, raw: &Value, out: &mut Mapped) -> bool {
        if self.query_always {
            return true;
        }
        match self.query.first(val) {
            Ok(Val::Bool(b)) => b,
            Ok(Val::Null) => false,
            Ok(other) => {
                let msg = format!(
                    "selector.query must give true or false, gave {}",
                    to_json(&other)
                );
                out.errors
                    .push(self.error(raw, "selector.query", &self.query, msg));
                false
            }
            Err(e) => {
                out.errors
                    .push(self.error(raw, "selector.query", &self.query, e));
                false
            }
        }
    }

    /// Maps one raw object. With `itemsToParse`, every item is mapped on its own as the raw object
    /// plus `.item`, and the selector query runs per item (as Ocean does), so it can test `.item`.
    fn map_into(&self, val: &Val, raw: &Value, out: &mut Mapped) {
        let Some(items_expr) = &self.items_to_parse else {
            if self.selects(val, raw, out) {
                self.map_input(val, raw, out);
            }
            return;
        };
        match items_expr.first(val) {
            Ok(Val::Arr(items)) => {
                for item in items.iter() {
                    let with_item = with_key(val, "item", item.clone());
                    if self.selects(&with_item, raw, out) {
                        self.map_input(&with_item, raw, out);
                    }
                }
            }
            Ok(Val::Null) => {}
            Ok(other) => {
                let msg = format!("itemsToParse must give an array, gave {}", to_json(&other));
                out.errors
                    .push(self.error(raw, "port.itemsToParse", items_expr, msg));
            }
            Err(e) => out
                .errors
                .push(self.error(raw, "port.itemsToParse", items_expr, e)),
        }
    }

    fn map_input(&self, val: &Val, raw: &Value, out: &mut Mapped) {
        for m in &self.mappings {
            let mut failed = false;
            let mut eval = |field: &str, expr: &Expr| -> Value {
                match expr.first(val) {
                    Ok(v) => to_json(&v),
                    Err(e) => {
                        out.errors.push(self.error(raw, field, expr, e));
                        failed = true;
                        Value::Null
                    }
                }
            };
            let identifier = eval("identifier", &m.identifier);
            let blueprint = eval("blueprint", &m.blueprint);
            let title = m
                .title
                .as_ref()
                .map(|e| eval("title", e))
                .unwrap_or(Value::Null);
            let team = m.team.as_ref().map(|e| eval("team", e));
            let icon = m.icon.as_ref().map(|e| eval("icon", e));
            let properties: Map<String, Value> = m
                .properties
                .iter()
                .map(|(k, e)| (k.clone(), eval(&format!("properties.{k}"), e)))
                .collect();
            let relations: Map<String, Value> = m
                .relations
                .iter()
                .map(|(k, e)| (k.clone(), eval(&format!("relations.{k}"), e)))
                .collect();
            if failed {
                continue;
            }
            if let Some((name, message)) = relations
                .iter()
                .find_map(|(k, v)| relation_problem(v).map(|m| (k, m)))
            {
                let expr = &m
                    .relations
                    .iter()
                    .find(|(n, _)| n == name)
                    .expect("mapped")
                    .1;
                out.errors
                    .push(self.error(raw, &format!("relations.{name}"), expr, message));
                continue;
            }
            let identifier = match identifier {
                Value::String(s) if is_valid_entity_identifier(&s) => s,
                Value::String(s) => {
                    let msg = format!("`{s}` is not a valid Port identifier (letters, digits and @_.+:\\/=- only, at most 1000 characters); not sent");
                    out.errors
                        .push(self.error(raw, "identifier", &m.identifier, msg));
                    continue;
                }
                other => {
                    let msg = format!("the identifier must be a string, got {other}; not sent");
                    out.errors
                        .push(self.error(raw, "identifier", &m.identifier, msg));
                    continue;
                }
            };
            let blueprint = match blueprint {
                Value::String(s) if is_valid_blueprint_identifier(&s) => s,
                other => {
                    let msg = format!(
                        "the blueprint must be a valid blueprint identifier, got {other}; not sent"
                    );
                    out.errors
                        .push(self.error(raw, "blueprint", &m.blueprint, msg));
                    continue;
                }
            };
            out.entities.push(Entity {
                identifier,
                title,
                blueprint,
                icon,
                team,
                properties,
                relations,
            });
        }
    }
}

/// Why a relation value cannot be sent: Port takes an identifier, a list of identifiers, `null`
/// or a search query (object).
fn relation_problem(value: &Value) -> Option<String> {
    let bad_id = |s: &str| {
        format!("`{s}` is not a valid Port identifier (letters, digits and @_.+:\\/=- only, at most 1000 characters); not sent")
    };
    match value {
        Value::Null | Value::Object(_) => None,
        Value::String(s) => (!is_valid_entity_identifier(s)).then(|| bad_id(s)),
        Value::Array(items) => items.iter().find_map(|item| match item {
            Value::String(s) => (!is_valid_entity_identifier(s)).then(|| bad_id(s)),
            other => Some(format!(
                "a relation list must hold identifier strings, got {other}; not sent"
            )),
        }),
        other => Some(format!(
            "a relation must be an identifier string, a list of them or null, got {other}; not sent"
        )),
    }
}

fn with_key(val: &Val, key: &str, item: Val) -> Val {
    match val {
        Val::Obj(map) => {
            let mut map = (**map).clone();
            map.insert(Val::from(key.to_owned()), item);
            Val::obj(map)
        }
        other => other.clone(),
    }
}

/// A readable identity of a raw object for error messages.
pub fn object_identity(raw: &Value) -> String {
    let props = raw.get("Properties");
    for key in [
        "Arn",
        "InstanceArn",
        "ClusterArn",
        "InstanceId",
        "BucketName",
        "Id",
        "Name",
    ] {
        if let Some(v) = props.and_then(|p| p.get(key)).and_then(Value::as_str) {
            return v.to_owned();
        }
    }
    let kind = raw.get("Type").and_then(Value::as_str).unwrap_or("object");
    format!("{kind} without an id")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn mapper(yaml: &str) -> Mapper {
        Mapper::from_yaml(yaml).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn builtin_mapping_compiles_and_covers_every_kind() {
        let m = Mapper::builtin();
        assert_eq!(m.kinds(), Kind::ALL.to_vec());
        assert_eq!(
            m.blueprints(Kind::Ec2Instance).unwrap(),
            BTreeSet::from(["ec2Instance".to_string()])
        );
    }

    #[test]
    fn builtin_ec2_arn_uses_extra_context_and_partition() {
        let raw = json!({"Type": "AWS::EC2::Instance", "Properties": {"InstanceId": "i-1"},
            "__ExtraContext": {"AccountId": "111111111111", "Region": "us-gov-west-1", "Partition": "aws-us-gov"}});
        let mapped = Mapper::builtin().map(Kind::Ec2Instance, &raw);
        assert!(mapped.errors.is_empty(), "{:?}", mapped.errors);
        assert_eq!(
            mapped.entities[0].properties["arn"],
            json!("arn:aws-us-gov:ec2:us-gov-west-1:111111111111:instance/i-1")
        );
        assert_eq!(mapped.entities[0].title, json!("i-1"));
    }

    #[test]
    fn query_false_and_region_policy_filter_objects() {
        let m = mapper(
            r#"
resources:
  - kind: AWS::EC2::Instance
    selector:
      query: '.Properties.State.Name == "running"'
      regionPolicy: {deny: [eu-west-1]}
    port: {entity: {mappings: {identifier: .Properties.InstanceId, blueprint: '"ec2Instance"'}}}
"#,
        );
        let raw = |state: &str, region: &str| {
            json!({"Type": "AWS::EC2::Instance",
            "Properties": {"InstanceId": "i-1", "State": {"Name": state}}, "__ExtraContext": {"Region": region}})
        };
        assert_eq!(
            m.map(Kind::Ec2Instance, &raw("running", "us-east-1"))
                .entities
                .len(),
            1
        );
        assert_eq!(
            m.map(Kind::Ec2Instance, &raw("stopped", "us-east-1"))
                .entities
                .len(),
            0
        );
        assert_eq!(
            m.map(Kind::Ec2Instance, &raw("running", "eu-west-1"))
                .entities
                .len(),
            0
        );
        assert!(!m.region_wanted(Kind::Ec2Instance, "eu-west-1"));
        assert!(m.region_wanted(Kind::Ec2Instance, "us-east-1"));
    }

    #[test]
    fn several_mappings_and_items_to_parse_fan_out() {
        let m = mapper(
            r#"
resources:
  - kind: AWS::ECS::Cluster
    port:
      itemsToParse: .Properties.CapacityProviders
      entity:
        mappings:
          - identifier: .Properties.ClusterName + "-" + .item
            blueprint: '"provider"'
            properties: {name: .item}
          - identifier: .item
            blueprint: '"providerName"'
"#,
        );
        let raw = json!({"Type": "AWS::ECS::Cluster", "Properties": {"ClusterName": "c", "CapacityProviders": ["FARGATE", "FARGATE_SPOT"]}});
        let mapped = m.map(Kind::EcsCluster, &raw);
        let ids: Vec<(&str, &str)> = mapped
            .entities
            .iter()
            .map(|e| (e.blueprint.as_str(), e.identifier.as_str()))
            .collect();
        assert_eq!(
            ids,
            vec![
                ("provider", "c-FARGATE"),
                ("providerName", "FARGATE"),
                ("provider", "c-FARGATE_SPOT"),
                ("providerName", "FARGATE_SPOT")
            ]
        );
        assert_eq!(mapped.entities[0].properties["name"], json!("FARGATE"));
    }

    #[test]
    fn runtime_failures_name_the_object_and_expression_and_others_continue() {
        let m = mapper(
            r#"
resources:
  - kind: AWS::S3::Bucket
    port: {entity: {mappings: {identifier: .Properties.BucketName, blueprint: '"s3Bucket"', properties: {bad: '.Properties.Tags | .[0].x'}}}}
"#,
        );
        let bad = json!({"Properties": {"BucketName": "b1", "Tags": "oops"}});
        let good = json!({"Properties": {"BucketName": "b2", "Tags": [{"x": 1}]}});
        let mapped = m.map(Kind::S3Bucket, &bad);
        assert!(mapped.entities.is_empty());
        assert_eq!(mapped.errors[0].object, "b1");
        assert_eq!(mapped.errors[0].field, "properties.bad");
        assert_eq!(mapped.errors[0].expression, ".Properties.Tags | .[0].x");
        assert_eq!(m.map(Kind::S3Bucket, &good).entities.len(), 1);
    }

    #[test]
    fn invalid_identifiers_are_reported_not_sent() {
        let m = mapper(
            r#"
resources:
  - kind: AWS::S3::Bucket
    port: {entity: {mappings: {identifier: '"bad id"', blueprint: '"s3Bucket"'}}}
"#,
        );
        let mapped = m.map(Kind::S3Bucket, &json!({"Properties": {"BucketName": "b"}}));
        assert!(mapped.entities.is_empty());
        assert!(mapped.errors[0]
            .message
            .contains("not a valid Port identifier"));
    }

    #[test]
    fn items_to_parse_runs_the_query_per_item_as_ocean_does() {
        let m = mapper(
            r#"
resources:
  - kind: AWS::ECS::Cluster
    selector: {query: '.item != "FARGATE_SPOT"'}
    port:
      itemsToParse: .Properties.CapacityProviders
      entity: {mappings: {identifier: .item, blueprint: '"provider"', properties: {cluster: .Properties.ClusterName}}}
"#,
        );
        let raw = json!({"Type": "AWS::ECS::Cluster", "Properties": {"ClusterName": "c", "CapacityProviders": ["FARGATE", "FARGATE_SPOT"]}});
        let mapped = m.map(Kind::EcsCluster, &raw);
        assert!(mapped.errors.is_empty(), "{:?}", mapped.errors);
        assert_eq!(mapped.entities.len(), 1);
        assert_eq!(mapped.entities[0].identifier, "FARGATE");
        assert_eq!(mapped.entities[0].properties["cluster"], json!("c"));
    }

    #[test]
    fn invalid_relation_targets_are_reported_not_sent() {
        let m = mapper(
            r#"
resources:
  - kind: AWS::S3::Bucket
    port: {entity: {mappings: {identifier: .Properties.BucketName, blueprint: '"s3Bucket"', relations: {owner: '.Properties.Owner', many: '.Properties.List'}}}}
"#,
        );
        let ok = m.map(
            Kind::S3Bucket,
            &json!({"Properties": {"BucketName": "b", "Owner": null, "List": ["x", "y"]}}),
        );
        assert!(ok.errors.is_empty(), "{:?}", ok.errors);
        for bad in [
            json!({"Properties": {"BucketName": "b", "Owner": "has space"}}),
            json!({"Properties": {"BucketName": "b", "List": ["x", 1]}}),
            json!({"Properties": {"BucketName": "b", "Owner": 12}}),
        ] {
            let mapped = m.map(Kind::S3Bucket, &bad);
            assert!(mapped.entities.is_empty(), "{bad}");
            assert!(
                mapped.errors[0].field.starts_with("relations."),
                "{:?}",
                mapped.errors
            );
            assert_eq!(mapped.errors[0].object, "b");
        }
    }

    #[test]
    fn aws_v3_default_action_names_and_unknown_keys_only_warn() {
        let m = mapper(
            r#"
entityDeletionThreshold: null
resources:
  - kind: AWS::S3::Bucket
    selector: {query: 'true', includeActions: [GetBucketTaggingAction, GetBucketPublicAccessBlockAction]}
    port: {entity: {mappings: {identifier: .x, blueprint: '"b"'}}, itemsToParseName: item}
"#,
        );
        assert_eq!(m.config().entity_deletion_threshold, 0.9);
        assert_eq!(
            m.include_actions(Kind::S3Bucket),
            BTreeSet::from(["GetPublicAccessBlockAction".to_string()])
        );
        let warnings = m.warnings().join("\n");
        assert!(
            warnings.contains("itemsToParseName: unknown key"),
            "{warnings}"
        );
        assert!(
            warnings.contains("`GetBucketTaggingAction` is always made"),
            "{warnings}"
        );
        assert!(
            warnings.contains("older name of `GetPublicAccessBlockAction`"),
            "{warnings}"
        );
    }

    #[test]
    fn load_time_validation_names_resource_field_and_expression() {
        let cases = [
            ("resources: [{kind: 'AWS::Nope::Thing', port: {entity: {mappings: {identifier: .x, blueprint: '\"b\"'}}}}]", "resources[0] (AWS::Nope::Thing) kind"),
            ("resources: [{kind: 'AWS::S3::Bucket', selector: {includeActions: [GetBucketTaggingActio]}, port: {entity: {mappings: {identifier: .x, blueprint: '\"b\"'}}}}]", "GetBucketTaggingActio"),
            ("resources: [{kind: 'AWS::S3::Bucket', port: {entity: {mappings: {identifier: '.x +', blueprint: '\"b\"'}}}}]", "port.entity.mappings.identifier"),
            ("resources: [{kind: 'AWS::S3::Bucket', port: {entity: {mappings: {identifier: .x, blueprint: '\"bad=bp\"'}}}}]", "not a valid Port blueprint identifier"),
            ("resources: [{kind: 'AWS::S3::Bucket', selector: {regionPolicy: {allow: [us-east-9]}}, port: {entity: {mappings: {identifier: .x, blueprint: '\"b\"'}}}}]", "us-east-9"),
            ("resources: [{kind: 'AWS::S3::Bucket', port: {entity: {mappings: [{identifier: .x, blueprint: '\"b\"'}, {identifier: .x, blueprint: '\"b\"', properties: {p: 'nope('}}]}}}]", "port.entity.mappings[1].properties.p"),
            ("entityDeletionThreshold: 2\nresources: []", "entityDeletionThreshold"),
            ("resources: {}", "not valid YAML/JSON"),
            ("resources: [{kind: 'AWS::S3::Bucket', port: {entity: {mappings: {identifier: .x, blueprint: '\"b\"', properties: {'a.b': .x}}}}}]", "properties.a.b: `a.b` is not a valid Port property identifier"),
            ("resources: [{kind: 'AWS::ECS::Cluster', selector: {includeActions: [GetClusterPendingTasksAction]}, port: {entity: {mappings: {identifier: .x, blueprint: '\"b\"'}}}}]", "AWS::ECS::Cluster supports none"),
            ("resources: [{kind: 'AWS::S3::Bucket', selector: {maxConcurrentAccounts: 0}, port: {entity: {mappings: {identifier: .x, blueprint: '\"b\"'}}}}]", "selector.maxConcurrentAccounts"),
            ("resources: [{kind: 'AWS::S3::Bucket', selector: {query: '.a ==' }, port: {entity: {mappings: {identifier: .x, blueprint: '\"b\"'}}}}]", "selector.query"),
            ("resources: [{kind: 'AWS::S3::Bucket', port: {itemsToParse: '.[', entity: {mappings: {identifier: .x, blueprint: '\"b\"'}}}}]", "port.itemsToParse"),
        ];
        for (yaml, expected) in cases {
            let err = Mapper::from_yaml(yaml).unwrap_err().to_string();
            assert!(err.contains(expected), "{err:?} lacks {expected:?}");
        }
    }
}
