#!/usr/bin/env python3
"""A tiny HTTP proxy in front of moto that injects AWS faults moto cannot produce, for tests.

Usage:
    python tests/support/aws_fault_proxy.py --upstream http://127.0.0.1:MOTO --rules JSON [--port 0]

Prints exactly one line ``LISTENING <port>`` on stdout when ready. Point AWS_ENDPOINT_URL at it.

Rules (a JSON list, first match wins; unmatched requests are forwarded unchanged):
  {"service": "sts", "action": "AssumeRole", "params": {"RoleArn": ":111111111111:"},
   "respond": {"status": 403, "code": "AccessDenied", "message": "..."}}
      answers an AWS error instead of forwarding (Query-protocol XML, which STS and EC2 use)
  {"service": "ec2", "action": "DescribeInstances", "region": "us-east-1", "has_param": "NextToken",
   "respond": {...}}
  {"service": "ec2", "action": "DescribeInstances", "region": "us-east-1",
   "append_next_token": "pas-fault-page-2"}
      forwards, then adds <nextToken> to the response so the client asks for another page
  {"service": "ec2", "action": "DescribeInstances", "respond": {"status": 200, "body": "<...>"}}
      answers with that body as is (a canned answer moto would not give)
  {"service": "dynamodb", "action": "BatchWriteItem", "body_contains": "poison", "respond": {...}}
      matches JSON-protocol requests whose raw body matches the regex (DynamoDB, ...)
  {"service": "s3", "path": "^/east-a\\?tagging", "respond": {"status": 403, "code": "AccessDenied"}}
      matches REST requests whose path and query match the regex (S3 errors use S3's <Error> shape)
  {"service": "ec2", "action": "DescribeInstances", "region": "us-east-1", "hang": true}
      reads the request and never answers (a silent endpoint: the connection stays open)
  {"service": "sts", "action": "AssumeRole", "params": {"RoleArn": ":111111111111:"}}
      a rule with none of the above forwards unchanged: its hits count the matching requests
  Any rule may carry "times": N to apply only to its first N matching requests.
Matching: "service" and "region" come from the SigV4 credential scope, "action" from the form body
(Action=...) or the X-Amz-Target header, "params" are regexes searched in form parameters,
"has_param" requires a form parameter to be present.

Control API:
  GET /_proxy/state   {"hits": [count per rule], "forwarded": n}
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "proxy-connection", "te",
              "trailer", "upgrade"}


def credential_scope(authorization: str) -> tuple[str, str]:
    """(region, service) from `Credential=AKID/date/region/service/aws4_request`."""
    match = re.search(r"Credential=[^/]+/\d+/([^/]+)/([^/]+)/aws4_request", authorization or "")
    return (match.group(1), match.group(2)) if match else ("", "")


def error_xml(code: str, message: str, service: str) -> bytes:
    if service == "s3":
        body = f"<Error><Code>{code}</Code><Message>{message}</Message><RequestId>pas-fault</RequestId></Error>"
    elif service == "ec2":
        body = (f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors>"
                f"<RequestID>pas-fault</RequestID></Response>")
    else:
        body = (f'<ErrorResponse xmlns="https://{service}.amazonaws.com/doc/"><Error><Type>Sender</Type>'
                f"<Code>{code}</Code><Message>{message}</Message></Error><RequestId>pas-fault</RequestId>"
                f"</ErrorResponse>")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{body}'.encode()


class State:
    def __init__(self, upstream: str, rules: list):
        self.upstream = urlsplit(upstream)
        self.rules = rules
        self.hits = [0] * len(rules)
        self.forwarded = 0
        self.lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state: State

    def log_message(self, fmt, *args):
        pass

    def do_GET(self): self._handle()
    def do_POST(self): self._handle()
    def do_PUT(self): self._handle()
    def do_DELETE(self): self._handle()
    def do_HEAD(self): self._handle()

    def _body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            out = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _reply(self, status: int, body: bytes, headers: list) -> None:
        self.send_response(status)
        for key, value in headers:
            if key.lower() not in HOP_BY_HOP:
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _match(self, rule: dict, service: str, region: str, action: str, params: dict, body: bytes) -> bool:
        if rule.get("path") and not re.search(rule["path"], self.path):
            return False
        if rule.get("body_contains") and not re.search(rule["body_contains"], body.decode("utf-8", "replace")):
            return False
        if rule.get("service") not in (None, service) or rule.get("region") not in (None, region):
            return False
        if rule.get("action") not in (None, action):
            return False
        if rule.get("has_param") and rule["has_param"] not in params:
            return False
        for name, pattern in (rule.get("params") or {}).items():
            if not any(re.search(pattern, v) for v in params.get(name, [])):
                return False
        return True

    def _handle(self) -> None:
        body = self._body()
        if self.path.startswith("/_proxy/state"):
            with self.state.lock:
                payload = json.dumps({"hits": self.state.hits, "forwarded": self.state.forwarded}).encode()
            self._reply(200, payload, [("Content-Type", "application/json")])
            return
        region, service = credential_scope(self.headers.get("Authorization"))
        params = {}
        if "x-www-form-urlencoded" in (self.headers.get("Content-Type") or ""):
            params = parse_qs(body.decode("utf-8", "replace"))
        target = self.headers.get("X-Amz-Target") or ""
        action = (params.get("Action") or [target.rsplit(".", 1)[-1]])[0]
        rule = None
        with self.state.lock:
            for index, candidate in enumerate(self.state.rules):
                if candidate.get("times") is not None and self.state.hits[index] >= candidate["times"]:
                    continue
                if self._match(candidate, service, region, action, params, body):
                    self.state.hits[index] += 1
                    rule = candidate
                    break
        if rule and rule.get("hang"):
            threading.Event().wait(3600)
            return
        if rule and "respond" in rule:
            r = rule["respond"]
            body = r["body"].encode() if "body" in r else error_xml(
                r.get("code", "InternalError"), r.get("message", "injected fault"), service)
            self._reply(int(r.get("status", 500)), body, [("Content-Type", "text/xml")])
            return
        upstream = http.client.HTTPConnection(self.state.upstream.hostname, self.state.upstream.port, timeout=120)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        try:
            upstream.request(self.command, self.path, body=body if body else None, headers=headers)
            response = upstream.getresponse()
            payload = response.read()
            status, response_headers = response.status, response.getheaders()
        finally:
            upstream.close()
        with self.state.lock:
            self.state.forwarded += 1
        if rule and rule.get("append_next_token") and status == 200:
            token = f"<nextToken>{rule['append_next_token']}</nextToken>".encode()
            closing = payload.rfind(b"</")
            if closing >= 0:
                payload = payload[:closing] + token + payload[closing:]
        self._reply(status, payload, response_headers)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--rules", default="[]")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    handler = type("BoundHandler", (Handler,), {"state": State(args.upstream, json.loads(args.rules))})
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
