//! `AWS::RDS::DBInstance` (regional): `DescribeDBInstances`, one raw object per instance.
//!
//! `Properties` is the instance as RDS returns it, with aws-v3's names for four fields:
//! `Port` (the endpoint's port), `EnableIAMDatabaseAuthentication` (RDS's
//! `IAMDatabaseAuthenticationEnabled`), `EnablePerformanceInsights` (`PerformanceInsightsEnabled`)
//! and `VPCSecurityGroups` (`VpcSecurityGroups`).
//!
//! Differences from aws-v3:
//! - aws-v3 keeps only the fields its model declares (`extra="ignore"`); here every field RDS
//!   returns is kept, so a new RDS field appears without a code change.
//! - aws-v3 throws away the `TagList` that `DescribeDBInstances` returns, and fills `Tags` only
//!   with `ListTagsForResourceAction`, one `ListTagsForResource` call per instance, merged by list
//!   position (a failed call shifts every later instance's tags). Here `Tags` is the instance's
//!   own `TagList`, always, with no extra call; the action name is accepted and changes nothing.

use super::detail;
use super::live::{self, str_at, Found};
use super::{
    FetchContext, FetchError, FetchStats, KindScope, KindSpec, OptionalAction, PageSender,
};
use super::{LiveSpec, Refreshed};
use serde_json::{json, Map, Value};

/// The aws-v3 `includeActions` of this kind: tags come with the describe call.
pub const OPTIONAL_ACTIONS: &[OptionalAction] = &[
    OptionalAction::always("DescribeDBInstancesAction", &["rds:DescribeDBInstances"]),
    OptionalAction::always("ListTagsForResourceAction", &[]),
];

/// The kind's registry entry.
pub static SPEC: KindSpec = KindSpec {
    name: "AWS::RDS::DBInstance",
    slug: "rds-db-instance",
    scope: KindScope::Regional,
    service: Some("rds"),
    iam_actions: &["rds:DescribeDBInstances"],
    optional_actions: OPTIONAL_ACTIONS,
    identity: &["DBInstanceArn", "DBInstanceIdentifier"],
    fetch: |ctx, pages| Box::pin(fetch(ctx, pages)),
    live: Some(&LIVE),
    ..KindSpec::NATIVE
};

/// Live events: the calls that create, delete, change, start, stop or tag a DB instance, and
/// RDS's own instance events (e.g. "DB instance deleted"), which need no CloudTrail.
pub static LIVE: LiveSpec = LiveSpec {
    source: "aws.rds",
    api_calls: &[
        "CreateDBInstance",
        "CreateDBInstanceReadReplica",
        "RestoreDBInstanceFromDBSnapshot",
        "RestoreDBInstanceToPointInTime",
        "DeleteDBInstance",
        "ModifyDBInstance",
        "StartDBInstance",
        "StopDBInstance",
        "AddTagsToResource",
        "RemoveTagsFromResource",
    ],
    service_events: &["RDS DB Instance Event"],
    ids: event_ids,
    refresh: |ctx, ids, pages| Box::pin(refresh(ctx, ids, pages)),
};

/// The DB instance identifier of an event: the request's or response's `dBInstanceIdentifier`,
/// a tagged instance `resourceName` (`arn:aws:rds:<region>:<account>:db:<id>`), or an RDS
/// instance event's `SourceIdentifier`.
pub fn event_ids(event: &Value) -> Vec<String> {
    let request = live::request(event);
    let response = live::response(event);
    let tagged = str_at(request, "/resourceName")
        .and_then(|arn| arn.split_once(":db:"))
        .map(|(_, id)| id);
    let source = str_at(event, "/detail/SourceIdentifier")
        .filter(|_| str_at(event, "/detail/SourceType") != Some("SNAPSHOT"));
    let source = source.filter(|_| event["detail-type"] == "RDS DB Instance Event");
    live::unique(
        [
            str_at(request, "/dBInstanceIdentifier"),
            str_at(response, "/dBInstanceIdentifier"),
            tagged,
            source,
        ]
        .into_iter()
        .flatten()
        .map(str::to_owned),
    )
}

/// `DescribeDBInstances` per identifier: `DBInstanceNotFound` is gone.
pub async fn refresh(
    ctx: &FetchContext<'_>,
    ids: &[String],
    pages: &PageSender,
) -> Result<Refreshed, FetchError> {
    live::refresh_each(
        ctx,
        ids,
        pages,
        |id| async move {
            let input = json!({ "DBInstanceIdentifier": id });
            let answer = detail::about(ctx, "DescribeDBInstances", input, &id).await?;
            let instance = answer
                .as_ref()
                .and_then(|a| detail::objects(a, "DBInstances").first().cloned());
            Ok(Found::from_described(
                instance.map(|i| ctx.raw(properties(i))),
            ))
        },
        |id| {
            let arn = live::unit_arn(ctx, "rds", &format!("db:{id}"));
            ctx.raw(json!({"DBInstanceIdentifier": id, "DBInstanceArn": arn}))
        },
    )
    .await
}

/// `DescribeDBInstances` page size: the API's maximum.
const PAGE: u32 = 100;

/// RDS's field names that aws-v3 renames.
const RENAMES: &[(&str, &str)] = &[
    (
        "IAMDatabaseAuthenticationEnabled",
        "EnableIAMDatabaseAuthentication",
    ),
    ("PerformanceInsightsEnabled", "EnablePerformanceInsights"),
    ("VpcSecurityGroups", "VPCSecurityGroups"),
];

/// Fetches every DB instance of the unit's region, one page of raw objects per API page.
pub async fn fetch(ctx: &FetchContext<'_>, pages: &PageSender) -> Result<FetchStats, FetchError> {
    ctx.send_listed(
        pages,
        "DescribeDBInstances",
        json!({ "MaxRecords": PAGE }),
        "DBInstances",
        properties,
    )
    .await
}

/// aws-v3's `Properties` of one instance: RDS's fields, four under aws-v3's names, `Port` from
/// the endpoint and `Tags` from `TagList`.
pub fn properties(instance: Value) -> Value {
    let Value::Object(mut map) = instance else {
        return Value::Object(Map::new());
    };
    let port = map
        .get("Endpoint")
        .and_then(|endpoint| endpoint.get("Port"))
        .cloned();
    let tags = map.get("TagList").cloned();
    for (api, aws_v3) in RENAMES {
        if let Some(value) = map.remove(*api) {
            map.insert((*aws_v3).to_owned(), value);
        }
    }
    if let Some(port) = port {
        map.insert("Port".into(), port);
    }
    if let Some(tags) = tags {
        map.insert("Tags".into(), tags);
    }
    Value::Object(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_ids_are_instance_identifiers() {
        let create = json!({"detail": {"eventName": "CreateDBInstance",
            "requestParameters": {"dBInstanceIdentifier": "db-1", "engine": "postgres"},
            "responseElements": {"dBInstanceIdentifier": "db-1"}}});
        assert_eq!(event_ids(&create), ["db-1"]);
        let tag = json!({"detail": {"eventName": "AddTagsToResource", "requestParameters": {
            "resourceName": "arn:aws:rds:us-east-1:123456789012:db:db-2"}}});
        assert_eq!(event_ids(&tag), ["db-2"]);
        let cluster_tag = json!({"detail": {"eventName": "AddTagsToResource", "requestParameters": {
            "resourceName": "arn:aws:rds:us-east-1:123456789012:cluster:c-1"}}});
        assert!(event_ids(&cluster_tag).is_empty());
        let deleted = json!({"detail-type": "RDS DB Instance Event", "source": "aws.rds",
            "detail": {"EventCategories": ["deletion"], "SourceType": "DB_INSTANCE",
                "SourceArn": "arn:aws:rds:us-east-1:123456789012:db:db-3",
                "SourceIdentifier": "db-3", "EventID": "RDS-EVENT-0003",
                "Message": "DB instance deleted"}});
        assert_eq!(event_ids(&deleted), ["db-3"]);
    }

    fn vector() -> Value {
        let text = include_str!(
            "../../tests/vectors/aws-v3/rds-db-instance/rds-db-instance-raw-data.json"
        );
        serde_json::from_str(text).unwrap()
    }

    /// The vector's instance as `DescribeDBInstances` returns it: RDS's names, `TagList`, and
    /// fields aws-v3 does not declare.
    fn api_instance() -> Value {
        let mut instance = vector()["Properties"].clone();
        let map = instance.as_object_mut().unwrap();
        for (api, aws_v3) in RENAMES {
            let value = map.remove(*aws_v3).unwrap();
            map.insert((*api).to_owned(), value);
        }
        map.remove("Port");
        let tags = map.remove("Tags").unwrap();
        map.insert("TagList".into(), tags);
        map.insert("DbInstancePort".into(), json!(0));
        map.insert("StorageVolumeStatus".into(), json!("in-sync"));
        instance
    }

    #[test]
    fn reproduces_the_aws_v3_vector_and_keeps_every_other_field() {
        let props = properties(api_instance());
        let mut expected = vector()["Properties"].clone();
        let extra = json!({
            "TagList": [{"Key": "team", "Value": "orders"}],
            "DbInstancePort": 0,
            "StorageVolumeStatus": "in-sync"
        });
        for (key, value) in extra.as_object().unwrap() {
            expected[key] = value.clone();
        }
        assert_eq!(props, expected);
    }

    #[test]
    fn an_instance_without_endpoint_or_tags_has_no_port_or_tags() {
        let props = properties(json!({"DBInstanceIdentifier": "creating"}));
        assert_eq!(props, json!({"DBInstanceIdentifier": "creating"}));
    }
}

#[cfg(test)]
mod fetch_tests {
    use super::*;
    use crate::kinds::Kind;
    use crate::test_support::fake_aws::{fetch_pages, FakeAws, Request, Response};
    use crate::test_support::TestUnit;

    const XMLNS: &str = "http://rds.amazonaws.com/doc/2014-10-31/";

    fn instance(id: &str) -> String {
        format!(
            "<DBInstance><DBInstanceIdentifier>{id}</DBInstanceIdentifier>\
             <DBInstanceArn>arn:aws:rds:eu-west-1:123456789012:db:{id}</DBInstanceArn>\
             <Endpoint><Address>{id}.rds.amazonaws.com</Address><Port>5432</Port></Endpoint>\
             <IAMDatabaseAuthenticationEnabled>false</IAMDatabaseAuthenticationEnabled>\
             <AllocatedStorage>20</AllocatedStorage>\
             <VpcSecurityGroups><VpcSecurityGroupMembership><VpcSecurityGroupId>sg-1</VpcSecurityGroupId>\
             <Status>active</Status></VpcSecurityGroupMembership></VpcSecurityGroups>\
             <TagList><Tag><Key>team</Key><Value>a</Value></Tag></TagList></DBInstance>"
        )
    }

    fn page(instances: &str, marker: &str) -> Response {
        let body = format!(
            "<DescribeDBInstancesResponse xmlns=\"{XMLNS}\"><DescribeDBInstancesResult>\
             <DBInstances>{instances}</DBInstances>{marker}</DescribeDBInstancesResult>\
             <ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></DescribeDBInstancesResponse>"
        );
        (200, "text/xml", body)
    }

    fn handler(request: &Request) -> Response {
        if request.body.contains("Marker=") {
            page(&instance("db-3"), "")
        } else {
            let two = instance("db-1") + &instance("db-2");
            page(&two, "<Marker>m2</Marker>")
        }
    }

    #[tokio::test]
    async fn pages_through_every_instance_with_aws_v3_names() {
        let server = FakeAws::start(handler);
        let kind = Kind::parse("AWS::RDS::DBInstance").unwrap();
        let unit = TestUnit::new(kind, "eu-west-1", server.sdk_config("eu-west-1"));
        let (result, pages) = fetch_pages(&unit.ctx()).await;
        let stats = result.unwrap();
        assert_eq!((stats.objects, stats.api_calls), (3, 2));
        assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [2, 1]);
        let tags = json!([{"Key": "team", "Value": "a"}]);
        assert_eq!(
            pages[0][0],
            json!({
                "Type": "AWS::RDS::DBInstance",
                "Properties": {
                    "DBInstanceIdentifier": "db-1",
                    "DBInstanceArn": "arn:aws:rds:eu-west-1:123456789012:db:db-1",
                    "Endpoint": {"Address": "db-1.rds.amazonaws.com", "Port": 5432},
                    "Port": 5432,
                    "EnableIAMDatabaseAuthentication": false,
                    "AllocatedStorage": 20,
                    "VPCSecurityGroups": [{"VpcSecurityGroupId": "sg-1", "Status": "active"}],
                    "TagList": tags,
                    "Tags": tags
                },
                "__ExtraContext": {"AccountId": "123456789012", "Region": "eu-west-1", "Partition": "aws"}
            })
        );
        let first = &server.requests()[0].body;
        assert!(first.contains("MaxRecords=100"), "{first}");
    }
}
