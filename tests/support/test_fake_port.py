"""Contract tests for tests/support/fake_port.py.

Runs under pytest (`python -m pytest tests/support/test_fake_port.py`) or, without pytest,
`python -m unittest tests/support/test_fake_port.py`. Needs jsonschema in the interpreter.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
CLIENT_ID, CLIENT_SECRET = "test-client", "test-secret"
UA = "port-aws-sync/0.0.0-test (install/t1)"

ACCOUNT_BP = {"identifier": "awsAccount", "title": "AWS account",
              "schema": {"properties": {"name": {"type": "string"}}, "required": []}}
INSTANCE_BP = {"identifier": "awsEc2Instance", "title": "EC2 instance",
               "schema": {"properties": {"state": {"type": "string", "enum": ["running", "stopped"]},
                                         "launchTime": {"type": "string", "format": "date-time"},
                                         "cpus": {"type": "number"}, "tags": {"type": "object"}},
                          "required": []},
               "relations": {"account": {"title": "Account", "target": "awsAccount", "required": False, "many": False},
                             "peers": {"title": "Peers", "target": "awsEc2Instance", "required": False, "many": True}}}


class FakePortTest(unittest.TestCase):
    proc: subprocess.Popen
    base: str

    @classmethod
    def setUpClass(cls):
        started = time.time()
        cls.proc = subprocess.Popen(
            [sys.executable, str(HERE / "fake_port.py"), "--port", "0", "--client-id", CLIENT_ID,
             "--client-secret", CLIENT_SECRET, "--quiet"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = cls.proc.stdout.readline()
        if not line.startswith("LISTENING "):
            cls.proc.kill()
            raise RuntimeError(f"fake_port did not start: {line!r} {cls.proc.stderr.read()}")
        cls.startup_seconds = time.time() - started
        cls.base = f"http://127.0.0.1:{int(line.split()[1])}"

    @classmethod
    def tearDownClass(cls):
        cls.proc.terminate()
        cls.proc.wait(timeout=5)
        cls.proc.stdout.close()
        cls.proc.stderr.close()

    def setUp(self):
        self.call("POST", "/_fake/reset")
        self.token = self.call("POST", "/v1/auth/access_token",
                               {"clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET})[1]["accessToken"]

    # -- helpers --------------------------------------------------------------------------------
    def call(self, method, path, body=None, query=None, token=None, raw=None):
        """-> (status, json body, headers)."""
        url = self.base + path + ("?" + urllib.parse.urlencode(query, doseq=True) if query else "")
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("User-Agent", UA)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read() or b"null"), response.headers
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"null"), err.headers

    def api(self, method, path, body=None, **query):
        query = {k: (str(v).lower() if isinstance(v, bool) else v) for k, v in query.items()}
        return self.call(method, path, body, query or None, token=self.token)

    def state(self):
        return self.call("GET", "/_fake/state")[1]

    def make_blueprints(self):
        self.assertEqual(self.api("POST", "/v1/blueprints", ACCOUNT_BP)[0], 201)
        self.assertEqual(self.api("POST", "/v1/blueprints", INSTANCE_BP)[0], 201)

    def upsert(self, bp, entity, **query):
        query = {"upsert": True, "merge": True, **query}
        return self.api("POST", f"/v1/blueprints/{bp}/entities", entity, **query)

    def assertNoViolations(self):
        self.assertEqual(self.state()["schema_violations"], [])

    # -- tests ----------------------------------------------------------------------------------
    def test_startup_is_fast(self):
        self.assertLess(self.startup_seconds, 3.0)

    def test_token_reuse_bad_credentials_and_headers(self):
        status, body, headers = self.call("POST", "/v1/auth/access_token",
                                          {"clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET})
        self.assertEqual(status, 200)
        self.assertEqual(body["accessToken"], self.token)
        self.assertEqual(body["tokenType"], "Bearer")
        self.assertTrue(0 < body["expiresIn"] <= 10800)
        self.assertTrue(headers["X-Trace-Id"])
        for name in ("x-ratelimit-period", "x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"):
            self.assertIn(name, headers)
        status, body, _ = self.call("POST", "/v1/auth/access_token", {"clientId": CLIENT_ID, "clientSecret": "nope"})
        self.assertEqual((status, body["ok"], body["error"]), (401, False, "unauthorized"))
        self.assertEqual(self.state()["token_requests"], 3)

    def test_401_without_token_and_after_expiry(self):
        self.assertEqual(self.call("GET", "/v1/blueprints")[0], 401)
        self.assertEqual(self.call("GET", "/v1/blueprints", token="garbage")[0], 401)
        self.assertEqual(self.api("GET", "/v1/blueprints")[0], 200)
        self.call("POST", "/_fake/config", {"expire_tokens": True})
        self.assertEqual(self.api("GET", "/v1/blueprints")[0], 401)
        fresh = self.call("POST", "/v1/auth/access_token",
                          {"clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET})[1]["accessToken"]
        self.assertNotEqual(fresh, self.token)
        self.assertEqual(self.call("GET", "/v1/blueprints", token=fresh)[0], 200)

    def test_bulk_upsert_partial_failure_is_207(self):
        self.make_blueprints()
        self.assertEqual(self.upsert("awsAccount", {"identifier": "111111111111", "title": "dev"})[0], 201)
        body = {"entities": [
            {"identifier": "arn:aws:ec2:us-east-1:111111111111:instance/i-1", "title": "i-1",
             "properties": {"state": "running", "launchTime": "2024-05-01T10:00:00.000Z", "cpus": 2},
             "relations": {"account": "111111111111"}},
            {"identifier": "arn:aws:ec2:us-east-1:111111111111:instance/i-2", "properties": {"state": "exploded"}},
            {"identifier": "arn:aws:ec2:us-east-1:111111111111:instance/i-3", "properties": {"unknownProp": 1}},
            {"identifier": "arn:aws:ec2:us-east-1:111111111111:instance/i-4", "relations": {"account": "999"}},
        ]}
        status, result, _ = self.api("POST", "/v1/blueprints/awsEc2Instance/entities/bulk", body,
                                     upsert=True, merge=True, create_missing_related_entities=False)
        self.assertEqual(status, 207)
        self.assertEqual([e["index"] for e in result["entities"]], [0])
        self.assertTrue(result["entities"][0]["created"])
        self.assertEqual({e["index"]: (e["statusCode"], e["error"]) for e in result["errors"]},
                         {1: (422, "invalid_request"), 2: (422, "blueprint_schema_mismatch"), 3: (404, "not_found")})
        status, result, _ = self.api("POST", "/v1/blueprints/awsEc2Instance/entities/bulk", {"entities": body["entities"][:1]},
                                     upsert=True, merge=True)
        self.assertEqual((status, result["errors"], result["entities"][0]["created"]), (200, [], False))
        entity = self.state()["entities"]["awsEc2Instance"]["arn:aws:ec2:us-east-1:111111111111:instance/i-1"]
        self.assertEqual(entity["datasource"], UA)
        self.assertNoViolations()

    def test_422_on_openapi_violation_is_recorded(self):
        self.make_blueprints()
        too_many = {"entities": [{"identifier": f"i-{n}"} for n in range(21)]}
        status, body, _ = self.api("POST", "/v1/blueprints/awsEc2Instance/entities/bulk", too_many, upsert=True)
        self.assertEqual((status, body["ok"], body["error"]), (422, False, "invalid_request"))
        status, _, _ = self.api("POST", "/v1/blueprints/awsEc2Instance/entities", {"identifier": "has space"}, upsert=True)
        self.assertEqual(status, 422)
        status, _, _ = self.api("POST", "/v1/blueprints/awsEc2Instance/entities", {"identifier": "ok"}, upsert="yes")
        self.assertEqual(status, 422)
        violations = self.state()["schema_violations"]
        self.assertEqual([v["kind"] for v in violations], ["body", "body", "query"])
        self.assertIn("entities", violations[0]["message"])

    def test_413_on_large_body(self):
        self.make_blueprints()
        big = {"entities": [{"identifier": "big", "properties": {"tags": {"x": "y" * (1024 * 1024)}}}]}
        self.assertEqual(self.api("POST", "/v1/blueprints/awsEc2Instance/entities/bulk", big, upsert=True)[0], 413)

    def test_missing_relation_target_is_not_found_unless_created(self):
        self.make_blueprints()
        entity = {"identifier": "i-1", "relations": {"account": "222222222222"}}
        status, body, _ = self.upsert("awsEc2Instance", entity)
        self.assertEqual((status, body["error"]), (404, "not_found"))
        status, body, _ = self.upsert("awsEc2Instance", entity, create_missing_related_entities=True)
        self.assertEqual(status, 201)
        stub = self.state()["entities"]["awsAccount"]["222222222222"]
        self.assertEqual((stub["identifier"], stub["properties"], stub["title"]), ("222222222222", {}, None))
        self.assertEqual(self.upsert("noSuchBlueprint", {"identifier": "x"})[1]["error"], "not_found")
        self.assertEqual(self.api("POST", "/v1/blueprints/awsEc2Instance/entities", entity)[0], 409)

    def test_merge_true_merges_and_merge_false_replaces(self):
        self.make_blueprints()
        self.upsert("awsEc2Instance", {"identifier": "i-1", "title": "a", "properties": {"state": "running", "cpus": 1}})
        self.upsert("awsEc2Instance", {"identifier": "i-1", "properties": {"cpus": 4}})
        entity = self.api("GET", "/v1/blueprints/awsEc2Instance/entities/i-1")[1]["entity"]
        self.assertEqual((entity["title"], entity["properties"]), ("a", {"state": "running", "cpus": 4}))
        self.upsert("awsEc2Instance", {"identifier": "i-1", "properties": {"cpus": 8}}, merge=False)
        entity = self.api("GET", "/v1/blueprints/awsEc2Instance/entities/i-1")[1]["entity"]
        self.assertEqual((entity["title"], entity["properties"]), (None, {"cpus": 8}))

    def test_encoded_arn_identifier_get_and_delete(self):
        self.make_blueprints()
        arn = "arn:aws:ec2:us-east-1:111111111111:instance/i-0abc"
        self.upsert("awsEc2Instance", {"identifier": arn})
        path = "/v1/blueprints/awsEc2Instance/entities/" + urllib.parse.quote(arn, safe="")
        self.assertEqual(self.api("GET", path)[1]["entity"]["identifier"], arn)
        self.assertEqual(self.api("DELETE", path, delete_dependents=False)[0], 200)
        self.assertEqual(self.api("DELETE", path)[0], 404)
        unencoded = "/v1/blueprints/awsEc2Instance/entities/" + arn
        self.assertEqual(self.api("GET", unencoded)[0], 404)

    def test_bulk_delete_refuses_dependents_atomically(self):
        self.make_blueprints()
        self.upsert("awsAccount", {"identifier": "111111111111"})
        self.upsert("awsAccount", {"identifier": "333333333333"})
        self.upsert("awsEc2Instance", {"identifier": "i-1", "relations": {"account": "111111111111"}})
        path = "/v1/blueprints/awsAccount/bulk/entities/delete"
        status, body, _ = self.api("POST", path, {"entities": ["333333333333", "111111111111", "absent"]},
                                   delete_dependents=False)
        self.assertEqual((status, body["ok"]), (422, False))
        self.assertEqual(set(self.state()["entities"]["awsAccount"]), {"111111111111", "333333333333"})
        status, body, _ = self.api("POST", path, {"entities": ["333333333333", "absent"]}, delete_dependents=False)
        self.assertEqual((status, body), (200, {"ok": True, "deletedEntities": ["333333333333"]}))
        status, body, _ = self.api("POST", path, {"entities": ["111111111111"]}, delete_dependents=True)
        self.assertEqual((status, body["deletedEntities"]), (200, ["111111111111"]))
        self.assertEqual(self.state()["entities"]["awsEc2Instance"], {})
        self.assertEqual(self.api("POST", path, {"entities": []}, delete_dependents=True)[0], 422)

    def test_blueprint_search_pagination_and_query(self):
        self.make_blueprints()
        for n in range(7):
            self.upsert("awsEc2Instance", {"identifier": f"i-{n}", "properties": {"cpus": n}})
        seen, cursor, pages = [], None, 0
        while True:
            body = {"limit": 3, "include": ["$identifier"]}
            if cursor:
                body["from"] = cursor
            status, page, _ = self.api("POST", "/v1/blueprints/awsEc2Instance/entities/search", body)
            self.assertEqual(status, 200)
            pages += 1
            seen += [e["identifier"] for e in page["entities"]]
            self.assertEqual(set(page["entities"][0]), {"identifier"})
            cursor = page.get("next")
            if not cursor:
                break
        self.assertEqual((pages, sorted(seen)), (3, [f"i-{n}" for n in range(7)]))
        query = {"combinator": "and", "rules": [
            {"property": "cpus", "operator": ">=", "value": 5},
            {"combinator": "or", "rules": [{"property": "$identifier", "operator": "=", "value": "i-5"},
                                           {"property": "$identifier", "operator": "endsWith", "value": "6"}]}]}
        page = self.api("POST", "/v1/blueprints/awsEc2Instance/entities/search", {"query": query})[1]
        self.assertEqual([e["identifier"] for e in page["entities"]], ["i-5", "i-6"])
        self.assertEqual(self.api("POST", "/v1/blueprints/awsEc2Instance/entities/search", {"limit": 1001})[0], 422)

    def test_seeded_foreign_entities_and_datasource_search(self):
        self.call("POST", "/_fake/seed", {"blueprints": [ACCOUNT_BP, INSTANCE_BP], "entities": [
            {"blueprint": "awsEc2Instance", "entity": {"identifier": "theirs"}, "datasource": "other-tool/1.0"}]})
        self.upsert("awsEc2Instance", {"identifier": "mine"})
        query = {"combinator": "and", "rules": [{"property": "$datasource", "operator": "beginsWith",
                                                 "value": "port-aws-sync/"}]}
        status, body, _ = self.api("POST", "/v1/entities/search", query, include=["identifier", "blueprint"])
        self.assertEqual((status, body["entities"]), (200, [{"identifier": "mine", "blueprint": "awsEc2Instance"}]))
        self.assertNoViolations()

    def test_429_random_and_injected_with_retry_after(self):
        self.call("POST", "/_fake/config", {"rate_limit_429": 1.0, "retry_after": 2, "seed": 7})
        status, body, headers = self.api("GET", "/v1/blueprints")
        self.assertEqual((status, headers["Retry-After"]), (429, "2"))
        self.call("POST", "/_fake/config", {"rate_limit_429": 0.0})
        self.call("POST", "/_fake/inject", {"method": "GET", "path_regex": "^/v1/blueprints$", "status": 429,
                                            "count": 2, "headers": {"Retry-After": "1"}})
        self.assertEqual([self.api("GET", "/v1/blueprints")[0] for _ in range(3)], [429, 429, 200])
        self.call("POST", "/_fake/inject", {"path_regex": "/entities/bulk$", "status": 503, "body": {"ok": False}})
        self.make_blueprints()
        self.assertEqual(self.api("POST", "/v1/blueprints/awsEc2Instance/entities/bulk",
                                  {"entities": [{"identifier": "a"}]}, upsert=True)[0], 503)
        statuses = [r["status"] for r in self.state()["requests"] if r["path"].endswith("/bulk")]
        self.assertEqual(statuses, [503])

    def test_entity_failure_rules_in_bulk(self):
        self.make_blueprints()
        self.call("POST", "/_fake/config", {"entity_failures": [
            {"identifier_regex": "^bad-", "status": 422, "error": "boom", "message": "injected"}]})
        status, body, _ = self.api("POST", "/v1/blueprints/awsEc2Instance/entities/bulk",
                                   {"entities": [{"identifier": "good-1"}, {"identifier": "bad-1"}]}, upsert=True)
        self.assertEqual(status, 207)
        self.assertEqual(body["errors"], [{"identifier": "bad-1", "index": 1, "statusCode": 422, "error": "boom",
                                           "message": "injected"}])
        requests = [r for r in self.state()["requests"] if r["path"].endswith("/bulk")]
        self.assertEqual((requests[0]["entities"], requests[0]["user_agent"]), (2, UA))

    def test_blueprint_patch_merges_and_delete_needs_empty(self):
        self.make_blueprints()
        patch = {"schema": {"properties": {"az": {"type": "string"}}}, "relations": {}}
        status, body, _ = self.api("PATCH", "/v1/blueprints/awsEc2Instance", patch)
        self.assertEqual(status, 200)
        self.assertEqual(set(body["blueprint"]["schema"]["properties"]), {"state", "launchTime", "cpus", "tags", "az"})
        self.assertEqual(set(body["blueprint"]["relations"]), {"account", "peers"})
        self.upsert("awsEc2Instance", {"identifier": "i-1", "properties": {"az": "us-east-1a"}})
        self.assertEqual(self.api("DELETE", "/v1/blueprints/awsEc2Instance")[0], 422)
        self.api("POST", "/v1/blueprints/awsEc2Instance/bulk/entities/delete", {"entities": ["i-1"]},
                 delete_dependents=False)
        self.assertEqual(self.api("DELETE", "/v1/blueprints/awsEc2Instance")[0], 200)

    def test_integrations(self):
        self.assertEqual(self.api("GET", "/v1/integration/aws-sync")[0], 404)
        body = {"installationId": "aws-sync", "installationAppType": "aws-sync", "version": "0.1"}
        self.assertEqual(self.api("POST", "/v1/integration", body, upsert=True)[0], 201)
        self.assertEqual(self.api("PATCH", "/v1/integration/aws-sync", {"version": "0.2"})[0], 200)
        self.assertEqual(self.api("GET", "/v1/integration/aws-sync")[1]["integration"]["version"], "0.2")
        self.assertEqual(self.state()["integrations"]["aws-sync"]["installationAppType"], "aws-sync")

    def test_seeded_integration_with_config(self):
        config = {"resources": [{"kind": "AWS::S3::Bucket", "selector": {"query": "true"}}]}
        status, body, _ = self.call("POST", "/_fake/seed", {"integrations": [{"identifier": "prod", "config": config}]})
        self.assertEqual((status, body["integrations"]), (200, 1))
        integration = self.api("GET", "/v1/integration/prod")[1]["integration"]
        self.assertEqual((integration["installationId"], integration["config"]), ("prod", config))
        self.assertEqual(self.call("POST", "/_fake/seed", {"integrations": [{"config": {}}]})[0], 400)


if __name__ == "__main__":
    unittest.main()
