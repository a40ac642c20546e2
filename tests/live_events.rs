//! Live events end to end: the real `worker` binary under cargo-lambda's runtime API emulator,
//! against moto (behind `tests/support/aws_fault_proxy.py`, which counts the describes) and the
//! strict fake Port. Resources are created, changed and deleted in moto and the matching
//! EventBridge events (the samples in `events/live/`, with moto's ids) are delivered as SQS
//! messages; the catalog is checked after each. The forwarding rule's pattern
//! (`port-aws-sync live-events pattern --all-kinds`) is tested through moto's EventBridge:
//! put events → rule → queue → worker.

mod common;

use common::lambda::{failures, message, sqs_event, Function};
use common::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;

const ACCOUNT: &str = "123456789012";
const REGION: &str = "us-east-1";
/// The instance id in the samples, replaced by moto's.
const SAMPLE_INSTANCE: &str = "i-0a1b2c3d4e5f67890";

fn sample(name: &str) -> String {
    std::fs::read_to_string(root().join("events/live").join(name))
        .unwrap_or_else(|e| panic!("events/live/{name}: {e}"))
}

/// A sample event naming `id` instead of the sample's instance.
fn ec2_event(name: &str, id: &str) -> String {
    sample(name).replace(SAMPLE_INSTANCE, id)
}

/// moto (behind the counting proxy), the fake Port with the default blueprints, and the
/// worker's environment.
struct Estate {
    moto: Moto,
    port: FakePort,
    proxy: AwsProxy,
    env: Vec<(String, String)>,
}

/// Proxy rule 0 counts EC2 DescribeInstances calls.
fn estate() -> Estate {
    let moto = Moto::start();
    moto.seed(&json!({"organization": false, "accounts": [{"key": "mgmt", "management": true}]}));
    let port = FakePort::start();
    let created = moto.ops(&json!([
        {"op": "create_secret", "account": ACCOUNT, "region": REGION, "name": "port-aws-sync/port-credentials",
         "value": json!({"clientId": port.client_id, "clientSecret": port.client_secret}).to_string()}
    ]));
    let secret_arn = created["ops"][0]["arn"].as_str().unwrap().to_owned();
    let proxy = AwsProxy::start(
        &moto,
        &json!([{"service": "ec2", "action": "DescribeInstances"}]),
    );
    let mut env = base_env(&moto);
    for (k, v) in env.iter_mut() {
        if k == "AWS_ENDPOINT_URL" {
            *v = proxy.url.clone();
        }
    }
    create_state_table(&moto, "port-aws-sync-state");
    env.extend([
        ("PORT_BASE_URL".to_owned(), port.url.clone()),
        ("PORT_CREDENTIALS_SECRET_ARN".to_owned(), secret_arn),
        ("STATE_TABLE".to_owned(), "port-aws-sync-state".to_owned()),
        (
            "REGION_POLICY".to_owned(),
            r#"{"allow": ["us-east-1", "eu-west-1"]}"#.to_owned(),
        ),
    ]);
    let blueprints: Value =
        serde_json::from_str(include_str!("../src/port/default_blueprints.json")).unwrap();
    port.control("seed", &json!({"blueprints": blueprints}));
    Estate {
        moto,
        port,
        proxy,
        env,
    }
}

impl Estate {
    fn run_instances(&self, count: usize) -> Vec<String> {
        let out = self
            .moto
            .ops(&json!([{"op": "run_instances", "account": ACCOUNT,
            "region": REGION, "count": count, "name_prefix": "live"}]));
        strs(&out["ops"][0]["ids"])
    }

    fn instances(&self) -> serde_json::Map<String, Value> {
        self.port.entities("ec2Instance")
    }

    fn describes(&self) -> u64 {
        self.proxy.hits()[0]
    }

    /// Bulk upserts of `blueprint` so far.
    fn bulk_upserts(&self, blueprint: &str) -> usize {
        self.port.state()["requests"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| {
                r["route"]
                    .as_str()
                    .is_some_and(|t| t.ends_with("/entities/bulk"))
            })
            .filter(|r| r["blueprint"] == blueprint)
            .count()
    }
}

/// Delivers bodies as one SQS batch; returns the failed message ids.
fn deliver(worker: &Function, bodies: &[String]) -> Vec<String> {
    let messages: Vec<Value> = bodies
        .iter()
        .enumerate()
        .map(|(i, body)| message(&format!("m-{i}"), body))
        .collect();
    failures(&worker.invoke(&sqs_event(&messages)))
}

#[test]
fn an_instance_is_created_changed_and_deleted_through_its_events() {
    let estate = estate();
    let bystander = estate.run_instances(1).remove(0);
    let worker = Function::start(env!("CARGO_BIN_EXE_worker"), &estate.env);

    // Create: RunInstances names the new instance in its response.
    let id = estate.run_instances(1).remove(0);
    let failed = deliver(&worker, &[ec2_event("ec2-run-instances.json", &id)]);
    assert!(failed.is_empty(), "{failed:?}");
    let instances = estate.instances();
    assert_eq!(
        instances.keys().cloned().collect::<BTreeSet<_>>(),
        BTreeSet::from([id.clone()]),
        "only the instance the event names (not the bystander {bystander})"
    );
    let entity = &instances[&id];
    assert_eq!(entity["properties"]["state"], "running", "{entity}");
    assert_eq!(entity["relations"]["account"], ACCOUNT);
    let datasource = entity["datasource"].as_str().unwrap().to_owned();
    assert!(
        datasource.contains(&format!(
            "(integration/port-aws-sync; account/{ACCOUNT}; region/{REGION})"
        )),
        "the scope's full-sync datasource: {datasource}"
    );

    // Change: a tag, through CreateTags.
    estate.moto.ops(
        &json!([{"op": "create_tags", "account": ACCOUNT, "region": REGION,
        "ids": [id], "tags": {"team": "payments"}}]),
    );
    let failed = deliver(&worker, &[ec2_event("ec2-create-tags.json", &id)]);
    assert!(failed.is_empty(), "{failed:?}");
    let tags = estate.instances()[&id]["properties"]["tags"].clone();
    assert!(
        tags.as_array()
            .unwrap()
            .contains(&json!({"Key": "team", "Value": "payments"})),
        "{tags}"
    );

    // A delete event for an instance that still exists deletes nothing (the worker believes
    // AWS, not the event).
    let failed = deliver(
        &worker,
        &[
            ec2_event("ec2-terminate-instances.json", &id),
            ec2_event("ec2-state-change-terminated.json", &id),
        ],
    );
    assert!(failed.is_empty(), "{failed:?}");
    assert!(estate.instances().contains_key(&id), "still running in AWS");

    // Delete: terminated in moto, then the events: the entity leaves the catalog.
    estate
        .moto
        .ops(&json!([{"op": "terminate_instances", "account": ACCOUNT,
        "region": REGION, "ids": [id]}]));
    let failed = deliver(
        &worker,
        &[
            ec2_event("ec2-terminate-instances.json", &id),
            ec2_event("ec2-state-change-terminated.json", &id),
        ],
    );
    assert!(failed.is_empty(), "{failed:?}");
    assert!(estate.instances().is_empty(), "{:?}", estate.instances());

    // Ignored events are acknowledged and change nothing; a body that is neither a work item
    // nor an event fails alone.
    let other = estate.run_instances(1).remove(0);
    let catalog = estate.port.state()["entities"].to_string();
    let describes = estate.describes();
    let failed = deliver(
        &worker,
        &[
            ec2_event("ignored-ec2-describe-instances.json", &other),
            ec2_event("ignored-outside-account.json", &other),
            sample("ignored-unknown-source.json"),
            sample("lambda-create-function.json"),
            json!({"source": "aws.ec2", "detail-type": "AWS API Call via CloudTrail", "detail": "x"})
                .to_string(),
        ],
    );
    assert_eq!(failed, ["m-4"], "only the malformed body fails");
    assert_eq!(estate.port.state()["entities"].to_string(), catalog);
    assert_eq!(
        estate.describes(),
        describes,
        "no AWS call for ignored events"
    );
    let log = std::fs::read_to_string(&worker.log).unwrap();
    assert!(log.contains(r#""ignored_outside":1"#), "counted: {log}");
    assert!(
        log.contains(r#""ignored_unmapped":1"#),
        "Lambda is not in the built-in mapping: {log}"
    );
    estate.port.assert_no_schema_violations();
}

/// An account-scoped kind: bucket events of any region refresh the account's `global` scope,
/// and a bucket in a region outside `REGION_POLICY` is left alone.
#[test]
fn a_bucket_is_created_tagged_and_deleted_through_its_events() {
    let estate = estate();
    let worker = Function::start(env!("CARGO_BIN_EXE_worker"), &estate.env);
    let name = "sample-live-bucket";
    let bucket_event = |sample_name: &str, region: &str| {
        sample(sample_name).replace("\"us-east-1\"", &format!("\"{region}\""))
    };
    estate.moto.ops(
        &json!([{"op": "create_bucket", "account": ACCOUNT, "name": name,
        "region": "eu-west-1"}]),
    );
    let failed = deliver(
        &worker,
        &[bucket_event("s3-create-bucket.json", "eu-west-1")],
    );
    assert!(failed.is_empty(), "{failed:?}");
    let arn = format!("arn:aws:s3:::{name}");
    let buckets = estate.port.entities("s3Bucket");
    assert_eq!(buckets.keys().collect::<Vec<_>>(), [&arn], "{buckets:?}");
    let datasource = buckets[&arn]["datasource"].as_str().unwrap().to_owned();
    assert!(
        datasource.contains(&format!("account/{ACCOUNT}; region/global)")),
        "the account scope's datasource: {datasource}"
    );

    estate.moto.ops(
        &json!([{"op": "put_bucket_tagging", "account": ACCOUNT, "name": name,
        "region": "eu-west-1", "tags": {"team": "payments"}}]),
    );
    let failed = deliver(
        &worker,
        &[bucket_event("s3-put-bucket-tagging.json", "eu-west-1")],
    );
    assert!(failed.is_empty(), "{failed:?}");
    let bucket = estate.port.entities("s3Bucket")[&arn].to_string();
    assert!(bucket.contains("payments"), "{bucket}");

    // Still there: the delete event deletes nothing.
    let failed = deliver(
        &worker,
        &[bucket_event("s3-delete-bucket.json", "eu-west-1")],
    );
    assert!(failed.is_empty(), "{failed:?}");
    assert!(estate.port.entities("s3Bucket").contains_key(&arn));

    estate
        .moto
        .ops(&json!([{"op": "delete_bucket", "account": ACCOUNT, "name": name}]));
    let failed = deliver(
        &worker,
        &[bucket_event("s3-delete-bucket.json", "eu-west-1")],
    );
    assert!(failed.is_empty(), "{failed:?}");
    assert!(estate.port.entities("s3Bucket").is_empty());

    // A bucket in a region REGION_POLICY leaves out is not written.
    estate.moto.ops(
        &json!([{"op": "create_bucket", "account": ACCOUNT, "name": "far-bucket",
        "region": "ap-south-1"}]),
    );
    let far = sample("s3-create-bucket.json").replace(name, "far-bucket");
    let failed = deliver(&worker, &[far]);
    assert!(failed.is_empty(), "{failed:?}");
    assert!(estate.port.entities("s3Bucket").is_empty());
    estate.port.assert_no_schema_violations();
}

#[test]
fn a_burst_of_events_makes_one_describe_per_resource_at_most_and_one_upsert() {
    let estate = estate();
    let worker = Function::start(env!("CARGO_BIN_EXE_worker"), &estate.env);
    let ids = estate.run_instances(10);
    let samples = [
        "ec2-run-instances.json",
        "ec2-create-tags.json",
        "ec2-stop-instances.json",
        "ec2-create-tags.json",
    ];
    let bodies: Vec<String> = (0..100)
        .map(|i| ec2_event(samples[i % samples.len()], &ids[i % ids.len()]))
        .collect();
    let before = estate.describes();
    let failed = deliver(&worker, &bodies);
    assert!(failed.is_empty(), "{failed:?}");
    let describes = estate.describes() - before;
    assert!(
        (1..=10).contains(&describes),
        "{describes} DescribeInstances calls"
    );
    assert_eq!(estate.instances().len(), 10);
    assert_eq!(estate.bulk_upserts("ec2Instance"), 1, "one bulk upsert");

    // The same burst again: the sync state vouches for every entity, so nothing is written.
    let failed = deliver(&worker, &bodies);
    assert!(failed.is_empty(), "{failed:?}");
    assert_eq!(
        estate.bulk_upserts("ec2Instance"),
        1,
        "unchanged: no upsert"
    );
}

/// The pattern of `live-events pattern --all-kinds`, as the templates' forwarding rule gets it.
fn all_kinds_pattern() -> Value {
    let out = run_cli(
        &[
            "live-events",
            "pattern",
            "--all-kinds",
            "--format",
            "compact",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn the_generated_pattern_routes_exactly_the_followed_samples_through_eventbridge() {
    let estate = estate();
    let queue = estate.moto.ops(&json!([
        {"op": "create_queue", "account": ACCOUNT, "region": REGION, "name": "port-aws-sync-live"}
    ]));
    let queue_url = queue["ops"][0]["url"].as_str().unwrap().to_owned();
    let queue_arn = queue["ops"][0]["arn"].as_str().unwrap().to_owned();
    estate.moto.ops(
        &json!([{"op": "put_rule", "account": ACCOUNT, "region": REGION,
        "name": "port-aws-sync-live", "pattern": all_kinds_pattern(), "queue_arn": queue_arn}]),
    );

    let id = estate.run_instances(1).remove(0);
    let mut followed = Vec::new();
    let mut ignored = Vec::new();
    for entry in std::fs::read_dir(root().join("events/live")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        let event: Value = serde_json::from_str(&ec2_event(&name, &id)).unwrap();
        // Ignored samples the rule lets through anyway (they are ignored by the worker).
        let routed_by_worker_only = name == "ignored-outside-account.json";
        if name.starts_with("ignored-") && !routed_by_worker_only {
            ignored.push(event);
        } else {
            followed.push(event);
        }
    }
    let put = |events: &[Value]| {
        let out = estate
            .moto
            .ops(&json!([{"op": "put_events", "account": ACCOUNT,
            "region": REGION, "events": events}]));
        assert_eq!(out["ops"][0]["failed"], 0);
    };
    let receive = || {
        let out = estate
            .moto
            .ops(&json!([{"op": "receive_messages", "account": ACCOUNT,
            "region": REGION, "url": queue_url}]));
        out["ops"][0]["messages"].as_array().unwrap().clone()
    };
    put(&ignored);
    assert_eq!(receive(), Vec::<Value>::new(), "the rule drops them");
    put(&followed);
    let messages = receive();
    assert_eq!(messages.len(), followed.len(), "{messages:?}");

    // What moto's EventBridge delivers is an event the worker takes: the instance reaches Port.
    let worker = Function::start(env!("CARGO_BIN_EXE_worker"), &estate.env);
    let response = worker.invoke(&sqs_event(&messages));
    assert_eq!(failures(&response), Vec::<String>::new(), "{response}");
    assert!(
        estate.instances().contains_key(&id),
        "{:?}",
        estate.instances()
    );
}

/// Every sample names a kind that follows it and at least one resource; the `ignored-` ones
/// route to no kind, or (the outside account) to one the configuration then refuses.
#[test]
fn every_sample_routes_to_its_kind_with_ids() {
    use port_aws_sync::kinds::{live, Kind};
    let mut kinds_seen = BTreeSet::new();
    for entry in std::fs::read_dir(root().join("events/live")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        let event: Value = serde_json::from_str(&sample(&name)).unwrap();
        let kinds = live::kinds_for(&event, Kind::all());
        if name.starts_with("ignored-") && name != "ignored-outside-account.json" {
            assert!(kinds.is_empty(), "{name}: {kinds:?}");
            continue;
        }
        // A shared event name (`TagResource` of ECS clusters and services) routes to both
        // kinds; exactly one finds its resource in the event.
        let with_ids: Vec<Kind> = kinds
            .iter()
            .copied()
            .filter(|k| !(k.spec().unwrap().live.unwrap().ids)(&event).is_empty())
            .collect();
        assert_eq!(with_ids.len(), 1, "{name}: {kinds:?} {with_ids:?}");
        let kind = with_ids[0];
        let prefix = kind.slug().split('-').next().unwrap().to_owned();
        let service_sample = name.starts_with("ecs-service-");
        assert!(
            name.starts_with(&prefix) || name.starts_with("ignored-"),
            "{name}: {prefix}"
        );
        assert_eq!(service_sample, kind.name() == "AWS::ECS::Service", "{name}");
        kinds_seen.insert(kind);
    }
    let live_kinds: BTreeSet<Kind> = live::live_kinds().map(|(k, _)| k).collect();
    assert_eq!(kinds_seen, live_kinds, "a sample for every live kind");
}
