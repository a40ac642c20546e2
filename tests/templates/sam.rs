//! `template.yaml` (AWS SAM): the two functions, the queues, the alarms and least-privilege IAM.
//!
//! Most tests render the template for a parameter set ([`Stack`]) and assert on what the stack would
//! contain in that mode, so a grant that depends on conditions is checked as deployed.
//!
//! What cannot be checked here: that AWS evaluates `aws:ResourceOrgID` on `sts:AssumeRole` as the
//! documentation says (no emulator implements it), and the alarms' metric math on real metrics.

use super::cfn::{Refused, Stack, ACCOUNT, REGION};
use super::{action_list, load, read, root, walk, SAM};
use port_aws_sync::kinds::{member_read_actions, DISCOVERY_ACTIONS};
use port_aws_sync::mapping::MappingSource;
use serde_json::{json, Value};
use std::collections::BTreeSet;

const FUNCTION_ROLES: [&str; 2] = ["FanoutRole", "WorkerRole"];
const ALL_ROLES: [&str; 3] = ["FanoutRole", "WorkerRole", "SchedulerRole"];

pub(crate) const EXTERNAL_ID: &str = "0123456789abcdef";
pub(crate) const ORGANIZATION_ROLE: &str = "arn:aws:iam::999999999999:role/PortAwsSyncOrgRole";
pub(crate) const ORGANIZATION_ID: &str = "o-a1b2c3d4e5";
const ACCOUNT_ROLES: [&str; 2] = [
    "arn:aws:iam::111111111111:role/PortAwsSyncReadRole",
    "arn:aws:iam::222222222222:role/port/Reader",
];
pub(crate) const KMS_KEY: &str =
    "arn:aws:kms:eu-west-1:123456789012:key/0a1b2c3d-1111-2222-3333-444455556666";
pub(crate) const TOPIC: &str = "arn:aws:sns:eu-west-1:123456789012:port-aws-sync-alarms";

pub(crate) type Params<'a> = Vec<(&'a str, &'a str)>;

/// The stack creates the credentials secret unless told otherwise.
pub(crate) fn credentials() -> Params<'static> {
    vec![
        ("PortClientId", "client-id"),
        ("PortClientSecret", "client-secret"),
    ]
}

pub(crate) fn single_account() -> Params<'static> {
    credentials()
}

pub(crate) fn explicit_accounts() -> Params<'static> {
    let mut params = credentials();
    // `ACCOUNT_ROLES` joined: a CommaDelimitedList parameter is given as one string.
    params.push((
        "AccountRoleArns",
        "arn:aws:iam::111111111111:role/PortAwsSyncReadRole,arn:aws:iam::222222222222:role/port/Reader",
    ));
    params.push(("ExternalId", EXTERNAL_ID));
    params
}

pub(crate) fn organization() -> Params<'static> {
    let mut params = credentials();
    params.push(("OrganizationRoleArn", ORGANIZATION_ROLE));
    params.push(("OrganizationId", ORGANIZATION_ID));
    params.push(("ExternalId", EXTERNAL_ID));
    params
}

/// `base` with `extra` added, replacing a parameter `base` already sets.
pub(crate) fn with<'a>(base: Params<'a>, extra: &[(&'a str, &'a str)]) -> Params<'a> {
    let mut params: Params<'a> = base
        .into_iter()
        .filter(|(name, _)| !extra.iter().any(|(n, _)| n == name))
        .collect();
    params.extend_from_slice(extra);
    params
}

pub(crate) fn all_modes() -> [(&'static str, Params<'static>); 3] {
    [
        ("single account", single_account()),
        ("explicit accounts", explicit_accounts()),
        ("organization", organization()),
    ]
}

/// Every statement of the role's inline policies, as deployed.
pub(crate) fn statements(stack: &Stack, role: &str) -> Vec<Value> {
    let properties = stack.resource(role).unwrap_or_else(|| panic!("no {role}"));
    let mut found = Vec::new();
    for policy in properties["Policies"].as_array().expect("Policies") {
        found.extend(
            policy["PolicyDocument"]["Statement"]
                .as_array()
                .expect("Statement")
                .iter()
                .cloned(),
        );
    }
    found
}

pub(crate) fn statement(stack: &Stack, role: &str, sid: &str) -> Option<Value> {
    let matching: Vec<Value> = statements(stack, role)
        .into_iter()
        .filter(|s| s["Sid"] == sid)
        .collect();
    assert!(matching.len() <= 1, "{role}: Sid {sid} twice");
    matching.into_iter().next()
}

/// A statement's `Resource` (a string or a list of strings).
pub(crate) fn resources(statement: &Value) -> Vec<String> {
    match &statement["Resource"] {
        Value::String(r) => vec![r.clone()],
        Value::Array(items) => items
            .iter()
            .map(|r| r.as_str().expect("resource string").to_owned())
            .collect(),
        other => panic!("unexpected Resource {other}"),
    }
}

pub(crate) fn granting<'s>(statements: &'s [Value], action: &str) -> Vec<&'s Value> {
    statements
        .iter()
        .filter(|s| s["Effect"] == "Allow" && action_list(s).contains(action))
        .collect()
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

// ---------------------------------------------------------------------------------------------
// §1: who may send work items, which roles the functions may assume
// ---------------------------------------------------------------------------------------------

#[test]
fn explicit_mode_assumes_exactly_the_listed_roles() {
    let template = load(SAM);
    let stack = Stack::accepted(&template, &explicit_accounts());
    for role in FUNCTION_ROLES {
        let statements = statements(&stack, role);
        let assume = granting(&statements, "sts:AssumeRole");
        assert_eq!(assume.len(), 1, "{role}: {assume:#?}");
        assert_eq!(resources(assume[0]), strings(&ACCOUNT_ROLES), "{role}");
        assert!(assume[0].get("Condition").is_none(), "{role}");
    }
}

#[test]
fn organization_mode_assumes_member_roles_only_in_accounts_of_the_organization() {
    let template = load(SAM);
    let stack = Stack::accepted(&template, &organization());
    for role in FUNCTION_ROLES {
        let statements = statements(&stack, role);
        let mut anywhere = Vec::new();
        let mut in_organization = Vec::new();
        for grant in granting(&statements, "sts:AssumeRole") {
            assert_eq!(action_list(grant).len(), 1, "{role}: {grant}");
            match grant.get("Condition") {
                None => anywhere.extend(resources(grant)),
                Some(condition) => {
                    assert_eq!(
                        condition,
                        &json!({"StringEquals": {"aws:ResourceOrgID": ORGANIZATION_ID}}),
                        "{role}: a conditional AssumeRole grant must require the organization"
                    );
                    in_organization.extend(resources(grant));
                }
            }
        }
        // The discovery role itself: the fan-out lists accounts with it; the worker will, to check
        // a work item's account.
        assert_eq!(anywhere, [ORGANIZATION_ROLE], "{role}");
        assert_eq!(
            in_organization,
            ["arn:aws:iam::*:role/PortAwsSyncReadRole"],
            "{role}"
        );
    }
}

#[test]
fn organization_mode_requires_a_well_formed_organization_id() {
    let template = load(SAM);
    assert_eq!(
        Stack::deploy(&template, &with(organization(), &[("OrganizationId", "")])).err(),
        Some(Refused::Rule("OrganizationIdInOrganizationsMode".into()))
    );
    for malformed in ["123456789012", "o-", "O-A1B2C3D4E5", "r-a1b2"] {
        assert!(
            matches!(
                Stack::deploy(
                    &template,
                    &with(organization(), &[("OrganizationId", malformed)])
                ),
                Err(Refused::Parameter(_))
            ),
            "OrganizationId {malformed:?} must be refused"
        );
    }
    let description = template["Parameters"]["OrganizationId"]["Description"]
        .as_str()
        .unwrap_or_default();
    assert!(
        description.contains("aws organizations describe-organization"),
        "OrganizationId must say where to find it"
    );
}

#[test]
fn single_account_mode_assumes_no_role() {
    let template = load(SAM);
    let stack = Stack::accepted(&template, &single_account());
    for role in ALL_ROLES {
        let statements = statements(&stack, role);
        assert!(
            granting(&statements, "sts:AssumeRole").is_empty(),
            "{role}: {statements:#?}"
        );
    }
}

#[test]
fn member_role_name_with_a_path_gives_its_arn_and_a_leading_slash_is_refused() {
    let template = load(SAM);
    let stack = Stack::accepted(
        &template,
        &with(
            organization(),
            &[("MemberRoleName", "port/sync/PortAwsSyncReadRole")],
        ),
    );
    for role in FUNCTION_ROLES {
        let member = statement(&stack, role, "AssumeMemberRoles").expect("AssumeMemberRoles");
        assert_eq!(
            resources(&member),
            ["arn:aws:iam::*:role/port/sync/PortAwsSyncReadRole"],
            "{role}"
        );
    }
    let env = stack.eval(&template["Globals"]["Function"]["Environment"]["Variables"]);
    assert_eq!(
        env.expect("environment")["MEMBER_ROLE_NAME"],
        "port/sync/PortAwsSyncReadRole"
    );
    // Each of these would give a resource that matches no role (role//port/..., role/port/).
    for malformed in ["/port/PortAwsSyncReadRole", "port/", "port//Reader", ""] {
        assert!(
            matches!(
                Stack::deploy(
                    &template,
                    &with(organization(), &[("MemberRoleName", malformed)])
                ),
                Err(Refused::Parameter(_))
            ),
            "MemberRoleName {malformed:?} must be refused"
        );
    }
}

/// For each queue: the one role that may send to it.
const SENDERS: [(&str, &str); 3] = [
    ("WorkQueue", "FanoutRole"),
    ("ScheduleDeadLetterQueue", "SchedulerRole"),
    ("FanoutFailureQueue", "FanoutRole"),
];

#[test]
fn queues_accept_messages_only_from_their_one_sender() {
    let template = load(SAM);
    for (mode, params) in all_modes() {
        let stack = Stack::accepted(&template, &params);
        for (queue, sender) in SENDERS {
            let arn = format!("<{queue}.Arn>");
            // The policy's statements about sending, other than the TLS one, without their Sid.
            let deny: Vec<Value> = queue_policy(&stack, queue)
                .into_iter()
                .filter(|s| action_list(s).contains("sqs:SendMessage"))
                .map(|mut s| {
                    s.as_object_mut().expect("statement").remove("Sid");
                    s
                })
                .collect();
            assert_eq!(
                deny,
                [json!({
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "sqs:SendMessage",
                    "Resource": arn,
                    "Condition": {"ArnNotEquals": {"aws:PrincipalArn": format!("<{sender}.Arn>")}}
                })],
                "{mode}: {queue} must refuse sqs:SendMessage from every principal but {sender}"
            );
            // And no role but the sender is granted it (the Deny would win anyway).
            for role in ALL_ROLES {
                let statements = statements(&stack, role);
                let sends = granting(&statements, "sqs:SendMessage")
                    .iter()
                    .any(|s| resources(s).contains(&arn));
                assert_eq!(sends, role == sender, "{mode}: {role} sending to {queue}");
            }
        }
    }
}

/// The statements of the queue policy that applies to `queue` (exactly one policy).
fn queue_policy(stack: &Stack, queue: &str) -> Vec<Value> {
    let reference = json!(format!("<{queue}>"));
    let policies: Vec<Value> = stack
        .resources_of_type("AWS::SQS::QueuePolicy")
        .into_iter()
        .map(|(_, p)| p)
        .filter(|p| {
            p["Queues"]
                .as_array()
                .is_some_and(|q| q.contains(&reference))
        })
        .collect();
    assert_eq!(
        policies.len(),
        1,
        "{queue}: expected exactly one queue policy"
    );
    let statements = policies[0]["PolicyDocument"]["Statement"]
        .as_array()
        .expect("Statement")
        .clone();
    for statement in &statements {
        assert_eq!(
            statement["Effect"], "Deny",
            "{queue}: a queue policy here only restricts (IAM grants access): {statement}"
        );
    }
    statements
}

// ---------------------------------------------------------------------------------------------
// §4: encryption, transport, failures, alarms
// ---------------------------------------------------------------------------------------------

#[test]
fn every_queue_is_encrypted_and_refuses_requests_without_tls() {
    let template = load(SAM);
    for kms in [None, Some(KMS_KEY)] {
        let params = match kms {
            Some(key) => with(single_account(), &[("KmsKeyArn", key)]),
            None => single_account(),
        };
        let stack = Stack::accepted(&template, &params);
        let queues = stack.resources_of_type("AWS::SQS::Queue");
        assert_eq!(queues.len(), 4, "{queues:#?}");
        for (queue, properties) in queues {
            match kms {
                None => {
                    assert_eq!(properties["SqsManagedSseEnabled"], true, "{queue}");
                    assert!(properties.get("KmsMasterKeyId").is_none(), "{queue}");
                }
                Some(key) => {
                    assert_eq!(properties["KmsMasterKeyId"], key, "{queue}");
                    assert!(properties.get("SqsManagedSseEnabled").is_none(), "{queue}");
                }
            }
            let tls = queue_policy(&stack, &queue)
                .into_iter()
                .filter(|s| s["Condition"]["Bool"]["aws:SecureTransport"] == "false")
                .collect::<Vec<_>>();
            assert_eq!(tls.len(), 1, "{queue}: deny without TLS");
            assert_eq!(tls[0]["Principal"], "*", "{queue}");
            assert_eq!(tls[0]["Action"], "sqs:*", "{queue}");
            assert_eq!(tls[0]["Resource"], format!("<{queue}.Arn>"), "{queue}");
        }
    }
}

/// A KMS action that uses key material (the read role's `kms:ListKeys`, `kms:DescribeKey` and
/// `kms:ListResourceTags` only read keys' metadata).
fn uses_a_key(action: &str) -> bool {
    let Some(name) = action.strip_prefix("kms:") else {
        return false;
    };
    !(name.starts_with("List") || name.starts_with("Describe") || name.starts_with("Get"))
}

#[test]
fn kms_key_is_used_and_granted_only_when_given() {
    let template = load(SAM);
    for (mode, params) in all_modes() {
        let stack = Stack::accepted(&template, &params);
        for role in ALL_ROLES {
            let kms: Vec<Value> = statements(&stack, role)
                .into_iter()
                .filter(|s| action_list(s).iter().any(|a| uses_a_key(a)))
                .collect();
            assert!(kms.is_empty(), "{mode}: {role} without KmsKeyArn: {kms:#?}");
        }
        let secret = stack.resource("PortCredentialsSecret").expect("secret");
        assert!(secret.get("KmsKeyId").is_none(), "{mode}");

        let stack = Stack::accepted(&template, &with(params, &[("KmsKeyArn", KMS_KEY)]));
        let secret = stack.resource("PortCredentialsSecret").expect("secret");
        assert_eq!(secret["KmsKeyId"], KMS_KEY, "{mode}");
        for (role, services) in [
            ("FanoutRole", vec!["sqs", "secretsmanager"]),
            ("WorkerRole", vec!["sqs", "secretsmanager"]),
            ("SchedulerRole", vec!["sqs"]),
        ] {
            let grant = statement(&stack, role, "UseKmsKey")
                .unwrap_or_else(|| panic!("{mode}: {role} has no UseKmsKey"));
            assert_eq!(
                action_list(&grant),
                BTreeSet::from(["kms:Decrypt".to_owned(), "kms:GenerateDataKey".to_owned()]),
                "{mode}: {role}"
            );
            assert_eq!(resources(&grant), [KMS_KEY], "{mode}: {role}");
            let via: Vec<Value> = services
                .iter()
                .map(|s| json!(format!("{s}.{REGION}.amazonaws.com")))
                .collect();
            let via = if via.len() == 1 {
                via[0].clone()
            } else {
                Value::Array(via)
            };
            assert_eq!(
                grant["Condition"],
                json!({"StringEquals": {"kms:ViaService": via}}),
                "{mode}: {role} may use the key only through the services that need it"
            );
        }
    }
    for alias in [
        "arn:aws:kms:eu-west-1:123456789012:alias/port",
        "alias/port",
    ] {
        assert!(
            matches!(
                Stack::deploy(&template, &with(single_account(), &[("KmsKeyArn", alias)])),
                Err(Refused::Parameter(_))
            ),
            "KmsKeyArn {alias:?}: IAM grants need the key ARN"
        );
    }
}

#[test]
fn created_secret_is_json_with_exactly_the_given_credentials() {
    let template = load(SAM);
    let printable: String = (' '..='~').filter(|c| !matches!(c, '"' | '\\')).collect();
    for (id, secret) in [
        ("0123456789abcdefABCDEF", "s3cr3t-value_with.more"),
        ("ünïcödé", "{not: 'json'}, ${PortClientId} %s <b>&amp;"),
        (printable.as_str(), printable.as_str()),
    ] {
        let stack = Stack::accepted(
            &template,
            &with(
                single_account(),
                &[("PortClientId", id), ("PortClientSecret", secret)],
            ),
        );
        let text = stack.resource("PortCredentialsSecret").expect("secret")["SecretString"]
            .as_str()
            .expect("SecretString")
            .to_owned();
        let parsed: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("secret for {secret:?} is not JSON ({e}): {text}"));
        assert_eq!(parsed, json!({"clientId": id, "clientSecret": secret}));
    }
    // The characters a JSON string would need escaped are refused, not written raw.
    for bad in ["a\"b", "a\\b", "line\nbreak", "tab\there", "\u{1}"] {
        for parameter in ["PortClientId", "PortClientSecret"] {
            assert!(
                matches!(
                    Stack::deploy(&template, &with(single_account(), &[(parameter, bad)])),
                    Err(Refused::Parameter(_))
                ),
                "{parameter} {bad:?} must be refused"
            );
        }
    }
}

#[test]
fn max_receive_count_defaults_to_5_and_is_at_least_2() {
    let template = load(SAM);
    let parameter = &template["Parameters"]["MaxReceiveCount"];
    assert_eq!(parameter["Default"], 5);
    assert_eq!(parameter["MinValue"], 2);
    assert!(
        parameter["MaxValue"].as_u64().unwrap() <= 10,
        "retries are bounded"
    );
    let stack = Stack::accepted(&template, &single_account());
    let queue = stack.resource("WorkQueue").expect("WorkQueue");
    assert_eq!(
        queue["RedrivePolicy"],
        json!({"deadLetterTargetArn": "<DeadLetterQueue.Arn>", "maxReceiveCount": "5"})
    );
    assert!(matches!(
        Stack::deploy(
            &template,
            &with(single_account(), &[("MaxReceiveCount", "1")])
        ),
        Err(Refused::Parameter(_))
    ));
}

#[test]
fn a_failed_scheduled_fanout_is_retried_at_most_once_then_recorded() {
    let template = load(SAM);
    let stack = Stack::accepted(&template, &single_account());
    let fanout = stack.resource("FanoutFunction").expect("FanoutFunction");
    let invoke = &fanout["EventInvokeConfig"];
    let retries = invoke["MaximumRetryAttempts"]
        .as_u64()
        .expect("MaximumRetryAttempts");
    assert!(
        retries <= 1,
        "a part-way failed fan-out is retried at most once"
    );
    assert_eq!(
        invoke["DestinationConfig"]["OnFailure"],
        json!({"Type": "SQS", "Destination": "<FanoutFailureQueue.Arn>"})
    );
    // Lambda delivers the record with the function's role.
    let record = statement(&stack, "FanoutRole", "RecordFailedRuns").expect("RecordFailedRuns");
    assert_eq!(resources(&record), ["<FanoutFailureQueue.Arn>"]);
}

#[test]
fn schedule_has_its_own_role_and_a_dead_letter_queue() {
    let template = load(SAM);
    let stack = Stack::accepted(&template, &single_account());
    let schedule = &stack.resource("FanoutFunction").expect("FanoutFunction")["Events"]["Schedule"];
    assert_eq!(schedule["Type"], "ScheduleV2");
    assert_eq!(
        schedule["Properties"]["DeadLetterConfig"],
        json!({"Arn": "<ScheduleDeadLetterQueue.Arn>"})
    );
    assert_eq!(schedule["Properties"]["RoleArn"], "<SchedulerRole.Arn>");

    let role = stack.resource("SchedulerRole").expect("SchedulerRole");
    assert_eq!(
        role["AssumeRolePolicyDocument"]["Statement"],
        json!([{
            "Effect": "Allow",
            "Principal": {"Service": "scheduler.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}}
        }])
    );
    let granted: Vec<(BTreeSet<String>, Vec<String>)> = statements(&stack, "SchedulerRole")
        .iter()
        .map(|s| (action_list(s), resources(s)))
        .collect();
    assert_eq!(
        granted,
        [
            (
                BTreeSet::from(["lambda:InvokeFunction".to_owned()]),
                vec!["<FanoutFunction.Arn>".to_owned()]
            ),
            (
                BTreeSet::from(["sqs:SendMessage".to_owned()]),
                vec!["<ScheduleDeadLetterQueue.Arn>".to_owned()]
            ),
        ]
    );
}

/// Alarm id → (namespace, metric, dimension value, statistic, comparison, threshold).
const METRIC_ALARMS: [(&str, &str, &str, &str, &str, &str, &str); 5] = [
    (
        "FanoutErrorsAlarm",
        "AWS/Lambda",
        "Errors",
        "<FanoutFunction>",
        "Sum",
        "GreaterThanOrEqualToThreshold",
        "1",
    ),
    (
        "WorkerErrorsAlarm",
        "AWS/Lambda",
        "Errors",
        "<WorkerFunction>",
        "Sum",
        "GreaterThanOrEqualToThreshold",
        "1",
    ),
    (
        "WorkItemAgeAlarm",
        "AWS/SQS",
        "ApproximateAgeOfOldestMessage",
        "<WorkQueue.QueueName>",
        "Maximum",
        "GreaterThanThreshold",
        // WorkItemAgeAlarmSeconds' default.
        "3600",
    ),
    (
        "ScheduleDeadLetterQueueAlarm",
        "AWS/SQS",
        "NumberOfMessagesSent",
        "<ScheduleDeadLetterQueue.QueueName>",
        "Sum",
        "GreaterThanThreshold",
        "0",
    ),
    (
        "FanoutFailureQueueAlarm",
        "AWS/SQS",
        "NumberOfMessagesSent",
        "<FanoutFailureQueue.QueueName>",
        "Sum",
        "GreaterThanThreshold",
        "0",
    ),
];

fn scalar_string(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        other => panic!("expected a scalar, got {other}"),
    }
}

#[test]
fn alarms_watch_both_functions_the_work_queue_and_every_dead_letter_queue() {
    let template = load(SAM);
    let stack = Stack::accepted(&template, &single_account());
    for (id, namespace, metric, dimension, statistic, comparison, threshold) in METRIC_ALARMS {
        let alarm = stack.resource(id).unwrap_or_else(|| panic!("no {id}"));
        assert_eq!(alarm["Namespace"], namespace, "{id}");
        assert_eq!(alarm["MetricName"], metric, "{id}");
        assert_eq!(alarm["Dimensions"][0]["Value"], dimension, "{id}");
        assert_eq!(alarm["Statistic"], statistic, "{id}");
        assert_eq!(alarm["ComparisonOperator"], comparison, "{id}");
        assert_eq!(scalar_string(&alarm["Threshold"]), threshold, "{id}");
        assert_eq!(alarm["TreatMissingData"], "notBreaching", "{id}");
    }
    let worker = stack
        .resource("WorkerErrorsAlarm")
        .expect("WorkerErrorsAlarm");
    assert!(
        worker["AlarmDescription"]
            .as_str()
            .unwrap_or_default()
            .contains("partial batch failure"),
        "the worker alarm must say that a failed unit is not a Lambda error"
    );
    let age = Stack::accepted(
        &template,
        &with(single_account(), &[("WorkItemAgeAlarmSeconds", "900")]),
    );
    assert_eq!(
        scalar_string(&age.resource("WorkItemAgeAlarm").expect("alarm")["Threshold"]),
        "900"
    );
}

#[test]
fn dead_letter_alarm_fires_when_messages_arrive_not_while_they_wait() {
    let template = load(SAM);
    let stack = Stack::accepted(&template, &single_account());
    let alarm = stack
        .resource("DeadLetterQueueAlarm")
        .expect("DeadLetterQueueAlarm");
    assert!(
        alarm.get("MetricName").is_none(),
        "a plain threshold on the visible count stays in alarm while messages wait (14 days)"
    );
    let metrics = alarm["Metrics"].as_array().expect("metric math");
    let visible: Vec<&Value> = metrics
        .iter()
        .filter(|m| {
            m["MetricStat"]["Metric"]
                == json!({
                    "Namespace": "AWS/SQS",
                    "MetricName": "ApproximateNumberOfMessagesVisible",
                    "Dimensions": [{"Name": "QueueName", "Value": "<DeadLetterQueue.QueueName>"}]
                })
        })
        .collect();
    assert_eq!(visible.len(), 1, "{metrics:#?}");
    assert_eq!(visible[0]["ReturnData"], false);
    let id = visible[0]["Id"].as_str().expect("Id");
    let returned: Vec<&Value> = metrics.iter().filter(|m| m["ReturnData"] == true).collect();
    assert_eq!(returned.len(), 1, "{metrics:#?}");
    let expression = returned[0]["Expression"].as_str().expect("Expression");
    assert!(
        (expression.starts_with("DIFF(") || expression.starts_with("RATE("))
            && expression.contains(id),
        "the alarm must watch the growth of {id}, got {expression}"
    );
    assert_eq!(alarm["ComparisonOperator"], "GreaterThanThreshold");
    assert_eq!(scalar_string(&alarm["Threshold"]), "0");
    assert!(
        alarm["EvaluationPeriods"].as_u64().unwrap_or(0) >= 2,
        "DIFF needs a preceding datapoint"
    );
}

#[test]
fn alarms_notify_the_topic_if_one_is_given_and_exist_without_it() {
    let template = load(SAM);
    let alarm_ids: BTreeSet<String> = template["Resources"]
        .as_object()
        .expect("Resources")
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::CloudWatch::Alarm")
        .map(|(id, _)| id.clone())
        .collect();
    let mut expected: BTreeSet<String> = METRIC_ALARMS.iter().map(|a| a.0.to_owned()).collect();
    expected.insert("DeadLetterQueueAlarm".to_owned());
    expected.extend(super::live::LIVE_ALARMS.iter().map(|a| a.to_string()));
    assert_eq!(alarm_ids, expected);

    // With live events on, so that their alarms are there too.
    let live = with(single_account(), &[("EnableLiveEvents", "true")]);
    let quiet = Stack::accepted(&template, &live);
    let notifying = Stack::accepted(&template, &with(live.clone(), &[("AlarmTopicArn", TOPIC)]));
    for id in &alarm_ids {
        let alarm = quiet
            .resource(id)
            .unwrap_or_else(|| panic!("{id} must exist without a topic"));
        assert!(alarm.get("AlarmActions").is_none(), "{id}");
        let alarm = notifying.resource(id).expect("alarm");
        assert_eq!(alarm["AlarmActions"], json!([TOPIC]), "{id}");
    }
}

// ---------------------------------------------------------------------------------------------
// Least privilege
// ---------------------------------------------------------------------------------------------

/// Every `MAPPING_CONFIG` form the code reads from AWS, and forms it does not.
const MAPPINGS: [&str; 9] = [
    "ssm:/port-aws-sync/mapping",
    "ssm:port-aws-sync-mapping",
    "arn:aws:ssm:us-east-1:999999999999:parameter/port/mapping",
    "ssm:arn:aws:ssm:eu-west-1:123456789012:parameter/port/mapping",
    "s3://config-bucket/port/port-app-config.yml",
    "resources:\n  - kind: AWS::S3::Bucket\n",
    "{\"resources\": []}",
    "/etc/port-aws-sync/mapping.yml",
    "arn:aws:s3:::config-bucket/mapping.yml",
];

/// The IAM resource reading `source` needs, from the code's own reading of MAPPING_CONFIG.
fn mapping_grant(source: &MappingSource) -> Option<(&'static str, &'static str, String)> {
    match source {
        MappingSource::S3 { bucket, key } => Some((
            "ReadMappingConfig",
            "s3:GetObject",
            format!("arn:aws:s3:::{bucket}/{key}"),
        )),
        MappingSource::Ssm { name, .. } if name.starts_with("arn:") => {
            Some(("ReadMappingParameter", "ssm:GetParameter", name.clone()))
        }
        MappingSource::Ssm { name, .. } => {
            // An SSM parameter's ARN is ...:parameter/<name without its leading slash>.
            let name = name.trim_start_matches('/');
            Some((
                "ReadMappingParameter",
                "ssm:GetParameter",
                format!("arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/{name}"),
            ))
        }
        _ => None,
    }
}

#[test]
fn mapping_grants_name_exactly_what_the_code_reads() {
    let template = load(SAM);
    for mapping in MAPPINGS {
        let source = MappingSource::classify(mapping).expect("a valid MAPPING_CONFIG form");
        let expected = mapping_grant(&source);
        let stack = Stack::accepted(
            &template,
            &with(single_account(), &[("MappingConfig", mapping)]),
        );
        for role in FUNCTION_ROLES {
            let found: Vec<(String, BTreeSet<String>, Vec<String>)> =
                ["ReadMappingConfig", "ReadMappingParameter"]
                    .into_iter()
                    .filter_map(|sid| statement(&stack, role, sid))
                    .map(|s| {
                        (
                            s["Sid"].as_str().unwrap().to_owned(),
                            action_list(&s),
                            resources(&s),
                        )
                    })
                    .collect();
            let want: Vec<(String, BTreeSet<String>, Vec<String>)> = expected
                .iter()
                .map(|(sid, action, resource)| {
                    (
                        sid.to_string(),
                        BTreeSet::from([action.to_string()]),
                        vec![resource.clone()],
                    )
                })
                .collect();
            assert_eq!(found, want, "{role}, MappingConfig {mapping:?} ({source})");
        }
    }
}

#[test]
fn single_account_read_grants_split_the_kind_registry_between_fanout_and_worker() {
    let discovery: BTreeSet<String> = DISCOVERY_ACTIONS.iter().map(|a| a.to_string()).collect();
    let fetch: BTreeSet<String> = member_read_actions()
        .into_iter()
        .filter(|a| !DISCOVERY_ACTIONS.contains(a))
        .map(str::to_owned)
        .collect();
    let template = load(SAM);
    for (mode, params) in all_modes() {
        let stack = Stack::accepted(&template, &params);
        for (role, sid, expected) in [
            ("FanoutRole", "PortAwsSyncDiscoverRegions", &discovery),
            ("WorkerRole", "PortAwsSyncFetch", &fetch),
        ] {
            let grant = statement(&stack, role, sid);
            if mode != "single account" {
                assert!(
                    grant.is_none(),
                    "{mode}: {role} reads through the assumed roles"
                );
                continue;
            }
            let grant = grant.unwrap_or_else(|| panic!("{role}: no {sid}"));
            assert_eq!(
                grant["Resource"], "*",
                "{role}: describe/list calls need \"*\""
            );
            assert_eq!(
                &action_list(&grant),
                expected,
                "{role}/{sid} differs from the kind registry; run scripts/gen-iam-policies"
            );
        }
    }
}

#[test]
fn functions_get_only_the_actions_they_call() {
    let text = read(SAM);
    assert!(!text.contains("AdministratorAccess"));
    assert!(!text.contains("ManagedPolicyArns"), "no managed policies");
    let template = load(SAM);
    let common = [
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "secretsmanager:GetSecretValue",
        "kms:Decrypt",
        "kms:GenerateDataKey",
        "sts:AssumeRole",
        "s3:GetObject",
        "ssm:GetParameter",
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:Query",
        "dynamodb:BatchWriteItem",
        "dynamodb:TransactWriteItems",
    ];
    let fanout: BTreeSet<String> = common
        .iter()
        .chain(["sqs:SendMessage"].iter())
        .chain(DISCOVERY_ACTIONS)
        .map(|a| a.to_string())
        .collect();
    let worker: BTreeSet<String> = common
        .iter()
        .copied()
        .chain([
            "sqs:ReceiveMessage",
            "sqs:DeleteMessage",
            "sqs:GetQueueAttributes",
        ])
        .chain(
            member_read_actions()
                .into_iter()
                .filter(|a| !DISCOVERY_ACTIONS.contains(a)),
        )
        .map(str::to_owned)
        .collect();

    for (function, role, allowed) in [
        ("FanoutFunction", "FanoutRole", &fanout),
        ("WorkerFunction", "WorkerRole", &worker),
    ] {
        let f = &template["Resources"][function];
        assert_eq!(
            f["Properties"]["Role"],
            json!({"Fn::GetAtt": [role, "Arn"]}),
            "{function} uses its own role"
        );
        assert!(f["Properties"].get("Policies").is_none(), "{function}");
        assert_eq!(
            template["Resources"][role]["Properties"]["AssumeRolePolicyDocument"]["Statement"],
            json!([{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]),
            "{role} trust"
        );
        for (mode, params) in all_modes() {
            for extra in [
                vec![("MappingConfig", MAPPINGS[0]), ("KmsKeyArn", KMS_KEY)],
                vec![("MappingConfig", MAPPINGS[4])],
            ] {
                let stack = Stack::accepted(&template, &with(params.clone(), &extra));
                let statements = statements(&stack, role);
                let mut sids = BTreeSet::new();
                for s in &statements {
                    let sid = s["Sid"].as_str().expect("every statement has a Sid");
                    assert!(
                        sids.insert(sid.to_owned()),
                        "{mode}: {role}: Sid {sid} twice"
                    );
                    assert_eq!(s["Effect"], "Allow", "{mode}: {role}/{sid}");
                    for action in action_list(s) {
                        assert!(!action.contains('*'), "{role}: wildcard action {action}");
                        assert!(
                            allowed.contains(&action),
                            "{mode}: {role}/{sid} grants {action}, which {function} never calls"
                        );
                    }
                    if s["Resource"] == "*" {
                        assert!(
                            sid.starts_with("PortAwsSync"),
                            "{mode}: {role}/{sid}: Resource \"*\" only for describe/list calls"
                        );
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Functions, schedule, environment
// ---------------------------------------------------------------------------------------------

#[test]
fn functions_are_rust_on_al2023_arm64_by_default_with_json_logs() {
    let template = load(SAM);
    assert_eq!(template["Parameters"]["Architecture"]["Default"], "arm64");
    let globals = &template["Globals"]["Function"];
    assert_eq!(globals["Runtime"], "provided.al2023");
    assert_eq!(globals["Architectures"], json!([{"Ref": "Architecture"}]));
    for (name, binary) in [("FanoutFunction", "fanout"), ("WorkerFunction", "worker")] {
        let f = &template["Resources"][name];
        assert_eq!(
            f["Properties"]["LoggingConfig"]["LogFormat"], "JSON",
            "{name}"
        );
        assert_eq!(f["Type"], "AWS::Serverless::Function");
        assert_eq!(f["Metadata"]["BuildMethod"], "rust-cargolambda", "{name}");
        assert_eq!(f["Metadata"]["BuildProperties"]["Binary"], binary, "{name}");
        assert!(
            f["Properties"]["MemorySize"].is_u64(),
            "{name}: explicit memory"
        );
        assert!(
            f["Properties"]["Timeout"].is_u64(),
            "{name}: explicit timeout"
        );
        let bin = root().join("src/bin").join(format!("{binary}.rs"));
        assert!(bin.exists(), "{} is missing", bin.display());
    }
}

/// BENCHMARKS.md F4: the worker's peak RSS on a batch of 10 units × 1,000 instances, worst of
/// five runs (MiB), at the default `MAX_PAGES_IN_FLIGHT`. The template's memory follows it: at
/// least twice that, and not the 512 MB that the unbounded worker needed.
const WORKER_PEAK_MIB: u64 = 52;

#[test]
fn worker_memory_follows_the_benchmarked_peak() {
    let template = load(SAM);
    let mb = template["Resources"]["WorkerFunction"]["Properties"]["MemorySize"]
        .as_u64()
        .expect("the worker's MemorySize");
    let mib = mb * 1_000_000 / (1024 * 1024);
    assert!(
        mib >= 2 * WORKER_PEAK_MIB,
        "worker MemorySize {mb} MB ({mib} MiB) is less than twice the benchmarked peak of {WORKER_PEAK_MIB} MiB"
    );
    assert!(
        mb < 512,
        "worker MemorySize {mb} MB: the benchmarked peak ({WORKER_PEAK_MIB} MiB) no longer needs 512 MB"
    );
}

#[test]
fn work_queue_outlives_the_worker_and_feeds_it_partial_batches() {
    let template = load(SAM);
    let stack = Stack::accepted(&template, &single_account());
    let queue = stack.resource("WorkQueue").expect("WorkQueue");
    let worker = stack.resource("WorkerFunction").expect("WorkerFunction");
    let worker_timeout = worker["Timeout"].as_u64().unwrap();
    let visibility = queue["VisibilityTimeout"].as_u64().unwrap();
    assert!(
        visibility >= 6 * worker_timeout,
        "visibility timeout {visibility} s < 6 × worker timeout {worker_timeout} s"
    );
    let event = &template["Resources"]["WorkerFunction"]["Properties"]["Events"]["WorkItems"];
    assert_eq!(event["Type"], "SQS");
    assert_eq!(
        event["Properties"]["Queue"],
        json!({"Fn::GetAtt": ["WorkQueue", "Arn"]})
    );
    assert_eq!(
        event["Properties"]["FunctionResponseTypes"],
        json!(["ReportBatchItemFailures"])
    );
    assert_eq!(
        event["Properties"]["BatchSize"],
        json!({"Ref": "WorkerBatchSize"})
    );
    assert_eq!(
        event["Properties"]["ScalingConfig"]["MaximumConcurrency"],
        json!({"Ref": "WorkerMaximumConcurrency"})
    );
}

#[test]
fn schedule_defaults_to_once_a_day() {
    let template = load(SAM);
    assert_eq!(
        template["Parameters"]["ScheduleExpression"]["Default"],
        "rate(1 day)"
    );
    let schedule = &template["Resources"]["FanoutFunction"]["Properties"]["Events"]["Schedule"];
    assert_eq!(schedule["Type"], "ScheduleV2");
    assert_eq!(
        schedule["Properties"]["ScheduleExpression"],
        json!({"Ref": "ScheduleExpression"})
    );
}

#[test]
fn parameters_reach_the_functions_environment() {
    let template = load(SAM);
    let env = &template["Globals"]["Function"]["Environment"]["Variables"];
    for (var, param) in [
        ("PORT_BASE_URL", "PortBaseUrl"),
        ("INTEGRATION_IDENTIFIER", "IntegrationIdentifier"),
        ("ORGANIZATION_ROLE_ARN", "OrganizationRoleArn"),
        ("ORGANIZATIONAL_UNIT_IDS", "OrganizationalUnitIds"),
        ("EXCLUDED_ACCOUNT_IDS", "ExcludedAccountIds"),
        ("EXTERNAL_ID", "ExternalId"),
        ("REGION_POLICY", "RegionPolicy"),
        ("KINDS", "Kinds"),
        ("MAPPING_CONFIG", "MappingConfig"),
        ("LOG_LEVEL", "LogLevel"),
        ("STATE_TABLE", "StateTable"),
        ("STATE_MAX_AGE_DAYS", "StateMaxAgeDays"),
    ] {
        assert_eq!(env[var], json!({"Ref": param}), "{var}");
    }
    let parameters = template["Parameters"].as_object().expect("Parameters");
    for (name, definition) in parameters {
        assert!(
            definition["Description"].is_string(),
            "{name} has no description"
        );
    }
    for secret in ["PortClientSecret", "ExternalId"] {
        assert_eq!(template["Parameters"][secret]["NoEcho"], true, "{secret}");
    }
    // Every parameter is used somewhere.
    let mut used = BTreeSet::new();
    walk(&template, &mut Vec::new(), &mut |_, node| {
        if let Some(name) = node.get("Ref").and_then(Value::as_str) {
            used.insert(name.to_owned());
        }
        if let Some(text) = node
            .get("Fn::Sub")
            .and_then(|s| s.as_str().or_else(|| s[0].as_str()))
        {
            for name in parameters.keys() {
                if text.contains(&format!("${{{name}}}")) {
                    used.insert(name.clone());
                }
            }
        }
    });
    for name in parameters.keys() {
        assert!(used.contains(name), "parameter {name} is never used");
    }

    let stack = Stack::accepted(&template, &single_account());
    assert_eq!(
        stack.resource("FanoutFunction").expect("fanout")["Environment"]["Variables"]
            ["WORK_QUEUE_URL"],
        "<WorkQueue>"
    );
    let outputs = template["Outputs"].as_object().unwrap();
    for output in [
        "SyncRoleArn",
        "FanoutFunctionName",
        "WorkerFunctionName",
        "WorkQueueUrl",
        "DeadLetterQueueUrl",
        "ScheduleDeadLetterQueueUrl",
        "FanoutFailureQueueUrl",
    ] {
        assert!(outputs.contains_key(output), "output {output} missing");
    }
}

// ---------------------------------------------------------------------------------------------
// Sync state
// ---------------------------------------------------------------------------------------------

/// The DynamoDB calls of `src/state/dynamodb`.
const STATE_ACTIONS: [&str; 7] = [
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:Query",
    "dynamodb:BatchWriteItem",
    "dynamodb:TransactWriteItems",
];

#[test]
fn the_state_table_is_on_demand_encrypted_with_ttl_and_only_the_functions_use_it() {
    let template = load(SAM);
    for (params, kms) in [
        (single_account(), false),
        (
            with(
                single_account(),
                &[("KmsKeyArn", KMS_KEY), ("StatePointInTimeRecovery", "true")],
            ),
            true,
        ),
    ] {
        let stack = Stack::accepted(&template, &params);
        let table = stack.resource("StateTable").expect("StateTable");
        assert_eq!(table["BillingMode"], "PAY_PER_REQUEST");
        assert_eq!(
            table["KeySchema"],
            json!([{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}])
        );
        assert_eq!(
            table["TimeToLiveSpecification"],
            json!({"AttributeName": "ttl", "Enabled": true})
        );
        assert_eq!(table["SSESpecification"]["SSEEnabled"], true);
        assert_eq!(
            table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"],
            kms
        );
        if kms {
            assert_eq!(table["SSESpecification"]["SSEType"], "KMS");
            assert_eq!(table["SSESpecification"]["KMSMasterKeyId"], KMS_KEY);
        } else {
            assert!(table["SSESpecification"].get("KMSMasterKeyId").is_none());
        }
        for role in ["FanoutRole", "WorkerRole"] {
            let statements = statements(&stack, role);
            let state = statement(&stack, role, "SyncState").expect("SyncState statement");
            let want: BTreeSet<String> = STATE_ACTIONS.iter().map(|a| a.to_string()).collect();
            assert_eq!(action_list(&state), want, "{role}");
            assert_eq!(
                resources(&state),
                vec!["<StateTable.Arn>".to_owned()],
                "{role}"
            );
            for action in STATE_ACTIONS {
                assert_eq!(
                    granting(&statements, action).len(),
                    1,
                    "{role}: {action} granted once"
                );
            }
        }
    }
    let env = &template["Globals"]["Function"]["Environment"]["Variables"];
    assert_eq!(env["STATE_TABLE"], json!({"Ref": "StateTable"}));
}
