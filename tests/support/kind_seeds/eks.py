"""AWS::EKS::Cluster."""


def seed_cluster(client_factory, account_id, region):
    """Creates two clusters; returns their ARNs (`.Properties.Arn`)."""
    eks = client_factory("eks", account_id, region)
    arns = []
    for name in ("seed-platform", "seed-data"):
        cluster = eks.create_cluster(
            name=name,
            version="1.31",
            roleArn=f"arn:aws:iam::{account_id}:role/seed-eks",
            resourcesVpcConfig={"subnetIds": ["subnet-0a1b2c3d", "subnet-4e5f6a7b"]},
            tags={"seed": name},
        )
        arns.append(cluster["cluster"]["arn"])
    return arns
