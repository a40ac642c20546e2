//! `AWS::RDS::DBCluster` (regional): `DescribeDBClusters`, one raw object per cluster (Aurora,
//! Multi-AZ DB clusters, and, as in aws-v3, Neptune and DocumentDB clusters, which the same API
//! lists).
//!
//! `Properties` is the cluster as RDS returns it (every field, RDS's names, as aws-v3's
//! `extra="allow"` model keeps them) and `Tags`.
//!
//! Difference from aws-v3: aws-v3 fills `Tags` only with `ListTagsForResourceAction`, one
//! `ListTagsForResource` call per cluster merged by list position (a failed call shifts every
//! later cluster's tags), although `DescribeDBClusters` already returns them as `TagList`. Here
//! `Tags` is the cluster's own `TagList`, always, with no extra call; the action name is accepted
//! and changes nothing.

use super::{
    FetchContext, FetchError, FetchStats, KindScope, KindSpec, OptionalAction, PageSender,
};
use serde_json::{json, Value};

/// The aws-v3 `includeActions` of this kind: tags come with the describe call.
pub const OPTIONAL_ACTIONS: &[OptionalAction] = &[
    OptionalAction::always("DescribeDBClustersAction", &["rds:DescribeDBClusters"]),
    OptionalAction::always("ListTagsForResourceAction", &[]),
];

/// The kind's registry entry.
pub static SPEC: KindSpec = KindSpec {
    name: "AWS::RDS::DBCluster",
    slug: "rds-db-cluster",
    scope: KindScope::Regional,
    service: Some("rds"),
    iam_actions: &["rds:DescribeDBClusters"],
    optional_actions: OPTIONAL_ACTIONS,
    identity: &["DBClusterArn", "DBClusterIdentifier"],
    fetch: |ctx, pages| Box::pin(fetch(ctx, pages)),
    ..KindSpec::NATIVE
};

/// `DescribeDBClusters` page size: the API's maximum.
const PAGE: u32 = 100;

/// Fetches every DB cluster of the unit's region, one page of raw objects per API page.
pub async fn fetch(ctx: &FetchContext<'_>, pages: &PageSender) -> Result<FetchStats, FetchError> {
    ctx.send_listed(
        pages,
        "DescribeDBClusters",
        json!({ "MaxRecords": PAGE }),
        "DBClusters",
        properties,
    )
    .await
}

/// aws-v3's `Properties` of one cluster: RDS's fields, and `Tags` from `TagList`.
pub fn properties(cluster: Value) -> Value {
    let Value::Object(mut map) = cluster else {
        return Value::Object(serde_json::Map::new());
    };
    if let Some(tags) = map.get("TagList").cloned() {
        map.insert("Tags".into(), tags);
    }
    Value::Object(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vector() -> Value {
        let text =
            include_str!("../../tests/vectors/aws-v3/rds-db-cluster/rds-db-cluster-raw-data.json");
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn reproduces_the_aws_v3_vector_with_the_tag_list_kept() {
        let mut api = vector()["Properties"].clone();
        let tags = api.as_object_mut().unwrap().remove("Tags").unwrap();
        api["TagList"] = tags.clone();
        let mut expected = vector()["Properties"].clone();
        expected["TagList"] = tags;
        assert_eq!(properties(api), expected);
    }

    #[test]
    fn a_cluster_without_tag_list_has_no_tags() {
        let cluster = json!({"DBClusterIdentifier": "c", "Engine": "neptune"});
        assert_eq!(properties(cluster.clone()), cluster);
    }
}

#[cfg(test)]
mod fetch_tests {
    use super::*;
    use crate::kinds::Kind;
    use crate::test_support::fake_aws::{fetch_pages, FakeAws, Request, Response};
    use crate::test_support::TestUnit;

    fn handler(request: &Request) -> Response {
        let (id, marker) = if request.body.contains("Marker=") {
            ("c-2", "")
        } else {
            ("c-1", "<Marker>m2</Marker>")
        };
        let body = format!(
            "<DescribeDBClustersResponse xmlns=\"http://rds.amazonaws.com/doc/2014-10-31/\">\
             <DescribeDBClustersResult><DBClusters><DBCluster>\
             <DBClusterIdentifier>{id}</DBClusterIdentifier>\
             <DBClusterArn>arn:aws:rds:eu-west-1:123456789012:cluster:{id}</DBClusterArn>\
             <Port>5432</Port><MultiAZ>false</MultiAZ>\
             <DBClusterMembers><DBClusterMember><DBInstanceIdentifier>{id}-1</DBInstanceIdentifier>\
             <IsClusterWriter>true</IsClusterWriter></DBClusterMember></DBClusterMembers>\
             <TagList/></DBCluster></DBClusters>{marker}</DescribeDBClustersResult>\
             <ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></DescribeDBClustersResponse>"
        );
        (200, "text/xml", body)
    }

    #[tokio::test]
    async fn pages_through_every_cluster() {
        let server = FakeAws::start(handler);
        let kind = Kind::parse("AWS::RDS::DBCluster").unwrap();
        let unit = TestUnit::new(kind, "eu-west-1", server.sdk_config("eu-west-1"));
        let (result, pages) = fetch_pages(&unit.ctx()).await;
        let stats = result.unwrap();
        assert_eq!((stats.objects, stats.api_calls), (2, 2));
        assert_eq!(
            pages[1][0]["Properties"],
            json!({
                "DBClusterIdentifier": "c-2",
                "DBClusterArn": "arn:aws:rds:eu-west-1:123456789012:cluster:c-2",
                "Port": 5432,
                "MultiAZ": false,
                "DBClusterMembers": [{"DBInstanceIdentifier": "c-2-1", "IsClusterWriter": true}],
                "TagList": [],
                "Tags": []
            })
        );
    }
}
