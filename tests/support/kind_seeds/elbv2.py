"""AWS::ElasticLoadBalancingV2::LoadBalancer and ::TargetGroup: two of each, tagged `seed`.

The seeders take `client_factory(service)` bound to one account and region and build in the
region's default VPC (its default subnets and `default` security group). The first target group
is forwarded to by a listener of the first load balancer when there is one, so its
`LoadBalancerArns` relate it. Each returns the ARNs it made (the examples' identifiers).
"""


def _tags(name: str) -> list:
    return [{"Key": "Name", "Value": name}, {"Key": "seed", "Value": name}]


def _default_network(ec2):
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]},
                                            {"Name": "default-for-az", "Values": ["true"]}])["Subnets"]
    groups = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc]},
                                                   {"Name": "group-name", "Values": ["default"]}])
    return vpc, [s["SubnetId"] for s in subnets[:2]], [g["GroupId"] for g in groups["SecurityGroups"]]


def seed_load_balancer(client_factory, account_id, region):
    """Two application load balancers in the default VPC's first two subnets."""
    _, subnets, groups = _default_network(client_factory("ec2"))
    elbv2 = client_factory("elbv2")
    arns = []
    for n in range(2):
        name = f"seed-lb-{n}"
        lb = elbv2.create_load_balancer(Name=name, Subnets=subnets, SecurityGroups=groups,
                                        Scheme="internet-facing", Type="application", Tags=_tags(name))
        arns.append(lb["LoadBalancers"][0]["LoadBalancerArn"])
    return arns


def seed_target_group(client_factory, account_id, region):
    """Two HTTP target groups; the first behind a listener of the region's first load balancer."""
    vpc, _, _ = _default_network(client_factory("ec2"))
    elbv2 = client_factory("elbv2")
    arns = []
    for n in range(2):
        name = f"seed-tg-{n}"
        group = elbv2.create_target_group(Name=name, Protocol="HTTP", Port=80 + n, VpcId=vpc,
                                          HealthCheckPath="/health", Tags=_tags(name))
        arns.append(group["TargetGroups"][0]["TargetGroupArn"])
    lbs = elbv2.describe_load_balancers()["LoadBalancers"]
    if lbs:
        elbv2.create_listener(LoadBalancerArn=lbs[0]["LoadBalancerArn"], Protocol="HTTP", Port=80,
                              DefaultActions=[{"Type": "forward", "TargetGroupArn": arns[0]}])
    return arns
