//! End to end through the Lambda runtime protocol: the real `fanout` and `worker` binaries run
//! under cargo-lambda's runtime API emulator (`cargo lambda watch --only-lambda-apis`, from the
//! PyPI package), against moto (Organizations, STS, EC2, S3, ECS, SQS, Secrets Manager) and the
//! strict fake Port. Invocations go through the emulator's Lambda Invoke API. Forged work items
//! go through the real worker too: refused, with no AssumeRole and no change to the catalog.

mod common;

use common::lambda::{failures, message, sqs_event, Function};
use common::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;

const SCHEDULED_EVENT: &[u8] = include_bytes!("../events/scheduled-event.json");
const MANUAL_EVENT: &[u8] = include_bytes!("../events/manual-one-time-sync.json");
const SQS_WORK_ITEMS: &[u8] = include_bytes!("../events/sqs-work-items.json");
const SQS_BAD_BODY: &[u8] = include_bytes!("../events/sqs-bad-body.json");

fn event(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap()
}

/// moto, the fake Port, the work queue and the Port credentials secret.
struct Estate {
    moto: Moto,
    port: FakePort,
    queue_url: String,
    env: Vec<(String, String)>,
}

fn estate(seed: &Value, extra_env: &[(&str, &str)]) -> (Estate, Value) {
    let moto = Moto::start();
    let seeded = moto.seed(seed);
    let port = FakePort::start();
    let created = moto.ops(&json!([
        {"op": "create_queue", "account": "123456789012", "region": "us-east-1", "name": "port-aws-sync-work"},
        {"op": "create_secret", "account": "123456789012", "region": "us-east-1", "name": "port-aws-sync/port-credentials",
         "value": json!({"clientId": port.client_id, "clientSecret": port.client_secret}).to_string()}
    ]));
    let queue_url = created["ops"][0]["url"].as_str().unwrap().to_owned();
    let secret_arn = created["ops"][1]["arn"].as_str().unwrap().to_owned();
    let mut env = base_env(&moto);
    env.push(("PORT_BASE_URL".into(), port.url.clone()));
    env.push(("PORT_CREDENTIALS_SECRET_ARN".into(), secret_arn));
    env.push(("WORK_QUEUE_URL".into(), queue_url.clone()));
    create_state_table(&moto, "port-aws-sync-state");
    env.push(("STATE_TABLE".into(), "port-aws-sync-state".into()));
    for (k, v) in extra_env {
        env.push(((*k).into(), (*v).into()));
    }
    (
        Estate {
            moto,
            port,
            queue_url,
            env,
        },
        seeded,
    )
}

impl Estate {
    fn receive(&self) -> Vec<Value> {
        let out = self.moto.ops(
            &json!([{"op": "receive_messages", "account": "123456789012",
            "region": "us-east-1", "url": self.queue_url}]),
        );
        out["ops"][0]["messages"].as_array().unwrap().clone()
    }
}

#[test]
fn scheduled_fanout_enqueues_every_unit_and_the_worker_builds_the_catalog() {
    let spec = json!({
        "organization": true,
        "role_name": "PortAwsSyncReadRole",
        "accounts": [
            {"key": "mgmt", "management": true},
            {"key": "dev", "name": "dev", "email": "dev@example.com", "ou": "Workloads"},
            {"key": "old", "name": "old", "email": "old@example.com", "close": true}
        ],
        "resources": {
            "mgmt": {"buckets": [{"name": "mgmt-trail", "region": "us-east-1"}]},
            "dev": {"regions": {"us-east-1": {"ec2_instances": 3, "ecs_clusters": 1},
                                 "eu-west-1": {"ec2_instances": 2}},
                    "buckets": [{"name": "dev-logs", "region": "eu-west-1"}]},
            "old": {"regions": {"us-east-1": {"ec2_instances": 1}}}
        }
    });
    let (estate, seeded) = estate(
        &spec,
        &[
            (
                "ORGANIZATION_ROLE_ARN",
                "arn:aws:iam::123456789012:role/PortAwsSyncReadRole",
            ),
            ("EXTERNAL_ID", "e2e-external-id"),
            ("REGION_POLICY", r#"{"allow": ["us-east-1", "eu-west-1"]}"#),
        ],
    );
    let acct = |key: &str| seeded["accounts"][key]["id"].as_str().unwrap().to_owned();

    // Fan-out: a scheduled event.
    let fanout = Function::start(env!("CARGO_BIN_EXE_fanout"), &estate.env);
    let summary = fanout.invoke(&event(SCHEDULED_EVENT));
    assert_eq!(summary["trigger"], "schedule", "{summary}");
    assert_eq!(summary["accounts"]["synced"], 2, "{summary}");
    assert_eq!(summary["accounts"]["skipped"][0]["id"], acct("old"));
    // 2 accounts × (account info + S3 + 2 regions × (EC2 + ECS)), one work item per account and
    // region: 2 × (global + 2 regions).
    assert_eq!(summary["units"], 12, "{summary}");
    assert_eq!(summary["workItems"], 6, "{summary}");
    assert_eq!(summary["enqueued"], 6, "{summary}");
    assert_eq!(summary["sqsBatches"], 1, "{summary}");
    // Blueprints were initialised once, by the fan-out.
    let blueprints = estate.port.state()["blueprints"].clone();
    for bp in ["awsAccount", "ec2Instance", "ecsCluster", "s3Bucket"] {
        assert!(blueprints.get(bp).is_some(), "{bp} missing: {blueprints}");
    }

    // The installation registered itself in Port as an integration (a data source).
    let integrations = estate.port.state()["integrations"].clone();
    assert!(
        integrations.get("port-aws-sync").is_some(),
        "{integrations}"
    );

    // The queue holds exactly the planned units: one message per account and region, with the
    // kinds that run there.
    let messages = estate.receive();
    let mut units: Vec<String> = Vec::new();
    let mut regions: BTreeSet<(String, String)> = BTreeSet::new();
    for m in &messages {
        let body: Value = serde_json::from_str(m["body"].as_str().unwrap()).unwrap();
        assert_eq!(body["syncId"], summary["syncId"]);
        let fields: BTreeSet<&str> = body
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            fields,
            BTreeSet::from(["syncId", "accountId", "region", "kinds"]),
            "a work item names what to do, never how to reach the account"
        );
        let (account, region) = (
            body["accountId"].as_str().unwrap(),
            body["region"].as_str().unwrap(),
        );
        assert!(
            regions.insert((account.to_owned(), region.to_owned())),
            "one message per account and region: {body}"
        );
        for kind in strs(&body["kinds"]) {
            units.push(format!("{account}/{region}/{kind}"));
        }
    }
    assert_eq!(messages.len(), 6);
    assert_eq!(units.len(), 12, "every unit in exactly one message");
    let units: BTreeSet<String> = units.into_iter().collect();
    let plan = run_cli(&["plan"], &estate.env);
    let planned: BTreeSet<String> = json_lines(&String::from_utf8_lossy(&plan.stdout))
        .iter()
        .map(|u| {
            format!(
                "{}/{}/{}",
                u["account"]["id"].as_str().unwrap(),
                u["region"].as_str().unwrap(),
                u["kind"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(units, planned, "the fan-out enqueues what the CLI plans");

    // Worker: the messages as SQS events, in batches of 4 (each message runs several kinds).
    let tokens_before = estate.port.state()["token_requests"].as_u64().unwrap();
    let worker = Function::start(env!("CARGO_BIN_EXE_worker"), &estate.env);
    for batch in messages.chunks(4) {
        let response = worker.invoke(&sqs_event(batch));
        assert_eq!(failures(&response), Vec::<String>::new(), "{response}");
    }
    // The run record counts units, not messages: 12 planned, 12 done, closed.
    let status = run_cli(&["status"], &estate.env);
    let status = String::from_utf8_lossy(&status.stdout);
    assert!(
        status.contains(&format!(
            "run {} started",
            summary["syncId"].as_str().unwrap()
        )) && status.contains("12 of 12 units done, 0 failed, closed"),
        "{status}"
    );

    let port = &estate.port;
    let accounts: BTreeSet<String> = port.entities("awsAccount").keys().cloned().collect();
    assert_eq!(accounts, BTreeSet::from([acct("mgmt"), acct("dev")]));
    let mut expected: BTreeSet<String> = BTreeSet::new();
    for region in ["us-east-1", "eu-west-1"] {
        expected.extend(strs(&seeded["resources"]["dev"]["ec2_instances"][region]));
    }
    let instances: BTreeSet<String> = port.entities("ec2Instance").keys().cloned().collect();
    assert_eq!(instances, expected);
    let buckets: BTreeSet<String> = port.entities("s3Bucket").keys().cloned().collect();
    assert_eq!(
        buckets,
        BTreeSet::from([
            "arn:aws:s3:::dev-logs".to_owned(),
            "arn:aws:s3:::mgmt-trail".to_owned()
        ])
    );
    assert_eq!(port.entities("ecsCluster").len(), 1);
    port.assert_no_schema_violations();
    // One token for the worker container over its 2 invocations, not one per message or batch.
    assert_eq!(
        port.state()["token_requests"].as_u64().unwrap(),
        tokens_before + 1
    );

    // The dev account is closed: the next scheduled fan-out deletes its entities (its scope is
    // known gone) and plans nothing for it; the management account's entities stay.
    estate
        .moto
        .ops(&json!([{"op": "close_account", "account": acct("dev")}]));
    let summary = fanout.invoke(&event(SCHEDULED_EVENT));
    assert_eq!(summary["accounts"]["synced"], 1, "{summary}");
    assert_eq!(summary["units"], 6, "{summary}");
    assert!(
        summary["scopes"]["deleted"]
            .as_object()
            .is_some_and(|d| !d.is_empty()),
        "{summary}"
    );
    let accounts: BTreeSet<String> = port.entities("awsAccount").keys().cloned().collect();
    assert_eq!(accounts, BTreeSet::from([acct("mgmt")]));
    assert!(port.entities("ec2Instance").is_empty());
    assert!(port.entities("ecsCluster").is_empty());
    let buckets: BTreeSet<String> = port.entities("s3Bucket").keys().cloned().collect();
    assert_eq!(
        buckets,
        BTreeSet::from(["arn:aws:s3:::mgmt-trail".to_owned()])
    );
}

#[test]
fn manual_payloads_narrow_the_scope_and_bad_payloads_are_refused() {
    let (estate, _) = estate(
        &json!({"organization": false, "accounts": [{"key": "mgmt", "management": true}],
                "resources": {"mgmt": {"regions": {"us-east-1": {"ec2_instances": 1}}}}}),
        &[],
    );
    let fanout = Function::start(env!("CARGO_BIN_EXE_fanout"), &estate.env);
    // events/manual-one-time-sync.json: one account, two regions, EC2 only.
    let summary = fanout.invoke(&event(MANUAL_EVENT));
    assert_eq!(summary["trigger"], "direct", "{summary}");
    assert_eq!(summary["units"], 2, "{summary}");
    assert_eq!(summary["enqueued"], 2, "{summary}");
    let kinds: BTreeSet<String> = estate
        .receive()
        .iter()
        .flat_map(|m| {
            let body: Value = serde_json::from_str(m["body"].as_str().unwrap()).unwrap();
            let region = body["region"].as_str().unwrap().to_owned();
            strs(&body["kinds"])
                .into_iter()
                .map(move |kind| format!("{region}/{kind}"))
        })
        .collect();
    assert_eq!(
        kinds,
        BTreeSet::from([
            "eu-west-1/AWS::EC2::Instance".to_owned(),
            "us-east-1/AWS::EC2::Instance".to_owned()
        ])
    );

    // A dry run plans and enqueues nothing.
    let dry = fanout.invoke(&json!({"kinds": ["AWS::S3::Bucket"], "dryRun": true}));
    assert_eq!(dry["enqueued"], 0, "{dry}");
    assert_eq!(
        strs(&dry["plan"]),
        vec!["123456789012/global/AWS::S3::Bucket"]
    );
    assert!(estate.receive().is_empty());

    // Wrong shapes: a clear error response, nothing enqueued.
    for (payload, needle) in [
        (
            json!({"acounts": ["123456789012"]}),
            "unknown field `acounts`",
        ),
        (
            json!({"kinds": ["AWS::EC2::InternetGateway"]}),
            "unknown kind `AWS::EC2::InternetGateway`",
        ),
        (json!({"regions": ["mars-1"]}), "unknown region `mars-1`"),
    ] {
        let response = fanout.invoke(&payload);
        assert_eq!(response["errorType"], "InvalidRequest", "{response}");
        assert!(
            response["errorMessage"].as_str().unwrap().contains(needle),
            "{response}"
        );
    }
    assert!(estate.receive().is_empty());
}

#[test]
fn worker_runs_the_sample_batch_and_fails_exactly_the_malformed_message() {
    let (estate, seeded) = estate(
        &json!({"organization": false, "accounts": [{"key": "mgmt", "management": true}],
                "resources": {"mgmt": {"regions": {"us-east-1": {"ec2_instances": 2, "ecs_clusters": 1},
                                                    "eu-west-1": {"ec2_instances": 1}},
                                       "buckets": [{"name": "sample-bucket", "region": "us-east-1"}]}}}),
        &[],
    );
    // The fan-out creates the blueprints in a deployment; here the worker runs alone.
    let blueprints: Value =
        serde_json::from_str(include_str!("../src/port/default_blueprints.json")).unwrap();
    estate
        .port
        .control("seed", &json!({"blueprints": blueprints}));
    let worker = Function::start(env!("CARGO_BIN_EXE_worker"), &estate.env);

    // events/sqs-work-items.json: three work items of account 123456789012, five units.
    let response = worker.invoke(&event(SQS_WORK_ITEMS));
    assert_eq!(failures(&response), Vec::<String>::new(), "{response}");
    let port = &estate.port;
    let mut expected = BTreeSet::new();
    for region in ["us-east-1", "eu-west-1"] {
        expected.extend(strs(&seeded["resources"]["mgmt"]["ec2_instances"][region]));
    }
    let instances: BTreeSet<String> = port.entities("ec2Instance").keys().cloned().collect();
    assert_eq!(instances, expected);
    assert_eq!(port.entities("ecsCluster").len(), 1);
    assert_eq!(port.entities("s3Bucket").len(), 1);
    assert_eq!(port.entities("awsAccount").len(), 1);

    // events/sqs-bad-body.json: the second body is not a work item; only it fails.
    let bad = event(SQS_BAD_BODY);
    let bad_id = bad["Records"][1]["messageId"].as_str().unwrap().to_owned();
    let response = worker.invoke(&bad);
    assert_eq!(failures(&response), vec![bad_id]);
    // The good message of that batch still ran (its entities were rewritten, none lost).
    let after: BTreeSet<String> = port.entities("ec2Instance").keys().cloned().collect();
    assert_eq!(after, expected);
    port.assert_no_schema_violations();
    assert_eq!(
        port.state()["token_requests"],
        1,
        "one token for the container"
    );
}

/// A work item of one kind in the previous version's form (`kind`), which is still read.
fn item(account: &str, region: &str, kind: &str) -> String {
    json!({"syncId": "forged-1", "accountId": account, "region": region, "kind": kind}).to_string()
}

fn items(account: &str, region: &str, kinds: &[&str]) -> String {
    json!({"syncId": "forged-1", "accountId": account, "region": region, "kinds": kinds})
        .to_string()
}

#[test]
fn forged_work_items_are_refused_without_assume_role_or_catalog_change() {
    let spec = json!({
        "organization": true,
        "role_name": "PortAwsSyncReadRole",
        "accounts": [
            {"key": "mgmt", "management": true},
            {"key": "dev", "name": "dev", "email": "dev@example.com", "ou": "Workloads"},
            {"key": "excl", "name": "excl", "email": "excl@example.com", "ou": "Workloads"},
            {"key": "old", "name": "old", "email": "old@example.com", "ou": "Workloads", "close": true},
            {"key": "sandbox", "name": "sandbox", "email": "sandbox@example.com", "ou": "Sandbox"}
        ],
        "resources": {
            "dev": {"regions": {"us-east-1": {"ec2_instances": 2}}},
            "sandbox": {"regions": {"us-east-1": {"ec2_instances": 1}}}
        }
    });
    let (mut estate, seeded) = estate(&spec, &[]);
    let acct = |key: &str| seeded["accounts"][key]["id"].as_str().unwrap().to_owned();
    let (dev, excl, old, sandbox) = (acct("dev"), acct("excl"), acct("old"), acct("sandbox"));
    let forged_accounts = format!(":({excl}|{old}|{sandbox}|210987654321|111122223333):");
    // In front of moto: counts AssumeRole calls for the accounts no item may reach (rule 0) and
    // for dev (rule 1, which proves the counting works).
    let proxy = AwsProxy::start(
        &estate.moto,
        &json!([
            {"service": "sts", "action": "AssumeRole", "params": {"RoleArn": forged_accounts}},
            {"service": "sts", "action": "AssumeRole", "params": {"RoleArn": format!(":{dev}:")}}
        ]),
    );
    for (k, v) in estate.env.iter_mut() {
        if k == "AWS_ENDPOINT_URL" {
            *v = proxy.url.clone();
        }
    }
    let workloads = seeded["ous"]["Workloads"].as_str().unwrap().to_owned();
    estate.env.extend([
        (
            "ORGANIZATION_ROLE_ARN".to_owned(),
            format!("arn:aws:iam::{}:role/PortAwsSyncReadRole", acct("mgmt")),
        ),
        ("ORGANIZATIONAL_UNIT_IDS".to_owned(), workloads),
        ("EXCLUDED_ACCOUNT_IDS".to_owned(), excl.clone()),
        ("EXTERNAL_ID".to_owned(), "e2e-external-id".to_owned()),
        (
            "REGION_POLICY".to_owned(),
            r#"{"allow": ["us-east-1", "eu-west-1", "us-gov-west-1"]}"#.to_owned(),
        ),
        (
            "KINDS".to_owned(),
            "AWS::EC2::Instance,AWS::Account::Info".to_owned(),
        ),
    ]);
    let blueprints: Value =
        serde_json::from_str(include_str!("../src/port/default_blueprints.json")).unwrap();
    estate
        .port
        .control("seed", &json!({"blueprints": blueprints}));
    let worker = Function::start(env!("CARGO_BIN_EXE_worker"), &estate.env);

    let ec2 = "AWS::EC2::Instance";
    let with_role =
        json!({"syncId": "forged-1", "accountId": dev, "region": "us-east-1", "kind": ec2,
        "roleArn": format!("arn:aws:iam::{sandbox}:role/PortAwsSyncReadRole")})
        .to_string();
    let with_partition = json!({"syncId": "forged-1", "accountId": dev, "region": "us-east-1",
        "kind": ec2, "partition": "aws-us-gov"})
    .to_string();
    let forged = [
        message("role-arn", &with_role),
        message("partition", &with_partition),
        message("outside-org", &item("210987654321", "us-east-1", ec2)),
        message("excluded", &item(&excl, "us-east-1", ec2)),
        message("suspended", &item(&old, "us-east-1", ec2)),
        message("outside-ous", &item(&sandbox, "us-east-1", ec2)),
        message("region-denied", &item(&dev, "ap-south-1", ec2)),
        message("other-partition", &item(&dev, "us-gov-west-1", ec2)),
        message("unknown-kind", &item(&dev, "us-east-1", "AWS::EC2::Volume")),
        message(
            "unconfigured-kind",
            &item(&dev, "us-east-1", "AWS::S3::Bucket"),
        ),
        message("gov-account", &item("111122223333", "us-gov-west-1", ec2)),
        // A list with one kind the configuration does not allow is refused whole.
        message(
            "one-unconfigured-kind",
            &items(&dev, "us-east-1", &[ec2, "AWS::S3::Bucket"]),
        ),
        message(
            "one-global-kind-in-a-region",
            &items(&dev, "us-east-1", &[ec2, "AWS::Account::Info"]),
        ),
        message("duplicate-kinds", &items(&dev, "us-east-1", &[ec2, ec2])),
        message("empty-kinds", &items(&dev, "us-east-1", &[])),
        message(
            "kind-and-kinds",
            &json!({"syncId": "forged-1", "accountId": dev, "region": "us-east-1",
                "kind": ec2, "kinds": [ec2]})
            .to_string(),
        ),
    ];
    let catalog_before = estate.port.state()["entities"].to_string();
    let response = worker.invoke(&sqs_event(&forged));
    let failed: BTreeSet<String> = failures(&response).into_iter().collect();
    let all: BTreeSet<String> = forged
        .iter()
        .map(|m| m["messageId"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(failed, all, "every forged item fails: {response}");
    assert_eq!(estate.port.state()["entities"].to_string(), catalog_before);
    assert_eq!(proxy.hits()[0], 0, "no AssumeRole toward a forged account");
    assert_eq!(
        proxy.hits()[1],
        0,
        "no AssumeRole for refused items of dev either"
    );

    // The same worker runs real items beside forged ones: exactly the forged ones fail (the
    // management account's item is in the previous version's single-kind form).
    let batch = [
        message("good-dev", &items(&dev, "us-east-1", &[ec2])),
        message(
            "good-mgmt",
            &item(&acct("mgmt"), "global", "AWS::Account::Info"),
        ),
        message("forged-again", &item(&sandbox, "us-east-1", ec2)),
    ];
    let response = worker.invoke(&sqs_event(&batch));
    assert_eq!(
        failures(&response),
        vec!["forged-again".to_owned()],
        "{response}"
    );
    let instances: BTreeSet<String> = estate
        .port
        .entities("ec2Instance")
        .keys()
        .cloned()
        .collect();
    let expected: BTreeSet<String> =
        strs(&seeded["resources"]["dev"]["ec2_instances"]["us-east-1"])
            .into_iter()
            .collect();
    assert_eq!(
        instances, expected,
        "only dev's instances, none of sandbox's"
    );
    assert_eq!(proxy.hits()[0], 0);
    assert!(proxy.hits()[1] >= 1, "dev was reached with its member role");
}
