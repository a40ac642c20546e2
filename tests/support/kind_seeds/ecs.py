"""AWS::ECS::Service and AWS::ECS::TaskDefinition."""

CLUSTER = "seed-cluster"


def seed_task_definition(client_factory, account_id, region):
    """Registers two task definition families; returns their ARNs (`.Properties.TaskDefinitionArn`)."""
    ecs = client_factory("ecs", account_id, region)
    arns = []
    for family in ("seed-api", "seed-worker"):
        td = ecs.register_task_definition(
            family=family,
            networkMode="awsvpc",
            requiresCompatibilities=["FARGATE"],
            cpu="256",
            memory="512",
            containerDefinitions=[{"name": "app", "image": "nginx:1.27", "essential": True}],
            tags=[{"key": "seed", "value": family}],
        )
        arns.append(td["taskDefinition"]["taskDefinitionArn"])
    return arns


def seed_service(client_factory, account_id, region):
    """Creates a cluster with two services; returns the service ARNs (`.Properties.ServiceArn`)."""
    ecs = client_factory("ecs", account_id, region)
    ecs.create_cluster(clusterName=CLUSTER)
    td = ecs.register_task_definition(
        family="seed-svc",
        containerDefinitions=[{"name": "app", "image": "nginx:1.27", "memory": 128}],
    )["taskDefinition"]["taskDefinitionArn"]
    arns = []
    for name in ("seed-web", "seed-jobs"):
        svc = ecs.create_service(
            cluster=CLUSTER,
            serviceName=name,
            taskDefinition=td,
            desiredCount=1,
            tags=[{"key": "seed", "value": name}],
        )
        arns.append(svc["service"]["serviceArn"])
    return arns
