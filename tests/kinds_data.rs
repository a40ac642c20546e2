//! The data kinds (SQS queues, SNS topics, RDS instances and clusters, DynamoDB tables,
//! ElastiCache clusters, MemoryDB users) end to end: the `port-aws-sync` binary against moto,
//! seeded by `tests/support/kind_seeds` in two accounts and two regions, mapped by the kinds'
//! `docs/examples/` mappings (with their tag actions switched on). Asserted: every seeded
//! resource and nothing else, with the identifier and title the example mapping gives it, and
//! each raw object's `__ExtraContext` and tags.

mod common;

use common::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;

const ACCOUNTS: [&str; 2] = ["111111111111", "222222222222"];
const REGIONS: [&str; 2] = ["us-east-1", "eu-west-1"];

/// Kind, slug, seed spec key, the optional tag action (canonical aws-v3 name), and where the
/// tags land in `Properties`.
struct DataKind {
    name: &'static str,
    slug: &'static str,
    spec_key: &'static str,
    tag_action: Option<&'static str>,
    tags: &'static str,
}

const KINDS: &[DataKind] = &[
    DataKind {
        name: "AWS::SQS::Queue",
        slug: "sqs-queue",
        spec_key: "sqs_queues",
        tag_action: Some("ListQueueTagsAction"),
        tags: "Tags",
    },
    DataKind {
        name: "AWS::SNS::Topic",
        slug: "sns-topic",
        spec_key: "sns_topics",
        tag_action: Some("GetTopicTagsAction"),
        tags: "Tags",
    },
    DataKind {
        name: "AWS::RDS::DBInstance",
        slug: "rds-db-instance",
        spec_key: "rds_db_instances",
        tag_action: None,
        tags: "Tags",
    },
    DataKind {
        name: "AWS::RDS::DBCluster",
        slug: "rds-db-cluster",
        spec_key: "rds_db_clusters",
        tag_action: None,
        tags: "Tags",
    },
    DataKind {
        name: "AWS::DynamoDB::Table",
        slug: "dynamodb-table",
        spec_key: "dynamodb_tables",
        tag_action: Some("ListTagsOfResourceAction"),
        tags: "Tags",
    },
    DataKind {
        name: "AWS::ElastiCache::Cluster",
        slug: "elasticache-cluster",
        spec_key: "elasticache_clusters",
        tag_action: Some("ListTagsForResourceAction"),
        tags: "TagList",
    },
    DataKind {
        name: "AWS::MemoryDB::User",
        slug: "memorydb-user",
        spec_key: "memorydb_users",
        tag_action: Some("ListTagsForMemoryDbUserAction"),
        tags: "TagList",
    },
];

/// The example mapping of a kind (`docs/examples/<slug>/`), with its tag action switched on.
fn example_resource(kind: &DataKind) -> Value {
    let path = root().join(format!("docs/examples/{0}/{0}-mappings.yaml", kind.slug));
    let text = std::fs::read_to_string(&path).unwrap();
    let config: Value = yaml_serde::from_str(&text).unwrap();
    let mut resource = config["resources"][0].clone();
    assert_eq!(resource["kind"], kind.name, "{}", path.display());
    if let Some(action) = kind.tag_action {
        resource["selector"]["includeActions"] = json!([action]);
    }
    resource
}

fn seed_spec() -> Value {
    let mut region = serde_json::Map::new();
    for kind in KINDS {
        region.insert(kind.spec_key.into(), json!(2));
    }
    let regions: serde_json::Map<String, Value> = REGIONS
        .iter()
        .map(|r| ((*r).to_owned(), Value::Object(region.clone())))
        .collect();
    json!({
        "organization": false,
        "role_name": "Reader",
        "accounts": [{"key": "a", "id": ACCOUNTS[0]}, {"key": "b", "id": ACCOUNTS[1]}],
        "resources": {"a": {"regions": regions}, "b": {"regions": regions}}
    })
}

fn env(moto: &Moto) -> Vec<(String, String)> {
    let resources: Vec<Value> = KINDS.iter().map(example_resource).collect();
    let roles: Vec<String> = ACCOUNTS
        .iter()
        .map(|a| format!("arn:aws:iam::{a}:role/Reader"))
        .collect();
    let kinds: Vec<&str> = KINDS.iter().map(|k| k.name).collect();
    let mut env = base_env(moto);
    env.push(("ACCOUNT_ROLE_ARNS".into(), json!(roles).to_string()));
    env.push((
        "REGION_POLICY".into(),
        json!({ "allow": REGIONS }).to_string(),
    ));
    env.push(("KINDS".into(), kinds.join(",")));
    env.push((
        "MAPPING_CONFIG".into(),
        json!({ "resources": resources }).to_string(),
    ));
    env
}

/// Runs a dry run into a file and returns its JSON lines.
fn dry_run(env: &[(String, String)], raw: bool) -> Vec<Value> {
    let dir = std::env::temp_dir().join(format!("pas-kinds-data-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let output = dir.join(if raw { "raw.jsonl" } else { "entities.jsonl" });
    let mut args = vec!["sync", "--dry-run", "--output", output.to_str().unwrap()];
    if raw {
        args.push("--raw");
    }
    let out = run_cli(&args, env);
    let log = stderr(&out);
    assert!(out.status.success(), "{log}");
    assert!(!log.contains("WARN"), "no unit may warn: {log}");
    json_lines(&std::fs::read_to_string(&output).unwrap())
}

/// The name at the end of an ARN (`...:queue-name`, `...:table/name`, `...:user/name`).
fn arn_name(arn: &str) -> &str {
    let last = arn.rsplit(':').next().unwrap_or(arn);
    last.rsplit('/').next().unwrap_or(last)
}

/// (account, region) of an ARN.
fn arn_scope(arn: &str) -> (String, String) {
    let parts: Vec<&str> = arn.split(':').collect();
    (parts[4].to_owned(), parts[3].to_owned())
}

/// Every seeded identifier of a kind, plus MemoryDB's built-in `default` user in each scope.
fn expected_ids(seeded: &Value, kind: &DataKind) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    for (key, account) in [("a", ACCOUNTS[0]), ("b", ACCOUNTS[1])] {
        for region in REGIONS {
            let made = strs(&seeded["resources"][key][kind.spec_key][region]);
            assert_eq!(made.len(), 2, "{} seeded in {key}/{region}", kind.name);
            ids.extend(made);
            if kind.name == "AWS::MemoryDB::User" {
                ids.insert(format!("arn:aws:memorydb:{region}:{account}:user/default"));
            }
        }
    }
    ids
}

#[test]
fn every_data_kind_is_fetched_in_two_accounts_and_two_regions() {
    let moto = Moto::start();
    let seeded = moto.seed(&seed_spec());
    let env = env(&moto);
    let entities = dry_run(&env, false);
    let raws = dry_run(&env, true);

    for kind in KINDS {
        let expected = expected_ids(&seeded, kind);
        let blueprint = example_resource(kind)["port"]["entity"]["mappings"]["blueprint"]
            .as_str()
            .unwrap()
            .trim_matches('"')
            .to_owned();
        let mapped: Vec<&Value> = entities
            .iter()
            .filter(|e| e["blueprint"] == blueprint.as_str())
            .collect();
        let ids: BTreeSet<String> = mapped
            .iter()
            .map(|e| e["identifier"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(ids, expected, "{} identifiers", kind.name);
        for entity in &mapped {
            let id = entity["identifier"].as_str().unwrap();
            assert_eq!(entity["title"], arn_name(id), "{} title of {id}", kind.name);
        }

        let objects: Vec<&Value> = raws.iter().filter(|r| r["Type"] == kind.name).collect();
        assert_eq!(objects.len(), expected.len(), "{} raw objects", kind.name);
        for object in objects {
            check_raw(kind, object, &expected);
        }
    }
}

/// The raw object's identity, `__ExtraContext` and the seeder's tag.
fn check_raw(kind: &DataKind, object: &Value, expected: &BTreeSet<String>) {
    let props = &object["Properties"];
    let arn = [
        "QueueArn",
        "TopicArn",
        "DBInstanceArn",
        "DBClusterArn",
        "TableArn",
        "ARN",
    ]
    .iter()
    .find_map(|k| props[*k].as_str())
    .unwrap_or_else(|| panic!("{} without an ARN: {object}", kind.name));
    assert!(expected.contains(arn), "{arn} was not seeded");
    let (account, region) = arn_scope(arn);
    assert_eq!(
        object["__ExtraContext"],
        json!({"AccountId": account, "Region": region, "Partition": "aws"}),
        "{arn}"
    );
    let name = arn_name(arn);
    if name == "default" {
        return;
    }
    let tags = &props[kind.tags];
    let seed_tag = match kind.name {
        "AWS::SQS::Queue" => tags["seed"] == name,
        _ => tags
            .as_array()
            .into_iter()
            .flatten()
            .any(|t| t["Key"] == "seed" && t["Value"] == name),
    };
    assert!(seed_tag, "{arn}: {} is {tags}", kind.tags);
}
