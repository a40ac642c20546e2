"""Per-kind moto seeders for the aws-v3 kinds (one module per AWS service).

Every seeder is `seed_<kind>(client_factory, account_id, region) -> list[str]`: it creates two
resources of its kind with boto3 clients from `client_factory(service, account_id, region)` and
returns the identifiers the kind's aws-v3 example mapping gives them (the `identifier` expression of
docs/examples/<slug>/<slug>-mappings.yaml). `SEEDERS` maps the aws-v3 kind name to its seeder.

The CI/CD and messaging modules (codebuild, codedeploy, codepipeline, kafka, sesv2) take
`client_factory(service)` already bound to one account and region (they are exercised through
tests/support/fake_cicd_gaps.py); each has a `KINDS` table, gathered in `CICD_SEEDERS`.

The platform modules (iam, kms, secretsmanager, stepfunctions) take the same bound factory and have a
`KINDS` table too; moto serves them without gaps (tests/kinds_platform.rs). So do the edge and stack
kinds of `edge` (tests/kinds_edge.rs).
"""

from . import (
    dynamodb,
    edge,
    ec2,
    ec2_network,
    elbv2,
    ecr,
    ecs,
    eks,
    elasticache,
    aws_lambda,
    codebuild,
    codedeploy,
    codepipeline,
    iam,
    kafka,
    kms,
    sesv2,
    memorydb,
    organizations,
    rds,
    secretsmanager,
    sns,
    sqs,
    stepfunctions,
)

SEEDERS = {
    "AWS::Organizations::Account": organizations.seed_account,
    "AWS::EC2::Volume": ec2.seed_volume,
    "AWS::ECS::Service": ecs.seed_service,
    "AWS::ECS::TaskDefinition": ecs.seed_task_definition,
    "AWS::EKS::Cluster": eks.seed_cluster,
    "AWS::ECR::Repository": ecr.seed_repository,
    "AWS::Lambda::Function": aws_lambda.seed_function,
    "AWS::SQS::Queue": sqs.seed_queue,
    "AWS::SNS::Topic": sns.seed_topic,
    "AWS::RDS::DBInstance": rds.seed_db_instance,
    "AWS::RDS::DBCluster": rds.seed_db_cluster,
    "AWS::DynamoDB::Table": dynamodb.seed_table,
    "AWS::ElastiCache::Cluster": elasticache.seed_cluster,
    "AWS::MemoryDB::User": memorydb.seed_user,
}

CICD_SEEDERS = {
    **kafka.KINDS,
    **codebuild.KINDS,
    **codedeploy.KINDS,
    **codepipeline.KINDS,
    **sesv2.KINDS,
}
