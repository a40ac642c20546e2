//! The Port client against the strict fake Port: 207 partial results, 429 with Retry-After,
//! 401 token refresh (once for many rejected requests), 413 split, default blueprints, paginated search and bulk delete,
//! a repeated search cursor, an error body that is not JSON, Port's clock.

mod common;

use common::FakePort;
use port_aws_sync::config::Secret;
use port_aws_sync::mapping::Entity;
use port_aws_sync::port::blueprints::{default_blueprints, ensure_blueprints};
use port_aws_sync::port::{user_agent, PortClient, UpsertOptions};
use serde_json::{json, Map, Value};

fn client(port: &FakePort) -> PortClient {
    PortClient::new(
        &port.url,
        port.client_id.clone(),
        Secret::new(port.client_secret.clone()),
        4,
    )
}

fn instance(id: &str) -> Entity {
    let mut properties = Map::new();
    properties.insert("state".into(), json!("running"));
    properties.insert("instanceType".into(), json!("t3.micro"));
    Entity {
        identifier: id.into(),
        title: json!(id),
        blueprint: "ec2Instance".into(),
        icon: None,
        team: None,
        properties,
        relations: Map::new(),
    }
}

fn bulk_statuses(port: &FakePort) -> Vec<u64> {
    port.state()["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            r["path"]
                .as_str()
                .unwrap_or_default()
                .ends_with("/entities/bulk")
        })
        .map(|r| r["status"].as_u64().unwrap())
        .collect()
}

async fn ready(port: &FakePort) -> PortClient {
    let c = client(port);
    let report = ensure_blueprints(&c, &default_blueprints()).await.unwrap();
    assert_eq!(
        report.created,
        vec!["awsAccount", "s3Bucket", "ec2Instance", "ecsCluster"]
    );
    c
}

const UA: &str = "port-aws-sync/test (integration/t; account/111111111111; region/us-east-1)";

#[tokio::test]
async fn reads_207_partial_results_per_entity() {
    let port = FakePort::start();
    let c = ready(&port).await;
    port.control("config", &json!({"entity_failures": [{"identifier_regex": "^i-2$", "status": 422, "error": "invalid", "message": "nope"}]}));
    let entities: Vec<Entity> = (1..=3).map(|i| instance(&format!("i-{i}"))).collect();
    let report = c
        .upsert_entities("ec2Instance", &entities, UpsertOptions::default(), UA)
        .await;
    assert_eq!(report.upserted.len(), 2);
    assert_eq!(report.failed.len(), 1);
    assert_eq!(report.failed[0].identifier, "i-2");
    assert_eq!(report.failed[0].message, "nope");
    let stored: Vec<String> = port.entities("ec2Instance").keys().cloned().collect();
    assert_eq!(stored, vec!["i-1", "i-3"]);
    assert_eq!(bulk_statuses(&port), vec![207]);
    port.assert_no_schema_violations();
}

#[tokio::test]
async fn retries_429_honouring_retry_after() {
    let port = FakePort::start();
    let c = ready(&port).await;
    port.control("inject", &json!({"method": "POST", "path_regex": "/entities/bulk$", "status": 429, "count": 2,
        "headers": {"Retry-After": "1"}, "body": {"ok": false, "error": "rate_limited", "message": "slow down"}}));
    let report = c
        .upsert_entities(
            "ec2Instance",
            &[instance("i-1")],
            UpsertOptions::default(),
            UA,
        )
        .await;
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert_eq!(bulk_statuses(&port), vec![429, 429, 200]);
    assert_eq!(port.entities("ec2Instance").len(), 1);
}

#[tokio::test]
async fn refreshes_the_token_once_on_401() {
    let port = FakePort::start();
    let c = ready(&port).await;
    assert_eq!(port.state()["token_requests"], 1);
    port.control("config", &json!({"expire_tokens": true}));
    let report = c
        .upsert_entities(
            "ec2Instance",
            &[instance("i-1")],
            UpsertOptions::default(),
            UA,
        )
        .await;
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert_eq!(port.state()["token_requests"], 2);
    assert_eq!(bulk_statuses(&port), vec![401, 200]);
}

#[tokio::test]
async fn many_requests_rejected_with_one_token_cause_one_refresh() {
    let port = FakePort::start();
    let c = ready(&port).await;
    assert_eq!(port.state()["token_requests"], 1);
    port.control("config", &json!({"expire_tokens": true}));
    let requests = (0..12).map(|_| {
        c.request(
            reqwest::Method::GET,
            "/blueprints/ec2Instance",
            &[],
            None,
            None,
        )
    });
    let results = futures_util::future::join_all(requests).await;
    for r in &results {
        assert!(r.is_ok(), "{r:?}");
    }
    assert_eq!(
        port.state()["token_requests"],
        2,
        "one refresh for every request the expired token got rejected"
    );
}

#[tokio::test]
async fn splits_a_batch_port_finds_too_large() {
    let port = FakePort::start();
    let c = ready(&port).await;
    port.control("inject", &json!({"method": "POST", "path_regex": "/entities/bulk$", "status": 413, "count": 1,
        "body": {"ok": false, "error": "payload_too_large", "message": "Request body is too large (limit is 1MiB)"}}));
    let entities: Vec<Entity> = (0..20).map(|i| instance(&format!("i-{i:02}"))).collect();
    let report = c
        .upsert_entities("ec2Instance", &entities, UpsertOptions::default(), UA)
        .await;
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert_eq!(report.upserted.len(), 20);
    assert_eq!(bulk_statuses(&port), vec![413, 200, 200]);
    assert_eq!(port.entities("ec2Instance").len(), 20);
}

#[tokio::test]
async fn bad_credentials_are_a_clear_error() {
    let port = FakePort::start();
    let c = PortClient::new(
        &port.url,
        "wrong".into(),
        Secret::new("also-wrong-secret"),
        2,
    );
    let err = ensure_blueprints(&c, &default_blueprints())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("Invalid credentials") && err.contains("PORT_CLIENT_ID"),
        "{err}"
    );
    assert!(!err.contains("also-wrong-secret"));
}

#[tokio::test]
async fn default_blueprints_extend_existing_ones_without_changing_user_settings() {
    let port = FakePort::start();
    port.control("seed", &json!({"blueprints": [{"identifier": "awsAccount", "title": "My accounts", "icon": "AWS",
        "schema": {"properties": {"name": {"type": "string", "title": "Custom name title"}, "owner": {"type": "string"}}, "required": []}}]}));
    let c = client(&port);
    let report = ensure_blueprints(&c, &default_blueprints()).await.unwrap();
    assert_eq!(report.extended, vec!["awsAccount"]);
    let bp = &port.state()["blueprints"]["awsAccount"];
    assert_eq!(bp["title"], "My accounts");
    assert_eq!(
        bp["schema"]["properties"]["name"]["title"],
        "Custom name title"
    );
    assert!(bp["schema"]["properties"]["owner"].is_object());
    assert!(bp["schema"]["properties"]["email"].is_object(), "{bp}");
    let before = port.state()["requests"].as_array().unwrap().len();
    let again = ensure_blueprints(&c, &default_blueprints()).await.unwrap();
    assert_eq!(again.unchanged.len(), 4);
    // Nothing to create or extend: one listing of the blueprints, no request per blueprint.
    let blueprint_requests: Vec<String> = port.state()["requests"].as_array().unwrap()[before..]
        .iter()
        .filter(|r| r["path"].as_str().unwrap().starts_with("/v1/blueprints"))
        .map(|r| {
            format!(
                "{} {}",
                r["method"].as_str().unwrap(),
                r["path"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(blueprint_requests, ["GET /v1/blueprints"]);
    port.assert_no_schema_violations();
}

#[tokio::test]
async fn search_pages_through_owned_entities_and_bulk_delete_removes_them() {
    let port = FakePort::start();
    let c = ready(&port).await;
    let mine = user_agent("t", "111111111111", "us-east-1");
    let other = user_agent("other", "111111111111", "us-east-1");
    let entities: Vec<Entity> = (0..1205).map(|i| instance(&format!("i-{i:05}"))).collect();
    let report = c
        .upsert_entities(
            "ec2Instance",
            &entities[..1200],
            UpsertOptions::default(),
            &mine,
        )
        .await;
    assert!(report.failed.is_empty());
    c.upsert_entities(
        "ec2Instance",
        &entities[1200..],
        UpsertOptions::default(),
        &other,
    )
    .await;
    let query = port_aws_sync::deletion::owned_scope_query("t", "111111111111", "us-east-1");
    let owned = c
        .search_entities("ec2Instance", query, &["$identifier", "$updatedAt"])
        .await
        .unwrap();
    assert_eq!(
        owned.len(),
        1200,
        "two pages of search, only this installation's entities"
    );
    let doomed: Vec<String> = owned
        .iter()
        .take(150)
        .map(|e| e["identifier"].as_str().unwrap().to_owned())
        .collect();
    let deleted = c
        .delete_entities("ec2Instance", &doomed, false, &mine)
        .await
        .unwrap();
    assert_eq!(deleted.len(), 150);
    assert_eq!(port.entities("ec2Instance").len(), 1205 - 150);
    let deletes = port.state()["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            r["path"]
                .as_str()
                .unwrap_or_default()
                .ends_with("/bulk/entities/delete")
        })
        .count();
    assert_eq!(deletes, 2, "at most 100 identifiers per bulk delete");
    let _: Value = port.state();
    port.assert_no_schema_violations();
}

#[tokio::test]
async fn a_repeated_search_cursor_is_an_error_not_an_endless_loop() {
    let port = FakePort::start();
    let c = ready(&port).await;
    // Port answers two search pages with the same cursor.
    port.control(
        "inject",
        &json!({"method": "POST", "path_regex": "/entities/search$", "status": 200, "count": 3,
                "body": {"ok": true, "entities": [], "next": "cursor-1"}}),
    );
    let query = port_aws_sync::deletion::owned_scope_query("t", "111111111111", "us-east-1");
    let err = c
        .search_entities("ec2Instance", query, &["$identifier"])
        .await
        .unwrap_err();
    assert!(
        matches!(err, port_aws_sync::port::PortError::RepeatedCursor { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("same page cursor twice"), "{err}");
    let searches = port.state()["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["path"].as_str().unwrap_or_default().ends_with("/search"))
        .count();
    assert_eq!(searches, 2, "stopped at the first repeat");
}

#[tokio::test]
async fn an_error_body_that_is_not_json_reaches_the_message() {
    let port = FakePort::start();
    let c = ready(&port).await;
    port.control(
        "inject",
        &json!({"method": "GET", "path_regex": "/blueprints/ec2Instance$", "status": 400,
                "body": "<html><h1>Request blocked by the corporate proxy</h1></html>"}),
    );
    let err = c
        .request(
            reqwest::Method::GET,
            "/blueprints/ec2Instance",
            &[],
            None,
            None,
        )
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("Request blocked by the corporate proxy"),
        "{text}"
    );
}

#[tokio::test]
async fn ports_clock_comes_from_its_date_header() {
    let port = FakePort::start();
    // Before any other request: Port's time, from the answer to the token request (not our
    // clock less the fallback margin, see `port::clock`).
    let c = client(&port);
    let now = c.port_now().await;
    assert_eq!(port.state()["token_requests"], 1);
    let skew = std::time::SystemTime::now()
        .duration_since(now)
        .unwrap_or_default();
    assert!(skew < std::time::Duration::from_secs(3), "{skew:?}");
}
