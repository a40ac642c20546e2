//! The worker handler stops units that would outlive the invocation and reports exactly them as
//! failed (so SQS redelivers them), instead of being killed by Lambda with the whole batch lost.
//! AWS here is a server that accepts connections and never answers.
//!
//! One test in this binary: it sets process environment variables.

use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use port_aws_sync::lambda::{load, worker::Worker};
use serde_json::json;
use std::net::TcpListener;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn units_still_running_near_the_deadline_are_reported_failed() {
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", silent.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in silent.incoming() {
            held.push(conn); // accept, never answer
        }
    });
    for (k, v) in [
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("PORT_BASE_URL", "http://127.0.0.1:9"),
        ("PORT_CLIENT_ID", "id"),
        ("PORT_CLIENT_SECRET", "secret"),
        // The account is checked against this list, with no AWS call; its role is then assumed
        // inside the unit, from the endpoint that never answers.
        (
            "ACCOUNT_ROLE_ARNS",
            r#"["arn:aws:iam::123456789012:role/PortAwsSyncReadRole"]"#,
        ),
        // The state table is behind the silent endpoint too: units wait on their lease.
        ("STATE_TABLE", "port-aws-sync-state"),
        // Given here, the mapping does not need Port (which is unreachable in this test).
        (
            "MAPPING_CONFIG",
            "resources:\n  - kind: AWS::EC2::Instance\n    port: {entity: {mappings: {identifier: .Properties.InstanceId, blueprint: '\"ec2Instance\"'}}}\n",
        ),
    ] {
        std::env::set_var(k, v);
    }
    let worker = Worker::new(load().await.unwrap());
    let message = |id: &str, body: String| {
        let mut m = SqsMessage::default();
        m.message_id = Some(id.to_owned());
        m.body = Some(body);
        m
    };
    let unit = |region: &str| {
        json!({"syncId": "s", "accountId": "123456789012",
               "region": region, "kind": "AWS::EC2::Instance"})
        .to_string()
    };
    let mut event = SqsEvent::default();
    event.records = vec![
        message("m-1", unit("us-east-1")),
        message("m-2", unit("eu-west-1")),
        message("m-3", "{not json".to_owned()),
    ];

    let started = Instant::now();
    let (response, summary) = worker
        .handle_batch(event, Some(Duration::from_secs(2)))
        .await;
    let mut failed: Vec<String> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    failed.sort();
    assert_eq!(failed, vec!["m-1", "m-2", "m-3"]);
    assert_eq!(summary.refused, 1);
    assert_eq!(summary.failed, 3);
    assert_eq!(summary.ok, 0);
    // The units ran until the budget (they did not fail fast for another reason) and the handler
    // returned then, not when the never-answering calls would have ended.
    assert!(started.elapsed() >= Duration::from_secs(2));
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "the handler did not stop at its budget: {:?}",
        started.elapsed()
    );
}
