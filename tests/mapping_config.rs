//! The mapping configuration end to end with the real binary: every source of `MAPPING_CONFIG`
//! (file, S3 and SSM in moto, inline) and Port's integration config, their precedence,
//! registration, validation errors, option vectors through `map`, includeActions call counts,
//! selector region policies at planning, the `--raw` → `map` round trip, and the Port calls the
//! three top-level flags change.

mod common;

use common::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

const MGMT: &str = "123456789012";

fn tempdir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "pas-mapping-{}-{}",
        std::process::id(),
        fastrand::u64(..)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn env_with(mut env: Vec<(String, String)>, vars: &[(&str, &str)]) -> Vec<(String, String)> {
    for (k, v) in vars {
        env.retain(|(name, _)| name != k);
        env.push(((*k).to_owned(), (*v).to_owned()));
    }
    env
}

/// One account (moto's default), two buckets and two instances in us-east-1, one instance in
/// eu-west-1.
fn seed_small(moto: &Moto) -> Value {
    moto.seed(&json!({
        "organization": false,
        "accounts": [{"key": "mgmt", "management": true}],
        "resources": {"mgmt": {
            "regions": {"us-east-1": {"ec2_instances": 2}, "eu-west-1": {"ec2_instances": 1}},
            "buckets": [
                {"name": "alpha-bucket", "region": "us-east-1", "tags": {"team": "a"}, "encryption": true},
                {"name": "beta-bucket", "region": "us-east-1", "public_access_block": true}
            ]
        }}
    }))
}

/// A mapping whose output is easy to recognise: buckets as `customBucket` with a `name`.
const BUCKET_MAPPING: &str = r#"resources:
  - kind: AWS::S3::Bucket
    selector:
      query: 'true'
    port:
      entity:
        mappings:
          identifier: .Properties.BucketName
          title: .Properties.BucketName
          blueprint: '"customBucket"'
          properties:
            name: .Properties.BucketName
            tagCount: .Properties.Tags | length
"#;

fn dry_run(env: &[(String, String)], extra: &[&str]) -> (std::process::Output, Vec<Value>) {
    let dir = tempdir();
    let output = dir.join("out.jsonl");
    let mut args = vec!["sync", "--dry-run", "--output", output.to_str().unwrap()];
    args.extend_from_slice(extra);
    let out = run_cli(&args, env);
    let lines = std::fs::read_to_string(&output)
        .map(|t| json_lines(&t))
        .unwrap_or_default();
    (out, lines)
}

fn identifiers(entities: &[Value], blueprint: &str) -> BTreeSet<String> {
    entities
        .iter()
        .filter(|e| e["blueprint"] == blueprint)
        .map(|e| e["identifier"].as_str().unwrap().to_owned())
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn every_mapping_config_source_gives_the_same_entities_and_is_logged() {
    let moto = Moto::start();
    seed_small(&moto);
    moto.ops(&json!([
        {"op": "put_object", "account": MGMT, "bucket": "config-bucket", "key": "port/mapping.yaml", "body": BUCKET_MAPPING},
        {"op": "put_parameter", "account": MGMT, "name": "/port-aws-sync/mapping", "value": BUCKET_MAPPING}
    ]));
    let dir = tempdir();
    let file = dir.join("mapping.yaml");
    std::fs::write(&file, BUCKET_MAPPING).unwrap();
    let base = env_with(base_env(&moto), &[("KINDS", "AWS::S3::Bucket")]);
    let expected = set(&["alpha-bucket", "beta-bucket", "config-bucket"]);
    let cases = [
        (file.to_str().unwrap(), format!("file {}", file.display())),
        (
            "s3://config-bucket/port/mapping.yaml",
            "s3://config-bucket/port/mapping.yaml".to_owned(),
        ),
        (
            "ssm:/port-aws-sync/mapping",
            "SSM parameter /port-aws-sync/mapping".to_owned(),
        ),
        (BUCKET_MAPPING, "inline configuration".to_owned()),
    ];
    for (value, logged) in cases {
        let env = env_with(base.clone(), &[("MAPPING_CONFIG", value)]);
        let (out, entities) = dry_run(&env, &[]);
        let log = stderr(&out);
        assert!(out.status.success(), "{logged}: {log}");
        assert_eq!(identifiers(&entities, "customBucket"), expected, "{logged}");
        let alpha = entities
            .iter()
            .find(|e| e["identifier"] == "alpha-bucket")
            .unwrap();
        assert_eq!(alpha["properties"]["tagCount"], 1, "{logged}");
        assert!(
            log.contains(&format!("mapping={logged}")),
            "the source in effect is logged: {logged}\n{log}"
        );
    }

    // A source that cannot be read is a configuration error naming it.
    for (value, named) in [
        (
            "s3://config-bucket/missing.yaml",
            "s3://config-bucket/missing.yaml",
        ),
        (
            "ssm:/port-aws-sync/missing",
            "SSM parameter /port-aws-sync/missing",
        ),
        (
            "/nonexistent/mapping.yaml",
            "file /nonexistent/mapping.yaml",
        ),
    ] {
        let env = env_with(base.clone(), &[("MAPPING_CONFIG", value)]);
        let (out, _) = dry_run(&env, &[]);
        assert_eq!(out.status.code(), Some(2), "{value}: {}", stderr(&out));
        assert!(stderr(&out).contains(named), "{value}: {}", stderr(&out));
    }
    let env = env_with(base, &[("MAPPING_CONFIG", "s3://config-bucket")]);
    let (out, _) = dry_run(&env, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("MAPPING_CONFIG"), "{}", stderr(&out));

    // `map` and `validate` read the same forms.
    let raw = dir.join("raw.json");
    std::fs::write(
        &raw,
        r#"{"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "x", "Tags": []}}"#,
    )
    .unwrap();
    let env = base_env(&moto);
    let out = run_cli(
        &[
            "map",
            "--config",
            "ssm:/port-aws-sync/mapping",
            raw.to_str().unwrap(),
        ],
        &env,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        json_lines(&String::from_utf8_lossy(&out.stdout))[0]["blueprint"],
        "customBucket"
    );
    let out = run_cli(
        &[
            "validate",
            "--config",
            "s3://config-bucket/port/mapping.yaml",
        ],
        &env,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("valid (1 resources; kinds: AWS::S3::Bucket"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

fn port_requests(port: &FakePort) -> Vec<Value> {
    port.state()["requests"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[test]
fn the_integration_config_in_port_is_used_unless_mapping_config_is_set() {
    let moto = Moto::start();
    seed_small(&moto);
    let port = FakePort::start();
    let in_port = json!({"resources": [{"kind": "AWS::S3::Bucket", "selector": {"query": "true"},
        "port": {"entity": {"mappings": {"identifier": ".Properties.BucketName", "blueprint": "\"portBucket\""}}}}]});
    port.control(
        "seed",
        &json!({"integrations": [{"identifier": "prod-sync", "config": in_port}]}),
    );
    let env = env_with(
        with_port(base_env(&moto), &port),
        &[
            ("KINDS", "AWS::S3::Bucket"),
            ("INTEGRATION_IDENTIFIER", "prod-sync"),
        ],
    );

    // No MAPPING_CONFIG: Port's copy (a dry run only reads Port).
    let (out, entities) = dry_run(&env, &[]);
    let log = stderr(&out);
    assert!(out.status.success(), "{log}");
    assert_eq!(
        identifiers(&entities, "portBucket"),
        set(&["alpha-bucket", "beta-bucket"])
    );
    assert!(
        log.contains("mapping=Port integration `prod-sync` config"),
        "{log}"
    );
    // Reads only: the integration, and the searches of the deletion preview.
    let writes: Vec<Value> = port_requests(&port)
        .into_iter()
        .filter(|r| {
            r["method"] != "GET"
                && r["route"] != "/v1/auth/access_token"
                && !r["path"]
                    .as_str()
                    .unwrap_or("")
                    .ends_with("/entities/search")
        })
        .collect();
    assert!(
        writes.is_empty(),
        "a dry run writes nothing to Port: {writes:?}"
    );

    // MAPPING_CONFIG wins; a dry run with it does not even ask Port.
    let before = port_requests(&port).len();
    let env2 = env_with(env.clone(), &[("MAPPING_CONFIG", BUCKET_MAPPING)]);
    let (out, entities) = dry_run(&env2, &[]);
    let log = stderr(&out);
    assert!(out.status.success(), "{log}");
    assert!(identifiers(&entities, "portBucket").is_empty());
    assert_eq!(identifiers(&entities, "customBucket").len(), 2);
    assert!(log.contains("mapping=inline configuration"), "{log}");
    // It does not read the integration (the deletion preview still reads blueprints and searches).
    let since: Vec<Value> = port_requests(&port).into_iter().skip(before).collect();
    assert!(
        since.iter().all(|r| r["route"] == "/v1/auth/access_token"
            || (r["method"] == "GET" && r["path"] == "/v1/blueprints")
            || r["path"]
                .as_str()
                .unwrap_or("")
                .ends_with("/entities/search")),
        "only the deletion preview's reads: {since:?}"
    );
    assert!(!since.iter().any(|r| r["path"]
        .as_str()
        .unwrap_or("")
        .starts_with("/v1/integration")));

    // A real sync with MAPPING_CONFIG warns that the integration's copy in Port is not used.
    let explicit = "resources:\n  - kind: AWS::S3::Bucket\n    port: {entity: {mappings: {identifier: .Properties.BucketName, blueprint: '\"s3Bucket\"'}}}\n";
    let env3 = env_with(env.clone(), &[("MAPPING_CONFIG", explicit)]);
    let out = run_cli(&["sync"], &env3);
    let log = stderr(&out);
    assert!(out.status.success(), "{log}");
    assert!(
        log.contains("differs from MAPPING_CONFIG, which takes precedence"),
        "{log}"
    );
    assert_eq!(port.entities("s3Bucket").len(), 2);
    assert_eq!(
        port.state()["integrations"]["prod-sync"]["config"],
        in_port,
        "Port's copy is left as the user wrote it"
    );

    // An invalid config in Port is a configuration error naming Port as the source.
    port.control(
        "seed",
        &json!({"integrations": [{"identifier": "prod-sync", "config": {"resources": [{"kind": "AWS::Nope", "port": {"entity": {"mappings": {"identifier": ".x", "blueprint": "\"b\""}}}}]}}]}),
    );
    let (out, _) = dry_run(&env, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("Port integration `prod-sync` config")
            && stderr(&out).contains("resources[0] (AWS::Nope) kind"),
        "{}",
        stderr(&out)
    );

    // Port unreachable for the mapping (and no MAPPING_CONFIG): fail rather than guess.
    port.control(
        "inject",
        &json!({"method": "GET", "path_regex": "^/v1/integration/", "status": 403, "count": 100}),
    );
    let (out, _) = dry_run(&env, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("Set MAPPING_CONFIG"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_real_sync_registers_the_installation_best_effort() {
    let moto = Moto::start();
    seed_small(&moto);
    let port = FakePort::start();
    let env = env_with(
        with_port(base_env(&moto), &port),
        &[("KINDS", "AWS::S3::Bucket,AWS::Account::Info")],
    );

    // Registration fails: a warning, and the sync goes on.
    port.control(
        "inject",
        &json!({"method": "POST", "path_regex": "^/v1/integration$", "status": 422, "count": 100}),
    );
    let out = run_cli(&["sync"], &env);
    let log = stderr(&out);
    assert!(out.status.success(), "{log}");
    assert!(
        log.contains("registering the installation in Port failed"),
        "{log}"
    );
    assert!(log.contains("mapping=built-in default"), "{log}");
    assert_eq!(port.entities("s3Bucket").len(), 2);
    assert!(port.state()["integrations"].as_object().unwrap().is_empty());

    // Registration works: the integration carries the mapping in effect as its config.
    port.control("reset", &json!({}));
    let out = run_cli(&["sync"], &env);
    assert!(out.status.success(), "{}", stderr(&out));
    let integration = &port.state()["integrations"]["port-aws-sync"];
    assert_eq!(integration["installationAppType"], "port-aws-sync");
    assert_eq!(integration["version"], env!("CARGO_PKG_VERSION"));
    let kinds: Vec<&str> = integration["config"]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        vec![
            "AWS::Account::Info",
            "AWS::S3::Bucket",
            "AWS::EC2::Instance",
            "AWS::ECS::Cluster"
        ]
    );
    port.assert_no_schema_violations();

    // The next run reads that config back from Port.
    let out = run_cli(&["sync"], &env);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("mapping=Port integration `port-aws-sync` config"),
        "{}",
        stderr(&out)
    );
}

/// `# expect: TEXT` lines of an invalid-mapping vector.
fn expectations(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("# expect: "))
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_validation_error_exits_2_naming_index_field_and_expression() {
    let dir = root().join("tests/vectors/invalid");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 14, "the invalid vectors are missing");
    let env: Vec<(String, String)> =
        vec![("PATH".into(), std::env::var("PATH").unwrap_or_default())];
    for file in &files {
        let expect = expectations(file);
        assert!(
            !expect.is_empty(),
            "{} has no `# expect:` line",
            file.display()
        );
        let out = run_cli(&["validate", "--config", file.to_str().unwrap()], &env);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{}: {err}", file.display());
        for text in &expect {
            assert!(
                err.contains(text.as_str()),
                "{}: {err:?} lacks {text:?}",
                file.display()
            );
        }
    }

    // A sync with an invalid MAPPING_CONFIG stops before any AWS call (the endpoint is unreachable).
    let bad = dir.join("unknown-include-action.yaml");
    let env = vec![
        ("PATH".to_owned(), std::env::var("PATH").unwrap_or_default()),
        (
            "AWS_ENDPOINT_URL".to_owned(),
            "http://127.0.0.1:9".to_owned(),
        ),
        ("AWS_ACCESS_KEY_ID".to_owned(), "testing".to_owned()),
        ("AWS_SECRET_ACCESS_KEY".to_owned(), "testing".to_owned()),
        ("AWS_REGION".to_owned(), "us-east-1".to_owned()),
        (
            "MAPPING_CONFIG".to_owned(),
            bad.to_str().unwrap().to_owned(),
        ),
    ];
    for command in [&["sync", "--dry-run"][..], &["plan"][..]] {
        let out = run_cli(command, &env);
        assert_eq!(out.status.code(), Some(2), "{command:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("GetBucketEncryptionActon"),
            "{}",
            stderr(&out)
        );
    }

    // Warnings (unknown keys, aws-v3 default actions) do not fail validation.
    let warned = tempdir().join("warned.yaml");
    std::fs::write(
        &warned,
        "resources:\n  - kind: AWS::S3::Bucket\n    selector: {query: 'true', includeAction: [x], includeActions: [GetBucketTaggingAction]}\n    port: {entity: {mappings: {identifier: .Properties.Arn, blueprint: '\"s3Bucket\"'}}}\n",
    )
    .unwrap();
    let out = run_cli(
        &["validate", "--config", warned.to_str().unwrap()],
        &env[..1],
    );
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("resources[0].selector.includeAction: unknown key, ignored (did you mean `includeActions`?)")
            && err.contains("`GetBucketTaggingAction` is always made"),
        "{err}"
    );
}

#[test]
fn option_vectors_map_exactly() {
    let dir = root().join("tests/vectors/options");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        vec![
            "items-to-parse",
            "jq-edge-cases",
            "multiple-mappings",
            "query-and-region-policy"
        ]
    );
    let env: Vec<(String, String)> =
        vec![("PATH".into(), std::env::var("PATH").unwrap_or_default())];
    for name in names {
        let case = dir.join(&name);
        let out = run_cli(
            &[
                "map",
                "--config",
                case.join("mapping.yaml").to_str().unwrap(),
                case.join("raw.jsonl").to_str().unwrap(),
            ],
            &env,
        );
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        let expected = json_lines(&std::fs::read_to_string(case.join("expected.jsonl")).unwrap());
        assert_eq!(
            json_lines(&String::from_utf8_lossy(&out.stdout)),
            expected,
            "{name}"
        );
    }
}

fn summary_calls(path: &Path) -> u64 {
    let summary: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    summary["awsApiCalls"].as_u64().unwrap()
}

#[test]
fn include_actions_cost_calls_only_when_asked_for() {
    let moto = Moto::start();
    seed_small(&moto);
    let dir = tempdir();
    let plain = "resources:\n  - kind: AWS::S3::Bucket\n    port: {entity: {mappings: {identifier: .Properties.BucketName, blueprint: '\"b\"', properties: {enc: .Properties.BucketEncryption, pab: .Properties.PublicAccessBlockConfiguration}}}}\n";
    let with_actions = plain.replace(
        "port:",
        "selector: {includeActions: [GetBucketEncryptionAction, GetPublicAccessBlockAction]}\n    port:",
    );
    let run = |mapping: &str, name: &str| {
        let summary = dir.join(format!("{name}.json"));
        let env = env_with(base_env(&moto), &[("MAPPING_CONFIG", mapping)]);
        let (out, entities) = dry_run(&env, &["--summary-json", summary.to_str().unwrap()]);
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        (summary_calls(&summary), entities)
    };
    let (calls_plain, plain_entities) = run(plain, "plain");
    let (calls_actions, action_entities) = run(&with_actions, "actions");
    // Two more calls per bucket, nothing else.
    assert_eq!(
        calls_actions - calls_plain,
        2 * 2,
        "{calls_plain} vs {calls_actions}"
    );
    let by_id = |entities: &[Value], id: &str| {
        entities
            .iter()
            .find(|e| e["identifier"] == id)
            .cloned()
            .unwrap()
    };
    assert!(by_id(&plain_entities, "alpha-bucket")["properties"]["enc"].is_null());
    assert!(by_id(&action_entities, "alpha-bucket")["properties"]["enc"]["Rules"].is_array());
    assert!(
        by_id(&action_entities, "beta-bucket")["properties"]["pab"]["BlockPublicAcls"].is_boolean()
    );
}

fn plan_labels(env: &[(String, String)]) -> BTreeSet<String> {
    let out = run_cli(&["plan"], env);
    assert!(out.status.success(), "{}", stderr(&out));
    json_lines(&String::from_utf8_lossy(&out.stdout))
        .iter()
        .map(|u| {
            format!(
                "{}/{}",
                u["region"].as_str().unwrap(),
                u["kind"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn selector_region_policy_combines_with_region_policy_when_planning() {
    let moto = Moto::start();
    let env = env_with(
        base_env(&moto),
        &[
            (
                "REGION_POLICY",
                r#"{"allow": ["us-east-1", "eu-west-1", "us-west-2"], "deny": ["us-west-2"]}"#,
            ),
            ("KINDS", "AWS::EC2::Instance,AWS::ECS::Cluster"),
        ],
    );
    let mapping = r#"resources:
  - kind: AWS::EC2::Instance
    selector: {regionPolicy: {deny: [eu-west-1]}}
    port: {entity: {mappings: {identifier: .Properties.InstanceId, blueprint: '"ec2Instance"'}}}
  - kind: AWS::ECS::Cluster
    selector: {regionPolicy: {allow: [eu-west-1, us-west-2]}}
    port: {entity: {mappings: {identifier: .Properties.ClusterArn, blueprint: '"ecsCluster"'}}}
"#;
    let labels = plan_labels(&env_with(env, &[("MAPPING_CONFIG", mapping)]));
    // EC2: the global policy's us-east-1 and eu-west-1 less the selector's deny; ECS: the
    // selector allows us-west-2 but the global deny wins.
    assert_eq!(
        labels,
        set(&[
            "us-east-1/AWS::EC2::Instance",
            "eu-west-1/AWS::ECS::Cluster"
        ])
    );
}

#[test]
fn raw_objects_from_a_dry_run_feed_map_to_the_same_entities() {
    let moto = Moto::start();
    seed_small(&moto);
    let dir = tempdir();
    let mapping = dir.join("mapping.yaml");
    std::fs::write(
        &mapping,
        format!(
            "{BUCKET_MAPPING}  - kind: AWS::EC2::Instance\n    selector: {{regionPolicy: {{allow: [us-east-1]}}}}\n    port:\n      itemsToParse: .Properties.Tags\n      entity:\n        mappings:\n          identifier: .Properties.InstanceId + \"-\" + .item.Key\n          blueprint: '\"instanceTag\"'\n          properties: {{value: .item.Value}}\n"
        ),
    )
    .unwrap();
    let env = env_with(
        base_env(&moto),
        &[
            ("MAPPING_CONFIG", mapping.to_str().unwrap()),
            ("REGION_POLICY", r#"{"allow": ["us-east-1", "eu-west-1"]}"#),
        ],
    );
    let (out, entities) = dry_run(&env, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let (out, raw) = dry_run(&env, &["--raw"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(raw
        .iter()
        .all(|o| o["Type"].is_string() && o["Properties"].is_object()));
    assert!(
        !raw.iter()
            .any(|o| o["__ExtraContext"]["Region"] == "eu-west-1"),
        "the selector's region policy applies at planning: no eu-west-1 unit"
    );
    let raw_file = dir.join("raw.jsonl");
    std::fs::write(
        &raw_file,
        raw.iter().map(|o| format!("{o}\n")).collect::<String>(),
    )
    .unwrap();
    let out = run_cli(
        &["map", raw_file.to_str().unwrap()],
        &env_with(
            vec![("PATH".into(), std::env::var("PATH").unwrap_or_default())],
            &[("MAPPING_CONFIG", mapping.to_str().unwrap())],
        ),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let sorted = |mut v: Vec<Value>| {
        v.sort_by_key(|e| format!("{}/{}", e["blueprint"], e["identifier"]));
        v
    };
    let mapped = sorted(json_lines(&String::from_utf8_lossy(&out.stdout)));
    assert_eq!(mapped, sorted(entities));
    // Two instances in us-east-1, each with seed-account and Name tags.
    assert_eq!(
        mapped
            .iter()
            .filter(|e| e["blueprint"] == "instanceTag")
            .count(),
        4
    );
}

fn seed_port_with_default_blueprints(port: &FakePort, entities: Value) {
    let blueprints: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("src/port/default_blueprints.json")).unwrap(),
    )
    .unwrap();
    port.control(
        "seed",
        &json!({"blueprints": blueprints, "entities": entities}),
    );
}

fn our_datasource(account: &str, region: &str) -> String {
    format!(
        "port-aws-sync/{} (integration/port-aws-sync; account/{account}; region/{region})",
        env!("CARGO_PKG_VERSION")
    )
}

#[test]
fn the_three_flags_change_the_port_calls() {
    let moto = Moto::start();
    seed_small(&moto);
    let port = FakePort::start();
    // Stale entities in this installation's account scope: one with a dependent (a foreign
    // instance relates to it), one without.
    seed_port_with_default_blueprints(
        &port,
        json!([
            {"blueprint": "awsAccount", "entity": {"identifier": "111122223333"}, "datasource": our_datasource(MGMT, "global")},
            {"blueprint": "awsAccount", "entity": {"identifier": "444455556666"}, "datasource": our_datasource(MGMT, "global")},
            {"blueprint": "ec2Instance", "entity": {"identifier": "i-foreign", "relations": {"account": "111122223333"}}, "datasource": "other-tool/1.0"}
        ]),
    );
    let flags = |on: bool| {
        format!(
            "deleteDependentEntities: {on}\ncreateMissingRelatedEntities: {on}\nenableMergeEntity: {on}\n{}",
            std::fs::read_to_string(root().join("src/mapping/default_port_app_config.yml"))
                .unwrap()
                .lines()
                .skip_while(|l| !l.starts_with("resources:"))
                .map(|l| format!("{l}\n"))
                .collect::<String>()
        )
    };
    let env = env_with(
        with_port(base_env(&moto), &port),
        &[
            ("REGION_POLICY", r#"{"allow": ["us-east-1"]}"#),
            ("KINDS", "AWS::Account::Info,AWS::EC2::Instance"),
            ("MAPPING_CONFIG", &flags(false)),
        ],
    );
    let out = run_cli(&["sync"], &env);
    let log = stderr(&out);
    assert!(out.status.success(), "{log}");
    let requests = port_requests(&port);
    let upserts: Vec<&Value> = requests
        .iter()
        .filter(|r| r["route"] == "/v1/blueprints/{blueprint_identifier}/entities/bulk")
        .collect();
    assert!(!upserts.is_empty());
    for r in &upserts {
        assert_eq!(r["query"]["merge"], "false", "{r}");
        assert_eq!(
            r["query"]["create_missing_related_entities"], "false",
            "{r}"
        );
        assert_eq!(
            r["status"], 200,
            "accounts are written before what relates to them: {r}"
        );
    }
    assert_eq!(
        port.entities("ec2Instance").len(),
        3,
        "2 synced + the foreign one"
    );
    // Without deleteDependentEntities: the refused bulk delete is retried entity by entity; the
    // stale account with a dependent stays.
    let deletes: Vec<&Value> = requests
        .iter()
        .filter(|r| {
            r["path"]
                .as_str()
                .unwrap_or("")
                .contains("/v1/blueprints/awsAccount/")
        })
        .filter(|r| {
            r["method"] == "DELETE"
                || r["route"]
                    .as_str()
                    .unwrap_or("")
                    .ends_with("/bulk/entities/delete")
        })
        .collect();
    assert!(
        deletes
            .iter()
            .all(|r| r["query"]["delete_dependents"] == "false"),
        "{deletes:?}"
    );
    assert!(
        deletes.iter().any(|r| r["method"] == "DELETE"),
        "{deletes:?}"
    );
    let accounts: BTreeSet<String> = port.entities("awsAccount").keys().cloned().collect();
    assert_eq!(accounts, set(&[MGMT, "111122223333"]));
    assert!(log.contains("deleteDependentEntities is false"), "{log}");

    // With the flags on: merge and create-missing on upserts, delete_dependents on deletes.
    port.control("reset", &json!({}));
    seed_port_with_default_blueprints(
        &port,
        json!([
            {"blueprint": "awsAccount", "entity": {"identifier": "111122223333"}, "datasource": our_datasource(MGMT, "global")},
            {"blueprint": "ec2Instance", "entity": {"identifier": "i-foreign", "relations": {"account": "111122223333"}}, "datasource": "other-tool/1.0"}
        ]),
    );
    let env = env_with(env, &[("MAPPING_CONFIG", &flags(true))]);
    let out = run_cli(&["sync"], &env);
    assert!(out.status.success(), "{}", stderr(&out));
    let requests = port_requests(&port);
    for r in requests
        .iter()
        .filter(|r| r["route"] == "/v1/blueprints/{blueprint_identifier}/entities/bulk")
    {
        assert_eq!(r["query"]["merge"], "true", "{r}");
        assert_eq!(r["query"]["create_missing_related_entities"], "true", "{r}");
    }
    let bulk_deletes: Vec<&Value> = requests
        .iter()
        .filter(|r| {
            r["route"]
                .as_str()
                .unwrap_or("")
                .ends_with("/bulk/entities/delete")
        })
        .collect();
    assert!(!bulk_deletes.is_empty());
    assert!(bulk_deletes
        .iter()
        .all(|r| r["query"]["delete_dependents"] == "true"));
    assert!(!port.entities("awsAccount").contains_key("111122223333"));
    assert!(
        !port.entities("ec2Instance").contains_key("i-foreign"),
        "deleted with its dependency"
    );
    port.assert_no_schema_violations();
}
