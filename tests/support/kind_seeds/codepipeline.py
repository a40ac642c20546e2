"""CodePipeline: Pipeline, Stage, Action, PipelineExecution and ActionExecution.

moto has no ListActionExecutions; the ActionExecution identifiers returned here are the ones
tests/support/fake_cicd_gaps.py derives from moto's executions (MOTO_NOTES.md §10).
"""

import json
import uuid

STAGES = [
    {"name": "Source", "actions": [{
        "name": "Source", "runOrder": 1,
        "actionTypeId": {"category": "Source", "owner": "AWS", "provider": "S3", "version": "1"},
        "configuration": {"S3Bucket": "releases", "S3ObjectKey": "app.zip"},
        "outputArtifacts": [{"name": "SourceOutput"}]}]},
    {"name": "Build", "actions": [{
        "name": "Build", "runOrder": 1,
        "actionTypeId": {"category": "Build", "owner": "AWS", "provider": "CodeBuild", "version": "1"},
        "configuration": {"ProjectName": "web-app-build"},
        "inputArtifacts": [{"name": "SourceOutput"}]}]},
]


def _role(client_factory, account_id):
    """CodePipeline in moto refuses a role that IAM does not know."""
    iam = client_factory("iam")
    try:
        iam.create_role(RoleName="codepipeline-role", AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                    "Principal": {"Service": "codepipeline.amazonaws.com"}}]}))
    except iam.exceptions.EntityAlreadyExistsException:
        pass


def _pipeline(codepipeline, account_id, name):
    codepipeline.create_pipeline(pipeline={
        "name": name, "roleArn": f"arn:aws:iam::{account_id}:role/codepipeline-role",
        "artifactStore": {"type": "S3", "location": "pipeline-artifacts"}, "stages": STAGES,
    }, tags=[{"key": "Team", "value": name}])
    return codepipeline.get_pipeline(name=name)["metadata"]["pipelineArn"]


def seed_codepipeline_pipeline(client_factory, account_id, region):
    codepipeline = client_factory("codepipeline")
    _role(client_factory, account_id)
    return [_pipeline(codepipeline, account_id, name) for name in ("web-app", "api")]


def seed_codepipeline_stage(client_factory, account_id, region):
    codepipeline = client_factory("codepipeline")
    _role(client_factory, account_id)
    arn = _pipeline(codepipeline, account_id, "staged")
    return [f"{arn}/{stage['name']}" for stage in STAGES]


def seed_codepipeline_action(client_factory, account_id, region):
    codepipeline = client_factory("codepipeline")
    _role(client_factory, account_id)
    arn = _pipeline(codepipeline, account_id, "acting")
    return [f"{arn}/{s['name']}/{a['name']}" for s in STAGES for a in s["actions"]]


def seed_codepipeline_pipeline_execution(client_factory, account_id, region):
    codepipeline = client_factory("codepipeline")
    _role(client_factory, account_id)
    _pipeline(codepipeline, account_id, "executed")
    return [codepipeline.start_pipeline_execution(name="executed")["pipelineExecutionId"] for _ in range(2)]


def action_execution_id(pipeline_execution_id, stage, action):
    """The id the fake gives the action execution of `stage/action` in a pipeline execution."""
    return str(uuid.uuid5(uuid.UUID(pipeline_execution_id), f"{stage}/{action}"))


def seed_codepipeline_action_execution(client_factory, account_id, region):
    """One execution of a two-action pipeline: two action executions."""
    codepipeline = client_factory("codepipeline")
    _role(client_factory, account_id)
    _pipeline(codepipeline, account_id, "action-executed")
    execution = codepipeline.start_pipeline_execution(name="action-executed")["pipelineExecutionId"]
    return [action_execution_id(execution, s["name"], a["name"]) for s in STAGES for a in s["actions"]]


KINDS = {
    "AWS::CodePipeline::Pipeline": seed_codepipeline_pipeline,
    "AWS::CodePipeline::Stage": seed_codepipeline_stage,
    "AWS::CodePipeline::Action": seed_codepipeline_action,
    "AWS::CodePipeline::PipelineExecution": seed_codepipeline_pipeline_execution,
    "AWS::CodePipeline::ActionExecution": seed_codepipeline_action_execution,
}
