"""The edge and stack kinds: AWS::AutoScaling::AutoScalingGroup, AWS::CloudFormation::Stack and
AWS::ApiGateway::RestApi (regional), AWS::Route53::HostedZone and AWS::CloudFront::Distribution
(per account). Two of each, the first tagged `team=orders`; every seeder takes
`client_factory(service)` bound to one account and region and returns the identifiers the kind's
example mapping gives them (docs/examples/<slug>/).
"""

import json

TEAM = [{"Key": "team", "Value": "orders"}]

TEMPLATE = json.dumps({
    "AWSTemplateFormatVersion": "2010-09-09",
    "Resources": {"Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "PLACEHOLDER"}}},
    "Outputs": {"TopicArn": {"Value": {"Ref": "Topic"}}},
})


def _default_subnets(ec2):
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]},
                                            {"Name": "default-for-az", "Values": ["true"]}])["Subnets"]
    return [s["SubnetId"] for s in subnets[:2]]


def seed_autoscaling_group(client_factory, account_id, region):
    """Two groups of a launch template in the default VPC's first two subnets; returns their ARNs
    (`.Properties.AutoScalingGroupARN`)."""
    ec2 = client_factory("ec2")
    template = ec2.create_launch_template(
        LaunchTemplateName="seed-web", LaunchTemplateData={"ImageId": "ami-12c6146b", "InstanceType": "t3.micro"},
    )["LaunchTemplate"]["LaunchTemplateId"]
    subnets = ",".join(_default_subnets(ec2))
    asg = client_factory("autoscaling")
    names = ["seed-asg-orders", "seed-asg-batch"]
    for n, name in enumerate(names):
        asg.create_auto_scaling_group(
            AutoScalingGroupName=name, MinSize=0, MaxSize=2, DesiredCapacity=0,
            LaunchTemplate={"LaunchTemplateId": template, "Version": "$Latest"},
            VPCZoneIdentifier=subnets,
            Tags=[{"ResourceId": name, "ResourceType": "auto-scaling-group", "Key": t["Key"], "Value": t["Value"],
                   "PropagateAtLaunch": True} for t in (TEAM if n == 0 else [])],
        )
    groups = asg.describe_auto_scaling_groups(AutoScalingGroupNames=names)["AutoScalingGroups"]
    return [g["AutoScalingGroupARN"] for g in groups]


def seed_cloudformation_stack(client_factory, account_id, region):
    """Two stacks of one SNS topic each; returns their ids (`.Properties.StackId`)."""
    cfn = client_factory("cloudformation")
    ids = []
    for n, name in enumerate(["seed-stack-orders", "seed-stack-batch"]):
        body = TEMPLATE.replace("PLACEHOLDER", f"{name}-topic")
        made = cfn.create_stack(StackName=name, TemplateBody=body, Tags=TEAM if n == 0 else [])
        ids.append(made["StackId"])
    return ids


def seed_apigateway_rest_api(client_factory, account_id, region):
    """Two REST APIs; returns the ARNs the example builds (`arn:aws:apigateway:{region}::/restapis/{id}`)."""
    api = client_factory("apigateway")
    arns = []
    for n, name in enumerate(["seed-api-orders", "seed-api-batch"]):
        made = api.create_rest_api(name=name, description=f"{name} API", tags={"team": "orders"} if n == 0 else {},
                                   endpointConfiguration={"types": ["REGIONAL"]})
        arns.append(f"arn:aws:apigateway:{region}::/restapis/{made['id']}")
    return arns


def seed_route53_hosted_zone(client_factory, account_id, region):
    """Two public zones named after the account; returns their ids (`.Properties.Id`,
    `/hostedzone/...`)."""
    r53 = client_factory("route53")
    ids = []
    for n, name in enumerate([f"orders-{account_id}.example.com", f"batch-{account_id}.example.com"]):
        zone = r53.create_hosted_zone(Name=name, CallerReference=f"seed-{name}",
                                      HostedZoneConfig={"Comment": f"seed {name}", "PrivateZone": False})
        zone_id = zone["HostedZone"]["Id"]
        if n == 0:
            r53.change_tags_for_resource(ResourceType="hostedzone", ResourceId=zone_id.rsplit("/", 1)[-1],
                                         AddTags=TEAM)
        ids.append(zone_id)
    return ids


def _distribution_config(name):
    return {
        "CallerReference": f"seed-{name}", "Comment": name, "Enabled": True,
        "Origins": {"Quantity": 1, "Items": [{"Id": "origin", "DomainName": f"{name}.s3.amazonaws.com",
                                              "S3OriginConfig": {"OriginAccessIdentity": ""}}]},
        "DefaultCacheBehavior": {"TargetOriginId": "origin", "ViewerProtocolPolicy": "allow-all",
                                 "MinTTL": 0, "ForwardedValues": {"QueryString": False, "Cookies": {"Forward": "none"}},
                                 "TrustedSigners": {"Enabled": False, "Quantity": 0}},
    }


def seed_cloudfront_distribution(client_factory, account_id, region):
    """Two distributions of an S3 origin; returns their ARNs (`.Properties.ARN`)."""
    cf = client_factory("cloudfront")
    arns = []
    for n, name in enumerate(["seed-cdn-orders", "seed-cdn-batch"]):
        made = cf.create_distribution_with_tags(DistributionConfigWithTags={
            "DistributionConfig": _distribution_config(name),
            "Tags": {"Items": TEAM if n == 0 else []},
        })["Distribution"]
        arns.append(made["ARN"])
    return arns


KINDS = {
    "AWS::AutoScaling::AutoScalingGroup": seed_autoscaling_group,
    "AWS::CloudFormation::Stack": seed_cloudformation_stack,
    "AWS::ApiGateway::RestApi": seed_apigateway_rest_api,
    "AWS::Route53::HostedZone": seed_route53_hosted_zone,
    "AWS::CloudFront::Distribution": seed_cloudfront_distribution,
}
