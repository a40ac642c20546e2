//! The model-driven client (`port_aws_sync::aws::api`) against a real moto server, with boto3
//! itself as the reference: `tests/support/boto3_reference.py` seeds resources and prints
//! boto3's parsed output of each call; the same calls through the Rust client must give equal
//! JSON values.

mod common;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_credential_types::Credentials;
use common::*;
use futures_util::StreamExt;
use port_aws_sync::aws::api::{ApiError, ApiOptions, AwsApi};
use serde_json::{json, Value};

const REGION: &str = "us-east-1";

/// Runs the reference helper with `args`, feeding `input`; its stdout as JSON.
fn reference(moto: &Moto, args: &[&str], input: &Value) -> Value {
    let args = [&["--endpoint", moto.url.as_str()], args].concat();
    python_json("tests/support/boto3_reference.py", &args, input)
}

fn seed(moto: &Moto, scenario: &str) -> Value {
    reference(moto, &["--seed", scenario], &Value::Null)
}

fn sdk_config(moto: &Moto) -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(&moto.url)
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "testing", "testing", None, None, "test",
        )))
        .build()
}

/// A call as the reference helper takes it.
fn call(service: &str, operation: &str, params: Value) -> Value {
    json!({"service": service, "region": REGION, "operation": operation, "params": params})
}

fn paginated(service: &str, operation: &str, params: Value) -> Value {
    json!({"service": service, "region": REGION, "operation": operation, "params": params, "paginate": true})
}

/// The same calls through the Rust client, in the reference helper's result forms.
async fn ours(api: &AwsApi, sdk: &SdkConfig, calls: &Value) -> Vec<Value> {
    let mut results = Vec::new();
    for c in calls.as_array().unwrap() {
        let client = api
            .client(
                c["service"].as_str().unwrap(),
                sdk,
                c["region"].as_str().unwrap(),
            )
            .unwrap();
        let operation = c["operation"].as_str().unwrap();
        let params = c["params"].clone();
        let result = if c["paginate"] == json!(true) {
            let pages: Vec<Result<Value, ApiError>> =
                client.pages(operation, params).collect().await;
            pages
                .into_iter()
                .collect::<Result<Vec<Value>, _>>()
                .map(Value::Array)
        } else {
            client.call(operation, params).await
        };
        results.push(match result {
            Ok(value) => value,
            Err(err @ ApiError::Service { .. }) => json!({
                "Error": {"Code": err.code(), "Message": service_message(&err)},
                "Status": err.status(),
            }),
            Err(err) => panic!("{operation}: {err}"),
        });
    }
    results
}

fn service_message(err: &ApiError) -> String {
    match err {
        ApiError::Service { message, .. } => message.clone(),
        _ => String::new(),
    }
}

/// The first place two JSON values differ, for a readable failure.
fn first_difference(path: &str, ours: &Value, boto3: &Value) -> Option<String> {
    match (ours, boto3) {
        (Value::Object(a), Value::Object(b)) => {
            for key in a.keys().chain(b.keys()) {
                let sub = format!("{path}.{key}");
                match (a.get(key), b.get(key)) {
                    (Some(x), Some(y)) => {
                        if let Some(d) = first_difference(&sub, x, y) {
                            return Some(d);
                        }
                    }
                    (x, y) => return Some(format!("{sub}: ours {x:?}, boto3 {y:?}")),
                }
            }
            None
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => a
            .iter()
            .zip(b)
            .enumerate()
            .find_map(|(i, (x, y))| first_difference(&format!("{path}[{i}]"), x, y)),
        _ if ours == boto3 => None,
        _ => Some(format!("{path}: ours {ours}, boto3 {boto3}")),
    }
}

/// Replaces the values of `keys` anywhere in `value` (fields moto computes anew on each request,
/// such as a "now" timestamp) so that only their presence is compared.
fn blank(value: &mut Value, keys: &[Value]) {
    match value {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if keys.iter().any(|key| key == k) {
                    *v = json!("<volatile>");
                } else {
                    blank(v, keys);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| blank(v, keys)),
        _ => {}
    }
}

/// Runs `calls` through boto3 and through the client and asserts equal results; returns them.
async fn assert_same_as_boto3(moto: &Moto, calls: Value) -> Vec<Value> {
    let boto3 = reference(moto, &["--calls", "-"], &calls);
    let api = AwsApi::new(ApiOptions::default()).unwrap();
    let ours = ours(&api, &sdk_config(moto), &calls).await;
    let boto3 = boto3.as_array().unwrap();
    assert_eq!(ours.len(), boto3.len());
    for ((c, ours), boto3) in calls.as_array().unwrap().iter().zip(&ours).zip(boto3) {
        let label = format!("{} {}", c["service"], c["operation"]);
        assert!(
            ours.get("Error").is_none() || c["expect_error"] == json!(true),
            "{label} failed: {ours}"
        );
        let volatile = c["volatile"].as_array().cloned().unwrap_or_default();
        let (mut ours, mut boto3) = (ours.clone(), boto3.clone());
        blank(&mut ours, &volatile);
        blank(&mut boto3, &volatile);
        if let Some(diff) = first_difference("", &ours, &boto3) {
            panic!("{label} differs from boto3 at {diff}\nours:  {ours}\nboto3: {boto3}");
        }
    }
    ours
}

#[tokio::test]
async fn ec2_query_xml_matches_boto3() {
    let moto = Moto::start();
    let ctx = seed(&moto, "ec2");
    let out = assert_same_as_boto3(
        &moto,
        json!([
            call("ec2", "DescribeInstances", json!({})),
            call(
                "ec2",
                "DescribeInstances",
                json!({"Filters": [{"Name": "tag:env", "Values": ["prod"]}]})
            ),
            call("ec2", "DescribeRegions", json!({"AllRegions": true})),
            call(
                "ec2",
                "DescribeInstanceStatus",
                json!({"IncludeAllInstances": true})
            ),
            call("ec2", "DescribeVolumes", json!({})),
            call("ec2", "DescribeVpcs", json!({"VpcIds": [ctx["vpc"]]})),
            call("ec2", "DescribeSubnets", json!({})),
            call(
                "ec2",
                "DescribeSecurityGroups",
                json!({"GroupIds": [ctx["security_group"]]})
            ),
        ]),
    )
    .await;
    // The comparison is only as good as what moto returned: make sure the shapes under test
    // (item lists, camelCase wire names, tags, network interfaces, block devices) were there.
    let tagged = &out[1]["Reservations"][0]["Instances"][0];
    assert_eq!(tagged["Tags"].as_array().map(Vec::len), Some(2), "{tagged}");
    assert!(tagged["PublicDnsName"].is_string(), "{tagged}");
    let instances: Vec<&Value> = out[0]["Reservations"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["Instances"].as_array().unwrap())
        .collect();
    assert_eq!(instances.len(), 3);
    assert!(
        instances
            .iter()
            .any(|i| i["SecurityGroups"][0]["GroupId"].is_string()),
        "groupSet -> SecurityGroups"
    );
    assert!(
        tagged["NetworkInterfaces"][0]["PrivateIpAddresses"].is_array(),
        "{tagged}"
    );
    assert!(
        tagged["BlockDeviceMappings"][0]["Ebs"]["VolumeId"].is_string(),
        "{tagged}"
    );
    assert!(
        tagged["LaunchTime"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z')),
        "{tagged}"
    );
    assert!(out[2]["Regions"].as_array().is_some_and(|r| r.len() > 20));
}

#[tokio::test]
async fn ecs_json_1_1_matches_boto3() {
    let moto = Moto::start();
    let ctx = seed(&moto, "ecs");
    let out = assert_same_as_boto3(
        &moto,
        json!([
            call("ecs", "ListClusters", json!({})),
            call(
                "ecs",
                "DescribeClusters",
                json!({"clusters": [ctx["cluster_arn"], "batch", "missing"],
                "include": ["TAGS", "SETTINGS"]})
            ),
            call("ecs", "ListServices", json!({"cluster": "apps"})),
            call(
                "ecs",
                "DescribeServices",
                json!({"cluster": "apps", "services": ["web"], "include": ["TAGS"]})
            ),
            call("ecs", "ListTaskDefinitions", json!({})),
            call(
                "ecs",
                "DescribeTaskDefinition",
                json!({"taskDefinition": ctx["task_definition"], "include": ["TAGS"]})
            ),
        ]),
    )
    .await;
    assert_eq!(out[1]["clusters"].as_array().map(Vec::len), Some(2));
    assert_eq!(out[1]["failures"][0]["reason"], "MISSING");
    assert_eq!(out[3]["services"][0]["serviceName"], "web");
    assert_eq!(out[5]["tags"], json!([{"key": "app", "value": "web"}]));
}

#[tokio::test]
async fn lambda_rest_json_matches_boto3() {
    let moto = Moto::start();
    let ctx = seed(&moto, "lambda");
    let arn = ctx["function_arns"][0].clone();
    let out = assert_same_as_boto3(
        &moto,
        json!([
            call("lambda", "ListFunctions", json!({})),
            call("lambda", "GetFunction", json!({"FunctionName": "beta"})),
            call("lambda", "GetFunction", json!({"FunctionName": arn})),
            call("lambda", "ListTags", json!({"Resource": arn})),
        ]),
    )
    .await;
    assert_eq!(out[0]["Functions"].as_array().map(Vec::len), Some(2));
    assert_eq!(out[3]["Tags"], json!({"team": "alpha"}));
}

#[tokio::test]
async fn rds_query_matches_boto3() {
    let moto = Moto::start();
    seed(&moto, "rds");
    // moto computes LatestRestorableTime as "now" on each request.
    let volatile = json!(["LatestRestorableTime"]);
    let mut calls = json!([
        call("rds", "DescribeDBInstances", json!({})),
        call(
            "rds",
            "DescribeDBInstances",
            json!({"Filters": [{"Name": "engine", "Values": ["postgres"]}]})
        ),
        call("rds", "DescribeDBClusters", json!({})),
    ]);
    for c in calls.as_array_mut().unwrap() {
        c["volatile"] = volatile.clone();
    }
    let out = assert_same_as_boto3(&moto, calls).await;
    let db = &out[0]["DBInstances"][0];
    assert_eq!(db["DBInstanceIdentifier"], "orders");
    assert!(
        db["InstanceCreateTime"].is_string() && db["AllocatedStorage"].is_i64(),
        "{db}"
    );
    assert_eq!(out[2]["DBClusters"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn dynamodb_json_1_0_matches_boto3_including_item_calls() {
    let moto = Moto::start();
    let ctx = seed(&moto, "dynamodb");
    let key = json!({"pk": {"S": "unit#1"}, "sk": {"S": "state"}});
    let tables = assert_same_as_boto3(
        &moto,
        json!([
            call("dynamodb", "ListTables", json!({})),
            call("dynamodb", "DescribeTable", json!({"TableName": "state"})),
            call("dynamodb", "DescribeTable", json!({"TableName": "other"})),
            call(
                "dynamodb",
                "ListTagsOfResource",
                json!({"ResourceArn": ctx["table_arn"]})
            ),
        ]),
    )
    .await;
    assert!(
        tables[1]["Table"]["CreationDateTime"].is_string(),
        "{}",
        tables[1]
    );
    // Item calls: boto3 runs them all, then the client; each leaves the table as it found it
    // or as the other side will, so both sides see the same items.
    let out = assert_same_as_boto3(
        &moto,
        json!([
            call("dynamodb", "PutItem", json!({"TableName": "state",
                "Item": {"pk": {"S": "unit#1"}, "sk": {"S": "state"}, "n": {"N": "1"}, "tags": {"SS": ["a", "b"]}}})),
            call("dynamodb", "UpdateItem", json!({"TableName": "state", "Key": key,
                "UpdateExpression": "SET #s = :s", "ExpressionAttributeNames": {"#s": "status"},
                "ExpressionAttributeValues": {":s": {"S": "done"}}, "ReturnValues": "ALL_NEW"})),
            call("dynamodb", "GetItem", json!({"TableName": "state", "Key": key})),
            call("dynamodb", "BatchWriteItem", json!({"RequestItems": {"state": [
                {"PutRequest": {"Item": {"pk": {"S": "unit#2"}, "sk": {"S": "state"}}}}]}})),
            call("dynamodb", "Query", json!({"TableName": "state", "KeyConditionExpression": "pk = :p",
                "ExpressionAttributeValues": {":p": {"S": "unit#1"}}})),
            call("dynamodb", "DeleteItem", json!({"TableName": "state",
                "Key": {"pk": {"S": "unit#2"}, "sk": {"S": "state"}}})),
        ]),
    )
    .await;
    assert_eq!(out[2]["Item"]["status"], json!({"S": "done"}));
    assert_eq!(out[4]["Count"], 1);
}

#[tokio::test]
async fn sqs_json_and_sns_query_match_boto3() {
    let moto = Moto::start();
    let queue = seed(&moto, "sqs");
    let topic = seed(&moto, "sns");
    let out = assert_same_as_boto3(
        &moto,
        json!([
            call("sqs", "ListQueues", json!({})),
            call(
                "sqs",
                "GetQueueAttributes",
                json!({"QueueUrl": queue["queue_url"], "AttributeNames": ["All"]})
            ),
            call(
                "sqs",
                "ListQueueTags",
                json!({"QueueUrl": queue["queue_url"]})
            ),
            call("sns", "ListTopics", json!({})),
            call(
                "sns",
                "GetTopicAttributes",
                json!({"TopicArn": topic["topic_arn"]})
            ),
            call(
                "sns",
                "ListTagsForResource",
                json!({"ResourceArn": topic["topic_arn"]})
            ),
        ]),
    )
    .await;
    assert_eq!(out[1]["Attributes"]["VisibilityTimeout"], "120");
    assert_eq!(out[3]["Topics"].as_array().map(Vec::len), Some(2));
    assert_eq!(out[5]["Tags"], json!([{"Key": "team", "Value": "core"}]));
}

#[tokio::test]
async fn route53_rest_xml_and_iam_global_endpoints_match_boto3() {
    let moto = Moto::start();
    let zone = seed(&moto, "route53");
    seed(&moto, "iam");
    let out = assert_same_as_boto3(
        &moto,
        json!([
            call("route53", "ListHostedZones", json!({})),
            call("route53", "ListTagsForResources", json!({"ResourceType": "hostedzone",
                "ResourceIds": [zone["zone_id"]]})),
            call("iam", "ListRoles", json!({})),
            // A global service called "from" another region still goes to the one endpoint.
            {"service": "iam", "region": "eu-west-1", "operation": "ListRoles", "params": {"PathPrefix": "/app/"}},
        ]),
    )
    .await;
    assert_eq!(out[0]["HostedZones"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        out[1]["ResourceTagSets"][0]["Tags"],
        json!([{"Key": "team", "Value": "core"}])
    );
    assert_eq!(out[3]["Roles"].as_array().map(Vec::len), Some(5));
}

#[tokio::test]
async fn eks_rest_json_matches_boto3() {
    let moto = Moto::start();
    seed(&moto, "eks");
    let out = assert_same_as_boto3(
        &moto,
        json!([
            call("eks", "ListClusters", json!({})),
            call("eks", "DescribeCluster", json!({"name": "prod"})),
        ]),
    )
    .await;
    assert!(out[1]["cluster"]["createdAt"].is_string(), "{}", out[1]);
    assert_eq!(out[1]["cluster"]["tags"], json!({"team": "core"}));
}

#[tokio::test]
async fn kafka_and_sesv2_rest_json_match_boto3() {
    let moto = Moto::start();
    seed(&moto, "kafka_sesv2");
    let out = assert_same_as_boto3(
        &moto,
        json!([
            call("kafka", "ListClustersV2", json!({})),
            call("sesv2", "ListEmailIdentities", json!({})),
            call(
                "sesv2",
                "GetEmailIdentity",
                json!({"EmailIdentity": "ops@example.com"})
            ),
        ]),
    )
    .await;
    // Kafka's wire names are camelCase, its API names PascalCase.
    let cluster = &out[0]["ClusterInfoList"][0];
    assert_eq!(cluster["ClusterName"], "events", "{cluster}");
    assert!(cluster["CreationTime"].is_string(), "{cluster}");
    assert_eq!(out[1]["EmailIdentities"].as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn pages_follow_each_paginator_like_boto3() {
    let moto = Moto::start();
    seed(&moto, "pagination");
    let out = assert_same_as_boto3(
        &moto,
        json!([
            paginated("iam", "ListRoles", json!({"MaxItems": 2})),
            paginated("dynamodb", "ListTables", json!({"Limit": 2})),
            paginated("ec2", "DescribeInstances", json!({"MaxResults": 5})),
            paginated("sns", "ListTopics", json!({})),
        ]),
    )
    .await;
    let pages = |i: usize| out[i].as_array().map(Vec::len).unwrap_or(0);
    assert_eq!(pages(0), 3, "5 roles, 2 a page: {}", out[0]);
    assert_eq!(pages(1), 3, "5 tables, 2 a page: {}", out[1]);
    assert_eq!(pages(2), 2, "7 reservations, 5 a page");
    assert_eq!(pages(3), 2, "120 topics, 100 a page");
}

#[tokio::test]
async fn not_found_errors_match_boto3_codes_and_classify_as_not_found() {
    let moto = Moto::start();
    let queue = seed(&moto, "sqs");
    let missing_queue = queue["queue_url"].as_str().unwrap().replace("jobs", "nope");
    let calls = json!([
        call(
            "ec2",
            "DescribeInstances",
            json!({"InstanceIds": ["i-0123456789abcdef0"]})
        ),
        call("lambda", "GetFunction", json!({"FunctionName": "nope"})),
        call("dynamodb", "DescribeTable", json!({"TableName": "nope"})),
        call(
            "rds",
            "DescribeDBInstances",
            json!({"DBInstanceIdentifier": "nope"})
        ),
        call(
            "sqs",
            "GetQueueAttributes",
            json!({"QueueUrl": missing_queue})
        ),
        call("eks", "DescribeCluster", json!({"name": "nope"})),
    ]);
    let calls = Value::Array(
        calls
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                let mut c = c.clone();
                c["expect_error"] = json!(true);
                c
            })
            .collect(),
    );
    let out = assert_same_as_boto3(&moto, calls.clone()).await;
    for (c, result) in calls.as_array().unwrap().iter().zip(&out) {
        assert!(
            result["Error"]["Code"].is_string(),
            "{} did not fail: {result}",
            c["operation"]
        );
    }

    let api = AwsApi::new(ApiOptions::default()).unwrap();
    let sdk = sdk_config(&moto);
    for c in calls.as_array().unwrap() {
        let client = api
            .client(c["service"].as_str().unwrap(), &sdk, REGION)
            .unwrap();
        let err = client
            .call(c["operation"].as_str().unwrap(), c["params"].clone())
            .await
            .unwrap_err();
        assert!(err.is_not_found(), "{err}");
        assert!(!err.is_throttling() && !err.is_access_denied(), "{err}");
        let text = err.to_string();
        assert!(text.contains(" failed in us-east-1: "), "{text}");
    }
    assert_eq!(api.counts().retries, 0, "not-found errors are not retried");
}

/// A client through the fault proxy, with quick retries.
fn proxied(proxy: &AwsProxy, max_attempts: u32) -> (AwsApi, SdkConfig) {
    let options = ApiOptions {
        max_attempts,
        backoff_base: std::time::Duration::from_millis(5),
        ..ApiOptions::default()
    };
    let sdk = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(&proxy.url)
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "testing", "testing", None, None, "test",
        )))
        .build();
    (AwsApi::new(options).unwrap(), sdk)
}

#[tokio::test]
async fn throttling_is_retried_then_reported_once_attempts_run_out() {
    let moto = Moto::start();
    let throttle = json!({"status": 503, "code": "RequestLimitExceeded", "message": "Request limit exceeded."});
    let proxy = AwsProxy::start(
        &moto,
        &json!([
            {"service": "ec2", "action": "DescribeRegions", "times": 2, "respond": throttle},
            {"service": "ec2", "action": "DescribeVpcs", "respond": throttle},
            {"service": "ec2", "action": "DescribeSubnets", "times": 1,
             "respond": {"status": 500, "code": "InternalError", "message": "oops"}},
        ]),
    );
    let (api, sdk) = proxied(&proxy, 4);
    let ec2 = api.client("ec2", &sdk, REGION).unwrap();

    let regions = ec2.call("DescribeRegions", json!({})).await.unwrap();
    assert!(regions["Regions"].as_array().is_some_and(|r| !r.is_empty()));
    ec2.call("DescribeSubnets", json!({})).await.unwrap();
    let err = ec2.call("DescribeVpcs", json!({})).await.unwrap_err();
    assert!(
        matches!(err, ApiError::Throttled { attempts: 4, .. }),
        "{err:?}"
    );
    assert!(err.is_throttling());
    assert_eq!(err.code(), Some("RequestLimitExceeded"));
    assert_eq!(
        err.to_string(),
        "EC2 DescribeVpcs failed in us-east-1: RequestLimitExceeded: Request limit exceeded. \
         (still throttled after 4 attempts)"
    );
    assert_eq!(proxy.hits(), vec![2, 4, 1]);
    let counts = api.counts();
    assert_eq!(
        (counts.calls, counts.retries, counts.throttled),
        (3, 2 + 1 + 3, 6)
    );
}

#[tokio::test]
async fn a_repeated_pagination_token_ends_the_stream_with_an_error() {
    let moto = Moto::start();
    // Every DescribeInstances answer carries the same token: a service bug that must not loop.
    let body = "<DescribeInstancesResponse><reservationSet/><nextToken>same</nextToken></DescribeInstancesResponse>";
    let proxy = AwsProxy::start(
        &moto,
        &json!([{"service": "ec2", "action": "DescribeInstances", "respond": {"status": 200, "body": body}}]),
    );
    let (api, sdk) = proxied(&proxy, 1);
    let ec2 = api.client("ec2", &sdk, REGION).unwrap();
    let pages: Vec<Result<Value, ApiError>> = ec2
        .pages("DescribeInstances", json!({"MaxResults": 5}))
        .collect()
        .await;
    assert_eq!(pages.len(), 3, "two pages, then the error: {pages:?}");
    assert!(pages[0].is_ok() && pages[1].is_ok());
    assert!(
        matches!(pages[2], Err(ApiError::RepeatedToken { .. })),
        "{:?}",
        pages[2]
    );
    assert_eq!(proxy.hits(), vec![2]);
}
