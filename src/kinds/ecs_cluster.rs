//! `AWS::ECS::Cluster` (regional): `ListClusters`, then `DescribeClusters` per page of ARNs with
//! every optional field included, one raw object per cluster.
//!
//! `Properties` has aws-v3's PascalCase top-level keys (`clusterName` → `ClusterName`, `settings` →
//! `ClusterSettings`); nested objects keep the ECS API's camelCase (`{key, value}` tags).

use super::raw::ToRaw;
use super::{
    extra_context, raw_object, send_page, FetchContext, FetchError, FetchStats, Kind, PageSender,
};
use crate::{raw_enum, raw_struct};
use aws_sdk_ecs::types as ecs;
use serde_json::{Map, Value};

/// `ListClusters` page size and `DescribeClusters` batch size: both APIs' maximum (100).
const BATCH: usize = 100;

/// Everything `DescribeClusters` can add to a cluster, as aws-v3 requests it.
const INCLUDE: [ecs::ClusterField; 5] = [
    ecs::ClusterField::Tags,
    ecs::ClusterField::Settings,
    ecs::ClusterField::Statistics,
    ecs::ClusterField::Configurations,
    ecs::ClusterField::Attachments,
];

/// Fetches every cluster of the unit's region and sends one page of raw objects per
/// `ListClusters` page.
pub async fn fetch(ctx: &FetchContext<'_>, pages: &PageSender) -> Result<FetchStats, FetchError> {
    let client = aws_sdk_ecs::Client::new(ctx.sdk);
    let mut stats = FetchStats::default();
    let mut stream = client
        .list_clusters()
        .max_results(BATCH as i32)
        .into_paginator()
        .send();
    while let Some(page) = stream.next().await {
        stats.api_calls += 1;
        let arns = page
            .map_err(|e| FetchError::aws("ListClusters", e))?
            .cluster_arns
            .unwrap_or_default();
        for batch in arns.chunks(BATCH) {
            stats.api_calls += 1;
            let described = client
                .describe_clusters()
                .set_clusters(Some(batch.to_vec()))
                .set_include(Some(INCLUDE.to_vec()))
                .send()
                .await
                .map_err(|e| FetchError::aws("DescribeClusters", e))?;
            for failure in described.failures.unwrap_or_default() {
                let warning = failure_warning(&failure);
                tracing::warn!(region = ctx.region, "{warning}");
                stats.warnings.push(warning);
            }
            let objects: Vec<Value> = described
                .clusters
                .unwrap_or_default()
                .iter()
                .filter(|c| exists(c))
                .map(|cluster| cluster_to_raw(extra_context(ctx, ctx.region), cluster))
                .collect();
            stats.objects += objects.len();
            send_page(pages, objects).await?;
        }
    }
    Ok(stats)
}

/// Whether a cluster still exists: deleted clusters stay listed as `INACTIVE` for a while (for
/// ever in moto), so their entities must leave the catalog.
pub fn exists(cluster: &ecs::Cluster) -> bool {
    cluster.status.as_deref() != Some("INACTIVE")
}

/// The raw object of one cluster; `extra` is the unit's [`extra_context`].
pub fn cluster_to_raw(extra: Map<String, Value>, cluster: &ecs::Cluster) -> Value {
    let properties = cluster
        .to_raw()
        .unwrap_or_else(|| Value::Object(Map::new()));
    raw_object(Kind::EcsCluster, properties, extra)
}

/// A `DescribeClusters` failure (e.g. `MISSING` for a cluster deleted since `ListClusters`).
pub fn failure_warning(failure: &ecs::Failure) -> String {
    let mut warning = format!(
        "DescribeClusters failed for {}: {}",
        failure.arn.as_deref().unwrap_or("an unknown cluster"),
        failure.reason.as_deref().unwrap_or("no reason given")
    );
    if let Some(detail) = failure.detail.as_deref().filter(|d| !d.is_empty()) {
        warning.push_str(" (");
        warning.push_str(detail);
        warning.push(')');
    }
    warning
}

// The cluster's own keys are aws-v3's (PascalCase, `settings` → `ClusterSettings`); nested types
// use the ECS JSON names as read from the SDK's schemas (`types/_*.rs`).
raw_struct!(ecs::Cluster {
    "ClusterArn" => cluster_arn,
    "ClusterName" => cluster_name,
    "Configuration" => configuration,
    "Status" => status,
    "RegisteredContainerInstancesCount" => registered_container_instances_count,
    "RunningTasksCount" => running_tasks_count,
    "PendingTasksCount" => pending_tasks_count,
    "ActiveServicesCount" => active_services_count,
    "Statistics" => statistics,
    "Tags" => tags,
    "ClusterSettings" => settings,
    "CapacityProviders" => capacity_providers,
    "DefaultCapacityProviderStrategy" => default_capacity_provider_strategy,
    "Attachments" => attachments,
    "AttachmentsStatus" => attachments_status,
    "ServiceConnectDefaults" => service_connect_defaults,
});
raw_struct!(ecs::ClusterConfiguration {
    "executeCommandConfiguration" => execute_command_configuration,
    "managedStorageConfiguration" => managed_storage_configuration,
});
raw_struct!(ecs::KeyValuePair {
    "name" => name,
    "value" => value,
});
raw_struct!(ecs::Tag {
    "key" => key,
    "value" => value,
});
raw_struct!(ecs::ClusterSetting {
    "name" => name,
    "value" => value,
});
raw_struct!(ecs::CapacityProviderStrategyItem {
    "capacityProvider" => capacity_provider,
    "weight" => weight,
    "base" => base,
});
raw_struct!(ecs::Attachment {
    "id" => id,
    "type" => r#type,
    "status" => status,
    "details" => details,
});
raw_struct!(ecs::ClusterServiceConnectDefaults {
    "namespace" => namespace,
});
raw_struct!(ecs::ExecuteCommandConfiguration {
    "kmsKeyId" => kms_key_id,
    "logging" => logging,
    "logConfiguration" => log_configuration,
});
raw_struct!(ecs::ManagedStorageConfiguration {
    "kmsKeyId" => kms_key_id,
    "fargateEphemeralStorageKmsKeyId" => fargate_ephemeral_storage_kms_key_id,
});
raw_struct!(ecs::ExecuteCommandLogConfiguration {
    "cloudWatchLogGroupName" => cloud_watch_log_group_name,
    "cloudWatchEncryptionEnabled" => cloud_watch_encryption_enabled,
    "s3BucketName" => s3_bucket_name,
    "s3EncryptionEnabled" => s3_encryption_enabled,
    "s3KeyPrefix" => s3_key_prefix,
});
raw_enum!(ecs::ClusterSettingName, ecs::ExecuteCommandLogging);
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inactive_clusters_do_not_exist() {
        let with_status = |s: &str| ecs::Cluster::builder().status(s).build();
        assert!(!exists(&with_status("INACTIVE")));
        assert!(exists(&with_status("ACTIVE")));
        assert!(exists(&with_status("PROVISIONING")));
        assert!(exists(&ecs::Cluster::builder().build()));
    }
    use crate::kinds::raw::{assert_covers_all_fields, debug_field_names, RawFields};
    use serde_json::json;

    fn base_extra() -> Map<String, Value> {
        let Value::Object(map) = json!({"AccountId": "123456789012", "Region": "eu-west-1"}) else {
            unreachable!()
        };
        map
    }

    fn tag(key: &str, value: &str) -> ecs::Tag {
        ecs::Tag::builder().key(key).value(value).build()
    }

    #[test]
    fn reproduces_the_aws_v3_example() {
        let cluster = ecs::Cluster::builder()
            .cluster_name("my-production-cluster")
            .cluster_arn("arn:aws:ecs:eu-west-1:123456789012:cluster/my-cluster")
            .capacity_providers("FARGATE")
            .capacity_providers("FARGATE_SPOT")
            .set_settings(Some(vec![]))
            .set_default_capacity_provider_strategy(Some(vec![]))
            .tags(tag("Environment", "production"))
            .tags(tag("Team", "platform"))
            .tags(tag("CostCenter", "engineering"))
            .status("ACTIVE")
            .running_tasks_count(12)
            .active_services_count(5)
            .pending_tasks_count(2)
            .registered_container_instances_count(8)
            .build();
        // aws-v3's example also has `"Configuration": null` and `"ServiceConnectDefaults": null`
        // (pydantic defaults); here fields the API left out are absent, which JQ reads as null too.
        assert_eq!(
            cluster_to_raw(base_extra(), &cluster),
            json!({
                "Type": "AWS::ECS::Cluster",
                "Properties": {
                    "ClusterName": "my-production-cluster",
                    "ClusterArn": "arn:aws:ecs:eu-west-1:123456789012:cluster/my-cluster",
                    "CapacityProviders": ["FARGATE", "FARGATE_SPOT"],
                    "ClusterSettings": [],
                    "DefaultCapacityProviderStrategy": [],
                    "Tags": [
                        {"key": "Environment", "value": "production"},
                        {"key": "Team", "value": "platform"},
                        {"key": "CostCenter", "value": "engineering"}
                    ],
                    "Status": "ACTIVE",
                    "RunningTasksCount": 12,
                    "ActiveServicesCount": 5,
                    "PendingTasksCount": 2,
                    "RegisteredContainerInstancesCount": 8
                },
                "__ExtraContext": {"AccountId": "123456789012", "Region": "eu-west-1"}
            })
        );
    }

    #[test]
    fn nested_objects_keep_the_api_camel_case() {
        let cluster = ecs::Cluster::builder()
            .cluster_name("c")
            .settings(
                ecs::ClusterSetting::builder()
                    .name(ecs::ClusterSettingName::ContainerInsights)
                    .value("enhanced")
                    .build(),
            )
            .statistics(
                ecs::KeyValuePair::builder()
                    .name("runningEC2TasksCount")
                    .value("0")
                    .build(),
            )
            .attachments(
                ecs::Attachment::builder()
                    .id("att-1")
                    .r#type("as_policy")
                    .status("CREATED")
                    .details(
                        ecs::KeyValuePair::builder()
                            .name("capacityProviderName")
                            .value("cp")
                            .build(),
                    )
                    .build(),
            )
            .attachments_status("UPDATE_COMPLETE")
            .default_capacity_provider_strategy(
                ecs::CapacityProviderStrategyItem::builder()
                    .capacity_provider("FARGATE")
                    .weight(1)
                    .build()
                    .unwrap(),
            )
            .configuration(
                ecs::ClusterConfiguration::builder()
                    .execute_command_configuration(
                        ecs::ExecuteCommandConfiguration::builder()
                            .logging(ecs::ExecuteCommandLogging::Override)
                            .log_configuration(
                                ecs::ExecuteCommandLogConfiguration::builder()
                                    .cloud_watch_log_group_name("/ecs/exec")
                                    .cloud_watch_encryption_enabled(true)
                                    .s3_bucket_name("logs")
                                    .build(),
                            )
                            .build(),
                    )
                    .managed_storage_configuration(
                        ecs::ManagedStorageConfiguration::builder()
                            .fargate_ephemeral_storage_kms_key_id("key-1")
                            .build(),
                    )
                    .build(),
            )
            .service_connect_defaults(
                ecs::ClusterServiceConnectDefaults::builder()
                    .namespace("arn:aws:servicediscovery:eu-west-1:123456789012:namespace/ns-1")
                    .build(),
            )
            .build();
        assert_eq!(
            cluster_to_raw(base_extra(), &cluster)["Properties"],
            json!({
                "ClusterName": "c",
                "ClusterSettings": [{"name": "containerInsights", "value": "enhanced"}],
                "Statistics": [{"name": "runningEC2TasksCount", "value": "0"}],
                "Attachments": [{
                    "id": "att-1",
                    "type": "as_policy",
                    "status": "CREATED",
                    "details": [{"name": "capacityProviderName", "value": "cp"}]
                }],
                "AttachmentsStatus": "UPDATE_COMPLETE",
                "DefaultCapacityProviderStrategy": [
                    {"capacityProvider": "FARGATE", "weight": 1, "base": 0}
                ],
                "Configuration": {
                    "executeCommandConfiguration": {
                        "logging": "OVERRIDE",
                        "logConfiguration": {
                            "cloudWatchLogGroupName": "/ecs/exec",
                            "cloudWatchEncryptionEnabled": true,
                            "s3BucketName": "logs",
                            "s3EncryptionEnabled": false
                        }
                    },
                    "managedStorageConfiguration": {"fargateEphemeralStorageKmsKeyId": "key-1"}
                },
                "ServiceConnectDefaults": {
                    "namespace": "arn:aws:servicediscovery:eu-west-1:123456789012:namespace/ns-1"
                },
                "RunningTasksCount": 0,
                "ActiveServicesCount": 0,
                "PendingTasksCount": 0,
                "RegisteredContainerInstancesCount": 0
            })
        );
    }

    #[test]
    fn failures_become_readable_warnings() {
        let failure = ecs::Failure::builder()
            .arn("arn:aws:ecs:eu-west-1:123456789012:cluster/gone")
            .reason("MISSING")
            .build();
        assert_eq!(
            failure_warning(&failure),
            "DescribeClusters failed for arn:aws:ecs:eu-west-1:123456789012:cluster/gone: MISSING"
        );
        let failure = ecs::Failure::builder()
            .reason("ACCESS_DENIED")
            .detail("no")
            .build();
        assert_eq!(
            failure_warning(&failure),
            "DescribeClusters failed for an unknown cluster: ACCESS_DENIED (no)"
        );
    }

    /// `Attachment.type` is the raw identifier `r#type`, which `Debug` prints as `type`; compare
    /// without the `r#` prefix.
    #[test]
    fn attachment_covers_all_fields() {
        let debug = format!("{:?}", ecs::Attachment::builder().build());
        let fields: Vec<&str> = <ecs::Attachment as RawFields>::FIELDS
            .iter()
            .map(|f| f.trim_start_matches("r#"))
            .collect();
        assert_eq!(debug_field_names(&debug), fields);
    }

    /// One test per converted SDK structure: the conversion reads every field the type has.
    macro_rules! covers_all_fields {
        ($($test:ident: $value:expr),* $(,)?) => {
            mod covers_all_fields {
                use super::*;
                $(
                    #[test]
                    fn $test() {
                        assert_covers_all_fields(&$value);
                    }
                )*
            }
        };
    }

    covers_all_fields! {
        cluster: ecs::Cluster::builder().build(),
        cluster_configuration: ecs::ClusterConfiguration::builder().build(),
        key_value_pair: ecs::KeyValuePair::builder().build(),
        tag: ecs::Tag::builder().build(),
        cluster_setting: ecs::ClusterSetting::builder().build(),
        capacity_provider_strategy_item: ecs::CapacityProviderStrategyItem::builder()
            .capacity_provider("FARGATE")
            .build()
            .unwrap(),
        cluster_service_connect_defaults: ecs::ClusterServiceConnectDefaults::builder().build(),
        execute_command_configuration: ecs::ExecuteCommandConfiguration::builder().build(),
        managed_storage_configuration: ecs::ManagedStorageConfiguration::builder().build(),
        execute_command_log_configuration: ecs::ExecuteCommandLogConfiguration::builder().build(),
    }
}

#[cfg(test)]
mod fetch_tests {
    use super::*;
    use crate::kinds::s3_bucket::fake_aws::{fetch_pages, FakeAws, Request, Response};
    use serde_json::json;
    use std::collections::BTreeSet;

    const JSON: &str = "application/x-amz-json-1.1";

    fn arn(name: &str) -> String {
        format!("arn:aws:ecs:eu-west-1:123456789012:cluster/{name}")
    }

    /// 150 clusters over two `ListClusters` pages; `c007` was deleted before `DescribeClusters`.
    fn handler(request: &Request) -> Response {
        let target = request.header("x-amz-target").unwrap_or_default();
        let body: Value = serde_json::from_str(&request.body).unwrap_or(Value::Null);
        if target.ends_with(".ListClusters") {
            let (range, next) = match body.get("nextToken") {
                None => (0..100, json!("page-2")),
                Some(_) => (100..150, Value::Null),
            };
            let arns: Vec<String> = range.map(|i| arn(&format!("c{i:03}"))).collect();
            let mut page = json!({"clusterArns": arns});
            if !next.is_null() {
                page["nextToken"] = next;
            }
            (200, JSON, page.to_string())
        } else if target.ends_with(".DescribeClusters") {
            let mut clusters = Vec::new();
            let mut failures = Vec::new();
            for arn in body["clusters"].as_array().into_iter().flatten() {
                let arn = arn.as_str().unwrap_or_default();
                if arn.ends_with("/c007") {
                    failures.push(json!({"arn": arn, "reason": "MISSING"}));
                    continue;
                }
                clusters.push(json!({
                    "clusterArn": arn,
                    "clusterName": arn.rsplit('/').next(),
                    "status": "ACTIVE",
                    "registeredContainerInstancesCount": 0,
                    "runningTasksCount": 3,
                    "pendingTasksCount": 0,
                    "activeServicesCount": 1,
                    "statistics": [],
                    "tags": [{"key": "team", "value": "platform"}],
                    "settings": [{"name": "containerInsights", "value": "disabled"}],
                    "capacityProviders": [],
                    "defaultCapacityProviderStrategy": []
                }));
            }
            let page = json!({"clusters": clusters, "failures": failures});
            (200, JSON, page.to_string())
        } else {
            let error = json!({"__type": "InvalidParameterException", "message": "test"});
            (400, JSON, error.to_string())
        }
    }

    async fn run(server: &FakeAws) -> (Result<FetchStats, FetchError>, Vec<Vec<Value>>) {
        let sdk = server.sdk_config("eu-west-1");
        let actions = BTreeSet::new();
        let allowed = |_: &str| true;
        let ctx = FetchContext {
            account_id: "123456789012",
            partition: "aws",
            region: "eu-west-1",
            sdk: &sdk,
            actions: &actions,
            region_allowed: &allowed,
            concurrency: 4,
        };
        fetch_pages(crate::kinds::Kind::EcsCluster, &ctx).await
    }

    #[tokio::test]
    async fn describes_each_list_page_with_every_include() {
        let server = FakeAws::start(handler);
        let (result, pages) = run(&server).await;
        let stats = result.unwrap();
        assert_eq!(stats.objects, 149);
        assert_eq!(stats.api_calls, 4);
        assert_eq!(
            stats.warnings,
            [format!(
                "DescribeClusters failed for {}: MISSING",
                arn("c007")
            )]
        );
        assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [99, 50]);
        assert_eq!(
            pages[0][0],
            json!({
                "Type": "AWS::ECS::Cluster",
                "Properties": {
                    "ClusterArn": arn("c000"),
                    "ClusterName": "c000",
                    "Status": "ACTIVE",
                    "RegisteredContainerInstancesCount": 0,
                    "RunningTasksCount": 3,
                    "PendingTasksCount": 0,
                    "ActiveServicesCount": 1,
                    "Statistics": [],
                    "Tags": [{"key": "team", "value": "platform"}],
                    "ClusterSettings": [{"name": "containerInsights", "value": "disabled"}],
                    "CapacityProviders": [],
                    "DefaultCapacityProviderStrategy": []
                },
                "__ExtraContext": {"AccountId": "123456789012", "Region": "eu-west-1", "Partition": "aws"}
            })
        );
        let requests = server.requests();
        let list: Value = serde_json::from_str(&requests[0].body).unwrap();
        assert_eq!(list["maxResults"], json!(100));
        let describe: Value = serde_json::from_str(&requests[1].body).unwrap();
        assert_eq!(describe["clusters"].as_array().map(Vec::len), Some(100));
        assert_eq!(
            describe["include"],
            json!([
                "TAGS",
                "SETTINGS",
                "STATISTICS",
                "CONFIGURATIONS",
                "ATTACHMENTS"
            ])
        );
    }

    #[tokio::test]
    async fn a_failing_describe_fails_the_fetch() {
        let server = FakeAws::start(|request: &Request| {
            if request
                .header("x-amz-target")
                .unwrap_or_default()
                .ends_with(".DescribeClusters")
            {
                let error = json!({"__type": "AccessDeniedException", "message": "no"});
                (400, JSON, error.to_string())
            } else {
                handler(request)
            }
        });
        let (result, pages) = run(&server).await;
        match result {
            Err(FetchError::Aws {
                operation, code, ..
            }) => {
                assert_eq!(operation, "DescribeClusters");
                assert_eq!(code.as_deref(), Some("AccessDeniedException"));
            }
            other => panic!("expected a DescribeClusters failure, got {other:?}"),
        }
        assert!(pages.is_empty());
    }
}
