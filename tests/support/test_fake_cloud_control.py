"""Contract tests for tests/support/fake_cloud_control.py, with boto3 as the reference client: if
boto3's own cloudcontrol client pages through the fake and reads its errors as AWS's, the fake
speaks Cloud Control's wire protocol.

Runs under pytest or `python -m unittest tests/support/test_fake_cloud_control.py`. Needs boto3.
"""

from __future__ import annotations

import json
import subprocess
import sys
import unittest
import urllib.request
from pathlib import Path

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

HERE = Path(__file__).resolve().parent
SEED = {
    "types": {
        "AWS::Logs::LogGroup": {
            "page_size": 2,
            "resources": [
                {"Identifier": f"g{i}", "Properties": {"LogGroupName": f"g{i}", "RetentionInDays": i}}
                for i in range(5)
            ],
        },
        "AWS::Kinesis::Stream": {
            "list": "identifier",
            "identifier_keys": ["Name"],
            "resources": [{"Identifier": "s", "Properties": {"Name": "s", "ShardCount": 2}}],
        },
        "AWS::Only::Ireland": {"regions": ["eu-west-1"], "resources": []},
        "AWS::No::List": {"error": "UnsupportedActionException"},
    }
}


class FakeCloudControlTest(unittest.TestCase):
    proc: subprocess.Popen
    base: str

    @classmethod
    def setUpClass(cls):
        cls.proc = subprocess.Popen(
            [sys.executable, str(HERE / "fake_cloud_control.py"), "--seed", json.dumps(SEED)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = cls.proc.stdout.readline()
        if not line.startswith("LISTENING "):
            cls.proc.kill()
            raise RuntimeError(f"fake_cloud_control did not start: {line!r} {cls.proc.stderr.read()}")
        cls.base = f"http://127.0.0.1:{int(line.split()[1])}"

    @classmethod
    def tearDownClass(cls):
        cls.proc.terminate()
        cls.proc.wait(timeout=5)
        cls.proc.stdout.close()
        cls.proc.stderr.close()

    def client(self, region="us-east-1"):
        return boto3.client(
            "cloudcontrol", region_name=region, endpoint_url=self.base,
            aws_access_key_id="testing", aws_secret_access_key="testing",
            config=Config(retries={"total_max_attempts": 1, "mode": "standard"}))

    def test_boto3_pages_through_list_resources(self):
        pages = list(self.client().get_paginator("list_resources").paginate(TypeName="AWS::Logs::LogGroup"))
        self.assertEqual([len(p["ResourceDescriptions"]) for p in pages], [2, 2, 1])
        first = pages[0]["ResourceDescriptions"][0]
        self.assertEqual(first["Identifier"], "g0")
        self.assertEqual(json.loads(first["Properties"]), {"LogGroupName": "g0", "RetentionInDays": 0})

    def test_max_results_lowers_the_page_size(self):
        page = self.client().list_resources(TypeName="AWS::Logs::LogGroup", MaxResults=1)
        self.assertEqual(len(page["ResourceDescriptions"]), 1)
        self.assertIn("NextToken", page)

    def test_identifier_only_listing_and_get_resource(self):
        listed = self.client().list_resources(TypeName="AWS::Kinesis::Stream")["ResourceDescriptions"]
        self.assertEqual(json.loads(listed[0]["Properties"]), {"Name": "s"})
        got = self.client().get_resource(TypeName="AWS::Kinesis::Stream", Identifier="s")
        self.assertEqual(json.loads(got["ResourceDescription"]["Properties"]), {"Name": "s", "ShardCount": 2})

    def assert_code(self, code, call, **kwargs):
        with self.assertRaises(ClientError) as caught:
            call(**kwargs)
        self.assertEqual(caught.exception.response["Error"]["Code"], code)
        self.assertEqual(caught.exception.response["ResponseMetadata"]["HTTPStatusCode"], 400)

    def test_errors_read_as_aws_error_codes(self):
        c = self.client()
        self.assert_code("TypeNotFoundException", c.list_resources, TypeName="AWS::Not::Seeded")
        self.assert_code("TypeNotFoundException", c.list_resources, TypeName="AWS::Only::Ireland")
        self.client("eu-west-1").list_resources(TypeName="AWS::Only::Ireland")
        self.assert_code("UnsupportedActionException", c.list_resources, TypeName="AWS::No::List")
        self.assert_code("ResourceNotFoundException", c.get_resource, TypeName="AWS::Kinesis::Stream", Identifier="x")
        self.assert_code("InvalidRequestException", c.list_resources, TypeName="AWS::Logs::LogGroup", NextToken="junk")

    def test_log_records_each_request(self):
        self.client().list_resources(TypeName="AWS::Logs::LogGroup")
        with urllib.request.urlopen(f"{self.base}/_fake/log") as response:
            log = json.load(response)
        last = log["requests"][-1]
        self.assertEqual((last["operation"], last["type"], last["region"], last["status"]),
                         ("ListResources", "AWS::Logs::LogGroup", "us-east-1", 200))


class ThrottlingTest(unittest.TestCase):
    def test_first_requests_are_throttled_then_served(self):
        proc = subprocess.Popen(
            [sys.executable, str(HERE / "fake_cloud_control.py"),
             "--seed", json.dumps({"throttle_first": 1, "types": SEED["types"]})],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            base = f"http://127.0.0.1:{int(proc.stdout.readline().split()[1])}"
            c = boto3.client("cloudcontrol", region_name="us-east-1", endpoint_url=base,
                             aws_access_key_id="testing", aws_secret_access_key="testing",
                             config=Config(retries={"total_max_attempts": 1, "mode": "standard"}))
            with self.assertRaises(ClientError) as caught:
                c.list_resources(TypeName="AWS::Logs::LogGroup")
            self.assertEqual(caught.exception.response["Error"]["Code"], "ThrottlingException")
            self.assertEqual(len(c.list_resources(TypeName="AWS::Logs::LogGroup")["ResourceDescriptions"]), 2)
        finally:
            proc.terminate()
            proc.wait(timeout=5)
            proc.stdout.close()


if __name__ == "__main__":
    unittest.main()
