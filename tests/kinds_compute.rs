//! The compute and organization kinds (`AWS::EC2::Volume`, `AWS::ECS::Service`,
//! `AWS::ECS::TaskDefinition`, `AWS::EKS::Cluster`, `AWS::ECR::Repository`,
//! `AWS::Lambda::Function`, `AWS::Organizations::Account`) fetched by the `port-aws-sync` binary
//! from a real moto server, seeded by `tests/support/kind_seeds/` in two accounts and two regions:
//! the raw objects' identifiers, titles and `__ExtraContext` (`sync --dry-run --raw`).

mod common;

use common::kinds::*;
use common::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::process::{Command, Stdio};

/// Runs the kind seeders (`kind_seeds.SEEDERS`) for `{kind: [[account, region], ...]}` through
/// seed_moto's clients (other accounts via sts:AssumeRole); returns `{kind: {account/region: ids}}`.
fn seed(moto: &Moto, plan: &Value) -> Value {
    const SCRIPT: &str = r#"
import json, sys
sys.path.insert(0, sys.argv[1])
from seed_moto import Aws
from kind_seeds import SEEDERS
aws = Aws(sys.argv[2])
factory = lambda service, account, region: aws.client(account, service, region)
out = {}
for kind, places in json.loads(sys.argv[3]).items():
    out[kind] = {f"{a}/{r}": SEEDERS[kind](factory, a, r) for a, r in places}
print(json.dumps(out))
"#;
    let support = root().join("tests/support");
    let out = Command::new(python())
        .args(["-c", SCRIPT, support.to_str().unwrap(), &moto.url])
        .arg(plan.to_string())
        .stdin(Stdio::null())
        .output()
        .expect("run the kind seeders");
    assert!(
        out.status.success(),
        "seeding failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("seeders print JSON")
}

/// A mapping naming `kinds` (identifier and title from the aws-v3 examples), with `actions` as
/// `includeActions`.
fn mapping(kinds: &[(&str, &str, &str, &[&str])]) -> String {
    let resources: Vec<Value> = kinds
        .iter()
        .map(|(kind, identifier, title, actions)| {
            json!({
                "kind": kind,
                "selector": {"query": "true", "includeActions": actions},
                "port": {"entity": {"mappings": {
                    "identifier": identifier, "title": title, "blueprint": "\"x\""
                }}}
            })
        })
        .collect();
    json!({"deleteDependentEntities": true, "resources": resources}).to_string()
}

/// `sync --dry-run --raw` with `env`: the raw objects written, and stderr.
fn raw_objects(name: &str, env: &[(String, String)]) -> (Vec<Value>, String) {
    let dir = std::env::temp_dir().join(format!("pas-kinds-compute-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let output = dir.join("raw.jsonl");
    let out = run_cli(
        &[
            "sync",
            "--dry-run",
            "--raw",
            "--output",
            output.to_str().unwrap(),
        ],
        env,
    );
    let log = stderr(&out);
    assert!(out.status.success(), "{log}");
    let text = std::fs::read_to_string(&output).unwrap_or_default();
    (json_lines(&text), log)
}

fn of_kind<'a>(objects: &'a [Value], kind: &str) -> Vec<&'a Value> {
    objects.iter().filter(|o| o["Type"] == kind).collect()
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

/// Every seeded identifier of `kind` came back, each once, in its own account and region.
fn assert_identifiers(objects: &[Value], seeded: &Value, kind: &str, id_key: &str) {
    let fetched = of_kind(objects, kind);
    let mut expected = BTreeSet::new();
    for (place, ids) in seeded[kind].as_object().unwrap() {
        for id in strs(ids) {
            expected.insert((place.clone(), id));
        }
    }
    let got: BTreeSet<(String, String)> = fetched
        .iter()
        .map(|o| {
            let extra = &o["__ExtraContext"];
            assert_eq!(extra["Partition"], "aws", "{o}");
            let place = format!("{}/{}", text(&extra["AccountId"]), text(&extra["Region"]));
            (place, text(&o["Properties"][id_key]))
        })
        .collect();
    assert_eq!(got.len(), fetched.len(), "{kind}: an object twice");
    assert_eq!(got, expected, "{kind}");
}

#[test]
fn regional_compute_kinds_come_from_every_account_and_region() {
    let moto = Moto::start();
    let places: Vec<[&str; 2]> = ACCOUNTS
        .iter()
        .flat_map(|a| REGIONS.iter().map(move |r| [*a, *r]))
        .collect();
    let kinds = [
        "AWS::EC2::Volume",
        "AWS::ECS::Service",
        "AWS::ECS::TaskDefinition",
        "AWS::EKS::Cluster",
        "AWS::ECR::Repository",
        "AWS::Lambda::Function",
    ];
    let plan: serde_json::Map<String, Value> = kinds
        .iter()
        .map(|k| (k.to_string(), json!(places)))
        .collect();
    let seeded = seed(&moto, &Value::Object(plan));

    let mut env = reader_env(&moto);
    let ecr_actions: &[&str] = &["GetLifecyclePolicyAction", "ListTagsForResourceAction"];
    env.push((
        "MAPPING_CONFIG".into(),
        mapping(&[
            (
                "AWS::EC2::Volume",
                ".Properties.VolumeId",
                ".Properties.VolumeId",
                &[],
            ),
            (
                "AWS::ECS::Service",
                ".Properties.ServiceArn",
                ".Properties.ServiceName",
                &[],
            ),
            (
                "AWS::ECS::TaskDefinition",
                ".Properties.TaskDefinitionArn",
                ".Properties.Family",
                &[],
            ),
            (
                "AWS::EKS::Cluster",
                ".Properties.Arn",
                ".Properties.Name",
                &[],
            ),
            (
                "AWS::ECR::Repository",
                ".Properties.RepositoryArn",
                ".Properties.RepositoryName",
                ecr_actions,
            ),
            (
                "AWS::Lambda::Function",
                ".Properties.FunctionArn",
                ".Properties.FunctionName",
                &["ListTagsAction"],
            ),
            (
                "AWS::Organizations::Account",
                ".Properties.Id",
                ".Properties.Name",
                &[],
            ),
        ]),
    ));
    let (objects, log) = raw_objects("regional", &env);

    assert_identifiers(&objects, &seeded, "AWS::EC2::Volume", "VolumeId");
    assert_identifiers(&objects, &seeded, "AWS::ECS::Service", "ServiceArn");
    assert_identifiers(&objects, &seeded, "AWS::EKS::Cluster", "Arn");
    assert_identifiers(&objects, &seeded, "AWS::ECR::Repository", "RepositoryArn");
    assert_identifiers(&objects, &seeded, "AWS::Lambda::Function", "FunctionArn");
    // The service seeder registers one more task definition (`seed-svc`) per account and region.
    let mut with_service = seeded.clone();
    for (place, arns) in with_service["AWS::ECS::TaskDefinition"]
        .as_object_mut()
        .unwrap()
    {
        let (account, region) = place.split_once('/').unwrap();
        let svc = format!("arn:aws:ecs:{region}:{account}:task-definition/seed-svc:1");
        arns.as_array_mut().unwrap().push(json!(svc));
    }
    assert_identifiers(
        &objects,
        &with_service,
        "AWS::ECS::TaskDefinition",
        "TaskDefinitionArn",
    );

    // Titles and the fields aws-v3's mappings read.
    let volumes = of_kind(&objects, "AWS::EC2::Volume");
    assert!(volumes
        .iter()
        .all(|v| v["Properties"]["Tags"][0]["Key"] == "Name"));
    for service in of_kind(&objects, "AWS::ECS::Service") {
        let props = &service["Properties"];
        assert!(["seed-web", "seed-jobs"].contains(&props["ServiceName"].as_str().unwrap()));
        assert_eq!(service["__ExtraContext"]["ClusterArn"], props["ClusterArn"]);
        assert!(text(&props["ClusterArn"]).ends_with(":cluster/seed-cluster"));
        assert_eq!(props["Tags"][0]["key"], "seed");
    }
    for td in of_kind(&objects, "AWS::ECS::TaskDefinition") {
        let family = text(&td["Properties"]["Family"]);
        assert!(text(&td["Properties"]["TaskDefinitionArn"]).contains(&format!("/{family}:")));
    }
    for cluster in of_kind(&objects, "AWS::EKS::Cluster") {
        let name = text(&cluster["Properties"]["Name"]);
        assert_eq!(cluster["Properties"]["Tags"], json!({"seed": name}));
    }
    for repo in of_kind(&objects, "AWS::ECR::Repository") {
        let props = &repo["Properties"];
        let name = text(&props["RepositoryName"]);
        assert_eq!(props["Tags"], json!([{"Key": "seed", "Value": name}]));
        assert_eq!(props["ImageScanningConfiguration"]["scanOnPush"], true);
        let has_lifecycle = props.get("LifecyclePolicy").is_some();
        assert_eq!(has_lifecycle, name == "seed/api", "{repo}");
    }
    for function in of_kind(&objects, "AWS::Lambda::Function") {
        let name = text(&function["Properties"]["FunctionName"]);
        assert_eq!(function["Properties"]["Tags"], json!({"seed": name}));
        assert_eq!(function["Properties"]["Runtime"], "python3.12");
    }

    // Outside Organizations mode the organization kind is skipped, and said so.
    assert!(of_kind(&objects, "AWS::Organizations::Account").is_empty());
    assert!(
        log.contains(
            "AWS::Organizations::Account is skipped: it is synced only in Organizations mode"
        ),
        "{log}"
    );
}

#[test]
fn organization_accounts_come_once_from_the_management_account() {
    let moto = Moto::start();
    let management = "123456789012";
    let seeded = seed(
        &moto,
        &json!({"AWS::Organizations::Account": [[management, "us-east-1"]]}),
    );
    let members = strs(&seeded["AWS::Organizations::Account"][format!("{management}/us-east-1")]);
    assert_eq!(members.len(), 2);

    let mut env = base_env(&moto);
    env.push((
        "ORGANIZATION_ROLE_ARN".into(),
        format!("arn:aws:iam::{management}:role/PortAwsSyncReadRole"),
    ));
    env.push((
        "REGION_POLICY".into(),
        json!({"allow": REGIONS}).to_string(),
    ));
    env.push(("EXTERNAL_ID".into(), "test-external-id".into()));
    env.push((
        "MAPPING_CONFIG".into(),
        mapping(&[(
            "AWS::Organizations::Account",
            ".Properties.Id",
            ".Properties.Name",
            &["ListTagsForResourceAction", "ListParentsAction"],
        )]),
    ));
    let (objects, log) = raw_objects("organization", &env);
    let accounts = of_kind(&objects, "AWS::Organizations::Account");
    let ids: BTreeSet<String> = accounts
        .iter()
        .map(|a| text(&a["Properties"]["Id"]))
        .collect();
    let mut expected: BTreeSet<String> = members.iter().cloned().collect();
    expected.insert(management.to_owned());
    assert_eq!(ids, expected, "{log}");
    assert_eq!(
        accounts.len(),
        3,
        "once per run, not once per account or region"
    );
    for account in &accounts {
        assert_eq!(
            account["__ExtraContext"],
            json!({"AccountId": management, "Region": "global", "Partition": "aws"})
        );
        let props = &account["Properties"];
        assert_eq!(props["State"], "ACTIVE");
        assert!(props["Parents"][0]["Id"].as_str().is_some(), "{account}");
    }
    for (n, id) in members.iter().enumerate() {
        let account = accounts
            .iter()
            .find(|a| a["Properties"]["Id"] == **id)
            .unwrap();
        assert_eq!(account["Properties"]["Name"], ["seed-dev", "seed-prod"][n]);
        assert_eq!(
            account["Properties"]["Tags"],
            json!([{"Key": "seed", "Value": n.to_string()}])
        );
    }
}
