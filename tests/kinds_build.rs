//! The MSK, SES and CodeBuild kinds end to end: moto seeded in two accounts and two regions, the
//! `port-aws-sync` binary's real fetch path (`sync --dry-run --raw`), then `map` with the aws-v3
//! example mappings of `docs/examples/`. Asserts every raw object's identifier, title and
//! `__ExtraContext`, unit by unit.

mod common;

use common::kinds::*;
use common::*;
use serde_json::{json, Value};

/// The kinds of this file: name, example slug, seed spec key, the raw object's identifier key,
/// the entity's blueprint.
const KINDS: [(&str, &str, &str, &str, &str); 6] = [
    (
        "AWS::MSK::Cluster",
        "msk-cluster",
        "msk_clusters",
        "ClusterArn",
        "mskCluster",
    ),
    (
        "AWS::MSK::ServerlessCluster",
        "msk-serverless-cluster",
        "msk_serverless_clusters",
        "ClusterArn",
        "mskServerlessCluster",
    ),
    (
        "AWS::SES::EmailIdentity",
        "ses-email-identity",
        "ses_email_identities",
        "EmailIdentity",
        "sesEmailIdentity",
    ),
    (
        "AWS::SES::ConfigurationSet",
        "ses-configuration-set",
        "ses_configuration_sets",
        "ConfigurationSetName",
        "sesConfigurationSet",
    ),
    (
        "AWS::CodeBuild::Project",
        "codebuild-project",
        "codebuild_projects",
        "arn",
        "codeBuildProject",
    ),
    (
        "AWS::CodeBuild::BuildRun",
        "codebuild-build-run",
        "codebuild_build_runs",
        "Id",
        "codeBuildBuildRun",
    ),
];

/// The example mappings of the kinds, as one port-app-config.
fn mapping() -> String {
    examples_mapping(KINDS.iter().map(|k| k.1))
}

/// `(account, region) -> identifiers` the seeders made for a kind; CodeBuild projects also hold
/// the project the build-run seeder builds.
fn expected(seeded: &Value, spec_key: &str) -> ByScope {
    let mut out = seeded_by_scope(seeded, spec_key);
    if spec_key == "codebuild_projects" {
        for ((account, region), ids) in &mut out {
            ids.insert(format!(
                "arn:aws:codebuild:{region}:{account}:project/nightly-build"
            ));
        }
    }
    out
}

fn run_sync(moto: &Moto, dir: &std::path::Path) -> Vec<Value> {
    let env = kinds_env(moto, KINDS.iter().map(|k| k.0), mapping());
    let units = KINDS.len() * ACCOUNTS.len() * REGIONS.len();
    let (raw, summary) = raw_with_summary(dir, &env, units);
    assert_eq!(
        summary["awsApiCalls"], 48,
        "MSK 8, SES 24 (list + a get per item), CodeBuild 16 (list + batch)"
    );
    raw
}

#[test]
fn msk_ses_and_codebuild_kinds_come_from_every_account_and_region() {
    let moto = Moto::start();
    let region = two_of_each(KINDS.iter().map(|k| k.2));
    let seeded = moto.seed(&two_account_seed(region, json!({})));
    let dir = test_dir("kinds-build");
    let raw = run_sync(&moto, &dir);

    for (kind, _, spec_key, id_key, _) in KINDS {
        let got = fetched_by_scope(&raw, kind, id_key);
        assert_eq!(got, expected(&seeded, spec_key), "{kind}");
    }

    assert_entities(&dir, &raw);
}

/// The example mappings map every raw object: identifiers and titles as aws-v3 computes them.
fn assert_entities(dir: &std::path::Path, raw: &[Value]) {
    let entities = map_raw(dir, &mapping(), raw);
    for (object, entity) in raw.iter().zip(&entities) {
        let p = &object["Properties"];
        let (id_key, blueprint) = KINDS
            .iter()
            .find(|k| object["Type"] == k.0)
            .map(|k| (k.3, k.4))
            .unwrap();
        let title = match blueprint {
            "mskCluster" | "mskServerlessCluster" => p["ClusterName"].clone(),
            "codeBuildProject" => p["name"].clone(),
            "codeBuildBuildRun" => json!(format!(
                "{} - Build {}",
                p["ProjectName"].as_str().unwrap(),
                p["BuildNumber"]
            )),
            _ => p[id_key].clone(),
        };
        assert_eq!(entity["blueprint"], blueprint, "{entity}");
        assert_eq!(entity["identifier"], p[id_key], "{entity}");
        assert_eq!(entity["title"], title, "{entity}");
        assert_eq!(
            entity["relations"]["account"], object["__ExtraContext"]["AccountId"],
            "{entity}"
        );
    }
}
