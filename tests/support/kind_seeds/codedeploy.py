"""CodeDeploy: Application, DeploymentGroup, Deployment and DeploymentTarget.

moto has no deployment targets and no BatchGetDeploymentGroups; the DeploymentTarget identifiers
returned here are the ones tests/support/fake_cicd_gaps.py derives (one instance target per
deployment, see MOTO_NOTES.md §10).
"""


def _app(codedeploy, name):
    codedeploy.create_application(applicationName=name, computePlatform="Server",
                                  tags=[{"Key": "Team", "Value": name}])
    return codedeploy.get_application(applicationName=name)["application"]["applicationId"]


def _group(codedeploy, account_id, app, name):
    return codedeploy.create_deployment_group(
        applicationName=app, deploymentGroupName=name,
        serviceRoleArn=f"arn:aws:iam::{account_id}:role/CodeDeployServiceRole",
        deploymentStyle={"deploymentType": "IN_PLACE", "deploymentOption": "WITHOUT_TRAFFIC_CONTROL"},
        ec2TagFilters=[{"Key": "app", "Value": app, "Type": "KEY_AND_VALUE"}],
    )["deploymentGroupId"]


def _deploy(codedeploy, app, group):
    return codedeploy.create_deployment(
        applicationName=app, deploymentGroupName=group,
        revision={"revisionType": "S3", "s3Location": {"bucket": "releases", "key": f"{app}.zip", "bundleType": "zip"}},
        description=f"release of {app}",
    )["deploymentId"]


def seed_codedeploy_application(client_factory, account_id, region):
    codedeploy = client_factory("codedeploy")
    return [_app(codedeploy, name) for name in ("web-app", "worker")]


def seed_codedeploy_deployment_group(client_factory, account_id, region):
    codedeploy = client_factory("codedeploy")
    _app(codedeploy, "grouped-app")
    return [_group(codedeploy, account_id, "grouped-app", name) for name in ("staging", "production")]


def seed_codedeploy_deployment(client_factory, account_id, region):
    codedeploy = client_factory("codedeploy")
    _app(codedeploy, "deployed-app")
    _group(codedeploy, account_id, "deployed-app", "production")
    return [_deploy(codedeploy, "deployed-app", "production") for _ in range(2)]


def target_id(deployment_id):
    """The instance id the fake gives a deployment's only target."""
    return "i-" + deployment_id.encode().hex()[:17].rjust(17, "0")


def seed_codedeploy_deployment_target(client_factory, account_id, region):
    codedeploy = client_factory("codedeploy")
    _app(codedeploy, "targeted-app")
    _group(codedeploy, account_id, "targeted-app", "production")
    ids = [_deploy(codedeploy, "targeted-app", "production") for _ in range(2)]
    return [f"{d}/{target_id(d)}" for d in ids]


KINDS = {
    "AWS::CodeDeploy::Application": seed_codedeploy_application,
    "AWS::CodeDeploy::DeploymentGroup": seed_codedeploy_deployment_group,
    "AWS::CodeDeploy::Deployment": seed_codedeploy_deployment,
    "AWS::CodeDeploy::DeploymentTarget": seed_codedeploy_deployment_target,
}
