"""Self-check of tests/support/kind_seeds/ and tests/support/fake_cicd_gaps.py against a real
moto server: every seeder creates its two resources in an assumed member account, and the list and
describe calls the kind needs find exactly the identifiers the seeder returned. The operations moto
lacks go through the fake, with boto3 forced onto the AWS JSON 1.1 protocol the sync client speaks
(botocore prefers CBOR for CodeDeploy and CodePipeline).

Runs under pytest or `python -m unittest tests/support/test_kind_seeds.py`. Needs boto3 and moto.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
import urllib.request
from pathlib import Path

import boto3
import botocore.session
from botocore.config import Config

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from kind_seeds import codebuild, codedeploy, codepipeline, kafka, sesv2  # noqa: E402

ACCOUNT = "222222222222"
REGION = "eu-west-1"
JSON_ONLY = ("codedeploy", "codepipeline", "codebuild")


def json_protocol_models() -> str:
    """A botocore data directory where the CBOR-first services offer only `json`."""
    root = tempfile.mkdtemp(prefix="pas-models-")
    loader = botocore.session.get_session().get_component("data_loader")
    for service in JSON_ONLY:
        version = loader.determine_latest_version(service, "service-2")
        model = loader.load_service_model(service, "service-2", version)
        model["metadata"]["protocols"] = ["json"]
        model["metadata"]["protocol"] = "json"
        target = Path(root, service, version)
        target.mkdir(parents=True)
        (target / "service-2.json").write_text(json.dumps(model))
    return root


class KindSeedsTest(unittest.TestCase):
    procs: list

    @classmethod
    def setUpClass(cls):
        cls.procs = []
        moto = cls._start([shutil.which("moto_server") or str(Path(sys.executable).with_name("moto_server")),
                           "-H", "127.0.0.1", "-p0"], r"Running on http://127\.0\.0\.1:(\d+)", stderr=True)
        cls.moto = f"http://127.0.0.1:{moto}"
        fake = cls._start([sys.executable, str(HERE / "fake_cicd_gaps.py"), "--upstream", cls.moto],
                          r"LISTENING (\d+)")
        cls.fake = f"http://127.0.0.1:{fake}"
        cls.models = json_protocol_models()
        sts = boto3.client("sts", endpoint_url=cls.moto, region_name=REGION,
                           aws_access_key_id="testing", aws_secret_access_key="testing")
        creds = sts.assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/OrganizationAccountAccessRole",
                                RoleSessionName="kind-seeds")["Credentials"]
        session = botocore.session.get_session()
        session.get_component("data_loader").search_paths.insert(0, cls.models)
        cls.session = boto3.Session(botocore_session=session, aws_access_key_id=creds["AccessKeyId"],
                                    aws_secret_access_key=creds["SecretAccessKey"],
                                    aws_session_token=creds["SessionToken"], region_name=REGION)

    @classmethod
    def tearDownClass(cls):
        for proc in cls.procs:
            proc.terminate()
            proc.wait(timeout=10)
        shutil.rmtree(cls.models, ignore_errors=True)

    @classmethod
    def _start(cls, argv, pattern, stderr=False):
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        cls.procs.append(proc)
        stream = proc.stderr if stderr else proc.stdout
        for _ in range(200):
            line = stream.readline()
            match = re.search(pattern, line)
            if match:
                return int(match.group(1))
        raise RuntimeError(f"{argv[0]} did not start")

    def client(self, service):
        return self.session.client(service, endpoint_url=self.fake,
                                   config=Config(retries={"max_attempts": 1}))

    def test_msk(self):
        arns = kafka.seed_msk_cluster(self.client, ACCOUNT, REGION)
        serverless = kafka.seed_msk_serverless_cluster(self.client, ACCOUNT, REGION)
        k = self.client("kafka")
        provisioned = k.list_clusters_v2(ClusterTypeFilter="PROVISIONED")["ClusterInfoList"]
        self.assertEqual(sorted(c["ClusterArn"] for c in provisioned), sorted(arns))
        self.assertEqual(k.describe_cluster(ClusterArn=arns[0])["ClusterInfo"]["ClusterArn"], arns[0])
        found = k.list_clusters_v2(ClusterTypeFilter="SERVERLESS")["ClusterInfoList"]
        self.assertEqual(sorted(c["ClusterArn"] for c in found), sorted(serverless))
        self.assertIn("VpcConfigs", found[0]["Serverless"])

    def test_codebuild(self):
        arns = codebuild.seed_codebuild_project(self.client, ACCOUNT, REGION)
        builds = codebuild.seed_codebuild_build_run(self.client, ACCOUNT, REGION)
        cb = self.client("codebuild")
        names = cb.list_projects()["projects"]
        got = cb.batch_get_projects(names=names)["projects"]
        self.assertTrue(set(arns) <= {p["arn"] for p in got})
        self.assertEqual(sorted(b["id"] for b in cb.batch_get_builds(ids=cb.list_builds()["ids"])["builds"]),
                         sorted(builds))

    def test_ses(self):
        identities = sesv2.seed_ses_email_identity(self.client, ACCOUNT, REGION)
        sets = sesv2.seed_ses_configuration_set(self.client, ACCOUNT, REGION)
        ses = self.client("sesv2")
        listed = [i["IdentityName"] for i in ses.list_email_identities()["EmailIdentities"]]
        self.assertEqual(sorted(listed), sorted(identities))
        self.assertEqual(ses.get_email_identity(EmailIdentity=identities[0])["Tags"][0]["Key"], "Team")
        self.assertEqual(sorted(ses.list_configuration_sets()["ConfigurationSets"]), sorted(sets))
        got = ses.get_configuration_set(ConfigurationSetName=sets[0])
        self.assertEqual(got["DeliveryOptions"]["TlsPolicy"], "REQUIRE")

    def test_codedeploy(self):
        app_ids = codedeploy.seed_codedeploy_application(self.client, ACCOUNT, REGION)
        group_ids = codedeploy.seed_codedeploy_deployment_group(self.client, ACCOUNT, REGION)
        deployments = codedeploy.seed_codedeploy_deployment(self.client, ACCOUNT, REGION)
        targets = codedeploy.seed_codedeploy_deployment_target(self.client, ACCOUNT, REGION)
        cd = self.client("codedeploy")
        apps = cd.batch_get_applications(applicationNames=cd.list_applications()["applications"])
        self.assertTrue(set(app_ids) <= {a["applicationId"] for a in apps["applicationsInfo"]})
        groups = cd.list_deployment_groups(applicationName="grouped-app")["deploymentGroups"]
        got = cd.batch_get_deployment_groups(applicationName="grouped-app", deploymentGroupNames=groups + ["gone"])
        self.assertEqual(sorted(g["deploymentGroupId"] for g in got["deploymentGroupsInfo"]), sorted(group_ids))
        self.assertIn("gone", got["errorMessage"])
        listed = cd.list_deployments()["deployments"]
        got = cd.batch_get_deployments(deploymentIds=deployments)["deploymentsInfo"]
        self.assertEqual(sorted(d["deploymentId"] for d in got), sorted(deployments))
        found = []
        for deployment_id in [t.split("/")[0] for t in targets]:
            self.assertIn(deployment_id, listed)
            ids = cd.list_deployment_targets(deploymentId=deployment_id)["targetIds"]
            batch = cd.batch_get_deployment_targets(deploymentId=deployment_id, targetIds=ids)
            for target in batch["deploymentTargets"]:
                self.assertEqual(target["deploymentTargetType"], "InstanceTarget")
                self.assertIn(f":{ACCOUNT}:instance/", target["instanceTarget"]["targetArn"])
                found.append(f"{deployment_id}/{target['instanceTarget']['targetId']}")
        self.assertEqual(sorted(found), sorted(targets))
        with self.assertRaises(cd.exceptions.ClientError) as err:
            cd.list_deployment_targets(deploymentId="d-NOPE00000")
        self.assertEqual(err.exception.response["Error"]["Code"], "DeploymentDoesNotExistException")

    def test_codepipeline(self):
        cp = self.client("codepipeline")
        arns = codepipeline.seed_codepipeline_pipeline(self.client, ACCOUNT, REGION)
        stages = codepipeline.seed_codepipeline_stage(self.client, ACCOUNT, REGION)
        actions = codepipeline.seed_codepipeline_action(self.client, ACCOUNT, REGION)
        executions = codepipeline.seed_codepipeline_pipeline_execution(self.client, ACCOUNT, REGION)
        action_executions = codepipeline.seed_codepipeline_action_execution(self.client, ACCOUNT, REGION)
        names = [p["name"] for p in cp.list_pipelines()["pipelines"]]
        got = {cp.get_pipeline(name=n)["metadata"]["pipelineArn"]: cp.get_pipeline(name=n)["pipeline"]
               for n in names}
        self.assertTrue(set(arns) <= set(got))
        self.assertEqual(cp.list_tags_for_resource(resourceArn=arns[0])["tags"][0]["key"], "Team")
        derived_stages = [f"{arn}/{s['name']}" for arn, p in got.items() for s in p["stages"]]
        self.assertTrue(set(stages) <= set(derived_stages))
        derived_actions = [f"{arn}/{s['name']}/{a['name']}" for arn, p in got.items()
                           for s in p["stages"] for a in s["actions"]]
        self.assertTrue(set(actions) <= set(derived_actions))
        summaries = cp.list_pipeline_executions(pipelineName="executed")["pipelineExecutionSummaries"]
        self.assertEqual(sorted(s["pipelineExecutionId"] for s in summaries), sorted(executions))
        one = cp.get_pipeline_execution(pipelineName="executed", pipelineExecutionId=executions[0])
        self.assertEqual(one["pipelineExecution"]["pipelineExecutionId"], executions[0])
        pages = cp.get_paginator("list_action_executions").paginate(
            pipelineName="action-executed", PaginationConfig={"PageSize": 1})
        details = [d for page in pages for d in page["actionExecutionDetails"]]
        self.assertEqual(sorted(d["actionExecutionId"] for d in details), sorted(action_executions))
        self.assertEqual({d["stageName"] for d in details}, {"Source", "Build"})

    def test_fake_forwards_everything_else(self):
        with urllib.request.urlopen(f"{self.fake}/_fake/log") as resp:
            log = json.load(resp)
        self.assertIsInstance(log["forwarded"], int)
        self.assertTrue(all(op in {"BatchGetDeploymentGroups", "ListDeploymentTargets",
                                   "BatchGetDeploymentTargets", "ListActionExecutions"}
                            for op in log["answered"]))


if __name__ == "__main__":
    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    unittest.main()
