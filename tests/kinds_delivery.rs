//! The CodeDeploy and CodePipeline kinds end to end: moto seeded in two accounts and two regions
//! (`tests/support/kind_seeds/{codedeploy,codepipeline}.py`), `tests/support/fake_cicd_gaps.py`
//! in front of it for the four operations moto lacks (MOTO_NOTES.md §11), and the real
//! `port-aws-sync sync --dry-run --raw`; the raw objects' identifiers and `__ExtraContext` are
//! checked per account and region, then `port-aws-sync map` with the aws-v3 example mappings
//! (`docs/examples/<slug>/`) gives every object its entity with the expected identifier and title.

mod common;

use common::kinds::*;
use common::*;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

/// (kind, example slug, the identifier the example mapping computes from `Properties`).
type Identifier = fn(&Value) -> String;
const KINDS: [(&str, &str, Identifier); 9] = [
    (
        "AWS::CodeDeploy::Application",
        "codedeploy-application",
        |p| s(&p["ApplicationId"]),
    ),
    (
        "AWS::CodeDeploy::DeploymentGroup",
        "codedeploy-deployment-group",
        |p| s(&p["DeploymentGroupId"]),
    ),
    (
        "AWS::CodeDeploy::Deployment",
        "codedeploy-deployment",
        |p| s(&p["DeploymentId"]),
    ),
    (
        "AWS::CodeDeploy::DeploymentTarget",
        "codedeploy-deployment-target",
        |p| format!("{}/{}", s(&p["DeploymentId"]), s(&p["TargetId"])),
    ),
    (
        "AWS::CodePipeline::Pipeline",
        "codepipeline-pipeline",
        |p| s(&p["PipelineArn"]),
    ),
    ("AWS::CodePipeline::Stage", "codepipeline-stage", |p| {
        format!("{}/{}", s(&p["PipelineArn"]), s(&p["Name"]))
    }),
    ("AWS::CodePipeline::Action", "codepipeline-action", |p| {
        format!(
            "{}/{}/{}",
            s(&p["PipelineArn"]),
            s(&p["StageName"]),
            s(&p["Name"])
        )
    }),
    (
        "AWS::CodePipeline::PipelineExecution",
        "codepipeline-pipeline-execution",
        |p| s(&p["PipelineExecutionId"]),
    ),
    (
        "AWS::CodePipeline::ActionExecution",
        "codepipeline-action-execution",
        |p| s(&p["ActionExecutionId"]),
    ),
];

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

/// Runs every CodeDeploy and CodePipeline seeder in each account and region; prints
/// `{kind: {account: {region: [identifiers]}}}`.
const SEED: &str = r#"
import json, sys
sys.path.insert(0, sys.argv[2])
from seed_moto import Aws
from kind_seeds import codedeploy, codepipeline
aws = Aws(sys.argv[1])
out = {}
for account in json.loads(sys.argv[3]):
    for region in json.loads(sys.argv[4]):
        factory = lambda service, a=account, r=region: aws.client(a, service, r)
        for kind, seeder in {**codedeploy.KINDS, **codepipeline.KINDS}.items():
            ids = seeder(factory, account, region)
            out.setdefault(kind, {}).setdefault(account, {})[region] = ids
print(json.dumps(out))
"#;

fn seed(moto: &Moto) -> Value {
    moto.seed(&json!({
        "organization": false,
        "role_name": "Reader",
        "accounts": [{"key": "a", "id": ACCOUNTS[0]}, {"key": "b", "id": ACCOUNTS[1]}]
    }));
    let out = Command::new(python())
        .args(["-c", SEED, &moto.url])
        .arg(root().join("tests/support"))
        .arg(json!(ACCOUNTS).to_string())
        .arg(json!(REGIONS).to_string())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "seeding failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `tests/support/fake_cicd_gaps.py` in front of moto.
fn start_gaps(moto: &Moto) -> (Guard, String) {
    let args = ["--upstream", moto.url.as_str()];
    spawn_listening(
        "tests/support/fake_cicd_gaps.py",
        &args,
        "the CI/CD gaps fake",
    )
}

/// The example mappings of the kinds, as one port-app-config.
fn mapping() -> String {
    examples_mapping(KINDS.iter().map(|k| k.1))
}

fn identifier_of(kind: &str) -> Identifier {
    KINDS.iter().find(|(k, _, _)| *k == kind).unwrap().2
}

#[test]
fn codedeploy_and_codepipeline_kinds_fetch_every_account_and_region() {
    let moto = Moto::start();
    let seeded = seed(&moto);
    let (_gaps, gaps_url) = start_gaps(&moto);
    let dir = test_dir("kinds-delivery");
    let config_path = dir.join("mapping.yaml");
    std::fs::write(&config_path, mapping()).unwrap();

    let mut env = reader_env(&moto);
    env.retain(|(k, _)| k != "AWS_ENDPOINT_URL");
    env.push(("AWS_ENDPOINT_URL".into(), gaps_url));
    env.push(("MAPPING_CONFIG".into(), config_path.display().to_string()));
    let (raw, _) = dry_run_in(&dir, &env, true, &[]);

    // Raw objects: identifiers per (kind, account, region), each with its own __ExtraContext.
    let mut fetched: BTreeMap<(String, String, String), BTreeSet<String>> = BTreeMap::new();
    for object in &raw {
        let kind = s(&object["Type"]);
        let extra = &object["__ExtraContext"];
        assert_eq!(extra["Partition"], "aws", "{object}");
        let key = (kind.clone(), s(&extra["AccountId"]), s(&extra["Region"]));
        let id = identifier_of(&kind)(&object["Properties"]);
        assert!(
            fetched.entry(key).or_default().insert(id.clone()),
            "{id} twice"
        );
    }
    for (kind, _, _) in KINDS {
        for account in ACCOUNTS {
            for region in REGIONS {
                let expected: BTreeSet<String> =
                    strs(&seeded[kind][account][region]).into_iter().collect();
                assert_eq!(expected.len(), 2, "{kind} seeded two in {account} {region}");
                let key = (kind.to_owned(), account.to_owned(), region.to_owned());
                let got = fetched.get(&key).cloned().unwrap_or_default();
                assert!(
                    expected.is_subset(&got),
                    "{kind} in {account} {region}: expected {expected:?} among {got:?}"
                );
                for (other, ids) in &fetched {
                    if other.0 == kind && other != &key {
                        assert!(
                            ids.is_disjoint(&expected),
                            "{kind}: {account} {region} objects in {other:?}"
                        );
                    }
                }
            }
        }
    }

    // The aws-v3 example mappings: one entity per raw object, same identifier, a title.
    let entities = map_raw(&dir, &mapping(), &raw);
    let titles: BTreeMap<String, String> = entities
        .iter()
        .map(|e| (s(&e["identifier"]), s(&e["title"])))
        .collect();
    let all: BTreeSet<String> = fetched.values().flatten().cloned().collect();
    assert_eq!(titles.keys().cloned().collect::<BTreeSet<_>>(), all);
    for e in &entities {
        assert!(
            ACCOUNTS.contains(&e["relations"]["account"].as_str().unwrap_or_default()),
            "{e}"
        );
    }
    let pipeline = format!("arn:aws:codepipeline:eu-west-1:{}:acting", ACCOUNTS[1]);
    assert_eq!(
        titles[&format!("{pipeline}/Build/Build")],
        "acting/Build/Build"
    );
    assert_eq!(titles[&format!("{pipeline}/Build")], "acting/Build");
    let web = format!("arn:aws:codepipeline:us-east-1:{}:web-app", ACCOUNTS[0]);
    assert_eq!(titles[&web], "web-app");
    for id in strs(&seeded["AWS::CodeDeploy::DeploymentTarget"][ACCOUNTS[0]]["us-east-1"]) {
        assert_eq!(titles[&id], id);
    }
    for id in strs(&seeded["AWS::CodeDeploy::Deployment"][ACCOUNTS[1]]["eu-west-1"]) {
        assert_eq!(titles[&id], format!("deployed-app/production/{id}"));
    }
    for id in strs(&seeded["AWS::CodePipeline::PipelineExecution"][ACCOUNTS[0]]["eu-west-1"]) {
        assert_eq!(titles[&id], format!("executed/{id}"));
    }
    for id in strs(&seeded["AWS::CodePipeline::ActionExecution"][ACCOUNTS[1]]["us-east-1"]) {
        assert!(
            ["Source/", "Build/"]
                .iter()
                .any(|p| titles[&id] == format!("{p}{id}")),
            "{id}"
        );
    }
}
