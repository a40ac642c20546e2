//! The sync state end to end (issue 14 §3): the `port-aws-sync` binary against moto (EC2, S3,
//! ECS and DynamoDB for `STATE_TABLE`) and the strict fake Port. Assertions are on the catalog
//! and on the fake Port's request log.

mod common;

use common::*;
use port_aws_sync::state::{EntityRecord, ScopeChanges, ScopeKey, StateStore, Timestamp};
use serde_json::{json, Value};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

const ACCOUNT: &str = "123456789012";
const TABLE: &str = "port-aws-sync-state";
const EC2: &str = "AWS::EC2::Instance";

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

/// One scenario: moto holding the [`estate`], the fake Port, and the CLI's environment.
struct Scenario {
    moto: Moto,
    port: FakePort,
    seeded: Value,
    env: Vec<(String, String)>,
}

impl Scenario {
    /// The CLI with its state in a DynamoDB table of moto (`STATE_TABLE`).
    fn dynamo() -> Scenario {
        let mut scenario = Scenario::file();
        create_state_table(&scenario.moto, TABLE);
        scenario.env.push(("STATE_TABLE".into(), TABLE.into()));
        scenario
    }

    /// The CLI with its state in its SQLite file (`STATE_PATH`, one per moto server).
    fn file() -> Scenario {
        let moto = Moto::start();
        let seeded = estate(&moto);
        let port = FakePort::start();
        let mut env = with_port(base_env(&moto), &port);
        env.push(("REGION_POLICY".into(), r#"{"allow": ["us-east-1"]}"#.into()));
        Scenario {
            moto,
            port,
            seeded,
            env,
        }
    }

    /// Runs `sync` with `extra` arguments; the output must be a success.
    fn sync(&self, extra: &[&str]) -> Output {
        sync_ok(&self.env, extra)
    }

    /// [`Scenario::sync`], returning the requests the run sent to the fake Port.
    fn sync_requests(&self, extra: &[&str]) -> Vec<Value> {
        let mark = request_count(&self.port);
        self.sync(extra);
        requests_since(&self.port, mark)
    }

    /// The `n`th seeded instance.
    fn instance(&self, n: usize) -> String {
        strs(&self.seeded["resources"]["mgmt"]["ec2_instances"]["us-east-1"])[n].clone()
    }

    /// Terminates an instance in moto.
    fn terminate(&self, id: &str) {
        self.moto.ops(&json!([{"op": "terminate_instances", "account": ACCOUNT, "region": "us-east-1", "ids": [id]}]));
    }

    fn catalog(&self) -> Catalog {
        catalog(&self.port)
    }

    /// Replaces the environment variable `key`.
    fn set_env(&mut self, key: &str, value: String) {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.into(), value));
    }

    /// Starts `sync` without waiting for it, its stderr as `stderr`.
    fn spawn_sync(&self, stderr: Stdio) -> std::process::Child {
        Command::new(env!("CARGO_BIN_EXE_port-aws-sync"))
            .arg("sync")
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap()
    }
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
        let sdk = moto_sdk_config(moto);
        let api = port_aws_sync::aws::api::AwsApi::new(Default::default()).unwrap();
        let client = api.client("dynamodb", &sdk, "us-east-1").unwrap();
        StateStore::dynamodb(client, TABLE, Default::default())
    });
    (runtime, store)
}

#[test]
fn an_unchanged_resync_writes_nothing_and_one_change_writes_one_entity() {
    let s = Scenario::dynamo();
    s.sync(&[]);
    let before = s.catalog();
    assert_eq!(before["ec2Instance"].len(), 3);

    let second = s.sync_requests(&[]);
    assert_eq!(
        upserted(&second),
        0,
        "an unchanged resync upserts nothing: {second:#?}"
    );
    assert!(second
        .iter()
        .all(|r| r["method"] != "DELETE" && !r["path"].as_str().unwrap().contains("/delete")));
    assert_eq!(s.catalog(), before);

    let created = s.moto.ops(
        &json!([{"op": "run_instances", "account": ACCOUNT, "region": "us-east-1", "count": 1}]),
    );
    let new_id = strs(&created["ops"][0]["ids"])[0].clone();
    let third = s.sync_requests(&[]);
    assert_eq!(upserted(&third), 1, "exactly the new instance: {third:#?}");
    assert!(s.catalog()["ec2Instance"].contains(&new_id));
    s.port.assert_no_schema_violations();
}

#[test]
fn a_resource_deleted_in_aws_is_deleted_after_one_confirming_search() {
    let s = Scenario::dynamo();
    s.sync(&[]);
    // What a run searches without any deletion (the gone-scope step's listings).
    let baseline = ec2_searches(&s.sync_requests(&[]));
    let gone = s.instance(0);
    s.terminate(&gone);

    let requests = s.sync_requests(&[]);
    assert!(!s.catalog()["ec2Instance"].contains(&gone));
    assert_eq!(s.catalog()["ec2Instance"].len(), 2);
    assert_eq!(
        ec2_searches(&requests),
        baseline + 1,
        "one confirmation: {requests:#?}"
    );
    assert_eq!(upserted(&requests), 0);
    s.port.assert_no_schema_violations();
}

#[test]
fn an_entity_deleted_by_hand_comes_back_with_verify_and_with_expiry() {
    let s = Scenario::dynamo();
    s.sync(&[]);
    let ids = [s.instance(0), s.instance(1)];

    // The state vouches for it: a plain resync does not see the hand deletion.
    delete_by_hand(&s.port, "ec2Instance", &ids[0]);
    s.sync(&[]);
    assert!(!s.catalog()["ec2Instance"].contains(&ids[0]));
    // Verify lists Port, finds it missing and the unit writes it again.
    let verified = s.sync_requests(&["--verify"]);
    assert!(s.catalog()["ec2Instance"].contains(&ids[0]));
    assert_eq!(upserted(&verified), 1);

    // Expiry: the records' expiry is moved into the past, as if max age had passed.
    delete_by_hand(&s.port, "ec2Instance", &ids[1]);
    let (runtime, store) = store(&s.moto);
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
    let rewritten = s.sync_requests(&[]);
    assert!(s.catalog()["ec2Instance"].contains(&ids[1]));
    assert_eq!(
        upserted(&rewritten),
        3,
        "every expired entity is written again"
    );
    s.port.assert_no_schema_violations();
}

#[test]
fn an_entity_taken_over_by_another_installation_is_not_deleted() {
    let s = Scenario::dynamo();
    s.sync(&[]);
    let baseline = ec2_searches(&s.sync_requests(&[]));
    let taken = s.instance(0);
    let other = format!(
        "port-aws-sync/{} (integration/other-install; account/{ACCOUNT}; region/us-east-1)",
        env!("CARGO_PKG_VERSION")
    );
    s.port.control("seed", &json!({"entities": [{"blueprint": "ec2Instance", "entity": {"identifier": taken, "title": "theirs"}, "datasource": other}]}));
    s.terminate(&taken);
    s.sync(&[]);
    assert!(
        s.catalog()["ec2Instance"].contains(&taken),
        "another installation's entity was deleted"
    );
    // The state forgot it: a later run does not search for it again.
    let later = s.sync_requests(&[]);
    assert_eq!(
        ec2_searches(&later),
        baseline,
        "nothing left to confirm: {later:#?}"
    );
    assert!(s.catalog()["ec2Instance"].contains(&taken));
    s.port.assert_no_schema_violations();
}

#[test]
fn a_state_write_failing_after_the_port_write_converges_on_the_next_run() {
    let mut s = Scenario::dynamo();
    let proxy = AwsProxy::start(
        &s.moto,
        &json!([{"service": "dynamodb", "action": "BatchWriteItem",
                 "respond": {"status": 400, "code": "ValidationException", "message": "injected state write failure"}}]),
    );
    s.set_env("AWS_ENDPOINT_URL", proxy.url.clone());
    let out = run_cli(&["sync"], &s.env);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("recording the sync state failed"),
        "{}",
        stderr(&out)
    );
    assert!(proxy.hits()[0] >= 1);
    let written = s.catalog();
    assert_eq!(written["ec2Instance"].len(), 3, "Port got the entities");

    // State works again; meanwhile an instance is gone. The next run rewrites what is
    // unrecorded and the one after that deletes the gone instance from the recorded state.
    s.set_env("AWS_ENDPOINT_URL", s.moto.url.clone());
    s.sync(&[]);
    assert_eq!(
        upserted(&s.sync_requests(&[])),
        0,
        "converged: nothing left to write"
    );
    let gone = s.instance(0);
    s.terminate(&gone);
    s.sync(&[]);
    assert!(!s.catalog()["ec2Instance"].contains(&gone));
    s.port.assert_no_schema_violations();
}

#[test]
fn two_runs_on_the_same_scopes_lose_and_duplicate_nothing() {
    let s = Scenario::dynamo();
    s.sync(&[]);
    let expected = s.catalog();
    let gone = s.instance(0);
    s.terminate(&gone);
    // Slow Port writes make the two runs overlap on every scope.
    s.port.control("inject", &json!({"method": "POST", "path_regex": "/entities/(bulk|search)$", "status": 503, "delay": 1, "count": 4}));
    let (a, b) = (s.spawn_sync(Stdio::piped()), s.spawn_sync(Stdio::piped()));
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    for out in [&a, &b] {
        let log = stderr(out);
        assert!(
            out.status.success() || log.contains("being synced by another worker"),
            "{log}"
        );
    }
    s.sync(&[]);
    let mut want = expected.clone();
    want.get_mut("ec2Instance").unwrap().remove(&gone);
    assert_eq!(s.catalog(), want);
    assert_eq!(
        upserted(&s.sync_requests(&[])),
        0,
        "the state records every entity once"
    );
}

#[test]
fn the_cli_state_file_survives_a_killed_run() {
    let s = Scenario::file();
    s.sync(&[]);
    let gone = s.instance(0);
    s.moto.ops(&json!([
        {"op": "terminate_instances", "account": ACCOUNT, "region": "us-east-1", "ids": [gone]},
        {"op": "run_instances", "account": ACCOUNT, "region": "us-east-1", "count": 2},
    ]));
    // The unit's bulk upsert hangs for 10 s (then Port answers 503 and it is retried).
    s.port.control("inject", &json!({"method": "POST", "path_regex": "/entities/bulk$", "status": 503, "delay": 10, "count": 1}));
    let mut child = s.spawn_sync(Stdio::null());
    let mut polls = 0;
    wait_until("a bulk upsert in flight", Duration::from_secs(60), || {
        // Adding a fault that never matches answers how many are pending: the bulk fault is
        // gone once the unit's request holds it.
        polls += 1;
        let (_, answer) = http(
            "POST",
            &format!("{}/_fake/inject", s.port.url),
            Some(&json!({"path_regex": "^/never$", "status": 500})),
        );
        answer["pending_faults"].as_u64() == Some(polls)
    });
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    // The killed run's leases expire within the CLI's lease (60 s); until then its scopes are
    // reported as being synced, and the file itself is intact.
    std::thread::sleep(Duration::from_secs(61));
    s.sync(&[]);
    let ec2 = &s.catalog()["ec2Instance"];
    assert_eq!(ec2.len(), 4, "{ec2:?}");
    assert!(!ec2.contains(&gone));
    let status = run_cli(&["status"], &s.env);
    assert!(status.status.success(), "{}", stderr(&status));
    let text = String::from_utf8_lossy(&status.stdout).into_owned();
    assert!(text.contains("units done, 0 failed, closed"), "{text}");
    assert!(text.contains(", open"), "the killed run stays open: {text}");
}

#[test]
fn the_first_run_with_empty_state_adopts_what_port_holds() {
    let mut s = Scenario::file();
    s.sync(&[]);
    let before = s.catalog();
    let handmade = json!({"blueprint": "ec2Instance", "entity": {"identifier": "i-0handmade0000001", "title": "x"}, "datasource": "seed"});
    s.port.control("seed", &json!({"entities": [handmade]}));
    let gone = s.instance(0);
    s.terminate(&gone);

    // A new state file: Port holds this installation's entities, the state knows nothing.
    let fresh = state_path(&s.moto).with_file_name("fresh.sqlite");
    s.set_env("STATE_PATH", fresh.display().to_string());
    let out = s.sync(&[]);
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
        s.catalog(),
        want,
        "adopted: the gone instance deleted, nothing else"
    );
    // Adopted entities were rewritten once and recorded: the next run writes nothing.
    assert_eq!(upserted(&s.sync_requests(&[])), 0);
    s.port.assert_no_schema_violations();
}
