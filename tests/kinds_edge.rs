//! The edge and stack kinds (Auto Scaling groups, CloudFormation stacks, API Gateway REST APIs per
//! region; Route 53 hosted zones and CloudFront distributions per account) end to end: moto seeded
//! by `tests/support/kind_seeds/edge.py` in two accounts and two regions, the `port-aws-sync`
//! binary's real sync into the strict fake Port with the kinds' `docs/examples/` mappings and
//! blueprints (`INITIALIZE_PORT_RESOURCES`). The network kinds and EC2 instances (one per region) are
//! synced too, so the relations of an Auto Scaling group (subnets) and of an instance (subnet, VPC,
//! security groups) point at entities of the catalog. Asserted: the catalog holds
//! exactly the seeded resources of every kind with the example's identifier, account relation and
//! tags, the stacks' resources (`ListStackResourcesAction`) and the distributions' tags
//! (`ListTagsForResourceAction`) as the examples ask for them.

mod common;

use common::kinds::*;
use common::*;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

/// A kind of this file: name, slug, seed spec key, whether it is per account.
struct EdgeKind {
    name: &'static str,
    slug: &'static str,
    spec_key: &'static str,
    per_account: bool,
}

const KINDS: &[EdgeKind] = &[
    EdgeKind {
        name: "AWS::AutoScaling::AutoScalingGroup",
        slug: "autoscaling-group",
        spec_key: "autoscaling_groups",
        per_account: false,
    },
    EdgeKind {
        name: "AWS::CloudFormation::Stack",
        slug: "cloudformation-stack",
        spec_key: "cloudformation_stacks",
        per_account: false,
    },
    EdgeKind {
        name: "AWS::ApiGateway::RestApi",
        slug: "apigateway-rest-api",
        spec_key: "apigateway_rest_apis",
        per_account: false,
    },
    EdgeKind {
        name: "AWS::Route53::HostedZone",
        slug: "route53-hosted-zone",
        spec_key: "route53_hosted_zones",
        per_account: true,
    },
    EdgeKind {
        name: "AWS::CloudFront::Distribution",
        slug: "cloudfront-distribution",
        spec_key: "cloudfront_distributions",
        per_account: true,
    },
];

/// Regional kinds synced alongside: the targets of the Auto Scaling groups' and instances'
/// relations, and the instances.
const RELATED: [&str; 5] = [
    "ec2-subnet",
    "ec2-vpc",
    "ec2-security-group",
    "elbv2-target-group",
    "ec2-instance",
];

fn example(slug: &str) -> (Value, String) {
    let resource = example_resource(slug);
    let blueprint = blueprint_of(&resource);
    (resource, blueprint)
}

fn seed_spec() -> Value {
    let regional = KINDS.iter().filter(|k| !k.per_account);
    let mut region = two_of_each(regional.map(|k| k.spec_key));
    region.insert("ec2_instances".into(), json!(1));
    region.insert("ec2_default_security_group".into(), json!(true));
    let account = json!({"route53_hosted_zones": true, "cloudfront_distributions": true});
    two_account_seed(region, account)
}

/// identifier -> account of every seeded resource of `kind`.
fn seeded(seed: &Value, kind: &EdgeKind) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (key, account) in [("a", ACCOUNTS[0]), ("b", ACCOUNTS[1])] {
        let made = &seed["resources"][key][kind.spec_key];
        let lists: Vec<Vec<String>> = if kind.per_account {
            vec![strs(made)]
        } else {
            REGIONS.iter().map(|r| strs(&made[*r])).collect()
        };
        for ids in lists {
            assert_eq!(ids.len(), 2, "{} seeded in {account}: {made}", kind.name);
            out.extend(ids.into_iter().map(|id| (id, account.to_owned())));
        }
    }
    out
}

fn env(moto: &Moto, port: &FakePort) -> Vec<(String, String)> {
    let slugs = KINDS.iter().map(|k| k.slug).chain(RELATED);
    let resources: Vec<Value> = slugs.map(|s| example(s).0).collect();
    let kinds: Vec<String> = resources
        .iter()
        .map(|r| r["kind"].as_str().unwrap().to_owned())
        .collect();
    let mapping = json!({ "createMissingRelatedEntities": true, "resources": resources });
    let env = kinds_env(moto, kinds.iter().map(String::as_str), mapping.to_string());
    let mut env = with_port(env, port);
    env.push(("INITIALIZE_PORT_RESOURCES".into(), "true".into()));
    env
}

#[test]
fn edge_kinds_reach_the_catalog_from_two_accounts_and_two_regions() {
    let moto = Moto::start();
    let seed = moto.seed(&seed_spec());
    let port = FakePort::start();
    adopt_instance_example(&port);
    let summary = std::env::temp_dir().join(format!("pas-kinds-edge-{}.json", std::process::id()));
    let out = run_cli(
        &["sync", "--summary-json", summary.to_str().unwrap()],
        &env(&moto, &port),
    );
    let log = stderr(&out);
    assert!(out.status.success(), "{log}");
    assert!(!log.contains("WARN"), "no unit may warn: {log}");
    let summary: Value = serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    // Per account: 3 + 5 regional kinds in 2 regions, 2 global kinds.
    let units = ((3 + RELATED.len()) * REGIONS.len() + 2) * ACCOUNTS.len();
    assert_eq!(summary["unitsTotal"], units, "{summary:#}");
    assert_eq!(summary["unitsOk"], units, "{summary:#}");
    port.assert_no_schema_violations();

    let subnets = port.entities(&example("ec2-subnet").1);
    for kind in KINDS {
        let want = seeded(&seed, kind);
        let entities = port.entities(&example(kind.slug).1);
        let got: BTreeSet<&String> = entities.keys().collect();
        assert_eq!(got, want.keys().collect(), "{} in the catalog", kind.name);
        for (id, entity) in &entities {
            assert_eq!(entity["relations"]["account"], want[id].as_str(), "{id}");
            check(kind, id, entity, &subnets);
        }
        let tagged = entities.values().filter(|e| is_tagged(kind, e)).count();
        assert_eq!(
            tagged,
            2 * if kind.per_account { 1 } else { 2 },
            "{}",
            kind.name
        );
    }
    check_instances(&seed, &port);
}

/// The EC2 instance kind is a seed kind: `INITIALIZE_PORT_RESOURCES` would create its built-in
/// blueprint, which has no network relations. The catalog here has the example's (a user who
/// adopted the example), with the blueprints its relations point at.
fn adopt_instance_example(port: &FakePort) {
    let file = |slug: &str| {
        let path = root().join(format!("docs/examples/{slug}/{slug}-blueprint.json"));
        serde_json::from_str::<Value>(&std::fs::read_to_string(path).unwrap()).unwrap()
    };
    let defaults = std::fs::read_to_string(root().join("src/port/default_blueprints.json"));
    let defaults: Value = serde_json::from_str(&defaults.unwrap()).unwrap();
    let account = defaults
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["identifier"] == "awsAccount")
        .unwrap()
        .clone();
    let mut blueprints = vec![account];
    blueprints.extend(
        [
            "ec2-vpc",
            "ec2-subnet",
            "ec2-security-group",
            "ec2-instance",
        ]
        .map(file),
    );
    port.control("seed", &json!({ "blueprints": blueprints }));
}

/// Every seeded instance relates to its subnet, VPC and security groups, all in the catalog.
fn check_instances(seed: &Value, port: &FakePort) {
    let catalog = |slug: &str| port.entities(&example(slug).1);
    let (subnets, vpcs, groups) = (
        catalog("ec2-subnet"),
        catalog("ec2-vpc"),
        catalog("ec2-security-group"),
    );
    let instances = catalog("ec2-instance");
    let mut seeded = BTreeSet::new();
    for key in ["a", "b"] {
        for region in REGIONS {
            seeded.extend(strs(&seed["resources"][key]["ec2_instances"][region]));
        }
    }
    assert_eq!(seeded.len(), 4, "{seed}");
    assert_eq!(instances.keys().cloned().collect::<BTreeSet<_>>(), seeded);
    for (id, instance) in &instances {
        let relations = &instance["relations"];
        let subnet = relations["subnet"].as_str().unwrap_or_default();
        assert!(subnets.contains_key(subnet), "{id}: subnet {relations}");
        let vpc = relations["vpc"].as_str().unwrap_or_default();
        assert!(vpcs.contains_key(vpc), "{id}: VPC {relations}");
        assert_eq!(
            subnets[subnet]["relations"]["vpc"], vpc,
            "{id}: {relations}"
        );
        let sgs = strs(&relations["securityGroups"]);
        assert!(!sgs.is_empty(), "{id}: {relations}");
        for sg in sgs {
            assert!(groups.contains_key(&sg), "{id}: security group {sg}");
        }
    }
}

/// Whether the entity carries the seeded `team=orders` tag (one of each kind per scope).
fn is_tagged(kind: &EdgeKind, entity: &Value) -> bool {
    let tags = &entity["properties"]["tags"];
    match kind.name {
        "AWS::ApiGateway::RestApi" => tags == &json!({"team": "orders"}),
        _ => tags == &json!([{"Key": "team", "Value": "orders"}]),
    }
}

/// What each kind's example makes of the resource beyond its identifier.
fn check(kind: &EdgeKind, id: &str, entity: &Value, subnets: &serde_json::Map<String, Value>) {
    let p = &entity["properties"];
    let relations = &entity["relations"];
    match kind.name {
        "AWS::AutoScaling::AutoScalingGroup" => {
            assert!(
                p["launchTemplateId"].as_str().unwrap().starts_with("lt-"),
                "{entity}"
            );
            let related = strs(&relations["subnets"]);
            assert_eq!(related.len(), 2, "{entity}");
            for subnet in related {
                assert!(
                    subnets.contains_key(&subnet),
                    "{id}: subnet {subnet} not in the catalog"
                );
            }
        }
        "AWS::CloudFormation::Stack" => {
            let name = entity["title"].as_str().unwrap();
            assert_eq!(p["status"], "CREATE_COMPLETE", "{entity}");
            assert_eq!(p["resourceTypes"], json!(["AWS::SNS::Topic"]), "{entity}");
            let topic = strs(&p["resourceIds"]);
            assert!(
                topic.len() == 1 && topic[0].ends_with(&format!(":{name}-topic")),
                "{entity}"
            );
        }
        "AWS::ApiGateway::RestApi" => {
            let api_id = p["id"].as_str().unwrap();
            assert!(
                id.starts_with("arn:aws:apigateway:")
                    && id.ends_with(&format!("::/restapis/{api_id}")),
                "{id}"
            );
            assert_eq!(p["endpointTypes"], json!(["REGIONAL"]), "{entity}");
        }
        "AWS::Route53::HostedZone" => {
            assert!(id.starts_with("/hostedzone/"), "{id}");
            let account = relations["account"].as_str().unwrap();
            assert!(
                entity["title"]
                    .as_str()
                    .unwrap()
                    .ends_with(&format!("-{account}.example.com")),
                "{entity}"
            );
            assert_eq!(p["privateZone"], false, "{entity}");
        }
        "AWS::CloudFront::Distribution" => {
            let account = relations["account"].as_str().unwrap();
            assert!(
                id.starts_with(&format!("arn:aws:cloudfront::{account}:distribution/")),
                "{id}"
            );
            assert!(
                p["domainName"]
                    .as_str()
                    .unwrap()
                    .ends_with(".cloudfront.net"),
                "{entity}"
            );
        }
        other => panic!("unexpected kind {other}"),
    }
}
