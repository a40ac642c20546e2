//! The network kinds (VPCs, subnets, security groups, load balancers, target groups) end to end:
//! the `port-aws-sync` binary against moto, seeded by `tests/support/kind_seeds/ec2_network.py`
//! and `elbv2.py` in two accounts and two regions, mapped by the kinds' `docs/examples/` mappings.
//! moto pre-creates a default VPC, its subnets and `default` security groups in every region: they
//! are in the catalog too. Asserted: every resource of the region and nothing else, with the
//! example's identifier and relations (to entities of the same run), each raw object's
//! `__ExtraContext`, and the seeded tags.

mod common;

use common::kinds::*;
use common::*;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

/// Kind, slug, seed spec key, the `Properties` key the example identifies it by, whether the
/// region has pre-created ones, and whether a raw object is one of them.
struct NetworkKind {
    name: &'static str,
    slug: &'static str,
    spec_key: &'static str,
    id_key: &'static str,
    has_defaults: bool,
    is_default: fn(&Value) -> bool,
}

const KINDS: &[NetworkKind] = &[
    NetworkKind {
        name: "AWS::EC2::VPC",
        slug: "ec2-vpc",
        spec_key: "ec2_vpcs",
        id_key: "VpcId",
        has_defaults: true,
        is_default: |p| p["IsDefault"] == true,
    },
    NetworkKind {
        name: "AWS::EC2::Subnet",
        slug: "ec2-subnet",
        spec_key: "ec2_subnets",
        id_key: "SubnetId",
        has_defaults: true,
        is_default: |p| p["DefaultForAz"] == true,
    },
    NetworkKind {
        name: "AWS::EC2::SecurityGroup",
        slug: "ec2-security-group",
        spec_key: "ec2_security_groups",
        id_key: "GroupId",
        has_defaults: true,
        is_default: |p| p["GroupName"] == "default",
    },
    NetworkKind {
        name: "AWS::ElasticLoadBalancingV2::LoadBalancer",
        slug: "elbv2-load-balancer",
        spec_key: "elbv2_load_balancers",
        id_key: "LoadBalancerArn",
        has_defaults: false,
        is_default: |_| false,
    },
    NetworkKind {
        name: "AWS::ElasticLoadBalancingV2::TargetGroup",
        slug: "elbv2-target-group",
        spec_key: "elbv2_target_groups",
        id_key: "TargetGroupArn",
        has_defaults: false,
        is_default: |_| false,
    },
];

/// Every identifier of every kind of the run, by kind name.
type Catalog = BTreeMap<&'static str, BTreeSet<String>>;

/// The example mapping of a kind (`docs/examples/<slug>/`).
fn example(kind: &NetworkKind) -> Value {
    let resource = example_resource(kind.slug);
    assert_eq!(resource["kind"], kind.name, "{}", kind.slug);
    resource
}

fn blueprint(kind: &NetworkKind) -> String {
    blueprint_of(&example(kind))
}

fn env(moto: &Moto) -> Vec<(String, String)> {
    let resources: Vec<Value> = KINDS.iter().map(example).collect();
    let mapping = json!({ "resources": resources }).to_string();
    kinds_env(moto, KINDS.iter().map(|k| k.name), mapping)
}

/// Every id the seeder reported, with the (account, region) it was made in.
fn seeded_scopes(seeded: &Value, kind: &NetworkKind) -> BTreeMap<String, (String, String)> {
    let mut scopes = BTreeMap::new();
    for (key, account) in [("a", ACCOUNTS[0]), ("b", ACCOUNTS[1])] {
        for region in REGIONS {
            let ids = strs(&seeded["resources"][key][kind.spec_key][region]);
            let least = if kind.has_defaults { 3 } else { 2 };
            assert!(
                ids.len() >= least,
                "{} in {key}/{region}: {ids:?}",
                kind.name
            );
            for id in ids {
                scopes.insert(id, (account.to_owned(), region.to_owned()));
            }
        }
    }
    scopes
}

#[test]
fn network_kinds_are_fetched_with_defaults_in_two_accounts_and_two_regions() {
    let DryRuns {
        seeded,
        entities,
        raws,
    } = seed_and_dry_run("kinds-network", KINDS.iter().map(|k| k.spec_key), env);

    let catalog: Catalog = KINDS
        .iter()
        .map(|k| (k.name, seeded_scopes(&seeded, k).into_keys().collect()))
        .collect();
    for kind in KINDS {
        let scopes = seeded_scopes(&seeded, kind);
        let expected: BTreeSet<String> = scopes.keys().cloned().collect();
        let (mapped, ids) = of_blueprint(&entities, &blueprint(kind));
        assert_eq!(ids, expected, "{} identifiers", kind.name);
        for entity in &mapped {
            check_relations(kind, entity, &scopes, &catalog);
        }

        let objects: Vec<&Value> = raws.iter().filter(|r| r["Type"] == kind.name).collect();
        assert_eq!(objects.len(), expected.len(), "{} raw objects", kind.name);
        for object in &objects {
            check_raw(kind, object, &scopes);
        }
        check_scopes(kind, &objects);
    }
}

/// The account relation, and every other relation of the example to entities of the run.
fn check_relations(
    kind: &NetworkKind,
    entity: &Value,
    scopes: &BTreeMap<String, (String, String)>,
    catalog: &Catalog,
) {
    let id = entity["identifier"].as_str().unwrap();
    let relations = &entity["relations"];
    assert_eq!(relations["account"], scopes[id].0.as_str(), "{id}");
    let targets: &[(&str, &str)] = match kind.name {
        "AWS::EC2::VPC" => &[],
        "AWS::ElasticLoadBalancingV2::LoadBalancer" => &[
            ("vpc", "AWS::EC2::VPC"),
            ("subnets", "AWS::EC2::Subnet"),
            ("securityGroups", "AWS::EC2::SecurityGroup"),
        ],
        "AWS::ElasticLoadBalancingV2::TargetGroup" => &[
            ("vpc", "AWS::EC2::VPC"),
            ("loadBalancers", "AWS::ElasticLoadBalancingV2::LoadBalancer"),
        ],
        _ => &[("vpc", "AWS::EC2::VPC")],
    };
    for (relation, target) in targets {
        let related = match &relations[*relation] {
            Value::Array(_) => strs(&relations[*relation]),
            other => vec![other.as_str().unwrap_or_default().to_owned()],
        };
        for related in related {
            let known = catalog[target].contains(&related);
            assert!(known, "{id}: {relation} {related} is not in the catalog");
        }
    }
}

/// The raw object's `__ExtraContext` is the scope it was made in.
fn check_raw(kind: &NetworkKind, object: &Value, scopes: &BTreeMap<String, (String, String)>) {
    let id = object["Properties"][kind.id_key].as_str().unwrap();
    let (account, region) = &scopes[id];
    assert_eq!(
        object["__ExtraContext"],
        json!({"AccountId": account, "Region": region, "Partition": "aws"}),
        "{id}"
    );
    let owner = match object["Properties"]["OwnerId"].as_str() {
        Some(owner) => owner.to_owned(),
        None => id.split(':').nth(4).unwrap_or_default().to_owned(),
    };
    assert_eq!(&owner, account, "{id}");
}

/// Per account and region: the two seeded resources (with their tags) and moto's defaults.
fn check_scopes(kind: &NetworkKind, objects: &[&Value]) {
    for account in ACCOUNTS {
        for region in REGIONS {
            let here: Vec<&Value> = objects
                .iter()
                .copied()
                .filter(|o| o["__ExtraContext"]["AccountId"] == account)
                .filter(|o| o["__ExtraContext"]["Region"] == region)
                .map(|o| &o["Properties"])
                .collect();
            let seeded = here.iter().filter(|p| seed_tag(p).is_some()).count();
            let defaults = here.iter().filter(|p| (kind.is_default)(p)).count();
            assert_eq!(seeded, 2, "{} seeded in {account}/{region}", kind.name);
            let least = usize::from(kind.has_defaults);
            assert!(
                defaults >= least,
                "{} defaults in {account}/{region}",
                kind.name
            );
            if kind.name == "AWS::EC2::VPC" {
                assert_eq!(defaults, 1, "one default VPC in {account}/{region}");
            }
            if kind.name == "AWS::ElasticLoadBalancingV2::TargetGroup" {
                let behind = here.iter().filter(|p| p["LoadBalancerArns"][0].is_string());
                assert_eq!(behind.count(), 1, "target groups behind a listener");
            }
        }
    }
}

fn seed_tag(props: &Value) -> Option<&str> {
    let tags = props["Tags"].as_array()?;
    let tag = tags.iter().find(|t| t["Key"] == "seed")?;
    tag["Value"].as_str()
}
