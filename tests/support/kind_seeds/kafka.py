"""MSK (botocore service `kafka`): AWS::MSK::Cluster and AWS::MSK::ServerlessCluster."""

SUBNETS = ["subnet-0a1b2c3d4e5f60718", "subnet-0b2c3d4e5f6071829"]


def seed_msk_cluster(client_factory, account_id, region):
    kafka = client_factory("kafka")
    arns = []
    for name in ("orders-events", "audit-log"):
        arns.append(kafka.create_cluster(
            ClusterName=f"{name}-{region}",
            KafkaVersion="3.6.0",
            NumberOfBrokerNodes=2,
            BrokerNodeGroupInfo={"InstanceType": "kafka.m5.large", "ClientSubnets": SUBNETS},
            Tags={"Team": name},
        )["ClusterArn"])
    return arns


def seed_msk_serverless_cluster(client_factory, account_id, region):
    kafka = client_factory("kafka")
    arns = []
    for name in ("clickstream", "metrics"):
        arns.append(kafka.create_cluster_v2(
            ClusterName=f"{name}-{region}",
            Serverless={"VpcConfigs": [{"SubnetIds": SUBNETS}],
                        "ClientAuthentication": {"Sasl": {"Iam": {"Enabled": True}}}},
            Tags={"Team": name},
        )["ClusterArn"])
    return arns


KINDS = {
    "AWS::MSK::Cluster": seed_msk_cluster,
    "AWS::MSK::ServerlessCluster": seed_msk_serverless_cluster,
}
