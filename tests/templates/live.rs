//! Live events in the templates: `EnableLiveEvents` in `template.yaml` (central bus, its policy, the
//! rules, the queue, the worker's second event source, alarms), the per-account forwarder in
//! `cloudformation/live-events-forwarder.yaml` and its StackSet.
//!
//! What cannot be checked here: that EventBridge delivers across accounts as documented (no emulator
//! implements bus policies); the event patterns themselves are checked against the registry by
//! `scripts/gen-event-patterns --check` and against real-shaped events by the worker's tests.

use super::cfn::{Refused, Stack, ACCOUNT, REGION};
use super::sam::{
    all_modes, explicit_accounts, organization, single_account, statement, statements, with,
    ORGANIZATION_ID,
};
use super::{action_list, load, parse_yaml, read, SAM};
use serde_json::{json, Value};
use std::collections::BTreeSet;

const FORWARDER: &str = "cloudformation/live-events-forwarder.yaml";
const LIVE_STACKSET: &str = "cloudformation/live-events-stackset.yaml";
/// The alarms that exist only with live events.
pub(crate) const LIVE_ALARMS: [&str; 3] = [
    "LiveEventsAgeAlarm",
    "LiveEventsDeadLetterQueueAlarm",
    "LiveEventsDeliveryAlarm",
];
/// Every resource `EnableLiveEvents` adds, whatever the accounts mode (bus policies aside).
const LIVE_RESOURCES: [&str; 12] = [
    "LiveEventBus",
    "LiveEventsRule",
    "LocalLiveEventsRule",
    "LiveEventsQueue",
    "LiveEventsDeadLetterQueue",
    "LiveEventsQueuePolicy",
    "LiveEventsDeadLetterQueuePolicy",
    "LiveEventsSource",
    "LiveEventsAgeAlarm",
    "LiveEventsDeadLetterQueueAlarm",
    "LiveEventsDeliveryAlarm",
    "LiveEventBusOrganizationPolicy",
];
const SOURCE_ACCOUNTS: &str = "111111111111,222222222222";
/// A central bus in the accounts and region the renderer deploys into.
const LOCAL_BUS: &str = "arn:aws:events:eu-west-1:123456789012:event-bus/pas-live-events";
const REMOTE_BUS: &str = "arn:aws:events:eu-west-1:999999999999:event-bus/pas-live-events";

fn live(params: Vec<(&'static str, &'static str)>) -> Vec<(&'static str, &'static str)> {
    let mut params = with(params, &[("EnableLiveEvents", "true")]);
    if params.iter().any(|(name, _)| *name == "AccountRoleArns") {
        params.push(("LiveEventsSourceAccountIds", SOURCE_ACCOUNTS));
    }
    params
}

#[test]
fn live_events_are_off_by_default_and_add_nothing() {
    let template = load(SAM);
    assert_eq!(
        template["Parameters"]["EnableLiveEvents"]["Default"],
        "false"
    );
    for (mode, params) in all_modes() {
        let stack = Stack::accepted(&template, &params);
        for id in LIVE_RESOURCES
            .iter()
            .chain(["LiveEventBusAccountsPolicy"].iter())
        {
            assert!(
                stack.resource(id).is_none(),
                "{mode}: {id} without live events"
            );
        }
        for kind in [
            "AWS::Events::EventBus",
            "AWS::Events::Rule",
            "AWS::Lambda::EventSourceMapping",
        ] {
            assert!(stack.resources_of_type(kind).is_empty(), "{mode}: {kind}");
        }
        assert!(statement(&stack, "WorkerRole", "ConsumeLiveEvents").is_none());
    }
}

#[test]
fn live_events_feed_the_worker_through_their_own_queue_with_partial_batches() {
    let template = load(SAM);
    for (mode, params) in all_modes() {
        let stack = Stack::accepted(&template, &live(params));
        for id in &LIVE_RESOURCES[..11] {
            assert!(stack.resource(id).is_some(), "{mode}: {id} missing");
        }
        // Both rules send to the queue; the central one reads the central bus, the local one the
        // default bus of the stack's own account and region.
        let central = stack.resource("LiveEventsRule").expect("rule");
        assert_eq!(central["EventBusName"], "<LiveEventBus>", "{mode}");
        let local = stack.resource("LocalLiveEventsRule").expect("rule");
        assert!(local.get("EventBusName").is_none(), "{mode}: default bus");
        for rule in [&central, &local] {
            assert_eq!(rule["State"], "ENABLED");
            assert_eq!(
                rule["Targets"],
                json!([{"Id": "live-events-queue", "Arn": "<LiveEventsQueue.Arn>"}]),
                "{mode}"
            );
        }
        assert_eq!(
            central["EventPattern"], local["EventPattern"],
            "{mode}: one pattern"
        );

        let queue = stack.resource("LiveEventsQueue").expect("queue");
        assert_eq!(
            queue["RedrivePolicy"]["deadLetterTargetArn"],
            "<LiveEventsDeadLetterQueue.Arn>"
        );
        for id in ["LiveEventsQueue", "LiveEventsDeadLetterQueue"] {
            assert_eq!(
                stack.resource(id).expect("queue")["SqsManagedSseEnabled"],
                true,
                "{mode}: {id} encrypted"
            );
        }

        let source = stack.resource("LiveEventsSource").expect("event source");
        assert_eq!(source["EventSourceArn"], "<LiveEventsQueue.Arn>");
        assert_eq!(source["FunctionName"], "<WorkerFunction>");
        assert_eq!(
            source["FunctionResponseTypes"],
            json!(["ReportBatchItemFailures"])
        );
        assert_eq!(source["ScalingConfig"]["MaximumConcurrency"], "2");
        let timeout = stack.resource("WorkerFunction").expect("worker")["Timeout"]
            .as_u64()
            .expect("Timeout");
        let visibility = queue["VisibilityTimeout"].as_u64().expect("visibility");
        assert!(
            visibility >= timeout,
            "{mode}: Lambda refuses a queue whose visibility timeout is below the function's"
        );

        let grant = statement(&stack, "WorkerRole", "ConsumeLiveEvents")
            .unwrap_or_else(|| panic!("{mode}: the worker cannot read the live-events queue"));
        assert_eq!(grant["Resource"], "<LiveEventsQueue.Arn>");
        assert_eq!(
            action_list(&grant),
            BTreeSet::from(
                [
                    "sqs:ReceiveMessage",
                    "sqs:DeleteMessage",
                    "sqs:GetQueueAttributes"
                ]
                .map(str::to_owned)
            )
        );
        // Nothing else in the stack may send to the live-events queue.
        for role in ["FanoutRole", "WorkerRole", "SchedulerRole"] {
            for s in statements(&stack, role) {
                if action_list(&s).contains("sqs:SendMessage") {
                    assert_ne!(s["Resource"], "<LiveEventsQueue.Arn>", "{mode}: {role}");
                }
            }
        }
    }
}

#[test]
fn only_the_two_rules_may_send_to_the_live_events_queue() {
    let template = load(SAM);
    let stack = Stack::accepted(&template, &live(organization()));
    let policy = stack.resource("LiveEventsQueuePolicy").expect("policy");
    assert_eq!(policy["Queues"], json!(["<LiveEventsQueue>"]));
    let statements = policy["PolicyDocument"]["Statement"]
        .as_array()
        .expect("statements");
    let rules = json!(["<LiveEventsRule.Arn>", "<LocalLiveEventsRule.Arn>"]);
    let allow: Vec<&Value> = statements
        .iter()
        .filter(|s| s["Effect"] == "Allow")
        .collect();
    assert_eq!(allow.len(), 1, "{statements:#?}");
    assert_eq!(
        allow[0]["Principal"],
        json!({"Service": "events.amazonaws.com"})
    );
    assert_eq!(allow[0]["Action"], "sqs:SendMessage");
    assert_eq!(
        allow[0]["Condition"],
        json!({"ArnEquals": {"aws:SourceArn": rules}})
    );
    let deny_sends: Vec<&Value> = statements
        .iter()
        .filter(|s| s["Effect"] == "Deny" && s["Action"] == "sqs:SendMessage")
        .collect();
    assert_eq!(deny_sends.len(), 1, "{statements:#?}");
    assert_eq!(deny_sends[0]["Principal"], "*");
    assert_eq!(
        deny_sends[0]["Condition"],
        json!({"ArnNotEquals": {"aws:SourceArn": rules}}),
        "every sender but the two rules is refused"
    );
    let tls: Vec<&Value> = statements
        .iter()
        .filter(|s| s["Condition"]["Bool"]["aws:SecureTransport"] == "false")
        .collect();
    assert_eq!(tls.len(), 1);
    assert_eq!(tls[0]["Effect"], "Deny");
}

#[test]
fn the_central_bus_admits_only_the_organization_or_the_listed_accounts() {
    let template = load(SAM);

    let stack = Stack::accepted(&template, &live(organization()));
    let policy = stack
        .resource("LiveEventBusOrganizationPolicy")
        .expect("organization policy");
    assert!(stack.resource("LiveEventBusAccountsPolicy").is_none());
    assert_eq!(policy["EventBusName"], "<LiveEventBus>");
    let statement = &policy["Statement"];
    assert_eq!(statement["Action"], "events:PutEvents");
    assert_eq!(statement["Resource"], "<LiveEventBus.Arn>");
    assert_eq!(
        statement["Condition"],
        json!({"StringEquals": {"aws:PrincipalOrgID": ORGANIZATION_ID}}),
        "a wildcard principal only with the organization condition"
    );

    let stack = Stack::accepted(&template, &live(explicit_accounts()));
    let policy = stack
        .resource("LiveEventBusAccountsPolicy")
        .expect("accounts policy");
    assert!(stack.resource("LiveEventBusOrganizationPolicy").is_none());
    assert_eq!(
        policy["Statement"]["Principal"],
        json!({"AWS": ["111111111111", "222222222222"]})
    );
    assert!(policy["Statement"].get("Condition").is_none());

    // Explicit accounts without their ids: the bus would accept no one, so CloudFormation refuses.
    let refused = Stack::deploy(
        &template,
        &with(explicit_accounts(), &[("EnableLiveEvents", "true")]),
    );
    assert!(
        matches!(&refused, Err(Refused::Rule(_))),
        "explicit accounts without LiveEventsSourceAccountIds: {:?}",
        refused.as_ref().err()
    );
    assert!(matches!(
        Stack::deploy(
            &template,
            &with(
                live(explicit_accounts()),
                &[("LiveEventsSourceAccountIds", "1111")]
            )
        ),
        Err(Refused::Parameter(_))
    ));

    // Single account: only this account's own rules put events; no bus policy at all.
    let stack = Stack::accepted(&template, &live(single_account()));
    assert!(stack
        .resources_of_type("AWS::Events::EventBusPolicy")
        .is_empty());
}

#[test]
fn live_alarms_watch_the_queue_its_dead_letters_and_deliveries() {
    let template = load(SAM);
    let stack = Stack::accepted(&template, &live(single_account()));
    let age = stack.resource("LiveEventsAgeAlarm").expect("age alarm");
    assert_eq!(age["MetricName"], "ApproximateAgeOfOldestMessage");
    assert_eq!(age["Dimensions"][0]["Value"], "<LiveEventsQueue.QueueName>");

    let dead = stack
        .resource("LiveEventsDeadLetterQueueAlarm")
        .expect("dead-letter alarm");
    let metrics = dead["Metrics"].as_array().expect("metric math");
    assert!(metrics
        .iter()
        .any(|m| m["MetricStat"]["Metric"]["Dimensions"]
            == json!([{"Name": "QueueName", "Value": "<LiveEventsDeadLetterQueue.QueueName>"}])));
    assert!(metrics.iter().any(|m| m["Expression"]
        .as_str()
        .is_some_and(|e| e.starts_with("DIFF("))));

    // FailedInvocations of both rules: a custom bus's rule is named by bus and rule, the default
    // bus's by its rule alone (EventBridge's metric dimensions).
    let delivery = stack
        .resource("LiveEventsDeliveryAlarm")
        .expect("delivery alarm");
    let dimensions: Vec<&Value> = delivery["Metrics"]
        .as_array()
        .expect("metrics")
        .iter()
        .filter(|m| m["MetricStat"]["Metric"]["MetricName"] == "FailedInvocations")
        .map(|m| &m["MetricStat"]["Metric"]["Dimensions"])
        .collect();
    assert_eq!(dimensions.len(), 2, "{delivery:#?}");
    assert!(dimensions
        .iter()
        .any(|d| d.as_array().is_some_and(|d| d.len() == 2
            && d[0]["Name"] == "EventBusName"
            && d[1]["Name"] == "RuleName")));
    assert!(dimensions
        .iter()
        .any(|d| **d == json!([{"Name": "RuleName", "Value": "<LocalLiveEventsRule>"}])));
}

#[test]
fn outputs_name_the_bus_for_the_forwarders() {
    let template = load(SAM);
    let outputs = &template["Outputs"];
    assert_eq!(outputs["LiveEventBusArn"]["Condition"], "LiveEvents");
    assert_eq!(
        outputs["LiveEventBusArn"]["Value"],
        json!({"Fn::GetAtt": ["LiveEventBus", "Arn"]})
    );
}

// ---------------------------------------------------------------------------------------------
// The forwarder and its StackSet
// ---------------------------------------------------------------------------------------------

#[test]
fn the_forwarder_may_only_put_events_on_the_central_bus() {
    let template = load(FORWARDER);
    let stack = Stack::accepted(&template, &[("CentralEventBusArn", REMOTE_BUS)]);
    let role = stack.resource("ForwardingRole").expect("role");
    assert_eq!(
        role["AssumeRolePolicyDocument"]["Statement"],
        json!([{
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}}
        }])
    );
    let granted: Vec<Value> = role["Policies"]
        .as_array()
        .expect("policies")
        .iter()
        .flat_map(|p| {
            p["PolicyDocument"]["Statement"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(granted.len(), 1, "{granted:#?}");
    assert_eq!(granted[0]["Effect"], "Allow");
    assert_eq!(granted[0]["Action"], "events:PutEvents");
    assert_eq!(granted[0]["Resource"], REMOTE_BUS);

    let rule = stack.resource("ForwardingRule").expect("rule");
    assert!(rule.get("EventBusName").is_none(), "the default bus");
    assert_eq!(
        rule["Targets"],
        json!([{"Id": "port-aws-sync-central-bus", "Arn": REMOTE_BUS, "RoleArn": "<ForwardingRole.Arn>"}])
    );
    let sam_template = load(SAM);
    let sam = Stack::accepted(&sam_template, &live(single_account()));
    assert_eq!(
        rule["EventPattern"],
        sam.resource("LiveEventsRule").expect("rule")["EventPattern"],
        "the forwarder sends exactly what the central rule takes"
    );

    for bad in [
        "arn:aws:sqs:eu-west-1:999999999999:queue",
        "arn:aws:events:eu-west-1:999999999999:rule/x",
    ] {
        assert!(matches!(
            Stack::deploy(&template, &[("CentralEventBusArn", bad)]),
            Err(Refused::Parameter(_))
        ));
    }
}

#[test]
fn the_forwarder_forwards_nothing_in_the_central_account_and_region() {
    let template = load(FORWARDER);
    let stack = Stack::accepted(&template, &[("CentralEventBusArn", LOCAL_BUS)]);
    assert!(stack.condition("IsCentral"));
    assert!(stack.resource("ForwardingRule").is_none());
    assert!(stack.resource("ForwardingRole").is_none());
    // The same account in another region forwards.
    let other_region = LOCAL_BUS.replace(REGION, "us-east-1");
    let stack = Stack::accepted(&template, &[("CentralEventBusArn", &other_region)]);
    assert!(stack.resource("ForwardingRule").is_some());
}

#[test]
fn the_live_events_stackset_embeds_the_forwarder_and_deploys_it_to_the_regions() {
    let template = load(LIVE_STACKSET);
    let stacksets: Vec<&Value> = template["Resources"]
        .as_object()
        .expect("Resources")
        .values()
        .filter(|r| r["Type"] == "AWS::CloudFormation::StackSet")
        .collect();
    assert_eq!(stacksets.len(), 1);
    let body = stacksets[0]["Properties"]["TemplateBody"]
        .as_str()
        .expect("TemplateBody");
    assert_eq!(
        body.trim_end(),
        read(FORWARDER).trim_end(),
        "{LIVE_STACKSET}: TemplateBody differs from {FORWARDER}; run scripts/gen-stackset"
    );
    parse_yaml(body, "live-events-stackset.yaml TemplateBody");
    assert_eq!(
        template["Parameters"]["CentralEventBusArn"],
        load(FORWARDER)["Parameters"]["CentralEventBusArn"],
        "the StackSet's parameter has the forwarder's constraints"
    );

    let stack = Stack::accepted(
        &template,
        &[
            ("CentralEventBusArn", REMOTE_BUS),
            ("OrganizationalUnitIds", "ou-abcd-12345678"),
            ("Regions", "us-east-1,eu-west-1"),
        ],
    );
    let properties = stack
        .resource("LiveEventsForwarderStackSet")
        .expect("stackset");
    assert_eq!(properties["PermissionModel"], "SERVICE_MANAGED");
    assert_eq!(properties["AutoDeployment"]["Enabled"], true);
    assert_eq!(properties["Capabilities"], json!(["CAPABILITY_IAM"]));
    assert_eq!(
        properties["Parameters"],
        json!([{"ParameterKey": "CentralEventBusArn", "ParameterValue": REMOTE_BUS}])
    );
    let group = &properties["StackInstancesGroup"][0];
    assert_eq!(group["Regions"], json!(["us-east-1", "eu-west-1"]));
    assert_eq!(
        group["DeploymentTargets"],
        json!({"OrganizationalUnitIds": ["ou-abcd-12345678"], "AccountFilterType": "NONE"})
    );

    let excluding = Stack::accepted(
        &template,
        &[
            ("CentralEventBusArn", REMOTE_BUS),
            ("OrganizationalUnitIds", "r-abcd"),
            ("Regions", "us-east-1"),
            ("AccountFilterType", "DIFFERENCE"),
            ("AccountIds", "333333333333"),
        ],
    );
    assert_eq!(
        excluding
            .resource("LiveEventsForwarderStackSet")
            .expect("stackset")["StackInstancesGroup"][0]["DeploymentTargets"]["Accounts"],
        json!(["333333333333"])
    );
    assert!(matches!(
        Stack::deploy(
            &template,
            &[
                ("CentralEventBusArn", REMOTE_BUS),
                ("OrganizationalUnitIds", "r-abcd"),
                ("Regions", "us-east-1"),
                ("AccountFilterType", "INTERSECTION"),
            ],
        ),
        Err(Refused::Rule(_))
    ));
}
