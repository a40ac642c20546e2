//! `AWS::EC2::Instance` (regional): `DescribeInstances`, one raw object per instance; with
//! `DescribeInstanceStatusAction`, the instance's `DescribeInstanceStatus` entry merged into its
//! properties as aws-v3 does (`InstanceStatus`, `SystemStatus`, `Events`, ... as top-level keys).
//!
//! `Properties` is the API's `Instance` with boto3's (PascalCase) names; `__ExtraContext` adds the
//! reservation's `ReservationId`, `OwnerId`, `RequesterId` and `Groups`, as aws-v3 does.

use super::raw::ToRaw;
use super::{
    extra_context, raw_object, send_page, FetchContext, FetchError, FetchStats, Kind,
    OptionalAction, PageSender,
};
use crate::{raw_enum, raw_struct};
use aws_sdk_ec2::types as ec2;
use serde_json::{Map, Value};
use std::collections::HashMap;

/// aws-v3's name for the optional `DescribeInstanceStatus` call.
pub const DESCRIBE_INSTANCE_STATUS_ACTION: &str = "DescribeInstanceStatusAction";

/// The optional calls of this kind (aws-v3 `includeActions`).
pub const OPTIONAL_ACTIONS: &[OptionalAction] = &[OptionalAction {
    name: DESCRIBE_INSTANCE_STATUS_ACTION,
    iam_action: "ec2:DescribeInstanceStatus",
}];

/// `DescribeInstances` page size. Passing `MaxResults` makes the call paginated, so it draws from
/// EC2's larger non-mutating throttling bucket (100 burst, 20/s) instead of the 50/10 bucket of
/// unfiltered, unpaginated calls.
const DESCRIBE_INSTANCES_PAGE: i32 = 1000;

/// `DescribeInstanceStatus` accepts at most 100 explicit instance ids per request (and no
/// `MaxResults` together with them).
const STATUS_BATCH: usize = 100;

/// Fetches every instance of the unit's region and sends one page of raw objects per
/// `DescribeInstances` page.
pub async fn fetch(ctx: &FetchContext<'_>, pages: &PageSender) -> Result<FetchStats, FetchError> {
    let client = aws_sdk_ec2::Client::new(ctx.sdk);
    let with_status = ctx.wants(DESCRIBE_INSTANCE_STATUS_ACTION);
    let mut stats = FetchStats::default();
    let mut stream = client
        .describe_instances()
        .max_results(DESCRIBE_INSTANCES_PAGE)
        .into_paginator()
        .send();
    while let Some(page) = stream.next().await {
        stats.api_calls += 1;
        let reservations = page
            .map_err(|e| FetchError::aws("DescribeInstances", e))?
            .reservations
            .unwrap_or_default();
        let statuses = if with_status {
            let ids: Vec<String> = reservations
                .iter()
                .flat_map(|r| r.instances.iter().flatten())
                .filter(|i| exists(i))
                .filter_map(|i| i.instance_id.clone())
                .collect();
            describe_statuses(&client, &ids, &mut stats).await?
        } else {
            HashMap::new()
        };
        let base = extra_context(ctx, ctx.region);
        let mut objects = Vec::new();
        for reservation in &reservations {
            for instance in reservation.instances.iter().flatten().filter(|i| exists(i)) {
                let status = instance
                    .instance_id
                    .as_deref()
                    .and_then(|id| statuses.get(id));
                objects.push(instance_to_raw(base.clone(), reservation, instance, status));
            }
        }
        tracing::debug!(
            region = ctx.region,
            count = objects.len(),
            "EC2 instances page"
        );
        stats.objects += objects.len();
        send_page(pages, objects).await?;
    }
    Ok(stats)
}

/// Whether an instance still exists: terminated instances stay listed for a while (about an
/// hour in AWS, for ever in moto) but are gone, so their entities must leave the catalog.
pub fn exists(instance: &ec2::Instance) -> bool {
    !matches!(
        instance.state.as_ref().and_then(|s| s.name.as_ref()),
        Some(ec2::InstanceStateName::Terminated)
    )
}

/// `DescribeInstanceStatus` for one page's instances (`IncludeAllInstances`, so stopped
/// instances are reported too), keyed by instance id.
async fn describe_statuses(
    client: &aws_sdk_ec2::Client,
    ids: &[String],
    stats: &mut FetchStats,
) -> Result<HashMap<String, ec2::InstanceStatus>, FetchError> {
    let mut statuses = HashMap::with_capacity(ids.len());
    for batch in ids.chunks(STATUS_BATCH) {
        let mut stream = client
            .describe_instance_status()
            .set_instance_ids(Some(batch.to_vec()))
            .include_all_instances(true)
            .into_paginator()
            .send();
        while let Some(page) = stream.next().await {
            stats.api_calls += 1;
            let page = page.map_err(|e| FetchError::aws("DescribeInstanceStatus", e))?;
            for status in page.instance_statuses.unwrap_or_default() {
                if let Some(id) = status.instance_id.clone() {
                    statuses.insert(id, status);
                }
            }
        }
    }
    Ok(statuses)
}

/// The raw object of one instance. `extra` is the unit's [`extra_context`]; the reservation's
/// fields are added to it. `status` is the instance's `DescribeInstanceStatus` entry when the
/// optional action ran.
pub fn instance_to_raw(
    mut extra: Map<String, Value>,
    reservation: &ec2::Reservation,
    instance: &ec2::Instance,
    status: Option<&ec2::InstanceStatus>,
) -> Value {
    let mut properties = match instance.to_raw() {
        Some(Value::Object(map)) => map,
        _ => Map::new(),
    };
    if let Some(Value::Object(status)) = status.and_then(ToRaw::to_raw) {
        // aws-v3 merges the `InstanceStatuses[]` item into the properties (its ResourceInspector
        // does `properties |= status`), so existing mappings read `.Properties.InstanceStatus.Status`,
        // `.Properties.SystemStatus.Status`, `.Properties.Events`, `.Properties.InstanceState`.
        properties.extend(status);
    }
    add_reservation_context(&mut extra, reservation);
    raw_object(Kind::Ec2Instance, Value::Object(properties), extra)
}

/// Adds the reservation's own fields (everything but `Instances`) to `__ExtraContext`, with the
/// API's names, as aws-v3 does (`{**reservation}` without `Instances`).
fn add_reservation_context(extra: &mut Map<String, Value>, reservation: &ec2::Reservation) {
    let fields = [
        ("ReservationId", reservation.reservation_id.to_raw()),
        ("OwnerId", reservation.owner_id.to_raw()),
        ("RequesterId", reservation.requester_id.to_raw()),
        ("Groups", reservation.groups.to_raw()),
    ];
    for (key, value) in fields {
        if let Some(value) = value {
            extra.insert(key.to_owned(), value);
        }
    }
}

// Conversions of every SDK type the raw object contains, with boto3's (Smithy member) names as
// read from the SDK's XML deserializers (`protocol_serde/shape_*.rs`).
raw_struct!(ec2::Instance {
    "Architecture" => architecture,
    "BlockDeviceMappings" => block_device_mappings,
    "ClientToken" => client_token,
    "EbsOptimized" => ebs_optimized,
    "EnaSupport" => ena_support,
    "Hypervisor" => hypervisor,
    "IamInstanceProfile" => iam_instance_profile,
    "InstanceLifecycle" => instance_lifecycle,
    "ElasticGpuAssociations" => elastic_gpu_associations,
    "ElasticInferenceAcceleratorAssociations" => elastic_inference_accelerator_associations,
    "NetworkInterfaces" => network_interfaces,
    "OutpostArn" => outpost_arn,
    "RootDeviceName" => root_device_name,
    "RootDeviceType" => root_device_type,
    "SecurityGroups" => security_groups,
    "SourceDestCheck" => source_dest_check,
    "SpotInstanceRequestId" => spot_instance_request_id,
    "SriovNetSupport" => sriov_net_support,
    "StateReason" => state_reason,
    "Tags" => tags,
    "VirtualizationType" => virtualization_type,
    "CpuOptions" => cpu_options,
    "CapacityBlockId" => capacity_block_id,
    "CapacityReservationId" => capacity_reservation_id,
    "CapacityReservationSpecification" => capacity_reservation_specification,
    "HibernationOptions" => hibernation_options,
    "Licenses" => licenses,
    "MetadataOptions" => metadata_options,
    "EnclaveOptions" => enclave_options,
    "BootMode" => boot_mode,
    "PlatformDetails" => platform_details,
    "UsageOperation" => usage_operation,
    "UsageOperationUpdateTime" => usage_operation_update_time,
    "PrivateDnsNameOptions" => private_dns_name_options,
    "Ipv6Address" => ipv6_address,
    "TpmSupport" => tpm_support,
    "MaintenanceOptions" => maintenance_options,
    "CurrentInstanceBootMode" => current_instance_boot_mode,
    "NetworkPerformanceOptions" => network_performance_options,
    "Operator" => operator,
    "SecondaryInterfaces" => secondary_interfaces,
    "InstanceId" => instance_id,
    "ImageId" => image_id,
    "State" => state,
    "PrivateDnsName" => private_dns_name,
    "PublicDnsName" => public_dns_name,
    "StateTransitionReason" => state_transition_reason,
    "KeyName" => key_name,
    "AmiLaunchIndex" => ami_launch_index,
    "ProductCodes" => product_codes,
    "InstanceType" => instance_type,
    "LaunchTime" => launch_time,
    "Placement" => placement,
    "KernelId" => kernel_id,
    "RamdiskId" => ramdisk_id,
    "Platform" => platform,
    "Monitoring" => monitoring,
    "SubnetId" => subnet_id,
    "VpcId" => vpc_id,
    "PrivateIpAddress" => private_ip_address,
    "PublicIpAddress" => public_ip_address,
});
raw_struct!(ec2::InstanceStatus {
    "AvailabilityZone" => availability_zone,
    "AvailabilityZoneId" => availability_zone_id,
    "OutpostArn" => outpost_arn,
    "Operator" => operator,
    "Events" => events,
    "InstanceId" => instance_id,
    "InstanceState" => instance_state,
    "InstanceStatus" => instance_status,
    "SystemStatus" => system_status,
    "AttachedEbsStatus" => attached_ebs_status,
    "ApplicationStatus" => application_status,
    "PerformanceStatus" => performance_status,
});
raw_struct!(ec2::GroupIdentifier {
    "GroupId" => group_id,
    "GroupName" => group_name,
});
raw_struct!(ec2::InstanceBlockDeviceMapping {
    "DeviceName" => device_name,
    "Ebs" => ebs,
});
raw_struct!(ec2::IamInstanceProfile {
    "Arn" => arn,
    "Id" => id,
});
raw_struct!(ec2::ElasticGpuAssociation {
    "ElasticGpuId" => elastic_gpu_id,
    "ElasticGpuAssociationId" => elastic_gpu_association_id,
    "ElasticGpuAssociationState" => elastic_gpu_association_state,
    "ElasticGpuAssociationTime" => elastic_gpu_association_time,
});
raw_struct!(ec2::ElasticInferenceAcceleratorAssociation {
    "ElasticInferenceAcceleratorArn" => elastic_inference_accelerator_arn,
    "ElasticInferenceAcceleratorAssociationId" => elastic_inference_accelerator_association_id,
    "ElasticInferenceAcceleratorAssociationState" => elastic_inference_accelerator_association_state,
    "ElasticInferenceAcceleratorAssociationTime" => elastic_inference_accelerator_association_time,
});
raw_struct!(ec2::InstanceNetworkInterface {
    "Association" => association,
    "Attachment" => attachment,
    "Description" => description,
    "Groups" => groups,
    "Ipv6Addresses" => ipv6_addresses,
    "MacAddress" => mac_address,
    "NetworkInterfaceId" => network_interface_id,
    "OwnerId" => owner_id,
    "PrivateDnsName" => private_dns_name,
    "PrivateIpAddress" => private_ip_address,
    "PrivateIpAddresses" => private_ip_addresses,
    "SourceDestCheck" => source_dest_check,
    "Status" => status,
    "SubnetId" => subnet_id,
    "VpcId" => vpc_id,
    "InterfaceType" => interface_type,
    "Ipv4Prefixes" => ipv4_prefixes,
    "Ipv6Prefixes" => ipv6_prefixes,
    "ConnectionTrackingConfiguration" => connection_tracking_configuration,
    "Operator" => operator,
});
raw_struct!(ec2::StateReason {
    "Code" => code,
    "Message" => message,
});
raw_struct!(ec2::Tag {
    "Key" => key,
    "Value" => value,
});
raw_struct!(ec2::CpuOptions {
    "CoreCount" => core_count,
    "ThreadsPerCore" => threads_per_core,
    "AmdSevSnp" => amd_sev_snp,
    "NestedVirtualization" => nested_virtualization,
});
raw_struct!(ec2::CapacityReservationSpecificationResponse {
    "CapacityReservationPreference" => capacity_reservation_preference,
    "CapacityReservationTarget" => capacity_reservation_target,
});
raw_struct!(ec2::HibernationOptions {
    "Configured" => configured,
});
raw_struct!(ec2::LicenseConfiguration {
    "LicenseConfigurationArn" => license_configuration_arn,
});
raw_struct!(ec2::InstanceMetadataOptionsResponse {
    "State" => state,
    "HttpTokens" => http_tokens,
    "HttpPutResponseHopLimit" => http_put_response_hop_limit,
    "HttpEndpoint" => http_endpoint,
    "HttpProtocolIpv6" => http_protocol_ipv6,
    "InstanceMetadataTags" => instance_metadata_tags,
});
raw_struct!(ec2::EnclaveOptions {
    "Enabled" => enabled,
});
raw_struct!(ec2::PrivateDnsNameOptionsResponse {
    "HostnameType" => hostname_type,
    "EnableResourceNameDnsARecord" => enable_resource_name_dns_a_record,
    "EnableResourceNameDnsAAAARecord" => enable_resource_name_dns_aaaa_record,
});
raw_struct!(ec2::InstanceMaintenanceOptions {
    "AutoRecovery" => auto_recovery,
    "RebootMigration" => reboot_migration,
});
raw_struct!(ec2::InstanceNetworkPerformanceOptions {
    "BandwidthWeighting" => bandwidth_weighting,
});
raw_struct!(ec2::OperatorResponse {
    "Managed" => managed,
    "Principal" => principal,
    "HiddenByDefault" => hidden_by_default,
});
raw_struct!(ec2::InstanceSecondaryInterface {
    "Attachment" => attachment,
    "MacAddress" => mac_address,
    "SecondaryInterfaceId" => secondary_interface_id,
    "OwnerId" => owner_id,
    "PrivateIpAddresses" => private_ip_addresses,
    "SourceDestCheck" => source_dest_check,
    "Status" => status,
    "SecondarySubnetId" => secondary_subnet_id,
    "SecondaryNetworkId" => secondary_network_id,
    "InterfaceType" => interface_type,
});
raw_struct!(ec2::InstanceState {
    "Code" => code,
    "Name" => name,
});
raw_struct!(ec2::ProductCode {
    "ProductCodeId" => product_code_id,
    "ProductCodeType" => product_code_type,
});
raw_struct!(ec2::Placement {
    "AvailabilityZoneId" => availability_zone_id,
    "Affinity" => affinity,
    "GroupName" => group_name,
    "PartitionNumber" => partition_number,
    "HostId" => host_id,
    "Tenancy" => tenancy,
    "SpreadDomain" => spread_domain,
    "HostResourceGroupArn" => host_resource_group_arn,
    "GroupId" => group_id,
    "AvailabilityZone" => availability_zone,
});
raw_struct!(ec2::Monitoring {
    "State" => state,
});
raw_struct!(ec2::InstanceStatusEvent {
    "InstanceEventId" => instance_event_id,
    "Code" => code,
    "Description" => description,
    "NotAfter" => not_after,
    "NotBefore" => not_before,
    "NotBeforeDeadline" => not_before_deadline,
});
raw_struct!(ec2::InstanceStatusSummary {
    "Details" => details,
    "Status" => status,
});
raw_struct!(ec2::EbsStatusSummary {
    "Details" => details,
    "Status" => status,
});
raw_struct!(ec2::ApplicationStatusSummary {
    "Status" => status,
    "ImpairedSince" => impaired_since,
});
raw_struct!(ec2::PerformanceStatusSummary {
    "Status" => status,
    "ImpairedSince" => impaired_since,
    "Remediation" => remediation,
});
raw_struct!(ec2::EbsInstanceBlockDevice {
    "AttachTime" => attach_time,
    "DeleteOnTermination" => delete_on_termination,
    "Status" => status,
    "VolumeId" => volume_id,
    "AssociatedResource" => associated_resource,
    "VolumeOwnerId" => volume_owner_id,
    "Operator" => operator,
    "EbsCardIndex" => ebs_card_index,
});
raw_struct!(ec2::InstanceNetworkInterfaceAssociation {
    "CarrierIp" => carrier_ip,
    "CustomerOwnedIp" => customer_owned_ip,
    "IpOwnerId" => ip_owner_id,
    "PublicDnsName" => public_dns_name,
    "PublicIp" => public_ip,
});
raw_struct!(ec2::InstanceNetworkInterfaceAttachment {
    "AttachTime" => attach_time,
    "AttachmentId" => attachment_id,
    "DeleteOnTermination" => delete_on_termination,
    "DeviceIndex" => device_index,
    "Status" => status,
    "NetworkCardIndex" => network_card_index,
    "EnaSrdSpecification" => ena_srd_specification,
    "EnaQueueCount" => ena_queue_count,
});
raw_struct!(ec2::InstanceIpv6Address {
    "Ipv6Address" => ipv6_address,
    "IsPrimaryIpv6" => is_primary_ipv6,
});
raw_struct!(ec2::InstancePrivateIpAddress {
    "Association" => association,
    "Primary" => primary,
    "PrivateDnsName" => private_dns_name,
    "PrivateIpAddress" => private_ip_address,
});
raw_struct!(ec2::InstanceIpv4Prefix {
    "Ipv4Prefix" => ipv4_prefix,
});
raw_struct!(ec2::InstanceIpv6Prefix {
    "Ipv6Prefix" => ipv6_prefix,
});
raw_struct!(ec2::ConnectionTrackingSpecificationResponse {
    "TcpEstablishedTimeout" => tcp_established_timeout,
    "UdpStreamTimeout" => udp_stream_timeout,
    "UdpTimeout" => udp_timeout,
});
raw_struct!(ec2::CapacityReservationTargetResponse {
    "CapacityReservationId" => capacity_reservation_id,
    "CapacityReservationResourceGroupArn" => capacity_reservation_resource_group_arn,
});
raw_struct!(ec2::InstanceSecondaryInterfaceAttachment {
    "AttachTime" => attach_time,
    "AttachmentId" => attachment_id,
    "DeleteOnTermination" => delete_on_termination,
    "DeviceIndex" => device_index,
    "Status" => status,
    "NetworkCardIndex" => network_card_index,
});
raw_struct!(ec2::InstanceSecondaryInterfacePrivateIpAddress {
    "PrivateIpAddress" => private_ip_address,
});
raw_struct!(ec2::InstanceStatusDetails {
    "ImpairedSince" => impaired_since,
    "Name" => name,
    "Status" => status,
});
raw_struct!(ec2::EbsStatusDetails {
    "ImpairedSince" => impaired_since,
    "Name" => name,
    "Status" => status,
});
raw_struct!(ec2::InstanceAttachmentEnaSrdSpecification {
    "EnaSrdEnabled" => ena_srd_enabled,
    "EnaSrdUdpSpecification" => ena_srd_udp_specification,
});
raw_struct!(ec2::InstanceAttachmentEnaSrdUdpSpecification {
    "EnaSrdUdpEnabled" => ena_srd_udp_enabled,
});
raw_enum!(
    ec2::AmdSevSnpSpecification,
    ec2::ArchitectureValues,
    ec2::AttachmentStatus,
    ec2::BootModeValues,
    ec2::CapacityReservationPreference,
    ec2::DeviceType,
    ec2::EventCode,
    ec2::HostnameType,
    ec2::HttpTokensState,
    ec2::HypervisorType,
    ec2::InstanceAutoRecoveryState,
    ec2::InstanceBandwidthWeighting,
    ec2::InstanceBootModeValues,
    ec2::InstanceLifecycleType,
    ec2::InstanceMetadataEndpointState,
    ec2::InstanceMetadataOptionsState,
    ec2::InstanceMetadataProtocolState,
    ec2::InstanceMetadataTagsState,
    ec2::InstanceRebootMigrationState,
    ec2::InstanceStateName,
    ec2::InstanceType,
    ec2::MonitoringState,
    ec2::NestedVirtualizationSpecification,
    ec2::NetworkInterfaceStatus,
    ec2::PlatformValues,
    ec2::ProductCodeValues,
    ec2::SecondaryInterfaceStatus,
    ec2::SecondaryInterfaceType,
    ec2::StatusName,
    ec2::StatusType,
    ec2::SummaryStatus,
    ec2::Tenancy,
    ec2::VirtualizationType
);
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminated_instances_do_not_exist() {
        let with_state = |name: ec2::InstanceStateName| {
            ec2::Instance::builder()
                .state(ec2::InstanceState::builder().name(name).build())
                .build()
        };
        assert!(!exists(&with_state(ec2::InstanceStateName::Terminated)));
        assert!(exists(&with_state(ec2::InstanceStateName::ShuttingDown)));
        assert!(exists(&with_state(ec2::InstanceStateName::Stopped)));
        assert!(exists(&ec2::Instance::builder().build()));
    }
    use crate::kinds::raw::{assert_covers_all_fields, debug_field_names};
    use aws_sdk_ec2::primitives::DateTime;
    use serde_json::json;

    fn base_extra() -> Map<String, Value> {
        let Value::Object(map) = json!({"AccountId": "123456789012", "Region": "us-east-1"}) else {
            unreachable!()
        };
        map
    }

    fn tag(key: &str, value: &str) -> ec2::Tag {
        ec2::Tag::builder().key(key).value(value).build()
    }

    /// The instance of aws-v3's `ec2-instance-raw-data.json`.
    fn example_instance() -> ec2::Instance {
        ec2::Instance::builder()
            .instance_id("i-0a1b2c3d4e5f67890")
            .instance_type(ec2::InstanceType::T3Medium)
            .state(
                ec2::InstanceState::builder()
                    .code(16)
                    .name(ec2::InstanceStateName::Running)
                    .build(),
            )
            .public_ip_address("54.123.45.67")
            .private_ip_address("10.0.1.100")
            .image_id("ami-0abcdef1234567890")
            .subnet_id("subnet-12345678901234567")
            .vpc_id("vpc-12345678901234567")
            .launch_time(DateTime::from_secs(1_710_491_400))
            .platform(ec2::PlatformValues::from("Linux/UNIX"))
            .architecture(ec2::ArchitectureValues::X8664)
            .key_name("my-key-pair")
            .placement(
                ec2::Placement::builder()
                    .availability_zone("us-east-1a")
                    .tenancy(ec2::Tenancy::Default)
                    .build(),
            )
            .monitoring(
                ec2::Monitoring::builder()
                    .state(ec2::MonitoringState::Disabled)
                    .build(),
            )
            .security_groups(
                ec2::GroupIdentifier::builder()
                    .group_id("sg-12345678901234567")
                    .group_name("my-security-group")
                    .build(),
            )
            .tags(tag("Name", "my-production-server"))
            .tags(tag("Environment", "production"))
            .tags(tag("Team", "backend"))
            .build()
    }

    #[test]
    fn reproduces_the_aws_v3_example_with_reservation_context() {
        let reservation = ec2::Reservation::builder()
            .reservation_id("r-0123456789abcdef0")
            .owner_id("123456789012")
            .groups(
                ec2::GroupIdentifier::builder()
                    .group_name("legacy")
                    .group_id("sg-0000")
                    .build(),
            )
            .build();
        let raw = instance_to_raw(base_extra(), &reservation, &example_instance(), None);
        assert_eq!(
            raw,
            json!({
                "Type": "AWS::EC2::Instance",
                "Properties": {
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
                },
                "__ExtraContext": {
                    "AccountId": "123456789012",
                    "Region": "us-east-1",
                    "ReservationId": "r-0123456789abcdef0",
                    "OwnerId": "123456789012",
                    "Groups": [{"GroupName": "legacy", "GroupId": "sg-0000"}]
                }
            })
        );
    }

    #[test]
    fn leaves_out_absent_fields_and_keeps_empty_lists() {
        let instance = ec2::Instance::builder()
            .instance_id("i-1")
            .set_tags(Some(vec![]))
            .set_network_interfaces(Some(vec![]))
            .build();
        let reservation = ec2::Reservation::builder().build();
        let raw = instance_to_raw(base_extra(), &reservation, &instance, None);
        assert_eq!(
            raw["Properties"],
            json!({"InstanceId": "i-1", "Tags": [], "NetworkInterfaces": []})
        );
        assert_eq!(
            raw["__ExtraContext"],
            json!({"AccountId": "123456789012", "Region": "us-east-1"})
        );
    }

    #[test]
    fn nested_structures_keep_boto3_names() {
        let instance = ec2::Instance::builder()
            .instance_id("i-2")
            .public_dns_name("ec2-54-1-2-3.compute-1.amazonaws.com")
            .state_transition_reason("")
            .ipv6_address("2600:1f18::1")
            .block_device_mappings(
                ec2::InstanceBlockDeviceMapping::builder()
                    .device_name("/dev/xvda")
                    .ebs(
                        ec2::EbsInstanceBlockDevice::builder()
                            .attach_time(DateTime::from_secs_and_nanos(1_710_491_400, 7_000_000))
                            .delete_on_termination(true)
                            .status(ec2::AttachmentStatus::Attached)
                            .volume_id("vol-1")
                            .build(),
                    )
                    .build(),
            )
            .network_interfaces(
                ec2::InstanceNetworkInterface::builder()
                    .network_interface_id("eni-1")
                    .status(ec2::NetworkInterfaceStatus::InUse)
                    .ipv6_addresses(
                        ec2::InstanceIpv6Address::builder()
                            .ipv6_address("2600:1f18::1")
                            .is_primary_ipv6(true)
                            .build(),
                    )
                    .private_ip_addresses(
                        ec2::InstancePrivateIpAddress::builder()
                            .primary(true)
                            .private_ip_address("10.0.0.5")
                            .association(
                                ec2::InstanceNetworkInterfaceAssociation::builder()
                                    .public_ip("54.1.2.3")
                                    .ip_owner_id("amazon")
                                    .build(),
                            )
                            .build(),
                    )
                    .attachment(
                        ec2::InstanceNetworkInterfaceAttachment::builder()
                            .device_index(0)
                            .network_card_index(0)
                            .build(),
                    )
                    .build(),
            )
            .metadata_options(
                ec2::InstanceMetadataOptionsResponse::builder()
                    .http_tokens(ec2::HttpTokensState::Required)
                    .http_put_response_hop_limit(2)
                    .build(),
            )
            .private_dns_name_options(
                ec2::PrivateDnsNameOptionsResponse::builder()
                    .hostname_type(ec2::HostnameType::IpName)
                    .enable_resource_name_dns_aaaa_record(false)
                    .build(),
            )
            .iam_instance_profile(
                ec2::IamInstanceProfile::builder()
                    .arn("arn:aws:iam::123456789012:instance-profile/web")
                    .id("AIPA1")
                    .build(),
            )
            .build();
        let raw = instance_to_raw(
            base_extra(),
            &ec2::Reservation::builder().build(),
            &instance,
            None,
        );
        assert_eq!(
            raw["Properties"],
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

    #[test]
    fn merges_instance_status_into_properties_like_aws_v3() {
        let summary = |status: ec2::SummaryStatus| {
            ec2::InstanceStatusSummary::builder()
                .status(status)
                .details(
                    ec2::InstanceStatusDetails::builder()
                        .name(ec2::StatusName::Reachability)
                        .status(ec2::StatusType::Passed)
                        .build(),
                )
                .build()
        };
        let status = ec2::InstanceStatus::builder()
            .instance_id("i-0a1b2c3d4e5f67890")
            .availability_zone("us-east-1a")
            .instance_state(
                ec2::InstanceState::builder()
                    .code(16)
                    .name(ec2::InstanceStateName::Running)
                    .build(),
            )
            .instance_status(summary(ec2::SummaryStatus::Ok))
            .system_status(summary(ec2::SummaryStatus::Ok))
            .set_events(Some(vec![]))
            .build();
        let raw = instance_to_raw(
            base_extra(),
            &ec2::Reservation::builder().build(),
            &example_instance(),
            Some(&status),
        );
        let props = &raw["Properties"];
        assert_eq!(props["InstanceId"], json!("i-0a1b2c3d4e5f67890"));
        assert_eq!(props["InstanceType"], json!("t3.medium"));
        assert_eq!(props["AvailabilityZone"], json!("us-east-1a"));
        assert_eq!(
            props["InstanceState"],
            json!({"Code": 16, "Name": "running"})
        );
        assert_eq!(props["Events"], json!([]));
        let expected_summary = json!({
            "Status": "ok",
            "Details": [{"Name": "reachability", "Status": "passed"}]
        });
        assert_eq!(props["InstanceStatus"], expected_summary);
        assert_eq!(props["SystemStatus"], expected_summary);
    }

    #[test]
    fn optional_action_is_describe_instance_status() {
        assert_eq!(OPTIONAL_ACTIONS.len(), 1);
        assert_eq!(OPTIONAL_ACTIONS[0].name, "DescribeInstanceStatusAction");
        assert_eq!(OPTIONAL_ACTIONS[0].iam_action, "ec2:DescribeInstanceStatus");
    }

    /// `add_reservation_context` lists the reservation's fields by hand: a new SDK field must be
    /// noticed.
    #[test]
    fn reservation_fields_are_all_known() {
        let names = debug_field_names(&format!("{:?}", ec2::Reservation::builder().build()));
        assert_eq!(
            names,
            [
                "reservation_id",
                "owner_id",
                "requester_id",
                "groups",
                "instances"
            ]
        );
    }

    /// One test per converted SDK structure: the conversion reads every field the type has.
    macro_rules! covers_all_fields {
        ($($test:ident: $t:ident),* $(,)?) => {
            mod covers_all_fields {
                use super::*;
                $(
                    #[test]
                    fn $test() {
                        assert_covers_all_fields(&ec2::$t::builder().build());
                    }
                )*
            }
        };
    }

    covers_all_fields! {
        instance: Instance,
        instance_status: InstanceStatus,
        group_identifier: GroupIdentifier,
        instance_block_device_mapping: InstanceBlockDeviceMapping,
        iam_instance_profile: IamInstanceProfile,
        elastic_gpu_association: ElasticGpuAssociation,
        elastic_inference_accelerator_association: ElasticInferenceAcceleratorAssociation,
        instance_network_interface: InstanceNetworkInterface,
        state_reason: StateReason,
        tag: Tag,
        cpu_options: CpuOptions,
        capacity_reservation_specification_response: CapacityReservationSpecificationResponse,
        hibernation_options: HibernationOptions,
        license_configuration: LicenseConfiguration,
        instance_metadata_options_response: InstanceMetadataOptionsResponse,
        enclave_options: EnclaveOptions,
        private_dns_name_options_response: PrivateDnsNameOptionsResponse,
        instance_maintenance_options: InstanceMaintenanceOptions,
        instance_network_performance_options: InstanceNetworkPerformanceOptions,
        operator_response: OperatorResponse,
        instance_secondary_interface: InstanceSecondaryInterface,
        instance_state: InstanceState,
        product_code: ProductCode,
        placement: Placement,
        monitoring: Monitoring,
        instance_status_event: InstanceStatusEvent,
        instance_status_summary: InstanceStatusSummary,
        ebs_status_summary: EbsStatusSummary,
        application_status_summary: ApplicationStatusSummary,
        performance_status_summary: PerformanceStatusSummary,
        ebs_instance_block_device: EbsInstanceBlockDevice,
        instance_network_interface_association: InstanceNetworkInterfaceAssociation,
        instance_network_interface_attachment: InstanceNetworkInterfaceAttachment,
        instance_ipv6_address: InstanceIpv6Address,
        instance_private_ip_address: InstancePrivateIpAddress,
        instance_ipv4_prefix: InstanceIpv4Prefix,
        instance_ipv6_prefix: InstanceIpv6Prefix,
        connection_tracking_specification_response: ConnectionTrackingSpecificationResponse,
        capacity_reservation_target_response: CapacityReservationTargetResponse,
        instance_secondary_interface_attachment: InstanceSecondaryInterfaceAttachment,
        instance_secondary_interface_private_ip_address: InstanceSecondaryInterfacePrivateIpAddress,
        instance_status_details: InstanceStatusDetails,
        ebs_status_details: EbsStatusDetails,
        instance_attachment_ena_srd_specification: InstanceAttachmentEnaSrdSpecification,
        instance_attachment_ena_srd_udp_specification: InstanceAttachmentEnaSrdUdpSpecification,
    }
}

#[cfg(test)]
mod fetch_tests {
    use super::*;
    use crate::kinds::s3_bucket::fake_aws::{fetch_pages, FakeAws, Request, Response};
    use serde_json::json;
    use std::collections::BTreeSet;

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
        let sdk = server.sdk_config("us-east-1");
        let actions: BTreeSet<String> = actions.iter().map(|a| (*a).to_owned()).collect();
        let allowed = |_: &str| true;
        let ctx = FetchContext {
            account_id: "123456789012",
            partition: "aws",
            region: "us-east-1",
            sdk: &sdk,
            actions: &actions,
            region_allowed: &allowed,
            concurrency: 4,
        };
        fetch_pages(crate::kinds::Kind::Ec2Instance, &ctx).await
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
        assert!(requests.iter().all(|r| r.body.contains("MaxResults=1000")));
        assert!(!requests
            .iter()
            .any(|r| r.body.contains("DescribeInstanceStatus")));
    }

    #[tokio::test]
    async fn describe_instance_status_action_merges_statuses_per_page() {
        let server = FakeAws::start(handler);
        let (result, pages) = run(&server, &[DESCRIBE_INSTANCE_STATUS_ACTION]).await;
        let stats = result.unwrap();
        assert_eq!(
            stats.api_calls, 4,
            "2 DescribeInstances + 1 DescribeInstanceStatus per page"
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
