//! Stale-entity deletion end to end: the `port-aws-sync` binary against moto and the strict fake
//! Port. Each test syncs, changes the estate (or breaks something), syncs again and asserts the
//! whole catalog: exactly what is gone was deleted, and nothing that still exists.

mod common;

use common::*;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::Output;

const ACCOUNT: &str = "123456789012";
const BOTH_REGIONS: &str = r#"{"allow": ["us-east-1", "eu-west-1"]}"#;
const EAST_ONLY: &str = r#"{"allow": ["us-east-1"]}"#;

/// `catalog` without the given `(blueprint, identifier)` pairs, each of which must be in it.
fn without(catalog: &Catalog, gone: &[(&str, &str)]) -> Catalog {
    let mut out = catalog.clone();
    for (bp, id) in gone {
        assert!(
            out.get_mut(*bp).is_some_and(|ids| ids.remove(*id)),
            "{bp}/{id} is not in the catalog: the test proves nothing"
        );
    }
    out.retain(|_, ids| !ids.is_empty());
    out
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pas-deletion-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `sync` (plus `extra` arguments) and returns the output and the JSON summary.
fn sync(name: &str, extra: &[&str], env: &[(String, String)]) -> (Output, Value) {
    let path = scratch(name).join("summary.json");
    let _ = std::fs::remove_file(&path);
    let mut args = vec!["sync", "--summary-json", path.to_str().unwrap()];
    args.extend_from_slice(extra);
    let out = run_cli(&args, env);
    let summary = std::fs::read_to_string(&path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_else(|| panic!("no summary: {}", stderr(&out)));
    (out, summary)
}

fn set_var(env: &mut Vec<(String, String)>, key: &str, value: &str) {
    env.retain(|(k, _)| k != key);
    env.push((key.to_owned(), value.to_owned()));
}

/// One account (moto's default), two regions: instances, clusters and buckets in both.
fn single_account_estate(moto: &Moto) -> Value {
    moto.seed(&json!({
        "organization": false,
        "accounts": [{"key": "mgmt", "management": true}],
        "resources": {"mgmt": {
            "regions": {"us-east-1": {"ec2_instances": 3, "ecs_clusters": 2},
                        "eu-west-1": {"ec2_instances": 2, "ecs_clusters": 1}},
            "buckets": [{"name": "east-a", "region": "us-east-1"}, {"name": "east-b", "region": "us-east-1"},
                        {"name": "east-c", "region": "us-east-1"}, {"name": "west-a", "region": "eu-west-1"}]
        }}
    }))
}

fn single_env(moto: &Moto, port: &FakePort) -> Vec<(String, String)> {
    let mut env = with_port(base_env(moto), port);
    env.push(("REGION_POLICY".into(), BOTH_REGIONS.into()));
    env
}

/// The first sync of every test: it must succeed and write everything.
fn first_sync(name: &str, env: &[(String, String)], port: &FakePort) -> Catalog {
    let (out, _) = sync(&format!("{name}-first"), &[], env);
    assert!(out.status.success(), "{}", stderr(&out));
    let before = catalog(port);
    assert!(!before.is_empty());
    before
}

fn unit_deletion<'a>(summary: &'a Value, unit: &str) -> Option<&'a Value> {
    summary["deletions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["unit"] == unit)
}

fn delete_requests(port: &FakePort) -> usize {
    port.state()["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            r["path"]
                .as_str()
                .unwrap_or("")
                .ends_with("/bulk/entities/delete")
        })
        .count()
}

#[test]
fn resync_deletes_exactly_the_terminated_instance_deleted_bucket_and_deleted_cluster() {
    let moto = Moto::start();
    let seeded = single_account_estate(&moto);
    let port = FakePort::start();
    let env = single_env(&moto, &port);
    let before = first_sync("exact", &env, &port);

    let instance = strs(&seeded["resources"]["mgmt"]["ec2_instances"]["us-east-1"])[0].clone();
    let cluster = strs(&seeded["resources"]["mgmt"]["ecs_clusters"]["us-east-1"])[0].clone();
    moto.ops(&json!([
        {"op": "terminate_instances", "account": ACCOUNT, "region": "us-east-1", "ids": [instance]},
        {"op": "delete_bucket", "account": ACCOUNT, "name": "east-b"},
        {"op": "delete_cluster", "account": ACCOUNT, "region": "us-east-1", "arn": cluster},
    ]));
    let (out, summary) = sync("exact", &[], &env);
    let log = stderr(&out);
    assert!(out.status.success(), "{log}");

    assert_eq!(
        catalog(&port),
        without(
            &before,
            &[
                ("ec2Instance", &instance),
                ("s3Bucket", "arn:aws:s3:::east-b"),
                ("ecsCluster", &cluster),
            ]
        )
    );
    assert_eq!(
        summary["deleted"],
        json!({"ec2Instance": 1, "s3Bucket": 1, "ecsCluster": 1})
    );
    let ec2 = unit_deletion(&summary, &format!("{ACCOUNT}/us-east-1/AWS::EC2::Instance")).unwrap();
    assert_eq!(
        (ec2["owned"].as_u64(), ec2["deleted"].as_u64()),
        (Some(3), Some(1))
    );
    assert!(log.contains("stale entities per unit"), "{log}");
    assert_eq!(
        summary["scopes"]["deleted"],
        json!({}),
        "no scope disappeared"
    );
    port.assert_no_schema_violations();
}

#[test]
fn port_errors_during_upsert_delete_nothing_in_that_unit() {
    let moto = Moto::start();
    let seeded = single_account_estate(&moto);
    let port = FakePort::start();
    let env = single_env(&moto, &port);
    let before = first_sync("upsert-errors", &env, &port);

    // A new instance is the unit's only write (the others are unchanged) and Port refuses it.
    let east = strs(&seeded["resources"]["mgmt"]["ec2_instances"]["us-east-1"]);
    moto.ops(&json!([
        {"op": "terminate_instances", "account": ACCOUNT, "region": "us-east-1", "ids": [east[0]]},
        {"op": "run_instances", "account": ACCOUNT, "region": "us-east-1", "count": 1},
        {"op": "delete_bucket", "account": ACCOUNT, "name": "east-b"},
    ]));
    port.control(
        "config",
        &json!({"entity_failures": [{"identifier_regex": "^i-", "status": 422,
                "error": "invalid_property", "message": "injected refusal"}]}),
    );
    let (out, summary) = sync("upsert-errors", &[], &env);
    let log = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{log}");

    // The terminated instance stays: its unit had a refused upsert. The bucket's unit was clean.
    assert_eq!(
        catalog(&port),
        without(&before, &[("s3Bucket", "arn:aws:s3:::east-b")])
    );
    let unit = format!("{ACCOUNT}/us-east-1/AWS::EC2::Instance");
    let kept = unit_deletion(&summary, &unit).unwrap();
    assert_eq!(kept["deleted"], 0);
    assert!(
        kept["reason"]
            .as_str()
            .unwrap()
            .contains("did not complete cleanly"),
        "{kept}"
    );
    assert!(
        log.contains(&format!(
            "{unit}: upserted 0, owned 0, deleted 0, kept 0: the unit did not complete cleanly"
        )),
        "{log}"
    );
    port.assert_no_schema_violations();
}

#[test]
fn aws_failure_midway_through_pagination_deletes_nothing_in_that_unit() {
    let moto = Moto::start();
    let seeded = single_account_estate(&moto);
    let port = FakePort::start();
    let mut env = single_env(&moto, &port);
    let before = first_sync("pagination", &env, &port);

    let east = strs(&seeded["resources"]["mgmt"]["ec2_instances"]["us-east-1"]);
    moto.ops(&json!([
        {"op": "terminate_instances", "account": ACCOUNT, "region": "us-east-1", "ids": [east[0]]},
        {"op": "delete_bucket", "account": ACCOUNT, "name": "east-b"},
    ]));
    // The first DescribeInstances page arrives (with a next token); the next page fails.
    let proxy = AwsProxy::start(
        &moto,
        &json!([
            {"service": "ec2", "action": "DescribeInstances", "region": "us-east-1", "has_param": "NextToken",
             "respond": {"status": 400, "code": "UnauthorizedOperation", "message": "injected failure on page 2"}},
            {"service": "ec2", "action": "DescribeInstances", "region": "us-east-1",
             "append_next_token": "pas-fault-page-2"},
        ]),
    );
    set_var(&mut env, "AWS_ENDPOINT_URL", &proxy.url);
    let (out, summary) = sync("pagination", &[], &env);
    let log = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{log}");
    let hits = proxy.hits();
    assert!(
        hits[0] >= 1 && hits[1] >= 1,
        "the fault was not injected: {hits:?}"
    );

    assert_eq!(
        catalog(&port),
        without(&before, &[("s3Bucket", "arn:aws:s3:::east-b")])
    );
    let unit = format!("{ACCOUNT}/us-east-1/AWS::EC2::Instance");
    let failure = summary["failures"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["unit"] == unit.as_str())
        .unwrap_or_else(|| panic!("{summary:#}"));
    assert!(
        failure["reason"]
            .as_str()
            .unwrap()
            .contains("injected failure on page 2"),
        "{failure}"
    );
    let kept = unit_deletion(&summary, &unit).unwrap();
    assert_eq!(kept["deleted"], 0);
    port.assert_no_schema_violations();
}

/// A denied `GetBucketTagging` leaves `Tags` out (a warning); a selector that reads tags then
/// drops the bucket. The unit is incomplete for deletion, so the bucket's entity stays.
#[test]
fn a_bucket_whose_tags_were_denied_is_not_deleted() {
    let moto = Moto::start();
    single_account_estate(&moto);
    let port = FakePort::start();
    let mut env = single_env(&moto, &port);
    let mapping = std::fs::read_to_string(root().join("src/mapping/default_port_app_config.yml"))
        .unwrap()
        .replacen(
            "  - kind: AWS::S3::Bucket\n    selector:\n      query: 'true'",
            "  - kind: AWS::S3::Bucket\n    selector:\n      query: '.Properties.Tags != null'",
            1,
        );
    assert!(mapping.contains(".Properties.Tags != null"));
    env.push(("MAPPING_CONFIG".into(), mapping));
    env.push(("KINDS".into(), "AWS::S3::Bucket".into()));
    let before = first_sync("tags-denied", &env, &port);
    assert!(
        before["s3Bucket"].contains("arn:aws:s3:::east-a"),
        "{before:?}"
    );

    let proxy = AwsProxy::start(
        &moto,
        &json!([{"service": "s3", "path": "^/east-a/?\\?tagging",
                 "respond": {"status": 403, "code": "AccessDenied", "message": "injected denial"}}]),
    );
    set_var(&mut env, "AWS_ENDPOINT_URL", &proxy.url);
    let (out, summary) = sync("tags-denied", &[], &env);
    let log = stderr(&out);
    assert!(
        proxy.hits()[0] >= 1,
        "GetBucketTagging was not denied: {log}"
    );

    assert_eq!(catalog(&port), before, "{log}");
    let unit = format!("{ACCOUNT}/global/AWS::S3::Bucket");
    let kept = unit_deletion(&summary, &unit).unwrap_or_else(|| panic!("{summary:#}"));
    assert_eq!(kept["deleted"], 0, "{kept}");
    assert!(
        kept["reason"]
            .as_str()
            .unwrap_or("")
            .contains("missed data"),
        "{kept}"
    );
    assert_eq!(delete_requests(&port), 0);
}

/// An organization: the management account, `dev` and `prod`, resources in us-east-1.
fn org_estate(moto: &Moto) -> Value {
    moto.seed(&json!({
        "organization": true,
        "role_name": "PortAwsSyncReadRole",
        "accounts": [
            {"key": "mgmt", "management": true},
            {"key": "dev", "name": "dev", "email": "dev@example.com"},
            {"key": "prod", "name": "prod", "email": "prod@example.com"}
        ],
        "resources": {
            "mgmt": {"regions": {"us-east-1": {"ec2_instances": 1}}},
            "dev": {"regions": {"us-east-1": {"ec2_instances": 4, "ecs_clusters": 1}}, "buckets": [{"name": "dev-b", "region": "us-east-1"}]},
            "prod": {"regions": {"us-east-1": {"ec2_instances": 3}}, "buckets": [{"name": "prod-b", "region": "us-east-1"}]}
        }
    }))
}

fn org_env(moto: &Moto, port: &FakePort) -> Vec<(String, String)> {
    let mut env = with_port(base_env(moto), port);
    env.push((
        "ORGANIZATION_ROLE_ARN".into(),
        "arn:aws:iam::123456789012:role/PortAwsSyncReadRole".into(),
    ));
    env.push(("REGION_POLICY".into(), EAST_ONLY.into()));
    env
}

#[test]
fn a_member_role_that_cannot_be_assumed_deletes_nothing_of_that_account() {
    let moto = Moto::start();
    let seeded = org_estate(&moto);
    let acct = |key: &str| seeded["accounts"][key]["id"].as_str().unwrap().to_owned();
    let (dev, prod) = (acct("dev"), acct("prod"));
    let port = FakePort::start();
    let mut env = org_env(&moto, &port);
    let before = first_sync("role", &env, &port);

    let dev_ids = strs(&seeded["resources"]["dev"]["ec2_instances"]["us-east-1"]);
    let prod_ids = strs(&seeded["resources"]["prod"]["ec2_instances"]["us-east-1"]);
    moto.ops(&json!([
        {"op": "terminate_instances", "account": dev, "region": "us-east-1", "ids": [dev_ids[0]]},
        {"op": "terminate_instances", "account": prod, "region": "us-east-1", "ids": [prod_ids[0]]},
        {"op": "delete_bucket", "account": prod, "name": "prod-b"},
    ]));
    let proxy = AwsProxy::start(
        &moto,
        &json!([{"service": "sts", "action": "AssumeRole", "params": {"RoleArn": format!(":{prod}:")},
                 "respond": {"status": 403, "code": "AccessDenied", "message": "not authorized to perform sts:AssumeRole"}}]),
    );
    set_var(&mut env, "AWS_ENDPOINT_URL", &proxy.url);
    let (out, summary) = sync("role", &[], &env);
    let log = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{log}");
    assert!(proxy.hits()[0] >= 1, "AssumeRole was not refused");

    // dev is cleaned; nothing of prod goes, not even what is really gone.
    assert_eq!(
        catalog(&port),
        without(&before, &[("ec2Instance", &dev_ids[0])])
    );
    assert_eq!(summary["accountsFailed"][0]["id"], prod.as_str());
    let kept = summary["scopes"]["kept"].as_object().unwrap();
    let (reason, counts) = kept
        .iter()
        .find(|(r, _)| r.contains("could not be reached"))
        .unwrap_or_else(|| panic!("{summary:#}"));
    assert!(reason.contains(&prod), "{reason}");
    assert_eq!(
        counts,
        &json!({"awsAccount": 1, "ec2Instance": 3, "s3Bucket": 1})
    );
    assert_eq!(summary["scopes"]["deleted"], json!({}));
    port.assert_no_schema_violations();
}

#[test]
fn a_region_denied_by_the_policy_loses_its_entities() {
    let moto = Moto::start();
    let seeded = single_account_estate(&moto);
    let port = FakePort::start();
    let mut env = single_env(&moto, &port);
    let before = first_sync("region", &env, &port);

    set_var(&mut env, "REGION_POLICY", EAST_ONLY);
    let (out, summary) = sync("region", &[], &env);
    let log = stderr(&out);
    assert!(out.status.success(), "{log}");

    let west = &seeded["resources"]["mgmt"];
    let mut gone: Vec<(&str, String)> = strs(&west["ec2_instances"]["eu-west-1"])
        .into_iter()
        .map(|id| ("ec2Instance", id))
        .collect();
    gone.extend(
        strs(&west["ecs_clusters"]["eu-west-1"])
            .into_iter()
            .map(|a| ("ecsCluster", a)),
    );
    gone.push(("s3Bucket", "arn:aws:s3:::west-a".into()));
    let gone: Vec<(&str, &str)> = gone.iter().map(|(b, i)| (*b, i.as_str())).collect();
    assert_eq!(catalog(&port), without(&before, &gone));
    // Instances and clusters by the disappeared-scope step, the bucket by the S3 unit.
    assert_eq!(
        summary["scopes"]["deleted"],
        json!({"region denied by REGION_POLICY": {"ec2Instance": 2, "ecsCluster": 1}})
    );
    assert_eq!(summary["deleted"], json!({"s3Bucket": 1}));
    assert!(log.contains("scopes outside the plan: deleted 3"), "{log}");
    port.assert_no_schema_violations();
}

#[test]
fn closed_accounts_and_accounts_that_left_the_organization_lose_their_entities() {
    let moto = Moto::start();
    let seeded = moto.seed(&json!({
        "organization": true,
        "role_name": "PortAwsSyncReadRole",
        "accounts": [
            {"key": "mgmt", "management": true},
            {"key": "dev", "name": "dev", "email": "dev@example.com", "ou": "Workloads"},
            {"key": "prod", "name": "prod", "email": "prod@example.com", "ou": "Workloads"},
            {"key": "gone", "name": "gone", "email": "gone@example.com", "ou": "Workloads"},
            {"key": "sandbox", "name": "sandbox", "email": "sandbox@example.com", "ou": "Sandbox"}
        ],
        "resources": {
            "mgmt": {"regions": {"us-east-1": {"ec2_instances": 1}}},
            "dev": {"regions": {"us-east-1": {"ec2_instances": 4, "ecs_clusters": 1}}, "buckets": [{"name": "dev-b", "region": "us-east-1"}]},
            "prod": {"regions": {"us-east-1": {"ec2_instances": 2}}, "buckets": [{"name": "prod-b", "region": "us-east-1"}]},
            "gone": {"regions": {"us-east-1": {"ec2_instances": 1}}},
            "sandbox": {"regions": {"us-east-1": {"ec2_instances": 1}}}
        }
    }));
    let acct = |key: &str| seeded["accounts"][key]["id"].as_str().unwrap().to_owned();
    let port = FakePort::start();
    let mut env = org_env(&moto, &port);
    let before = first_sync("closed", &env, &port);

    // prod is closed, gone leaves the organization, and the sync narrows to the Workloads OU:
    // sandbox still exists (outside the OUs) and must keep its entities.
    let (prod, gone, sandbox) = (acct("prod"), acct("gone"), acct("sandbox"));
    moto.ops(&json!([
        {"op": "close_account", "account": prod},
        {"op": "leave_organization", "account": gone},
    ]));
    let workloads = seeded["ous"]["Workloads"].as_str().unwrap();
    env.push(("ORGANIZATIONAL_UNIT_IDS".into(), workloads.to_owned()));
    let (out, summary) = sync("closed", &[], &env);
    let log = stderr(&out);
    assert!(out.status.success(), "{log}");

    let mut expected_gone: Vec<(&str, String)> = vec![
        ("awsAccount", prod.clone()),
        ("awsAccount", gone.clone()),
        ("s3Bucket", "arn:aws:s3:::prod-b".into()),
    ];
    for key in ["prod", "gone"] {
        for id in strs(&seeded["resources"][key]["ec2_instances"]["us-east-1"]) {
            expected_gone.push(("ec2Instance", id));
        }
    }
    let expected_gone: Vec<(&str, &str)> = expected_gone
        .iter()
        .map(|(b, i)| (*b, i.as_str()))
        .collect();
    assert_eq!(catalog(&port), without(&before, &expected_gone));
    let scopes = &summary["scopes"];
    assert_eq!(
        scopes["deleted"][format!("account closed ({prod} SUSPENDED)")],
        json!({"awsAccount": 1, "ec2Instance": 2, "s3Bucket": 1}),
        "{summary:#}"
    );
    assert_eq!(
        scopes["deleted"]["account no longer in the organization"],
        json!({"awsAccount": 1, "ec2Instance": 1})
    );
    let (reason, counts) = scopes["kept"]
        .as_object()
        .unwrap()
        .iter()
        .find(|(r, _)| r.contains("outside ORGANIZATIONAL_UNIT_IDS"))
        .unwrap_or_else(|| panic!("{summary:#}"));
    assert!(reason.contains(&sandbox), "{reason}");
    assert_eq!(counts, &json!({"awsAccount": 1, "ec2Instance": 1}));
    port.assert_no_schema_violations();
}

#[test]
fn other_installations_and_hand_made_entities_in_the_same_blueprints_are_untouched() {
    let moto = Moto::start();
    let seeded = single_account_estate(&moto);
    let port = FakePort::start();
    let mut env = single_env(&moto, &port);
    first_sync("foreign", &env, &port);

    let version = env!("CARGO_PKG_VERSION");
    let other = |region: &str| {
        format!("port-aws-sync/{version} (integration/other-install; account/{ACCOUNT}; region/{region})")
    };
    let foreign = [
        ("ec2Instance", "i-0other000000east", other("us-east-1")),
        ("ec2Instance", "i-0other000000west", other("eu-west-1")),
        ("ecsCluster", "cluster-of-another-installation", other("eu-west-1")),
        ("s3Bucket", "arn:aws:s3:::someone-elses", other("global")),
        ("ec2Instance", "i-0handmade0000001", "Mozilla/5.0 (X11; Linux x86_64)".to_owned()),
        // Looks like ours but was not written by us (another product, same suffix).
        ("ec2Instance", "i-0lookalike000001", format!("not-port-aws-sync/1.0 (integration/port-aws-sync; account/{ACCOUNT}; region/us-east-1)")),
        ("ecsCluster", "hand-made-cluster", "seed".to_owned()),
    ];
    port.control(
        "seed",
        &json!({"entities": foreign.iter().map(|(bp, id, ds)| json!({"blueprint": bp, "entity": {"identifier": id, "title": id}, "datasource": ds})).collect::<Vec<_>>()}),
    );
    let before = catalog(&port);

    // Our own entities go in every way: a terminated instance, a denied region, a removed kind.
    let instance = strs(&seeded["resources"]["mgmt"]["ec2_instances"]["us-east-1"])[0].clone();
    moto.ops(&json!([{"op": "terminate_instances", "account": ACCOUNT, "region": "us-east-1", "ids": [instance]}]));
    set_var(&mut env, "REGION_POLICY", EAST_ONLY);
    set_var(
        &mut env,
        "KINDS",
        "AWS::Account::Info,AWS::EC2::Instance,AWS::S3::Bucket",
    );
    let (out, _) = sync("foreign", &[], &env);
    assert!(out.status.success(), "{}", stderr(&out));

    let mut ours_gone: Vec<(&str, String)> = vec![("ec2Instance", instance)];
    let mgmt = &seeded["resources"]["mgmt"];
    ours_gone.extend(
        strs(&mgmt["ec2_instances"]["eu-west-1"])
            .into_iter()
            .map(|i| ("ec2Instance", i)),
    );
    for region in ["us-east-1", "eu-west-1"] {
        ours_gone.extend(
            strs(&mgmt["ecs_clusters"][region])
                .into_iter()
                .map(|a| ("ecsCluster", a)),
        );
    }
    ours_gone.push(("s3Bucket", "arn:aws:s3:::west-a".into()));
    let ours_gone: Vec<(&str, &str)> = ours_gone.iter().map(|(b, i)| (*b, i.as_str())).collect();
    let after = catalog(&port);
    assert_eq!(after, without(&before, &ours_gone));
    for (bp, id, _) in &foreign {
        assert!(after[*bp].contains(*id), "{bp}/{id} was deleted");
    }
    port.assert_no_schema_violations();
}

#[test]
fn the_unit_threshold_trips_and_nothing_of_that_unit_is_deleted() {
    let moto = Moto::start();
    let seeded = single_account_estate(&moto);
    let port = FakePort::start();
    let env = single_env(&moto, &port);
    let before = first_sync("unit-threshold", &env, &port);

    // Every instance of us-east-1 "disappears" (as when the role loses ec2:DescribeInstances
    // on a filtered view): 3 of 3 is above 90%.
    let east = strs(&seeded["resources"]["mgmt"]["ec2_instances"]["us-east-1"]);
    moto.ops(&json!([
        {"op": "terminate_instances", "account": ACCOUNT, "region": "us-east-1", "ids": east},
        {"op": "delete_bucket", "account": ACCOUNT, "name": "east-b"},
    ]));
    let (out, summary) = sync("unit-threshold", &[], &env);
    let log = stderr(&out);
    assert!(out.status.success(), "{log}");

    assert_eq!(
        catalog(&port),
        without(&before, &[("s3Bucket", "arn:aws:s3:::east-b")])
    );
    let unit = format!("{ACCOUNT}/us-east-1/AWS::EC2::Instance");
    let kept = unit_deletion(&summary, &unit).unwrap();
    assert_eq!(
        (kept["kept"].as_u64(), kept["deleted"].as_u64()),
        (Some(3), Some(0))
    );
    let reason = kept["reason"].as_str().unwrap();
    assert!(
        reason.contains("3 of 3") && reason.contains("entityDeletionThreshold 90%"),
        "{reason}"
    );
    assert!(
        log.contains(&format!(
            "{unit}: upserted 0, owned 3, deleted 0, kept 3: 3 of 3"
        )),
        "{log}"
    );
    port.assert_no_schema_violations();
}

#[test]
fn the_run_level_threshold_trips_and_no_disappeared_scope_is_deleted() {
    let moto = Moto::start();
    moto.seed(&json!({
        "organization": false,
        "accounts": [{"key": "mgmt", "management": true}],
        "resources": {"mgmt": {"regions": {"us-east-1": {"ec2_instances": 1},
                                            "eu-west-1": {"ec2_instances": 4, "ecs_clusters": 1}}}}
    }));
    let port = FakePort::start();
    let mut env = single_env(&moto, &port);
    let mapping = std::fs::read_to_string(root().join("src/mapping/default_port_app_config.yml"))
        .unwrap()
        .replace(
            "entityDeletionThreshold: 0.9",
            "entityDeletionThreshold: 0.5",
        );
    assert!(mapping.contains("entityDeletionThreshold: 0.5"));
    env.push(("MAPPING_CONFIG".into(), mapping));
    let before = first_sync("run-threshold", &env, &port);

    // Denying eu-west-1 would delete 5 of the 7 entities this installation owns (71% > 50%).
    set_var(&mut env, "REGION_POLICY", EAST_ONLY);
    let (out, summary) = sync("run-threshold", &[], &env);
    let log = stderr(&out);
    assert!(out.status.success(), "{log}");

    assert_eq!(catalog(&port), before);
    let scopes = &summary["scopes"];
    assert_eq!(scopes["owned"], 7);
    assert_eq!(scopes["deleted"], json!({}));
    let skipped = scopes["skipped"].as_str().unwrap();
    assert!(
        skipped.contains("5 of 7") && skipped.contains("entityDeletionThreshold 50%"),
        "{skipped}"
    );
    assert_eq!(
        scopes["kept"]["region denied by REGION_POLICY (kept: run-level threshold)"],
        json!({"ec2Instance": 4, "ecsCluster": 1})
    );
    assert!(log.contains("nothing deleted: 5 of 7"), "{log}");
    assert_eq!(delete_requests(&port), 0);
}

#[test]
fn a_kind_removed_from_the_configuration_loses_its_entities() {
    let moto = Moto::start();
    let seeded = single_account_estate(&moto);
    let port = FakePort::start();
    let mut env = single_env(&moto, &port);
    let before = first_sync("kind", &env, &port);

    set_var(
        &mut env,
        "KINDS",
        "AWS::Account::Info,AWS::EC2::Instance,AWS::S3::Bucket",
    );
    let (out, summary) = sync("kind", &[], &env);
    assert!(out.status.success(), "{}", stderr(&out));

    let clusters: Vec<String> = ["us-east-1", "eu-west-1"]
        .iter()
        .flat_map(|r| strs(&seeded["resources"]["mgmt"]["ecs_clusters"][r]))
        .collect();
    let gone: Vec<(&str, &str)> = clusters
        .iter()
        .map(|a| ("ecsCluster", a.as_str()))
        .collect();
    assert_eq!(catalog(&port), without(&before, &gone));
    assert_eq!(
        summary["scopes"]["deleted"],
        json!({"no configured kind writes ecsCluster any more": {"ecsCluster": 3}})
    );
    port.assert_no_schema_violations();
}

#[test]
fn dry_run_with_port_credentials_previews_deletions_without_making_them() {
    let moto = Moto::start();
    let seeded = single_account_estate(&moto);
    let port = FakePort::start();
    let mut env = single_env(&moto, &port);
    let before = first_sync("preview", &env, &port);

    let instance = strs(&seeded["resources"]["mgmt"]["ec2_instances"]["us-east-1"])[0].clone();
    moto.ops(&json!([{"op": "terminate_instances", "account": ACCOUNT, "region": "us-east-1", "ids": [instance]}]));
    set_var(&mut env, "REGION_POLICY", EAST_ONLY);
    let requests_before = port.state()["requests"].as_array().unwrap().len();
    let output = scratch("preview").join("entities.jsonl");
    let (out, summary) = sync(
        "preview",
        &["--dry-run", "--output", output.to_str().unwrap()],
        &env,
    );
    let log = stderr(&out);
    assert!(out.status.success(), "{log}");

    // Nothing was written or deleted; only searches, reading the integration's mapping (and a
    // token) reached Port.
    assert_eq!(catalog(&port), before);
    let requests = port.state()["requests"].as_array().unwrap().clone();
    for r in &requests[requests_before..] {
        let path = r["path"].as_str().unwrap();
        assert!(
            path.ends_with("/entities/search")
                || path == "/v1/blueprints"
                || path == "/v1/auth/access_token"
                || (r["method"] == "GET" && path == "/v1/integration/port-aws-sync"),
            "a dry run sent {} {path}",
            r["method"]
        );
    }
    assert!(summary["deletionPreview"].as_bool().unwrap());
    assert_eq!(summary["deleted"], json!({"ec2Instance": 1, "s3Bucket": 1}));
    assert_eq!(summary["scopes"]["preview"], true);
    assert_eq!(
        summary["scopes"]["deleted"],
        json!({"region denied by REGION_POLICY": {"ec2Instance": 2, "ecsCluster": 1}})
    );
    assert!(
        log.contains("ec2Instance: 2 (would delete 1 stale)"),
        "{log}"
    );
    assert!(
        log.contains("scopes outside the plan: would delete 3"),
        "{log}"
    );

    // Without Port credentials a dry run does not talk to Port at all.
    let count = port.state()["requests"].as_array().unwrap().len();
    let no_port: Vec<(String, String)> = env
        .iter()
        .filter(|(k, _)| !k.starts_with("PORT_"))
        .cloned()
        .collect();
    let (out, summary) = sync(
        "preview-offline",
        &["--dry-run", "--output", output.to_str().unwrap()],
        &no_port,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(port.state()["requests"].as_array().unwrap().len(), count);
    assert_eq!(summary["deleted"], json!({}));
    assert!(summary.get("scopes").is_none(), "{summary:#}");
}
