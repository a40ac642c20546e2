//! The sync state end to end (issue 14 §3): the `port-aws-sync` binary against moto (EC2, S3,
//! ECS and DynamoDB for `STATE_TABLE`) and the strict fake Port. Assertions are on the catalog
//! and on the fake Port's request log.

mod common;

use common::*;
use port_aws_sync::state::{EntityRecord, ScopeChanges, ScopeKey, StateStore, Timestamp};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// Blueprint → entity identifiers.
type Catalog = BTreeMap<String, BTreeSet<String>>;

const ACCOUNT: &str = "123456789012";
const TABLE: &str = "port-aws-sync-state";
const EC2: &str = "AWS::EC2::Instance";

fn catalog(port: &FakePort) -> Catalog {
    port.state()["entities"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(bp, entities)| {
            (
                bp.clone(),
                entities.as_object().unwrap().keys().cloned().collect(),
            )
        })
        .filter(|(_, ids): &(String, BTreeSet<String>)| !ids.is_empty())
        .collect()
}

/// One account, us-east-1 only: 3 instances, 1 cluster, 2 buckets.
fn estate(moto: &Moto) -> Value {
    moto.seed(&json!({
        "organization": false,
        "accounts": [{"key": "mgmt", "management": true}],
        "resources": {"mgmt": {
            "regions": {"us-east-1": {"ec2_instances": 3, "ecs_clusters": 1}},
            "buckets": [{"name": "east-a", "region": "us-east-1"}, {"name": "east-b", "region": "us-east-1"}]
        }}
    }))
}

/// The CLI with its state in a DynamoDB table of moto (`STATE_TABLE`).
fn dynamo_env(moto: &Moto, port: &FakePort) -> Vec<(String, String)> {
    create_state_table(moto, TABLE);
    let mut env = with_port(base_env(moto), port);
    env.push(("REGION_POLICY".into(), r#"{"allow": ["us-east-1"]}"#.into()));
    env.push(("STATE_TABLE".into(), TABLE.into()));
    env
}

fn instances(seeded: &Value) -> Vec<String> {
    strs(&seeded["resources"]["mgmt"]["ec2_instances"]["us-east-1"])
}

/// Runs `sync` with `extra` arguments; the output must be a success.
fn sync_ok(env: &[(String, String)], extra: &[&str]) -> Output {
    let mut args = vec!["sync"];
    args.extend_from_slice(extra);
    let out = run_cli(&args, env);
    assert!(out.status.success(), "{}", stderr(&out));
    out
}

/// The fake Port's requests from index `from` on.
fn requests_since(port: &FakePort, from: usize) -> Vec<Value> {
    port.state()["requests"].as_array().unwrap()[from..].to_vec()
}

fn request_count(port: &FakePort) -> usize {
    port.state()["requests"].as_array().unwrap().len()
}

/// Entities sent in bulk upserts among `requests`.
fn upserted(requests: &[Value]) -> u64 {
    requests
        .iter()
        .filter(|r| {
            r["method"] == "POST" && r["path"].as_str().unwrap_or("").ends_with("/entities/bulk")
        })
        .map(|r| r["entities"].as_u64().unwrap_or(0))
        .sum()
}

/// Searches of the `ec2Instance` blueprint among `requests`.
fn ec2_searches(requests: &[Value]) -> usize {
    requests
        .iter()
        .filter(|r| {
            r["blueprint"] == "ec2Instance"
                && r["path"]
                    .as_str()
                    .unwrap_or("")
                    .ends_with("/entities/search")
        })
        .count()
}

/// Deletes an entity through Port's API, as a person would in the UI.
fn delete_by_hand(port: &FakePort, blueprint: &str, identifier: &str) {
    let (_, token) = http(
        "POST",
        &format!("{}/v1/auth/access_token", port.url),
        Some(&json!({"clientId": port.client_id, "clientSecret": port.client_secret})),
    );
    let token = token["accessToken"].as_str().unwrap().to_owned();
    let path = format!(
        "/v1/blueprints/{blueprint}/entities/{}",
        identifier.replace(':', "%3A").replace('/', "%2F")
    );
    let status = http_with_headers(
        "DELETE",
        &format!("{}{path}", port.url),
        &[("Authorization", &format!("Bearer {token}"))],
    );
    assert_eq!(status, 200, "deleting {blueprint}/{identifier} by hand");
    assert!(!catalog(port)[blueprint].contains(identifier));
}

/// A state store on moto's DynamoDB table, to play the clock forward.
fn store(moto: &Moto) -> (tokio::runtime::Runtime, StateStore) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let store = runtime.block_on(async {
        let sdk = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url(&moto.url)
            .credentials_provider(
                aws_credential_types::provider::SharedCredentialsProvider::new(
                    aws_credential_types::Credentials::new(
                        "testing", "testing", None, None, "test",
                    ),
                ),
            )
            .build();
        let api = port_aws_sync::aws::api::AwsApi::new(Default::default()).unwrap();
        let client = api.client("dynamodb", &sdk, "us-east-1").unwrap();
        StateStore::dynamodb(client, TABLE, Default::default())
    });
    (runtime, store)
}

#[test]
fn an_unchanged_resync_writes_nothing_and_one_change_writes_one_entity() {
    let moto = Moto::start();
    estate(&moto);
    let port = FakePort::start();
    let env = dynamo_env(&moto, &port);
    sync_ok(&env, &[]);
    let before = catalog(&port);
    assert_eq!(before["ec2Instance"].len(), 3);

    let mark = request_count(&port);
    sync_ok(&env, &[]);
    let second = requests_since(&port, mark);
    assert_eq!(
        upserted(&second),
        0,
        "an unchanged resync upserts nothing: {second:#?}"
    );
    assert!(second
        .iter()
        .all(|r| r["method"] != "DELETE" && !r["path"].as_str().unwrap().contains("/delete")));
    assert_eq!(catalog(&port), before);

    let created = moto.ops(
        &json!([{"op": "run_instances", "account": ACCOUNT, "region": "us-east-1", "count": 1}]),
    );
    let new_id = strs(&created["ops"][0]["ids"])[0].clone();
    let mark = request_count(&port);
    sync_ok(&env, &[]);
    let third = requests_since(&port, mark);
    assert_eq!(upserted(&third), 1, "exactly the new instance: {third:#?}");
    assert!(catalog(&port)["ec2Instance"].contains(&new_id));
    port.assert_no_schema_violations();
}

#[test]
fn a_resource_deleted_in_aws_is_deleted_after_one_confirming_search() {
    let moto = Moto::start();
    let seeded = estate(&moto);
    let port = FakePort::start();
    let env = dynamo_env(&moto, &port);
    sync_ok(&env, &[]);
    // What a run searches without any deletion (the gone-scope step's listings).
    let mark = request_count(&port);
    sync_ok(&env, &[]);
    let baseline = ec2_searches(&requests_since(&port, mark));
    let gone = instances(&seeded)[0].clone();
    moto.ops(&json!([{"op": "terminate_instances", "account": ACCOUNT, "region": "us-east-1", "ids": [gone]}]));

    let mark = request_count(&port);
    sync_ok(&env, &[]);
    let requests = requests_since(&port, mark);
    assert!(!catalog(&port)["ec2Instance"].contains(&gone));
    assert_eq!(catalog(&port)["ec2Instance"].len(), 2);
    assert_eq!(
        ec2_searches(&requests),
        baseline + 1,
        "one confirmation: {requests:#?}"
    );
    assert_eq!(upserted(&requests), 0);
    port.assert_no_schema_violations();
}

#[test]
fn an_entity_deleted_by_hand_comes_back_with_verify_and_with_expiry() {
    let moto = Moto::start();
    let seeded = estate(&moto);
    let port = FakePort::start();
    let env = dynamo_env(&moto, &port);
    sync_ok(&env, &[]);
    let ids = instances(&seeded);

    // The state vouches for it: a plain resync does not see the hand deletion.
    delete_by_hand(&port, "ec2Instance", &ids[0]);
    sync_ok(&env, &[]);
    assert!(!catalog(&port)["ec2Instance"].contains(&ids[0]));
    // Verify lists Port, finds it missing and the unit writes it again.
    let mark = request_count(&port);
    sync_ok(&env, &["--verify"]);
    assert!(catalog(&port)["ec2Instance"].contains(&ids[0]));
    assert_eq!(upserted(&requests_since(&port, mark)), 1);

    // Expiry: the records' expiry is moved into the past, as if max age had passed.
    delete_by_hand(&port, "ec2Instance", &ids[1]);
    let (runtime, store) = store(&moto);
    runtime.block_on(async {
        let scope = ScopeKey::new("port-aws-sync", ACCOUNT, "us-east-1", EC2);
        let base = store.read_scope(&scope).await.unwrap();
        let expired: Vec<EntityRecord> = base
            .records()
            .map(|r| EntityRecord {
                expires_at: Timestamp::now().minus(Duration::from_secs(1)),
                ..r.clone()
            })
            .collect();
        store
            .write_scope(
                &scope,
                &base,
                ScopeChanges {
                    upserted: expired,
                    removed: vec![],
                },
            )
            .await
            .unwrap();
    });
    let mark = request_count(&port);
    sync_ok(&env, &[]);
    assert!(catalog(&port)["ec2Instance"].contains(&ids[1]));
    assert_eq!(
        upserted(&requests_since(&port, mark)),
        3,
        "every expired entity is written again"
    );
    port.assert_no_schema_violations();
}

#[test]
fn an_entity_taken_over_by_another_installation_is_not_deleted() {
    let moto = Moto::start();
    let seeded = estate(&moto);
    let port = FakePort::start();
    let env = dynamo_env(&moto, &port);
    sync_ok(&env, &[]);
    let mark = request_count(&port);
    sync_ok(&env, &[]);
    let baseline = ec2_searches(&requests_since(&port, mark));
    let taken = instances(&seeded)[0].clone();
    let other = format!(
        "port-aws-sync/{} (integration/other-install; account/{ACCOUNT}; region/us-east-1)",
        env!("CARGO_PKG_VERSION")
    );
    port.control("seed", &json!({"entities": [{"blueprint": "ec2Instance", "entity": {"identifier": taken, "title": "theirs"}, "datasource": other}]}));
    moto.ops(&json!([{"op": "terminate_instances", "account": ACCOUNT, "region": "us-east-1", "ids": [taken]}]));
    sync_ok(&env, &[]);
    assert!(
        catalog(&port)["ec2Instance"].contains(&taken),
        "another installation's entity was deleted"
    );
    // The state forgot it: a later run does not search for it again.
    let mark = request_count(&port);
    sync_ok(&env, &[]);
    let later = requests_since(&port, mark);
    assert_eq!(
        ec2_searches(&later),
        baseline,
        "nothing left to confirm: {later:#?}"
    );
    assert!(catalog(&port)["ec2Instance"].contains(&taken));
    port.assert_no_schema_violations();
}

#[test]
fn a_state_write_failing_after_the_port_write_converges_on_the_next_run() {
    let moto = Moto::start();
    let seeded = estate(&moto);
    let port = FakePort::start();
    let mut env = dynamo_env(&moto, &port);
    let proxy = AwsProxy::start(
        &moto,
        &json!([{"service": "dynamodb", "action": "BatchWriteItem",
                 "respond": {"status": 400, "code": "ValidationException", "message": "injected state write failure"}}]),
    );
    env.retain(|(k, _)| k != "AWS_ENDPOINT_URL");
    env.push(("AWS_ENDPOINT_URL".into(), proxy.url.clone()));
    let out = run_cli(&["sync"], &env);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("recording the sync state failed"),
        "{}",
        stderr(&out)
    );
    assert!(proxy.hits()[0] >= 1);
    let written = catalog(&port);
    assert_eq!(written["ec2Instance"].len(), 3, "Port got the entities");

    // State works again; meanwhile an instance is gone. The next run rewrites what is
    // unrecorded and the one after that deletes the gone instance from the recorded state.
    env.retain(|(k, _)| k != "AWS_ENDPOINT_URL");
    env.push(("AWS_ENDPOINT_URL".into(), moto.url.clone()));
    sync_ok(&env, &[]);
    let mark = request_count(&port);
    sync_ok(&env, &[]);
    assert_eq!(
        upserted(&requests_since(&port, mark)),
        0,
        "converged: nothing left to write"
    );
    let gone = instances(&seeded)[0].clone();
    moto.ops(&json!([{"op": "terminate_instances", "account": ACCOUNT, "region": "us-east-1", "ids": [gone]}]));
    sync_ok(&env, &[]);
    assert!(!catalog(&port)["ec2Instance"].contains(&gone));
    port.assert_no_schema_violations();
}

#[test]
fn two_runs_on_the_same_scopes_lose_and_duplicate_nothing() {
    let moto = Moto::start();
    let seeded = estate(&moto);
    let port = FakePort::start();
    let env = dynamo_env(&moto, &port);
    sync_ok(&env, &[]);
    let expected = catalog(&port);
    let gone = instances(&seeded)[0].clone();
    moto.ops(&json!([{"op": "terminate_instances", "account": ACCOUNT, "region": "us-east-1", "ids": [gone]}]));
    // Slow Port writes make the two runs overlap on every scope.
    port.control("inject", &json!({"method": "POST", "path_regex": "/entities/(bulk|search)$", "status": 503, "delay": 1, "count": 4}));
    let spawn = || {
        Command::new(env!("CARGO_BIN_EXE_port-aws-sync"))
            .arg("sync")
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    for out in [&a, &b] {
        let log = stderr(out);
        assert!(
            out.status.success() || log.contains("being synced by another worker"),
            "{log}"
        );
    }
    sync_ok(&env, &[]);
    let mut want = expected.clone();
    want.get_mut("ec2Instance").unwrap().remove(&gone);
    assert_eq!(catalog(&port), want);
    let mark = request_count(&port);
    sync_ok(&env, &[]);
    assert_eq!(
        upserted(&requests_since(&port, mark)),
        0,
        "the state records every entity once"
    );
}

#[test]
fn the_cli_state_file_survives_a_killed_run() {
    let moto = Moto::start();
    let seeded = estate(&moto);
    let port = FakePort::start();
    let mut env = with_port(base_env(&moto), &port);
    env.push(("REGION_POLICY".into(), r#"{"allow": ["us-east-1"]}"#.into()));
    sync_ok(&env, &[]);
    let gone = instances(&seeded)[0].clone();
    moto.ops(&json!([
        {"op": "terminate_instances", "account": ACCOUNT, "region": "us-east-1", "ids": [gone]},
        {"op": "run_instances", "account": ACCOUNT, "region": "us-east-1", "count": 2},
    ]));
    // The unit's bulk upsert hangs for 10 s (then Port answers 503 and it is retried).
    port.control("inject", &json!({"method": "POST", "path_regex": "/entities/bulk$", "status": 503, "delay": 10, "count": 1}));
    let mut child = Command::new(env!("CARGO_BIN_EXE_port-aws-sync"))
        .arg("sync")
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut polls = 0;
    wait_until("a bulk upsert in flight", Duration::from_secs(60), || {
        // Adding a fault that never matches answers how many are pending: the bulk fault is
        // gone once the unit's request holds it.
        polls += 1;
        let (_, answer) = http(
            "POST",
            &format!("{}/_fake/inject", port.url),
            Some(&json!({"path_regex": "^/never$", "status": 500})),
        );
        answer["pending_faults"].as_u64() == Some(polls)
    });
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    // The killed run's leases expire within the CLI's lease (60 s); until then its scopes are
    // reported as being synced, and the file itself is intact.
    std::thread::sleep(Duration::from_secs(61));
    sync_ok(&env, &[]);
    let ec2 = &catalog(&port)["ec2Instance"];
    assert_eq!(ec2.len(), 4, "{ec2:?}");
    assert!(!ec2.contains(&gone));
    let status = run_cli(&["status"], &env);
    assert!(status.status.success(), "{}", stderr(&status));
    let text = String::from_utf8_lossy(&status.stdout).into_owned();
    assert!(text.contains("units done, 0 failed, closed"), "{text}");
    assert!(text.contains(", open"), "the killed run stays open: {text}");
}

#[test]
fn the_first_run_with_empty_state_adopts_what_port_holds() {
    let moto = Moto::start();
    let seeded = estate(&moto);
    let port = FakePort::start();
    let mut env = with_port(base_env(&moto), &port);
    env.push(("REGION_POLICY".into(), r#"{"allow": ["us-east-1"]}"#.into()));
    sync_ok(&env, &[]);
    let before = catalog(&port);
    let handmade = json!({"blueprint": "ec2Instance", "entity": {"identifier": "i-0handmade0000001", "title": "x"}, "datasource": "seed"});
    port.control("seed", &json!({"entities": [handmade]}));
    let gone = instances(&seeded)[0].clone();
    moto.ops(&json!([{"op": "terminate_instances", "account": ACCOUNT, "region": "us-east-1", "ids": [gone]}]));

    // A new state file: Port holds this installation's entities, the state knows nothing.
    env.retain(|(k, _)| k != "STATE_PATH");
    let fresh = state_path(&moto).with_file_name("fresh.sqlite");
    env.push(("STATE_PATH".into(), fresh.display().to_string()));
    let out = sync_ok(&env, &[]);
    assert!(
        stderr(&out).contains("no sync state yet"),
        "{}",
        stderr(&out)
    );
    let mut want = before.clone();
    want.get_mut("ec2Instance").unwrap().remove(&gone);
    want.get_mut("ec2Instance")
        .unwrap()
        .insert("i-0handmade0000001".into());
    assert_eq!(
        catalog(&port),
        want,
        "adopted: the gone instance deleted, nothing else"
    );
    // Adopted entities were rewritten once and recorded: the next run writes nothing.
    let mark = request_count(&port);
    sync_ok(&env, &[]);
    assert_eq!(upserted(&requests_since(&port, mark)), 0);
    port.assert_no_schema_violations();
}
