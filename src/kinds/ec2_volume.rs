//! `AWS::EC2::Volume` (regional): `DescribeVolumes`, one raw object per volume, one page per API
//! page. Optional `DescribeVolumeAttributeAction`: `DescribeVolumeAttribute(autoEnableIO)` per
//! volume, concurrently under the kind's bound, as `AutoEnableIO` (a boolean), as aws-v3 does.
//!
//! `Properties` is the API's `Volume` as boto3 parses it (through [`crate::aws::api`], so a new
//! EC2 field appears without a code change), like aws-v3's model (`extra="allow"`). Fixed aws-v3
//! bug: attribute results were merged by list index; here each is merged into its own volume.

use super::detail;
use super::{
    FetchContext, FetchError, FetchStats, KindScope, KindSpec, OptionalAction, PageSender,
};
use futures_util::StreamExt;
use serde_json::{json, Value};

/// aws-v3's name for the optional `DescribeVolumeAttribute` call.
pub const DESCRIBE_VOLUME_ATTRIBUTE_ACTION: &str = "DescribeVolumeAttributeAction";

/// The aws-v3 `includeActions` of this kind.
pub const OPTIONAL_ACTIONS: &[OptionalAction] = &[
    OptionalAction::always("DescribeVolumesAction", &["ec2:DescribeVolumes"]),
    OptionalAction::optional(
        DESCRIBE_VOLUME_ATTRIBUTE_ACTION,
        &["ec2:DescribeVolumeAttribute"],
    ),
];

/// The kind's registry entry.
pub static SPEC: KindSpec = KindSpec {
    name: "AWS::EC2::Volume",
    slug: "ec2-volume",
    scope: KindScope::Regional,
    service: Some("ec2"),
    iam_actions: &["ec2:DescribeVolumes"],
    optional_actions: OPTIONAL_ACTIONS,
    identity: &["VolumeId"],
    fetch: |ctx, pages| Box::pin(fetch(ctx, pages)),
    ..KindSpec::NATIVE
};

/// `DescribeVolumes` page size (the API's maximum); passing it makes the call paginated.
const PAGE: u32 = 500;

/// Fetches every volume of the unit's region.
pub async fn fetch(ctx: &FetchContext<'_>, pages: &PageSender) -> Result<FetchStats, FetchError> {
    let with_attribute = ctx.wants(DESCRIBE_VOLUME_ATTRIBUTE_ACTION);
    let mut listed = std::pin::pin!(ctx.pages("DescribeVolumes", json!({"MaxResults": PAGE})));
    while let Some(page) = listed.next().await {
        let volumes: Vec<Value> = detail::take_objects(page?, "Volumes")
            .into_iter()
            .filter(exists)
            .collect();
        let objects = ctx
            .each(volumes, |volume| async move {
                let auto_enable_io = if with_attribute {
                    auto_enable_io(ctx, &volume).await?
                } else {
                    None
                };
                Ok(ctx.raw(properties(&volume, auto_enable_io)))
            })
            .await?;
        ctx.send(pages, objects).await?;
    }
    Ok(ctx.stats())
}

/// Whether a volume still exists (a deleted volume may stay listed as `deleted` for a while).
pub fn exists(volume: &Value) -> bool {
    volume["State"].as_str() != Some("deleted")
}

/// The volume's `autoEnableIO` attribute; `None` when it is gone or the call is denied.
async fn auto_enable_io(
    ctx: &FetchContext<'_>,
    volume: &Value,
) -> Result<Option<bool>, FetchError> {
    let id = volume["VolumeId"].clone();
    let item = format!("EC2 volume {}", id.as_str().unwrap_or_default());
    let input = json!({"VolumeId": id, "Attribute": "autoEnableIO"});
    let gone = ["InvalidVolume.NotFound"];
    let answer = ctx
        .optional_call("DescribeVolumeAttribute", input, &gone, &item)
        .await?;
    Ok(answer.and_then(|a| a["AutoEnableIO"]["Value"].as_bool()))
}

/// aws-v3's `Properties` of one volume.
pub fn properties(volume: &Value, auto_enable_io: Option<bool>) -> Value {
    let mut props = volume.as_object().cloned().unwrap_or_default();
    if let Some(value) = auto_enable_io {
        props.insert("AutoEnableIO".into(), Value::Bool(value));
    }
    Value::Object(props)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::Kind;
    use crate::test_support::fake_aws::{fetch_pages, FakeAws, Request, Response};
    use crate::test_support::TestUnit;

    const XMLNS: &str = "http://ec2.amazonaws.com/doc/2016-11-15/";

    fn xml(body: String) -> Response {
        (200, "text/xml;charset=UTF-8", body)
    }

    fn volume(id: &str, state: &str) -> String {
        format!(
            "<item><volumeId>{id}</volumeId><size>8</size><availabilityZone>eu-west-1a</availabilityZone>\
             <status>{state}</status><createTime>2024-03-15T08:30:00.000Z</createTime>\
             <volumeType>gp3</volumeType><iops>3000</iops><encrypted>false</encrypted>\
             <attachmentSet><item><volumeId>{id}</volumeId><instanceId>i-1</instanceId><device>/dev/xvda</device>\
             <status>attached</status><deleteOnTermination>true</deleteOnTermination></item></attachmentSet>\
             <tagSet><item><key>Name</key><value>{id}-name</value></item></tagSet></item>"
        )
    }

    fn handler(request: &Request) -> Response {
        let body = &request.body;
        if body.contains("Action=DescribeVolumes&") {
            return xml(format!(
                "<DescribeVolumesResponse xmlns=\"{XMLNS}\"><requestId>1</requestId><volumeSet>{}{}{}</volumeSet>\
                 </DescribeVolumesResponse>",
                volume("vol-1", "in-use"),
                volume("vol-2", "available"),
                volume("vol-3", "deleted")
            ));
        }
        if body.contains("Action=DescribeVolumeAttribute&") {
            let on = body.contains("VolumeId=vol-2");
            return xml(format!(
                "<DescribeVolumeAttributeResponse xmlns=\"{XMLNS}\"><requestId>2</requestId>\
                 <volumeId>x</volumeId><autoEnableIO><value>{on}</value></autoEnableIO>\
                 </DescribeVolumeAttributeResponse>"
            ));
        }
        let error = "<Response><Errors><Error><Code>InvalidAction</Code><Message>test</Message></Error></Errors><RequestID>x</RequestID></Response>";
        (400, "text/xml", error.to_owned())
    }

    async fn run(actions: &[&str]) -> (FakeAws, Vec<Value>, FetchStats) {
        let server = FakeAws::start(handler);
        let unit = TestUnit::new(
            Kind::parse("AWS::EC2::Volume").unwrap(),
            "eu-west-1",
            server.sdk_config("eu-west-1"),
        )
        .with_actions(actions);
        let (result, pages) = fetch_pages(&unit.ctx()).await;
        (
            server,
            pages.into_iter().flatten().collect(),
            result.unwrap(),
        )
    }

    #[tokio::test]
    async fn volumes_keep_boto3_names_and_deleted_ones_are_gone() {
        let (server, objects, stats) = run(&[]).await;
        assert_eq!((stats.objects, stats.api_calls), (2, 1));
        assert_eq!(
            objects[0]["Properties"],
            json!({
                "VolumeId": "vol-1", "Size": 8, "AvailabilityZone": "eu-west-1a", "State": "in-use",
                "CreateTime": "2024-03-15T08:30:00.000Z", "VolumeType": "gp3", "Iops": 3000,
                "Encrypted": false,
                "Attachments": [{"VolumeId": "vol-1", "InstanceId": "i-1", "Device": "/dev/xvda",
                                 "State": "attached", "DeleteOnTermination": true}],
                "Tags": [{"Key": "Name", "Value": "vol-1-name"}]
            })
        );
        assert!(server.requests()[0].body.contains("MaxResults=500"));
    }

    #[tokio::test]
    async fn the_attribute_action_merges_auto_enable_io_per_volume() {
        let (server, objects, stats) = run(&[DESCRIBE_VOLUME_ATTRIBUTE_ACTION]).await;
        assert_eq!((stats.objects, stats.api_calls), (2, 3));
        assert_eq!(objects[0]["Properties"]["AutoEnableIO"], false);
        assert_eq!(objects[1]["Properties"]["AutoEnableIO"], true);
        let calls: Vec<String> = server
            .requests()
            .into_iter()
            .filter(|r| r.body.contains("Action=DescribeVolumeAttribute&"))
            .map(|r| r.body)
            .collect();
        assert!(calls.iter().all(|c| c.contains("Attribute=autoEnableIO")));
    }

    #[tokio::test]
    async fn an_unauthorized_attribute_call_is_a_warning_not_a_failure() {
        // EC2 says UnauthorizedOperation (HTTP 403) where JSON services say AccessDenied.
        let server = FakeAws::start(|request: &Request| {
            if request.body.contains("Action=DescribeVolumeAttribute&")
                && request.body.contains("VolumeId=vol-2")
            {
                let error = "<Response><Errors><Error><Code>UnauthorizedOperation</Code>\
                             <Message>You are not authorized to perform this operation.</Message>\
                             </Error></Errors><RequestID>x</RequestID></Response>";
                return (403, "text/xml", error.to_owned());
            }
            handler(request)
        });
        let unit = TestUnit::new(
            Kind::parse("AWS::EC2::Volume").unwrap(),
            "eu-west-1",
            server.sdk_config("eu-west-1"),
        )
        .with_actions(&[DESCRIBE_VOLUME_ATTRIBUTE_ACTION]);
        let (result, pages) = fetch_pages(&unit.ctx()).await;
        let stats = result.expect("a denied optional call does not fail the fetch");
        let objects: Vec<Value> = pages.into_iter().flatten().collect();
        assert_eq!(stats.objects, 2);
        assert_eq!(stats.warnings.len(), 1, "{:?}", stats.warnings);
        assert!(stats.warnings[0].contains("DescribeVolumeAttribute"));
        assert_eq!(objects[0]["Properties"]["AutoEnableIO"], false);
        assert!(objects[1]["Properties"].get("AutoEnableIO").is_none());
    }
}
