//! `port-aws-sync map` streams JSON lines one object at a time (BENCHMARKS.md): same output as
//! before, and malformed input still writes nothing.

use std::io::Write;
use std::process::{Command, Stdio};

fn map(input: &str) -> (Option<i32>, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_port-aws-sync"))
        .arg("map")
        .env_remove("MAPPING_CONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run port-aws-sync map");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn instance(id: &str) -> String {
    format!(
        r#"{{"Type": "AWS::EC2::Instance", "Properties": {{"InstanceId": "{id}"}}, "__ExtraContext": {{"AccountId": "111111111111", "Region": "us-east-1"}}}}"#
    )
}

#[test]
fn json_lines_and_arrays_map_to_the_same_entities() {
    let lines = format!("{}\n{}\n", instance("i-1"), instance("i-2"));
    let array = format!("[{}, {}]", instance("i-1"), instance("i-2"));
    let (code_lines, out_lines, err) = map(&lines);
    assert_eq!(code_lines, Some(0), "{err}");
    let (code_array, out_array, err) = map(&array);
    assert_eq!(code_array, Some(0), "{err}");
    assert_eq!(out_lines, out_array);
    assert_eq!(out_lines.lines().count(), 2);
    assert!(out_lines.contains(r#""identifier":"i-1""#));
}

#[test]
fn malformed_json_lines_write_nothing() {
    let input = format!("{}\n{{not json\n{}\n", instance("i-1"), instance("i-2"));
    let (code, out, err) = map(&input);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        out.is_empty(),
        "nothing is written before the input is known good: {out}"
    );
    assert!(err.contains("not JSON lines"), "{err}");
}
