//! The platform kinds beyond aws-v3 (KMS keys, Secrets Manager secrets, Step Functions state
//! machines, IAM roles per account) end to end: moto seeded in two accounts and two regions, the `port-aws-sync`
//! binary's real fetch path (`sync --dry-run --raw`), then `map` with the example mappings of
//! `docs/examples/`. Asserts every raw object's identifier, title and
//! `__ExtraContext`, unit by unit.

mod common;

use common::kinds::*;
use common::*;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

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
    examples_mapping(all_kinds().map(|k| k.slug))
}

fn run_sync(moto: &Moto, dir: &std::path::Path) -> Vec<Value> {
    let env = kinds_env(moto, all_kinds().map(|k| k.name), mapping());
    let units = (KINDS.len() * REGIONS.len() + 1) * ACCOUNTS.len();
    let (raw, summary) = raw_with_summary(dir, &env, units);
    let calls: usize = KINDS.iter().map(|k| k.calls_per_unit).sum();
    let calls = (calls * REGIONS.len() + IAM_ROLE.calls_per_unit) * ACCOUNTS.len();
    assert_eq!(summary["awsApiCalls"], calls, "{summary:#}");
    raw
}

#[test]
fn platform_kinds_come_from_every_account_and_region() {
    let moto = Moto::start();
    let region = two_of_each(KINDS.iter().map(|k| k.spec_key));
    let seeded = moto.seed(&two_account_seed(region, json!({"iam_roles": true})));
    let dir = test_dir("kinds-platform");
    let raw = run_sync(&moto, &dir);

    for case in KINDS {
        let got = fetched_by_scope(&raw, case.name, case.id_key);
        let expected = seeded_by_scope(&seeded, case.spec_key);
        assert_eq!(got, expected, "{}", case.name);
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
    let entities = map_raw(dir, &mapping(), raw);
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
