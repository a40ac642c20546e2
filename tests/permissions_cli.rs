//! `port-aws-sync permissions`: the read-only IAM policy for the mapping in effect.

use port_aws_sync::kinds::{member_read_actions, DISCOVERY_ACTIONS, ORGANIZATION_ACTIONS};
use port_aws_sync::permissions::is_read_only;
use serde_json::Value;
use std::process::Command;

fn permissions(args: &[&str], mapping_env: Option<&str>) -> (Option<i32>, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_port-aws-sync"));
    command.arg("permissions").args(args);
    match mapping_env {
        Some(value) => command.env("MAPPING_CONFIG", value),
        None => command.env_remove("MAPPING_CONFIG"),
    };
    let out = command.output().expect("run port-aws-sync permissions");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const BUCKETS_WITH_ENCRYPTION: &str = "\
resources:
  - kind: AWS::S3::Bucket
    selector:
      query: 'true'
      includeActions: [GetBucketEncryptionAction]
    port:
      entity:
        mappings:
          identifier: .Properties.Arn
          blueprint: '\"bucket\"'
";

fn lines(text: &str) -> Vec<&str> {
    text.lines().collect()
}

#[test]
fn without_a_mapping_the_policy_covers_every_kind() {
    let (code, out, err) = permissions(&[], None);
    assert_eq!(code, Some(0), "{err}");
    let policy: Value = serde_json::from_str(&out).expect("a JSON policy document");
    assert_eq!(policy["Version"], "2012-10-17");
    let statements = policy["Statement"].as_array().expect("Statement");
    assert_eq!(statements.len(), 1);
    assert_eq!(statements[0]["Sid"], "PortAwsSyncRead");
    assert_eq!(statements[0]["Effect"], "Allow");
    assert_eq!(statements[0]["Resource"], "*");
    assert_eq!(
        statements[0]["Action"],
        serde_json::json!(member_read_actions())
    );
    assert!(err.is_empty(), "{err}");
}

#[test]
fn a_mapping_narrows_the_policy_to_its_kinds_and_actions() {
    let want = [
        "ec2:DescribeRegions",
        "s3:GetBucketTagging",
        "s3:GetEncryptionConfiguration",
        "s3:ListAllMyBuckets",
    ];
    let (code, out, err) = permissions(
        &["--config", BUCKETS_WITH_ENCRYPTION, "--format", "actions"],
        None,
    );
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(lines(&out), want);
    let (code, from_env, err) =
        permissions(&["--format", "actions"], Some(BUCKETS_WITH_ENCRYPTION));
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(from_env, out, "MAPPING_CONFIG is the default mapping");
    let (code, all, err) = permissions(
        &["--all-kinds", "--format", "actions"],
        Some(BUCKETS_WITH_ENCRYPTION),
    );
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(lines(&all), member_read_actions(), "--all-kinds wins");
}

#[test]
fn parts_print_the_templates_statements() {
    let fetch: Vec<&str> = member_read_actions()
        .into_iter()
        .filter(|a| !DISCOVERY_ACTIONS.contains(a))
        .collect();
    for (part, want) in [
        ("read", member_read_actions()),
        ("fetch", fetch),
        ("discovery", DISCOVERY_ACTIONS.to_vec()),
        ("organizations", ORGANIZATION_ACTIONS.to_vec()),
    ] {
        let (code, out, err) = permissions(
            &["--all-kinds", "--format", "actions", "--part", part],
            None,
        );
        assert_eq!(code, Some(0), "{part}: {err}");
        assert_eq!(lines(&out), want, "{part}");
        for action in lines(&out) {
            assert!(is_read_only(action), "{part}: {action}");
        }
    }
}

#[test]
fn a_bad_mapping_is_a_configuration_error() {
    let (code, out, err) = permissions(&["--config", "resources:\n  - kind: AWS::Nope\n"], None);
    assert_eq!(code, Some(2), "{err}");
    assert!(out.is_empty(), "{out}");
    assert!(err.starts_with("error: "), "{err}");
}
