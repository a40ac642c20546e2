//! The aws-v3 mapping vectors (raw object + mapping -> exact entity, computed with libjq) come out
//! of `port-aws-sync map` exactly; `validate` accepts them.

mod common;

use common::{json_lines, root};
use port_aws_sync::kinds::Kind;
use serde_json::Value;
use std::process::Command;

fn map(config: &str, input: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_port-aws-sync"))
        .args(["map", "--config", config, input])
        .env_remove("MAPPING_CONFIG")
        .output()
        .unwrap()
}

fn vector_dirs() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root().join("tests/vectors/aws-v3"))
        .unwrap()
        .map(|entry| entry.unwrap())
        .filter(|entry| entry.file_type().unwrap().is_dir())
        .map(|entry| entry.file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

#[test]
fn aws_v3_vectors_map_exactly() {
    let names = vector_dirs();
    // Every native kind has its vector (and nothing else does).
    let mut slugs: Vec<String> = Kind::all().iter().map(|k| k.slug()).collect();
    slugs.sort();
    assert_eq!(names, slugs);
    for name in &names {
        let dir = root().join("tests/vectors/aws-v3").join(name);
        let config = dir.join(format!("{name}-mappings.yaml"));
        let raw = dir.join(format!("{name}-raw-data.json"));
        let expected: Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join(format!("{name}-expected-output.json"))).unwrap(),
        )
        .unwrap();
        let out = map(config.to_str().unwrap(), raw.to_str().unwrap());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{name}: {stderr}");
        let entities = json_lines(&String::from_utf8_lossy(&out.stdout));
        assert_eq!(entities, vec![expected], "{name}");
    }
}

#[test]
fn map_reads_json_lines_and_reports_unmappable_objects() {
    let dir = tempdir();
    let input = dir.join("raw.jsonl");
    std::fs::write(
        &input,
        concat!(
            r#"{"Type": "AWS::EC2::Instance", "Properties": {"InstanceId": "i-1"}, "__ExtraContext": {"AccountId": "111111111111", "Region": "us-east-1", "Partition": "aws"}}"#,
            "\n",
            r#"{"Type": "AWS::EC2::Instance", "Properties": {"InstanceId": "bad id"}, "__ExtraContext": {"AccountId": "111111111111", "Region": "us-east-1"}}"#,
            "\n"
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_port-aws-sync"))
        .args(["map", input.to_str().unwrap()])
        .env_remove("MAPPING_CONFIG")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "an object that cannot be mapped fails the run"
    );
    let entities = json_lines(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(entities.len(), 1);
    assert_eq!(entities[0]["identifier"], "i-1");
    assert_eq!(
        entities[0]["properties"]["arn"],
        "arn:aws:ec2:us-east-1:111111111111:instance/i-1"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("bad id") && stderr.contains("identifier"),
        "{stderr}"
    );
}

#[test]
fn validate_accepts_vectors_and_names_the_broken_field() {
    let config = root().join("tests/vectors/aws-v3/s3-bucket/s3-bucket-mappings.yaml");
    let out = Command::new(env!("CARGO_BIN_EXE_port-aws-sync"))
        .args(["validate", "--config", config.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let dir = tempdir();
    let broken = dir.join("broken.yaml");
    std::fs::write(
        &broken,
        "resources:\n  - kind: AWS::EC2::Instance\n    port:\n      entity:\n        mappings:\n          identifier: .Properties.InstanceId\n          blueprint: '\"ec2Instance\"'\n          properties:\n            state: .Properties.State.Name |\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_port-aws-sync"))
        .args(["validate", "--config", broken.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("resources[0]")
            && stderr.contains("properties.state")
            && stderr.contains(".Properties.State.Name |"),
        "{stderr}"
    );
}

fn tempdir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "pas-test-{}-{}",
        std::process::id(),
        fastrand::u64(..)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
