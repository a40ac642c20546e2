//! The shared set-up of the kinds' end-to-end tests (`tests/kinds_*.rs`): two member accounts and
//! two regions seeded in moto, the kinds' `docs/examples/` mappings, the binary's environment
//! reading both accounts, and its dry runs.

use super::*;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The member accounts the kinds' tests seed and read.
pub const ACCOUNTS: [&str; 2] = ["111111111111", "222222222222"];
/// The regions the kinds' tests seed and read.
pub const REGIONS: [&str; 2] = ["us-east-1", "eu-west-1"];

/// Identifiers by `(account, region)`.
pub type ByScope = BTreeMap<(String, String), BTreeSet<String>>;

/// `{key: 2}` for every seed spec key: two resources of each kind per region.
pub fn two_of_each<'a>(keys: impl IntoIterator<Item = &'a str>) -> Map<String, Value> {
    keys.into_iter().map(|k| (k.to_owned(), json!(2))).collect()
}

/// The seed spec of `tests/support/seed_moto.py`: accounts `a` and `b` (`ACCOUNTS`, role
/// `Reader`, no organization), each with `region` in both `REGIONS` and the entries of
/// `account` (per-account resources).
pub fn two_account_seed(region: Map<String, Value>, account: Value) -> Value {
    let regions: Map<String, Value> = REGIONS
        .iter()
        .map(|r| ((*r).to_owned(), Value::Object(region.clone())))
        .collect();
    let mut resources = account.as_object().cloned().unwrap_or_default();
    resources.insert("regions".into(), Value::Object(regions));
    json!({
        "organization": false,
        "role_name": "Reader",
        "accounts": [{"key": "a", "id": ACCOUNTS[0]}, {"key": "b", "id": ACCOUNTS[1]}],
        "resources": {"a": resources, "b": resources}
    })
}

/// What [`seed_and_dry_run`] gives.
pub struct DryRuns {
    /// What the seeder made (`tests/support/seed_moto.py`'s output).
    pub seeded: Value,
    /// The entities of a dry run.
    pub entities: Vec<Value>,
    /// The raw objects of a dry run.
    pub raws: Vec<Value>,
}

/// Moto with two of each of `spec_keys` per region of both accounts, then a [`dry_run`] of the
/// entities and one of the raw objects (a [`test_dir`] `name`), with the environment `env` gives.
pub fn seed_and_dry_run<'a>(
    name: &str,
    spec_keys: impl IntoIterator<Item = &'a str>,
    env: impl Fn(&Moto) -> Vec<(String, String)>,
) -> DryRuns {
    let moto = Moto::start();
    let seeded = moto.seed(&two_account_seed(two_of_each(spec_keys), json!({})));
    let env = env(&moto);
    DryRuns {
        seeded,
        entities: dry_run(name, &env, false),
        raws: dry_run(name, &env, true),
    }
}

/// The first resource of a kind's example mapping (`docs/examples/<slug>/`).
pub fn example_resource(slug: &str) -> Value {
    let path = root().join(format!("docs/examples/{slug}/{slug}-mappings.yaml"));
    let text = std::fs::read_to_string(&path).unwrap();
    let config: Value = yaml_serde::from_str(&text).unwrap();
    config["resources"][0].clone()
}

/// The blueprint a mapping resource maps to (its `blueprint` expression is a quoted string).
pub fn blueprint_of(resource: &Value) -> String {
    let expr = resource["port"]["entity"]["mappings"]["blueprint"].as_str();
    expr.unwrap().trim_matches('"').to_owned()
}

/// The example mappings of `slugs`, as one port-app-config (YAML).
pub fn examples_mapping<'a>(slugs: impl IntoIterator<Item = &'a str>) -> String {
    let mut config = String::from("resources:\n");
    for slug in slugs {
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

/// [`base_env`] reading both `ACCOUNTS` through their `Reader` role, in both `REGIONS`.
pub fn reader_env(moto: &Moto) -> Vec<(String, String)> {
    let roles = ACCOUNTS.map(|a| format!("arn:aws:iam::{a}:role/Reader"));
    let mut env = base_env(moto);
    env.push(("ACCOUNT_ROLE_ARNS".into(), json!(roles).to_string()));
    env.push((
        "REGION_POLICY".into(),
        json!({ "allow": REGIONS }).to_string(),
    ));
    env
}

/// [`reader_env`] syncing `kinds` with `mapping` (a port-app-config, JSON or YAML).
pub fn kinds_env<'a>(
    moto: &Moto,
    kinds: impl IntoIterator<Item = &'a str>,
    mapping: String,
) -> Vec<(String, String)> {
    let mut env = reader_env(moto);
    env.push((
        "KINDS".into(),
        kinds.into_iter().collect::<Vec<_>>().join(","),
    ));
    env.push(("MAPPING_CONFIG".into(), mapping));
    env
}

/// A fresh directory of this test process for the outputs of `name`.
pub fn test_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("pas-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `sync --dry-run` into a file of `dir` (raw objects with `raw`, else entities), with `extra`
/// arguments; asserts the run succeeded and returns the file's JSON lines and stderr.
pub fn dry_run_in(
    dir: &Path,
    env: &[(String, String)],
    raw: bool,
    extra: &[&str],
) -> (Vec<Value>, String) {
    let output = dir.join(if raw { "raw.jsonl" } else { "entities.jsonl" });
    let mut args = vec!["sync", "--dry-run", "--output", output.to_str().unwrap()];
    if raw {
        args.push("--raw");
    }
    args.extend(extra);
    let out = run_cli(&args, env);
    let log = stderr(&out);
    assert!(out.status.success(), "{log}");
    let lines = json_lines(&std::fs::read_to_string(&output).unwrap());
    (lines, log)
}

/// [`dry_run_in`] a [`test_dir`] `name`, where no unit may warn.
pub fn dry_run(name: &str, env: &[(String, String)], raw: bool) -> Vec<Value> {
    let (lines, log) = dry_run_in(&test_dir(name), env, raw, &[]);
    assert!(!log.contains("WARN"), "no unit may warn: {log}");
    lines
}

/// The entities of `blueprint` among `entities`, and their identifiers.
pub fn of_blueprint<'e>(
    entities: &'e [Value],
    blueprint: &str,
) -> (Vec<&'e Value>, BTreeSet<String>) {
    let mapped: Vec<&Value> = entities
        .iter()
        .filter(|e| e["blueprint"] == blueprint)
        .collect();
    let ids = mapped
        .iter()
        .map(|e| e["identifier"].as_str().unwrap().to_owned())
        .collect();
    (mapped, ids)
}

/// `sync --dry-run --raw` into `dir` with `--summary-json`: the raw objects, and the summary,
/// in which all `units` are ok and none skipped.
pub fn raw_with_summary(dir: &Path, env: &[(String, String)], units: usize) -> (Vec<Value>, Value) {
    let summary = dir.join("summary.json");
    let extra = ["--summary-json", summary.to_str().unwrap()];
    let (raw, _) = dry_run_in(dir, env, true, &extra);
    let summary: Value = serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    assert_eq!(summary["unitsTotal"], units, "{summary:#}");
    assert_eq!(summary["unitsOk"], units, "{summary:#}");
    assert!(
        summary["unitsSkipped"].as_array().is_none_or(Vec::is_empty),
        "{summary:#}"
    );
    (raw, summary)
}

/// `(account, region) -> identifiers` the seeders made for `spec_key`: two in each scope.
pub fn seeded_by_scope(seeded: &Value, spec_key: &str) -> ByScope {
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

/// `(account, region) -> identifiers` (`Properties[id_key]`) of the raw objects of `kind`, by
/// their `__ExtraContext`; asserts the partition, that an ARN identifier is of its scope, and
/// that no unit sent an object twice.
pub fn fetched_by_scope(raw: &[Value], kind: &str, id_key: &str) -> ByScope {
    let mut got = ByScope::new();
    for object in raw.iter().filter(|o| o["Type"] == kind) {
        let extra = &object["__ExtraContext"];
        let (account, region) = (
            extra["AccountId"].as_str().unwrap().to_owned(),
            extra["Region"].as_str().unwrap().to_owned(),
        );
        assert_eq!(extra["Partition"], "aws", "{object}");
        let id = object["Properties"][id_key]
            .as_str()
            .unwrap_or_else(|| panic!("{object}"));
        if id.starts_with("arn:") {
            assert!(
                id.contains(&format!(":{region}:{account}:")),
                "{kind} {id} is in {account}/{region}"
            );
        }
        assert!(
            got.entry((account, region))
                .or_default()
                .insert(id.to_owned()),
            "{kind} {id} twice in one unit"
        );
    }
    got
}

/// `port-aws-sync map` of `dir/raw.jsonl` with `mapping` (written to `dir/mapping.yaml`): the
/// entities, one per raw object of `raw`.
pub fn map_raw(dir: &Path, mapping: &str, raw: &[Value]) -> Vec<Value> {
    let config = dir.join("mapping.yaml");
    std::fs::write(&config, mapping).unwrap();
    let input = dir.join("raw.jsonl");
    let out = Command::new(env!("CARGO_BIN_EXE_port-aws-sync"))
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
    entities
}
