#!/usr/bin/env python3
"""boto3 as the reference for the model-driven client (src/aws/api), against a moto server.

Usage:
    python tests/support/boto3_reference.py --endpoint URL --seed NAME
        Creates the resources of one scenario (see SEEDS) and prints what the calls need
        (ids, URLs, ARNs) as one JSON object.
    python tests/support/boto3_reference.py --endpoint URL --calls -
        Reads a JSON list of calls {"service", "region", "operation", "params", "paginate"} on stdin
        and prints one JSON list with boto3's parsed result of each:
          - the output without ResponseMetadata,
          - with "paginate": true, the list of pages boto3's paginator yields,
          - for a service error, {"Error": {"Code", "Message"}, "Status": <HTTP status>}.
        Datetimes are printed as ISO-8601 with milliseconds in UTC (2024-03-15T08:30:00.000Z) and
        bytes as base64 text, the forms the Rust client returns.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import io
import json
import os
import sys
import zipfile

os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")

import boto3  # noqa: E402
from botocore import xform_name  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402

REGION = "us-east-1"
ENDPOINT = ""


def client(service: str, region: str = REGION):
    return boto3.client(service, region_name=region, endpoint_url=ENDPOINT)


def plain(value):
    """boto3's output as JSON in the forms the Rust client uses."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        value = value.astimezone(datetime.timezone.utc)
        return value.strftime("%Y-%m-%dT%H:%M:%S") + ".%03dZ" % (value.microsecond // 1000)
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode()
    return value


def without_metadata(output: dict) -> dict:
    output = dict(output)
    output.pop("ResponseMetadata", None)
    return output


def run_call(call: dict):
    c = client(call["service"], call.get("region", REGION))
    params = call.get("params") or {}
    method = xform_name(call["operation"])
    try:
        if call.get("paginate"):
            pages = c.get_paginator(method).paginate(**params)
            return [plain(without_metadata(page)) for page in pages]
        return plain(without_metadata(getattr(c, method)(**params)))
    except ClientError as e:
        error = e.response.get("Error", {})
        return {
            "Error": {"Code": error.get("Code", ""), "Message": error.get("Message", "")},
            "Status": e.response.get("ResponseMetadata", {}).get("HTTPStatusCode"),
        }


# --- scenarios ---------------------------------------------------------------------------------


def seed_ec2() -> dict:
    ec2 = client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.1.1.0/24")["Subnet"]["SubnetId"]
    sg = ec2.create_security_group(GroupName="web", Description="web tier", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=sg,
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
                        "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "https"}]}],
    )
    image = ec2.describe_images(Owners=["amazon"], MaxResults=5)["Images"][0]["ImageId"]
    reservation = ec2.run_instances(
        ImageId=image, MinCount=2, MaxCount=2, InstanceType="t3.micro",
        NetworkInterfaces=[{"DeviceIndex": 0, "SubnetId": subnet, "Groups": [sg],
                            "AssociatePublicIpAddress": True}],
        BlockDeviceMappings=[{"DeviceName": "/dev/sdf", "Ebs": {"VolumeSize": 8, "DeleteOnTermination": True}}],
        TagSpecifications=[{"ResourceType": "instance",
                            "Tags": [{"Key": "Name", "Value": "web & api"}, {"Key": "env", "Value": "prod"}]}],
    )
    ids = [i["InstanceId"] for i in reservation["Instances"]]
    # moto lists security groups given through a network interface only on the interface.
    ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType="t3.small",
                      SubnetId=subnet, SecurityGroupIds=[sg])
    ec2.stop_instances(InstanceIds=[ids[1]])
    return {"instance_ids": ids, "vpc": vpc, "subnet": subnet, "security_group": sg}


def seed_ecs() -> dict:
    ecs = client("ecs")
    arn = ecs.create_cluster(
        clusterName="apps",
        tags=[{"key": "team", "value": "core"}],
        settings=[{"name": "containerInsights", "value": "enabled"}],
    )["cluster"]["clusterArn"]
    ecs.create_cluster(clusterName="batch")
    td = ecs.register_task_definition(
        family="web",
        containerDefinitions=[{"name": "web", "image": "nginx", "memory": 128, "cpu": 64,
                               "portMappings": [{"containerPort": 80}]}],
        tags=[{"key": "app", "value": "web"}],
    )["taskDefinition"]["taskDefinitionArn"]
    svc = ecs.create_service(cluster="apps", serviceName="web", taskDefinition=td, desiredCount=0)
    return {"cluster_arn": arn, "task_definition": td, "service_arn": svc["service"]["serviceArn"]}


def seed_lambda() -> dict:
    iam = client("iam")
    role = iam.create_role(
        RoleName="fn-role",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )["Role"]["Arn"]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("index.py", "def handler(event, context):\n    return event\n")
    lam = client("lambda")
    arns = []
    for name in ("alpha", "beta"):
        arns.append(lam.create_function(
            FunctionName=name, Runtime="python3.12", Role=role, Handler="index.handler",
            Code={"ZipFile": buf.getvalue()}, Description=f"{name} function", Timeout=30,
            Environment={"Variables": {"STAGE": "test"}}, Tags={"team": name},
        )["FunctionArn"])
    return {"function_arns": arns}


def seed_rds() -> dict:
    rds = client("rds")
    rds.create_db_instance(
        DBInstanceIdentifier="orders", DBInstanceClass="db.t3.micro", Engine="postgres",
        MasterUsername="admin", MasterUserPassword="secret-password", AllocatedStorage=20,
        Tags=[{"Key": "env", "Value": "prod"}],
    )
    rds.create_db_cluster(
        DBClusterIdentifier="reports", Engine="aurora-postgresql", MasterUsername="admin",
        MasterUserPassword="secret-password",
    )
    return {}


def seed_dynamodb() -> dict:
    ddb = client("dynamodb")
    arn = ddb.create_table(
        TableName="state",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "sk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        Tags=[{"Key": "app", "Value": "sync"}],
    )["TableDescription"]["TableArn"]
    ddb.create_table(
        TableName="other", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "N"}],
        ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1},
    )
    return {"table_arn": arn}


def seed_sqs() -> dict:
    sqs = client("sqs")
    url = sqs.create_queue(
        QueueName="jobs", Attributes={"VisibilityTimeout": "120"}, tags={"team": "core"},
    )["QueueUrl"]
    sqs.create_queue(QueueName="jobs.fifo", Attributes={"FifoQueue": "true"})
    return {"queue_url": url}


def seed_sns() -> dict:
    sns = client("sns")
    arn = sns.create_topic(Name="alerts", Tags=[{"Key": "team", "Value": "core"}])["TopicArn"]
    sns.create_topic(Name="events")
    return {"topic_arn": arn}


def seed_route53() -> dict:
    r53 = client("route53")
    zone = r53.create_hosted_zone(
        Name="example.com", CallerReference="ref-1",
        HostedZoneConfig={"Comment": "public zone", "PrivateZone": False},
    )["HostedZone"]["Id"]
    r53.create_hosted_zone(Name="internal.example", CallerReference="ref-2")
    zone_id = zone.split("/")[-1]
    r53.change_tags_for_resource(ResourceType="hostedzone", ResourceId=zone_id,
                                 AddTags=[{"Key": "team", "Value": "core"}])
    return {"zone_id": zone_id}


def seed_iam() -> dict:
    iam = client("iam")
    policy = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
    for i in range(5):
        iam.create_role(RoleName=f"role-{i}", Path="/app/", AssumeRolePolicyDocument=policy,
                        Description=f"role {i}", Tags=[{"Key": "n", "Value": str(i)}])
    return {}


def seed_eks() -> dict:
    eks = client("eks")
    eks.create_cluster(
        name="prod", version="1.29", roleArn="arn:aws:iam::123456789012:role/eks",
        resourcesVpcConfig={"subnetIds": ["subnet-1", "subnet-2"]}, tags={"team": "core"},
    )
    return {}


def seed_kafka_sesv2() -> dict:
    client("kafka").create_cluster_v2(
        ClusterName="events", Tags={"team": "core"},
        Serverless={"VpcConfigs": [{"SubnetIds": ["subnet-1", "subnet-2"]}]},
    )
    ses = client("sesv2")
    ses.create_email_identity(EmailIdentity="ops@example.com", Tags=[{"Key": "team", "Value": "core"}])
    ses.create_email_identity(EmailIdentity="example.com")
    return {}


def seed_pagination() -> dict:
    seed_iam()
    ddb = client("dynamodb")
    for i in range(5):
        ddb.create_table(
            TableName=f"table-{i}", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
    ec2 = client("ec2")
    image = ec2.describe_images(Owners=["amazon"], MaxResults=5)["Images"][0]["ImageId"]
    for _ in range(7):
        ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1)
    sns = client("sns")
    for i in range(120):
        sns.create_topic(Name=f"topic-{i:03}")
    return {}


SEEDS = {
    "ec2": seed_ec2,
    "ecs": seed_ecs,
    "lambda": seed_lambda,
    "rds": seed_rds,
    "dynamodb": seed_dynamodb,
    "sqs": seed_sqs,
    "sns": seed_sns,
    "route53": seed_route53,
    "iam": seed_iam,
    "eks": seed_eks,
    "kafka_sesv2": seed_kafka_sesv2,
    "pagination": seed_pagination,
}


def main() -> int:
    global ENDPOINT
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--seed", choices=sorted(SEEDS))
    parser.add_argument("--calls")
    args = parser.parse_args()
    ENDPOINT = args.endpoint
    if args.seed:
        result = SEEDS[args.seed]()
    elif args.calls:
        source = sys.stdin if args.calls == "-" else open(args.calls, encoding="utf-8")
        result = [run_call(call) for call in json.load(source)]
    else:
        parser.error("--seed or --calls is required")
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
