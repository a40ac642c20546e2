//! [`Mapper`]: a loaded port-app-config with every JQ expression compiled ([`super::compile`]),
//! and what the rest of the sync asks of it: kinds, blueprints, actions, region policies, and
//! mapping one raw object ([`super::evaluate`]).

use super::compile::CompiledResource;
use super::config::PortAppConfig;
use super::jq::Input;
use super::{keys, Mapped, MappedPage, MappingConfigError, DEFAULT_PORT_APP_CONFIG};
use crate::kinds::Kind;
use serde_json::Value;
use std::collections::BTreeSet;

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
        let mut warnings = Vec::new();
        let resources = config
            .resources
            .iter()
            .enumerate()
            .map(|(index, res)| CompiledResource::compile(index, res, &mut warnings))
            .collect::<Result<Vec<_>, _>>()?;
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
        let mut kinds: Vec<Kind> = self.resources.iter().map(|r| r.kind).collect();
        kinds.sort_unstable();
        kinds.dedup();
        kinds
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

    /// The window of a history kind: the largest `selector.historyDays` of its resources, else
    /// [`crate::kinds::fetch::DEFAULT_HISTORY_DAYS`].
    pub fn history_days(&self, kind: Kind) -> u32 {
        self.resources
            .iter()
            .filter(|r| r.kind == kind)
            .filter_map(|r| r.history_days)
            .max()
            .unwrap_or(crate::kinds::fetch::DEFAULT_HISTORY_DAYS)
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

    /// Maps a page of raw objects of `kind` ([`Mapper::map`] each), the entities grouped by
    /// blueprint.
    pub fn map_page(&self, kind: Kind, page: &[Value]) -> MappedPage {
        let mut out = MappedPage::default();
        for raw in page {
            let mapped = self.map(kind, raw);
            out.errors.extend(mapped.errors);
            for e in mapped.entities {
                out.by_blueprint
                    .entry(e.blueprint.clone())
                    .or_default()
                    .push(e);
            }
        }
        out
    }

    /// Maps one raw object of `kind` through every resource of that kind.
    pub fn map(&self, kind: Kind, raw: &Value) -> Mapped {
        let mut out = Mapped::default();
        let input = Input::new(raw);
        for res in self.resources_for(kind, raw) {
            res.map_into(&input, raw, &mut out);
        }
        out
    }

    /// The resources of `kind` whose region policy allows the object's region
    /// (`__ExtraContext.Region`; objects without one, or in `global`, are always allowed).
    fn resources_for<'a>(
        &'a self,
        kind: Kind,
        raw: &'a Value,
    ) -> impl Iterator<Item = &'a CompiledResource> + 'a {
        let region = raw
            .get("__ExtraContext")
            .and_then(|e| e.get("Region"))
            .and_then(Value::as_str);
        self.resources.iter().filter(move |res| {
            res.kind == kind
                && !region.is_some_and(|r| r != "global" && !res.region_policy.allows(r))
        })
    }

    /// The `(blueprint, identifier)` of the entities the mapping gives an object of `kind`,
    /// selectors aside (see `identify_into`): the entities of a resource that is gone. Sorted,
    /// without duplicates.
    pub fn identify(&self, kind: Kind, raw: &Value) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let input = Input::new(raw);
        for res in self.resources_for(kind, raw) {
            res.identify_into(&input, &mut out);
        }
        out.sort();
        out.dedup();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn mapper(yaml: &str) -> Mapper {
        Mapper::from_yaml(yaml).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn builtin_mapping_compiles_and_covers_the_seed_kinds() {
        let m = Mapper::builtin();
        // The built-in mapping stays at the four seed kinds; the others have examples in
        // docs/examples/.
        let seed = [
            Kind::AccountInfo,
            Kind::S3Bucket,
            Kind::Ec2Instance,
            Kind::EcsCluster,
        ];
        assert_eq!(m.kinds(), seed.to_vec());
        assert_eq!(
            m.blueprints(Kind::Ec2Instance).unwrap(),
            BTreeSet::from(["ec2Instance".to_string()])
        );
    }

    #[test]
    fn builtin_mapping_is_evaluated_without_jaq() {
        // Every expression of the built-in mapping is in the fast subset: a function starts
        // without compiling jq's standard library, and mapping converts no object to jaq values.
        let m = Mapper::builtin();
        for r in &m.resources {
            let mut exprs = vec![&r.query];
            for mapping in &r.mappings {
                exprs.extend([&mapping.identifier, &mapping.blueprint]);
                exprs.extend(
                    mapping
                        .title
                        .iter()
                        .chain(&mapping.team)
                        .chain(&mapping.icon),
                );
                exprs.extend(mapping.properties.iter().map(|(_, e)| e));
                exprs.extend(mapping.relations.iter().map(|(_, e)| e));
            }
            for e in exprs {
                assert!(e.is_fast(), "{} is not in the fast subset", e.source());
            }
        }
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

    /// A page maps to its entities per blueprint, each blueprint's in the page's order, and an
    /// object that fails to map is an error that leaves the rest of the page mapped.
    #[test]
    fn a_page_maps_to_entities_per_blueprint_in_order_and_its_errors() {
        let m = mapper(
            r#"
resources:
  - kind: AWS::EC2::Instance
    port: {entity: {mappings: [
      {identifier: .Properties.InstanceId, blueprint: '"ec2Instance"'},
      {identifier: '.Properties.InstanceId + "-host"', blueprint: '"host"'}]}}
"#,
        );
        let object = |id: Value| {
            json!({"Type": "AWS::EC2::Instance", "Properties": {"InstanceId": id},
                   "__ExtraContext": {"Region": "us-east-1"}})
        };
        let page = [object(json!("i-2")), object(json!(7)), object(json!("i-1"))];
        let mapped = m.map_page(Kind::Ec2Instance, &page);
        let ids = |blueprint: &str| -> Vec<String> {
            mapped.by_blueprint[blueprint]
                .iter()
                .map(|e| e.identifier.clone())
                .collect()
        };
        assert_eq!(
            mapped.by_blueprint.keys().collect::<Vec<_>>(),
            ["ec2Instance", "host"]
        );
        assert_eq!(ids("ec2Instance"), ["i-2", "i-1"]);
        assert_eq!(ids("host"), ["i-2-host", "i-1-host"]);
        assert_eq!(mapped.errors.len(), 2, "{:?}", mapped.errors);
        assert!(mapped.errors[0].message.contains("must be a string, got 7"));
    }

    #[test]
    fn identify_ignores_the_selector_and_the_fields_a_gone_object_lacks() {
        let m = mapper(
            r#"
resources:
  - kind: AWS::EC2::Instance
    selector:
      query: '.Properties.State.Name == "running"'
    port: {entity: {mappings: {identifier: .Properties.InstanceId, blueprint: '"ec2Instance"',
      properties: {type: .Properties.InstanceType | ascii_downcase}}}}
"#,
        );
        let gone = json!({"Type": "AWS::EC2::Instance", "Properties": {"InstanceId": "i-1"},
            "__ExtraContext": {"Region": "us-east-1"}});
        assert!(m.map(Kind::Ec2Instance, &gone).entities.is_empty());
        assert_eq!(
            m.identify(Kind::Ec2Instance, &gone),
            [("ec2Instance".to_owned(), "i-1".to_owned())]
        );
        let no_id = json!({"Type": "AWS::EC2::Instance", "Properties": {}});
        assert!(m.identify(Kind::Ec2Instance, &no_id).is_empty());
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
    fn items_to_parse_that_gives_no_array_is_reported_and_null_gives_nothing() {
        for items in [
            ".Properties.CapacityProviders",
            ".Properties.CapacityProviders | ascii_downcase",
        ] {
            let m = mapper(&format!(
                "resources:\n  - kind: AWS::ECS::Cluster\n    port:\n      itemsToParse: '{items}'\n      entity: {{mappings: {{identifier: .item, blueprint: '\"provider\"'}}}}\n"
            ));
            let text = json!({"Type": "AWS::ECS::Cluster", "Properties": {"ClusterName": "c", "CapacityProviders": "FARGATE"}});
            let mapped = m.map(Kind::EcsCluster, &text);
            assert!(mapped.entities.is_empty());
            assert_eq!(mapped.errors.len(), 1, "{items}: {:?}", mapped.errors);
            assert_eq!(mapped.errors[0].field, "port.itemsToParse");
            assert!(
                mapped.errors[0]
                    .message
                    .contains("must give an array, gave \"")
                    && mapped.errors[0]
                        .message
                        .to_lowercase()
                        .ends_with("gave \"fargate\""),
                "{items}: {}",
                mapped.errors[0].message
            );
            assert!(m.identify(Kind::EcsCluster, &text).is_empty());
            let list = json!({"Type": "AWS::ECS::Cluster", "Properties": {"ClusterName": "c", "CapacityProviders": ["A", "B"]}});
            if !items.contains("ascii_downcase") {
                assert_eq!(
                    m.identify(Kind::EcsCluster, &list),
                    [
                        ("provider".to_owned(), "A".to_owned()),
                        ("provider".to_owned(), "B".to_owned())
                    ]
                );
            }
        }
        let m = mapper(
            "resources:\n  - kind: AWS::ECS::Cluster\n    port:\n      itemsToParse: .Properties.CapacityProviders\n      entity: {mappings: {identifier: .item, blueprint: '\"provider\"'}}\n",
        );
        let none = json!({"Type": "AWS::ECS::Cluster", "Properties": {"ClusterName": "c"}});
        let mapped = m.map(Kind::EcsCluster, &none);
        assert!(
            mapped.entities.is_empty() && mapped.errors.is_empty(),
            "{:?}",
            mapped.errors
        );
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
