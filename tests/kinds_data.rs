//! The data kinds (SQS queues, SNS topics, RDS instances and clusters, DynamoDB tables,
//! ElastiCache clusters, MemoryDB users) end to end: the `port-aws-sync` binary against moto,
//! seeded by `tests/support/kind_seeds` in two accounts and two regions, mapped by the kinds'
//! `docs/examples/` mappings (with their tag actions switched on). Asserted: every seeded
//! resource and nothing else, with the identifier and title the example mapping gives it, and
//! each raw object's `__ExtraContext` and tags.

mod common;

use common::kinds::*;
use common::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;

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
fn example(kind: &DataKind) -> Value {
    let mut resource = example_resource(kind.slug);
    assert_eq!(resource["kind"], kind.name, "{}", kind.slug);
    if let Some(action) = kind.tag_action {
        resource["selector"]["includeActions"] = json!([action]);
    }
    resource
}

fn env(moto: &Moto) -> Vec<(String, String)> {
    let resources: Vec<Value> = KINDS.iter().map(example).collect();
    let mapping = json!({ "resources": resources }).to_string();
    kinds_env(moto, KINDS.iter().map(|k| k.name), mapping)
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
    let DryRuns {
        seeded,
        entities,
        raws,
    } = seed_and_dry_run("kinds-data", KINDS.iter().map(|k| k.spec_key), env);

    for kind in KINDS {
        let expected = expected_ids(&seeded, kind);
        let (mapped, ids) = of_blueprint(&entities, &blueprint_of(&example(kind)));
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
