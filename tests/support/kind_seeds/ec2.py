"""AWS::EC2::Volume: two EBS volumes, one named with a Name tag."""


def seed_volume(client_factory, account_id, region):
    """Returns the volume ids (aws-v3 identifier `.Properties.VolumeId`)."""
    ec2 = client_factory("ec2", account_id, region)
    zone = f"{region}a"
    ids = []
    for n, (size, kind) in enumerate([(8, "gp3"), (20, "io1")]):
        extra = {"Iops": 1000} if kind == "io1" else {}
        vol = ec2.create_volume(
            AvailabilityZone=zone,
            Size=size,
            VolumeType=kind,
            TagSpecifications=[
                {"ResourceType": "volume", "Tags": [{"Key": "Name", "Value": f"seed-vol-{n}"}]}
            ],
            **extra,
        )
        ids.append(vol["VolumeId"])
    return ids
