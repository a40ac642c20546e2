//! The platform kinds beyond aws-v3 (KMS keys, Secrets Manager secrets, Step Functions state
//! machines, IAM roles per account) end to end: moto seeded in two accounts and two regions, the `port-aws-sync`
//! binary's real fetch path (`sync --dry-run --raw`), then `map` with the example mappings of
//! `docs/examples/`. Asserts every raw object's identifier, title and
//! `__ExtraContext`, unit by unit.

mod common;

use common::*;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

const ACCOUNTS: [&str; 2] = ["111111111111", "222222222222"];
const REGIONS: [&str; 2] = ["us-east-1", "eu-west-1"];

/// A regional kind of this file.
struct KindCase {
    name: &'static str,
    slug: &'static str,
    /// The seed spec key of tests/support/seed_moto.py.
    spec_key: &'static str,
    /// The raw object's identifier key.
    id_key: &'static str,
    /// The raw object's title key.
    title_key: &'static str,
    blueprint: &'static str,
    /// AWS calls one unit makes for the two seeded resources.
    calls_per_unit: usize,
}

const KINDS: &[KindCase] = &[
    KindCase {
        name: "AWS::KMS::Key",
        slug: "kms-key",
        spec_key: "kms_keys",
        id_key: "Arn",
        title_key: "KeyId",
        blueprint: "kmsKey",
        calls_per_unit: 5, // ListKeys, 2 DescribeKey, 2 ListResourceTags
    },
    KindCase {
        name: "AWS::SecretsManager::Secret",
        slug: "secretsmanager-secret",
        spec_key: "secretsmanager_secrets",
        id_key: "ARN",
        title_key: "Name",
        blueprint: "secretsManagerSecret",
        calls_per_unit: 1, // ListSecrets
    },
    KindCase {
        name: "AWS::StepFunctions::StateMachine",
        slug: "stepfunctions-state-machine",
        spec_key: "stepfunctions_state_machines",
        id_key: "stateMachineArn",
        title_key: "name",
        blueprint: "stepFunctionsStateMachine",
        calls_per_unit: 5, // ListStateMachines, 2 DescribeStateMachine, 2 ListTagsForResource
    },
];

/// The account-scoped IAM role kind: one unit per account, one `ListRoles` call.
const IAM_ROLE: KindCase = KindCase {
    name: "AWS::IAM::Role",
    slug: "iam-role",
    spec_key: "iam_roles",
    id_key: "Arn",
    title_key: "RoleName",
    blueprint: "iamRole",
    calls_per_unit: 1,
};

/// Every kind of this file.
fn all_kinds() -> impl Iterator<Item = &'static KindCase> {
    KINDS.iter().chain(std::iter::once(&IAM_ROLE))
}

/// The value every seeded secret holds (tests/support/kind_seeds/secretsmanager.py).
const SECRET_VALUE: &str = "seeded-secret-value-never-synced";

/// The example mappings of the kinds, as one port-app-config.
fn mapping() -> String {
    let mut config = String::from("resources:\n");
    for case in all_kinds() {
        let slug = case.slug;
        let path = root().join(format!("docs/examples/{slug}/{slug}-mappings.yaml"));
        let text = std::fs::read_to_string(&path).unwrap();
        let body = text.split_once("resources:\n").expect("a resources list").1;
        config.push_str(body);
        if !body.ends_with('\n') {
            config.push('\n');
        }
    }
    config
}

fn seed_spec() -> Value {
    let wanted: serde_json::Map<String, Value> = KINDS
        .iter()
        .map(|k| (k.spec_key.to_owned(), json!(2)))
        .collect();
    let regions: serde_json::Map<String, Value> = REGIONS
        .iter()
        .map(|r| ((*r).to_owned(), Value::Object(wanted.clone())))
        .collect();
    json!({
        "organization": false,
        "role_name": "Reader",
        "accounts": [{"key": "a", "id": ACCOUNTS[0]}, {"key": "b", "id": ACCOUNTS[1]}],
        "resources": {
            "a": {"regions": regions, "iam_roles": true},
            "b": {"regions": regions, "iam_roles": true}
        }
    })
}

/// `(account, region) -> identifiers` the seeders made for a kind.
fn expected(seeded: &Value, spec_key: &str) -> BTreeMap<(String, String), BTreeSet<String>> {
    let mut out = BTreeMap::new();
    for (key, account) in [("a", ACCOUNTS[0]), ("b", ACCOUNTS[1])] {
        for region in REGIONS {
            let ids: BTreeSet<String> = strs(&seeded["resources"][key][spec_key][region])
                .into_iter()
                .collect();
            assert_eq!(ids.len(), 2, "{spec_key} seeded in {account}/{region}");
            out.insert((account.to_owned(), region.to_owned()), ids);
        }
    }
    out
}

fn run_sync(moto: &Moto, dir: &std::path::Path) -> Vec<Value> {
    let raw = dir.join("raw.jsonl");
    let mut env = base_env(moto);
    env.push((
        "ACCOUNT_ROLE_ARNS".into(),
        format!(
            r#"["arn:aws:iam::{}:role/Reader", "arn:aws:iam::{}:role/Reader"]"#,
            ACCOUNTS[0], ACCOUNTS[1]
        ),
    ));
    env.push((
        "REGION_POLICY".into(),
        json!({"allow": REGIONS}).to_string(),
    ));
    let kinds: Vec<&str> = all_kinds().map(|k| k.name).collect();
    env.push(("KINDS".into(), kinds.join(",")));
    env.push(("MAPPING_CONFIG".into(), mapping()));
    let summary = dir.join("summary.json");
    let out = run_cli(
        &[
            "sync",
            "--dry-run",
            "--raw",
            "--output",
            raw.to_str().unwrap(),
            "--summary-json",
            summary.to_str().unwrap(),
        ],
        &env,
    );
    let log = stderr(&out);
    assert!(out.status.success(), "{log}");
    let summary: Value = serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    let units = (KINDS.len() * REGIONS.len() + 1) * ACCOUNTS.len();
    assert_eq!(summary["unitsTotal"], units, "{summary:#}");
    assert_eq!(summary["unitsOk"], units, "{summary:#}");
    assert!(
        summary["unitsSkipped"].as_array().is_none_or(Vec::is_empty),
        "{summary:#}"
    );
    let calls: usize = KINDS.iter().map(|k| k.calls_per_unit).sum();
    let calls = (calls * REGIONS.len() + IAM_ROLE.calls_per_unit) * ACCOUNTS.len();
    assert_eq!(summary["awsApiCalls"], calls, "{summary:#}");
    json_lines(&std::fs::read_to_string(&raw).unwrap())
}

#[test]
fn platform_kinds_come_from_every_account_and_region() {
    let moto = Moto::start();
    let seeded = moto.seed(&seed_spec());
    let dir = std::env::temp_dir().join(format!("pas-kinds-platform-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let raw = run_sync(&moto, &dir);

    for case in KINDS {
        let mut got: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
        for object in raw.iter().filter(|o| o["Type"] == case.name) {
            let extra = &object["__ExtraContext"];
            let (account, region) = (
                extra["AccountId"].as_str().unwrap().to_owned(),
                extra["Region"].as_str().unwrap().to_owned(),
            );
            assert_eq!(extra["Partition"], "aws", "{object}");
            let id = object["Properties"][case.id_key]
                .as_str()
                .unwrap_or_else(|| panic!("{object}"));
            if id.starts_with("arn:") {
                assert!(
                    id.contains(&format!(":{region}:{account}:")),
                    "{} {id} is in {account}/{region}",
                    case.name
                );
            }
            assert!(
                got.entry((account, region))
                    .or_default()
                    .insert(id.to_owned()),
                "{} {id} twice in one unit",
                case.name
            );
        }
        assert_eq!(got, expected(&seeded, case.spec_key), "{}", case.name);
    }
    assert_iam_roles(&seeded, &raw);
    assert_kms_tags(&raw);
    assert_secrets_are_metadata_only(&dir, &raw);
    assert_entities(&dir, &raw);
}

/// Every account's roles, once, in region `global`: the two seeded ones and the role the sync
/// assumes (`Reader`), with their trust policies as objects.
fn assert_iam_roles(seeded: &Value, raw: &[Value]) {
    let mut got: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for role in raw.iter().filter(|o| o["Type"] == IAM_ROLE.name) {
        let extra = &role["__ExtraContext"];
        assert_eq!(extra["Region"], "global", "{role}");
        assert_eq!(extra["Partition"], "aws", "{role}");
        let account = extra["AccountId"].as_str().unwrap().to_owned();
        let arn = role["Properties"]["Arn"].as_str().unwrap().to_owned();
        assert!(
            arn.starts_with(&format!("arn:aws:iam::{account}:role/")),
            "{role}"
        );
        let trust = &role["Properties"]["AssumeRolePolicyDocument"];
        assert!(trust["Statement"].is_array(), "{role}");
        assert!(got.entry(account).or_default().insert(arn), "{role} twice");
    }
    let mut want: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (key, account) in [("a", ACCOUNTS[0]), ("b", ACCOUNTS[1])] {
        let mut arns: BTreeSet<String> = strs(&seeded["resources"][key][IAM_ROLE.spec_key])
            .into_iter()
            .collect();
        assert_eq!(arns.len(), 2, "roles seeded in {account}");
        arns.insert(format!("arn:aws:iam::{account}:role/Reader"));
        want.insert(account.to_owned(), arns);
    }
    assert_eq!(got, want);
}

/// The tagged seeded key carries its tags as KMS gives them; the untagged one an empty list.
fn assert_kms_tags(raw: &[Value]) {
    let keys: Vec<&Value> = raw
        .iter()
        .filter(|o| o["Type"] == "AWS::KMS::Key")
        .collect();
    for key in keys {
        let p = &key["Properties"];
        assert_eq!(p["KeyManager"], "CUSTOMER", "{key}");
        let tags = if p["Description"] == "orders data" {
            json!([{"TagKey": "team", "TagValue": "orders"}])
        } else {
            json!([])
        };
        assert_eq!(p["Tags"], tags, "{key}");
    }
}

/// Secrets carry their tags and names, and no secret value reaches the raw output.
fn assert_secrets_are_metadata_only(dir: &std::path::Path, raw: &[Value]) {
    let text = std::fs::read_to_string(dir.join("raw.jsonl")).unwrap();
    assert!(!text.contains(SECRET_VALUE), "a secret value was synced");
    let secrets: Vec<&Value> = raw
        .iter()
        .filter(|o| o["Type"] == "AWS::SecretsManager::Secret")
        .collect();
    assert_eq!(secrets.len(), 8);
    for secret in secrets {
        let p = &secret["Properties"];
        let tags = if p["Name"] == "orders/db" {
            json!([{"Key": "team", "Value": "orders"}])
        } else {
            assert_eq!(p["Name"], "ci/token", "{secret}");
            json!([])
        };
        assert_eq!(
            p.get("Tags").cloned().unwrap_or(json!([])),
            tags,
            "{secret}"
        );
        assert!(p.get("SecretVersionsToStages").is_none(), "{secret}");
    }
}

/// The example mappings map every raw object: identifiers and titles.
fn assert_entities(dir: &std::path::Path, raw: &[Value]) {
    let config = dir.join("mapping.yaml");
    std::fs::write(&config, mapping()).unwrap();
    let input = dir.join("raw.jsonl");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_port-aws-sync"))
        .args([
            "map",
            "--config",
            config.to_str().unwrap(),
            input.to_str().unwrap(),
        ])
        .env_remove("MAPPING_CONFIG")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let entities = json_lines(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(entities.len(), raw.len());
    for (object, entity) in raw.iter().zip(&entities) {
        let p = &object["Properties"];
        let case = all_kinds().find(|k| object["Type"] == k.name).unwrap();
        assert_eq!(entity["blueprint"], case.blueprint, "{entity}");
        assert_eq!(entity["identifier"], p[case.id_key], "{entity}");
        assert_eq!(entity["title"], p[case.title_key], "{entity}");
        assert_eq!(
            entity["relations"]["account"], object["__ExtraContext"]["AccountId"],
            "{entity}"
        );
    }
}
