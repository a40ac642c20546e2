//! End to end: the `port-aws-sync` binary against a real moto server and the strict fake Port.
//! Assertions are on the catalog the fake Port ends up holding (or the dry-run output).

mod common;

use common::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;

fn ids(map: &serde_json::Map<String, Value>) -> BTreeSet<String> {
    map.keys().cloned().collect()
}

fn set<'a>(items: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
    items.into_iter().map(str::to_owned).collect()
}

fn org_spec() -> Value {
    json!({
        "organization": true,
        "role_name": "PortAwsSyncReadRole",
        "accounts": [
            {"key": "mgmt", "management": true},
            {"key": "dev", "name": "dev", "email": "dev@example.com", "ou": "Workloads/Dev"},
            {"key": "prod", "name": "prod", "email": "prod@example.com", "ou": "Workloads/Prod"},
            {"key": "old", "name": "old", "email": "old@example.com", "ou": "Workloads/Dev", "close": true}
        ],
        "resources": {
            "mgmt": {"regions": {"us-east-1": {"ec2_instances": 1}}},
            "dev": {
                "regions": {"us-east-1": {"ec2_instances": 2, "ecs_clusters": 1}, "eu-west-1": {"ec2_instances": 1, "ecs_clusters": 1}},
                "buckets": [
                    {"name": "dev-logs", "region": "eu-west-1", "tags": {"team": "a"}, "encryption": true, "public_access_block": true},
                    {"name": "dev-assets", "region": "us-east-1", "ownership_controls": true}
                ]
            },
            "prod": {"regions": {"us-east-1": {"ec2_instances": 3}}, "buckets": [{"name": "prod-data", "region": "us-east-1"}]},
            "old": {"regions": {"us-east-1": {"ec2_instances": 1}}, "buckets": [{"name": "old-stuff", "region": "us-east-1"}]}
        }
    })
}

fn org_env(moto: &Moto) -> Vec<(String, String)> {
    let mut env = base_env(moto);
    env.push((
        "ORGANIZATION_ROLE_ARN".into(),
        "arn:aws:iam::123456789012:role/PortAwsSyncReadRole".into(),
    ));
    env.push((
        "REGION_POLICY".into(),
        r#"{"allow": ["us-east-1", "eu-west-1"]}"#.into(),
    ));
    env.push(("EXTERNAL_ID".into(), "test-external-id".into()));
    env
}

#[test]
fn organization_mode_syncs_every_active_account_into_port() {
    let moto = Moto::start();
    let seeded = moto.seed(&org_spec());
    let port = FakePort::start();
    let out = run_cli(&["sync"], &with_port(org_env(&moto), &port));
    let log = stderr(&out);
    assert!(out.status.success(), "{log}");

    let acct = |key: &str| seeded["accounts"][key]["id"].as_str().unwrap().to_owned();
    let (mgmt, dev, prod, old) = (acct("mgmt"), acct("dev"), acct("prod"), acct("old"));

    // Accounts: the management account is included, the closed one is skipped with its state.
    let accounts = port.entities("awsAccount");
    assert_eq!(
        ids(&accounts),
        set([mgmt.as_str(), dev.as_str(), prod.as_str()])
    );
    assert_eq!(accounts[&dev]["title"], "dev");
    assert_eq!(accounts[&dev]["properties"]["email"], "dev@example.com");
    assert_eq!(accounts[&dev]["properties"]["state"], "ACTIVE");
    assert!(
        log.contains(&format!("skipped {old} (old): SUSPENDED")),
        "{log}"
    );

    // EC2: exactly the instances of the active accounts, each related to its own account.
    let instances = port.entities("ec2Instance");
    let mut expected = BTreeSet::new();
    for key in ["mgmt", "dev", "prod"] {
        for (_, list) in seeded["resources"][key]["ec2_instances"]
            .as_object()
            .unwrap()
        {
            for id in strs(list) {
                expected.insert(id.clone());
                assert_eq!(
                    instances[&id]["relations"]["account"],
                    acct(key),
                    "{id} belongs to {key}"
                );
            }
        }
    }
    assert_eq!(ids(&instances), expected);
    for id in strs(&seeded["resources"]["dev"]["ec2_instances"]["eu-west-1"]) {
        let e = &instances[&id];
        assert_eq!(e["properties"]["region"], "eu-west-1");
        assert_eq!(
            e["properties"]["arn"],
            format!("arn:aws:ec2:eu-west-1:{dev}:instance/{id}")
        );
        assert_eq!(
            e["datasource"],
            format!(
                "port-aws-sync/{} (integration/port-aws-sync; account/{dev}; region/eu-west-1)",
                env!("CARGO_PKG_VERSION")
            )
        );
    }

    // S3: buckets in several regions, with their region and configuration.
    let buckets = port.entities("s3Bucket");
    assert_eq!(
        ids(&buckets),
        set([
            "arn:aws:s3:::dev-logs",
            "arn:aws:s3:::dev-assets",
            "arn:aws:s3:::prod-data"
        ])
    );
    let logs = &buckets["arn:aws:s3:::dev-logs"];
    assert_eq!(logs["properties"]["region"], "eu-west-1");
    assert_eq!(logs["relations"]["account"], dev.as_str());
    assert_eq!(
        logs["properties"]["tags"],
        json!([{"Key": "team", "Value": "a"}])
    );
    assert!(
        logs["properties"]["encryption"]["Rules"].is_array(),
        "{logs}"
    );
    assert!(
        logs["properties"]["publicAccessBlockConfiguration"]["BlockPublicAcls"].is_boolean(),
        "{logs}"
    );
    assert_eq!(
        buckets["arn:aws:s3:::dev-assets"]["properties"]["region"],
        "us-east-1"
    );

    // ECS clusters in both regions.
    let clusters = port.entities("ecsCluster");
    let expected: BTreeSet<String> = seeded["resources"]["dev"]["ecs_clusters"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(strs)
        .collect();
    assert_eq!(ids(&clusters), expected);

    port.assert_no_schema_violations();
    assert_eq!(
        port.state()["token_requests"],
        1,
        "one Port token for the whole run"
    );
}

#[test]
fn explicit_accounts_honour_the_region_policy() {
    let moto = Moto::start();
    let seeded = moto.seed(&json!({
        "organization": false,
        "role_name": "Reader",
        "accounts": [{"key": "a", "id": "111111111111"}, {"key": "b", "id": "222222222222"}],
        "resources": {
            "a": {"regions": {"us-east-1": {"ec2_instances": 1}, "us-west-2": {"ec2_instances": 1}},
                  "buckets": [{"name": "a-east", "region": "us-east-1"}, {"name": "a-west", "region": "us-west-2"}]},
            "b": {"regions": {"eu-west-1": {"ec2_instances": 2, "ecs_clusters": 1}}}
        }
    }));
    let dir = std::env::temp_dir().join(format!("pas-explicit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let output = dir.join("entities.jsonl");
    let mut env = base_env(&moto);
    env.push((
        "ACCOUNT_ROLE_ARNS".into(),
        r#"["arn:aws:iam::111111111111:role/Reader", "arn:aws:iam::222222222222:role/Reader"]"#
            .into(),
    ));
    env.push((
        "REGION_POLICY".into(),
        r#"{"allow": ["us-east-1", "us-west-2", "eu-west-1"], "deny": ["us-west-2"]}"#.into(),
    ));
    let out = run_cli(
        &["sync", "--dry-run", "--output", output.to_str().unwrap()],
        &env,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let entities = json_lines(&std::fs::read_to_string(&output).unwrap());
    let by = |bp: &str| -> BTreeSet<String> {
        entities
            .iter()
            .filter(|e| e["blueprint"] == bp)
            .map(|e| e["identifier"].as_str().unwrap().to_owned())
            .collect()
    };
    let mut expected: BTreeSet<String> =
        strs(&seeded["resources"]["a"]["ec2_instances"]["us-east-1"])
            .into_iter()
            .collect();
    expected.extend(strs(
        &seeded["resources"]["b"]["ec2_instances"]["eu-west-1"],
    ));
    assert_eq!(
        by("ec2Instance"),
        expected,
        "the denied region us-west-2 is not synced"
    );
    assert_eq!(
        by("s3Bucket"),
        set(["arn:aws:s3:::a-east"]),
        "buckets in denied regions are skipped"
    );
    assert_eq!(by("awsAccount"), set(["111111111111", "222222222222"]));
    assert_eq!(by("ecsCluster").len(), 1);
}

#[test]
fn single_account_plan_skips_regions_not_opted_in() {
    let moto = Moto::start();
    let mut env = base_env(&moto);
    // me-south-1 is an opt-in region that the emulated account has not enabled.
    env.push((
        "REGION_POLICY".into(),
        r#"{"allow": ["us-east-1", "me-south-1"]}"#.into(),
    ));
    env.push((
        "KINDS".into(),
        "AWS::EC2::Instance,AWS::Account::Info".into(),
    ));
    let out = run_cli(&["plan"], &env);
    assert!(out.status.success(), "{}", stderr(&out));
    let units = json_lines(&String::from_utf8_lossy(&out.stdout));
    let labels: BTreeSet<String> = units
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
    assert_eq!(
        labels,
        set([
            "123456789012/global/AWS::Account::Info",
            "123456789012/us-east-1/AWS::EC2::Instance"
        ])
    );
}

#[test]
fn port_partial_failures_are_reported_and_fail_the_run_without_losing_the_rest() {
    let moto = Moto::start();
    let seeded = moto.seed(&json!({
        "organization": false,
        "accounts": [{"key": "mgmt", "management": true}],
        "resources": {"mgmt": {"regions": {"us-east-1": {"ec2_instances": 4}}}}
    }));
    let instances = strs(&seeded["resources"]["mgmt"]["ec2_instances"]["us-east-1"]);
    let port = FakePort::start();
    port.control(
        "config",
        &json!({"entity_failures": [{"identifier_regex": format!("^{}$", instances[0]), "status": 422, "error": "invalid_property", "message": "injected refusal"}]}),
    );
    let mut env = with_port(base_env(&moto), &port);
    env.push(("REGION_POLICY".into(), r#"{"allow": ["us-east-1"]}"#.into()));
    env.push(("KINDS".into(), "AWS::EC2::Instance".into()));
    let out = run_cli(&["sync"], &env);
    let log = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{log}");
    assert!(
        log.contains("injected refusal") && log.contains(&instances[0]),
        "{log}"
    );
    let stored = ids(&port.entities("ec2Instance"));
    assert_eq!(
        stored,
        instances[1..].iter().cloned().collect::<BTreeSet<_>>()
    );
    port.assert_no_schema_violations();
}

#[test]
fn throttling_and_token_expiry_slow_the_run_but_every_entity_arrives() {
    let moto = Moto::start();
    moto.seed(&json!({
        "organization": false,
        "accounts": [{"key": "mgmt", "management": true}],
        "resources": {"mgmt": {"regions": {"us-east-1": {"ec2_instances": 30, "ecs_clusters": 2}},
                                "buckets": [{"name": "bucket-one", "region": "us-east-1"}, {"name": "bucket-two", "region": "us-east-1"}]}}
    }));
    let port = FakePort::start();
    port.control(
        "config",
        &json!({"rate_limit_429": 0.3, "retry_after": 1, "seed": 11}),
    );
    port.control(
        "inject",
        &json!({"method": "POST", "path_regex": "/entities/bulk$", "status": 401, "count": 1,
        "body": {"ok": false, "error": "unauthorized", "message": "token expired"}}),
    );
    let mut env = with_port(base_env(&moto), &port);
    env.push(("REGION_POLICY".into(), r#"{"allow": ["us-east-1"]}"#.into()));
    let out = run_cli(&["sync"], &env);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(port.entities("ec2Instance").len(), 30);
    assert_eq!(port.entities("s3Bucket").len(), 2);
    assert_eq!(port.entities("ecsCluster").len(), 2);
    let state = port.state();
    let throttled = state["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == 429)
        .count();
    assert!(
        throttled > 0,
        "the fake Port injected no 429: the test proves nothing"
    );
    assert!(
        state["token_requests"].as_u64().unwrap() >= 2,
        "the 401 refreshed the token"
    );
}

#[test]
fn bad_configuration_exits_2_naming_the_variable() {
    let env = vec![
        ("PATH".to_owned(), std::env::var("PATH").unwrap_or_default()),
        (
            "ACCOUNT_ROLE_ARNS".to_owned(),
            "arn:aws:iam::123:role/x".to_owned(),
        ),
        (
            "PORT_CLIENT_SECRET".to_owned(),
            "do-not-print-me".to_owned(),
        ),
        ("PORT_CLIENT_ID".to_owned(), "id".to_owned()),
    ];
    let out = run_cli(&["sync", "--dry-run"], &env);
    assert_eq!(out.status.code(), Some(2));
    let log = stderr(&out);
    assert!(
        log.contains("ACCOUNT_ROLE_ARNS") && log.contains("JSON array"),
        "{log}"
    );
    assert!(!log.contains("do-not-print-me"));

    let out = run_cli(&["sync", "--regions", "us-east1", "--dry-run"], &env[..1]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--regions"), "{}", stderr(&out));

    let out = run_cli(&["sync"], &env[..1]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "a real sync without Port credentials is a configuration error"
    );
    assert!(stderr(&out).contains("PORT_CLIENT_ID"), "{}", stderr(&out));
}

#[test]
fn a_silent_aws_endpoint_fails_its_unit_at_unit_timeout_and_the_run_ends() {
    let moto = Moto::start();
    let seeded = moto.seed(&json!({
        "organization": false,
        "accounts": [{"key": "mgmt", "management": true}],
        "resources": {"mgmt": {"regions": {"us-east-1": {"ec2_instances": 1}, "eu-west-1": {"ec2_instances": 2}}}}
    }));
    // EC2 in us-east-1 accepts the connection and never answers.
    let proxy = AwsProxy::start(
        &moto,
        &json!([{"service": "ec2", "action": "DescribeInstances", "region": "us-east-1", "hang": true}]),
    );
    let port = FakePort::start();
    let mut env = with_port(base_env(&moto), &port);
    for (k, v) in env.iter_mut() {
        if k == "AWS_ENDPOINT_URL" {
            *v = proxy.url.clone();
        }
    }
    env.push((
        "REGION_POLICY".into(),
        r#"{"allow": ["us-east-1", "eu-west-1"]}"#.into(),
    ));
    env.push((
        "KINDS".into(),
        "AWS::EC2::Instance,AWS::Account::Info".into(),
    ));
    env.push(("UNIT_TIMEOUT_SECONDS".into(), "3".into()));
    let started = std::time::Instant::now();
    let out = run_cli(&["sync"], &env);
    let log = stderr(&out);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(60),
        "{log}"
    );
    assert_eq!(out.status.code(), Some(1), "{log}");
    assert!(proxy.hits()[0] >= 1, "the silent endpoint was called");
    assert!(log.contains("UNIT_TIMEOUT_SECONDS"), "{log}");
    // The other units finished: the eu-west-1 instances and the account arrived.
    let expected: BTreeSet<String> =
        strs(&seeded["resources"]["mgmt"]["ec2_instances"]["eu-west-1"])
            .into_iter()
            .collect();
    assert_eq!(ids(&port.entities("ec2Instance")), expected);
    assert_eq!(port.entities("awsAccount").len(), 1);
}
