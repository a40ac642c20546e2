#!/usr/bin/env python3
"""Seed a running moto server with an AWS estate (organization, accounts, EC2, ECS, S3) for tests.

Usage:
    python tests/support/seed_moto.py --endpoint http://127.0.0.1:PORT --spec FILE|-  [--ops FILE|-]
    python tests/support/seed_moto.py --endpoint http://127.0.0.1:PORT --ops FILE|-

Prints one JSON document on stdout: the spec result (see below), plus "ops": [...] when --ops is given.

Spec:
  {"organization": true, "role_name": "PortAwsSyncRead",
   "accounts": [{"key": "mgmt", "management": true},
                {"key": "dev", "name": "dev", "email": "dev@example.com", "ou": "Workloads/Dev"},
                {"key": "old", "name": "old", "email": "old@example.com", "close": true},
                {"key": "solo", "id": "111111111111"}],
   "resources": {"dev": {"regions": {"us-east-1": {"ec2_instances": 3, "ecs_clusters": 2}},
                         "buckets": [{"name": "dev-logs", "region": "eu-west-1", "tags": {"team": "a"},
                                      "encryption": true, "public_access_block": true, "ownership_controls": true}]}}}
  - With an organization, accounts without "id" are created with CreateAccount (moto picks the id), moved to
    their OU path (nested OUs are created) and closed when "close" is true. An account with an explicit "id"
    stays outside the organization. Without an organization every account takes its "id" (management
    defaults to 123456789012; others default to a stable id derived from the key).
  - Every account (closed ones too) gets the IAM role `role_name`. Other accounts are reached through
    sts:AssumeRole, which in moto switches account for any role ARN.
  - Instances get tags seed-account=<key> and Name=<key>-<region>-<n> (n from 1). Naming costs one CreateTags
    call per instance, so above 100 instances per region the default is one Name per RunInstances batch of 100,
    Name=<key>-<region>-b<k>. Override per region with "ec2_names": "each" | "batch".
  - Optional per region: "ec2_tags"/"ecs_tags" ({k: v}) added to every instance/cluster.
  - Per region, the aws-v3 kinds seeded by tests/support/kind_seeds (two resources each, whatever the
    number): "msk_clusters", "msk_serverless_clusters", "ses_email_identities", "ses_configuration_sets",
    "codebuild_projects", "codebuild_build_runs", "ec2_vpcs", "ec2_subnets", "ec2_security_groups",
    "elbv2_load_balancers", "elbv2_target_groups", "kms_keys", "secretsmanager_secrets",
    "stepfunctions_state_machines"
    (REGIONAL_SEEDERS; the EC2 network ones return every id of the region, moto's defaults included).
  - Per account, "iam_roles": true seeds two IAM roles (tests/support/kind_seeds/iam.py).
  - Per region, "ec2_default_security_group": true launches the "ec2_instances" in the default VPC's
    `default` security group.
  - Per region, "autoscaling_groups", "cloudformation_stacks", "apigateway_rest_apis"; per account,
    "route53_hosted_zones": true, "cloudfront_distributions": true (tests/support/kind_seeds/edge.py).
  - Buckets: "encryption" true|"AES256"|"aws:kms"; "public_access_block" true|{...4 flags}; "ownership_controls"
    true|"BucketOwnerEnforced"|"BucketOwnerPreferred"|"ObjectWriter".

Ops (a JSON list, run in order; "account" is an account id):
  {"op": "run_instances", "account": "..", "region": "..", "count": 2, "tags": {..}, "name_prefix": "x",
   "names": "each"|"batch"}                                                            -> {"ids": [...]}
  {"op": "terminate_instances", "account": "..", "region": "..", "ids": [..]}
  {"op": "create_cluster", "account": "..", "region": "..", "name": "..", "tags": {..}} -> {"arn": ".."}
  {"op": "delete_cluster", "account": "..", "region": "..", "arn": ".."}
  {"op": "create_bucket", "account": "..", "name": "..", "region": "..", ...bucket options}
  {"op": "delete_bucket", "account": "..", "name": ".."}
  {"op": "close_account", "account": ".."}                                                -> {"state": ..}
  {"op": "create_queue", "account": "..", "region": "..", "name": ".."}                   -> {"url", "arn"}
  {"op": "receive_messages", "account": "..", "region": "..", "url": ".."}  -> {"messages": [{messageId, body, ...}]}
  {"op": "create_secret", "account": "..", "region": "..", "name": "..", "value": ".."}   -> {"arn": ".."}
  {"op": "put_object", "account": "..", "bucket": "..", "key": "..", "body": "text", "region": ".."}
      (creates the bucket when missing)
  {"op": "put_parameter", "account": "..", "name": "..", "value": "text", "region": "..", "type": "String"}
  {"op": "leave_organization", "account": ".."}   (RemoveAccountFromOrganization: no longer listed)
  {"op": "create_tags", "account": "..", "region": "..", "ids": [..], "tags": {k: v}}
  {"op": "put_bucket_tagging", "account": "..", "name": "..", "region": "..", "tags": {k: v}}
  {"op": "put_rule", "account": "..", "region": "..", "name": "..", "pattern": {..}, "queue_arn": ".."}
      (an EventBridge rule on the default bus with the queue as its target)              -> {"arn": ".."}
  {"op": "put_events", "account": "..", "region": "..", "events": [<EventBridge event>, ..]}
      (PutEvents with each event's source, detail-type, detail and resources)            -> {"failed": n}
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.pop("AWS_SESSION_TOKEN", None)
os.environ.pop("AWS_PROFILE", None)

import boto3  # noqa: E402
from botocore.config import Config  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kind_seeds  # noqa: E402

MGMT_ACCOUNT = "123456789012"  # moto's default account
SEED_ROLE = "OrganizationAccountAccessRole"
BATCH = 100  # instances per RunInstances call
KNOWN_AMIS = ["ami-03cf127a", "ami-12c6146b"]  # in moto's default amis.json (all regions)


def _error_code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


class Aws:
    """boto3 clients per (account, service, region); other accounts via sts:AssumeRole."""

    def __init__(self, endpoint: str, mgmt_account: str = MGMT_ACCOUNT):
        self.endpoint = endpoint
        self.mgmt_account = mgmt_account
        self.session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                             region_name="us-east-1")
        self.config = Config(retries={"max_attempts": 3, "mode": "standard"}, max_pool_connections=32,
                             s3={"addressing_style": "path"})
        self._clients: dict = {}
        self._creds: dict = {}
        self._lock = threading.RLock()
        self._amis: dict = {}

    def _credentials(self, account: str) -> dict:
        if account == self.mgmt_account:
            return {}
        if account not in self._creds:
            sts = self.client(self.mgmt_account, "sts")
            creds = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/{SEED_ROLE}",
                                    RoleSessionName="seed-moto")["Credentials"]
            self._creds[account] = {"aws_access_key_id": creds["AccessKeyId"],
                                    "aws_secret_access_key": creds["SecretAccessKey"],
                                    "aws_session_token": creds["SessionToken"]}
        return self._creds[account]

    def client(self, account: str, service: str, region: str = "us-east-1"):
        key = (account, service, region)
        with self._lock:
            if key not in self._clients:
                creds = self._credentials(account) if service != "sts" or account != self.mgmt_account else {}
                self._clients[key] = self.session.client(service, region_name=region, endpoint_url=self.endpoint,
                                                         config=self.config, **creds)
            return self._clients[key]

    def ami(self, account: str, region: str) -> str:
        key = (account, region)
        if key not in self._amis:
            ec2 = self.client(account, "ec2", region)
            images = []
            try:  # fast path: a default moto AMI looked up by id
                images = ec2.describe_images(ImageIds=KNOWN_AMIS[:1])["Images"]
            except ClientError:
                pass
            if not images:
                images = ec2.describe_images(Owners=["amazon"])["Images"]
            if not images:  # moto started with MOTO_EC2_LOAD_DEFAULT_AMIS=false: make one
                images = [{"ImageId": ec2.register_image(Name="seed-moto-ami", Architecture="x86_64",
                                                         RootDeviceName="/dev/xvda")["ImageId"]}]
            self._amis[key] = images[0]["ImageId"]
        return self._amis[key]


# ----------------------------------------------------------------------------------------------
# Resource helpers (shared by the spec and the ops).
# ----------------------------------------------------------------------------------------------
def run_instances(aws: Aws, account: str, region: str, count: int, name_prefix: str | None = None,
                  tags: dict | None = None, names: str = "auto", security_group_ids: list | None = None) -> list:
    """RunInstances in batches of up to 100. With name_prefix, names="each" tags every instance
    Name=<prefix>-<n> (1-based; one CreateTags call per instance, ~10 ms each in moto), names="batch" gives all
    instances of the k-th RunInstances call Name=<prefix>-b<k> (free), "auto" = each up to 100 instances."""
    ec2 = aws.client(account, "ec2", region)
    ami = aws.ami(account, region)
    if names == "auto":
        names = "each" if count <= BATCH else "batch"
    ids: list = []
    batch = 0
    while len(ids) < count:
        n = min(BATCH, count - len(ids))
        batch += 1
        tag_map = dict(tags or {})
        if name_prefix and names == "batch":
            tag_map["Name"] = f"{name_prefix}-b{batch}"
        kwargs = {"ImageId": ami, "MinCount": n, "MaxCount": n, "InstanceType": "t3.micro"}
        if security_group_ids:
            kwargs["SecurityGroupIds"] = security_group_ids
        if tag_map:
            kwargs["TagSpecifications"] = [{"ResourceType": "instance",
                                            "Tags": [{"Key": k, "Value": str(v)} for k, v in tag_map.items()]}]
        response = ec2.run_instances(**kwargs)
        ids += [i["InstanceId"] for i in sorted(response["Instances"], key=lambda i: i.get("AmiLaunchIndex", 0))]
    if name_prefix and names == "each":
        def tag(item):
            index, instance_id = item
            ec2.create_tags(Resources=[instance_id], Tags=[{"Key": "Name", "Value": f"{name_prefix}-{index}"}])
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(tag, enumerate(ids, start=1)))
    return ids


def create_cluster(aws: Aws, account: str, region: str, name: str, tags: dict | None = None) -> str:
    ecs = aws.client(account, "ecs", region)
    tag_list = [{"key": k, "value": str(v)} for k, v in (tags or {}).items()]
    return ecs.create_cluster(clusterName=name, tags=tag_list)["cluster"]["clusterArn"]


def create_bucket(aws: Aws, account: str, spec: dict) -> str:
    name, region = spec["name"], spec.get("region", "us-east-1")
    s3 = aws.client(account, "s3", region)
    kwargs = {"Bucket": name}
    if region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
    s3.create_bucket(**kwargs)
    if spec.get("tags"):
        s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": [{"Key": k, "Value": str(v)}
                                                               for k, v in spec["tags"].items()]})
    encryption = spec.get("encryption")
    if encryption:
        algorithm = encryption if isinstance(encryption, str) else "AES256"
        s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": [
            {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": algorithm}, "BucketKeyEnabled": False}]})
    pab = spec.get("public_access_block")
    if pab:
        flags = pab if isinstance(pab, dict) else {k: True for k in (
            "BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")}
        s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=flags)
    ownership = spec.get("ownership_controls")
    if ownership:
        rule = ownership if isinstance(ownership, str) else "BucketOwnerEnforced"
        s3.put_bucket_ownership_controls(Bucket=name, OwnershipControls={"Rules": [{"ObjectOwnership": rule}]})
    return name


def delete_bucket(aws: Aws, account: str, name: str) -> None:
    s3 = aws.client(account, "s3")
    objects = s3.list_objects_v2(Bucket=name).get("Contents", [])
    if objects:
        s3.delete_objects(Bucket=name, Delete={"Objects": [{"Key": o["Key"]} for o in objects]})
    s3.delete_bucket(Bucket=name)


READ_POLICY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": "*", "Action": [
    "ec2:Describe*", "ecs:Describe*", "ecs:List*", "s3:Get*", "s3:List*", "organizations:Describe*",
    "organizations:List*", "sts:GetCallerIdentity"]}]}


def ensure_role(aws: Aws, account: str, role_name: str) -> None:
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                     "Principal": {"AWS": f"arn:aws:iam::{aws.mgmt_account}:root"}}]}
    iam = aws.client(account, "iam")
    try:
        iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(trust),
                        Description="read-only role for port-aws-sync tests")
        iam.put_role_policy(RoleName=role_name, PolicyName="read", PolicyDocument=json.dumps(READ_POLICY))
    except ClientError as exc:
        if _error_code(exc) != "EntityAlreadyExists":
            raise


def close_account(aws: Aws, account: str) -> dict:
    org = aws.client(aws.mgmt_account, "organizations")
    org.close_account(AccountId=account)
    described = org.describe_account(AccountId=account)["Account"]
    return {"state": described.get("State"), "status": described.get("Status")}


# ----------------------------------------------------------------------------------------------
# Spec seeding.
# ----------------------------------------------------------------------------------------------
def stable_account_id(key: str) -> str:
    return str(int(hashlib.sha256(key.encode()).hexdigest(), 16) % 10**12).zfill(12)


# ----------------------------------------------------------------------------------------------
# Seeders, one per kind: adding a kind adds one function and one entry. A regional seeder gets the
# region's spec ({"<spec key>": n, ...options}) and returns what it made there; an account seeder
# gets the account's list under its spec key.
# ----------------------------------------------------------------------------------------------


def seed_ec2_instances(aws: Aws, account: str, key: str, region: str, wanted: dict) -> list:
    groups = None
    if wanted.get("ec2_default_security_group"):  # as AWS does when RunInstances names none
        ec2 = aws.client(account, "ec2", region)
        found = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": ["default"]}])
        groups = [g["GroupId"] for g in found["SecurityGroups"] if g.get("VpcId")][:1]
    return run_instances(aws, account, region, int(wanted["ec2_instances"]), name_prefix=f"{key}-{region}",
                         tags={"seed-account": key, **(wanted.get("ec2_tags") or {})},
                         names=wanted.get("ec2_names", "auto"), security_group_ids=groups)


def seed_ecs_clusters(aws: Aws, account: str, key: str, region: str, wanted: dict) -> list:
    return [create_cluster(aws, account, region, f"{key}-{region}-{n}",
                           {"Name": f"{key}-{region}-{n}", "seed-account": key, **(wanted.get("ecs_tags") or {})})
            for n in range(1, int(wanted["ecs_clusters"]) + 1)]


def seed_buckets(aws: Aws, account: str, key: str, buckets: list) -> list:
    return [create_bucket(aws, account, bucket) for bucket in buckets]


def kind_seeder(kind: str):
    """The tests/support/kind_seeds seeder of `kind` as a regional seeder (two resources per
    account and region, whatever the count asked for)."""
    def seed_kind(aws: Aws, account: str, key: str, region: str, wanted: dict) -> list:
        from kind_seeds import SEEDERS
        return SEEDERS[kind](lambda service, account_id, rgn: aws.client(account_id, service, rgn),
                             account, region)
    return seed_kind


def _bound(seeder):
    """A kind_seeds seeder taking `client_factory(service)` for one account and region, as a regional
    seeder (it makes its two resources whatever the count asked)."""
    def seed_kind(aws: Aws, account: str, key: str, region: str, wanted: dict) -> list:
        return seeder(lambda service: aws.client(account, service, region), account, region)
    return seed_kind


# Kind name -> (spec key, seeder).
REGIONAL_SEEDERS = {
    "AWS::EC2::Instance": ("ec2_instances", seed_ec2_instances),
    "AWS::ECS::Cluster": ("ecs_clusters", seed_ecs_clusters),
    "AWS::DynamoDB::Table": ("dynamodb_tables", kind_seeder("AWS::DynamoDB::Table")),
    "AWS::ElastiCache::Cluster": ("elasticache_clusters", kind_seeder("AWS::ElastiCache::Cluster")),
    "AWS::MemoryDB::User": ("memorydb_users", kind_seeder("AWS::MemoryDB::User")),
    "AWS::RDS::DBCluster": ("rds_db_clusters", kind_seeder("AWS::RDS::DBCluster")),
    "AWS::RDS::DBInstance": ("rds_db_instances", kind_seeder("AWS::RDS::DBInstance")),
    "AWS::SNS::Topic": ("sns_topics", kind_seeder("AWS::SNS::Topic")),
    "AWS::SQS::Queue": ("sqs_queues", kind_seeder("AWS::SQS::Queue")),
    "AWS::CodeBuild::BuildRun": ("codebuild_build_runs", _bound(kind_seeds.codebuild.seed_codebuild_build_run)),
    "AWS::CodeBuild::Project": ("codebuild_projects", _bound(kind_seeds.codebuild.seed_codebuild_project)),
    "AWS::MSK::Cluster": ("msk_clusters", _bound(kind_seeds.kafka.seed_msk_cluster)),
    "AWS::MSK::ServerlessCluster": ("msk_serverless_clusters", _bound(kind_seeds.kafka.seed_msk_serverless_cluster)),
    "AWS::SES::ConfigurationSet": ("ses_configuration_sets", _bound(kind_seeds.sesv2.seed_ses_configuration_set)),
    "AWS::SES::EmailIdentity": ("ses_email_identities", _bound(kind_seeds.sesv2.seed_ses_email_identity)),
    "AWS::EC2::VPC": ("ec2_vpcs", _bound(kind_seeds.ec2_network.seed_vpc)),
    "AWS::EC2::Subnet": ("ec2_subnets", _bound(kind_seeds.ec2_network.seed_subnet)),
    "AWS::EC2::SecurityGroup": ("ec2_security_groups", _bound(kind_seeds.ec2_network.seed_security_group)),
    "AWS::ElasticLoadBalancingV2::LoadBalancer": ("elbv2_load_balancers", _bound(kind_seeds.elbv2.seed_load_balancer)),
    "AWS::ElasticLoadBalancingV2::TargetGroup": ("elbv2_target_groups", _bound(kind_seeds.elbv2.seed_target_group)),
    "AWS::KMS::Key": ("kms_keys", _bound(kind_seeds.kms.seed_kms_key)),
    "AWS::SecretsManager::Secret": ("secretsmanager_secrets",
                                    _bound(kind_seeds.secretsmanager.seed_secretsmanager_secret)),
    "AWS::StepFunctions::StateMachine": ("stepfunctions_state_machines",
                                         _bound(kind_seeds.stepfunctions.seed_stepfunctions_state_machine)),
    "AWS::AutoScaling::AutoScalingGroup": ("autoscaling_groups", _bound(kind_seeds.edge.seed_autoscaling_group)),
    "AWS::CloudFormation::Stack": ("cloudformation_stacks", _bound(kind_seeds.edge.seed_cloudformation_stack)),
    "AWS::ApiGateway::RestApi": ("apigateway_rest_apis", _bound(kind_seeds.edge.seed_apigateway_rest_api)),
}
def seed_iam_roles(aws: Aws, account: str, key: str, wanted) -> list:
    """The kind_seeds IAM role seeder, once per account (two roles whatever the count asked)."""
    return kind_seeds.iam.seed_iam_role(lambda service: aws.client(account, service), account, "global")


def _per_account(seeder):
    """A kind_seeds seeder of a global kind, once per account (two resources whatever the count asked)."""
    def seed_kind(aws: Aws, account: str, key: str, wanted) -> list:
        return seeder(lambda service: aws.client(account, service), account, "global")
    return seed_kind


ACCOUNT_SEEDERS = {
    "AWS::S3::Bucket": ("buckets", seed_buckets),
    "AWS::IAM::Role": ("iam_roles", seed_iam_roles),
    "AWS::Route53::HostedZone": ("route53_hosted_zones", _per_account(kind_seeds.edge.seed_route53_hosted_zone)),
    "AWS::CloudFront::Distribution": ("cloudfront_distributions",
                                      _per_account(kind_seeds.edge.seed_cloudfront_distribution)),
}


def seed(aws: Aws, spec: dict) -> dict:
    role_name = spec.get("role_name", "PortAwsSyncRead")
    result: dict = {"management_account_id": aws.mgmt_account, "organization_id": None, "root_id": None,
                    "ous": {}, "accounts": {}, "resources": {}}
    accounts = spec.get("accounts") or [{"key": "mgmt", "management": True}]
    org = aws.client(aws.mgmt_account, "organizations")
    to_close = []
    if spec.get("organization"):
        try:
            organization = org.create_organization(FeatureSet="ALL")["Organization"]
        except ClientError as exc:
            if _error_code(exc) != "AlreadyInOrganizationException":
                raise
            organization = org.describe_organization()["Organization"]
        result["organization_id"] = organization["Id"]
        root_id = org.list_roots()["Roots"][0]["Id"]
        result["root_id"] = root_id

        def ou_id(path: str) -> str:
            parent = root_id
            for depth, name in enumerate(path.strip("/").split("/"), start=1):
                sub_path = "/".join(path.strip("/").split("/")[:depth])
                if sub_path not in result["ous"]:
                    existing = {o["Name"]: o["Id"] for page in org.get_paginator(
                        "list_organizational_units_for_parent").paginate(ParentId=parent)
                        for o in page["OrganizationalUnits"]}
                    result["ous"][sub_path] = existing.get(name) or org.create_organizational_unit(
                        ParentId=parent, Name=name)["OrganizationalUnit"]["Id"]
                parent = result["ous"][sub_path]
            return parent

        existing_accounts = {a["Email"]: a for page in org.get_paginator("list_accounts").paginate()
                             for a in page["Accounts"]}
        for acct in accounts:
            key = acct["key"]
            if acct.get("management"):
                info = org.describe_account(AccountId=aws.mgmt_account)["Account"]
                entry = {"id": aws.mgmt_account, "name": info["Name"], "email": info["Email"], "member": True,
                         "management": True, "state": info.get("State"), "status": info.get("Status")}
            elif acct.get("id"):
                entry = {"id": acct["id"], "name": acct.get("name", key), "email": acct.get("email"),
                         "member": False, "management": False, "state": None, "status": None}
            else:
                email = acct.get("email", f"{key}@example.com")
                name = acct.get("name", key)
                if email in existing_accounts:
                    account_id = existing_accounts[email]["Id"]
                else:
                    request = org.create_account(AccountName=name, Email=email)["CreateAccountStatus"]
                    status = org.describe_create_account_status(CreateAccountRequestId=request["Id"])
                    account_id = status["CreateAccountStatus"]["AccountId"]
                entry = {"id": account_id, "name": name, "email": email, "member": True, "management": False}
            if acct.get("ou") and entry["member"]:
                target = ou_id(acct["ou"])
                parent = org.list_parents(ChildId=entry["id"])["Parents"][0]["Id"]
                if parent != target:
                    org.move_account(AccountId=entry["id"], SourceParentId=parent, DestinationParentId=target)
                entry["ou"], entry["ou_id"] = acct["ou"], target
            if acct.get("close") and entry["member"]:
                to_close.append(key)
            result["accounts"][key] = entry
    else:
        for acct in accounts:
            key = acct["key"]
            account_id = acct.get("id") or (aws.mgmt_account if acct.get("management") else stable_account_id(key))
            result["accounts"][key] = {"id": account_id, "name": acct.get("name", key), "email": acct.get("email"),
                                       "member": False, "management": bool(acct.get("management")),
                                       "state": None, "status": None}

    for entry in result["accounts"].values():
        ensure_role(aws, entry["id"], role_name)

    for key, resources in (spec.get("resources") or {}).items():
        if key not in result["accounts"]:
            raise SystemExit(f"resources for unknown account key {key!r}")
        account = result["accounts"][key]["id"]
        out = {spec_key: {} for spec_key, _ in REGIONAL_SEEDERS.values()}
        out.update({spec_key: [] for spec_key, _ in ACCOUNT_SEEDERS.values()})
        for region, wanted in (resources.get("regions") or {}).items():
            for spec_key, seeder in REGIONAL_SEEDERS.values():
                if wanted.get(spec_key):
                    out[spec_key][region] = seeder(aws, account, key, region, wanted)
        for spec_key, seeder in ACCOUNT_SEEDERS.values():
            if resources.get(spec_key):
                out[spec_key] = seeder(aws, account, key, resources[spec_key])
        result["resources"][key] = out

    for key in to_close:  # last, so that closed accounts still got their role and resources
        result["accounts"][key].update(close_account(aws, result["accounts"][key]["id"]))
    if spec.get("organization"):
        for entry in result["accounts"].values():
            if entry["member"] and "state" not in entry:
                info = org.describe_account(AccountId=entry["id"])["Account"]
                entry["state"], entry["status"] = info.get("State"), info.get("Status")
    return result


# ----------------------------------------------------------------------------------------------
# Ops.
# ----------------------------------------------------------------------------------------------
def run_op(aws: Aws, op: dict) -> dict:
    kind, account = op["op"], str(op["account"])
    region = op.get("region", "us-east-1")
    out = {"op": kind, "account": account}
    if kind == "run_instances":
        out["ids"] = run_instances(aws, account, region, int(op.get("count", 1)),
                                   name_prefix=op.get("name_prefix"), tags=op.get("tags"), names=op.get("names", "auto"))
    elif kind == "terminate_instances":
        ids = list(op["ids"])
        for start in range(0, len(ids), 500):
            aws.client(account, "ec2", region).terminate_instances(InstanceIds=ids[start:start + 500])
        out["ids"] = ids
    elif kind == "create_cluster":
        out["arn"] = create_cluster(aws, account, region, op["name"], op.get("tags"))
    elif kind == "delete_cluster":
        aws.client(account, "ecs", region).delete_cluster(cluster=op["arn"])
        out["arn"] = op["arn"]
    elif kind == "create_bucket":
        out["name"] = create_bucket(aws, account, op)
    elif kind == "delete_bucket":
        delete_bucket(aws, account, op["name"])
        out["name"] = op["name"]
    elif kind == "close_account":
        out.update(close_account(aws, account))
    elif kind == "create_queue":
        sqs = aws.client(account, "sqs", region)
        url = sqs.create_queue(QueueName=op["name"])["QueueUrl"]
        out["url"] = url
        out["arn"] = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    elif kind == "receive_messages":
        # Every message currently visible (they stay hidden for VisibilityTimeout seconds after).
        sqs = aws.client(account, "sqs", region)
        messages = []
        while True:
            got = sqs.receive_message(QueueUrl=op["url"], MaxNumberOfMessages=10, VisibilityTimeout=300,
                                      WaitTimeSeconds=0).get("Messages", [])
            if not got:
                break
            messages += [{"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
                          "md5OfBody": m["MD5OfBody"]} for m in got]
        out["messages"] = messages
    elif kind == "create_secret":
        sm = aws.client(account, "secretsmanager", region)
        out["arn"] = sm.create_secret(Name=op["name"], SecretString=op["value"])["ARN"]
    elif kind == "put_object":
        s3 = aws.client(account, "s3", region)
        try:
            kwargs = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
            s3.create_bucket(Bucket=op["bucket"], **kwargs)
        except ClientError as exc:
            if _error_code(exc) not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise
        s3.put_object(Bucket=op["bucket"], Key=op["key"], Body=op["body"].encode())
        out["key"] = op["key"]
    elif kind == "put_parameter":
        aws.client(account, "ssm", region).put_parameter(
            Name=op["name"], Value=op["value"], Type=op.get("type", "String"), Overwrite=True)
        out["name"] = op["name"]
    elif kind == "create_tags":
        aws.client(account, "ec2", region).create_tags(
            Resources=list(op["ids"]), Tags=[{"Key": k, "Value": v} for k, v in op["tags"].items()])
    elif kind == "put_bucket_tagging":
        aws.client(account, "s3", region).put_bucket_tagging(Bucket=op["name"], Tagging={"TagSet": [
            {"Key": k, "Value": str(v)} for k, v in op["tags"].items()]})
    elif kind == "put_rule":
        events = aws.client(account, "events", region)
        out["arn"] = events.put_rule(Name=op["name"], EventPattern=json.dumps(op["pattern"]), State="ENABLED")["RuleArn"]
        events.put_targets(Rule=op["name"], Targets=[{"Id": "queue", "Arn": op["queue_arn"]}])
    elif kind == "put_events":
        entries = [{"Source": e["source"], "DetailType": e["detail-type"], "Detail": json.dumps(e["detail"]),
                    "Resources": e.get("resources", [])} for e in op["events"]]
        failed = 0
        for start in range(0, len(entries), 10):
            failed += aws.client(account, "events", region).put_events(Entries=entries[start:start + 10])["FailedEntryCount"]
        out["failed"] = failed
    elif kind == "leave_organization":
        aws.client(aws.mgmt_account, "organizations").remove_account_from_organization(AccountId=account)
    else:
        raise SystemExit(f"unknown op {kind!r}")
    out["ok"] = True
    return out


def _load(path: str):
    if path == "-":
        return json.load(sys.stdin)
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Seed a moto server with an AWS estate.")
    parser.add_argument("--endpoint", required=True, help="moto server URL, e.g. http://127.0.0.1:5000")
    parser.add_argument("--spec", help="spec JSON file, or - for stdin")
    parser.add_argument("--ops", help="JSON list of operations, or - for stdin (run after --spec)")
    args = parser.parse_args(argv)
    if not args.spec and not args.ops:
        parser.error("give --spec and/or --ops")
    if args.spec == "-" and args.ops == "-":
        parser.error("only one of --spec/--ops can read stdin")
    aws = Aws(args.endpoint.rstrip("/"))
    result: dict = seed(aws, _load(args.spec)) if args.spec else {}
    if args.ops:
        result["ops"] = [run_op(aws, op) for op in _load(args.ops)]
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
