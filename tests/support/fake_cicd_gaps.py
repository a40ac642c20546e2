#!/usr/bin/env python3
"""A proxy in front of moto that answers the CodeDeploy and CodePipeline operations moto lacks.

moto 5.2.5 answers HTTP 500 to CodeDeploy `BatchGetDeploymentGroups`, `ListDeploymentTargets`,
`BatchGetDeploymentTargets` and CodePipeline `ListActionExecutions` (MOTO_NOTES.md §10). This proxy
answers exactly those, in the real wire protocol (AWS JSON 1.1: `POST /`, `X-Amz-Target:
CodeDeploy_20141006.<Op>` or `CodePipeline_20150709.<Op>`, `Content-Type: application/x-amz-json-1.1`,
errors as HTTP 400 `{"__type", "message"}`), from data it reads back from moto with calls moto
supports; every other request is forwarded to moto unchanged. The caller's Authorization header goes
with those calls, so moto picks the same account and region.

Derived data (so tests can predict identifiers):
- a deployment has one instance target, id `kind_seeds.codedeploy.target_id(deploymentId)`,
  labelled Blue, whose status follows the deployment's;
- a pipeline execution has one action execution per action of the pipeline, id
  `kind_seeds.codepipeline.action_execution_id(executionId, stage, action)`, whose status follows
  the execution's.

Usage:
    python tests/support/fake_cicd_gaps.py --upstream http://127.0.0.1:MOTO [--port 0]

Prints exactly one line ``LISTENING <port>`` on stdout when ready.
Control API: GET /_fake/log  {"answered": [operation, ...], "forwarded": n}
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from kind_seeds.codedeploy import target_id  # noqa: E402
from kind_seeds.codepipeline import action_execution_id  # noqa: E402

CONTENT_TYPE = "application/x-amz-json-1.1"
CODEDEPLOY = "CodeDeploy_20141006."
CODEPIPELINE = "CodePipeline_20150709."
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "proxy-connection", "te",
              "trailer", "upgrade", "host"}
TARGET_STATUS = {"Created": "Pending", "Queued": "Pending", "InProgress": "InProgress", "Baking": "InProgress",
                 "Succeeded": "Succeeded", "Failed": "Failed", "Stopped": "Skipped", "Ready": "Ready"}
ACTION_STATUS = {"Succeeded": "Succeeded", "Failed": "Failed", "InProgress": "InProgress",
                 "Stopping": "InProgress", "Stopped": "Abandoned", "Superseded": "Abandoned",
                 "Cancelled": "Abandoned"}


class Fault(Exception):
    """An AWS error answer."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


class Upstream:
    """JSON 1.1 calls to moto with the caller's own headers."""

    def __init__(self, url: str, headers: dict):
        self.url = urlsplit(url)
        self.headers = {k: v for k, v in headers.items() if k.lower() in ("authorization", "x-amz-date",
                                                                           "x-amz-security-token")}

    def call(self, target: str, body: dict) -> dict:
        conn = http.client.HTTPConnection(self.url.hostname, self.url.port, timeout=30)
        try:
            conn.request("POST", "/", json.dumps(body).encode(),
                         {**self.headers, "X-Amz-Target": target, "Content-Type": CONTENT_TYPE})
            resp = conn.getresponse()
            data = json.loads(resp.read() or b"{}")
        finally:
            conn.close()
        if resp.status >= 400:
            raise Fault(str(data.get("__type", "InternalFailure")).split("#")[-1],
                        data.get("message") or data.get("Message") or "upstream error")
        return data


def region_of(headers) -> str:
    """The region of the SigV4 credential scope (`Credential=AKID/date/region/service/...`)."""
    match = re.search(r"Credential=[^/]+/\d+/([^/]+)/", headers.get("Authorization", ""))
    return match.group(1) if match else "us-east-1"


def batch_get_deployment_groups(up: Upstream, body: dict, _region: str) -> dict:
    app = body.get("applicationName")
    infos, missing = [], []
    for name in body.get("deploymentGroupNames", []):
        try:
            infos.append(up.call(CODEDEPLOY + "GetDeploymentGroup",
                                 {"applicationName": app, "deploymentGroupName": name})["deploymentGroupInfo"])
        except Fault as fault:
            if fault.code == "ApplicationDoesNotExistException":
                raise
            missing.append(name)
    out = {"deploymentGroupsInfo": infos}
    if missing:
        out["errorMessage"] = "Deployment groups do not exist: " + ", ".join(missing)
    return out


def _deployment(up: Upstream, deployment_id: str) -> dict:
    return up.call(CODEDEPLOY + "GetDeployment", {"deploymentId": deployment_id})["deploymentInfo"]


def list_deployment_targets(up: Upstream, body: dict, _region: str) -> dict:
    deployment = _deployment(up, body["deploymentId"])
    return {"targetIds": [target_id(deployment["deploymentId"])]}


def batch_get_deployment_targets(up: Upstream, body: dict, region: str) -> dict:
    deployment = _deployment(up, body["deploymentId"])
    deployment_id = deployment["deploymentId"]
    account = _account_of(up)
    targets = []
    for tid in body.get("targetIds", []):
        if tid != target_id(deployment_id):
            raise Fault("DeploymentTargetDoesNotExistException", f"Deployment target {tid} does not exist.")
        targets.append({"deploymentTargetType": "InstanceTarget", "instanceTarget": {
            "deploymentId": deployment_id, "targetId": tid,
            "targetArn": f"arn:aws:ec2:{region}:{account}:instance/{tid}",
            "status": TARGET_STATUS.get(deployment.get("status"), "Unknown"),
            "lastUpdatedAt": deployment.get("completeTime") or deployment.get("createTime"),
            "lifecycleEvents": [], "instanceLabel": "Blue"}})
    return {"deploymentTargets": targets}


def _account_of(up: Upstream) -> str:
    """The caller's account, as moto sees it (STS GetCallerIdentity with the same credentials)."""
    conn = http.client.HTTPConnection(up.url.hostname, up.url.port, timeout=30)
    try:
        # moto routes by the credential scope's service: sign the question as STS.
        headers = {k: re.sub(r"(Credential=[^/]+/\d+/[^/]+/)[^/]+/", r"\1sts/", v) if k.lower() == "authorization"
                   else v for k, v in up.headers.items()}
        conn.request("POST", "/", b"Action=GetCallerIdentity&Version=2011-06-15",
                     {**headers, "Content-Type": "application/x-www-form-urlencoded"})
        text = conn.getresponse().read().decode()
    finally:
        conn.close()
    match = re.search(r"<Account>(\d+)</Account>", text)
    return match.group(1) if match else ""


def list_action_executions(up: Upstream, body: dict, region: str) -> dict:
    name = body["pipelineName"]
    pipeline = up.call(CODEPIPELINE + "GetPipeline", {"name": name})["pipeline"]
    summaries = up.call(CODEPIPELINE + "ListPipelineExecutions",
                        {"pipelineName": name})["pipelineExecutionSummaries"]
    wanted = (body.get("filter") or {}).get("pipelineExecutionId")
    details = [_action_execution(pipeline, s, stage, action, region)
               for s in summaries if not wanted or s["pipelineExecutionId"] == wanted
               for stage in pipeline.get("stages", []) for action in stage.get("actions", [])]
    start = int(body.get("nextToken") or 0)
    size = int(body.get("maxResults") or 100)
    out = {"actionExecutionDetails": details[start:start + size]}
    if start + size < len(details):
        out["nextToken"] = str(start + size)
    return out


def _action_execution(pipeline: dict, summary: dict, stage: dict, action: dict, region: str) -> dict:
    execution_input = {"actionTypeId": action["actionTypeId"], "configuration": action.get("configuration", {}),
                       "resolvedConfiguration": action.get("configuration", {}),
                       "region": action.get("region", region),
                       "inputArtifacts": [{"name": a["name"]} for a in action.get("inputArtifacts", [])]}
    if action.get("roleArn"):
        execution_input["roleArn"] = action["roleArn"]
    return {
        "pipelineExecutionId": summary["pipelineExecutionId"],
        "actionExecutionId": action_execution_id(summary["pipelineExecutionId"], stage["name"], action["name"]),
        "pipelineVersion": pipeline.get("version", 1),
        "stageName": stage["name"], "actionName": action["name"],
        "startTime": summary.get("startTime"), "lastUpdateTime": summary.get("lastUpdateTime"),
        "updatedBy": pipeline.get("roleArn"),
        "status": ACTION_STATUS.get(summary.get("status"), "InProgress"),
        "input": execution_input,
        "output": {"outputArtifacts": [{"name": a["name"]} for a in action.get("outputArtifacts", [])],
                   "executionResult": {}, "outputVariables": {}},
    }


ANSWERED = {
    CODEDEPLOY + "BatchGetDeploymentGroups": batch_get_deployment_groups,
    CODEDEPLOY + "ListDeploymentTargets": list_deployment_targets,
    CODEDEPLOY + "BatchGetDeploymentTargets": batch_get_deployment_targets,
    CODEPIPELINE + "ListActionExecutions": list_action_executions,
}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    upstream: str
    log: dict
    lock = threading.Lock()

    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        if self.path == "/_fake/log":
            with self.lock:
                return self._send(200, json.dumps(self.log).encode(), "application/json")
        self._forward(b"")

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        handler = ANSWERED.get(self.headers.get("X-Amz-Target", ""))
        if handler is None:
            return self._forward(body)
        with self.lock:
            self.log["answered"].append(self.headers["X-Amz-Target"].split(".", 1)[1])
        region = region_of(self.headers)
        try:
            out = handler(Upstream(self.upstream, dict(self.headers)), json.loads(body or b"{}"), region)
            self._send(200, json.dumps(out).encode(), CONTENT_TYPE)
        except Fault as fault:
            self._send(400, json.dumps({"__type": fault.code, "message": fault.message}).encode(), CONTENT_TYPE)
        except (KeyError, ValueError) as err:
            self._send(400, json.dumps({"__type": "InvalidInputException", "message": str(err)}).encode(),
                       CONTENT_TYPE)

    def do_PUT(self): self._forward(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
    def do_DELETE(self): self._forward(self.rfile.read(int(self.headers.get("Content-Length") or 0)))

    def _forward(self, body: bytes):
        up = urlsplit(self.upstream)
        conn = http.client.HTTPConnection(up.hostname, up.port, timeout=60)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            conn.request(self.command, self.path, body, headers)
            resp = conn.getresponse()
            data = resp.read()
            with self.lock:
                self.log["forwarded"] += 1
            self._send(resp.status, data, resp.getheader("Content-Type") or "application/octet-stream",
                       [(k, v) for k, v in resp.getheaders() if k.lower() not in HOP_BY_HOP | {"content-type"}])
        finally:
            conn.close()

    def _send(self, status: int, data: bytes, content_type: str, extra=()):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-amzn-RequestId", "pas-fake-cicd")
        for key, value in extra:
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    Handler.upstream = args.upstream
    Handler.log = {"answered": [], "forwarded": 0}
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print(f"LISTENING {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
