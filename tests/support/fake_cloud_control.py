#!/usr/bin/env python3
"""A small fake of the AWS Cloud Control API for tests: moto does not serve Cloud Control.

Speaks the real wire protocol (AWS JSON 1.0): `POST /` with `X-Amz-Target: CloudApiService.<Op>`
and `Content-Type: application/x-amz-json-1.0`, SigV4-signed for the service `cloudcontrolapi`
(the signature itself is not verified, the credential scope is read for the region); errors are
HTTP 400 with a JSON body `{"__type": ..., "Message": ...}`. Serves `ListResources` (TypeName,
NextToken, MaxResults) and `GetResource` (TypeName, Identifier); `Properties` are JSON text, as
Cloud Control returns them.

Usage:
    python tests/support/fake_cloud_control.py --seed JSON [--port 0]
    python tests/support/fake_cloud_control.py --seed @seed.json

Prints exactly one line ``LISTENING <port>`` on stdout when ready. Point AWS_ENDPOINT_URL (or the
SDK config's endpoint) at it.

Seed (every key optional):
  {"throttle_first": 3,            first N requests (any operation) get ThrottlingException
   "types": {
     "AWS::Logs::LogGroup": {
        "resources": [{"Identifier": "a", "Properties": {...}}, ...],
        "page_size": 2,            resources per ListResources page (default 100; MaxResults,
                                   when sent, lowers it)
        "list": "full",            what ListResources gives: "full" (the Properties, default) or
                                   "identifier" (only the primary identifier: "identifier_keys")
        "identifier_keys": ["LogGroupName"],   the properties "identifier" mode keeps
        "vanished": ["a"],         listed, but GetResource says ResourceNotFoundException
        "regions": ["eu-west-1"],  served only there; TypeNotFoundException elsewhere
        "error": "UnsupportedActionException",  every call for the type fails with this code
        "repeat_token": true       every page returns the same NextToken
     }}}
  A type not in "types" gets TypeNotFoundException, as in a region that lacks it.

Control API:
  GET /_fake/log   {"requests": [{"t": seconds since start, "operation", "type", "region",
                    "status", "code"}], "count": n}
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TARGET_PREFIX = "CloudApiService."
CONTENT_TYPE = "application/x-amz-json-1.0"
DEFAULT_PAGE_SIZE = 100


class Fault(Exception):
    """An AWS error answer."""

    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def credential_scope(authorization: str) -> tuple[str, str]:
    """(region, service) from `Credential=AKID/date/region/service/aws4_request`."""
    match = re.search(r"Credential=[^/]+/\d+/([^/]+)/([^/]+)/aws4_request", authorization or "")
    return (match.group(1), match.group(2)) if match else ("", "")


def encode_token(type_name: str, offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps([type_name, offset]).encode()).decode()


def decode_token(token: str, type_name: str) -> int:
    try:
        name, offset = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, TypeError):
        raise Fault("InvalidRequestException", "The NextToken is not valid.")
    if name != type_name or not isinstance(offset, int):
        raise Fault("InvalidRequestException", "The NextToken does not belong to this type.")
    return offset


def properties_text(properties: dict) -> str:
    return json.dumps(properties, separators=(",", ":"))


class State:
    def __init__(self, seed: dict):
        self.types = seed.get("types") or {}
        self.throttle_left = int(seed.get("throttle_first") or 0)
        self.started = time.monotonic()
        self.log: list[dict] = []
        self.lock = threading.Lock()

    def type_config(self, type_name: str, region: str) -> dict:
        config = self.types.get(type_name)
        if config is None or (config.get("regions") and region not in config["regions"]):
            raise Fault("TypeNotFoundException", f"The type '{type_name}' cannot be found.")
        if config.get("error"):
            raise Fault(config["error"], f"Resource type {type_name} does not support LIST action")
        return config

    def list_resources(self, body: dict, region: str) -> dict:
        type_name = required(body, "TypeName")
        config = self.type_config(type_name, region)
        resources = config.get("resources") or []
        size = int(config.get("page_size") or DEFAULT_PAGE_SIZE)
        if body.get("MaxResults") is not None:
            size = min(size, int(body["MaxResults"]))
        start = decode_token(body["NextToken"], type_name) if body.get("NextToken") else 0
        page = resources[start : start + size]
        out = {"TypeName": type_name, "ResourceDescriptions": [self.listed(config, r) for r in page]}
        if config.get("repeat_token"):
            out["NextToken"] = encode_token(type_name, 0)
        elif start + size < len(resources):
            out["NextToken"] = encode_token(type_name, start + size)
        return out

    @staticmethod
    def listed(config: dict, resource: dict) -> dict:
        properties = resource.get("Properties") or {}
        if config.get("list") == "identifier":
            keys = config.get("identifier_keys") or []
            properties = {k: v for k, v in properties.items() if k in keys}
        return {"Identifier": resource["Identifier"], "Properties": properties_text(properties)}

    def get_resource(self, body: dict, region: str) -> dict:
        type_name = required(body, "TypeName")
        identifier = required(body, "Identifier")
        config = self.type_config(type_name, region)
        for resource in config.get("resources") or []:
            if resource["Identifier"] == identifier and identifier not in (config.get("vanished") or []):
                return {
                    "TypeName": type_name,
                    "ResourceDescription": {
                        "Identifier": identifier,
                        "Properties": properties_text(resource.get("Properties") or {}),
                    },
                }
        raise Fault("ResourceNotFoundException", f"Resource of type '{type_name}' with identifier '{identifier}' was not found.")


def required(body: dict, name: str):
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise Fault("ValidationException", f"1 validation error detected: Value at '{name[0].lower() + name[1:]}' failed to satisfy constraint: Member must not be null")
    return value


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state: State

    def log_message(self, fmt, *args):
        pass

    def _reply(self, status: int, payload: dict, content_type: str = CONTENT_TYPE) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("x-amzn-RequestId", f"fake-{time.monotonic_ns()}")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path.startswith("/_fake/log"):
            with self.state.lock:
                self._reply(200, {"requests": list(self.state.log), "count": len(self.state.log)}, "application/json")
            return
        self._reply(404, {"message": "not found"}, "application/json")

    def do_POST(self):
        arrived = time.monotonic() - self.state.started
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        region, service = credential_scope(self.headers.get("Authorization"))
        operation = (self.headers.get("X-Amz-Target") or "").removeprefix(TARGET_PREFIX)
        entry = {"t": arrived, "operation": operation, "region": region, "type": None}
        try:
            body = self._check(raw, service, operation)
            entry["type"] = body.get("TypeName")
            self._throttle()
            handler = self.state.list_resources if operation == "ListResources" else self.state.get_resource
            payload, status = handler(body, region), 200
            entry["code"] = None
        except Fault as fault:
            # Throttling comes with a namespaced type, as Coral services send it.
            kind = f"com.amazon.coral.availability#{fault.code}" if fault.code == "ThrottlingException" else fault.code
            payload, status = {"__type": kind, "Message": fault.message}, fault.status
            entry["code"] = fault.code
        entry["status"] = status
        with self.state.lock:
            self.state.log.append(entry)
        self._reply(status, payload)

    def _check(self, raw: bytes, service: str, operation: str) -> dict:
        if service != "cloudcontrolapi":
            raise Fault("IncompleteSignatureException", f"Credential scope service must be cloudcontrolapi, not {service!r}.", 403)
        if (self.headers.get("Content-Type") or "").split(";")[0].strip() != CONTENT_TYPE:
            raise Fault("SerializationException", f"Content-Type must be {CONTENT_TYPE}.")
        if operation not in ("ListResources", "GetResource"):
            raise Fault("UnknownOperationException", f"Unknown operation {operation!r}.")
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            raise Fault("SerializationException", "The body is not JSON.")
        if not isinstance(body, dict):
            raise Fault("SerializationException", "The body is not a JSON object.")
        return body

    def _throttle(self) -> None:
        with self.state.lock:
            if self.state.throttle_left > 0:
                self.state.throttle_left -= 1
                raise Fault("ThrottlingException", "Rate exceeded")


def load_seed(text: str) -> dict:
    if text.startswith("@"):
        with open(text[1:], encoding="utf-8") as f:
            return json.load(f)
    return json.loads(text)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", default="{}", help="seed JSON, or @FILE")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    handler = type("BoundHandler", (Handler,), {"state": State(load_seed(args.seed))})
    server = ThreadingHTTPServer(("127.0.0.1", args.port), handler)
    server.daemon_threads = True
    print(f"LISTENING {server.server_address[1]}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
