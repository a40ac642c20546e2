//! `AWS::EC2::Instance` (regional): `DescribeInstances`, one raw object per instance; with
//! `DescribeInstanceStatusAction`, the instance's `DescribeInstanceStatus` entry merged into its
//! properties as aws-v3 does (`InstanceStatus`, `SystemStatus`, `Events`, ... as top-level keys).
//!
//! `Properties` is the API's `Instance` as boto3 parses it (through [`crate::aws::api`], so a new
//! EC2 field appears without a code change); `__ExtraContext` adds the reservation's own fields
//! (`ReservationId`, `OwnerId`, `RequesterId`, `Groups`), as aws-v3 does.

use super::live::{self, items, str_at};
use super::{
    FetchContext, FetchError, FetchStats, KindScope, KindSpec, LiveSpec, OptionalAction,
    PageSender, Refreshed,
};
use futures_util::StreamExt;
use serde_json::{json, Map, Value};
use std::collections::HashMap;

/// aws-v3's name for the optional `DescribeInstanceStatus` call.
pub const DESCRIBE_INSTANCE_STATUS_ACTION: &str = "DescribeInstanceStatusAction";

/// The aws-v3 `includeActions` of this kind.
pub const OPTIONAL_ACTIONS: &[OptionalAction] = &[
    OptionalAction::always("DescribeInstancesAction", &["ec2:DescribeInstances"]),
    OptionalAction::optional(
        DESCRIBE_INSTANCE_STATUS_ACTION,
        &["ec2:DescribeInstanceStatus"],
    )
    .aka(&["GetInstanceStatusAction"]),
];

/// The kind's registry entry.
pub static SPEC: KindSpec = KindSpec {
    name: "AWS::EC2::Instance",
    slug: "ec2-instance",
    scope: KindScope::Regional,
    service: Some("ec2"),
    iam_actions: &["ec2:DescribeInstances"],
    optional_actions: OPTIONAL_ACTIONS,
    identity: &["InstanceId"],
    fetch: |ctx, pages| Box::pin(fetch(ctx, pages)),
    live: Some(&LIVE),
    ..KindSpec::NATIVE
};

/// Live events: the calls that launch, change the state of, or tag instances, and EC2's own
/// state-change notification (which needs no CloudTrail).
pub static LIVE: LiveSpec = LiveSpec {
    source: "aws.ec2",
    api_calls: &[
        "RunInstances",
        "StartInstances",
        "StopInstances",
        "TerminateInstances",
        "ModifyInstanceAttribute",
        "CreateTags",
        "DeleteTags",
    ],
    service_events: &["EC2 Instance State-change Notification"],
    ids: event_ids,
    refresh: |ctx, ids, pages| Box::pin(refresh(ctx, ids, pages)),
};

/// The instance ids of an event: the instances set of the request and response
/// (`RunInstances` names them in its response only), the tagged resources that are instances,
/// `ModifyInstanceAttribute`'s instance, or the state-change notification's `instance-id`.
pub fn event_ids(event: &Value) -> Vec<String> {
    if let Some(id) = str_at(event, "/detail/instance-id") {
        return vec![id.to_owned()];
    }
    let request = live::request(event);
    let response = live::response(event);
    let mut ids = items(request, "/instancesSet", "instanceId");
    ids.extend(items(response, "/instancesSet", "instanceId"));
    ids.extend(
        items(request, "/resourcesSet", "resourceId")
            .into_iter()
            .filter(|id| id.starts_with("i-")),
    );
    if let Some(id) = str_at(request, "/instanceId") {
        ids.push(id.to_owned());
    }
    live::unique(ids)
}

/// Instance ids per `DescribeInstances` call of a refresh (an `instance-id` filter takes at
/// most 200 values).
const REFRESH_BATCH: usize = 200;

/// Describes the instances by id (an `instance-id` filter, so an unknown id is no error): the
/// ones that exist are sent as a fetch sends them; terminated and unknown ones are gone.
pub async fn refresh(
    ctx: &FetchContext<'_>,
    ids: &[String],
    pages: &PageSender,
) -> Result<Refreshed, FetchError> {
    let with_status = ctx.wants(DESCRIBE_INSTANCE_STATUS_ACTION);
    let found = ctx
        .batched(ids, REFRESH_BATCH, |batch| async move {
            let input = json!({
                "Filters": [{"Name": "instance-id", "Values": batch}],
                "MaxResults": DESCRIBE_INSTANCES_PAGE,
            });
            let mut found = Vec::new();
            let mut stream = std::pin::pin!(ctx.pages("DescribeInstances", input));
            while let Some(page) = stream.next().await {
                let page = page?;
                for reservation in list(&page, "Reservations") {
                    for instance in list(reservation, "Instances") {
                        found.push((reservation.clone(), instance.clone()));
                    }
                }
            }
            Ok(found)
        })
        .await?;
    let statuses = if with_status {
        let live: Vec<String> = found
            .iter()
            .filter(|(_, i)| exists(i))
            .filter_map(|(_, i)| str_of(i, "InstanceId"))
            .collect();
        describe_statuses(ctx, &live).await?
    } else {
        HashMap::new()
    };
    let mut objects = Vec::new();
    let mut gone = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for (reservation, instance) in &found {
        let id = str_of(instance, "InstanceId");
        seen.extend(id.clone());
        let status = id.as_ref().and_then(|id| statuses.get(id));
        let raw = instance_to_raw(ctx, ctx.extra(ctx.region), reservation, instance, status);
        if exists(instance) {
            objects.push(raw);
        } else {
            gone.push(raw);
        }
    }
    for id in ids.iter().filter(|id| !seen.contains(*id)) {
        gone.push(ctx.raw(live::identity_properties(&[("InstanceId", id)])));
    }
    ctx.send(pages, objects).await?;
    Ok(Refreshed {
        stats: ctx.stats(),
        gone,
    })
}

/// `DescribeInstances` page size. Passing `MaxResults` makes the call paginated, so it draws from
/// EC2's larger non-mutating throttling bucket (100 burst, 20/s) instead of the 50/10 bucket of
/// unfiltered, unpaginated calls. 200 rather than EC2's 1,000: a running unit holds its current
/// page several times over (response, raw objects, entities), so the page bounds its memory.
/// (moto counts `MaxResults` in reservations, so there a page may hold far more instances.)
const DESCRIBE_INSTANCES_PAGE: u32 = 200;

/// Raw objects sent downstream at once: a page is kept as its XML text and only this many
/// instances are parsed and converted from it at a time, so the page's values never exist all
/// at once (the text is several times smaller than its values). Also the ids of one
/// `DescribeInstanceStatus` call. A multiple of Port's 20 entities per bulk request, so the parts
/// cost no extra request.
const SEND_CHUNK: usize = 100;

/// `DescribeInstanceStatus` accepts at most 100 explicit instance ids per request (and no
/// `MaxResults` together with them).
const STATUS_BATCH: usize = 100;

/// Fetches every instance of the unit's region and sends the raw objects of each
/// `DescribeInstances` page in parts of at most [`SEND_CHUNK`]. Each page takes a place in the
/// process's page budget ([`crate::memory`]) before it is asked for, and gives it back once it
/// has been sent. A page is kept as its XML text and each instance is parsed from its own
/// extent of it ([`crate::aws::api::xml_parts`]); each part is sent (and, the channel being
/// bounded, taken by the writer) before the next is read, so neither a page's document tree
/// nor its values ever exist all at once.
pub async fn fetch(ctx: &FetchContext<'_>, pages: &PageSender) -> Result<FetchStats, FetchError> {
    let with_status = ctx.wants(DESCRIBE_INSTANCE_STATUS_ACTION);
    let input = json!({ "MaxResults": DESCRIBE_INSTANCES_PAGE });
    let mut stream = std::pin::pin!(ctx.pages_xml("DescribeInstances", input, "Reservations"));
    loop {
        let permit = crate::memory::page_permit().await;
        let Some(page) = stream.next().await else {
            break;
        };
        let page = page?;
        let output = page.parse().map_err(unreadable)?;
        let mut part = Vec::new();
        let mut count = 0;
        for reservation in output.list("Reservations").map_err(unreadable)? {
            let fields = reservation
                .read_without(Some("Instances"))
                .map_err(unreadable)?;
            for instance in reservation.list("Instances").map_err(unreadable)? {
                let instance = instance.read().map_err(unreadable)?;
                if !exists(&instance) {
                    continue;
                }
                part.push((with_reservation(ctx.extra(ctx.region), &fields), instance));
                if part.len() == SEND_CHUNK {
                    count += send_part(ctx, pages, std::mem::take(&mut part), with_status).await?;
                }
            }
        }
        count += send_part(ctx, pages, part, with_status).await?;
        tracing::debug!(region = ctx.region, count, "EC2 instances page");
        drop(page);
        drop(permit);
    }
    Ok(ctx.stats())
}

fn unreadable(message: String) -> FetchError {
    super::fetch::unreadable("DescribeInstances", message)
}

/// Sends one part of a page: each instance with its reservation's `__ExtraContext`, and with its
/// `DescribeInstanceStatus` entry when `with_status`. Returns the number of objects sent.
async fn send_part(
    ctx: &FetchContext<'_>,
    pages: &PageSender,
    part: Vec<(Map<String, Value>, Value)>,
    with_status: bool,
) -> Result<usize, FetchError> {
    let mut statuses = if with_status && !part.is_empty() {
        let ids: Vec<String> = part
            .iter()
            .filter_map(|(_, i)| str_of(i, "InstanceId"))
            .collect();
        describe_statuses(ctx, &ids).await?
    } else {
        HashMap::new()
    };
    let objects: Vec<Value> = part
        .into_iter()
        .map(|(extra, instance)| {
            let status = str_of(&instance, "InstanceId").and_then(|id| statuses.remove(&id));
            super::raw_object(ctx.kind, into_properties(instance, status), extra)
        })
        .collect();
    let count = objects.len();
    ctx.send(pages, objects).await?;
    Ok(count)
}

fn list<'v>(value: &'v Value, key: &str) -> &'v [Value] {
    value
        .get(key)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn str_of(value: &Value, key: &str) -> Option<String> {
    value.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// Whether an instance still exists: terminated instances stay listed for a while (about an
/// hour in AWS, for ever in moto) but are gone, so their entities must leave the catalog.
pub fn exists(instance: &Value) -> bool {
    instance["State"]["Name"].as_str() != Some("terminated")
}

/// `DescribeInstanceStatus` for one part's instances (`IncludeAllInstances`, so stopped
/// instances are reported too), by 100 ids, keyed by instance id.
async fn describe_statuses(
    ctx: &FetchContext<'_>,
    ids: &[String],
) -> Result<HashMap<String, Value>, FetchError> {
    let statuses = ctx
        .batched(ids, STATUS_BATCH, |batch| async move {
            let input = json!({"InstanceIds": batch, "IncludeAllInstances": true});
            let mut found = Vec::new();
            let mut stream = std::pin::pin!(ctx.pages("DescribeInstanceStatus", input));
            while let Some(page) = stream.next().await {
                found.extend(list(&page?, "InstanceStatuses").iter().cloned());
            }
            Ok(found)
        })
        .await?;
    Ok(statuses
        .into_iter()
        .filter_map(|s| Some((str_of(&s, "InstanceId")?, s)))
        .collect())
}

/// The raw object of one instance. `extra` is the unit's `__ExtraContext`; the reservation's
/// fields are added to it. `status` is the instance's `DescribeInstanceStatus` entry when the
/// optional action ran.
pub fn instance_to_raw(
    ctx: &FetchContext<'_>,
    extra: Map<String, Value>,
    reservation: &Value,
    instance: &Value,
    status: Option<&Value>,
) -> Value {
    super::raw_object(
        ctx.kind,
        properties(instance, status),
        with_reservation(extra, reservation),
    )
}

/// The instance's properties, with its status entry merged in: aws-v3's ResourceInspector does
/// `properties |= status`, so existing mappings read `.Properties.InstanceStatus.Status`,
/// `.Properties.SystemStatus.Status`, `.Properties.Events`, `.Properties.InstanceState`.
pub fn properties(instance: &Value, status: Option<&Value>) -> Value {
    into_properties(instance.clone(), status.cloned())
}

/// [`properties`] from owned values, without copying them.
pub fn into_properties(instance: Value, status: Option<Value>) -> Value {
    let mut properties = match instance {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    if let Some(Value::Object(status)) = status {
        properties.extend(status);
    }
    Value::Object(properties)
}

/// Adds the reservation's own fields (everything but `Instances`) to `__ExtraContext`, with the
/// API's names, as aws-v3 does (`{**reservation}` without `Instances`).
pub fn with_reservation(mut extra: Map<String, Value>, reservation: &Value) -> Map<String, Value> {
    for (key, value) in reservation.as_object().into_iter().flatten() {
        if key != "Instances" {
            extra.insert(key.clone(), value.clone());
        }
    }
    extra
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_ids_of_cloudtrail_calls_and_state_changes() {
        let run = json!({"detail": {"eventName": "RunInstances",
            "requestParameters": {"instancesSet": {"items": [{"imageId": "ami-1", "minCount": 1}]}},
            "responseElements": {"instancesSet": {"items": [
                {"instanceId": "i-0aaa"}, {"instanceId": "i-0bbb"}]}}}});
        assert_eq!(event_ids(&run), ["i-0aaa", "i-0bbb"]);
        let terminate = json!({"detail": {"eventName": "TerminateInstances",
            "requestParameters": {"instancesSet": {"items": [{"instanceId": "i-0aaa"}]}},
            "responseElements": {"instancesSet": {"items": [{"instanceId": "i-0aaa"}]}}}});
        assert_eq!(event_ids(&terminate), ["i-0aaa"]);
        let tags = json!({"detail": {"eventName": "CreateTags",
            "requestParameters": {"resourcesSet": {"items": [
                {"resourceId": "i-0ccc"}, {"resourceId": "vol-1"}]},
                "tagSet": {"items": [{"key": "env", "value": "prod"}]}}}});
        assert_eq!(event_ids(&tags), ["i-0ccc"]);
        let modify = json!({"detail": {"eventName": "ModifyInstanceAttribute",
            "requestParameters": {"instanceId": "i-0ddd"}}});
        assert_eq!(event_ids(&modify), ["i-0ddd"]);
        let state = json!({"detail-type": "EC2 Instance State-change Notification",
            "detail": {"instance-id": "i-0eee", "state": "stopped"}});
        assert_eq!(event_ids(&state), ["i-0eee"]);
        assert!(event_ids(&json!({"detail": {}})).is_empty());
    }

    #[test]
    fn terminated_instances_do_not_exist() {
        let with_state = |name: &str| json!({"State": {"Name": name}});
        assert!(!exists(&with_state("terminated")));
        assert!(exists(&with_state("shutting-down")));
        assert!(exists(&with_state("stopped")));
        assert!(exists(&json!({})));
    }

    fn base_extra() -> Map<String, Value> {
        let Value::Object(map) = json!({"AccountId": "123456789012", "Region": "us-east-1"}) else {
            unreachable!()
        };
        map
    }

    /// The instance of aws-v3's `ec2-instance-raw-data.json`, as boto3 returns it.
    fn example_instance() -> Value {
        json!({
            "InstanceId": "i-0a1b2c3d4e5f67890",
            "InstanceType": "t3.medium",
            "State": {"Code": 16, "Name": "running"},
            "PublicIpAddress": "54.123.45.67",
            "PrivateIpAddress": "10.0.1.100",
            "ImageId": "ami-0abcdef1234567890",
            "SubnetId": "subnet-12345678901234567",
            "VpcId": "vpc-12345678901234567",
            "LaunchTime": "2024-03-15T08:30:00.000Z",
            "Platform": "Linux/UNIX",
            "Architecture": "x86_64",
            "KeyName": "my-key-pair",
            "Placement": {"AvailabilityZone": "us-east-1a", "Tenancy": "default"},
            "Monitoring": {"State": "disabled"},
            "SecurityGroups": [
                {"GroupId": "sg-12345678901234567", "GroupName": "my-security-group"}
            ],
            "Tags": [
                {"Key": "Name", "Value": "my-production-server"},
                {"Key": "Environment", "Value": "production"},
                {"Key": "Team", "Value": "backend"}
            ]
        })
    }

    #[test]
    fn reproduces_the_aws_v3_example_with_reservation_context() {
        let reservation = json!({
            "ReservationId": "r-0123456789abcdef0",
            "OwnerId": "123456789012",
            "Groups": [{"GroupName": "legacy", "GroupId": "sg-0000"}],
            "Instances": [example_instance()]
        });
        let extra = with_reservation(base_extra(), &reservation);
        assert_eq!(properties(&example_instance(), None), example_instance());
        assert_eq!(
            Value::Object(extra),
            json!({
                "AccountId": "123456789012",
                "Region": "us-east-1",
                "ReservationId": "r-0123456789abcdef0",
                "OwnerId": "123456789012",
                "Groups": [{"GroupName": "legacy", "GroupId": "sg-0000"}]
            })
        );
    }

    #[test]
    fn merges_instance_status_into_properties_like_aws_v3() {
        let summary = json!({
            "Status": "ok",
            "Details": [{"Name": "reachability", "Status": "passed"}]
        });
        let status = json!({
            "InstanceId": "i-0a1b2c3d4e5f67890",
            "AvailabilityZone": "us-east-1a",
            "InstanceState": {"Code": 16, "Name": "running"},
            "InstanceStatus": summary,
            "SystemStatus": summary,
            "Events": []
        });
        let props = properties(&example_instance(), Some(&status));
        assert_eq!(props["InstanceId"], json!("i-0a1b2c3d4e5f67890"));
        assert_eq!(props["InstanceType"], json!("t3.medium"));
        assert_eq!(props["AvailabilityZone"], json!("us-east-1a"));
        assert_eq!(
            props["InstanceState"],
            json!({"Code": 16, "Name": "running"})
        );
        assert_eq!(props["Events"], json!([]));
        assert_eq!(props["InstanceStatus"], summary);
        assert_eq!(props["SystemStatus"], summary);
    }

    #[test]
    fn optional_action_is_describe_instance_status() {
        let optional: Vec<_> = OPTIONAL_ACTIONS.iter().filter(|a| !a.default).collect();
        assert_eq!(optional.len(), 1);
        assert_eq!(optional[0].name, "DescribeInstanceStatusAction");
        assert_eq!(optional[0].iam_actions, ["ec2:DescribeInstanceStatus"]);
    }
}

#[cfg(test)]
mod fetch_tests {
    use super::*;
    use crate::kinds::Kind;
    use crate::test_support::fake_aws::{
        fetch_pages, fetch_pages_after_a_place, FakeAws, Request, Response,
    };
    use crate::test_support::TestUnit;

    const XMLNS: &str = "http://ec2.amazonaws.com/doc/2016-11-15/";

    fn xml(body: String) -> Response {
        (200, "text/xml;charset=UTF-8", body)
    }

    fn instance(id: &str) -> String {
        format!(
            "<item><instanceId>{id}</instanceId><imageId>ami-1</imageId>\
             <instanceState><code>16</code><name>running</name></instanceState>\
             <privateDnsName>ip-10-0-0-1.ec2.internal</privateDnsName><dnsName></dnsName><reason></reason>\
             <instanceType>t3.medium</instanceType><launchTime>2024-03-15T08:30:00.000Z</launchTime>\
             <placement><availabilityZone>us-east-1a</availabilityZone><tenancy>default</tenancy></placement>\
             <monitoring><state>disabled</state></monitoring>\
             <groupSet><item><groupId>sg-1</groupId><groupName>web</groupName></item></groupSet>\
             <tagSet><item><key>Name</key><value>web</value></item></tagSet></item>"
        )
    }

    /// Two `DescribeInstances` pages (`NextToken`), one reservation each.
    fn handler(request: &Request) -> Response {
        let body = &request.body;
        if body.contains("Action=DescribeInstances&") && !body.contains("NextToken") {
            xml(format!(
                "<DescribeInstancesResponse xmlns=\"{XMLNS}\"><requestId>1</requestId><reservationSet><item>\
                 <reservationId>r-1</reservationId><ownerId>123456789012</ownerId><requesterId>940372691376</requesterId>\
                 <groupSet/><instancesSet>{}{}</instancesSet></item></reservationSet><nextToken>page-2</nextToken>\
                 </DescribeInstancesResponse>",
                instance("i-1"),
                instance("i-2")
            ))
        } else if body.contains("Action=DescribeInstances&") {
            xml(format!(
                "<DescribeInstancesResponse xmlns=\"{XMLNS}\"><requestId>2</requestId><reservationSet><item>\
                 <reservationId>r-2</reservationId><ownerId>123456789012</ownerId><groupSet/>\
                 <instancesSet>{}</instancesSet></item></reservationSet></DescribeInstancesResponse>",
                instance("i-3")
            ))
        } else if body.contains("Action=DescribeInstanceStatus&") {
            let statuses: String = ["i-1", "i-2", "i-3"]
                .iter()
                .filter(|id| body.contains(&format!("={id}")))
                .map(|id| {
                    format!(
                        "<item><instanceId>{id}</instanceId><availabilityZone>us-east-1a</availabilityZone>\
                         <instanceState><code>16</code><name>running</name></instanceState>\
                         <systemStatus><status>ok</status><details><item><name>reachability</name><status>passed</status></item></details></systemStatus>\
                         <instanceStatus><status>ok</status><details><item><name>reachability</name><status>passed</status></item></details></instanceStatus>\
                         <eventsSet/></item>"
                    )
                })
                .collect();
            xml(format!(
                "<DescribeInstanceStatusResponse xmlns=\"{XMLNS}\"><requestId>3</requestId>\
                 <instanceStatusSet>{statuses}</instanceStatusSet></DescribeInstanceStatusResponse>"
            ))
        } else {
            let error = "<Response><Errors><Error><Code>InvalidAction</Code><Message>test</Message></Error></Errors><RequestID>x</RequestID></Response>";
            (400, "text/xml", error.to_owned())
        }
    }

    async fn run(
        server: &FakeAws,
        actions: &[&str],
    ) -> (Result<FetchStats, FetchError>, Vec<Vec<Value>>) {
        let unit = TestUnit::new(
            Kind::Ec2Instance,
            "us-east-1",
            server.sdk_config("us-east-1"),
        )
        .with_actions(actions);
        fetch_pages(&unit.ctx()).await
    }

    #[tokio::test]
    async fn sends_one_page_per_describe_instances_page() {
        let server = FakeAws::start(handler);
        let (result, pages) = run(&server, &[]).await;
        let stats = result.unwrap();
        assert_eq!(stats.objects, 3);
        assert_eq!(stats.api_calls, 2);
        assert!(stats.warnings.is_empty());
        assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [2, 1]);
        assert_eq!(
            pages[0][0],
            json!({
                "Type": "AWS::EC2::Instance",
                "Properties": {
                    "InstanceId": "i-1",
                    "ImageId": "ami-1",
                    "State": {"Code": 16, "Name": "running"},
                    "PrivateDnsName": "ip-10-0-0-1.ec2.internal",
                    "PublicDnsName": "",
                    "StateTransitionReason": "",
                    "InstanceType": "t3.medium",
                    "LaunchTime": "2024-03-15T08:30:00.000Z",
                    "Placement": {"AvailabilityZone": "us-east-1a", "Tenancy": "default"},
                    "Monitoring": {"State": "disabled"},
                    "SecurityGroups": [{"GroupId": "sg-1", "GroupName": "web"}],
                    "Tags": [{"Key": "Name", "Value": "web"}]
                },
                "__ExtraContext": {
                    "AccountId": "123456789012",
                    "Region": "us-east-1",
                    "Partition": "aws",
                    "ReservationId": "r-1",
                    "OwnerId": "123456789012",
                    "RequesterId": "940372691376",
                    "Groups": []
                }
            })
        );
        assert_eq!(pages[1][0]["__ExtraContext"]["ReservationId"], json!("r-2"));
        let requests = server.requests();
        assert!(requests.iter().all(|r| r.body.contains("MaxResults=200")));
        assert!(!requests
            .iter()
            .any(|r| r.body.contains("DescribeInstanceStatus")));
    }

    /// One page of 250 instances in one reservation.
    fn large_page(request: &Request) -> Response {
        assert!(request.body.contains("Action=DescribeInstances&"));
        let instances: String = (0..250).map(|i| instance(&format!("i-{i}"))).collect();
        xml(format!(
            "<DescribeInstancesResponse xmlns=\"{XMLNS}\"><requestId>1</requestId><reservationSet><item>\
             <reservationId>r-1</reservationId><ownerId>123456789012</ownerId><groupSet/>\
             <instancesSet>{instances}</instancesSet></item></reservationSet></DescribeInstancesResponse>"
        ))
    }

    #[tokio::test]
    async fn a_large_page_waits_for_the_page_budget_and_goes_downstream_in_parts() {
        let server = FakeAws::start(large_page);
        let unit = TestUnit::new(
            Kind::Ec2Instance,
            "us-east-1",
            server.sdk_config("us-east-1"),
        );
        let (result, pages) = fetch_pages_after_a_place(&unit.ctx(), &server).await;
        assert_eq!(result.unwrap().objects, 250);
        assert_eq!(
            pages.iter().map(Vec::len).collect::<Vec<_>>(),
            [SEND_CHUNK, SEND_CHUNK, 50]
        );
        assert_eq!(pages[2][49]["Properties"]["InstanceId"], json!("i-249"));
        assert_eq!(pages[0][0]["__ExtraContext"]["ReservationId"], json!("r-1"));
    }

    #[tokio::test]
    async fn describe_instance_status_action_merges_statuses_per_part() {
        let server = FakeAws::start(handler);
        let (result, pages) = run(&server, &[DESCRIBE_INSTANCE_STATUS_ACTION]).await;
        let stats = result.unwrap();
        assert_eq!(
            stats.api_calls, 4,
            "2 DescribeInstances + 1 DescribeInstanceStatus per part of a page"
        );
        let summary =
            json!({"Status": "ok", "Details": [{"Name": "reachability", "Status": "passed"}]});
        for object in pages.iter().flatten() {
            let props = &object["Properties"];
            assert_eq!(props["InstanceStatus"], summary);
            assert_eq!(props["SystemStatus"], summary);
            assert_eq!(props["AvailabilityZone"], json!("us-east-1a"));
            assert_eq!(props["Events"], json!([]));
        }
        let status_calls: Vec<String> = server
            .requests()
            .into_iter()
            .filter(|r| r.body.contains("Action=DescribeInstanceStatus&"))
            .map(|r| r.body)
            .collect();
        assert_eq!(status_calls.len(), 2);
        assert!(status_calls[0].contains("InstanceId.1=i-1"));
        assert!(status_calls[0].contains("InstanceId.2=i-2"));
        assert!(status_calls[0].contains("IncludeAllInstances=true"));
        assert!(!status_calls[0].contains("MaxResults"));
        assert!(status_calls[1].contains("InstanceId.1=i-3"));
    }

    /// Nested structures come out with boto3's names, parsed from EC2's XML by the model.
    #[tokio::test]
    async fn nested_structures_keep_boto3_names() {
        let server = FakeAws::start(|_: &Request| {
            xml(format!(
                "<DescribeInstancesResponse xmlns=\"{XMLNS}\"><requestId>1</requestId><reservationSet><item>\
                 <instancesSet><item><instanceId>i-2</instanceId>\
                 <dnsName>ec2-54-1-2-3.compute-1.amazonaws.com</dnsName><reason></reason>\
                 <ipv6Address>2600:1f18::1</ipv6Address>\
                 <blockDeviceMapping><item><deviceName>/dev/xvda</deviceName><ebs>\
                 <attachTime>2024-03-15T08:30:00.007Z</attachTime><deleteOnTermination>true</deleteOnTermination>\
                 <status>attached</status><volumeId>vol-1</volumeId></ebs></item></blockDeviceMapping>\
                 <networkInterfaceSet><item><networkInterfaceId>eni-1</networkInterfaceId><status>in-use</status>\
                 <ipv6AddressesSet><item><ipv6Address>2600:1f18::1</ipv6Address><isPrimaryIpv6>true</isPrimaryIpv6></item></ipv6AddressesSet>\
                 <privateIpAddressesSet><item><primary>true</primary><privateIpAddress>10.0.0.5</privateIpAddress>\
                 <association><publicIp>54.1.2.3</publicIp><ipOwnerId>amazon</ipOwnerId></association></item></privateIpAddressesSet>\
                 <attachment><deviceIndex>0</deviceIndex><networkCardIndex>0</networkCardIndex></attachment></item></networkInterfaceSet>\
                 <metadataOptions><httpTokens>required</httpTokens><httpPutResponseHopLimit>2</httpPutResponseHopLimit></metadataOptions>\
                 <privateDnsNameOptions><hostnameType>ip-name</hostnameType>\
                 <enableResourceNameDnsAAAARecord>false</enableResourceNameDnsAAAARecord></privateDnsNameOptions>\
                 <iamInstanceProfile><arn>arn:aws:iam::123456789012:instance-profile/web</arn><id>AIPA1</id></iamInstanceProfile>\
                 </item></instancesSet></item></reservationSet></DescribeInstancesResponse>"
            ))
        });
        let (result, pages) = run(&server, &[]).await;
        result.unwrap();
        assert_eq!(
            pages[0][0]["Properties"],
            json!({
                "InstanceId": "i-2",
                "PublicDnsName": "ec2-54-1-2-3.compute-1.amazonaws.com",
                "StateTransitionReason": "",
                "Ipv6Address": "2600:1f18::1",
                "BlockDeviceMappings": [{
                    "DeviceName": "/dev/xvda",
                    "Ebs": {
                        "AttachTime": "2024-03-15T08:30:00.007Z",
                        "DeleteOnTermination": true,
                        "Status": "attached",
                        "VolumeId": "vol-1"
                    }
                }],
                "NetworkInterfaces": [{
                    "NetworkInterfaceId": "eni-1",
                    "Status": "in-use",
                    "Ipv6Addresses": [{"Ipv6Address": "2600:1f18::1", "IsPrimaryIpv6": true}],
                    "PrivateIpAddresses": [{
                        "Primary": true,
                        "PrivateIpAddress": "10.0.0.5",
                        "Association": {"PublicIp": "54.1.2.3", "IpOwnerId": "amazon"}
                    }],
                    "Attachment": {"DeviceIndex": 0, "NetworkCardIndex": 0}
                }],
                "MetadataOptions": {"HttpTokens": "required", "HttpPutResponseHopLimit": 2},
                "PrivateDnsNameOptions": {
                    "HostnameType": "ip-name",
                    "EnableResourceNameDnsAAAARecord": false
                },
                "IamInstanceProfile": {
                    "Arn": "arn:aws:iam::123456789012:instance-profile/web",
                    "Id": "AIPA1"
                }
            })
        );
    }

    #[tokio::test]
    async fn a_failing_page_fails_the_fetch() {
        let server = FakeAws::start(|request: &Request| {
            if request.body.contains("NextToken") {
                let error = "<Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>no</Message></Error></Errors><RequestID>x</RequestID></Response>";
                (403, "text/xml", error.to_owned())
            } else {
                handler(request)
            }
        });
        let (result, pages) = run(&server, &[]).await;
        match result {
            Err(FetchError::Aws {
                operation, code, ..
            }) => {
                assert_eq!(operation, "DescribeInstances");
                assert_eq!(code.as_deref(), Some("UnauthorizedOperation"));
            }
            other => panic!("expected a DescribeInstances failure, got {other:?}"),
        }
        assert_eq!(pages.len(), 1, "the first page was already sent");
    }
}
