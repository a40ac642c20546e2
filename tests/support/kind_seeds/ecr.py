"""AWS::ECR::Repository."""


def seed_repository(client_factory, account_id, region):
    """Creates two repositories (one with a lifecycle policy); returns their ARNs (`.Properties.RepositoryArn`)."""
    ecr = client_factory("ecr", account_id, region)
    arns = []
    for name in ("seed/api", "seed/worker"):
        repo = ecr.create_repository(
            repositoryName=name,
            imageTagMutability="IMMUTABLE",
            imageScanningConfiguration={"scanOnPush": True},
            tags=[{"Key": "seed", "Value": name}],
        )
        arns.append(repo["repository"]["repositoryArn"])
    ecr.put_lifecycle_policy(
        repositoryName="seed/api",
        lifecyclePolicyText='{"rules":[{"rulePriority":1,"selection":{"tagStatus":"untagged",'
        '"countType":"sinceImagePushed","countUnit":"days","countNumber":14},"action":{"type":"expire"}}]}',
    )
    return arns
