//! `INITIALIZE_PORT_RESOURCES` creates the example blueprint of every kind a mapping names: a
//! mapping made of every `docs/examples/<slug>/` mapping, synced by the real binary against moto
//! and the strict fake Port (which checks each blueprint body against Port's OpenAPI schema).

mod common;

use common::*;
use serde_json::Value;

/// Every example mapping's resources in one port-app-config.
fn every_example_mapping() -> String {
    let mut resources = Vec::new();
    let mut dirs: Vec<_> = std::fs::read_dir(root().join("docs/examples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    dirs.sort();
    for dir in dirs {
        let slug = dir.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(dir.join(format!("{slug}-mappings.yaml"))).unwrap();
        let config: Value = yaml_serde::from_str(&text).unwrap();
        resources.extend(config["resources"].as_array().unwrap().iter().cloned());
    }
    serde_json::json!({ "createMissingRelatedEntities": true, "resources": resources }).to_string()
}

fn example_identifiers() -> Vec<String> {
    let mut ids = Vec::new();
    for entry in std::fs::read_dir(root().join("docs/examples")).unwrap() {
        let dir = entry.unwrap().path();
        let slug = dir.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(dir.join(format!("{slug}-blueprint.json"))).unwrap();
        let bp: Value = serde_json::from_str(&text).unwrap();
        ids.push(bp["identifier"].as_str().unwrap().to_owned());
    }
    ids.sort();
    ids
}

#[test]
fn a_mapping_of_every_kind_gets_every_example_blueprint() {
    let moto = Moto::start();
    let port = FakePort::start();
    let dir = std::env::temp_dir().join(format!("pas-examples-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mapping = dir.join("mapping.json");
    std::fs::write(&mapping, every_example_mapping()).unwrap();
    let mut env = with_port(base_env(&moto), &port);
    env.push(("MAPPING_CONFIG".into(), mapping.display().to_string()));
    env.push(("REGION_POLICY".into(), r#"{"allow": ["us-east-1"]}"#.into()));
    env.push(("INITIALIZE_PORT_RESOURCES".into(), "true".into()));
    env.push((
        "STATE_PATH".into(),
        dir.join("state.sqlite").display().to_string(),
    ));

    let out = run_cli(&["sync"], &env);
    let blueprints = port.state()["blueprints"].clone();
    let created: Vec<String> = {
        let mut ids: Vec<String> = blueprints.as_object().unwrap().keys().cloned().collect();
        ids.sort();
        ids
    };
    assert_eq!(created, example_identifiers(), "{}", stderr(&out));
    // Relations were added once their targets existed (ecsService → ecsCluster, … → awsAccount).
    assert_eq!(
        blueprints["ecsService"]["relations"]["cluster"]["target"], "ecsCluster",
        "{blueprints}"
    );
    port.assert_no_schema_violations();
    std::fs::remove_dir_all(&dir).ok();
}
