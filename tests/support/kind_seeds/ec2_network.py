"""AWS::EC2::VPC, AWS::EC2::Subnet and AWS::EC2::SecurityGroup: two of each, tagged `seed`.

The seeders take `client_factory(service)` bound to one account and region. moto (like AWS)
pre-creates a default VPC with one default subnet per availability zone and a `default` security
group in every region; the new subnets and groups go into that default VPC (so seeding one kind
leaves the others' counts alone). Each returns every id of its kind in the region afterwards,
moto's defaults included: they belong in the catalog too.
"""

# Inside the default VPC's 172.31.0.0/16, clear of the default subnets' /20s at the start.
SUBNET_CIDRS = ["172.31.200.0/24", "172.31.201.0/24"]


def _tags(resource_type: str, name: str) -> list:
    return [{"ResourceType": resource_type,
             "Tags": [{"Key": "Name", "Value": name}, {"Key": "seed", "Value": name}]}]


def _default_vpc(ec2) -> str:
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    return vpcs[0]["VpcId"]


def seed_vpc(client_factory, account_id, region):
    """Returns every VpcId of the region (two seeded, the default one)."""
    ec2 = client_factory("ec2")
    for n, cidr in enumerate(["10.10.0.0/16", "10.11.0.0/16"]):
        ec2.create_vpc(CidrBlock=cidr, TagSpecifications=_tags("vpc", f"seed-vpc-{region}-{n}"))
    return [v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"]]


def seed_subnet(client_factory, account_id, region):
    """Returns every SubnetId of the region (two seeded, the default ones)."""
    ec2 = client_factory("ec2")
    vpc = _default_vpc(ec2)
    for n, cidr in enumerate(SUBNET_CIDRS):
        ec2.create_subnet(VpcId=vpc, CidrBlock=cidr, AvailabilityZone=f"{region}a",
                          TagSpecifications=_tags("subnet", f"seed-subnet-{region}-{n}"))
    return [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"]]


def seed_security_group(client_factory, account_id, region):
    """Returns every GroupId of the region (two seeded, one with an HTTPS rule; the defaults)."""
    ec2 = client_factory("ec2")
    vpc = _default_vpc(ec2)
    for n in range(2):
        name = f"seed-sg-{region}-{n}"
        group = ec2.create_security_group(GroupName=name, Description=f"seeded {n}", VpcId=vpc,
                                          TagSpecifications=_tags("security-group", name))
        if n == 0:
            ec2.authorize_security_group_ingress(
                GroupId=group["GroupId"],
                IpPermissions=[{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
                                "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    return [g["GroupId"] for g in ec2.describe_security_groups()["SecurityGroups"]]
