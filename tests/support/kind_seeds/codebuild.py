"""CodeBuild: AWS::CodeBuild::Project and AWS::CodeBuild::BuildRun."""


def _project(codebuild, account_id, name):
    return codebuild.create_project(
        name=name,
        source={"type": "S3", "location": f"releases/{name}.zip"},
        artifacts={"type": "NO_ARTIFACTS"},
        environment={"type": "LINUX_CONTAINER", "image": "aws/codebuild/amazonlinux-x86_64-standard:5.0",
                     "computeType": "BUILD_GENERAL1_SMALL"},
        serviceRole=f"arn:aws:iam::{account_id}:role/codebuild-service-role",
        tags=[{"key": "Team", "value": name}],
    )["project"]


def seed_codebuild_project(client_factory, account_id, region):
    codebuild = client_factory("codebuild")
    return [_project(codebuild, account_id, name)["arn"] for name in ("web-app-build", "api-build")]


def seed_codebuild_build_run(client_factory, account_id, region):
    codebuild = client_factory("codebuild")
    _project(codebuild, account_id, "nightly-build")
    return [codebuild.start_build(projectName="nightly-build")["build"]["id"] for _ in range(2)]


KINDS = {
    "AWS::CodeBuild::Project": seed_codebuild_project,
    "AWS::CodeBuild::BuildRun": seed_codebuild_build_run,
}
